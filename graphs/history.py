"""A thread's history, as the agent graph knows it: what is waiting, what the thread holds, undo, fork, and the
recovery of a step a dead process left running.

These live beside the graph because they depend on its routing: every node sets ``step`` to the node that runs
next, a checkpoint whose ``next`` is ``("execute",)`` was taken just before a step ran, and ``update_state(...,
as_node=...)`` must name a node whose edges lead where the thread should go (``plan`` reaches ``review``;
``report`` ends the turn). Each function edits or reads the
checkpointer's state only; running the graph afterwards is the caller's (``Session`` streams it, with progress).

Usage::

    config = {"configurable": {"thread_id": "t1"}}
    decision = waiting(agent, config)                    # a Decision, or None
    if cut_off(agent, config, log):                      # a step a dead process left running is offered again
        agent.invoke(None, config)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage

from vitron_agent.calls import Attachment
from vitron_agent.choices import Choice
from vitron_agent.claims import claim_is_stale
from vitron_agent.decisions import Decision, DecisionLog, LogEntry
from vitron_agent.graphs.choose import with_current
from vitron_agent.graphs.plan import Plan

__all__ = [
    "HistoryError",
    "attachments",
    "back_to_step",
    "choice",
    "cut_off",
    "entries",
    "exists",
    "fork",
    "plan",
    "produced",
    "take_up",
    "threads",
    "undo_last",
    "waiting",
]

UNDONE = "Undid {tool}: its results are set aside (still in the store: {artifacts})."


class HistoryError(ValueError):
    """There is nothing to go back to, or the thread is not in a state that allows it; the message says why."""


def waiting(agent: Any, config: dict[str, Any]) -> Decision | None:
    """The decision the thread waits on, or None (also while it waits for a choice among candidates)."""
    interrupts = agent.get_state(config).interrupts
    if not interrupts or Choice.from_interrupt(interrupts[0].value) is not None:
        return None
    return Decision.from_interrupt(interrupts[0].value)


def choice(agent: Any, config: dict[str, Any]) -> Choice | None:
    """The candidates the thread waits for the person to choose among, or None."""
    interrupts = agent.get_state(config).interrupts
    return Choice.from_interrupt(interrupts[0].value) if interrupts else None


def take_up(agent: Any, config: dict[str, Any], artifact: Any, text: str) -> None:
    """Make ``artifact`` (an image or video) the thread's current media, saying ``text``: a new line in its
    history, after the last one (undo still works as before).

    Raises:
        HistoryError: something waits (answer it first), or the artifact's size is unknown.
    """
    state = agent.get_state(config)
    if state.interrupts:
        raise HistoryError("something is waiting; answer it before carrying on from another result")
    current = with_current(state.values.get("attachments") or [], artifact)
    if current is None:
        raise HistoryError(f"{artifact.id} has no recorded size, so it can't be described to the planner")
    agent.update_state(config, {"attachments": current, "answer": text, "messages": [AIMessage(text)]},
                       as_node="report")


def exists(agent: Any, config: dict[str, Any]) -> bool:
    """Whether the checkpointer holds this thread."""
    return agent.get_state(config).created_at is not None


def threads(agent: Any, limit: int = 500) -> list[str]:
    """The threads the checkpointer holds, most recently written first."""
    seen = (item.config["configurable"]["thread_id"] for item in agent.checkpointer.list(None, limit=limit))
    return list(dict.fromkeys(seen))


def attachments(agent: Any, config: dict[str, Any]) -> list[Attachment]:
    """The media the person attached in this thread, oldest first."""
    return [Attachment.model_validate(a) for a in agent.get_state(config).values.get("attachments") or []]


def produced(agent: Any, config: dict[str, Any]) -> list[str]:
    """The ids of the artifacts the thread's tools made and still hold (undone results are left out)."""
    return list(agent.get_state(config).values.get("artifacts") or [])


def plan(agent: Any, config: dict[str, Any]) -> Plan | None:
    """The thread's plan: the one waiting or running, else the last one (finished)."""
    value = agent.get_state(config).values.get("plan")
    return Plan.model_validate(value) if value else None


def entries(agent: Any, config: dict[str, Any], log: DecisionLog) -> list[LogEntry]:
    """The thread's decisions from the log, oldest first, each ``undone`` when its results were set aside."""
    present = set(produced(agent, config))
    thread = config["configurable"]["thread_id"]
    return [entry.model_copy(update={"undone": bool(entry.artifacts) and present.isdisjoint(entry.artifacts)})
            for entry in log.list(thread)]


def undo_last(agent: Any, config: dict[str, Any], log: DecisionLog) -> str:
    """Set the last tool's results aside: the thread continues as if that tool had been cancelled (the request
    and attachments stay; artifacts and old checkpoints are kept). Returns the message added to the conversation.

    Raises:
        HistoryError: a decision is waiting, or no tool result is left to undo.
    """
    state = agent.get_state(config)
    if state.interrupts:
        raise HistoryError("a decision is waiting; answer it before undoing")
    present = set(state.values.get("artifacts") or [])
    last = next((entry for entry in reversed(log.list(config["configurable"]["thread_id"]))
                 if entry.outcome == "ok" and present.intersection(entry.artifacts)), None)
    if last is None:
        raise HistoryError("there is no tool result to undo in this thread")
    before = _checkpoint(agent, config, lambda plan, index: plan.steps[index].decision == last.id)
    earlier = Plan.model_validate(before.values["plan"])
    for later in earlier.steps[earlier.next_step("approved") or 0:]:
        later.status = "cancelled" if later.status == "approved" else later.status
    text = UNDONE.format(tool=last.tool, artifacts=", ".join(last.artifacts))
    agent.update_state(before.config, {"plan": earlier.model_dump(), "answer": text, "messages": [AIMessage(text)]},
                       as_node="report")
    return text


def back_to_step(agent: Any, config: dict[str, Any], step: int) -> None:
    """Return the current plan to just before its step ``step`` ran: that step and the later ones wait for review
    again once the graph runs. Nothing is deleted.

    Raises:
        HistoryError: the plan has no such step, or it never ran.
    """
    before, earlier = _before_step(agent, config, step)
    agent.update_state(before.config, {"plan": _replanned(earlier, step).model_dump(), "step": "review"},
                       as_node="plan")


def fork(agent: Any, config: dict[str, Any], new_config: dict[str, Any], step: int | None = None) -> bool:
    """Start the thread of ``new_config`` from this one's state (now, or just before step ``step`` of the
    current plan ran); this thread stays as it is.

    Returns:
        whether the new thread has a decision to reach (run the graph on it once).

    Raises:
        HistoryError: a decision waits and no step was named, or the step never ran.
    """
    if step is None:
        source = agent.get_state(config)
        if source.next:
            raise HistoryError("fork while a decision waits needs a step number (fork(step=N))")
        agent.update_state(new_config, dict(source.values), as_node="report")
        return False
    before, earlier = _before_step(agent, config, step)
    agent.update_state(new_config, {**before.values, "plan": _replanned(earlier, step).model_dump(),
                                    "step": "review"}, as_node="plan")
    return True


def cut_off(agent: Any, config: dict[str, Any], log: DecisionLog, claimed_only: bool = False) -> bool:
    """Whether a run was cut off before it finished (the process died, or its caller stopped waiting); if a step
    was left running, it and the rest of its plan are offered again as a decision, logged ``interrupted`` (later
    approved steps ``skipped``). A step that had in fact finished is kept; the plan just goes on when run.
    ``claimed_only`` leaves an approval that no run has claimed yet alone: a session open while another process
    approves sees that state for a moment, and only a claim whose lease lapsed is certainly cut off.

    Returns:
        whether the graph should be run once to continue the thread.
    """
    snapshot = agent.get_state(config)
    if snapshot.next != ("execute",):
        return bool(snapshot.next) and not snapshot.interrupts
    current = Plan.model_validate(snapshot.values["plan"])
    index = current.next_step("approved")
    entry = log.get(current.steps[index].decision or "") if index is not None else None
    if entry is not None and entry.outcome == "running" and not claim_is_stale(entry):
        return False  # another process (or run) holds it and is still at work: leave the thread to it
    if claimed_only and (entry is None or entry.outcome is None):
        return False  # approved a moment ago by another process, which is about to claim it
    if index is not None and (entry is None or entry.outcome != "ok"):
        if not offer_again(current, index, entry, log):
            return False  # another process took the step at this very moment: the thread is its to go on with
        agent.update_state(config, {"plan": current.model_dump(), "step": "review"}, as_node="plan")
    return True


def offer_again(current: Plan, index: int, entry: LogEntry | None, log: DecisionLog) -> bool:
    """Put step ``index + 1``, cut off while it ran (its approval ``entry``), and the approved steps after it
    back to review: the cut-off run is logged ``interrupted``, the later approvals ``skipped``. Returns False,
    changing nothing, when the step was taken (claimed or finished) since ``entry`` was read."""
    if entry is not None and entry.outcome in (None, "running") and \
            not log.interrupt(entry, "the process stopped while the tool was running"):
        return False
    for later in current.steps[index:]:
        if later.status == "approved":
            if later is not current.steps[index] and later.decision:
                log.finish(later.decision, "skipped", (), "the process stopped before it ran")
            later.status, later.decision = "planned", None
    return True


def _before_step(agent: Any, config: dict[str, Any], step: int) -> tuple[Any, Plan]:
    current = plan(agent, config)
    if current is None or not 1 <= step <= len(current.steps):
        raise HistoryError(f"the current plan has no step {step}")
    before = _checkpoint(agent, config, lambda earlier, index: earlier.id == current.id and index == step - 1)
    return before, Plan.model_validate(before.values["plan"])


def _checkpoint(agent: Any, config: dict[str, Any], wanted: Callable[[Plan, int], bool]) -> Any:
    """Walk the thread's parents back to the checkpoint taken just before a step ran: the first whose plan's next
    approved step satisfies ``wanted(plan, index)``."""
    snapshot = agent.get_state(config)
    while snapshot is not None:
        if snapshot.next == ("execute",) and snapshot.values.get("plan"):
            earlier = Plan.model_validate(snapshot.values["plan"])
            index = earlier.next_step("approved")
            if index is not None and wanted(earlier, index):
                return snapshot
        snapshot = agent.get_state(snapshot.parent_config) if snapshot.parent_config else None
    raise HistoryError("that step never ran in this thread, so there is no state before it to return to")


def _replanned(earlier: Plan, step: int) -> Plan:
    """The plan with step ``step`` and the later ones waiting for review again, their results forgotten."""
    replanned = earlier.model_copy(deep=True)
    for later in replanned.steps[step - 1:]:
        later.status, later.decision, later.artifacts, later.message = "planned", None, [], ""
    replanned.error = None
    return replanned
