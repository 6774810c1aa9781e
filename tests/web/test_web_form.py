"""The decision's arguments as a form from the tool's JSON schema, and what is drawn on the picture."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vitron_agent.calls import Point
from vitron_agent.tools import load_tools
from vitron_agent.web.form import changes, form_fields, shown_value
from vitron_agent.web.pointing import dots, drawing, region_text

TOOLS = load_tools()


def test_each_argument_gets_the_input_that_suits_it() -> None:
    kinds = {field.name: field.kind for field in form_fields(TOOLS["generate_image"].Args)}
    assert kinds["prompt"] == "text" and kinds["width"] == "integer" and kinds["guidance_scale"] == "number"
    assert kinds["boxes"] == "json" and kinds["candidates"] == "integer"
    edit = {field.name: field for field in form_fields(TOOLS["edit_image"].Args)}
    assert edit["prompts"].kind == "lines" and edit["region"].kind == "box" and edit["mask"].optional
    assert "from 1" in {f.name: f for f in form_fields(TOOLS["generate_image"].Args)}["steps"].help


def test_values_round_trip_through_the_inputs() -> None:
    fields = {field.name: field for field in form_fields(TOOLS["edit_image"].Args)}
    assert shown_value(fields["region"], {"x1": 1.0, "y1": 2.5, "x2": 30.0, "y2": 40.0}) == "1, 2.5, 30, 40"
    assert shown_value(fields["prompts"], ["a", "b"]) == "a\nb"
    args = TOOLS["edit_image"].Args
    current = {"image": "abc", "prompts": ["make it red"], "region": {"x1": 1.0, "y1": 2.0, "x2": 30.0, "y2": 40.0}}
    order = [field.name for field in form_fields(args)]
    typed = [shown_value({f.name: f for f in form_fields(args)}[name], current.get(name)) for name in order]
    assert changes(args, form_fields(args), current, typed) == ({}, {})
    typed[order.index("prompts")] = "make it blue\nthen pink"
    typed[order.index("steps")] = 12.0
    edits, errors = changes(args, form_fields(args), current, typed)
    assert edits == {"prompts": ["make it blue", "then pink"], "steps": 12} and errors == {}


@pytest.mark.parametrize("name, raw, expected", [
    ("region", "1, 2", "four numbers"),
    ("steps", 0, "greater than or equal to 1"),
    ("prompts", "", "at least 1 item"),
])
def test_a_bad_value_is_said_beside_its_field(name: str, raw: object, expected: str) -> None:
    args = TOOLS["edit_image"].Args
    fields = form_fields(args)
    current = {"image": "abc", "prompts": ["make it red"], "region": {"x1": 1.0, "y1": 2.0, "x2": 30.0, "y2": 40.0}}
    typed = [raw if field.name == name else shown_value(field, current.get(field.name)) for field in fields]
    _, errors = changes(args, fields, current, typed)
    assert list(errors) == [name] and expected in errors[name]


def test_a_drag_is_a_box_and_a_painted_layer_a_mask() -> None:
    layer = np.zeros((48, 64, 4), dtype=np.uint8)
    layer[10:20, 5:30, 3] = 255
    box, mask = drawing({"background": None, "layers": [layer], "composite": None})
    assert box is not None and box.as_tuple() == (5, 10, 30, 20) and mask.sum() == 250
    assert drawing({"background": None, "layers": [np.zeros((48, 64, 4), np.uint8)]}) == (None, None)
    assert drawing(None) == (None, None)
    assert region_text(box, [Point(x=1, y=2), Point(x=3, y=4, positive=False)], True) == (
        "With the next request: sketch, within 5, 10, 30, 20; 1 click(s) on the object, 1 off it")


def test_clicks_are_drawn_back_in_their_colours() -> None:
    marked = np.asarray(dots(Image.new("RGB", (90, 90)), [Point(x=20, y=20), Point(x=70, y=70, positive=False)]))
    assert marked[20, 20, 1] > 150 and marked[70, 70, 0] > 150 and marked[45, 45].sum() == 0
