"""Choosing among candidates: what the person is shown when a run made several results, and how they answer.

A tool asked for ``candidates`` > 1 makes that many results from seeds ``seed, seed + 1, ...``, each marked in its
``meta`` (``candidate``, ``candidates``). The graph then waits at a LangGraph interrupt carrying a
:class:`Choice` (under ``"choice"``, beside the review's ``"decision"``) until the person picks one: by number
from 1, or by artifact id. The pick becomes the current image or video, the choice is written to the decision
log, and the others are marked not chosen in the store, so nothing that follows descends from them.

Usage::

    choice = Choice.from_interrupt(snapshot.interrupts[0].value)
    chosen = choice.pick(3)                          # the third candidate's artifact id, or ChoiceError
    agent.invoke(Command(resume={"action": "choose", "candidate": 3}), config)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.decisions import DecisionLog, LogEntry

__all__ = ["Choice", "ChoiceError", "candidates_of", "choose_outside", "read_choice", "record_choice"]


class ChoiceError(ValueError):
    """An answer that picks no candidate; the message says what can be picked."""


class Choice(BaseModel):
    """Candidates of one plan step waiting for the person to pick one."""

    model_config = ConfigDict(frozen=True)

    thread: str = ""
    plan: str
    """the plan's id"""
    step: int
    """the step that made them (from 1)"""
    steps: int = 1
    tool: str
    run: str | None = None
    """the decision-log entry of the run that made them"""
    candidates: list[str]
    """artifact ids, in candidate order (candidate 1 first)"""
    seeds: list[int | None] = []
    error: str | None = None
    """why the last answer picked nothing"""

    def pick(self, answer: int | str) -> str:
        """The artifact id an answer picks: a candidate number from 1, or one of the candidates' ids.

        Raises:
            ChoiceError: no such candidate.
        """
        count = len(self.candidates)
        if isinstance(answer, bool) or not isinstance(answer, (int, str)):
            raise ChoiceError(f"choose a candidate by number, 1 to {count}, or by its id")
        if isinstance(answer, str) and answer.strip().isdigit():
            answer = int(answer.strip())
        if isinstance(answer, int):
            if not 1 <= answer <= count:
                raise ChoiceError(f"there is no candidate {answer}: choose 1 to {count}")
            return self.candidates[answer - 1]
        if answer.strip() in self.candidates:
            return answer.strip()
        raise ChoiceError(f"{answer.strip()} is not one of these {count} candidates: choose 1 to {count}, or one "
                          "of their ids")

    def number(self, artifact_id: str) -> int:
        """The candidate number (from 1) of one of the candidates."""
        return self.candidates.index(artifact_id) + 1

    def as_text(self) -> str:
        """One line: what is waiting, for surfaces that show text."""
        seeds = [seed for seed in self.seeds if seed is not None]
        from_seeds = f" (seeds {seeds[0]} to {seeds[-1]})" if len(seeds) == len(self.candidates) else ""
        return (f"{self.tool} made {len(self.candidates)} candidates{from_seeds}: choose one, 1 to "
                f"{len(self.candidates)}")

    def interrupt_value(self) -> dict[str, Any]:
        """What the choice's interrupt carries (JSON data)."""
        return {"choice": self.model_dump(mode="json")}

    @classmethod
    def from_interrupt(cls, value: Any) -> Choice | None:
        """The choice an interrupt carries, or None for any other interrupt (a decision)."""
        if isinstance(value, Mapping) and isinstance(value.get("choice"), Mapping):
            return cls.model_validate(value["choice"])
        return None


def read_choice(answer: Any) -> int | str:
    """The pick in a resume value: ``3``, ``"3"``, an artifact id, or ``{"action": "choose", "candidate": 3}`` /
    ``{"action": "choose", "artifact": "<id>"}``.

    Raises:
        ChoiceError: the answer names no candidate.
    """
    if isinstance(answer, Mapping):
        answer = answer.get("candidate", answer.get("artifact"))
    if isinstance(answer, (int, str)) and not isinstance(answer, bool):
        return answer
    raise ChoiceError("the answer names no candidate; send {\"action\": \"choose\", \"candidate\": N}")


def candidates_of(artifacts: Sequence[Any], kind: str) -> list[str]:
    """The ids of the candidates of ``kind`` among a run's artifacts (those its tool marked with a ``candidate``
    number), in candidate order; an empty list when the run made one result."""
    marked = [artifact for artifact in artifacts
              if artifact.kind == kind and isinstance(artifact.meta.get("candidate"), int)]
    ordered = sorted(marked, key=lambda artifact: artifact.meta["candidate"])
    return [artifact.id for artifact in ordered] if len(ordered) > 1 else []


def record_choice(log: DecisionLog, store: ArtifactStore, *, thread: str, run: str, tool: str, chosen: str,
                  candidates: Sequence[str], by: str, **where: Any) -> LogEntry:
    """Write a choice among a run's candidates to the decision log (entry ``<run>/choice``, action ``choose``,
    outcome ``chosen``), then mark the candidates chosen and not chosen in the store. The first choice recorded
    for a run stands: a second one returns it unchanged.

    Args:
        where: the plan step it belongs to (``plan``, ``step``, ``steps``), when the graph made it.
    """
    from vitron_agent.decisions import LogEntry

    number = list(candidates).index(chosen) + 1
    entry = LogEntry(id=f"{run}/choice", tool=tool, action="choose", by=by, **where,
                     args={"chosen": chosen, "candidate": number, "candidates": list(candidates)})
    stored = log.record(thread, entry)
    if stored.outcome is None:
        seed = store.get(chosen).seed
        log.finish(entry.id, "chosen", [chosen], f"candidate {number} of {len(candidates)}"
                   + (f" (seed {seed})" if seed is not None else ""))
        stored = log.get(entry.id) or stored
    store.mark_choice(stored.args.get("chosen", chosen), candidates)
    return stored


def choose_outside(log: DecisionLog, store: ArtifactStore, artifact_id: str, *, thread: str, by: str) -> str:
    """A choice made by a caller outside the graph (the LangChain tools, the MCP server): ``artifact_id`` must be
    one of a finished run's candidates. Returns the sentence for the caller.

    Raises:
        ChoiceError: no such artifact, or it is not one of several candidates.
    """
    artifact = store.find(artifact_id.strip())
    if artifact is None:
        raise ChoiceError(f"there is no artifact {artifact_id.strip()} in the workspace")
    run = (artifact.call or {}).get("run")
    ids = candidates_of(store.of_run(run), artifact.kind) if run else []
    if artifact.id not in ids:
        raise ChoiceError(f"{artifact.id} is not one of several candidates of a run; only a run with candidates "
                          "2 to 4 leaves a choice")
    stored = record_choice(log, store, thread=thread, run=run, tool=artifact.call["tool"], chosen=artifact.id,
                           candidates=ids, by=by)
    chosen = stored.args["chosen"]
    if chosen != artifact.id:
        return f"Candidate {ids.index(chosen) + 1} ({chosen}) was already chosen, by {stored.by}; it stands."
    return f"Chose candidate {ids.index(chosen) + 1} of {len(ids)}: {chosen}; the others are marked not chosen."
