"""The agent graph: plan (the planner's output, validated into a plan), review (a LangGraph interrupt), execute,
report.

::

    START -> plan -> review -> execute -> END
             ^  |     |  ^      |  ^   \
             +--+     +--+      +--+    choose -> execute, review or END: a step made several candidates
    invalid output    fixed,  execute -> review: the next step asks (policy "step"), or a step failed
    (up to max_       edit,
    corrections)      remove  review -> plan: rejection with feedback
    plan -> END: an answer in words; review -> END: the person cancelled; execute -> END: the plan is done

The planner's output is validated in the node that asked for it, and the node that knows a turn is over ends it,
so an approved call crosses three nodes (plan, which also fixes the decision to ask, or approves the plan by
policy and goes straight to execute; review, which asks and, on resume, reads the answer; execute): each node run
is LangGraph work (a task, a checkpoint), measured against ``create_agent`` with LangChain's human-in-the-loop
middleware (``benchmarks/overhead.py``). ``report`` is the end as the thread's
history names it: undo and fork write their state as if it had run.

A turn's calls form a plan (:mod:`vitron_agent.graphs.plan`): one step or several, later steps using earlier
steps' outputs; a single call is a plan of one step. What the person is shown and who must be asked live in
:mod:`vitron_agent.graphs.review`; the review node, which binds an answer to the decision it was given to, in
:mod:`vitron_agent.graphs.review_node`.

Side effects happen only in ``execute``, after an approval is recorded in the decision log (and ``choose`` records
the person's pick, after its interrupt: :mod:`vitron_agent.graphs.choose`); ``review`` only
computes and asks, since LangGraph re-runs a node from its top when it resumes. Every node sets ``step`` to the
node that should run next, and one router follows it.

Usage::

    agent = build_agent(ScriptedPlanner([...]), tools=[Grayscale()], workspace="ws")
    config = {"configurable": {"thread_id": "t1"}}
    agent.invoke({"messages": [HumanMessage("make it gray")], "attachments": [...]}, config)
    agent.invoke(Command(resume={"action": "approve"}), config)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import ValidationError

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import CallError, CallInputs
from vitron_agent.claims import claim_is_stale, holding, running
from vitron_agent.config import request_too_long
from vitron_agent.decisions import AlreadyApproved, DecisionLog, LogEntry
from vitron_agent.graphs.choose import ChooseNode, in_play, next_node
from vitron_agent.graphs.history import offer_again
from vitron_agent.graphs.intake import inputs_of, merged, take_in
from vitron_agent.graphs.plan import (
    Plan,
    check_references,
    complete_calls,
    parse_plan,
    plain_output,
    resolve_references,
)
from vitron_agent.graphs.review import POLICY_KEY, Policy, check_policy, login, thread_id
from vitron_agent.graphs.review_node import ReviewNode, error_text
from vitron_agent.graphs.said import retried, spoken
from vitron_agent.graphs.shown import with_pictures
from vitron_agent.graphs.state import AgentState, closing
from vitron_agent.graphs.steps import StepMaker
from vitron_agent.links import ArtifactLinks
from vitron_agent.models import ModelManager
from vitron_agent.planners.base import Planner
from vitron_agent.workspace import Workspace
from vitron_agent.tools import (
    Tool,
    ToolCancelled,
    ToolContext,
    call_record,
    failure_text,
    load_tools,
    made_kind,
    unfinished_note,
    validated_args,
)

__all__ = ["POLICY_KEY", "Policy", "build_agent", "check_policy"]

logger = logging.getLogger("vitron_agent.graphs")

# Messages meant for the planner.
GAVE_UP = "I could not turn the planner's answer into a valid call after {count} tries. The last problem: {error}"
PLANNER_FAILED = "The planner failed: {error}. The session is saved; try again, or choose another planner."


def build_agent(
    planner: Planner,
    *,
    tools: Iterable[Any] | None = None,
    workspace: Workspace | str | os.PathLike[str],
    policy: Policy = "ask",
    checkpointer: Any = None,
    max_corrections: int = 3,
    cancelled: Callable[[], bool] | None = None,
    models: ModelManager | None = None,
    runs_may_loosen_policy: bool = False,
    links: ArtifactLinks | None = None,
) -> Any:
    """Build the compiled agent graph.

    Args:
        planner: anything with ``plan(messages, attachments, region)``.
        tools: tool classes or instances; by default the built-ins and installed plugins.
        workspace: the :class:`~vitron_agent.workspace.Workspace` (or its folder) holding artifacts, the decision
            log and (by default) the checkpoints.
        policy: ``"ask"`` (default), ``"step"``, ``"auto"``, or a set of tool names that must ask: the owner's
            choice. A run may ask for a stricter one with ``config["configurable"][POLICY_KEY]``
            (``"vitron_agent_policy"``, a key no parent graph shares); a looser one only with
            ``runs_may_loosen_policy``.
        checkpointer: any LangGraph checkpointer; None means SQLite in ``workspace/checkpoints.sqlite``. Pass
            ``True`` when embedding the graph as a subgraph, so it keeps its state in the parent's checkpointer,
            and ``False`` to compile it with none, for a LangGraph server that brings its own (``langgraph.json``).
        max_corrections: invalid planner outputs in a row before the person is told instead.
        cancelled: polled by running tools; return True to stop the current tool.
        models: the model manager tools load through, when ``workspace`` is a folder (an open workspace brings
            its own).
        runs_may_loosen_policy: the owner's opt-in to runs choosing any policy (a ``Session`` does: the person
            at its terminal sets ``/policy``).
        links: signed links to results, for a server whose clients show only messages: each turn's closing
            message then carries its pictures (:mod:`~.shown`).

    Returns:
        A compiled LangGraph ``StateGraph``; invoke it with a ``thread_id`` in the config.
    """
    policy = check_policy(policy)
    workspace = Workspace.of(workspace, models=models)
    tools = load_tools(tools)
    review = ReviewNode(tools=tools, store=workspace.store, log=workspace.log,
                        steps=StepMaker(tools, workspace.store, workspace.defaults, workspace.runner), policy=policy,
                        may_loosen=runs_may_loosen_policy, request_limit=workspace.request_limit)
    nodes = _Nodes(
        planner=planner,
        tools=tools,
        store=workspace.store,
        log=workspace.log,
        max_corrections=max_corrections,
        cancelled=cancelled or (lambda: False),
        models=workspace.models,
        request_limit=workspace.request_limit,
        attachment_limit=workspace.attachment_limit,
        defaults=workspace.defaults,
        runner=workspace.runner,
        review=review,
        links=links,
    )
    graph = StateGraph(AgentState)
    for name in ("plan", "execute", "report"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_node("review", review)
    graph.add_node("choose", ChooseNode(workspace.store, workspace.log, links))
    graph.add_edge(START, "plan")
    for name, targets in {
        "plan": ["review", "execute", "plan", END],
        "review": ["execute", "review", "plan", END],
        "execute": ["execute", "review", "choose", END],
        "choose": ["choose", "execute", "review", END],
    }.items():
        graph.add_conditional_edges(name, _follow_step, targets)
    graph.add_edge("report", END)
    if checkpointer is None:
        checkpointer = workspace.checkpointer()
    elif checkpointer is False:
        checkpointer = None
    return graph.compile(checkpointer=checkpointer, name="vitron_agent")


def _follow_step(state: AgentState) -> str:
    return state["step"]


class _Nodes:
    """The plan, execute and report nodes, sharing the planner, tools, store and decision log of one graph (review
    and choose have classes of their own)."""

    def __init__(
        self,
        *,
        planner: Planner,
        tools: dict[str, Tool],
        store: ArtifactStore,
        log: DecisionLog,
        max_corrections: int,
        cancelled: Callable[[], bool],
        models: ModelManager,
        request_limit: int,
        attachment_limit: int,
        defaults: Callable[[str], dict[str, Any]],
        runner: Any,
        review: ReviewNode,
        links: ArtifactLinks | None,
    ) -> None:
        self.planner, self.tools, self.store, self.log = planner, tools, store, log
        self.runner = runner
        self.max_corrections, self.cancelled = max_corrections, cancelled
        self.models, self.request_limit = models, request_limit
        self.attachment_limit, self.links = attachment_limit, links
        self.steps, self.review = review.steps, review
        self.outputs = {name: getattr(tool, "outputs", None) for name, tool in tools.items()}
        """what each tool declares it makes, for checking ``@N`` references (None: not declared)"""

    # -- plan ----------------------------------------------------------------------------------------------

    def plan(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Ask the planner, and turn its output into a plan waiting for review, a plain answer, or a correction
        (the node runs again). Pictures inside the message are attached first (:mod:`~.intake`). A planner that
        raises ends the turn with a message, never a dead session; a request over the workspace's length limit
        never reaches the planner, and stays in the conversation cut to the limit."""
        took, state, refusal = take_in(state, self.store, self.attachment_limit)
        update = merged(took, closing(refusal) if refusal else self._planned(state, config))
        if update.get("step") != "plan":  # the turn moves on: the planner's retries are over (see ``said``)
            update["retry"] = []
        return update

    def _planned(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        messages = state.get("messages", [])
        last = messages[-1] if messages else None
        too_long = request_too_long(last.text, self.request_limit) if isinstance(last, HumanMessage) else None
        if too_long:  # the person's message stays, cut to the limit, and goes no further
            cut = last.text.encode()[:self.request_limit - 8].decode(errors="ignore")
            kept = HumanMessage(cut + " [...]", id=last.id)
            return closing(too_long[0].upper() + too_long[1:], said=[kept])
        inputs = inputs_of(state)
        person = login(config)
        foreign = person and self.log.owners.foreign(person, thread_id(config), [a.ref for a in inputs.attachments])
        if foreign:  # LangGraph's server: another user's picture never reaches the planner or a tool
            return closing(foreign, attachments=[])
        if state.get("proposed"):  # the person's own calls (a variation): planned as given, without the planner
            output = plain_output(state["proposed"], self.tools)
            return {"output": output, "proposed": None, **self._validated(output, inputs, state, config)}
        try:
            output = plain_output(self.planner.plan([*messages, *state.get("retry", [])],
                                                    list(inputs.attachments), inputs.region), self.tools)
        except Exception as error:  # a planner bug or an unreachable model must not kill the session
            logger.warning("the planner failed", exc_info=error)
            return closing(PLANNER_FAILED.format(error=str(error).strip() or "it gave no reason"))
        return {"output": output, **self._validated(output, inputs, state, config)}

    def _validated(self, output: Any, inputs: CallInputs, state: AgentState,
                   config: RunnableConfig) -> dict[str, Any]:
        """The planner's output as a plan for review (each step with its preview and readiness), an answer in
        words, or a correction for the planner."""
        said = [spoken(output)]  # its words; the raw output in its metadata
        try:
            if isinstance(output, str):
                invocations = parse_plan(output)
                if len(invocations) == 1 and invocations[0].is_understanding:
                    return closing(invocations[0].response)  # said once
                plan = self.steps.from_text(invocations, inputs)
            else:
                plan = Plan(steps=[self.steps.from_call(call) for call in
                                   complete_calls(output, inputs.attachments, inputs.region, self.tools,
                                                  inputs.mask, inputs.points)])
            problems = check_references(plan, self.outputs)
            if problems:
                raise ValueError("; ".join(problems))
        except (CallError, ValidationError, LookupError, ValueError) as error:
            return self._correction(state, output, error_text(error))
        for step in plan.steps:
            self.steps.show(step)
        # the review's first pass done here: approved by policy (on to execute), or the decision fixed to be asked
        return {"plan": plan.model_dump(), **self.review.decide(plan, state, config), "messages": said,
                "corrections": 0}

    def _correction(self, state: AgentState, output: Any, error: str) -> dict[str, Any]:
        """One more try for the planner, told what to fix (in the retry channel, not the conversation), or the
        person told why it gave up."""
        count = state.get("corrections", 0) + 1
        if count > self.max_corrections:
            return closing(GAVE_UP.format(count=count, error=error), corrections=0)
        return {"retry": retried(state, output, error), "corrections": count, "step": "plan"}

    # -- execute -------------------------------------------------------------------------------------------

    def execute(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Run the plan's next approved step, once. Its approval is on disk first; the step is then claimed in the
        decision log with one conditional update, so of two processes answering the same decision exactly one runs
        the tool and the other is told who approved it (:class:`~vitron_agent.decisions.AlreadyApproved`). One
        step per node run, so a checkpoint follows every step and a resumed plan never re-runs a finished one."""
        plan = Plan.model_validate(state["plan"])
        index = plan.next_step("approved")
        assert index is not None  # the router only comes here with an approved step
        step = plan.steps[index]
        decision = LogEntry.model_validate(next(d for d in reversed(state["decisions"]) if d["id"] == step.decision))
        logged = self.log.get(decision.id) or self.log.record(thread_id(config), decision)
        if logged.outcome == "ok":  # it finished before a crash lost the checkpoint: don't run it again
            return self._after_step(state, plan, index, list(logged.artifacts), logged.message or "")
        with running() as claimer:
            won, logged = self.log.claim(decision.id, claimer)
            if won:
                with holding(self.log, decision.id, claimer):  # its lease renewed while the tool runs
                    return self._run_step(state, plan, index, decision, config)
            if logged is not None and logged.outcome == "ok":
                return self._after_step(state, plan, index, list(logged.artifacts), logged.message or "")
            if logged is not None and logged.outcome == "running" and claim_is_stale(logged):
                # a run that died holds it (a checkpoint written late, after the process was killed, brought
                # the thread back to before this step): offer it again rather than run it a second time
                if offer_again(plan, index, logged, self.log):
                    return {"plan": plan.model_dump(), "step": "review"}
                logged = self.log.get(decision.id)  # taken over since: by a live run, which it is left to
            raise AlreadyApproved(step.tool, logged)

    def _run_step(self, state: AgentState, plan: Plan, index: int, decision: LogEntry,
                  config: RunnableConfig) -> dict[str, Any]:
        """The claimed step: its references resolved, checked again for this machine (weights may have come or
        gone), then run; a MemoryError, exception or cancellation becomes a recorded outcome."""
        step = plan.steps[index]
        tool = self.tools[step.tool]
        try:
            args = resolve_references(step.args, plan, lambda ref: self.store.get(ref).kind)
        except LookupError as error:
            return self._step_failed(plan, index, decision, "failed", f"step {index + 1}: {error}")
        person = login(config)
        foreign = person and self.log.owners.foreign(person, thread_id(config), args)
        if foreign:  # LangGraph's server: an edit naming another user's artifact runs nothing
            return self._step_failed(plan, index, decision, "failed", f"step {index + 1}: {foreign}")
        ready = self.runner.readiness(tool, args)
        if not ready.can_run:
            return self._step_failed(plan, index, decision, "failed", ready.line(tool.name))
        writer = get_stream_writer()
        ctx = ToolContext(
            store=self.store,
            call=call_record(tool, args, run=decision.id),
            progress=lambda done, total, message: writer(
                {"progress": {"tool": tool.name, "step": index + 1, "steps": len(plan.steps), "done": done,
                              "total": total, "message": message}}
            ),
            cancelled=self.cancelled,
            models=self.models,
        )
        try:
            result = self.runner.run(tool, validated_args(tool, args, self.store.find), ctx)
        except ToolCancelled:
            return self._step_failed(plan, index, decision, "cancelled", f"{tool.name} was cancelled.")
        except Exception as error:  # a tool's bug must become a message, never a dead session
            return self._step_failed(plan, index, decision, "failed", failure_text(tool, error))
        self.log.finish(decision.id, "ok", result.artifacts, result.text)
        return self._after_step(state, plan, index, list(result.artifacts), result.text)

    def _after_step(self, state: AgentState, plan: Plan, index: int, artifacts: list[str],
                    text: str) -> dict[str, Any]:
        """The step done: its result becomes the current image or video (or its candidates wait for a choice),
        and the plan goes on."""
        step = plan.steps[index]
        current, step.candidates = in_play(self.store, made_kind(self.tools[step.tool]), artifacts,
                                           state.get("attachments") or [])
        step.status, step.artifacts, step.message = "done", artifacts, text or "Done."
        update: dict[str, Any] = {"plan": plan.model_dump(), "artifacts": artifacts}
        if current is not None:
            update["attachments"] = current
        return with_pictures(next_node(plan, update), plan, self.store, self.links)

    def _step_failed(self, plan: Plan, index: int, decision: LogEntry, outcome: str,
                     message: str) -> dict[str, Any]:
        """A failed step stops the plan; finished steps are kept. One step: the turn ends with the message.
        Several: the plan waits in review, offering retry (approve), edit, or stop (cancel). What the tool wrote
        before it stopped is set aside with the run (kept, listed in the log, never a later step's input)."""
        kept = self.store.set_aside(decision.id, outcome)
        message = unfinished_note(message, kept)
        self.log.finish(decision.id, outcome, kept, message)
        for later in plan.steps[index + 1:]:
            if later.decision:  # approved with the plan, never run: say so in the log
                self.log.finish(later.decision, "skipped", (), f"step {index + 1} did not finish")
        step = plan.steps[index]
        step.message, step.decision = message, None
        if len(plan.steps) == 1 or outcome == "cancelled":
            step.status = "failed" if outcome == "failed" else "cancelled"
            for later in plan.steps[index + 1:]:
                later.status = "cancelled"
            answer = message if len(plan.steps) == 1 else f"{plan.done_text()} {message}".strip()
            return closing(answer, plan=plan.model_dump())
        step.status = "failed"
        for later in plan.steps[index + 1:]:
            later.status, later.decision = "planned", None
        plan.error = f"step {index + 1} failed: {message} Approve to retry it, edit it, or cancel to stop here."
        return {"plan": plan.model_dump(), "step": "review"}

    # -- report --------------------------------------------------------------------------------------------

    def report(self, state: AgentState) -> dict[str, Any]:
        """The turn's end, as the thread's history names it: undo and fork write their state as if this node had
        run (the nodes end a turn themselves, see ``closing``). The plan stays in the state, finished, for
        ``/plan`` and undo to read."""
        answer = state.get("answer") or ""
        return {"messages": [AIMessage(answer)] if answer else [], "output": None}
