"""A run on LangGraph's server knows its user (``langgraph_auth_user_id``): it uses only artifacts made in that user's
threads (or imported, or shared), whether the picture is attached, named by the planner or edited in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from conftest import PHOTO, ROOT
from support_tools import Grayscale
from vitron_agent.calls import Attachment
from vitron_agent.graphs.agent import build_agent
from vitron_agent.planners.scripted import ScriptedPlanner
from vitron_agent.workspace import Workspace

GRAY = {"name": "grayscale", "args": {"prompts": ["gray"]}}
FOREIGN = "made in another person's thread"


def _run(workspace: Workspace, user: str | None, thread: str, calls: list[Any], attachments: list[str]) -> dict:
    agent = build_agent(ScriptedPlanner(calls), tools=[Grayscale], workspace=workspace, policy="auto",
                        checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": thread, **({"langgraph_auth_user_id": user} if user else {})}}
    media = [Attachment.from_artifact(workspace.store.get(ref)).model_dump() for ref in attachments]
    return agent.invoke({"messages": [HumanMessage("make it gray")], "attachments": media}, config)


def test_a_users_run_takes_no_artifact_of_another_users_thread(workspace: Path) -> None:
    opened = Workspace(workspace, import_roots=[ROOT])
    photo = opened.store.import_file(PHOTO).id  # an import: anyone's
    made = _run(opened, "ana", "t-ana", [GRAY], [photo])["artifacts"][-1]
    assert opened.log.owners.of("t-ana").owner == "ana"

    attached = _run(opened, "ben", "t-ben", [GRAY], [made])  # ben attaches ana's result
    assert FOREIGN in attached["messages"][-1].content and not attached.get("artifacts")

    named = {"name": "grayscale", "args": {"prompts": ["gray"], "image": made}}  # the planner names it
    ran = _run(opened, "ben", "t-ben-2", [named], [photo])
    assert FOREIGN in ran["messages"][-1].content and not ran.get("artifacts")
    assert [e.outcome for e in opened.log.list("t-ben-2")] == ["failed"]

    opened.log.owners.share("t-ana", "ana", True)  # once ana shares her thread, its results are ben's to use
    assert _run(opened, "ben", "t-ben-3", [GRAY], [made])["artifacts"]
    assert _run(opened, None, "terminal", [GRAY], [made])["artifacts"]  # no server user: the workspace's own
    opened.close()


def test_a_choice_on_the_server_is_its_users_and_the_message_shows_the_one_chosen(workspace: Path) -> None:
    from langgraph.types import Command

    from support_tools import Tints
    from vitron_agent.links import ArtifactLinks

    opened = Workspace(workspace, import_roots=[ROOT])
    photo = opened.store.import_file(PHOTO)
    tint = {"name": "grayscale", "args": {"prompts": ["tint it"], "seed": 7, "candidates": 3}}
    agent = build_agent(ScriptedPlanner([tint]), tools=[Tints], workspace=opened, policy="auto",
                        checkpointer=InMemorySaver(), links=ArtifactLinks(workspace, "http://server"))
    config = {"configurable": {"thread_id": "t-ana", "langgraph_auth_user_id": "ana"}}
    waiting = agent.invoke({"messages": [HumanMessage("tint it")],
                            "attachments": [Attachment.from_artifact(photo).model_dump()]}, config)
    chosen = waiting["__interrupt__"][0].value["choice"]["candidates"][1]
    done = agent.invoke(Command(resume={"action": "choose", "candidate": 2, "by": "ben"}), config)
    text, image = done["messages"][-1].content
    assert image["url"].startswith(f"http://server/artifacts/{chosen}.") and f"]({image['url']})" in text["text"]
    [entry] = [e for e in opened.log.list("t-ana") if e.action == "choose"]
    assert entry.by == "ana"  # who the server says chose, whatever the answer claims
    opened.close()
