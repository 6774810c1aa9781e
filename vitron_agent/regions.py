"""Pixel boxes, and the mapping between an image's pixels and Vitron's 224 x 224 model frame.

Vitron scales each user box into a 224 x 224 frame (x by 224 / width, y by 224 / height, no padding) before the
model sees it, and the regions it emits live in that frame too. Tools work in pixels. :class:`Box` is the one
pixel box type: it refuses empty, inverted or non-finite boxes, and :meth:`Box.clipped` fits a box to an image,
returning a note a person can read, or refusing a box that misses the image entirely.

Usage::

    box = Box(x1=70, y1=60, x2=310, y2=615)
    box.to_model_frame((640, 640))            # Box(x1=24.5, y1=21.0, x2=108.5, y2=215.25)
    Box.from_model_frame((24.5, 21, 108.5, 215.25), (640, 640)) == box
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

__all__ = ["MODEL_FRAME", "Box", "RegionError", "parse_box", "region_to_pixels"]

MODEL_FRAME = 224
"""Side of Vitron's model frame, in which it reads and writes regions."""

Size = tuple[int, int]
"""(width, height) in pixels, as PIL reports it."""


class RegionError(ValueError):
    """A region that cannot be used: malformed, inverted, or outside the image."""


class Box(BaseModel):
    """An axis-aligned box in pixels: ``x1 < x2`` and ``y1 < y2``, all finite."""

    model_config = ConfigDict(frozen=True)

    x1: float
    y1: float
    x2: float
    y2: float

    @model_validator(mode="before")
    @classmethod
    def _from_four_numbers(cls, value: object) -> object:
        """Also accept ``[x1, y1, x2, y2]``, the way people and chat models usually write a box."""
        if isinstance(value, (list, tuple)) and len(value) == 4:
            return dict(zip(("x1", "y1", "x2", "y2"), value))
        return value

    @model_validator(mode="after")
    def _check(self) -> Box:
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"box {_show(values)} has a coordinate that is not a finite number")
        if not (self.x1 < self.x2 and self.y1 < self.y2):
            raise ValueError(f"box {_show(values)} is empty or inverted; it needs x1 < x2 and y1 < y2")
        return self

    @classmethod
    def of(cls, values: Sequence[float]) -> Box:
        """Build a box from four numbers, raising :class:`RegionError` with a readable message."""
        if len(values) != 4:
            raise RegionError(f"a box needs 4 numbers (x1, y1, x2, y2), got {len(values)}")
        try:
            return cls(x1=values[0], y1=values[1], x2=values[2], y2=values[3])
        except ValidationError as error:
            raise RegionError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def clipped(self, size: Size) -> tuple[Box, str | None]:
        """Fit the box inside an image of ``size`` (width, height).

        Returns:
            The clipped box and a note saying what changed, or None when nothing did.

        Raises:
            RegionError: when the box lies wholly outside the image.
        """
        width, height = size
        clipped = (max(self.x1, 0.0), max(self.y1, 0.0), min(self.x2, float(width)), min(self.y2, float(height)))
        if not (clipped[0] < clipped[2] and clipped[1] < clipped[3]):
            raise RegionError(
                f"box {_show(self.as_tuple())} lies wholly outside the {width} x {height} image; "
                f"give a box with 0 <= x < {width} and 0 <= y < {height}"
            )
        if clipped == self.as_tuple():
            return self, None
        box = Box.of(clipped)
        return box, f"box {_show(self.as_tuple())} was clipped to the {width} x {height} image: {_show(clipped)}"

    def to_model_frame(self, size: Size) -> Box:
        """Scale this pixel box into Vitron's 224 x 224 frame for an image of ``size`` (width, height)."""
        sx, sy = MODEL_FRAME / size[0], MODEL_FRAME / size[1]
        return Box(x1=self.x1 * sx, y1=self.y1 * sy, x2=self.x2 * sx, y2=self.y2 * sy)

    @classmethod
    def from_model_frame(cls, values: Sequence[float], size: Size) -> Box:
        """Scale a box in Vitron's 224 x 224 frame to pixels of an image of ``size`` (width, height)."""
        sx, sy = size[0] / MODEL_FRAME, size[1] / MODEL_FRAME
        x1, y1, x2, y2 = _four(values)
        return cls.of(_pixels((x1 * sx, y1 * sy, x2 * sx, y2 * sy)))

    @classmethod
    def from_normalized(cls, values: Sequence[float], size: Size) -> Box:
        """Scale a box given as fractions of the image (0..1) to pixels."""
        x1, y1, x2, y2 = _four(values)
        return cls.of(_pixels((x1 * size[0], y1 * size[1], x2 * size[0], y2 * size[1])))


def _pixels(values: Sequence[float]) -> tuple[float, ...]:
    """Scaled coordinates to a hundredth of a pixel: a box typed as 380 and carried through the 224 frame comes
    back as 380, not 379.99992857."""
    return tuple(round(value, 2) for value in values)


def region_to_pixels(values: Sequence[float], size: Size) -> Box:
    """Read a planner's region: fractions of the image when all four lie in [0, 1] and one is fractional,
    otherwise Vitron's 224 x 224 frame.

    Raises:
        RegionError: malformed or inverted.
    """
    numbers = _four(values)
    if all(0.0 <= v <= 1.0 for v in numbers) and any(not float(v).is_integer() for v in numbers):
        return Box.from_normalized(numbers, size)
    return Box.from_model_frame(numbers, size)


def parse_box(text: str) -> Box:
    """Read ``"x1,y1,x2,y2"`` (pixels) as typed by a person, for example after ``--region``.

    Raises:
        RegionError: when the text is not four numbers forming a valid box.
    """
    pieces = [p for p in text.replace(",", " ").split() if p]
    try:
        values = [float(p) for p in pieces]
    except ValueError:
        raise RegionError(f"region {text!r} is not four numbers; write it as x1,y1,x2,y2 in pixels") from None
    return Box.of(values)


def _four(values: Sequence[float]) -> tuple[float, float, float, float]:
    if len(values) != 4:
        raise RegionError(f"a box needs 4 numbers (x1, y1, x2, y2), got {len(values)}")
    return (float(values[0]), float(values[1]), float(values[2]), float(values[3]))


def _show(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
