"""Plans: an ordered list of typed calls, where a step may use an earlier step's output.

A step names an earlier one's output with a reference in a media argument: ``"@2"`` is step 2's image (in an
``image`` argument) or video (in a ``video`` argument); ``"@2.mask"`` names the kind. References are checked
before anything runs (the step must come earlier and produce that kind, as its tool's ``outputs`` declares) and
replaced by artifact ids just before a step runs.

A planner's text may hold several Vitron invocations in a row; each becomes a step, and each step's media is the
latest image or video so far, counting what the earlier steps will make (``generate_image`` makes an image that
``edit_image`` then edits). A single call is a plan of one step, so the graph has one path.

Usage::

    plan = Plan(steps=[PlanStep(tool=name, args=args) for name, args in calls])
    problems = check_references(plan, {"generate_image": ["image"]})  # [] when every reference can be met
    args = resolve_references(step.args, plan, lambda ref: store.get(ref).kind)  # just before the step runs
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from vitron_agent.calls import Attachment, CallInputs, call_from_invocation
from vitron_agent.invocation import Invocation, parse_invocation
from vitron_agent.readiness import Readiness

__all__ = [
    "MEDIA_FIELDS",
    "Plan",
    "PlanStep",
    "StepStatus",
    "check_references",
    "complete_calls",
    "parse_plan",
    "plain_output",
    "resolve_references",
    "steps_from_invocations",
    "with_defaults",
]

StepStatus = Literal["planned", "approved", "done", "failed", "cancelled"]
CANCELLED = "Cancelled {tool}; nothing ran."
STOPPED = "Stopped the plan before step {number}; steps 1 to {done} are kept."

MEDIA_FIELDS: dict[str, str] = {"image": "image", "video": "video", "mask": "mask"}
"""Arguments that take an artifact, and the kind a reference there means by default."""

_REFERENCE = re.compile(r"@(\d+)(?:\.([a-z_]+))?")
_TAG = re.compile(r"<\s*module\s*>", re.IGNORECASE)


class PlanStep(BaseModel):
    """One call of a plan, with what became of it."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    tool: str
    module: str | None = None
    args: dict[str, Any]
    notes: list[str] = []
    changed: list[str] = []
    preview: str | None = None
    backend: str | None = None
    readiness: Readiness = Readiness()
    """whether the call can run on this machine, told before it is approved"""
    status: StepStatus = "planned"
    decision: str | None = None
    artifacts: list[str] = []
    candidates: list[str] = []
    """when the step made several candidates: their ids, in order (the plan waits for a choice)"""
    chosen: str | None = None
    """the candidate the person chose: what ``@N`` means from then on"""
    message: str = ""


class Plan(BaseModel):
    """The calls a planner proposed for one request, in order; kept in the graph state as plain data."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    response: str = ""
    steps: list[PlanStep]
    error: str | None = None
    """why the person's last edit or removal was refused, or why the last step failed"""

    def waiting_choice(self) -> int | None:
        """The index of a finished step whose candidates wait for the person's choice, or None."""
        return next((i for i, step in enumerate(self.steps)
                     if step.status == "done" and step.candidates and step.chosen is None), None)

    def next_step(self, *statuses: StepStatus) -> int | None:
        """The index of the first step in one of ``statuses``, or None."""
        return next((i for i, step in enumerate(self.steps) if step.status in statuses), None)

    def done_text(self) -> str:
        """The answer a plan ends with: each finished step's message (numbered when there are several)."""
        done = [(i + 1, step) for i, step in enumerate(self.steps) if step.status == "done"]
        if len(self.steps) == 1:
            return done[0][1].message if done else ""
        return " ".join(f"{number}. {step.message}" for number, step in done)

    def cancelled_text(self) -> str:
        """The answer when the person cancels: nothing ran, or the plan stopped after the finished steps."""
        first = self.next_step("cancelled")
        if first == 0 or first is None:
            return CANCELLED.format(tool=self.steps[0].tool if len(self.steps) == 1 else "the plan")
        return STOPPED.format(number=first + 1, done=first)


def plain_output(output: Any, tools: Mapping[str, Any]) -> Any:
    """Planner output as checkpointable data: text, or a list of ``{"name", "args"}`` calls (a typed call is
    named by the tool whose ``Args`` it is)."""
    from pydantic import BaseModel

    from vitron_agent.tools import call_arguments

    if isinstance(output, str):
        return output
    if isinstance(output, (BaseModel, Mapping)):
        output = [output]
    if isinstance(output, (list, tuple)) and output:
        calls = []
        for call in output:
            if isinstance(call, BaseModel):
                tool = next((t for t in tools.values() if type(call) is t.Args), None)
                if tool is None:
                    return f"a call of arguments {type(call).__name__}, which no installed tool takes"
                calls.append({"name": tool.name, "args": call_arguments(call)})
            elif isinstance(call, Mapping) and "name" in call:
                args = call.get("args") or {}
                calls.append({"name": str(call["name"]), "args": dict(args) if isinstance(args, Mapping) else args})
            else:
                return str(output)
        return calls
    return str(output)


def parse_plan(text: str) -> list[Invocation]:
    """Read a planner's text as one invocation per ``<module>`` tag, in order; the words before the first tag are
    the response. Text with at most one module is exactly :func:`parse_invocation`."""
    starts = [match.start() for match in _TAG.finditer(text)]
    if len(starts) <= 1:
        return [parse_invocation(text)]
    bounds = [0, *starts[1:], len(text)]
    return [parse_invocation(text[start:end]) for start, end in zip(bounds, bounds[1:])]


def steps_from_invocations(invocations: Sequence[Invocation], inputs: CallInputs,
                           tools: Mapping[str, Any]) -> list[tuple[Any, Any, Invocation]]:
    """The tool and typed call of each invocation, where each step's media is the latest so far: the person's
    attachments, then what earlier steps make (as references ``@N``). The person's region goes to the first step;
    the person's mask, or the mask an earlier step makes (``@N.mask``: "segment the dog, then paint it red"), to
    the next edit that names no region of its own.

    Raises:
        CallError: an invocation that cannot become a call (the message names the step when there are several).
    """
    from vitron_agent.calls import CallError
    from vitron_agent.tools import made_kind, tool_for_module

    known = list(inputs.attachments)
    steps = []
    mask = inputs.mask
    for number, invocation in enumerate(invocations, start=1):
        step_inputs = inputs.model_copy(update={"attachments": tuple(known),
                                                "region": inputs.region if number == 1 else None,
                                                "points": inputs.points if number == 1 else (),
                                                "mask": mask if invocation.region is None or number == 1 else None})
        try:
            call = call_from_invocation(invocation, step_inputs, tools=tools)
        except CallError as error:
            if len(invocations) == 1:
                raise
            raise CallError(f"step {number}: {error}") from None
        if call is None:
            raise CallError(f"step {number} names no module; every step of a plan must call one")
        tool = tool_for_module(tools, invocation.module)
        steps.append((tool, call, invocation))
        if "mask" in (getattr(tool, "outputs", None) or ()):
            mask = f"@{number}.mask"  # what a later edit repaints, unless it names its own region
        elif call.arguments().get("mask"):
            mask = None  # taken up
        made = made_kind(tool)
        if made is not None:
            width, height = _made_size(call.arguments(), known)
            known.append(Attachment(ref=f"@{number}", kind=made, width=width, height=height))
    return steps


def complete_calls(calls: Sequence[Mapping[str, Any]], attachments: Sequence[Attachment], region: Any,
                   tools: Mapping[str, Any], mask: str | None = None,
                   points: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Typed calls (``{"name", "args"}``) with what they may leave out filled in: a media argument means the
    latest so far of its kind (an attachment, or what an earlier call makes, as ``@N``), and the person's region,
    mask and clicks each go to the first call that takes them and gives none."""
    from vitron_agent.tools import made_kind

    known = [(a.ref, a.kind) for a in attachments]
    completed = []
    for number, call in enumerate(calls, start=1):
        if not isinstance(call.get("args"), Mapping):  # validation says what is wrong with it
            completed.append(dict(call))
            continue
        args = dict(call["args"])
        tool = tools.get(call.get("name"))
        fields = tool.Args.model_fields if tool is not None else {}
        for field, kind in MEDIA_FIELDS.items():
            if kind == "mask":  # a mask is never implied: it is given, or made by a step that says so
                continue
            latest = next((ref for ref, known_kind in reversed(known) if known_kind == kind), None)
            if field in fields and not args.get(field) and latest is not None:
                args[field] = latest
        if mask is not None and "mask" in fields and not args.get("mask") and not args.get("region"):
            args["mask"], mask, region = mask, None, None
        if region is not None and "region" in fields and not args.get("region"):
            args["region"], region = list(region.as_tuple()), None
        if points and "points" in fields and not args.get("points"):
            args["points"], points = [point.model_dump() for point in points], ()
        made = made_kind(tool) if tool is not None else None
        if made is not None:
            known.append((f"@{number}", made))
        completed.append({**call, "args": args})
    return completed


def check_references(plan: Plan, outputs: Mapping[str, Sequence[str] | None]) -> list[str]:
    """What is wrong with the plan's references, as lines the planner or the person can act on.

    Args:
        outputs: each tool's declared output kinds (None: undeclared, so any reference to it is allowed).
    """
    problems = []
    for index, step in enumerate(plan.steps):
        for field, value in step.args.items():
            reference = _reference(field, value)
            if reference is None:
                continue
            number, kind = reference
            if not 1 <= number <= index:
                problems.append(f"step {index + 1} uses {value} in {field}, but only steps 1 to {index} come before it"
                                if index else f"step 1 uses {value} in {field}, but no step comes before it")
                continue
            made = outputs.get(plan.steps[number - 1].tool)
            if made is not None and kind not in made:
                problems.append(f"step {index + 1} uses {value} in {field}, but step {number} "
                                f"({plan.steps[number - 1].tool}) makes {', '.join(made) or 'nothing'}, not {kind}")
    return problems


def resolve_references(args: Mapping[str, Any], plan: Plan, kind_of: Any) -> dict[str, Any]:
    """``args`` with each reference replaced by the id of the artifact it names.

    Args:
        kind_of: ``artifact id -> kind`` (the store's).

    Raises:
        LookupError: the referenced step has not finished, or made nothing of that kind.
    """
    resolved = dict(args)
    for field, value in args.items():
        reference = _reference(field, value)
        if reference is None:
            continue
        number, kind = reference
        source = plan.steps[number - 1]
        if source.status != "done":
            raise LookupError(f"{value} in {field}: step {number} has not finished")
        if source.candidates and kind_of(source.candidates[0]) == kind:
            if source.chosen is None:
                raise LookupError(f"{value} in {field}: step {number} made {len(source.candidates)} candidates and "
                                  "none is chosen yet")
            resolved[field] = source.chosen
            continue
        found = next((a for a in source.artifacts if kind_of(a) == kind), None)
        if found is None:
            raise LookupError(f"{value} in {field}: step {number} made no {kind}")
        resolved[field] = found
    return resolved


def renumber_after_removal(args: Mapping[str, Any], removed: int) -> dict[str, Any]:
    """References shifted down after step ``removed`` (1-based) left the plan."""
    moved = dict(args)
    for field, value in args.items():
        reference = _reference(field, value)
        if reference is not None and reference[0] > removed:
            number, kind = reference
            suffix = "" if kind == MEDIA_FIELDS[field] else f".{kind}"
            moved[field] = f"@{number - 1}{suffix}"
    return moved


def references_to(plan: Plan, number: int) -> list[int]:
    """The (1-based) steps whose arguments refer to step ``number``."""
    return [index + 1 for index, step in enumerate(plan.steps)
            if any((_reference(f, v) or (0, ""))[0] == number for f, v in step.args.items())]


def _reference(field: str, value: Any) -> tuple[int, str] | None:
    if field not in MEDIA_FIELDS or not isinstance(value, str):
        return None
    match = _REFERENCE.fullmatch(value.strip())
    if match is None:
        return None
    return int(match.group(1)), match.group(2) or MEDIA_FIELDS[field]


def _made_size(args: Mapping[str, Any], known: Sequence[Attachment]) -> tuple[int, int]:
    """The size of what a step makes: its width and height arguments, else the size of its input."""
    if args.get("width") and args.get("height"):
        return int(args["width"]), int(args["height"])
    source = args.get("image") or args.get("video")
    match = next((a for a in reversed(known) if a.ref == source), None)
    return match.size if match else (512, 512)


def with_defaults(tool: Any, call: Any, defaults: Mapping[str, Any], find: Any) -> tuple[dict[str, Any], list[str]]:
    """A validated call's arguments, with the workspace's defaults for the tool (``[defaults.<tool>]``) put in
    for the ones the planner left out, validated again; and a note for each default the tool has no argument for.

    Raises:
        CallError: a default the tool's arguments refuse (the message names it).
    """
    from vitron_agent.tools import call_arguments, validated_args

    fields = tool.Args.model_fields
    notes = [f"[defaults.{tool.name}] {name} is not an argument of {tool.name}; it was ignored"
             for name in defaults if name not in fields]
    unset = {name: value for name, value in defaults.items() if name in fields and name not in call.model_fields_set}
    if not unset:
        return call_arguments(call), notes
    return call_arguments(validated_args(tool, {**call_arguments(call), **unset}, find)), notes
