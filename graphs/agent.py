"""The agent graph: plan, validate, review (a LangGraph interrupt), execute, report.

::

    START -> plan -> validate -> review -> execute -> report -> END
               ^        |          |  ^
               |        |          +--+  edit: re-shown
               +--------+----------+     invalid output (up to max_corrections) / rejection with feedback
                                   review -> report: the person cancelled (nothing runs)

Side effects happen only in ``execute``, after an approval is recorded in the decision log; ``review`` only
computes and asks, since LangGraph re-runs a node from its top when it resumes. Every node sets ``step`` to the
node that should run next, and one router follows it.

Usage::

    agent = build_agent(ScriptedPlanner([...]), tools=[Grayscale()], workspace="ws")
    config = {"configurable": {"thread_id": "t1"}}
    agent.invoke({"messages": [HumanMessage("make it gray")], "attachments": [...]}, config)
    agent.invoke(Command(resume={"action": "approve"}), config)
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel, ValidationError

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import Attachment, CallError, CallInputs, ToolCall, call_from_invocation
from vitron_agent.decisions import DecisionLog
from vitron_agent.graphs.preview import draw_region_preview
from vitron_agent.graphs.state import AgentState
from vitron_agent.invocation import Invocation, Module, parse_invocation
from vitron_agent.models import ModelManager
from vitron_agent.planners.base import Planner
from vitron_agent.regions import Box
from vitron_agent.tools import Tool, ToolCancelled, ToolContext, load_tools, tool_for_module

__all__ = ["Policy", "build_agent", "check_policy"]

Policy = Literal["ask", "auto"] | frozenset[str]
"""``"ask"``: every side-effecting call waits for a person; ``"auto"``: nothing waits; a set of tool names: those
wait, the rest run."""

# Messages meant for the planner.
CORRECTION = "Your last output could not be used: {error}\nAnswer again, fixing that."
PERSON_CORRECTION = "Correction from the person: {feedback}"
CANCELLED = "Cancelled {tool}; nothing ran."
GAVE_UP = "I could not turn the planner's answer into a valid call after {count} tries. The last problem: {error}"
PLANNER_FAILED = "The planner failed: {error}"


def build_agent(
    planner: Planner,
    *,
    tools: Iterable[Any] | None = None,
    workspace: str | os.PathLike[str],
    policy: Policy = "ask",
    checkpointer: Any = None,
    max_corrections: int = 3,
    cancelled: Callable[[], bool] | None = None,
    models: ModelManager | None = None,
) -> Any:
    """Build the compiled agent graph.

    Args:
        planner: anything with ``plan(messages, attachments, region)``.
        tools: tool classes or instances; by default the built-ins and installed plugins.
        workspace: the folder holding artifacts, the decision log and (by default) the checkpoints.
        policy: ``"ask"`` (default), ``"auto"``, or a set of tool names that must ask. A run may override it
            with ``config["configurable"]["policy"]`` (the terminal's ``/policy`` does).
        checkpointer: any LangGraph checkpointer; None means SQLite in ``workspace/checkpoints.sqlite``. Pass
            ``True`` when embedding the graph as a subgraph, so it keeps its state in the parent's checkpointer.
        max_corrections: invalid planner outputs in a row before the person is told instead.
        cancelled: polled by running tools; return True to stop the current tool.
        models: the model manager tools load through; a new one (nothing loaded until used) by default.

    Returns:
        A compiled LangGraph ``StateGraph``; invoke it with a ``thread_id`` in the config.
    """
    policy = check_policy(policy)
    workspace = Path(workspace).expanduser().resolve()
    nodes = _Nodes(
        planner=planner,
        tools=load_tools(tools),
        store=ArtifactStore(workspace),
        log=DecisionLog(workspace),
        policy=policy,
        max_corrections=max_corrections,
        cancelled=cancelled or (lambda: False),
        models=models or ModelManager(),
    )
    graph = StateGraph(AgentState)
    for name in ("plan", "validate", "review", "execute", "report"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_edge(START, "plan")
    for name, targets in {
        "plan": ["validate", "report"],
        "validate": ["review", "plan", "report"],
        "review": ["execute", "review", "plan", "report"],
        "execute": ["report"],
    }.items():
        graph.add_conditional_edges(name, _follow_step, targets)
    graph.add_edge("report", END)
    if checkpointer is None:
        checkpointer = _sqlite_checkpointer(workspace / "checkpoints.sqlite")
    return graph.compile(checkpointer=checkpointer, name="vitron_agent")


def check_policy(policy: Any) -> Literal["ask", "auto"] | frozenset[str]:
    """The policy in its stored form (a set of tool names becomes a frozenset).

    Raises:
        ValueError: not "ask", "auto" or a set of tool names.
    """
    if policy in ("ask", "auto"):
        return policy
    if isinstance(policy, (set, frozenset, list, tuple)) and all(isinstance(name, str) for name in policy):
        return frozenset(policy)
    raise ValueError(f"policy={policy!r} must be 'ask', 'auto' or a set of tool names")


def _follow_step(state: AgentState) -> str:
    return state["step"]


def _sqlite_checkpointer(path: Path) -> Any:
    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
    connection.execute("PRAGMA journal_mode = WAL")
    return SqliteSaver(connection)


class _Nodes:
    """The five nodes, sharing the planner, tools, store, decision log and policy of one graph."""

    def __init__(
        self,
        *,
        planner: Planner,
        tools: dict[str, Tool],
        store: ArtifactStore,
        log: DecisionLog,
        policy: Literal["ask", "auto"] | frozenset[str],
        max_corrections: int,
        cancelled: Callable[[], bool],
        models: ModelManager,
    ) -> None:
        self.planner, self.tools, self.store, self.log = planner, tools, store, log
        self.policy, self.max_corrections, self.cancelled = policy, max_corrections, cancelled
        self.models = models

    # -- plan ----------------------------------------------------------------------------------------------

    def plan(self, state: AgentState) -> dict[str, Any]:
        """Ask the planner; a planner that raises ends the turn with a message, never a dead session."""
        attachments = [Attachment.model_validate(a) for a in state.get("attachments") or []]
        region = Box.of(state["region"]) if state.get("region") else None
        try:
            output = self.planner.plan(state.get("messages", []), attachments, region)
        except Exception as error:  # a planner bug or an unreachable model must not kill the session
            return {"answer": PLANNER_FAILED.format(error=f"{type(error).__name__}: {error}"), "step": "report"}
        return {"output": _plain_output(output), "step": "validate"}

    # -- validate ------------------------------------------------------------------------------------------

    def validate(self, state: AgentState) -> dict[str, Any]:
        """Turn the planner's output into a pending call, a plain answer, or a correction for the planner."""
        output = state.get("output")
        said = [AIMessage(output if isinstance(output, str) else f"call {output}")]
        try:
            if isinstance(output, str):
                invocation = parse_invocation(output)
                if invocation.is_understanding:
                    return {"answer": invocation.response, "messages": said, "step": "report"}
                pending = self._call_from_text(invocation, state)
            else:
                tool = self.tools.get(output.get("name"))
                if tool is None:
                    known = ", ".join(sorted(self.tools))
                    raise LookupError(f"unknown tool {output.get('name')!r}; the tools are {known}")
                pending = _pending(tool, _validate_args(tool, output.get("args") or {}), [], "")
        except (CallError, ValidationError, LookupError, ValueError) as error:
            return self._correction(state, said, _error_text(error))
        pending["preview"] = self._preview(pending)
        pending["backend"] = self._backend(pending)
        return {"pending": pending, "messages": said, "corrections": 0, "step": "review"}

    def _call_from_text(self, invocation: Invocation, state: AgentState) -> dict[str, Any]:
        inputs = CallInputs(
            attachments=tuple(Attachment.model_validate(a) for a in state.get("attachments") or []),
            region=Box.of(state["region"]) if state.get("region") else None,
            frame=state.get("frame", 0),
        )
        call = call_from_invocation(invocation, inputs)
        if call is None:  # understanding is answered before this point; kept for the type checker
            raise CallError("the output calls no module")
        tool = tool_for_module(self.tools, call.module)
        if tool is None:
            raise LookupError(f"no installed tool serves module {call.module.value} ({call.module.human_name}); "
                              "answer in words instead")
        args = _validate_args(tool, call.arguments())
        return _pending(tool, args, [*call.notes, *invocation.problems], invocation.response)

    def _correction(self, state: AgentState, said: list[AIMessage], error: str) -> dict[str, Any]:
        count = state.get("corrections", 0) + 1
        if count > self.max_corrections:
            return {"answer": GAVE_UP.format(count=count, error=error), "messages": said, "corrections": 0,
                    "step": "report"}
        return {"messages": [*said, HumanMessage(CORRECTION.format(error=error))], "corrections": count,
                "step": "plan"}

    def _backend(self, pending: dict[str, Any]) -> str | None:
        """What the tool says will run (backend, checkpoint), when it can tell: an optional ``describe``."""
        describe = getattr(self.tools[pending["tool"]], "describe", None)
        if describe is None:
            return None
        try:
            return str(describe(pending["args"], self.store.root))
        except Exception as error:  # a description is a courtesy; its failure must not block the decision
            return f"unknown ({type(error).__name__}: {error})"

    def _preview(self, pending: dict[str, Any]) -> str | None:
        """The region drawn on its image, as an artifact the review can show (None when there is no region)."""
        args = pending["args"]
        region, media = args.get("region"), args.get("image") or args.get("video")
        if not region or not media:
            return None
        try:
            return draw_region_preview(self.store, media, Box.model_validate(region), args.get("frame", 0)).id
        except Exception:  # a preview is a courtesy; its failure must not block the decision
            return None

    # -- review --------------------------------------------------------------------------------------------

    def review(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Ask the person (a LangGraph interrupt) unless the policy lets this tool run. Nothing happens before
        the interrupt, since the node re-runs from its top on resume; the decision is logged after it."""
        pending = state["pending"]
        assert pending is not None  # the router only comes here with a pending call
        tool = self.tools[pending["tool"]]
        number = len(state.get("decisions") or [])
        policy = check_policy((config.get("configurable") or {}).get("policy") or self.policy)
        if not _must_ask(policy, tool):
            by = "policy: no side effects" if not tool.side_effects else f"policy: {_policy_name(policy)}"
            return self._approved(pending, by, number, config)
        answer = interrupt(_shown(pending, tool))
        action, payload = _read_answer(answer)
        if action == "approve":
            return self._approved(pending, "person", number, config)
        if action == "edit":
            return self._edited(pending, tool, payload)
        if action == "reject":
            decision = _decision(pending, number, "reject", "person", feedback=str(payload or ""))
            self.log.record(_thread_id(config), decision)
            correction = HumanMessage(PERSON_CORRECTION.format(feedback=payload or "(no reason given)"))
            return {"pending": None, "decisions": [decision], "messages": [correction], "corrections": 0,
                    "step": "plan"}
        if action == "cancel":
            decision = _decision(pending, number, "cancel", "person")
            self.log.record(_thread_id(config), decision)
            return {"pending": None, "decisions": [decision], "answer": CANCELLED.format(tool=tool.name),
                    "step": "report"}
        return {"pending": {**pending, "error": f"unknown answer {answer!r}; use approve, edit, reject or cancel"},
                "step": "review"}

    def _approved(self, pending: dict[str, Any], by: str, number: int, config: RunnableConfig) -> dict[str, Any]:
        decision = _decision(pending, number, "approve", by)
        self.log.record(_thread_id(config), decision)
        return {"pending": {**pending, "decision": decision["id"]}, "decisions": [decision], "step": "execute"}

    def _edited(self, pending: dict[str, Any], tool: Tool, changes: Any) -> dict[str, Any]:
        if not isinstance(changes, Mapping) or not changes:
            return {"pending": {**pending, "error": "an edit needs the changed arguments, by name"},
                    "step": "review"}
        unknown = sorted(set(changes) - set(tool.Args.model_fields))
        merged = {**pending["args"], **changes}
        try:
            if unknown:
                raise ValueError(f"{tool.name} has no argument {', '.join(unknown)}")
            args = _dump(_validate_args(tool, merged))
        except (ValidationError, ValueError) as error:
            return {"pending": {**pending, "error": _error_text(error)}, "step": "review"}
        changed = sorted({*pending["changed"], *changes})
        edited = {**pending, "args": args, "changed": changed, "error": None}
        edited["preview"] = pending["preview"] if args.get("region") == pending["args"].get("region") else None
        return {"pending": edited, "step": "review"}

    # -- execute -------------------------------------------------------------------------------------------

    def execute(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Run the approved call. Its approval is on disk first (logged again here, idempotently, in case the
        review's write was lost); a MemoryError, exception or cancellation becomes a recorded outcome and a
        message."""
        pending = state["pending"]
        assert pending is not None and pending.get("decision")
        decision = next(d for d in reversed(state["decisions"]) if d["id"] == pending["decision"])
        logged = self.log.record(_thread_id(config), decision)
        if logged["outcome"] == "ok":  # it finished before a crash lost the checkpoint: don't run it again
            return _executed(logged["artifacts"], logged["message"])
        tool = self.tools[pending["tool"]]
        writer = get_stream_writer()
        ctx = ToolContext(
            store=self.store,
            call={"tool": tool.name, "args": pending["args"]},
            progress=lambda done, total, message: writer(
                {"progress": {"tool": tool.name, "done": done, "total": total, "message": message}}
            ),
            cancelled=self.cancelled,
            models=self.models,
        )
        try:
            result = tool.run(_validate_args(tool, pending["args"]), ctx)
        except ToolCancelled:
            return self._failed(decision, "cancelled", f"{tool.name} was cancelled; nothing was kept from it.")
        except MemoryError:
            return self._failed(decision, "failed", f"{tool.name} ran out of memory; try a smaller input.")
        except Exception as error:  # a tool's bug must become a message, never a dead session
            return self._failed(decision, "failed", f"{tool.name} failed: {type(error).__name__}: {error}")
        self.log.finish(decision["id"], "ok", result.artifacts, result.text)
        return _executed(list(result.artifacts), result.text)

    def _failed(self, decision: dict[str, Any], outcome: str, message: str) -> dict[str, Any]:
        self.log.finish(decision["id"], outcome, (), message)
        return {"answer": message, "pending": None, "step": "report"}

    # -- report --------------------------------------------------------------------------------------------

    def report(self, state: AgentState) -> dict[str, Any]:
        """Close the turn: the answer joins the conversation."""
        answer = state.get("answer") or ""
        return {"messages": [AIMessage(answer)] if answer else [], "pending": None, "output": None}


def _must_ask(policy: Literal["ask", "auto"] | frozenset[str], tool: Tool) -> bool:
    if isinstance(policy, frozenset):
        return tool.name in policy
    return policy == "ask" and tool.side_effects


def _policy_name(policy: Literal["ask", "auto"] | frozenset[str]) -> str:
    return policy if isinstance(policy, str) else "per tool"


def _pending(tool: Tool, args: BaseModel, notes: list[str], response: str) -> dict[str, Any]:
    """The validated call, as JSON-able state, waiting for review."""
    return {
        "id": uuid.uuid4().hex,
        "tool": tool.name,
        "module": tool.module.value if tool.module else None,
        "args": _dump(args),
        "notes": notes,
        "response": response,
        "changed": [],
    }


def _plain_output(output: Any) -> Any:
    """Planner output as checkpointable data: text, or ``{"name", "args"}``."""
    if isinstance(output, str):
        return output
    if isinstance(output, ToolCall):
        return {"name": output.tool, "args": output.arguments()}
    if isinstance(output, Mapping) and "name" in output:
        return {"name": str(output["name"]), "args": dict(output.get("args") or {})}
    return str(output)


def _validate_args(tool: Tool, args: Mapping[str, Any]) -> BaseModel:
    try:
        return tool.Args.model_validate(dict(args))
    except ValidationError as error:
        raise CallError.from_validation(tool.name, error) from None


def _dump(args: BaseModel) -> dict[str, Any]:
    return args.arguments() if isinstance(args, ToolCall) else args.model_dump(mode="json")


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return str(error).strip("'\"")


def _shown(pending: dict[str, Any], tool: Tool) -> dict[str, Any]:
    """The decision as the person sees it: JSON-serialisable, with a one-line summary."""
    module = Module(pending["module"]) if pending.get("module") else None
    return {
        "id": pending["id"],
        "tool": tool.name,
        "module": module.value if module else None,
        "module_name": module.human_name if module else None,
        "args": pending["args"],
        "summary": _summary(tool.name, pending["args"]),
        "preview": pending.get("preview"),
        "backend": pending.get("backend"),
        "notes": pending.get("notes", []),
        "changed": pending.get("changed", []),
        "response": pending.get("response", ""),
        "error": pending.get("error"),
    }


def _summary(tool: str, args: Mapping[str, Any]) -> str:
    """``segment_image: target 'zebra', region (12, 30, 200, 180)``, cut to one line."""
    parts = []
    for key in ("target", "prompt", "prompts", "foreground", "background"):
        if args.get(key):
            parts.append(f"{key} {args[key]!r}")
    if args.get("region"):
        parts.append("region (" + ", ".join(f"{v:g}" for v in args["region"].values()) + ")")
    text = f"{tool}: {', '.join(parts)}" if parts else tool
    return text if len(text) <= 160 else text[:157] + "..."


def _read_answer(answer: Any) -> tuple[str, Any]:
    if isinstance(answer, str):
        return answer.strip().lower(), None
    if isinstance(answer, Mapping):
        action = str(answer.get("action", "")).lower()
        return action, answer.get("args") if action == "edit" else answer.get("feedback")
    return "", None


def _decision(pending: dict[str, Any], number: int, action: str, by: str, **extra: Any) -> dict[str, Any]:
    """A decision record; its id is derived from the call and the thread's decision count, so a node that
    re-runs makes the same record, not a second one."""
    return {
        "id": f"{pending['id']}-{number}",
        "call": pending["id"],
        "tool": pending["tool"],
        "module": pending.get("module"),
        "action": action,
        "by": by,
        "args": pending["args"],
        "changed": pending.get("changed", []),
        "preview": pending.get("preview"),
        "backend": pending.get("backend"),
        **extra,
    }


def _executed(artifacts: list[str], text: str) -> dict[str, Any]:
    return {"answer": text or "Done.", "artifacts": artifacts, "pending": None, "step": "report"}


def _thread_id(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get("thread_id", ""))
