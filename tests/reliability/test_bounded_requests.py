"""A request over the workspace's length limit (default 32 KiB) is refused before it reaches the planner or a
checkpoint. Before: five 1 MiB requests left 256 MiB of checkpoints (each checkpoint keeps the conversation)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.types import Command

from vitron_agent import RulePlanner, ScriptedPlanner, Session, build_agent
from vitron_agent.calls import Attachment
from vitron_agent.decisions import Decision
from vitron_agent.session import SessionError

from conftest import GRAY, PHOTO, ROOT, configure
from support_tools import Grayscale

HUGE = "segment the motorcycle " + "x" * 2**20


class Counting(RulePlanner):
    asked = 0

    def plan(self, messages, attachments, region):  # noqa: ANN001, ANN201
        Counting.asked += 1
        return super().plan(messages, attachments, region)


def test_a_session_refuses_it_in_one_sentence_and_writes_nothing(workspace: Path) -> None:
    session = Session(workspace, Counting())
    for _ in range(5):
        with pytest.raises(SessionError, match=r"that request is 1,024 KiB, over the 32 KiB limit"):
            session.send(HUGE)
    assert Counting.asked == 0 and not session.exists()
    size = sum(path.stat().st_size for path in workspace.glob("checkpoints.sqlite*"))
    assert size < 256 * 1024  # five refused requests: no checkpoint of any of them
    assert session.send("hello").text  # and the session goes on


def test_the_graph_itself_answers_without_asking_the_planner_and_keeps_the_request_cut(workspace: Path) -> None:
    """For callers that reach the graph directly (a parent graph, a LangGraph server): the person's message stays
    in the conversation, cut to the limit."""
    configure(workspace, "[limits]\nrequest_bytes = 1024\n")
    Counting.asked = 0
    agent = build_agent(Counting(), workspace=workspace)
    config = {"configurable": {"thread_id": "t"}}
    for _ in range(5):
        done = agent.invoke({"messages": [HumanMessage(HUGE)]}, config)
        assert done["messages"][-1].content.startswith("That request is 1,024 KiB, over the 1 KiB limit")
    assert Counting.asked == 0
    assert all(len(str(message.content)) <= 1024 for message in done["messages"])  # the big ones are cut
    assert [m.content.endswith(" [...]") for m in done["messages"] if m.type == "human"] == [True] * 5


class CountingScript(ScriptedPlanner):
    asked = 0

    def plan(self, messages, attachments, region):  # noqa: ANN001, ANN201
        CountingScript.asked += 1
        return super().plan(messages, attachments, region)


def checkpoint_bytes(workspace: Path) -> int:
    return sum(path.stat().st_size for path in workspace.glob("checkpoints.sqlite*"))


def test_a_correction_or_an_edit_is_bounded_like_a_request(workspace: Path) -> None:
    """Before: six 1 MiB corrections on the page added 146 MiB of checkpoints, and each reached the planner."""
    CountingScript.asked = 0
    session = Session(workspace, CountingScript([GRAY] * 8), tools=[Grayscale], import_roots=[ROOT])
    session.send("make it gray", attachments=[PHOTO])
    before = checkpoint_bytes(workspace)
    for _ in range(6):
        with pytest.raises(SessionError, match=r"that answer is 1\.0 MiB, over the 32 KiB this workspace takes"):
            session.reject("x" * 2**20)
    with pytest.raises(SessionError, match=r"that answer is 1\.0 MiB"):
        session.edit(prompts=["y" * 2**20])
    assert CountingScript.asked == 1 and checkpoint_bytes(workspace) - before < 64 * 1024
    assert session.pending is not None and session.reject("not that").pending is not None  # and it goes on
    assert CountingScript.asked == 2


def test_the_graph_itself_refuses_a_huge_correction_without_asking_the_planner(workspace: Path) -> None:
    configure(workspace, "[limits]\nrequest_bytes = 1024\n")
    CountingScript.asked = 0
    agent = build_agent(CountingScript([GRAY] * 3), tools=[Grayscale], workspace=workspace)
    config = {"configurable": {"thread_id": "t"}}
    photo = Session(workspace, ScriptedPlanner([]), tools=[Grayscale]).store.import_file(PHOTO, grant=True)
    agent.invoke({"messages": [HumanMessage("gray")], "attachments": [Attachment.from_artifact(photo).model_dump()]},
                 config)
    agent.invoke(Command(resume={"action": "reject", "feedback": "x" * 4096}), config)
    decision = Decision.from_interrupt(agent.get_state(config).interrupts[0].value)
    assert decision.error.startswith("that answer is 4 KiB, over the 1 KiB this workspace takes from a person")
    assert CountingScript.asked == 1
