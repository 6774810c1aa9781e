"""What segment_image and segment_video share: choosing a backend, grounding words to a box, drawing overlays.

The backend is ``auto`` unless configured (``VITRON_SEGMENTATION_BACKEND`` or ``[segmentation] backend`` in the
workspace's ``vitron.toml``): SAM2 when its weights resolve, else the classic OpenCV backend. ``sam2`` insists on
SAM2 (a missing checkpoint is then an error that says how to get it); ``classic`` never looks for weights.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vitron_agent.calls import Point
from vitron_agent.readiness import RunsOn
from vitron_agent.regions import Box
from vitron_agent.tools.backends.grounding import GROUNDING
from vitron_agent.tools.backends.sam import SAM2 as SAM2_FAMILY
from vitron_agent.weights import WeightsUnavailable, cached, hub_offline, is_repo_id, missing_packages, settings

__all__ = ["WEIGHT_FAMILIES", "Backend", "NeedsRegion", "choose_backend", "describe_backend", "ground", "mask_for",
           "mask_png", "masks_npz", "overlay", "read_mask", "track_masks", "wanted_backend"]

CLASSIC = "classic"
SAM2 = "sam2"
WEIGHT_FAMILIES = (SAM2_FAMILY, GROUNDING)
"""What a tool that segments may load: SAM2, and the detector that turns words into a box."""
_TINT = np.array([255, 64, 32], dtype=np.float32)


class NeedsRegion(ValueError):
    """A text target that cannot be located without grounding weights: the person should draw a box."""


@dataclass(frozen=True)
class Backend:
    """The backend a call runs on, as recorded with its artifacts."""

    name: str
    model_id: str | None = None
    weights: Any = None
    why: str = ""


def wanted_backend(workspace: Path) -> str:
    """The configured choice: ``VITRON_SEGMENTATION_BACKEND`` or ``[segmentation] backend``, default "auto".

    Raises:
        ValueError: not one of auto, sam2, classic.
    """
    wanted = (os.environ.get("VITRON_SEGMENTATION_BACKEND")
              or settings(workspace).get("segmentation", {}).get("backend") or "auto").lower()
    if wanted not in ("auto", SAM2, CLASSIC):
        raise ValueError(f"segmentation backend {wanted!r} is not one of auto, sam2, classic")
    return wanted


def choose_backend(workspace: Path) -> Backend:
    """SAM2 when configured or available, the classic backend otherwise (with the reason kept)."""
    wanted = wanted_backend(workspace)
    if wanted == CLASSIC:
        return Backend(CLASSIC, why="configured")
    from vitron_agent.tools.backends import sam

    try:
        weights = sam.resolve(workspace)
    except (WeightsUnavailable, ImportError) as error:
        if wanted == SAM2:
            raise
        return Backend(CLASSIC, why=f"SAM2 unavailable: {error}")
    return Backend(SAM2, model_id=weights.model_id, weights=weights)


def mask_for(image: np.ndarray, *, box: Box | None, points: Sequence[Point], target: str | None,
             image_key: str | None, workspace: Path, models: Any,
             on_step: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, Backend]:
    """The object's boolean mask in an RGB image, and the backend that made it: the one path every tool that
    needs a mask takes (segment_image itself, and edit_image for region edits). ``on_step(done, total)`` follows
    the classic backend's iterations (progress, and cancel by raising); SAM2 makes its mask in one step.

    A box or clicks go straight to the segmenter; words alone are grounded to a box first.

    Raises:
        NeedsRegion: words alone, and no way to locate them.
        ValueError: the segmenter found nothing in the region.
    """
    backend = choose_backend(workspace)
    if box is None and not points:
        box = ground(target or "", image, workspace, models)
    if backend.name == SAM2:
        from vitron_agent.tools.backends import sam

        mask = sam.segment(sam.image_predictor(models, backend.weights), image, box, points, image_key=image_key)
    else:
        from vitron_agent.tools.backends import classic

        mask = classic.grabcut(image, box, points, on_step=on_step)
    if not mask.any():
        raise ValueError(f"the {backend.name} backend found no object inside the region; try a tighter box")
    return mask, backend


def track_masks(frames: np.ndarray, *, start: int, box: Box | None, target: str | None, workspace: Path,
                models: Any, on_frame: Callable[[int, int], None]) -> tuple[np.ndarray, Backend]:
    """Boolean masks ``(frames, height, width)`` of one object through a clip, and the backend that made them:
    the one path segment_video and edit_video share.

    The object is given by a box on frame ``start`` or by words (grounded on that frame); it is then tracked
    forward and backward. ``on_frame(done, index)`` is called after each frame, for progress and cancellation.
    """
    if start >= len(frames):
        raise ValueError(f"frame={start} is past the end of the clip ({len(frames)} frames, from 0)")
    backend = choose_backend(workspace)
    if box is None:
        box = ground(target or "", frames[start], workspace, models)
    if backend.name == SAM2:
        from vitron_agent.tools.backends import sam

        tracked = sam.track(sam.video_predictor(models, backend.weights), frames, start, box)
    else:
        from vitron_agent.tools.backends import classic

        tracked = classic.track(frames, start, box)
    masks = np.zeros(frames.shape[:3], dtype=bool)
    for done, (index, mask) in enumerate(tracked, start=1):
        masks[index] = mask
        on_frame(done, index)
    return masks, backend


def masks_npz(masks: np.ndarray) -> bytes:
    """Per-frame masks, losslessly: a compressed NumPy archive whose ``masks`` is ``(frames, height, width)``."""
    import io

    archive = io.BytesIO()
    np.savez_compressed(archive, masks=masks)
    return archive.getvalue()


def describe_backend(workspace: Path, *, words_only: bool = False) -> RunsOn:
    """Which backend and checkpoint a call would run on, and what it needs, for the decision shown before it
    runs and for the doctor. Told from configuration and what is on disk, without importing torch or sam2, so it
    is instant; :func:`choose_backend` makes the real choice when the tool runs.

    Args:
        words_only: the call names its object in words, with no box or clicks: it also needs the detector.
    """
    grounding = {"families": (GROUNDING,), "instead": "draw a box around it (region=[x1, y1, x2, y2])"} \
        if words_only else {}
    try:
        wanted = wanted_backend(workspace)
    except ValueError as error:
        return RunsOn(f"unavailable: {error}", **grounding)
    if wanted == CLASSIC:
        return RunsOn("classic (OpenCV GrabCut; configured)", **grounding)
    spec = SAM2_FAMILY.spec(workspace)
    installed = not missing_packages(SAM2_FAMILY.packages)
    if wanted == SAM2:  # insisted on: what it needs decides whether the call can run
        families = (SAM2_FAMILY, *grounding.get("families", ()))
        return RunsOn(f"sam2 ({spec.source}, configured)", families=families, instead=grounding.get("instead", ""))
    if installed and cached(spec) is not None:
        return RunsOn(f"sam2 ({spec.source})", families=(SAM2_FAMILY,), **grounding)
    if installed and not hub_offline() and is_repo_id(spec.source):
        return RunsOn(f"sam2 ({spec.source}, downloaded on first use; classic OpenCV GrabCut if that fails)",
                      **grounding)
    reason = f"the SAM2 weights {spec.source} are not on this machine" if installed else "sam2 is not installed"
    return RunsOn(f"classic (OpenCV GrabCut; {reason})", **grounding)


def ground(target: str, image: np.ndarray, workspace: Path, models: Any) -> Box:
    """The box of ``target`` in the image, from the zero-shot detector.

    Raises:
        NeedsRegion: no detector weights, or nothing found; the message asks for a box.
    """
    from vitron_agent.tools.backends import grounding

    try:
        return grounding.locate(target, image, workspace, models)
    except (WeightsUnavailable, ImportError) as error:
        raise NeedsRegion(
            f"to find {target!r} without a box I need a zero-shot detector, and none is available ({error}). "
            "Draw a box around it instead: /region x1,y1,x2,y2 in the terminal, or region=[x1, y1, x2, y2]."
        ) from None
    except LookupError as error:
        raise NeedsRegion(f"{error}; draw a box around it instead (region=[x1, y1, x2, y2])") from None


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with the mask tinted and the rest dimmed, for people to check a result at a glance.

    Worked in bands of rows in integers (weights in 256ths), so a 7000 x 7000 photo needs a few MiB on top of
    its result rather than the 1.5 GiB of whole-image float copies."""
    shown = np.empty_like(image)
    tint = _TINT.astype(np.uint16) * _TINT_WEIGHT
    for top in range(0, image.shape[0], _BAND_ROWS):
        band, inside = image[top:top + _BAND_ROWS].astype(np.uint16), mask[top:top + _BAND_ROWS]
        dimmed = band * _DIM_WEIGHT
        dimmed[inside] = band[inside] * (256 - _TINT_WEIGHT) + tint
        shown[top:top + _BAND_ROWS] = dimmed >> 8
    return shown


_DIM_WEIGHT = 141
"""0.55 of the brightness outside the mask, in 256ths"""
_TINT_WEIGHT = 141
"""0.55 of the tint inside it; the pixel keeps the rest"""
_BAND_ROWS = 256


def read_mask(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, str | None]:
    """A stored mask (or a person's sketch) as a boolean array of ``size`` (width, height): white is inside. A mask
    of another size is scaled (nearest neighbour), and the note says so.

    Raises:
        MediaError: the file can't be read as an image.
        ValueError: the mask is empty, so there is nothing inside it.
    """
    from PIL import Image

    from vitron_agent.media import load_image

    picture = load_image(path).convert("L")
    note = None
    if picture.size != size:
        note = (f"the mask is {picture.width} x {picture.height} and was scaled to the image's "
                f"{size[0]} x {size[1]}")
        picture = picture.resize(size, Image.NEAREST)
    mask = np.asarray(picture) > 127
    if not mask.any():
        raise ValueError("the mask is empty (no white pixels), so there is nothing to change inside it")
    return mask, note


def mask_png(mask: np.ndarray) -> bytes:
    """A lossless single-channel PNG, 0 outside and 255 inside."""
    from PIL import Image

    from vitron_agent.media import encode_image

    return encode_image(Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)), "PNG")
