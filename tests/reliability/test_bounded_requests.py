"""A request over the workspace's length limit (default 32 KiB) is refused before it reaches the planner or a
checkpoint. Before: five 1 MiB requests left 256 MiB of checkpoints (each checkpoint keeps the conversation)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from vitron_agent import RulePlanner, Session, build_agent
from vitron_agent.session import SessionError

from conftest import configure

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


def test_the_graph_itself_answers_without_asking_the_planner_and_drops_the_request(workspace: Path) -> None:
    """For callers that reach the graph directly (a parent graph, a LangGraph server)."""
    configure(workspace, "[limits]\nrequest_bytes = 1024\n")
    Counting.asked = 0
    agent = build_agent(Counting(), workspace=workspace)
    config = {"configurable": {"thread_id": "t"}}
    for _ in range(5):
        done = agent.invoke({"messages": [HumanMessage(HUGE)]}, config)
        assert done["messages"][-1].content.startswith("That request is 1,024 KiB, over the 1 KiB limit")
    assert Counting.asked == 0
    assert all(len(str(message.content)) < 1024 for message in done["messages"])  # the big ones are gone
