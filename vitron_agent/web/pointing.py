"""What the person drew or clicked on the large picture, as what goes with the next request.

- A drag with the brush of Gradio's ``ImageEditor`` is a box: the stroke's bounding box (Gradio 6 has no
  rectangle tool, and a box-drawing add-on is not ours to pin, so the box is dragged with the sketch tool).
- In sketch mode the brush layer is the area to change: a black-and-white mask, and its bounding box the region.
- Clicks come from ``gr.Image`` select events, positive or negative; they are drawn back as dots.

Usage::

    box, drawn = drawing(editor_value)            # a Box or None, and the boolean stroke mask
    marked = dots(load_image(path), [Point(x=10, y=20)])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vitron_agent.calls import Point
from vitron_agent.regions import Box

__all__ = ["EMPTY_SKETCH", "dots", "drawing", "region_text"]

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
