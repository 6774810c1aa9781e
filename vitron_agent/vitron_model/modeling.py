"""Vitron's language model: Llama (Vicuna-7B) plus the multimodal projector and the region extractor.

Parameter names match Vitron's release: ``model.embed_tokens``, ``model.layers.N.*``, ``model.norm``,
``lm_head`` (Llama's own), ``model.mm_projector.{0,2}.*`` (``mlp2x_gelu``: Linear, GELU, Linear; ``linear`` is a
single ``model.mm_projector.*``), and ``model.region_extractor.region_linear.layers.{0,1,2}.*`` and
``model.region_extractor.loc_encoder.loc_encoder.{0,2}.*``. The towers are not part of this module: Vitron loads
them from their own LanguageBind checkpoints (see :mod:`.towers`), so tower keys in a language model checkpoint
are ignored.

How media reach the model: the prompt holds placeholder ids, -200 for each image (a video is one per frame) and
-300 for the person's region; :meth:`VitronForCausalLM.embed` replaces each with the projected patch features of
the next image or frame, or with the region feature of the latest image, and generation runs on the embeddings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

__all__ = ["IMAGE_TOKEN_INDEX", "OBJS_TOKEN_INDEX", "RegionExtractor", "VitronForCausalLM", "build_projector"]

IMAGE_TOKEN_INDEX = -200
OBJS_TOKEN_INDEX = -300
MODEL_FRAME = 224


def build_projector(config: LlamaConfig) -> nn.Module:
    """The projector from the tower width (``mm_hidden_size``) to the language model's, by ``mm_projector_type``."""
    kind = getattr(config, "mm_projector_type", "linear")
    if kind == "linear":
        return nn.Linear(config.mm_hidden_size, config.hidden_size)
    match = re.fullmatch(r"mlp(\d+)x_gelu", kind)
    if match:
        layers: list[nn.Module] = [nn.Linear(config.mm_hidden_size, config.hidden_size)]
        for _ in range(int(match.group(1)) - 1):
            layers += [nn.GELU(), nn.Linear(config.hidden_size, config.hidden_size)]
        return nn.Sequential(*layers)
    if kind == "identity":
        return nn.Identity()
    raise ValueError(f"unknown mm_projector_type {kind!r}; Vitron's release uses mlp2x_gelu")


class _MLP(nn.Module):
    """``layers.0 .. layers.{n-1}``, ReLU between them."""

    def __init__(self, sizes: Sequence[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x


class _LocationEncoder(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.loc_encoder = nn.Sequential(nn.Linear(4, width // 2), nn.ReLU(), nn.Linear(width // 2, width))

    def forward(self, boxes: torch.Tensor) -> torch.Tensor:
        return self.loc_encoder(boxes)


class RegionExtractor(nn.Module):
    """One feature per box: the mean of the patch features under the box (an MLP on top) plus an encoding of
    the box's four numbers. Boxes are in the 224 x 224 model frame.

    The box mask is filled as ``mask[x1:x2, y1:y2]`` - rows by x - and then laid over the patch grid whose rows
    are y: Vitron's model was trained with this transposed mask, so it is kept as is; "fixing" it would feed
    the model features it never saw.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.region_linear = _MLP([in_dim, out_dim, out_dim, out_dim])
        self.loc_encoder = _LocationEncoder(out_dim)

    def forward(self, features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """features (B, patches, C) before projection; boxes (B, 4) -> (B, 1, out_dim)."""
        located = self.loc_encoder(boxes.to(device=features.device, dtype=features.dtype))
        return (self.region_linear(self.pool(features, boxes)) + located).unsqueeze(1)

    @staticmethod
    def pool(features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """The mean patch feature under each box's mask: (B, patches, C), (B, 4) -> (B, C)."""
        b, n, c = features.shape
        side = int(n ** 0.5)
        masks = torch.zeros(b, 1, MODEL_FRAME, MODEL_FRAME, dtype=features.dtype, device=features.device)
        for index, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
            masks[index, 0, int(x1):int(x2), int(y1):int(y2)] = 1
        masks = F.interpolate(masks, size=(side, side), mode="bilinear", align_corners=False)
        masks = (masks > 0).to(features.dtype)
        grid = features.reshape(b, side, side, c).permute(0, 3, 1, 2)
        weights = masks / (masks.sum(dim=(-1, -2), keepdim=True) + 1e-8)
        return torch.einsum("bchw,bqhw->bqc", grid, weights).reshape(b, c)


class VitronForCausalLM(LlamaForCausalLM):
    """Llama with Vitron's ``model.mm_projector`` and ``model.region_extractor``."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.model.mm_projector = build_projector(config)
        self.model.region_extractor = RegionExtractor(config.mm_hidden_size, config.hidden_size)
        self.post_init()

    def project(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.mm_projector(features.to(self.dtype))

    def embed(self, input_ids: torch.Tensor, media: Sequence[torch.Tensor],
              regions: Sequence[torch.Tensor | None]) -> torch.Tensor:
        """Embeddings of one prompt (1-D ids with placeholders) with media spliced in.

        Args:
            media: projected features, one (patches, hidden) tensor per -200 placeholder, in order.
            regions: the region feature (1, hidden) of each entry of ``media`` (None for video frames); a -300
                placeholder takes the one of the latest image before it.

        Raises:
            ValueError: the placeholders and the media do not match in number.
        """
        images = int((input_ids == IMAGE_TOKEN_INDEX).sum())
        if images != len(media):
            raise ValueError(f"the prompt has {images} image placeholders but {len(media)} images or frames")
        text = input_ids.clamp(min=0)
        embedded = self.model.embed_tokens(text)
        pieces, start, seen, latest_region = [], 0, 0, None
        for position in torch.nonzero(input_ids < 0).flatten().tolist():
            pieces.append(embedded[start:position])
            if int(input_ids[position]) == IMAGE_TOKEN_INDEX:
                pieces.append(media[seen].to(embedded.dtype))
                latest_region = regions[seen] if regions[seen] is not None else latest_region
                seen += 1
            else:
                if latest_region is None:
                    raise ValueError("a region placeholder comes before any image")
                pieces.append(latest_region.to(embedded.dtype))
            start = position + 1
        pieces.append(embedded[start:])
        return torch.cat(pieces, dim=0)
