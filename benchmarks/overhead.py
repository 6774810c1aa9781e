"""Graph overhead per approved call: the whole agent graph against a bare one-node LangGraph graph.

Both run the same trivial tool. The agent goes through plan -> validate (Vitron text parsed into a typed call)
-> review (interrupt, then resume with an approval, logged in the decision log) -> execute -> report, with the
same kind of checkpointer as the bare graph: in memory, then SQLite. One run, same machine, side by side.

    python benchmarks/overhead.py [--calls 200]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from rows import Row
from vitron_agent.artifacts import ArtifactStore
from vitron_agent.tools.generate_image import GenerateImage
from vitron_agent.graphs.agent import build_agent
from vitron_agent.invocation import Module
from vitron_agent.tools import ToolContext, ToolResult

OUTPUT = "Sure. <module>A</module> <instruction>generation: a red fox in the snow</instruction>"


class Noop:
    """The trivial tool both graphs call."""

    name = "generate_image"
    module = Module.A
    Args = GenerateImage
    side_effects = True

    def run(self, args: GenerateImage, ctx: ToolContext) -> ToolResult:
        return ToolResult(text=f"would draw {args.prompt!r}")


class SamePlanner:
    def plan(self, messages: Any, attachments: Any, region: Any) -> str:
        return OUTPUT


class BareState(TypedDict, total=False):
    prompt: str
    text: str


def bare_graph(store: ArtifactStore, checkpointer: Any) -> Any:
    tool = Noop()

    def run_tool(state: BareState) -> BareState:
        result = tool.run(GenerateImage(prompt=state["prompt"]), ToolContext(store=store))
        return {"text": result.text}

    graph = StateGraph(BareState)
    graph.add_node("tool", run_tool)
    graph.add_edge(START, "tool")
    graph.add_edge("tool", END)
    return graph.compile(checkpointer=checkpointer)


def time_bare(graph: Any, calls: int) -> float:
    start = time.perf_counter()
    for index in range(calls):
        graph.invoke({"prompt": "a red fox in the snow"}, {"configurable": {"thread_id": f"bare-{index}"}})
    return (time.perf_counter() - start) / calls


def time_agent(agent: Any, calls: int, *, asks: bool = True) -> float:
    start = time.perf_counter()
    for index in range(calls):
        config = {"configurable": {"thread_id": f"agent-{index}"}}
        done = agent.invoke({"messages": [HumanMessage("draw a red fox")]}, config)
        if asks:
            if not done.get("__interrupt__"):
                raise RuntimeError("expected the review to ask")
            done = agent.invoke(Command(resume={"action": "approve"}), config)
        if done["answer"] != "would draw 'a red fox in the snow'":
            raise RuntimeError(f"unexpected answer {done['answer']!r}")
    return (time.perf_counter() - start) / calls


def sqlite_saver(path: Path) -> SqliteSaver:
    connection = sqlite3.connect(path, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    return SqliteSaver(connection)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    measure(calls=args.calls)


def measure(quick: bool = False, calls: int | None = None) -> list[Row]:
    """One approved call through the agent graph against a bare one-node graph, in memory and on SQLite."""
    calls = calls or (60 if quick else 200)
    root = Path(tempfile.mkdtemp(prefix="vitron-overhead-"))
    rows = []
    for label, make_saver in (("in memory", lambda name: InMemorySaver()),
                              ("SQLite", lambda name: sqlite_saver(root / f"{name}.sqlite"))):
        workspace = root / label.replace(" ", "-")
        store = ArtifactStore(workspace)
        bare = bare_graph(store, make_saver("bare"))
        agent = build_agent(SamePlanner(), tools=[Noop], workspace=workspace, checkpointer=make_saver("agent"))
        time_bare(bare, 10), time_agent(agent, 10)  # warm up both
        bare_s = time_bare(bare, calls)
        agent_s = time_agent(agent, calls)
        rows.append((label, bare_s, agent_s))
        if label == "in memory":
            auto = build_agent(SamePlanner(), tools=[Noop], workspace=workspace, checkpointer=make_saver("auto"),
                               policy="auto")
            time_agent(auto, 10, asks=False)
            rows.append(("in memory, policy auto (no interrupt)", bare_s, time_agent(auto, calls, asks=False)))
    print(f"approved calls per measurement: {calls}")
    print(f"{'checkpointer':<40}{'bare graph':>14}{'agent graph':>14}{'ratio':>9}")
    for label, bare_s, agent_s in rows:
        print(f"{label:<40}{bare_s * 1e3:>11.2f} ms{agent_s * 1e3:>11.2f} ms{agent_s / bare_s:>8.2f}x")
    print("goal: in memory within 2.00x of the bare graph. With the default policy a call is two graph runs")
    print("(the request stops at the review interrupt; the approval resumes it) through six node runs, against")
    print("one run of one node.")
    return [Row("overhead", f"agent graph / bare LangGraph graph per approved call, {label}", agent_s / bare_s,
                "x", goal=2.0 if label == "in memory" else None, note=f"{agent_s * 1e3:.1f} ms vs {bare_s * 1e3:.1f} ms")
            for label, bare_s, agent_s in rows]


if __name__ == "__main__":
    main()
