"""The graph's ``review`` node: it decides whether a plan waits for a person, asks (a LangGraph interrupt), and
applies the answer given to exactly the decision that was shown.

A review runs in two passes, because LangGraph re-runs a node from its top when it resumes:

1. A plan nobody has been asked about yet: the policy of the moment decides. Either its steps are approved by
   policy (logged, then ``execute``), or the decision to show is fixed in the state (``asked``: its fingerprint,
   which steps ask, the policy's name, the showing's number) and the node runs again.
2. A plan whose decision is fixed: the interrupt shows it, and on resume the answer is read. A later change of
   policy can't touch it: policy decides only what nobody has been asked, never an answer given.

An answer may carry the fingerprint of the decision its person saw (:mod:`vitron_agent.answers`); when what
waits differs, it is refused with what changed, and the decision shown again. Of two answers to the same showing
given at once (two tabs, two processes, two machines), the decision log takes exactly one
(:meth:`~vitron_agent.decisions.DecisionLog.answer`); the other raises
:class:`~vitron_agent.decisions.AlreadyAnswered` and writes no checkpoint, so the thread goes on from the first.
An edit or a removal makes a new showing of the same decision (shown again; the policy is not asked again).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt
from pydantic import ValidationError

from vitron_agent.answers import (
    AnswerError,
    Cancel,
    Edit,
    Reject,
    Remove,
    answer_too_long,
    answered_by,
    read_answer,
    seen_fingerprint,
)
from vitron_agent.artifacts import ArtifactStore
from vitron_agent.decisions import AlreadyAnswered, Decision, DecisionLog
from vitron_agent.graphs.plan import Plan, check_references, references_to, renumber_after_removal
from vitron_agent.graphs.review import (
    Policy,
    build_decision,
    log_entry,
    login,
    must_ask,
    policy_name,
    run_policy,
    thread_id,
)
from vitron_agent.graphs.state import AgentState, closing
from vitron_agent.graphs.steps import StepMaker
from vitron_agent.tools import Tool, call_arguments, validated_args

__all__ = ["CHANGED", "PERSON_CORRECTION", "ReviewNode", "error_text"]

PERSON_CORRECTION = "Correction from the person: {feedback}"
"""How a person's correction reaches the planner."""
CHANGED = ("what waits changed since it was shown, so nothing was run: {changes}. This is what waits now; answer "
           "it again")


class ReviewNode:
    """The ``review`` node over one graph's tools, store, decision log and owner's policy."""

    def __init__(self, *, tools: dict[str, Tool], store: ArtifactStore, log: DecisionLog, steps: StepMaker,
                 policy: Policy, may_loosen: bool, request_limit: int) -> None:
        self.tools, self.store, self.log, self.steps = tools, store, log, steps
        self.policy, self.may_loosen, self.request_limit = policy, may_loosen, request_limit
        self.outputs = {name: getattr(tool, "outputs", None) for name, tool in tools.items()}

    def __call__(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        plan = Plan.model_validate(state["plan"])
        waiting = [i for i, step in enumerate(plan.steps) if step.status in ("planned", "failed")]
        if not waiting:  # nothing left to decide (a state edited from outside): close the turn
            return closing(plan.done_text())
        decision = self._fixed(plan, state.get("asked"), config)
        if decision is None:
            return self._decide(plan, waiting, state, config)
        return self._answered(plan, decision, interrupt(decision.interrupt_value()), state, config)

    def decide(self, plan: Plan, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """The first pass for a new plan, for the node that made it (saving a node run): approved by policy, or
        its decision fixed to be asked by this node's next run."""
        return self._decide(plan, [i for i, step in enumerate(plan.steps) if step.status in ("planned", "failed")],
                            state, config)

    # -- which decision is shown ---------------------------------------------------------------------------

    def _fixed(self, plan: Plan, asked: dict[str, Any] | None, config: RunnableConfig) -> Decision | None:
        """The decision fixed for this plan as it stands, rebuilt from the plan (with the latest refusal's
        reason); None when none is fixed, or the one fixed was for another plan or another state of it."""
        if not asked or not asked.get("fingerprint") or any(not 1 <= n <= len(plan.steps) or plan.steps[n - 1].status not in ("planned", "failed")
                            for n in asked["asking"]):
            return None
        decision = build_decision(plan, [n - 1 for n in asked["asking"]], self.tools, thread_id(config),
                                  asked["policy"], round=asked["round"])
        return decision if decision.fingerprint == asked["fingerprint"] else None

    def _decide(self, plan: Plan, waiting: list[int], state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """A new decision: approved by the policy of the moment, or fixed in the state to be asked. Under "ask"
        the whole plan is asked at once; under "step", each step in turn; a failed step always asks."""
        policy = run_policy(config, self.policy, may_loosen=self.may_loosen)
        if policy == "step":
            waiting = waiting[:1]
        failed = any(plan.steps[i].status == "failed" for i in waiting)
        if not failed and not any(must_ask(policy, self.tools[plan.steps[i].tool]) for i in waiting):
            return self._approved(plan, waiting, None, policy, state, config)
        decision = build_decision(plan, waiting, self.tools, thread_id(config), policy,
                                  round=_round(state) + 1)
        return {"asked": _asked(decision), "step": "review"}

    def _shown_again(self, plan: Plan, shown: Decision, config: RunnableConfig) -> dict[str, Any]:
        """After an edit or a removal: the same decision's next showing (its policy kept, not asked again)."""
        waiting = [i for i, step in enumerate(plan.steps) if step.status in ("planned", "failed")]
        if shown.policy == "step":
            waiting = waiting[:1]
        again = build_decision(plan, waiting, self.tools, thread_id(config), shown.policy, round=shown.round + 1)
        return {"plan": plan.model_dump(), "asked": _asked(again), "shown_before": shown.model_dump(mode="json"),
                "step": "review"}

    # -- the answer ----------------------------------------------------------------------------------------

    def _answered(self, plan: Plan, decision: Decision, given: Any, state: AgentState,
                  config: RunnableConfig) -> dict[str, Any]:
        """Apply the answer to ``decision``, if it was given to that decision and is the first one given."""
        try:
            seen = seen_fingerprint(given)
            if seen is not None and seen != decision.fingerprint:
                return _refused(plan, _changed(state.get("shown_before"), seen, decision))
            too_long = answer_too_long(given, self.request_limit)
            if too_long:
                raise AnswerError(too_long)
            answers = read_answer(given, decision)
        except AnswerError as error:
            return _refused(plan, str(error))
        by = login(config) or answered_by(given)
        won, first = self.log.answer(f"{decision.thread}/{decision.id}/{decision.round}", decision.thread, given,
                                     by)
        if not won:  # another answer to this showing came first: it is the one that counts
            raise AlreadyAnswered(decision.tool, first)
        waiting = [number - 1 for number in decision.asking]
        rejected = [answer for answer in answers if isinstance(answer, Reject)]
        if rejected:
            feedback = "; ".join(answer.feedback for answer in rejected if answer.feedback)
            return self._rejected(plan, waiting, state, config, feedback, by)
        if isinstance(answers[0], Cancel):
            return self._cancelled(plan, waiting, state, config, by)
        if isinstance(answers[0], Remove):
            return self._removed(plan, answers[0].step, decision, config)
        edits = [answer for answer in answers if isinstance(answer, Edit)]
        if edits:  # applied and shown again, approvals beside them included: the person sees what will run
            return self._edited(plan, [(edit.step or waiting[0] + 1, edit.args, edit.replace) for edit in edits],
                                decision, config)
        return self._approved(plan, waiting, by, decision.policy, state, config)

    def _approved(self, plan: Plan, waiting: list[int], by: str | None, policy: Policy | str, state: AgentState,
                  config: RunnableConfig) -> dict[str, Any]:
        """Record one approval per step, then mark the steps approved: the log has them before any tool runs."""
        number = len(state.get("decisions") or [])
        entries = []
        for offset, index in enumerate(waiting):
            step = plan.steps[index]
            tool = self.tools[step.tool]
            who = by or ("policy: no side effects" if not tool.side_effects else f"policy: {policy_name(policy)}")
            entry = self.log.record(thread_id(config), log_entry(step, plan, config, number + offset, "approve", who))
            step.status, step.decision = "approved", entry.id
            entries.append(entry.decided())
        plan.error = None
        answered = {"round": _round(state)}  # nothing fixed any more: what comes back to review is a new decision
        return {"plan": plan.model_dump(), "decisions": entries, "asked": answered, "step": "execute"}

    def _rejected(self, plan: Plan, waiting: list[int], state: AgentState, config: RunnableConfig,
                  feedback: str, by: str) -> dict[str, Any]:
        """The correction goes back to the planner, which plans again."""
        number = len(state.get("decisions") or [])
        entry = log_entry(plan.steps[waiting[0]], plan, config, number, "reject", by, feedback=feedback)
        self.log.record(thread_id(config), entry)
        correction = HumanMessage(PERSON_CORRECTION.format(feedback=feedback or "(no reason given)"))
        return {"plan": None, "decisions": [entry.decided()], "messages": [correction], "corrections": 0,
                "step": "plan"}

    def _cancelled(self, plan: Plan, waiting: list[int], state: AgentState, config: RunnableConfig,
                   by: str) -> dict[str, Any]:
        """Nothing more of the plan runs, and the planner is not asked again."""
        number = len(state.get("decisions") or [])
        entry = log_entry(plan.steps[waiting[0]], plan, config, number, "cancel", by)
        self.log.record(thread_id(config), entry)
        for step in plan.steps:  # the rest of the plan goes with it
            if step.status in ("planned", "failed"):
                step.status = "cancelled"
        return closing(plan.cancelled_text(), plan=plan.model_dump(), decisions=[entry.decided()])

    # -- edits ---------------------------------------------------------------------------------------------

    def _edited(self, plan: Plan, edits: list[tuple[int, dict[str, Any], bool]], shown: Decision,
                config: RunnableConfig) -> dict[str, Any]:
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
            return _refused(plan, error_text(error), shown)
        edited.error = None
        return self._shown_again(edited, shown, config)

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
            raise ValueError(f"{tool.name} has no argument {', '.join(name[:40] for name in unknown[:5])}")
        edited = validated_args(tool, changes if replace else {**step.args, **changes}, self.store.find)
        args = call_arguments(edited)
        step.notes = [*step.notes, *getattr(edited, "notes", ())]
        changed = {name for name in set(args) | set(step.args) if args.get(name) != step.args.get(name)} if replace \
            else set(changes)
        region_kept = args.get("region") == step.args.get("region") and args.get("image") == step.args.get("image")
        step.args, step.changed = args, sorted({*step.changed, *changed})
        self.steps.show(step, preview=not region_kept)

    def _removed(self, plan: Plan, number: int | None, shown: Decision, config: RunnableConfig) -> dict[str, Any]:
        if number is None or not 1 <= number <= len(plan.steps) or plan.steps[number - 1].status != "planned":
            return _refused(plan, f"there is no step {number} waiting to run to remove", shown)
        users = references_to(plan, number)
        if users:
            return _refused(plan, f"step {number} cannot go: step {', '.join(map(str, users))} uses its output",
                            shown)
        if len(plan.steps) == 1:
            return _refused(plan, "that is the only step; cancel the decision instead", shown)
        del plan.steps[number - 1]
        for step in plan.steps:
            step.args = renumber_after_removal(step.args, number)
        plan.error = None
        return self._shown_again(plan, shown, config)


def _refused(plan: Plan, why: str, shown: Decision | None = None) -> dict[str, Any]:
    """The plan shown again as it was, with why the answer was not applied; nothing runs. An answer the log took
    (``shown``: the decision it answered) makes the next showing a new one, open to a new answer."""
    plan.error = why
    update: dict[str, Any] = {"plan": plan.model_dump(), "step": "review"}
    if shown is not None:
        update["asked"] = {**_asked(shown), "round": shown.round + 1}
    return update


def _changed(before: dict[str, Any] | None, seen: str, now: Decision) -> str:
    """Why an answer given to another showing is refused: what changed since the one it was given to, when that
    is the showing just before this one; else what waits now."""
    previous = Decision.model_validate(before) if before else None
    if previous is not None and previous.fingerprint == seen:
        changes = "; ".join(now.changes_from(previous))
    else:
        changes = f"it is now {now.summary}"
    return CHANGED.format(changes=changes)


def _asked(decision: Decision) -> dict[str, Any]:
    """What the state keeps of a decision fixed to be asked (the rest is rebuilt from the plan)."""
    return {"fingerprint": decision.fingerprint, "asking": decision.asking, "policy": decision.policy,
            "round": decision.round}


def _round(state: AgentState) -> int:
    return int((state.get("asked") or {}).get("round", 0))


def error_text(error: Exception) -> str:
    """A validation error (or any refusal) as ``field: message`` lines the planner and people can act on."""
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return str(error).strip("'\"")
