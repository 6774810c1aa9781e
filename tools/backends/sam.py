"""SAM 2.1 through the official ``sam2`` package: the image predictor for photos, the video predictor for clips.

Weights come from the ``sam2`` family in :mod:`vitron_agent.weights` (default ``facebook/sam2.1-hiera-tiny``).
A repo id known to ``sam2`` brings its own model config; a local checkpoint names its config in ``vitron.toml``
(``config``), or it is guessed from the file name (``..._tiny.pt`` -> the tiny config). ``overrides`` are Hydra
overrides passed to ``build_sam2`` (a checkpoint trained at another ``image_size``, for example). Predictors
are loaded through the model manager, so each is built once per process.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vitron_agent.calls import Point
from vitron_agent.media import save_image
from vitron_agent.regions import Box
from vitron_agent.weights import Family, WeightsUnavailable, fetch

__all__ = ["DEFAULT_SAM2", "SAM2", "Sam2Weights", "image_predictor", "resolve", "segment", "track",
           "video_predictor"]

DEFAULT_SAM2 = "facebook/sam2.1-hiera-tiny"
SAM2 = Family("sam2", DEFAULT_SAM2, packages=("torch", "sam2", "huggingface_hub"), files=("*.pt",))
"""SAM 2.1: the released repos hold one ``.pt`` checkpoint, which is all the ``sam2`` package loads."""
_SIZES = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}


@dataclass(frozen=True)
class Sam2Weights:
    """A checkpoint on disk and how to build the model it fits."""

    model_id: str
    checkpoint: Path
    config: str
    overrides: tuple[str, ...] = ()


def resolve(workspace: Path | None) -> Sam2Weights:
    """Find the configured SAM2 checkpoint and its config.

    Raises:
        WeightsUnavailable: not on disk, not downloadable, or its config cannot be told.
    """
    from sam2.build_sam import HF_MODEL_ID_TO_FILENAMES

    spec = SAM2.spec(workspace)
    overrides = tuple(spec.extras.get("overrides", ()))
    if spec.source in HF_MODEL_ID_TO_FILENAMES:
        config, filename = HF_MODEL_ID_TO_FILENAMES[spec.source]
        return Sam2Weights(spec.source, fetch(spec, filename, workspace=workspace),
                           spec.extras.get("config", config), overrides)
    checkpoint = fetch(spec, spec.extras.get("filename"), workspace=workspace)
    config = spec.extras.get("config") or _config_from_name(checkpoint)
    if config is None:
        raise WeightsUnavailable(
            f"cannot tell which SAM2 config fits {checkpoint}; set [weights.sam2] config = "
            "\"configs/sam2.1/sam2.1_hiera_t.yaml\" (or _s, _b+, _l) in the workspace's vitron.toml"
        )
    return Sam2Weights(str(checkpoint), checkpoint, config, overrides)


def _config_from_name(checkpoint: Path) -> str | None:
    name = checkpoint.name.lower()
    for size, letter in _SIZES.items():
        if size in name:
            family = "sam2.1" if "2.1" in name else "sam2"
            return f"configs/{family}/{family}_hiera_{letter}.yaml"
    return None


def image_predictor(models: Any, weights: Sam2Weights) -> Any:
    """The image predictor for these weights, built once through the model manager."""

    def load(device: str, dtype: str) -> Any:
        from sam2.build_sam import build_sam2
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        model = build_sam2(weights.config, str(weights.checkpoint), device=device,
                           hydra_overrides_extra=list(weights.overrides))
        predictor = SAM2ImagePredictor(model)
        size = model.image_size  # feature sizes follow the model's input size (1024 for released weights)
        predictor._bb_feat_sizes = [(size // 4, size // 4), (size // 8, size // 8), (size // 16, size // 16)]
        return predictor

    return models.get(f"sam2-image:{weights.model_id}", load, dtype="float32")


def video_predictor(models: Any, weights: Sam2Weights) -> Any:
    """The video predictor for these weights, built once through the model manager."""

    def load(device: str, dtype: str) -> Any:
        from sam2.build_sam import build_sam2_video_predictor

        return build_sam2_video_predictor(weights.config, str(weights.checkpoint), device=device,
                                          hydra_overrides_extra=list(weights.overrides))

    return models.get(f"sam2-video:{weights.model_id}", load, dtype="float32")


def _prompts(box: Box | None, points: Sequence[Point]) -> dict[str, Any]:
    prompts: dict[str, Any] = {}
    if box is not None:
        prompts["box"] = np.array(box.as_tuple(), dtype=np.float32)
    if points:
        prompts["point_coords"] = np.array([[p.x, p.y] for p in points], dtype=np.float32)
        prompts["point_labels"] = np.array([1 if p.positive else 0 for p in points], dtype=np.int32)
    return prompts


def segment(predictor: Any, image: np.ndarray, box: Box | None, points: Sequence[Point] = (),
            *, image_key: str | None = None) -> np.ndarray:
    """A boolean mask for the object the box and/or points pick in an RGB image.

    With ``image_key`` (the image's artifact id), the image encoding is kept on the predictor and reused when
    the next call segments the same image: refining a selection on one photo costs only the mask decoder.
    """
    import torch

    with torch.inference_mode():
        if image_key is None or getattr(predictor, "_vitron_image_key", None) != image_key:
            predictor.set_image(image if image.flags.writeable else image.copy())
            predictor._vitron_image_key = image_key
        masks, _, _ = predictor.predict(**_prompts(box, points), multimask_output=False)
    return np.asarray(masks[0]) > 0


def track(predictor: Any, frames: np.ndarray, start: int, box: Box | None,
          points: Sequence[Point] = ()) -> Iterator[tuple[int, np.ndarray]]:
    """Masks for every frame, prompted on frame ``start`` and propagated forward, then backward.

    The frames are written as JPEGs to a temporary folder, the input SAM2's video predictor reads.
    """
    import torch

    prompts = _prompts(box, points)
    points_given = {"points": prompts.get("point_coords"), "labels": prompts.get("point_labels")}
    with tempfile.TemporaryDirectory(prefix="vitron-sam2-") as folder, torch.inference_mode():
        from PIL import Image

        for index, frame in enumerate(frames):
            save_image(Image.fromarray(frame), Path(folder) / f"{index:05d}.jpg", quality=95)
        state = predictor.init_state(video_path=folder)
        predictor.add_new_points_or_box(state, frame_idx=start, obj_id=1, box=prompts.get("box"),
                                        **{k: v for k, v in points_given.items() if v is not None})
        seen: set[int] = set()
        for reverse in (False, True):
            for index, _, logits in predictor.propagate_in_video(state, start_frame_idx=start, reverse=reverse):
                if index not in seen:
                    seen.add(index)
                    yield int(index), (logits[0, 0] > 0).cpu().numpy()
