"""Vitron's image and video towers: LanguageBind's CLIP-derived vision encoders, rebuilt on transformers' CLIP parts.

LanguageBind's image encoder is a CLIP ViT-L/14; its video encoder is the same ViT with, in every layer, a
learned temporal position embedding and a temporal self-attention (over the frames, at each patch position)
before the usual spatial attention. Both checkpoints are full LanguageBind models (vision and text towers,
projections, logit scale); Vitron uses only ``vision_model``, so only keys under ``vision_model.`` are read and
the rest are ignored (listed by :func:`load_tower`).

Parameter names follow LanguageBind's ``vision_model`` exactly: ``embeddings.*``, ``pre_layrnorm.*``,
``encoder.layers.N.{self_attn,layer_norm1,mlp,layer_norm2}.*``, on video also
``encoder.layers.N.{temporal_embedding,temporal_attn.*,temporal_layer_norm1.*}``, and ``post_layernorm.*``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import CLIPVisionConfig
from transformers.models.clip.modeling_clip import CLIPMLP, CLIPAttention, CLIPVisionEmbeddings

__all__ = ["LanguageBindEncoder", "TowerLoad", "load_tower", "tower_config"]

_CLIP_VISION_FIELDS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                       "num_channels", "image_size", "patch_size", "hidden_act", "layer_norm_eps",
                       "attention_dropout", "projection_dim")


class _Layer(nn.Module):
    """One encoder layer: (temporal position + temporal attention when ``frames`` > 0), then CLIP's layer."""

    def __init__(self, config: CLIPVisionConfig, frames: int) -> None:
        super().__init__()
        self.frames = frames
        if frames:
            self.temporal_embedding = nn.Parameter(torch.zeros(1, frames, config.hidden_size))
            self.temporal_attn = CLIPAttention(config)
            self.temporal_layer_norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = CLIPAttention(config)
        self.layer_norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)
        self.layer_norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.frames:
            hidden = self._temporal(hidden)
        hidden = hidden + self.self_attn(self.layer_norm1(hidden))[0]
        return hidden + self.mlp(self.layer_norm2(hidden))

    def _temporal(self, hidden: torch.Tensor) -> torch.Tensor:
        """(batch * frames, patches, dim): each patch position attends over the frames."""
        bt, n, d = hidden.shape
        t = self.frames
        per_patch = hidden.reshape(bt // t, t, n, d).permute(0, 2, 1, 3).reshape(-1, t, d)  # (b n) t d
        if t != 1:
            per_patch = per_patch + self.temporal_embedding[:, :t, :]
        attended = self.temporal_attn(self.temporal_layer_norm1(per_patch))[0]
        back = (per_patch + attended).reshape(bt // t, n, t, d).permute(0, 2, 1, 3).reshape(bt, n, d)
        return back


class _Encoder(nn.Module):
    def __init__(self, config: CLIPVisionConfig, frames: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_Layer(config, frames) for _ in range(config.num_hidden_layers))


class LanguageBindEncoder(nn.Module):
    """LanguageBind's ``vision_model``: images (B, 3, H, W), or videos (B, 3, T, H, W) when ``frames`` > 0.

    ``forward`` returns the hidden states Vitron selects: layer ``select_layer`` (default -2, the one before
    last), without the class token; images give (B, patches, dim), videos (B, T, patches, dim).
    """

    def __init__(self, config: CLIPVisionConfig, frames: int = 0) -> None:
        super().__init__()
        self.config, self.frames = config, frames
        self.embeddings = CLIPVisionEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = _Encoder(config, frames)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    @property
    def num_patches(self) -> int:
        return (self.config.image_size // self.config.patch_size) ** 2

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor, select_layer: int = -2) -> torch.Tensor:
        pixels = pixels.to(device=self.embeddings.class_embedding.device, dtype=self.embeddings.class_embedding.dtype)
        video = pixels.ndim == 5
        if video:
            b, c, t, h, w = pixels.shape
            if t != self.frames:
                raise ValueError(f"the video tower takes {self.frames} frames, got {t}")
            pixels = pixels.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        hidden = self.pre_layrnorm(self.embeddings(pixels))
        states = [hidden]
        for layer in self.encoder.layers:
            hidden = layer(hidden)
            states.append(hidden)
        chosen = states[select_layer][:, 1:]
        if video:
            chosen = chosen.reshape(b, t, *chosen.shape[1:])
        return chosen


def tower_config(folder: Path) -> tuple[CLIPVisionConfig, int]:
    """The CLIP vision config and frame count (0 for images) of a LanguageBind checkpoint folder."""
    raw = json.loads((folder / "config.json").read_text())
    vision = raw.get("vision_config", raw)
    fields = {k: vision[k] for k in _CLIP_VISION_FIELDS if k in vision}
    frames = int(vision.get("num_frames", 1)) if vision.get("add_time_attn") else 0
    config = CLIPVisionConfig(**fields)
    config._attn_implementation = "sdpa"  # the attention CLIPAttention dispatches to, as CLIPVisionModel sets it
    return config, frames


@dataclass(frozen=True)
class TowerLoad:
    """A loaded tower and the checkpoint keys it did not use (the text tower, projections, logit scale)."""

    encoder: LanguageBindEncoder
    ignored: tuple[str, ...]


def load_tower(folder: Path, *, device: str = "cpu", dtype: torch.dtype = torch.float32) -> TowerLoad:
    """Load a LanguageBind image or video checkpoint folder (``model.safetensors`` or ``pytorch_model.bin``).

    Raises:
        ValueError: a ``vision_model`` parameter is missing or has the wrong shape (names the keys).
    """
    config, frames = tower_config(folder)
    encoder = LanguageBindEncoder(config, frames)
    state = _read_state(folder)
    prefix = "vision_model."
    vision = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    ignored = tuple(sorted({k.split(".")[0] for k in state if not k.startswith(prefix)}))
    # position_ids is a buffer older checkpoints saved and newer CLIP code rebuilds
    vision = {k: v for k, v in vision.items() if not k.endswith("position_ids")}
    result = encoder.load_state_dict(vision, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        raise ValueError(f"{folder} does not match LanguageBind's vision_model: missing {missing[:8]}, "
                         f"unexpected {result.unexpected_keys[:8]}")
    encoder.requires_grad_(False)
    return TowerLoad(encoder.to(device=device, dtype=dtype).eval(), ignored)


def _read_state(folder: Path) -> dict[str, Any]:
    safetensors = sorted(folder.glob("*.safetensors"))
    if safetensors:
        from safetensors.torch import load_file

        state: dict[str, Any] = {}
        for file in safetensors:
            state.update(load_file(str(file)))
        return state
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if not bins:
        raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {folder}")
    state = {}
    for file in bins:
        state.update(torch.load(file, map_location="cpu", weights_only=True))
    return state
