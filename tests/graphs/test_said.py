"""What people read is for people: the planner's words without Vitron markup (the raw output in the message's
metadata), each answer once, and the retry prompts only for the planner."""

from __future__ import annotations

from pathlib import Path

from conftest import PHOTO, ROOT
from support_tools import Grayscale
from vitron_agent.graphs.said import RAW
from vitron_agent.planners.scripted import ScriptedPlanner
from vitron_agent.session import Session

MARKED = "Graying the photo. <module>C</module> <instruction>editing: gray</instruction>"


def _conversation(session: Session) -> list[tuple[str, str]]:
    return [(m.type, str(m.content)) for m in session.agent.get_state(session.config).values["messages"]]


def test_the_conversation_holds_the_planners_words_and_its_metadata_the_markup(workspace: Path) -> None:
    s = Session(workspace, ScriptedPlanner([MARKED]), tools=[Grayscale], import_roots=[ROOT])
    assert s.send("make it gray", attachments=[PHOTO]).pending is not None
    [said] = [m for m in s.agent.get_state(s.config).values["messages"] if m.type == "ai"]
    assert said.content == "Graying the photo." and said.additional_kwargs[RAW] == MARKED


def test_a_plain_answer_is_said_once(workspace: Path) -> None:
    s = Session(workspace, ScriptedPlanner(["Hello! I segment, generate and edit pictures."]), tools=[Grayscale])
    s.send("hello")
    assert _conversation(s) == [("human", "hello"), ("ai", "Hello! I segment, generate and edit pictures.")]


def test_retry_prompts_reach_the_planner_and_no_person(workspace: Path) -> None:
    bad = "<module>C</module><instruction>editing: gray</instruction><region>[300, 5, 200, 9]</region>"
    planner = ScriptedPlanner([bad, MARKED])
    s = Session(workspace, planner, tools=[Grayscale], import_roots=[ROOT])
    assert s.send("make it gray", attachments=[PHOTO]).pending is not None
    assert "Your last output could not be used" in planner.seen[1].messages[-1].content
    assert planner.seen[1].messages[-2].content == bad  # its own output, as it wrote it
    said = _conversation(s)
    assert said == [("human", "make it gray"), ("ai", "Graying the photo.")], said
    assert not s.agent.get_state(s.config).values.get("retry")
