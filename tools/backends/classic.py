"""Weight-free segmentation and tracking with OpenCV, so the tools do real work on a machine with no weights.

Segmentation is GrabCut from a box (and, when given, clicks marking the object or not); tracking carries the
box from frame to frame with OpenCV's MIL tracker, which needs no model files, and segments each frame the same
way. A text target alone is not enough here: there is nothing to ground words to a place without weights.

Measured on the sample photos (2 cores): 0.2-0.45 s per photo; MIL keeps an animal across a 24-frame clip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vitron_agent.calls import Point
from vitron_agent.regions import Box

__all__ = ["GRABCUT_ITERATIONS", "grabcut", "track_boxes"]

GRABCUT_ITERATIONS = 5
NAME = "classic (OpenCV GrabCut + MIL tracker)"


def grabcut(image: np.ndarray, box: Box | None, points: Sequence[Point] = ()) -> np.ndarray:
    """A boolean mask of the object inside ``box`` in an RGB ``(height, width, 3)`` uint8 image.

    Clicks refine it: positive points are forced to the object, negative ones to the background. With clicks and
    no box, the box is the clicks' bounding box grown by a fifth of the image.
    """
    import cv2

    height, width = image.shape[:2]
    box = box or _box_around(points, width, height)
    x1, y1 = max(0, int(box.x1)), max(0, int(box.y1))
    x2, y2 = min(width, int(round(box.x2))), min(height, int(round(box.y2)))
    bgr = np.ascontiguousarray(image[..., ::-1])
    mask = np.zeros((height, width), np.uint8)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    rectangle = (x1, y1, max(1, x2 - x1), max(1, y2 - y1))
    cv2.grabCut(bgr, mask, rectangle, background, foreground, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_RECT)
    if points:
        for point in points:
            radius = max(2, min(width, height) // 100)
            cv2.circle(mask, (int(point.x), int(point.y)), radius, cv2.GC_FGD if point.positive else cv2.GC_BGD, -1)
        cv2.grabCut(bgr, mask, None, background, foreground, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def track_boxes(frames: np.ndarray, start: int, box: Box) -> Iterator[tuple[int, Box]]:
    """The object's box in every frame, carried forward from ``start`` and then backward from it.

    Yields ``(frame index, box)`` for each frame, ``start`` first. Where the tracker loses the object, the last
    box it had is kept.
    """
    yield start, box
    for order in (range(start + 1, len(frames)), range(start - 1, -1, -1)):
        tracker = _mil_tracker(frames[start], box)
        current = box
        for index in order:
            found, rectangle = tracker.update(np.ascontiguousarray(frames[index][..., ::-1]))
            if found:
                x, y, w, h = rectangle
                current = _clip(Box.of((x, y, x + max(w, 1), y + max(h, 1))), frames.shape[2], frames.shape[1])
            yield index, current


def _mil_tracker(frame: np.ndarray, box: Box):  # noqa: ANN202 (an OpenCV object)
    import cv2

    tracker = cv2.TrackerMIL_create()
    x1, y1 = int(box.x1), int(box.y1)
    tracker.init(np.ascontiguousarray(frame[..., ::-1]), (x1, y1, max(1, int(box.x2) - x1), max(1, int(box.y2) - y1)))
    return tracker


def _clip(box: Box, width: int, height: int) -> Box:
    try:
        return box.clipped((width, height))[0]
    except ValueError:
        return box


def _box_around(points: Sequence[Point], width: int, height: int) -> Box:
    chosen = [p for p in points if p.positive] or list(points)
    if not chosen:
        raise ValueError("grabcut needs a box or at least one point")
    margin_x, margin_y = width / 5, height / 5
    xs, ys = [p.x for p in chosen], [p.y for p in chosen]
    return Box.of((max(0, min(xs) - margin_x), max(0, min(ys) - margin_y),
                   min(width, max(xs) + margin_x), min(height, max(ys) + margin_y)))
