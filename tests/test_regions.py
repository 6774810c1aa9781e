"""Pixel boxes: validation, clipping with a note, and the round trip through Vitron's 224 x 224 frame."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from vitron_agent.regions import MODEL_FRAME, Box, RegionError, parse_box, region_to_pixels

from conftest import TENNIS_PLAYER


@pytest.fixture(scope="module")
def player() -> tuple[Box, tuple[int, int]]:
    path, box = TENNIS_PLAYER
    with Image.open(path) as image:
        return Box.of(box), image.size


@pytest.mark.parametrize(
    "values",
    [(10, 10, 10, 20), (10, 10, 5, 20), (0, 30, 10, 20), (0, 0, math.inf, 5), (math.nan, 0, 1, 1)],
)
def test_invalid_boxes_are_refused(values: tuple[float, ...]) -> None:
    with pytest.raises(RegionError, match="box"):
        Box.of(values)


def test_wrong_number_of_values() -> None:
    with pytest.raises(RegionError, match="4 numbers"):
        Box.of((1, 2, 3))


def test_box_inside_the_image_is_untouched(player: tuple[Box, tuple[int, int]]) -> None:
    box, size = player
    assert box.clipped(size) == (box, None)


def test_partly_outside_is_clipped_with_a_note(player: tuple[Box, tuple[int, int]]) -> None:
    _, (width, height) = player
    clipped, note = Box.of((-20, 100, width + 50, height + 5)).clipped((width, height))
    assert clipped.as_tuple() == (0, 100, width, height)
    assert note is not None and "clipped" in note and f"{width} x {height}" in note


@pytest.mark.parametrize("values", [(700, 10, 800, 20), (-50, -50, 0, 0), (10, 700, 20, 800)])
def test_wholly_outside_is_refused(values: tuple[float, ...], player: tuple[Box, tuple[int, int]]) -> None:
    with pytest.raises(RegionError, match="wholly outside"):
        Box.of(values).clipped(player[1])


def test_model_frame_round_trip_on_a_real_photo(player: tuple[Box, tuple[int, int]]) -> None:
    box, size = player
    framed = box.to_model_frame(size)
    assert 0 <= framed.x1 < framed.x2 <= MODEL_FRAME and 0 <= framed.y1 < framed.y2 <= MODEL_FRAME
    # Vitron's preprocess_region scales x by 224 / width and y by 224 / height.
    assert framed.x1 == pytest.approx(box.x1 * MODEL_FRAME / size[0])
    assert framed.y2 == pytest.approx(box.y2 * MODEL_FRAME / size[1])
    back = Box.from_model_frame(framed.as_tuple(), size)
    assert back.as_tuple() == pytest.approx(box.as_tuple())


def test_whole_frame_maps_to_whole_image() -> None:
    assert Box.from_model_frame((0, 0, 224, 224), (640, 480)).as_tuple() == (0, 0, 640, 480)


def test_region_to_pixels_tells_fractions_from_frame_numbers() -> None:
    assert region_to_pixels((0.25, 0.5, 0.75, 1.0), (640, 480)).as_tuple() == (160, 240, 480, 480)
    assert region_to_pixels((56, 112, 168, 224), (640, 480)).as_tuple() == (160, 240, 480, 480)
    # all integers 0/1 are frame pixels, not the whole image
    assert region_to_pixels((0, 0, 1, 1), (224, 224)).as_tuple() == (0, 0, 1, 1)


def test_parse_box() -> None:
    assert parse_box("70,60,310,615").as_tuple() == (70, 60, 310, 615)
    assert parse_box(" 70 60 310 615 ").as_tuple() == (70, 60, 310, 615)
    with pytest.raises(RegionError, match="x1,y1,x2,y2"):
        parse_box("left,top,right,bottom")
    with pytest.raises(RegionError, match="empty or inverted"):
        parse_box("310,60,70,615")
