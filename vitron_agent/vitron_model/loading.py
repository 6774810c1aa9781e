"""Loading a Vitron release the way it is published: a base model folder and a LoRA folder.

The LoRA folder (``Vitron/vitron-lora``) holds ``config.json`` (Llama's config plus Vitron's ``mm_*`` fields,
which name the two LanguageBind towers), the adapter (``adapter_config.json`` and its weights) and
``non_lora_trainables.bin`` (the projector and region extractor trained beside the adapter). The base folder
(``Vitron/vitron-base``) holds the tokenizer and the language model. Steps, in the release's order:

1. the base weights load into :class:`~.modeling.VitronForCausalLM` under the LoRA folder's config;
2. ``non_lora_trainables.bin`` loads on top, its keys stripped of the ``base_model.`` prefix (and of a leading
   ``model.`` when keys start ``model.model.``), as the release saved them from a peft model;
3. the adapter is applied and merged with peft (``PeftModel.from_pretrained`` then ``merge_and_unload``);
4. the towers load from the LanguageBind checkpoints the config names (resolved like all weights, so a local
   copy can be configured).

A folder without ``adapter_config.json`` is read as an already merged model. Keys a checkpoint holds that the
port does not use are reported in :attr:`VitronBundle.ignored`, never silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vitron_agent.vitron_model.modeling import VitronForCausalLM
from vitron_agent.vitron_model.towers import LanguageBindEncoder, load_tower

__all__ = ["ReleaseError", "VitronBundle", "load_release", "strip_release_prefixes"]

PATCH_TOKEN = "<im_patch>"
START_END_TOKENS = ("<im_start>", "<im_end>", "<vid_start>", "<vid_end>")
# Tower keys may appear in a language model checkpoint saved with its towers attached; the towers are read from
# their own checkpoints instead.
_TOWER_PREFIXES = ("model.image_tower.", "model.video_tower.", "model.vision_tower.")


class ReleaseError(ValueError):
    """A folder that is not a Vitron release, or weights that do not fit the port; the message names the keys."""


@dataclass
class Ignored:
    """What was in the checkpoints and not used, by where it came from."""

    base: list[str] = field(default_factory=list)
    non_lora: list[str] = field(default_factory=list)
    towers: dict[str, tuple[str, ...]] = field(default_factory=dict)


class VitronBundle(nn.Module):
    """The language model, its two towers and its tokenizer: the one object the model manager keeps."""

    def __init__(self, llm: VitronForCausalLM, image_tower: LanguageBindEncoder | None,
                 video_tower: LanguageBindEncoder | None, tokenizer: Any, ignored: Ignored) -> None:
        super().__init__()
        self.llm, self.image_tower, self.video_tower = llm, image_tower, video_tower
        self.tokenizer, self.ignored = tokenizer, ignored

    @property
    def config(self) -> Any:
        return self.llm.config


def strip_release_prefixes(state: dict[str, Any]) -> dict[str, Any]:
    """Keys of ``non_lora_trainables.bin`` as the model names them (the release's own prefix handling)."""
    state = {(k[len("base_model."):] if k.startswith("base_model.") else k): v for k, v in state.items()}
    if any(k.startswith("model.model.") for k in state):
        state = {(k[len("model."):] if k.startswith("model.") else k): v for k, v in state.items()}
    return state


def load_release(lora: Path, base: Path | None, *, device: str = "cpu", dtype: torch.dtype = torch.float32,
                 quantization: Any = None, tower_path: Any = None) -> VitronBundle:
    """Load a Vitron release (see the module docstring).

    Args:
        lora: the LoRA folder, or a merged model folder.
        base: the base folder (ignored for a merged model; required with a LoRA folder).
        quantization: a transformers ``BitsAndBytesConfig`` for 4- or 8-bit, or None.
        tower_path: ``tower_path(name) -> Path`` resolving a tower named in the config to a folder.

    Raises:
        ReleaseError: a missing file or a weight that does not fit.
    """
    from transformers import AutoTokenizer, LlamaConfig

    if not (lora / "config.json").is_file():
        raise ReleaseError(f"{lora} has no config.json; expected Vitron's LoRA folder (or a merged model)")
    released = json.loads((lora / "config.json").read_text())
    released.pop("model_type", None)  # "llava" in the release, which transformers now reads as its own LLaVA
    config = LlamaConfig(**released)
    merged = not (lora / "adapter_config.json").is_file()
    source = lora if merged else base
    if source is None:
        raise ReleaseError(f"{lora} is a LoRA folder; its base model folder is needed too")
    tokenizer = AutoTokenizer.from_pretrained(source)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if quantization is not None:
        kwargs.update(quantization_config=quantization, device_map={"": device})
    llm, info = VitronForCausalLM.from_pretrained(source, config=config, output_loading_info=True, **kwargs)
    ignored = Ignored(base=sorted(info["unexpected_keys"]))
    trained = {"model.mm_projector", "model.region_extractor"}
    if not merged:
        _load_non_lora(llm, lora, ignored)
        missing = [k for k in info["missing_keys"] if not any(k.startswith(p) for p in trained)]
        llm = _merge_lora(llm, lora)
    else:
        missing = list(info["missing_keys"])
    unexplained = [k for k in ignored.base if not k.startswith(_TOWER_PREFIXES)]
    if missing or unexplained:
        raise ReleaseError(f"the weights do not fit Vitron's model: missing {missing[:8]}, "
                           f"unexpected {unexplained[:8]}")
    _add_placeholder_tokens(llm, tokenizer)
    if quantization is None:
        llm = llm.to(device)
    llm.eval()
    towers = []
    for name in (getattr(config, "mm_image_tower", None), getattr(config, "mm_video_tower", None)):
        if not name:
            towers.append(None)
            continue
        folder = tower_path(name) if tower_path is not None else Path(name)
        loaded = load_tower(Path(folder), device=device, dtype=dtype)
        ignored.towers[str(name)] = loaded.ignored
        towers.append(loaded.encoder)
    return VitronBundle(llm, towers[0], towers[1], tokenizer, ignored)


def _load_non_lora(llm: VitronForCausalLM, lora: Path, ignored: Ignored) -> None:
    path = lora / "non_lora_trainables.bin"
    if not path.is_file():
        raise ReleaseError(f"{path} is missing: the projector and region extractor are trained beside the LoRA")
    state = strip_release_prefixes(torch.load(path, map_location="cpu", weights_only=True))
    result = llm.load_state_dict(state, strict=False)
    ignored.non_lora = sorted(result.unexpected_keys)
    wanted = {k for k in llm.state_dict() if k.startswith(("model.mm_projector.", "model.region_extractor."))}
    absent = sorted(wanted - set(state))
    if absent:
        raise ReleaseError(f"{path} lacks {absent[:8]}")


def _merge_lora(llm: VitronForCausalLM, lora: Path) -> VitronForCausalLM:
    from peft import PeftModel

    return PeftModel.from_pretrained(llm, str(lora)).merge_and_unload()


def _add_placeholder_tokens(llm: VitronForCausalLM, tokenizer: Any) -> None:
    """The tokens the demo's loader adds (``mm_use_im_patch_token`` defaults to true, start/end to false)."""
    added = 0
    if getattr(llm.config, "mm_use_im_patch_token", True):
        added += tokenizer.add_tokens([PATCH_TOKEN], special_tokens=True)
    if getattr(llm.config, "mm_use_im_start_end", False):
        added += tokenizer.add_tokens(list(START_END_TOKENS), special_tokens=True)
    if added or len(tokenizer) != llm.get_input_embeddings().weight.shape[0]:
        llm.resize_token_embeddings(len(tokenizer))


def read_adapter_base(lora: Path) -> str | None:
    """The base model the adapter was trained on, as ``adapter_config.json`` records it."""
    path = lora / "adapter_config.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("base_model_name_or_path")
