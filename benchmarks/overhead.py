"""Graph overhead per approved call: the agent graph against what a user would pick instead.

The fair comparison is LangChain's own ``create_agent`` with ``HumanInTheLoopMiddleware``: a scripted chat model
calls one tool, the middleware interrupts, the person approves with LangChain's ``{"decisions": [...]}``, the tool
runs, the model answers. Ours does the same request (Vitron text parsed into a typed call, validated, a Decision
built and shown in LangChain's shape, the approval logged in the decision log before the tool runs), resumed with
the same payload. Both on ``InMemorySaver``; the median of three interleaved rounds. A bare one-node LangGraph
graph running the same trivial tool is an information row, in memory and on SQLite.

    python benchmarks/overhead.py [--calls 200]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
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


APPROVE = {"decisions": [{"type": "approve"}]}


class ScriptedToolCaller(GenericFakeChatModel):
    """A chat model that calls the tool, then answers: the other side of the comparison."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolCaller:
        return self


def langchain_agent() -> Any:
    """create_agent + HumanInTheLoopMiddleware on InMemorySaver, with one tool that does what Noop does."""
    from langchain.agents import create_agent
    from langchain.agents.middleware import HumanInTheLoopMiddleware
    from langchain_core.tools import tool

    @tool
    def generate_image(prompt: str) -> str:
        """Draw an image from a prompt."""
        return f"would draw {prompt!r}"

    def script() -> Any:
        while True:
            yield AIMessage("", tool_calls=[{"name": "generate_image", "args": {"prompt": "a red fox in the snow"},
                                             "id": "call-1"}])
            yield AIMessage("would draw 'a red fox in the snow'")

    model = ScriptedToolCaller(messages=script())
    return create_agent(model, [generate_image], checkpointer=InMemorySaver(),
                        middleware=[HumanInTheLoopMiddleware(interrupt_on={"generate_image": True})])


def time_langchain(agent: Any, calls: int, offset: int = 0) -> float:
    start = time.perf_counter()
    for index in range(offset, offset + calls):
        config = {"configurable": {"thread_id": f"lc-{index}"}}
        if not agent.invoke({"messages": [HumanMessage("draw a red fox")]}, config).get("__interrupt__"):
            raise RuntimeError("expected the middleware to ask")
        done = agent.invoke(Command(resume=APPROVE), config)
        if done["messages"][-1].content != "would draw 'a red fox in the snow'":
            raise RuntimeError(f"unexpected answer {done['messages'][-1].content!r}")
    return (time.perf_counter() - start) / calls


def time_agent(agent: Any, calls: int, *, asks: bool = True, offset: int = 0) -> float:
    start = time.perf_counter()
    for index in range(offset, offset + calls):
        config = {"configurable": {"thread_id": f"agent-{index}"}}
        done = agent.invoke({"messages": [HumanMessage("draw a red fox")]}, config)
        if asks:
            if not done.get("__interrupt__"):
                raise RuntimeError("expected the review to ask")
            done = agent.invoke(Command(resume=APPROVE), config)
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


def against_langchain(root: Path, calls: int) -> tuple[float, float]:
    """Median seconds per approved call over three interleaved rounds: (ours, create_agent + HITL)."""
    ours = build_agent(SamePlanner(), tools=[Noop], workspace=root / "against-langchain", checkpointer=InMemorySaver())
    theirs = langchain_agent()
    time_agent(ours, 10, offset=10**6), time_langchain(theirs, 10, offset=10**6)  # warm up both
    rounds = [(time_agent(ours, calls, offset=r * calls), time_langchain(theirs, calls, offset=r * calls))
              for r in range(3)]
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


def measure(quick: bool = False, calls: int | None = None) -> list[Row]:
    """One approved call through the agent graph against create_agent + HumanInTheLoopMiddleware (the goal), and
    against a bare one-node graph, in memory and on SQLite (information)."""
    calls = calls or (60 if quick else 200)
    root = Path(tempfile.mkdtemp(prefix="vitron-overhead-"))
    ours_s, theirs_s = against_langchain(root, calls)
    print(f"approved calls per round: {calls}, median of 3 interleaved rounds")
    print(f"agent graph {ours_s * 1e3:.2f} ms, create_agent + HumanInTheLoopMiddleware {theirs_s * 1e3:.2f} ms: "
          f"{ours_s / theirs_s:.2f}x (goal: at most 1.00x)")
    against = Row("overhead", "agent graph / create_agent + HumanInTheLoopMiddleware per approved call, in memory",
                  ours_s / theirs_s, "x", goal=1.0, note=f"{ours_s * 1e3:.1f} ms vs {theirs_s * 1e3:.1f} ms")
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
    print("information: with the default policy a call is two graph runs (the request stops at the review")
    print("interrupt; the approval resumes it) through six node runs, against one run of one node.")
    return [against] + [Row("overhead", f"agent graph / bare LangGraph graph per approved call, {label}",
                             agent_s / bare_s, "x", note=f"{agent_s * 1e3:.1f} ms vs {bare_s * 1e3:.1f} ms")
                         for label, bare_s, agent_s in rows]


if __name__ == "__main__":
    main()
