"""Weight-free segmentation and tracking with OpenCV, so the tools do real work on a machine with no weights.

Segmentation is GrabCut from a box (and, when given, clicks marking the object or not); tracking carries the
box from frame to frame with OpenCV's MIL tracker, which needs no model files, and segments each frame the same
way. A text target alone is not enough here: there is nothing to ground words to a place without weights.

Measured on the sample photos (2 cores): 1.5-3 s per photo; MIL keeps an animal across a 24-frame clip. Larger
photos and frames are worked on scaled down to :data:`PIXEL_BUDGET`, and the masks and boxes scaled back.
GrabCut is seeded and repeats exactly; MIL does not (its track varies slightly from run to run even with
OpenCV's generator seeded), which is why tracking then retries GrabCut on a wider window when it comes up short.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from vitron_agent.calls import Point
from vitron_agent.regions import Box

__all__ = ["GRABCUT_ITERATIONS", "MIN_SAMPLES", "PIXEL_BUDGET", "RETRY_MARGIN", "TRACK_MARGIN", "NoRoomAroundBox",
           "grabcut", "track", "track_boxes"]

GRABCUT_ITERATIONS = 5
TRACK_MARGIN = 0.15
RETRY_MARGIN = 0.35
"""How much a tracked box grows (each side, as a share of its size) before GrabCut: MIL keeps the first box's
size, so an object that comes closer outgrows it; without the margin GrabCut lost the motorbike in 2 of the 43
sample frames, with it in none."""


def grabcut(image: np.ndarray, box: Box | None, points: Sequence[Point] = (),
            on_step: Callable[[int, int], None] | None = None) -> np.ndarray:
    """A boolean mask of the object inside ``box`` in an RGB ``(height, width, 3)`` uint8 image.

    Clicks refine it: positive points are forced to the object, negative ones to the background. With clicks and
    no box, the box is the clicks' bounding box grown by a fifth of the image. GrabCut runs on a window around
    the box (the box plus half its size on each side), which is all its colour models need and much faster
    than the whole frame; a window over :data:`PIXEL_BUDGET` is worked on scaled down, and the mask scaled back.
    ``on_step(done, total)`` is called after each GrabCut iteration, for progress and cancellation (it may
    raise to stop).
    """
    import cv2

    height, width = image.shape[:2]
    box = box or _box_around(points, width, height)
    x1, y1 = max(0, int(box.x1)), max(0, int(box.y1))
    x2, y2 = min(width, int(round(box.x2))), min(height, int(round(box.y2)))
    pad_x, pad_y = (x2 - x1) // 2 + 8, (y2 - y1) // 2 + 8
    left, top = max(0, x1 - pad_x), max(0, y1 - pad_y)
    right, bottom = min(width, x2 + pad_x), min(height, y2 + pad_y)
    window, scale = _within_budget(image[top:bottom, left:right])
    cv2.setRNGSeed(0)  # GrabCut's k-means starts from OpenCV's global RNG; fix it so results repeat
    mask = np.zeros(window.shape[:2], np.uint8)
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    rx, ry = int((x1 - left) * scale), int((y1 - top) * scale)
    rectangle = (rx, ry, max(1, min(window.shape[1] - rx, round((x2 - x1) * scale))),
                 max(1, min(window.shape[0] - ry, round((y2 - y1) * scale))))
    _check_samples(window.shape[1] * window.shape[0], rectangle[2] * rectangle[3], (width, height))
    total = GRABCUT_ITERATIONS * (2 if points else 1)
    _iterate(window, mask, rectangle, models, cv2.GC_INIT_WITH_RECT, on_step, 0, total)
    if points:
        radius = max(2, round(min(width, height) // 100 * scale))
        for point in points:
            centre = (int((point.x - left) * scale), int((point.y - top) * scale))
            cv2.circle(mask, centre, radius, cv2.GC_FGD if point.positive else cv2.GC_BGD, -1)
        _iterate(window, mask, None, models, cv2.GC_INIT_WITH_MASK, on_step, GRABCUT_ITERATIONS, total)
    found = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8) * 255
    if scale < 1:  # back to the window's own size, edges interpolated rather than blocky
        found = cv2.resize(found, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    full = np.zeros((height, width), dtype=bool)
    full[top:bottom, left:right] = found >= 128
    return full


PIXEL_BUDGET = 1024 * 1024
"""The most pixels GrabCut and the tracker work on (SAM2 segments at 1024 x 1024 too). GrabCut's time and memory
grow faster than its window (its graph has a node per pixel): on a 7000 x 7000 photo with a box around most of
it, GrabCut on the whole window took 1067 s and 9.7 GiB here; scaled to this budget, 10 s and 0.6 GiB for the
whole process."""


def _within_budget(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """An RGB view as a contiguous BGR copy for OpenCV, scaled down (area-averaged) to at most
    :data:`PIXEL_BUDGET` pixels; and the scale used (1 when it fits)."""
    import cv2

    height, width = pixels.shape[:2]
    scale = _budget_scale(height, width)
    if scale < 1:
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        pixels = cv2.resize(np.ascontiguousarray(pixels), size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(pixels[..., ::-1]), scale


def _budget_scale(height: int, width: int) -> float:
    """The factor that brings ``height`` x ``width`` within :data:`PIXEL_BUDGET` (1 when it already is)."""
    return min(1.0, (PIXEL_BUDGET / max(1, height * width)) ** 0.5)


def _iterate(window: np.ndarray, mask: np.ndarray, rectangle: tuple[int, int, int, int] | None,
             models: tuple[np.ndarray, np.ndarray], mode: int, on_step: Callable[[int, int], None] | None,
             done: int, total: int) -> None:
    """GrabCut's iterations one at a time (the first starts from ``mode``, the rest go on from the models and
    mask so far, which is what one call with all of them does), reporting after each."""
    import cv2

    for iteration in range(GRABCUT_ITERATIONS):
        cv2.grabCut(window, mask, rectangle, *models, 1, mode if iteration == 0 else cv2.GC_EVAL)
        if on_step is not None:
            on_step(done + iteration + 1, total)


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
    box it had is kept. Frames over :data:`PIXEL_BUDGET` are tracked scaled down, and the boxes scaled back.
    """
    yield start, box
    height, width = frames.shape[1:3]
    scale = _budget_scale(height, width)
    for order in (range(start + 1, len(frames)), range(start - 1, -1, -1)):
        tracker = _mil_tracker(_within_budget(frames[start])[0], Box.of(tuple(v * scale for v in box.as_tuple())))
        current = box
        for index in order:
            found, rectangle = tracker.update(_within_budget(frames[index])[0])
            if found:
                x, y, w, h = (value / scale for value in rectangle)
                current = _clip(Box.of((x, y, x + max(w, 1), y + max(h, 1))), width, height)
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
    """OpenCV's MIL tracker, started on ``frame`` (BGR) at ``box``."""
    import cv2

    cv2.setRNGSeed(0)  # MIL samples around the box with OpenCV's RNG ...
    _seed_c_rand()  # ... and draws its features with C's rand(), which setRNGSeed does not reach
    tracker = cv2.TrackerMIL_create()
    x1, y1 = int(box.x1), int(box.y1)
    tracker.init(frame, (x1, y1, max(1, int(box.x2) - x1), max(1, int(box.y2) - y1)))
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
