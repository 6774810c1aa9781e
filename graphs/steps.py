"""From a planner's output to the steps a review shows: each call typed and validated, the workspace's defaults
filled in, and what the person sees beside it (the region drawn on its image, what it runs on, whether it can
run here).

The agent graph's plan node and its edits both go through one :class:`StepMaker`, so an edited step is described
exactly as a planned one.

Usage::

    maker = StepMaker(tools, store, workspace.defaults, workspace.runner)
    plan = maker.from_text(parse_plan(text), inputs)          # or Plan(steps=[maker.from_call(c) for c in calls])
    for step in plan.steps:
        maker.show(step)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import CallInputs
from vitron_agent.graphs.plan import Plan, PlanStep, steps_from_invocations, with_defaults
from vitron_agent.graphs.preview import draw_region_preview
from vitron_agent.invocation import Invocation
from vitron_agent.regions import Box
from vitron_agent.tools import Tool, describe_call, validated_args

__all__ = ["StepMaker"]


class StepMaker:
    """Plan steps from planner output, over one set of tools, one store, one workspace's defaults, and the runner
    that says where a call runs (this machine, or a Ray Serve deployment) and whether it can run there."""

    def __init__(self, tools: Mapping[str, Tool], store: ArtifactStore,
                 defaults: Callable[[str], dict[str, Any]], runner: Any) -> None:
        self.tools, self.store, self.defaults, self.runner = tools, store, defaults, runner

    def from_text(self, invocations: list[Invocation], inputs: CallInputs) -> Plan:
        """A plan from Vitron text already read into invocations (one step each).

        Raises:
            CallError: an invocation that can't become a call.
        """
        steps = []
        for tool, call, invocation in steps_from_invocations(invocations, inputs, self.tools):
            args, noted = with_defaults(tool, call, self.defaults(tool.name), self.store.find)
            steps.append(PlanStep(tool=tool.name, module=invocation.module.value, args=args,
                                  notes=[*getattr(call, "notes", ()), *invocation.problems, *noted]))
        return Plan(response=" ".join(i.response for i in invocations if i.response), steps=steps)

    def from_call(self, call: Mapping[str, Any]) -> PlanStep:
        """One step from a typed call (``{"name", "args"}``).

        Raises:
            LookupError: no such tool. ValueError, CallError: arguments that are not an object, or invalid.
        """
        tool = self.tools.get(call.get("name"))
        if tool is None:
            known = ", ".join(sorted(self.tools))
            raise LookupError(f"unknown tool {call.get('name')!r}; the tools are {known}")
        if not isinstance(call.get("args"), Mapping):
            raise ValueError(f"the arguments of {tool.name} must be an object of named values, "
                             f"not {type(call.get('args')).__name__}")
        call_args = validated_args(tool, call["args"], self.store.find)
        args, noted = with_defaults(tool, call_args, self.defaults(tool.name), self.store.find)
        return PlanStep(tool=tool.name, module=tool.module.value if tool.module else None,
                        args=args, notes=[*getattr(call_args, "notes", ()), *noted])

    def show(self, step: PlanStep, *, preview: bool = True) -> None:
        """Fill in what the review shows beside the step: its preview (unless kept from before) and
        :meth:`describe`."""
        if preview:
            step.preview = self.preview(step)
        self.describe(step)

    def describe(self, step: PlanStep) -> None:
        """What the tool says will run (backend, checkpoint), when it can tell, where, and whether it can run
        there."""
        tool = self.tools[step.tool]
        runs_on, where = describe_call(tool, step.args, self.store.root), self.runner.where(tool, step.args)
        step.backend = ", on ".join(part for part in (runs_on.backend if runs_on else "", where) if part) or None
        step.readiness = self.runner.readiness(tool, step.args)

    def preview(self, step: PlanStep) -> str | None:
        """The region drawn on its image, as an artifact the review can show (None when there is no region, or
        the image is a later step's output that does not exist yet)."""
        region, media = step.args.get("region"), step.args.get("image") or step.args.get("video")
        if not region or not media or str(media).startswith("@"):
            return None
        try:
            return draw_region_preview(self.store, media, Box.model_validate(region), step.args.get("frame", 0)).id
        except Exception:  # a preview is a courtesy; its failure must not block the decision
            return None
