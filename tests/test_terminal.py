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


@pytest.mark.parametrize(
    ("request_text", "attach"),
    [
        ("hello", True),                                  # the help answer, naming chat:<provider>:<model>
        ("what is in this picture?", True),               # questions
        ("segment", True),                                # no target
        ("segment the dog", False),                       # nothing attached
        ("segment the dog [5, 5, 1, 1]", True),           # a box that cannot be used: brackets in the answer
        ("cut out [bold]the[/bold] dog, then what is it?", True),  # a step it cannot map, quoting the person
    ],
)
def test_each_canned_answer_is_printed_as_the_planner_wrote_it(workspace, request_text: str, attach: bool) -> None:
    """The rule planner's own words reach the screen unchanged: no console markup eats ``<provider>``, ``[5, 5,
    1, 1]`` or a person's ``[bold]``."""
    from langchain_core.messages import HumanMessage
    from rich.console import Console

    from vitron_agent import RulePlanner
    from vitron_agent.calls import Attachment
    from vitron_agent.session import Session

    from conftest import PHOTO

    planner = RulePlanner()
    session = Session(workspace, planner)
    attachments = [session.store.import_file(PHOTO, grant=True)] if attach else []
    written = planner.plan([HumanMessage(request_text)], [Attachment.from_artifact(a) for a in attachments], None)
    assert "<module>" not in written  # a canned answer, not a call
    console = Console(record=True, width=1000, color_system=None)
    terminal = Terminal(session, console, attachments=attachments)
    terminal.request(request_text)
    assert console.export_text().strip() == written
    if request_text == "hello":
        assert "--planner chat:<provider>:<model>" in written
