"""The terminal's own reading of what a person types (the loop itself is driven for real in test_cli.py)."""

from __future__ import annotations

import pytest

from vitron_agent.terminal import COMMANDS, Terminal, parse_edit


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("target=the red car", {"target": "the red car"}),
        ("region=10,20,200,180", {"region": [10.0, 20.0, 200.0, 180.0]}),
        ("region=[10, 20, 200, 180]", {"region": [10, 20, 200, 180]}),
        ("steps=25", {"steps": 25}),
        ("seed=null", {"seed": None}),
        ('prompts=["a cat", "a hat"]', {"prompts": ["a cat", "a hat"]}),
        ('target="42"', {"target": "42"}),
        (" frame = 3 ", {"frame": 3}),
    ],
)
def test_edits_are_read_as_json_numbers_or_text(typed: str, expected: dict) -> None:
    assert parse_edit(typed) == expected


@pytest.mark.parametrize("typed", ["", "target", "=3"])
def test_an_edit_without_a_name_is_refused_with_the_form(typed: str) -> None:
    with pytest.raises(ValueError, match="name=value"):
        parse_edit(typed)


def test_every_listed_command_has_a_handler() -> None:
    for usage in COMMANDS:
        name = usage.split()[0][1:]
        assert callable(getattr(Terminal, f"_cmd_{name}", None)), usage
