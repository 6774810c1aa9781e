"""The review speaks LangChain's human-in-the-loop protocol both ways: its interrupt has the shape of
``HumanInTheLoopMiddleware``'s (compared with a real ``create_agent`` run in the same test), and it resumes with
the payloads that middleware consumes; our own answers keep working beside them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain.agents.middleware.human_in_the_loop import HITLRequest, HITLResponse
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import TypeAdapter

from vitron_agent.decisions import Decision
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session

from conftest import PHOTO
from support_tools import RUNS_FILE, Crop, Grayscale, ToolCallingFake

REQUEST, RESPONSE = TypeAdapter(HITLRequest), TypeAdapter(HITLResponse)
GRAY = "<module>C</module> <instruction>editing: make it gray</instruction>"
TWO = [{"name": "grayscale", "args": {"prompts": ["gray"]}}, {"name": "crop", "args": {"image": "@1",
                                                                                       "box": [0, 0, 64, 48]}}]


@tool
def grayscale(prompts: list[str]) -> str:
    """Make the photo gray."""
    return "grayed"


def langchains_own_interrupt() -> dict[str, Any]:
    """What HumanInTheLoopMiddleware interrupts with, from a real create_agent run."""
    model = ToolCallingFake(messages=iter([
        AIMessage("", tool_calls=[{"name": "grayscale", "args": {"prompts": ["gray"]}, "id": "1"}]),
        AIMessage("done"),
    ]))
    agent = create_agent(model, [grayscale], checkpointer=InMemorySaver(),
                         middleware=[HumanInTheLoopMiddleware(interrupt_on={"grayscale": True})])
    config = {"configurable": {"thread_id": "lc"}}
    value = agent.invoke({"messages": [HumanMessage("make it gray")]}, config)["__interrupt__"][0].value
    answer = RESPONSE.validate_python({"decisions": [{"type": "approve"}]})
    assert agent.invoke(Command(resume=answer), config)["messages"][-1].content == "done"
    return value


def runs(workspace: Path) -> int:
    path = workspace / RUNS_FILE
    return len(path.read_text().splitlines()) if path.exists() else 0


def ours(workspace: Path, outputs: list) -> Session:
    return Session(workspace, ScriptedPlanner(outputs), tools=[Grayscale, Crop])


def test_the_interrupt_has_langchains_shape_and_approve_runs(workspace: Path) -> None:
    theirs = langchains_own_interrupt()
    s = ours(workspace, [GRAY])
    s.send("make it gray", attachments=[PHOTO])
    value = s.agent.get_state(s.config).interrupts[0].value
    assert REQUEST.validate_python(value) and set(value) == set(theirs) | {"decision"}
    for key in ("action_requests", "review_configs"):
        assert [set(item) for item in value[key]] == [set(item) for item in theirs[key]]
    [action] = value["action_requests"]
    assert action["name"] == "grayscale" and action["args"]["prompts"] == ["make it gray"]
    assert action["description"] == Decision.from_interrupt(value).summary
    assert value["review_configs"] == [{"action_name": "grayscale", "allowed_decisions": ["approve", "edit", "reject"]}]
    done = s.agent.invoke(Command(resume=RESPONSE.validate_python({"decisions": [{"type": "approve"}]})), s.config)
    assert runs(workspace) == 1 and done["messages"][-1].content == "Grayed the photo."
    assert s.history()[-1].action == "approve" and s.history()[-1].outcome == "ok"


def test_edit_validates_and_shows_again_and_reject_goes_back_to_the_planner(workspace: Path) -> None:
    s = ours(workspace, [GRAY, "<module>C</module> <instruction>editing: sepia</instruction>"])
    waiting = s.send("make it gray", attachments=[PHOTO]).pending
    edited_args = {**waiting.args, "prompts": ["charcoal"], "region": [0, 0, 100, 50]}
    s.agent.invoke(Command(resume={"decisions": [{"type": "edit", "edited_action": {
        "name": "grayscale", "args": edited_args}}]}), s.config)
    shown = s.pending
    assert shown.args["prompts"] == ["charcoal"] and set(shown.current.changed) == {"prompts", "region"}
    assert runs(workspace) == 0 and shown.error is None
    s.agent.invoke(Command(resume={"decisions": [{"type": "reject", "message": "sepia, not gray"}]}), s.config)
    again = s.pending
    assert again.args["prompts"] == ["sepia"] and runs(workspace) == 0
    assert s.history()[-1].action == "reject" and s.history()[-1].feedback == "sepia, not gray"


@pytest.mark.parametrize(("answer", "says"), [
    ({"decisions": []}, "the answer has 0 decisions for 2 action(s)"),
    ({"decisions": [{"type": "approve"}, {"type": "respond", "message": "x"}]}, "unknown decision type 'respond'"),
    ({"decisions": [{"type": "edit", "edited_action": {"name": "crop", "args": {}}}, {"type": "approve"}]},
     "must keep its tool grayscale, not 'crop'"),
    ({"decisions": [{"type": "edit", "edited_action": {"name": "grayscale", "args": {"prompts": []}}},
                    {"type": "approve"}]}, "prompts"),
    ({"action": "dance"}, "cannot be read"),
])
def test_bad_answers_are_said_in_the_shown_decision_and_nothing_runs(workspace: Path, answer: dict,
                                                                     says: str) -> None:
    s = ours(workspace, [TWO])
    s.send("gray, then crop", attachments=[PHOTO])
    s.agent.invoke(Command(resume=answer), s.config)
    shown = s.pending
    assert shown is not None and says in (shown.error or ""), shown.error
    assert runs(workspace) == 0 and s.history() == []


def test_a_batch_covers_the_whole_plan_and_our_answers_still_work(workspace: Path) -> None:
    s = ours(workspace, [TWO, TWO])
    waiting = s.send("gray, then crop", attachments=[PHOTO]).pending
    assert waiting.asking == [1, 2]
    s.agent.invoke(Command(resume={"decisions": [{"type": "approve"}, {"type": "approve"}]}), s.config)
    assert [step.status for step in s.plan.steps] == ["done", "done"] and runs(workspace) == 1
    s.send("again")
    assert s.approve().pending is None  # our own answer, as before
    assert [e.outcome for e in s.history()] == ["ok"] * 4


def test_two_calls_of_one_tool_get_a_review_config_each_as_in_langchains_middleware(workspace: Path) -> None:
    model = ToolCallingFake(messages=iter([
        AIMessage("", tool_calls=[{"name": "grayscale", "args": {"prompts": ["gray"]}, "id": "1"},
                                  {"name": "grayscale", "args": {"prompts": ["grayer"]}, "id": "2"}]),
        AIMessage("done"),
    ]))
    agent = create_agent(model, [grayscale], checkpointer=InMemorySaver(),
                         middleware=[HumanInTheLoopMiddleware(interrupt_on={"grayscale": True})])
    theirs = agent.invoke({"messages": [HumanMessage("gray it twice")]},
                          {"configurable": {"thread_id": "lc2"}})["__interrupt__"][0].value
    twice = [{"name": "grayscale", "args": {"prompts": ["gray"]}},
             {"name": "grayscale", "args": {"image": "@1", "prompts": ["grayer"]}}]
    s = ours(workspace, [twice])
    s.send("gray it twice", attachments=[PHOTO])
    value = s.agent.get_state(s.config).interrupts[0].value
    assert REQUEST.validate_python(value)
    assert len(value["review_configs"]) == len(value["action_requests"]) == len(theirs["review_configs"]) == 2
    assert [c["action_name"] for c in value["review_configs"]] == [c["action_name"] for c in theirs["review_configs"]]
