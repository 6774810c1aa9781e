"""A planner that replays given outputs in order: for tests, demos and reproducing a model's answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vitron_agent.planners.base import PlannerOutput

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from vitron_agent.calls import Attachment
    from vitron_agent.regions import Box

__all__ = ["PlannerExhausted", "ScriptedPlanner", "SeenRequest"]


class PlannerExhausted(RuntimeError):
    """The script has no outputs left."""


@dataclass(frozen=True)
class SeenRequest:
    """What the planner was shown on one call, kept so tests can check (say) that a correction arrived."""

    messages: tuple[BaseMessage, ...]
    attachments: tuple[Attachment, ...]
    region: Box | None


class ScriptedPlanner:
    """Replays ``outputs`` (Vitron-format text or typed calls) one per call, and records each request.

    Usage::

        planner = ScriptedPlanner(["Sure. <module>B</module> <instruction>segmentation: dog</instruction>"])
    """

    def __init__(self, outputs: Iterable[PlannerOutput]) -> None:
        self.outputs = list(outputs)
        self.seen: list[SeenRequest] = []

    def plan(
        self, messages: Sequence[BaseMessage], attachments: Sequence[Attachment], region: Box | None
    ) -> PlannerOutput:
        self.seen.append(SeenRequest(tuple(messages), tuple(attachments), region))
        if len(self.seen) > len(self.outputs):
            raise PlannerExhausted(f"the scripted planner has only {len(self.outputs)} outputs and was asked again")
        return self.outputs[len(self.seen) - 1]
