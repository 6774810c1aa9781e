"""Weight-free segmentation and tracking with OpenCV, so the tools do real work on a machine with no weights.

Segmentation is GrabCut from a box (and, when given, clicks marking the object or not); tracking carries the
box from frame to frame with OpenCV's MIL tracker, which needs no model files, and segments each frame the same
way. A text target alone is not enough here: there is nothing to ground words to a place without weights.

Measured on the sample photos (2 cores): 0.2-0.45 s per photo; MIL keeps an animal across a 24-frame clip.
GrabCut is seeded and repeats exactly; MIL does not (its track varies slightly from run to run even with
OpenCV's generator seeded), which is why tracking then retries GrabCut on a wider window when it comes up short.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from vitron_agent.calls import Point
from vitron_agent.regions import Box

__all__ = ["GRABCUT_ITERATIONS", "MIN_SAMPLES", "RETRY_MARGIN", "TRACK_MARGIN", "NoRoomAroundBox", "grabcut", "track",
           "track_boxes"]

GRABCUT_ITERATIONS = 5
TRACK_MARGIN = 0.15
RETRY_MARGIN = 0.35
"""How much a tracked box grows (each side, as a share of its size) before GrabCut: MIL keeps the first box's
size, so an object that comes closer outgrows it; without the margin GrabCut lost the motorbike in 2 of the 43
sample frames, with it in none."""


def grabcut(image: np.ndarray, box: Box | None, points: Sequence[Point] = ()) -> np.ndarray:
    """A boolean mask of the object inside ``box`` in an RGB ``(height, width, 3)`` uint8 image.

    Clicks refine it: positive points are forced to the object, negative ones to the background. With clicks and
    no box, the box is the clicks' bounding box grown by a fifth of the image. GrabCut runs on a window around
    the box (the box plus half its size on each side), which is all its colour models need and much faster
    than the whole frame.
    """
    import cv2

    height, width = image.shape[:2]
    box = box or _box_around(points, width, height)
    x1, y1 = max(0, int(box.x1)), max(0, int(box.y1))
    x2, y2 = min(width, int(round(box.x2))), min(height, int(round(box.y2)))
    pad_x, pad_y = (x2 - x1) // 2 + 8, (y2 - y1) // 2 + 8
    left, top = max(0, x1 - pad_x), max(0, y1 - pad_y)
    right, bottom = min(width, x2 + pad_x), min(height, y2 + pad_y)
    window = np.ascontiguousarray(image[top:bottom, left:right, ::-1])
    cv2.setRNGSeed(0)  # GrabCut's k-means starts from OpenCV's global RNG; fix it so results repeat
    mask = np.zeros(window.shape[:2], np.uint8)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    rectangle = (x1 - left, y1 - top, max(1, x2 - x1), max(1, y2 - y1))
    _check_samples(window.shape[1] * window.shape[0], rectangle[2] * rectangle[3], (width, height))
    cv2.grabCut(window, mask, rectangle, background, foreground, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_RECT)
    if points:
        radius = max(2, min(width, height) // 100)
        for point in points:
            centre = (int(point.x) - left, int(point.y) - top)
            cv2.circle(mask, centre, radius, cv2.GC_FGD if point.positive else cv2.GC_BGD, -1)
        cv2.grabCut(window, mask, None, background, foreground, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    full = np.zeros((height, width), dtype=bool)
    full[top:bottom, left:right] = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return full


MIN_SAMPLES = 64
"""Pixels GrabCut needs inside the box and around it: each of its two colour models is a 5-component mixture
started by k-means, which fails (an OpenCV assertion, not a sentence) with fewer samples than components."""


class NoRoomAroundBox(ValueError):
    """The box leaves GrabCut too few pixels of background (or of object) to learn from; the message says what
    to draw instead."""


def _check_samples(window: int, inside: int, size: tuple[int, int]) -> None:
    if window - inside < MIN_SAMPLES:
        raise NoRoomAroundBox(f"the box covers (nearly) the whole {size[0]} x {size[1]} image, which leaves no "
                              "background to tell the object from; draw a tighter box around the object")
    if inside < MIN_SAMPLES:
        raise NoRoomAroundBox(f"the box holds fewer than {MIN_SAMPLES} pixels, too few to tell the object by; "
                              "draw a larger box around the object")


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


def track(frames: np.ndarray, start: int, box: Box, points: Sequence[Point] = ()) -> Iterator[tuple[int, np.ndarray]]:
    """A mask for every frame: the box carried by :func:`track_boxes`, segmented with GrabCut in each frame
    (the clicks only apply to the frame they were made on). When GrabCut keeps less than a tenth of the box, it
    tries once more on a wider window, which recovers frames where the object outgrew the tracked box."""
    height, width = frames.shape[1:3]
    for index, tracked in track_boxes(frames, start, box):
        clicks = points if index == start else ()
        for margin in (TRACK_MARGIN, RETRY_MARGIN):
            grown = _clip(Box.of((tracked.x1 - tracked.width * margin, tracked.y1 - tracked.height * margin,
                                  tracked.x2 + tracked.width * margin, tracked.y2 + tracked.height * margin)),
                          width, height)
            try:
                mask = grabcut(frames[index], grown, clicks)
            except NoRoomAroundBox:  # the grown box filled the frame; the tracked box itself may leave room
                mask = grabcut(frames[index], tracked, clicks)
            if mask.sum() >= 0.1 * tracked.width * tracked.height:
                break
        yield index, mask


def _mil_tracker(frame: np.ndarray, box: Box):  # noqa: ANN202 (an OpenCV object)
    import cv2

    cv2.setRNGSeed(0)  # MIL samples around the box with OpenCV's RNG ...
    _seed_c_rand()  # ... and draws its features with C's rand(), which setRNGSeed does not reach
    tracker = cv2.TrackerMIL_create()
    x1, y1 = int(box.x1), int(box.y1)
    tracker.init(np.ascontiguousarray(frame[..., ::-1]), (x1, y1, max(1, int(box.x2) - x1), max(1, int(box.y2) - y1)))
    return tracker


def _seed_c_rand() -> None:
    """Seed the C library's ``rand()``: OpenCV's MIL tracker draws its Haar features from it, so without this the
    same clip tracked twice in one process gave different boxes (measured: 1 run in 8 lost the motorbike)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        libc.srand(0)
    except (OSError, AttributeError):  # no C library to reach (an unusual platform): runs stay unseeded
        pass


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
