"""The compiled graph used directly, as LangGraph users will: interrupts, resume, streaming, subgraphs."""

from __future__ import annotations

import json
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command

from vitron_agent import ArtifactStore, ScriptedPlanner, build_agent
from vitron_agent.calls import Attachment
from vitron_agent.decisions import Decision
from vitron_agent.graphs.agent import POLICY_KEY

from conftest import GRAY, GRAY_REGION, PHOTO, ROOT
from support_tools import Grayscale


@pytest.fixture
def photo(workspace: Path) -> dict[str, Any]:
    with ArtifactStore(workspace, import_roots=[ROOT]) as store:
        return Attachment.from_artifact(store.import_file(PHOTO)).model_dump()


def start(photo: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [HumanMessage("make it black and white")], "attachments": [photo]}


def test_interrupt_carries_a_json_decision_and_resume_runs_it(workspace: Path, photo: dict[str, Any]) -> None:
    agent = build_agent(ScriptedPlanner([GRAY_REGION]), tools=[Grayscale], workspace=workspace,
                        checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    first = agent.invoke(start(photo), config)
    [waiting] = first["__interrupt__"]
    value = json.loads(json.dumps(waiting.value))  # plain data, as a LangGraph server sends it
    assert set(value) == {"action_requests", "review_configs", "decision"}
    decision = Decision.from_interrupt(value)
    assert decision.tool == "grayscale" and decision.current.module_name == "image editing"
    assert decision.current.preview is not None and decision.summary.startswith("grayscale: prompts")
    assert value["action_requests"] == [{"name": "grayscale", "args": decision.args, "description": decision.summary}]
    assert agent.get_state(config).next == ("review",)

    events = list(agent.stream(Command(resume={"action": "approve"}), config, stream_mode=["custom", "updates"]))
    progress = [chunk["progress"]["done"] for mode, chunk in events if mode == "custom"]
    nodes = [next(iter(chunk)) for mode, chunk in events if mode == "updates"]
    assert progress == [1, 2, 3, 4] and nodes == ["review", "execute"]  # execute ends the turn itself
    final = agent.get_state(config).values
    assert len(final["artifacts"]) == 1 and final["messages"][-1].content == "Grayed the region."


def test_default_checkpointer_is_sqlite_in_the_workspace(workspace: Path, photo: dict[str, Any]) -> None:
    agent = build_agent(ScriptedPlanner([GRAY]), tools=[Grayscale], workspace=workspace)
    agent.invoke(start(photo), {"configurable": {"thread_id": "t"}})
    assert (workspace / "checkpoints.sqlite").stat().st_size > 0
    again = build_agent(ScriptedPlanner([]), tools=[Grayscale], workspace=workspace)
    assert Decision.from_interrupt(again.get_state({"configurable": {"thread_id": "t"}}).interrupts[0].value).tool == \
        "grayscale"


def test_bad_policy_is_refused(workspace: Path) -> None:
    with pytest.raises(ValueError, match="policy="):
        build_agent(ScriptedPlanner([]), tools=[Grayscale], workspace=workspace, policy="sometimes")


class Parent(TypedDict, total=False):
    """A parent graph's own state; it shares only the keys the agent reads and writes."""

    messages: Annotated[list[AnyMessage], add_messages]
    attachments: list[dict[str, Any]]
    artifacts: Annotated[list[str], operator.add]
    audit: Annotated[list[str], operator.add]


def test_as_a_subgraph_interrupts_pass_through_the_parent(workspace: Path, photo: dict[str, Any]) -> None:
    agent = build_agent(ScriptedPlanner([GRAY]), tools=[Grayscale], workspace=workspace, checkpointer=True)
    graph = StateGraph(Parent)
    graph.add_node("before", lambda state: {"audit": ["before"]})
    graph.add_node("vision", agent)
    graph.add_node("after", lambda state: {"audit": [f"after: {len(state['artifacts'])} artifact(s)"]})
    graph.add_edge(START, "before")
    graph.add_edge("before", "vision")
    graph.add_edge("vision", "after")
    graph.add_edge("after", END)
    parent = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "parent"}}

    first = parent.invoke(start(photo), config)
    assert first["__interrupt__"][0].value["action_requests"][0]["name"] == "grayscale"
    assert first["audit"] == ["before"]
    done = parent.invoke(Command(resume={"action": "approve"}), config)
    assert done["audit"] == ["before", "after: 1 artifact(s)"]
    assert done["messages"][-1].content == "Grayed the photo."


def test_a_parents_own_policy_setting_does_not_reach_the_review(workspace: Path, photo: dict[str, Any]) -> None:
    """A parent graph whose own nodes read ``configurable["policy"]`` (here: its auditing policy) runs the agent as
    a subgraph; the agent's review stays the owner's "ask"."""
    agent = build_agent(ScriptedPlanner([GRAY]), tools=[Grayscale], workspace=workspace, checkpointer=True)
    graph = StateGraph(Parent)
    graph.add_node("before", lambda state, config: {"audit": [f"audit policy {config['configurable']['policy']}"]})
    graph.add_node("vision", agent)
    graph.add_edge(START, "before")
    graph.add_edge("before", "vision")
    graph.add_edge("vision", END)
    parent = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "parent", "policy": "auto"}}

    first = parent.invoke(start(photo), config)
    assert first["audit"] == ["audit policy auto"] and not first.get("artifacts")
    assert first["__interrupt__"][0].value["action_requests"][0]["name"] == "grayscale"


def test_the_owner_sets_the_policy_and_a_decision_may_be_cancelled(workspace: Path, photo: dict[str, Any]) -> None:
    """The graph's owner chose "ask": a run may not switch review off, not even under our own key, and a
    parent's own "policy" key means nothing here; a stricter run policy is kept."""
    agent = build_agent(ScriptedPlanner([GRAY, GRAY, GRAY]), tools=[Grayscale], workspace=workspace,
                        checkpointer=InMemorySaver())
    for key in ("policy", POLICY_KEY):
        looser = agent.invoke(start(photo), {"configurable": {"thread_id": f"auto-{key}", key: "auto"}})
        assert looser["__interrupt__"] and not looser.get("artifacts")
    opted_in = build_agent(ScriptedPlanner([GRAY]), tools=[Grayscale], workspace=workspace,
                           checkpointer=InMemorySaver(), policy="auto")
    stricter = opted_in.invoke(start(photo), {"configurable": {"thread_id": "strict", POLICY_KEY: "ask"}})
    assert stricter["__interrupt__"]  # auto by the owner, ask for this run: stricter is always allowed
    loosened = build_agent(ScriptedPlanner([GRAY]), tools=[Grayscale], workspace=workspace,
                           checkpointer=InMemorySaver(), runs_may_loosen_policy=True)
    auto = loosened.invoke(start(photo), {"configurable": {"thread_id": "auto", POLICY_KEY: "auto"}})
    assert "__interrupt__" not in auto and len(auto["artifacts"]) == 1

    config = {"configurable": {"thread_id": "ask"}}
    assert agent.invoke(start(photo), config)["__interrupt__"]
    cancelled = agent.invoke(Command(resume={"action": "cancel"}), config)
    assert cancelled["messages"][-1].content == "Cancelled grayscale; nothing ran."
    assert cancelled["decisions"][-1]["action"] == "cancel" and not cancelled.get("artifacts")
