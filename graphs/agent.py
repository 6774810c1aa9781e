"""The agent graph: plan (the planner's output, validated into a plan), review (a LangGraph interrupt), execute,
report.

::

    START -> plan -> review -> execute -> END
             ^  |     |  ^      |  ^   \
             +--+     +--+      +--+    choose -> execute, review or END: a step made several candidates
    invalid output    edit,   execute -> review: the next step asks (policy "step"), or a step failed
    (up to max_       remove
    corrections)      review -> plan: rejection with feedback
    plan -> END: an answer in words; review -> END: the person cancelled; execute -> END: the plan is done

The planner's output is validated in the node that asked for it, and the node that knows a turn is over ends it,
so an approved call crosses three nodes (plan and review, then review again on resume, and execute): each node
run is LangGraph work (a task, a checkpoint), and an approved call costs no more than through ``create_agent``
with LangChain's human-in-the-loop middleware (``benchmarks/overhead.py``). ``report`` is the end as the thread's
history names it: undo and fork write their state as if it had run.

A turn's calls form a plan (:mod:`vitron_agent.graphs.plan`): one step or several, later steps using earlier
steps' outputs; a single call is a plan of one step. What the person is shown, how their answer is read and who
must be asked live in :mod:`vitron_agent.graphs.review`.

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

from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import ValidationError

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import Attachment, CallError, CallInputs, Point
from vitron_agent.claims import claim_is_stale, running
from vitron_agent.config import request_too_long
from vitron_agent.decisions import (
    AlreadyApproved,
    AnswerError,
    Cancel,
    DecisionLog,
    Edit,
    LogEntry,
    Reject,
    Remove,
    read_answer,
)
from vitron_agent.graphs.choose import ChooseNode, in_play, next_node
from vitron_agent.graphs.history import offer_again
from vitron_agent.graphs.plan import (
    Plan,
    check_references,
    complete_calls,
    parse_plan,
    plain_output,
    references_to,
    renumber_after_removal,
    resolve_references,
)
from vitron_agent.graphs.review import (
    POLICY_KEY,
    Policy,
    build_decision,
    check_policy,
    log_entry,
    must_ask,
    policy_name,
    run_policy,
    thread_id,
)
from vitron_agent.graphs.state import AgentState, closing
from vitron_agent.graphs.steps import StepMaker
from vitron_agent.models import ModelManager
from vitron_agent.planners.base import Planner
from vitron_agent.workspace import Workspace
from vitron_agent.regions import Box
from vitron_agent.tools import (
    Tool,
    ToolCancelled,
    ToolContext,
    call_arguments,
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
CORRECTION = "Your last output could not be used: {error}\nAnswer again, fixing that."
PERSON_CORRECTION = "Correction from the person: {feedback}"
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

    Returns:
        A compiled LangGraph ``StateGraph``; invoke it with a ``thread_id`` in the config.
    """
    policy = check_policy(policy)
    workspace = Workspace.of(workspace, models=models)
    nodes = _Nodes(
        planner=planner,
        tools=load_tools(tools),
        store=workspace.store,
        log=workspace.log,
        policy=policy,
        max_corrections=max_corrections,
        cancelled=cancelled or (lambda: False),
        models=workspace.models,
        request_limit=workspace.request_limit,
        may_loosen=runs_may_loosen_policy,
        defaults=workspace.defaults,
        runner=workspace.runner,
    )
    graph = StateGraph(AgentState)
    for name in ("plan", "review", "execute", "report"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_node("choose", ChooseNode(workspace.store, workspace.log))
    graph.add_edge(START, "plan")
    for name, targets in {
        "plan": ["review", "plan", END],
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
    """The five nodes, sharing the planner, tools, store, decision log and policy of one graph."""

    def __init__(
        self,
        *,
        planner: Planner,
        tools: dict[str, Tool],
        store: ArtifactStore,
        log: DecisionLog,
        policy: Policy,
        max_corrections: int,
        cancelled: Callable[[], bool],
        models: ModelManager,
        request_limit: int,
        may_loosen: bool,
        defaults: Callable[[str], dict[str, Any]],
        runner: Any,
    ) -> None:
        self.planner, self.tools, self.store, self.log = planner, tools, store, log
        self.runner = runner
        self.policy, self.max_corrections, self.cancelled = policy, max_corrections, cancelled
        self.models = models
        self.request_limit, self.may_loosen = request_limit, may_loosen
        self.steps = StepMaker(tools, store, defaults, runner)
        self.outputs = {name: getattr(tool, "outputs", None) for name, tool in tools.items()}
        """what each tool declares it makes, for checking ``@N`` references (None: not declared)"""

    # -- plan ----------------------------------------------------------------------------------------------

    def plan(self, state: AgentState) -> dict[str, Any]:
        """Ask the planner, and turn its output into a plan waiting for review, a plain answer, or a correction
        (the node runs again). A planner that raises ends the turn with a message, never a dead session; a request
        over the workspace's length limit never reaches the planner, and leaves the conversation."""
        messages = state.get("messages", [])
        last = messages[-1] if messages else None
        too_long = request_too_long(str(last.content), self.request_limit) if isinstance(last, HumanMessage) \
            else None
        if too_long:
            return closing(too_long[0].upper() + too_long[1:], said=[RemoveMessage(id=last.id)])
        inputs = _inputs(state)
        if state.get("proposed"):  # the person's own calls (a variation): planned as given, without the planner
            output = plain_output(state["proposed"], self.tools)
            return {"output": output, "proposed": None, **self._validated(output, inputs, state)}
        try:
            output = plain_output(self.planner.plan(state.get("messages", []), list(inputs.attachments),
                                                    inputs.region), self.tools)
        except Exception as error:  # a planner bug or an unreachable model must not kill the session
            logger.warning("the planner failed", exc_info=error)
            return closing(PLANNER_FAILED.format(error=str(error).strip() or "it gave no reason"))
        return {"output": output, **self._validated(output, inputs, state)}

    def _validated(self, output: Any, inputs: CallInputs, state: AgentState) -> dict[str, Any]:
        """The planner's output as a plan for review (each step with its preview and readiness), an answer in
        words, or a correction for the planner."""
        said = [AIMessage(output if isinstance(output, str) else f"call {output}")]
        try:
            if isinstance(output, str):
                invocations = parse_plan(output)
                if len(invocations) == 1 and invocations[0].is_understanding:
                    return closing(invocations[0].response, said=said)
                plan = self.steps.from_text(invocations, inputs)
            else:
                plan = Plan(steps=[self.steps.from_call(call) for call in
                                   complete_calls(output, inputs.attachments, inputs.region, self.tools,
                                                  inputs.mask, inputs.points)])
            problems = check_references(plan, self.outputs)
            if problems:
                raise ValueError("; ".join(problems))
        except (CallError, ValidationError, LookupError, ValueError) as error:
            return self._correction(state, said, _error_text(error))
        for step in plan.steps:
            self.steps.show(step)
        return {"plan": plan.model_dump(), "messages": said, "corrections": 0, "step": "review"}

    def _correction(self, state: AgentState, said: list[AIMessage], error: str) -> dict[str, Any]:
        count = state.get("corrections", 0) + 1
        if count > self.max_corrections:
            return closing(GAVE_UP.format(count=count, error=error), said=said, corrections=0)
        return {"messages": [*said, HumanMessage(CORRECTION.format(error=error))], "corrections": count,
                "step": "plan"}

    # -- review --------------------------------------------------------------------------------------------

    def review(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """Ask the person (a LangGraph interrupt) unless the policy lets the plan run. Nothing happens before
        the interrupt, since the node re-runs from its top on resume; decisions are logged after it.

        Under ``"ask"`` the whole plan is approved at once; under ``"step"`` each step is asked for in turn."""
        plan = Plan.model_validate(state["plan"])
        policy = run_policy(config, self.policy, may_loosen=self.may_loosen)
        waiting = [i for i, step in enumerate(plan.steps) if step.status in ("planned", "failed")]
        if not waiting:  # nothing left to decide (a state edited from outside): close the turn
            return closing(plan.done_text())
        if policy == "step":
            waiting = waiting[:1]
        number = len(state.get("decisions") or [])
        failed = any(plan.steps[i].status == "failed" for i in waiting)  # retrying is always the person's call
        if not failed and not any(must_ask(policy, self.tools[plan.steps[i].tool]) for i in waiting):
            return self._approved(plan, waiting, None, policy, number, config)
        decision = build_decision(plan, waiting, self.tools, thread_id(config), policy)
        try:
            answers = read_answer(interrupt(decision.interrupt_value()), decision)
        except AnswerError as error:
            return _refused(plan, str(error))
        rejected = [answer for answer in answers if isinstance(answer, Reject)]
        if rejected:
            feedback = "; ".join(answer.feedback for answer in rejected if answer.feedback)
            return self._rejected(plan, waiting, number, config, feedback)
        if isinstance(answers[0], Cancel):
            return self._cancelled(plan, waiting, number, config)
        if isinstance(answers[0], Remove):
            return self._removed(plan, answers[0].step)
        edits = [answer for answer in answers if isinstance(answer, Edit)]
        if edits:  # applied and shown again, approvals beside them included: the person sees what will run
            return self._edited(plan, [(edit.step or waiting[0] + 1, edit.args, edit.replace) for edit in edits])
        return self._approved(plan, waiting, "person", policy, number, config)

    def _approved(self, plan: Plan, waiting: list[int], by: str | None, policy: Policy, number: int,
                  config: RunnableConfig) -> dict[str, Any]:
        """Record one approval per step, then mark the steps approved: the log has them before any tool runs."""
        entries = []
        for offset, index in enumerate(waiting):
            step = plan.steps[index]
            tool = self.tools[step.tool]
            who = by or ("policy: no side effects" if not tool.side_effects else f"policy: {policy_name(policy)}")
            entry = self.log.record(thread_id(config), log_entry(step, plan, config, number + offset, "approve", who))
            step.status, step.decision = "approved", entry.id
            entries.append(entry.decided())
        plan.error = None
        return {"plan": plan.model_dump(), "decisions": entries, "step": "execute"}

    def _rejected(self, plan: Plan, waiting: list[int], number: int, config: RunnableConfig,
                  feedback: str) -> dict[str, Any]:
        """The correction goes back to the planner, which plans again."""
        entry = log_entry(plan.steps[waiting[0]], plan, config, number, "reject", "person", feedback=feedback)
        self.log.record(thread_id(config), entry)
        correction = HumanMessage(PERSON_CORRECTION.format(feedback=feedback or "(no reason given)"))
        return {"plan": None, "decisions": [entry.decided()], "messages": [correction], "corrections": 0,
                "step": "plan"}

    def _cancelled(self, plan: Plan, waiting: list[int], number: int, config: RunnableConfig) -> dict[str, Any]:
        """Nothing more of the plan runs, and the planner is not asked again."""
        entry = log_entry(plan.steps[waiting[0]], plan, config, number, "cancel", "person")
        self.log.record(thread_id(config), entry)
        for step in plan.steps:  # the rest of the plan goes with it
            if step.status in ("planned", "failed"):
                step.status = "cancelled"
        return closing(plan.cancelled_text(), plan=plan.model_dump(), decisions=[entry.decided()])

    def _edited(self, plan: Plan, edits: list[tuple[int, dict[str, Any], bool]]) -> dict[str, Any]:
        """Apply each edit (step number, arguments, whether they replace the step's whole argument list) to a copy
        of the plan; if every one validates, the edited plan is shown again, else the plan as it was, with why."""
        edited = plan.model_copy(deep=True)
        try:
            for number, changes, replace in edits:
                self._edit_step(edited, number, changes, replace)
            problems = check_references(edited, self.outputs)
            if problems:
                raise ValueError("; ".join(problems))
        except (ValidationError, ValueError) as error:
            return _refused(plan, _error_text(error))
        edited.error = None
        return {"plan": edited.model_dump(), "step": "review"}

    def _edit_step(self, plan: Plan, number: int, changes: dict[str, Any], replace: bool) -> None:
        """Raises:
            ValueError: no such step waiting, no changes, an unknown argument, or arguments that fail validation.
        """
        if not 1 <= number <= len(plan.steps) or plan.steps[number - 1].status not in ("planned", "failed"):
            raise ValueError(f"there is no step {number} waiting to run")
        step = plan.steps[number - 1]
        tool = self.tools[step.tool]
        if not changes:
            raise ValueError("an edit needs the changed arguments, by name")
        unknown = sorted(set(changes) - set(tool.Args.model_fields))
        if unknown:
            raise ValueError(f"{tool.name} has no argument {', '.join(unknown)}")
        edited = validated_args(tool, changes if replace else {**step.args, **changes}, self.store.find)
        args = call_arguments(edited)
        step.notes = [*step.notes, *getattr(edited, "notes", ())]
        changed = {name for name in set(args) | set(step.args) if args.get(name) != step.args.get(name)} if replace \
            else set(changes)
        region_kept = args.get("region") == step.args.get("region") and args.get("image") == step.args.get("image")
        step.args, step.changed = args, sorted({*step.changed, *changed})
        self.steps.show(step, preview=not region_kept)

    def _removed(self, plan: Plan, number: int | None) -> dict[str, Any]:
        if number is None or not 1 <= number <= len(plan.steps) or plan.steps[number - 1].status != "planned":
            plan.error = f"there is no step {number} waiting to run to remove"
            return {"plan": plan.model_dump(), "step": "review"}
        users = references_to(plan, number)
        if users:
            plan.error = f"step {number} cannot go: step {', '.join(map(str, users))} uses its output"
            return {"plan": plan.model_dump(), "step": "review"}
        if len(plan.steps) == 1:
            plan.error = "that is the only step; cancel the decision instead"
            return {"plan": plan.model_dump(), "step": "review"}
        del plan.steps[number - 1]
        for step in plan.steps:
            step.args = renumber_after_removal(step.args, number)
        plan.error = None
        return {"plan": plan.model_dump(), "step": "review"}

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
            if not won:
                if logged is not None and logged.outcome == "ok":
                    return self._after_step(state, plan, index, list(logged.artifacts), logged.message or "")
                if logged is not None and logged.outcome == "running" and claim_is_stale(logged.claimed_by):
                    # a run that died holds it (a checkpoint written late, after the process was killed, brought
                    # the thread back to before this step): offer it again rather than run it a second time
                    if offer_again(plan, index, logged, self.log):
                        return {"plan": plan.model_dump(), "step": "review"}
                    logged = self.log.get(decision.id)  # taken over since: by a live run, which it is left to
                raise AlreadyApproved(step.tool, logged)
            return self._run_step(state, plan, index, decision)

    def _run_step(self, state: AgentState, plan: Plan, index: int, decision: LogEntry) -> dict[str, Any]:
        """The claimed step: its references resolved, checked again for this machine (weights may have come or
        gone), then run; a MemoryError, exception or cancellation becomes a recorded outcome."""
        step = plan.steps[index]
        tool = self.tools[step.tool]
        try:
            args = resolve_references(step.args, plan, lambda ref: self.store.get(ref).kind)
        except LookupError as error:
            return self._step_failed(plan, index, decision, "failed", f"step {index + 1}: {error}")
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
        return next_node(plan, update)

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


def _refused(plan: Plan, why: str) -> dict[str, Any]:
    """The plan shown again as it was, with why the answer was not applied; nothing runs."""
    plan.error = why
    return {"plan": plan.model_dump(), "step": "review"}


def _inputs(state: AgentState) -> CallInputs:
    """What the person supplied beside their words, from the state: attachments, box, the box's frame, mask,
    clicks."""
    return CallInputs(
        attachments=tuple(Attachment.model_validate(a) for a in state.get("attachments") or []),
        region=Box.of(state["region"]) if state.get("region") else None,
        frame=state.get("frame", 0),
        mask=state.get("mask"),
        points=tuple(Point.model_validate(point) for point in state.get("points") or ()),
    )


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return str(error).strip("'\"")
