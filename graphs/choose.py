"""What a finished step leaves in play, and the choose node: the person picks one of a step's candidates.

After a step, the image or video it made becomes the current one (the latest attachment: what the next request
works on). A step that made several candidates leaves none current: the graph goes to ``choose``, which waits at a
LangGraph interrupt carrying a :class:`~vitron_agent.choices.Choice`. The answer (a number from 1, or an
artifact id) is written to the decision log (action ``choose``), the store marks the candidates chosen and not
chosen, the pick becomes current and what ``@N`` means for later steps; then the plan goes on (its next approved
step, the review of the rest, or the end of the turn).

Nothing happens before the interrupt, since a node re-runs from its top on resume; the writes after it are
idempotent (the log entry's id is the run's, and the store keeps the first choice), so a crash between them and
the checkpoint repeats them harmlessly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import Attachment
from vitron_agent.choices import Choice, ChoiceError, candidates_of, read_choice, record_choice
from vitron_agent.decisions import DecisionLog, LogEntry
from vitron_agent.graphs.plan import Plan
from vitron_agent.graphs.review import login, thread_id
from vitron_agent.graphs.shown import with_pictures
from vitron_agent.graphs.state import AgentState, closing
from vitron_agent.links import ArtifactLinks

__all__ = ["ChooseNode", "in_play", "next_node"]


def in_play(store: ArtifactStore, made: str | None, artifacts: Sequence[str],
            attachments: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]] | None, list[str]]:
    """The media in play after a step that made ``artifacts`` (its tool makes kind ``made``): the attachments
    with its result added as the latest, and the candidates when there are several (then nothing is added until
    the person chooses).

    Returns:
        (the new attachments, or None when they stay as they are; the candidates' ids, or [])
    """
    if made is None or not artifacts:
        return None, []
    stored = [store.get(artifact_id) for artifact_id in artifacts]
    candidates = candidates_of(stored, made)
    if len(candidates) > 1:
        return None, candidates
    result = next((artifact for artifact in reversed(stored) if artifact.kind == made), None)
    return (with_current(attachments, result) if result is not None else None), []


def with_current(attachments: Sequence[Mapping[str, Any]], artifact: Any) -> list[dict[str, Any]] | None:
    """``attachments`` with ``artifact`` as the latest (None when its size is unknown, so it can't be described to a
    planner: a plugin that stored no width and height)."""
    try:
        current = Attachment.from_artifact(artifact).model_dump()
    except ValueError:
        return None
    return [*(dict(a) for a in attachments if a.get("ref") != artifact.id), current]


def next_node(plan: Plan, update: dict[str, Any]) -> dict[str, Any]:
    """Where a plan goes once a step's results are settled: its next approved step, a choice among candidates
    that wait, the review of its remaining steps, or the end of the turn."""
    if plan.waiting_choice() is not None:
        return {**update, "step": "choose"}
    if plan.next_step("approved") is not None:
        return {**update, "step": "execute"}
    if plan.next_step("planned") is not None:
        return {**update, "step": "review"}
    return closing(plan.done_text(), **update)


class ChooseNode:
    """The graph's ``choose`` node, over one store and decision log."""

    def __init__(self, store: ArtifactStore, log: DecisionLog, links: ArtifactLinks | None = None) -> None:
        self.store, self.log, self.links = store, log, links

    def __call__(self, state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        plan = Plan.model_validate(state["plan"])
        index = plan.waiting_choice()
        if index is None:  # nothing to choose (a state edited from outside): go on
            return next_node(plan, {"plan": plan.model_dump()})
        step = plan.steps[index]
        choice = Choice(thread=thread_id(config), plan=plan.id, step=index + 1, steps=len(plan.steps),
                        tool=step.tool, run=step.decision, candidates=step.candidates,
                        seeds=[self.store.get(candidate).seed for candidate in step.candidates], error=plan.error)
        answer = interrupt(choice.interrupt_value())
        try:
            chosen = choice.pick(read_choice(answer))
        except ChoiceError as error:
            plan.error = str(error)
            return {"plan": plan.model_dump(), "step": "choose"}
        entry = self._record(choice, chosen, config, by=login(config) or _who(answer))
        chosen = entry.args.get("chosen", chosen)  # two answers at once: the first one recorded stands
        step.chosen, plan.error = chosen, None
        text = f"Chose candidate {choice.number(chosen)} of {len(choice.candidates)}: {chosen}."
        update = {"plan": plan.model_dump(), "decisions": [entry.decided()],
                  "attachments": with_current(state.get("attachments") or [], self.store.get(chosen))
                  or list(state.get("attachments") or [])}
        routed = next_node(plan, update)
        if routed["step"] == "__end__":  # on a server whose clients read messages, with the picture chosen
            return with_pictures(closing(text, **update), plan, self.store, self.links)
        return {**routed, "messages": [AIMessage(text)]}

    def _record(self, choice: Choice, chosen: str, config: RunnableConfig, *, by: str) -> LogEntry:
        """The choice in the decision log (beside the run's own entry), then the marks in the store."""
        return record_choice(self.log, self.store, thread=thread_id(config),
                             run=choice.run or f"{choice.plan}/{choice.step}", tool=choice.tool, chosen=chosen,
                             candidates=choice.candidates, by=by, plan=choice.plan, step=choice.step,
                             steps=choice.steps)


def _who(answer: Any) -> str:
    by = answer.get("by") if isinstance(answer, Mapping) else None
    return by if isinstance(by, str) and by.strip() else "person"
