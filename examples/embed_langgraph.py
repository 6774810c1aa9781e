"""vitron-agent as one step of a larger LangGraph workflow, offline.

The parent graph has its own state and its own steps: ``intake`` files the photo it was given, ``vision`` is
vitron-agent's graph (rule planner, classic segmentation: no weights needed), and ``publish`` writes a small
report of what was made. vitron-agent's review interrupt surfaces to the parent's caller, who approves through
the parent, exactly as with any LangGraph interrupt.

    python examples/embed_langgraph.py [PHOTO] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import operator
import os
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command

from vitron_agent import ArtifactStore, RulePlanner, build_agent
from vitron_agent.calls import Attachment
from vitron_agent.decisions import Decision

HERE = Path(__file__).resolve().parent


class Workflow(TypedDict, total=False):
    """The parent's state. ``messages``, ``attachments`` and ``artifacts`` are the keys vitron-agent shares; the
    rest is the parent's own."""

    photo: str
    messages: Annotated[list[AnyMessage], add_messages]
    attachments: list[dict[str, Any]]
    artifacts: Annotated[list[str], operator.add]
    report: str


def build_workflow(workspace: Path) -> Any:
    store = ArtifactStore(workspace, import_roots=[HERE])
    vision = build_agent(RulePlanner(), workspace=workspace, checkpointer=True)  # state in the parent's checkpoints

    def intake(state: Workflow) -> dict[str, Any]:
        photo = store.import_file(state["photo"])
        return {"attachments": [Attachment.from_artifact(photo).model_dump()]}

    def publish(state: Workflow) -> dict[str, Any]:
        made = [store.get(artifact_id) for artifact_id in state.get("artifacts", [])]
        report = workspace / "report.json"
        report.write_text(json.dumps([{"id": a.id, "kind": a.kind, "path": str(a.path)} for a in made], indent=2))
        return {"report": str(report)}

    graph = StateGraph(Workflow)
    graph.add_node("intake", intake)
    graph.add_node("vision", vision)
    graph.add_node("publish", publish)
    graph.add_edge(START, "intake")
    graph.add_edge("intake", "vision")
    graph.add_edge("vision", "publish")
    graph.add_edge("publish", END)
    return graph.compile(checkpointer=InMemorySaver())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", default=str(HERE / "media" / "motorcycle.jpg"))
    parser.add_argument("--workspace", default="embed-workspace")
    args = parser.parse_args()
    os.environ.setdefault("VITRON_SEGMENTATION_BACKEND", "classic")
    workflow = build_workflow(Path(args.workspace).resolve())
    config = {"configurable": {"thread_id": "embed-example"}}

    first = workflow.invoke({"photo": args.photo,
                             "messages": [HumanMessage("segment the motorcycle [60, 90, 580, 380]")]}, config)
    asked = first["__interrupt__"][0].value  # vitron-agent's review, surfaced to the parent's caller
    decision = Decision.from_interrupt(asked)  # the typed decision; asked["action_requests"] is LangChain's view
    print("decision:", decision.summary)
    done = workflow.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)  # LangChain's HITL answer
    print("answer:", done["messages"][-1].content)
    print("report:", done["report"])


if __name__ == "__main__":
    main()
