"""What every tool call shares, and the step from Vitron's text to a call.

Each tool declares its own typed arguments in its own file (``tools/segment_image.py`` declares
``SegmentImage``); they are built from the shared field types here (media by artifact id, regions as pixel
:class:`~vitron_agent.regions.Box` es, sizes, steps and seeds within sane bounds) on the :class:`ToolCall` base.
Their JSON schemas are what chat models, LangChain and MCP see, so a chat model and Vitron end in the same types.

What stays here is Vitron's side: one builder per module turns an invocation plus what the person attached into
the arguments, and :func:`call_from_invocation` validates them with the arguments of the tool that serves the
module, or raises one :class:`CallError` whose message says what is missing or wrong in words a planner can act
on.

Usage::

    inputs = CallInputs(attachments=[Attachment(ref=photo.id, kind="image", width=640, height=480)])
    call = call_from_invocation(parse_invocation(text), inputs)      # the serving tool's Args
    call.arguments()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from pydantic.json_schema import SkipJsonSchema

from vitron_agent.invocation import Invocation, Module
from vitron_agent.regions import Box, RegionError, region_to_pixels

if TYPE_CHECKING:
    from vitron_agent.artifacts import Artifact

__all__ = [
    "ArtifactRef",
    "Attachment",
    "CallError",
    "CallInputs",
    "Candidates",
    "FrameIndex",
    "Fps",
    "Frames",
    "GroundedBox",
    "Guidance",
    "Point",
    "Prompt",
    "Seed",
    "Side",
    "Steps",
    "Target",
    "ToolCall",
    "call_from_invocation",
    "check_mask",
    "fit_to_media",
    "latest_attachment",
    "one_of",
]


class CallError(ValueError):
    """A planner's output that cannot become a tool call; the message says what to change."""

    @classmethod
    def from_validation(cls, tool: str, error: ValidationError) -> CallError:
        lines = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "arguments"
            lines.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
        return cls(f"{tool} arguments are invalid:\n" + "\n".join(lines))


ArtifactRef = Annotated[str, Field(min_length=1, max_length=200, description=(
    "Id of an artifact in the store, or @N for what step N of this plan makes (@2 is step 2's image or video)."))]
Prompt = Annotated[str, Field(min_length=1, max_length=2000)]
Seed = Annotated[int | None, Field(default=None, ge=0, le=2**63 - 1, description="Fixed seed; None picks one.")]
Steps = Annotated[int, Field(ge=1, le=200, description="Denoising steps.")]
Guidance = Annotated[float, Field(ge=0.0, le=50.0, description="Classifier-free guidance scale.")]
Side = Annotated[int, Field(ge=64, le=2048, multiple_of=8)]
Candidates = Annotated[int, Field(ge=1, le=4, description=(
    "How many results to make, from seeds seed, seed+1, ...; with more than one, the person chooses one."))]
Frames = Annotated[int, Field(ge=1, le=128)]
Fps = Annotated[float, Field(gt=0.0, le=60.0)]
Target = Annotated[str | None, Field(default=None, min_length=1, max_length=500, description="What, in words.")]
FrameIndex = Annotated[int, Field(default=0, ge=0, description="The frame the region is drawn on.")]


class Point(BaseModel):
    """A click in pixels; positive points mark the object, negative ones mark what is not it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float = Field(allow_inf_nan=False)
    y: float = Field(allow_inf_nan=False)
    positive: bool = True


class GroundedBox(BaseModel):
    """A phrase and where it goes in a generated image (GLIGEN-style grounding)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phrase: str = Field(min_length=1, max_length=200)
    box: Box


class ToolCall(BaseModel):
    """The base of every tool's arguments: frozen, no unknown arguments, and the notes made while building the
    call from a planner's output (shown in review, never part of the arguments)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    notes: SkipJsonSchema[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _fit_to_media(cls, data: Any, info: ValidationInfo) -> Any:
        """With ``context={"media": ref -> Artifact | None}`` (the store's ``find``, see ``validated_args``), the
        image or video a call names is checked, whoever made the call (Vitron's text, a chat model, MCP,
        LangChain): an unfinished run's output is refused, a region is clipped to the media's size, and clicks
        outside it are refused. Media not stored yet (a later step's ``@N``) is checked when the step runs."""
        find = (info.context or {}).get("media")
        if find is not None and isinstance(data, Mapping) and isinstance(data.get("mask"), str):
            mask = find(data["mask"])
            if mask is not None:  # an unknown id is the tool's to report
                check_mask(mask)
        ref = data.get("image") or data.get("video") if isinstance(data, Mapping) else None
        artifact = find(ref) if find is not None and isinstance(ref, str) else None
        if artifact is None:
            return data
        if artifact.unfinished:
            raise ValueError(artifact.left_unfinished())
        width, height = artifact.meta.get("width"), artifact.meta.get("height")
        if not (isinstance(width, int) and isinstance(height, int)):
            return data
        return fit_to_media(data, (width, height))

    def arguments(self) -> dict[str, Any]:
        """The arguments as JSON-able data, without the notes: what a record of the call keeps."""
        return self.model_dump(mode="json", exclude={"notes"})


def check_mask(artifact: Artifact) -> None:
    """An artifact given as a mask must be a finished run's mask.

    Raises:
        ValueError: it is another kind of artifact, or an unfinished run's.
    """
    if artifact.kind != "mask":
        raise ValueError(f"mask {artifact.id} is {artifact.kind_text}, not a mask; give a mask from segment_image, or "
                         "a sketch imported as a mask")
    if artifact.unfinished:
        raise ValueError(f"mask {artifact.left_unfinished()}")


def fit_to_media(data: Mapping[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    """A call's raw arguments with its ``region`` clipped to ``size`` (noted), and its ``points`` checked to lie on
    it.

    Raises:
        ValueError: a malformed region, one wholly outside, or a click outside; the message says which and the size.
    """
    fitted = dict(data)
    if fitted.get("region") is not None:
        try:
            box = fitted["region"] if isinstance(fitted["region"], Box) else Box.model_validate(fitted["region"])
        except ValidationError as error:
            raise ValueError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None
        box, note = box.clipped(size)
        fitted["region"] = box
        if note:
            fitted["notes"] = (*fitted.get("notes", ()), note)
    width, height = size
    for index, point in enumerate(fitted.get("points") or ()):
        x, y = (point.x, point.y) if isinstance(point, Point) else (point.get("x"), point.get("y"))
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"points[{index}] ({x:g}, {y:g}) is outside the {width} x {height} image; "
                             f"give 0 <= x < {width} and 0 <= y < {height}")
    return fitted


def one_of(model: BaseModel, fields: tuple[str, ...], what: str) -> None:
    """For a model validator: at least one of ``fields`` must be given.

    Raises:
        ValueError: "give <what>".
    """
    if all(getattr(model, name) in (None, [], (), "") for name in fields):
        raise ValueError(f"give {what}")


class Attachment(BaseModel):
    """Media the person attached, as the planner's call will refer to it."""

    model_config = ConfigDict(frozen=True)

    ref: ArtifactRef
    kind: Literal["image", "video"]
    width: int = Field(gt=0)
    height: int = Field(gt=0)

    @classmethod
    def from_artifact(cls, artifact: Artifact) -> Attachment:
        """Describe a stored image or video (its ``meta`` must hold width and height, as imports record)."""
        kind = "video" if artifact.media_type.startswith("video/") else "image"
        try:
            return cls(ref=artifact.id, kind=kind, width=artifact.meta["width"], height=artifact.meta["height"])
        except KeyError:
            raise ValueError(f"artifact {artifact.id} has no recorded size; import it with import_file") from None

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


class CallInputs(BaseModel):
    """What the person supplied beside their words: attachments (latest last) and an optional pixel box."""

    model_config = ConfigDict(frozen=True)

    attachments: tuple[Attachment, ...] = ()
    region: Box | None = None
    """the person's box, in pixels of the latest attachment"""
    frame: FrameIndex = 0
    """the video frame the person's box was drawn on"""
    mask: ArtifactRef | None = None
    """a mask the person gave (a sketch, a segmentation) as the area to change, or ``@N.mask`` in a plan"""
    points: tuple[Point, ...] = ()
    """the person's clicks on the latest image (positive: the object; negative: not it)"""

    def latest(self, kind: Literal["image", "video"]) -> Attachment | None:
        return latest_attachment(self.attachments, kind)


def latest_attachment(attachments: Sequence[Attachment], kind: Literal["image", "video"]) -> Attachment | None:
    """The last attachment of ``kind`` (attachments are kept latest last), or None."""
    return next((a for a in reversed(attachments) if a.kind == kind), None)


def call_from_invocation(invocation: Invocation, inputs: CallInputs | None = None, *,
                         tools: Mapping[str, Any] | None = None) -> ToolCall | None:
    """Turn a parsed planner output into the typed arguments of the tool that serves its module.

    The person's region, when given, wins over the planner's; a planner's region is read in Vitron's
    224 x 224 frame (or as fractions of the image) and mapped to pixels. Regions are clipped to the image, with
    a note in ``call.notes``.

    Args:
        invocation: from :func:`~vitron_agent.invocation.parse_invocation`.
        inputs: the person's attachments and region.
        tools: the tools to choose from, by name; the built-in ones by default.

    Returns:
        The serving tool's ``Args``, or None for understanding (no module and no instruction: the response is
        the answer).

    Raises:
        CallError: what is missing or wrong, in words a planner can act on.

    Example:
        >>> from vitron_agent import parse_invocation
        >>> inv = parse_invocation("<module>D</module><instruction>video generation: a cat surfing</instruction>")
        >>> call_from_invocation(inv).prompt
        'a cat surfing'
    """
    inputs = inputs or CallInputs()
    module = invocation.module
    if module is None:
        if not invocation.commands:
            return None
        known = ", ".join(f"{m.value} ({m.human_name})" for m in Module)
        why = "".join(f" ({p})" for p in invocation.problems if p.startswith("unknown module"))
        raise CallError(
            f"the output has an <instruction> but no valid <module>{why}; add <module>X</module> with X one of "
            + known
        )
    from vitron_agent.tools import builtin_tools, tool_for_module

    tool = tool_for_module(builtin_tools() if tools is None else tools, module)
    if tool is None:
        raise CallError(f"no installed tool serves module {module.value} ({module.human_name}); answer in words "
                        "instead")
    if not invocation.commands:
        raise CallError(
            f"module {module.value} ({module.human_name}) needs an instruction such as "
            f"<instruction>task: what to do</instruction>, and none was given"
        )
    notes: list[str] = []
    fields = _BUILDERS[module](invocation, inputs, notes)
    if "notes" in tool.Args.model_fields:
        fields["notes"] = tuple(notes)
    try:
        return tool.Args(**fields)
    except ValidationError as error:
        raise CallError.from_validation(tool.name, error) from None


# -- one builder per module: invocation + inputs -> the call's fields -----------------------------------------

Builder = Callable[[Invocation, CallInputs, list[str]], dict[str, Any]]


def _media(inputs: CallInputs, kind: Literal["image", "video"], module: Module) -> Attachment:
    attachment = inputs.latest(kind)
    if attachment is None:
        raise CallError(
            f"{module.tool} ({module.human_name}) needs {'an' if kind == 'image' else 'a'} {kind}, but none is "
            f"attached; ask the person to attach one, or answer without calling module {module.value}"
        )
    return attachment


def _region(invocation: Invocation, inputs: CallInputs, size: tuple[int, int], notes: list[str]) -> Box | None:
    hint = ""
    try:
        if inputs.region is not None:
            box, source = inputs.region, "the person's region"
            if invocation.region is not None:
                notes.append("used the person's region; the planner's region was ignored")
        elif invocation.region is not None:
            source = f"the planner's region {list(invocation.region)}"
            hint = "; emit <region>x1, y1, x2, y2</region> inside the 224 x 224 frame with x1 < x2 and y1 < y2"
            box = region_to_pixels(invocation.region, size)
        else:
            return None
        clipped, note = box.clipped(size)
    except RegionError as error:
        raise CallError(f"{source} cannot be used: {error}{hint}") from None
    if note:
        notes.append(note)
    return clipped


def _no_region(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> None:
    if invocation.region is not None or inputs.region is not None:
        notes.append(f"{invocation.module.tool} takes no region; the region was ignored")  # type: ignore[union-attr]


def _only_first(invocation: Invocation, notes: list[str], used: int = 1) -> None:
    extra = invocation.commands[used:]
    if extra:
        shown = "; ".join(repr(c.text) for c in extra)
        notes.append(f"ignored {len(extra)} extra instruction(s): {shown}")


def _prompt_only(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> dict[str, Any]:
    """A and D: generation from the instruction text alone."""
    _no_region(invocation, inputs, notes)
    _only_first(invocation, notes)
    return {"prompt": invocation.commands[0].text}


def _segment_image(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> dict[str, Any]:
    image = _media(inputs, "image", Module.B)
    _only_first(invocation, notes)
    region = _region(invocation, inputs, image.size, notes)
    return {"image": image.ref, "target": invocation.commands[0].text, "region": region,
            "points": [point.model_dump() for point in inputs.points]}


def _edit_image(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> dict[str, Any]:
    image = _media(inputs, "image", Module.C)
    prompts = [part.strip() for command in invocation.commands for part in command.text.split(";") if part.strip()]
    return {"image": image.ref, "prompts": prompts, **_area(invocation, inputs, image.size, notes)}


def _area(invocation: Invocation, inputs: CallInputs, size: tuple[int, int], notes: list[str]) -> dict[str, Any]:
    """What an edit changes: the person's mask when there is one (a region beside it is left out, with a note),
    else the region."""
    if inputs.mask is None:
        return {"region": _region(invocation, inputs, size, notes)}
    if invocation.region is not None or inputs.region is not None:
        notes.append("used the mask; the region was ignored")
    return {"mask": inputs.mask}


def _segment_video(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> dict[str, Any]:
    video = _media(inputs, "video", Module.E)
    _only_first(invocation, notes)
    if inputs.points:
        notes.append("segment_video takes a box, not clicks; the clicks were ignored")
    region = _region(invocation, inputs, video.size, notes)
    return {"video": video.ref, "target": invocation.commands[0].text, "region": region, "frame": inputs.frame}


def _edit_video(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> dict[str, Any]:
    """Vitron sends foreground then background; a task named like either overrides the order."""
    video = _media(inputs, "video", Module.F)
    slots: dict[str, str | None] = {"foreground": None, "background": None}
    unnamed = []
    for command in invocation.commands:
        named = "background" if "back" in command.task else "foreground" if "fore" in command.task else None
        if named and slots[named] is None:
            slots[named] = command.text
        else:
            unnamed.append(command.text)
    for text in unnamed:
        free = next((name for name, value in slots.items() if value is None), None)
        if free is None:
            notes.append(f"ignored an extra instruction: {text!r}")
        else:
            slots[free] = text
    return {"video": video.ref, **slots, **_area(invocation, inputs, video.size, notes), "frame": inputs.frame}


def _animate_image(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> dict[str, Any]:
    image = _media(inputs, "image", Module.G)
    _no_region(invocation, inputs, notes)
    _only_first(invocation, notes)
    return {"image": image.ref, "prompt": invocation.commands[0].text}


_BUILDERS: dict[Module, Builder] = {
    Module.A: _prompt_only,
    Module.B: _segment_image,
    Module.C: _edit_image,
    Module.D: _prompt_only,
    Module.E: _segment_video,
    Module.F: _edit_video,
    Module.G: _animate_image,
}
