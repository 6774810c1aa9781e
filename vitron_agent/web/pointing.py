"""What the person drew or clicked on the large picture, as what goes with the next request.

- A drag with the brush of Gradio's ``ImageEditor`` is a box: the stroke's bounding box (Gradio 6 has no
  rectangle tool, and a box-drawing add-on is not ours to pin, so the box is dragged with the sketch tool).
- In sketch mode the brush layer is the area to change: a black-and-white mask, and its bounding box the region.
- Clicks come from ``gr.Image`` select events, positive or negative; they are drawn back as dots.
- A picture larger than ``PREVIEW_SIDE`` is drawn on as a smaller copy; a box drawn on it is scaled back.

Usage::

    box, drawn = drawing(editor_value)            # a Box or None, and the boolean stroke mask
    shown = preview(path)                         # what the editor shows: the path, or a smaller copy
    box = to_picture(box, drawn.shape[1::-1], (width, height))
    marked = dots(load_image(path), [Point(x=10, y=20)])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vitron_agent.calls import Point
from vitron_agent.regions import Box

__all__ = ["EMPTY_SKETCH", "PREVIEW_SIDE", "dots", "drawing", "preview", "region_text", "to_picture"]

PREVIEW_SIDE = 1600
"""The longest side of the picture the editor shows: a larger one is shown scaled down, and drawn on as such
(its brush layers are then that small; see :mod:`vitron_agent.web.canvas`)."""

EMPTY_SKETCH = "nothing is drawn on the picture: drag a box over the object, or paint the area in sketch mode"
_POSITIVE, _NEGATIVE = (40, 200, 80), (220, 40, 60)


def drawing(value: Mapping[str, Any] | None) -> tuple[Box | None, np.ndarray | None]:
    """The editor's brush layers as one boolean mask the size of its background, and that mask's bounding box;
    (None, None) when nothing is drawn."""
    layers = [np.asarray(layer) for layer in (value or {}).get("layers") or [] if layer is not None]
    if not layers:
        return None, None
    drawn = np.zeros(layers[0].shape[:2], dtype=bool)
    for layer in layers:
        if layer.shape[:2] == drawn.shape:
            drawn |= (layer[..., 3] > 0) if layer.ndim == 3 and layer.shape[2] == 4 else layer.reshape(
                drawn.shape + (-1,)).any(axis=-1)
    rows, columns = np.nonzero(drawn)
    if rows.size == 0:
        return None, None
    box = Box(x1=float(columns.min()), y1=float(rows.min()), x2=float(columns.max() + 1), y2=float(rows.max() + 1))
    return box, drawn


def preview(picture: str | Path | Image.Image) -> str | Path | Image.Image:
    """What the editor shows for a picture (a path, or a video's frame): itself when it fits in
    :data:`PREVIEW_SIDE`, else a copy scaled down to it (a JPEG decoded at a fraction of its size)."""
    if isinstance(picture, Image.Image):
        return picture if max(picture.size) <= PREVIEW_SIDE else _smaller(picture)
    with Image.open(picture) as image:
        if max(image.size) <= PREVIEW_SIDE:
            return picture
        image.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))  # JPEG: decoded at 1/2 to 1/8 scale, at once
        return _smaller(image)


def _smaller(image: Image.Image) -> Image.Image:
    shown = image.convert("RGB")
    shown.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    return shown


def to_picture(box: Box, drawn_on: tuple[int, int], picture: tuple[int, int]) -> Box:
    """A box drawn on a layer of size ``drawn_on`` (width, height), in the pixels of the picture it shows."""
    across, down = picture[0] / drawn_on[0], picture[1] / drawn_on[1]
    if abs(across - 1) < 1e-9 and abs(down - 1) < 1e-9:
        return box
    return Box(x1=float(round(box.x1 * across)), y1=float(round(box.y1 * down)),
               x2=float(min(picture[0], round(box.x2 * across))), y2=float(min(picture[1], round(box.y2 * down))))


def dots(image: Image.Image, points: Sequence[Point]) -> Image.Image:
    """The picture with each click drawn: green for the object, red for what is not it."""
    marked = image.convert("RGB")
    pen = ImageDraw.Draw(marked)
    radius = max(4, round(max(marked.size) / 90))
    for point in points:
        colour = _POSITIVE if point.positive else _NEGATIVE
        pen.ellipse((point.x - radius, point.y - radius, point.x + radius, point.y + radius), fill=colour,
                    outline=(255, 255, 255), width=max(1, radius // 3))
    return marked


def region_text(box: Box | None, points: Sequence[Point], sketched: bool) -> str:
    """What goes with the next request, in words."""
    parts = []
    if box is not None:
        parts.append(("sketch, within " if sketched else "box ") + ", ".join(f"{v:g}" for v in box.as_tuple()))
    if points:
        positive = sum(point.positive for point in points)
        parts.append(f"{positive} click(s) on the object, {len(points) - positive} off it")
    return "With the next request: " + ("; ".join(parts) if parts else "no box, sketch or clicks")
