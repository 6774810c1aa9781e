"""Typed tool calls: one pydantic model per Vitron module, and the step from an invocation to a call.

Each model is named after its tool and carries the tool's whole argument list, validated: media by artifact id,
regions as pixel :class:`~vitron_agent.regions.Box` es, sizes, steps and seeds within sane bounds. Their JSON
schemas are what LangChain tool schemas are made from, so a chat model and Vitron end in the same types.

:func:`call_from_invocation` turns a parsed Vitron output plus what the person attached into the right call, or
raises one :class:`CallError` whose message says what is missing or wrong in words a planner can act on.

Usage::

    inputs = CallInputs(attachments=[Attachment(ref=photo.id, kind="image", width=640, height=480)])
    call = call_from_invocation(parse_invocation(text), inputs)
    call.tool, call.model_dump()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema

from vitron_agent.invocation import Invocation, Module
from vitron_agent.regions import Box, RegionError, region_to_pixels

if TYPE_CHECKING:
    from vitron_agent.artifacts import Artifact

__all__ = [
    "CALLS",
    "AnimateImage",
    "Attachment",
    "CallError",
    "CallInputs",
    "EditImage",
    "EditVideo",
    "GenerateImage",
    "GenerateVideo",
    "GroundedBox",
    "Point",
    "SegmentImage",
    "SegmentVideo",
    "ToolCall",
    "call_from_invocation",
    "latest_attachment",
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
    """Common base: frozen, no unknown arguments, and notes made while building the call (shown in review)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: ClassVar[str]
    module: ClassVar[Module]

    notes: SkipJsonSchema[tuple[str, ...]] = ()

    def arguments(self) -> dict[str, Any]:
        """The arguments as JSON-able data, without the notes: what a record of the call keeps."""
        return self.model_dump(mode="json", exclude={"notes"})

    def record(self) -> dict[str, Any]:
        """``{"tool": ..., "args": ...}``, the form the artifact store keeps as an artifact's producing call."""
        return {"tool": self.tool, "args": self.arguments()}


def _one_of(model: BaseModel, fields: tuple[str, ...], what: str) -> None:
    if all(getattr(model, name) in (None, [], (), "") for name in fields):
        raise ValueError(f"give {what}")


class GenerateImage(ToolCall):
    """A: text-to-image; with boxes and phrases, grounded generation."""

    tool: ClassVar[str] = "generate_image"
    module: ClassVar[Module] = Module.A

    prompt: Prompt
    boxes: list[GroundedBox] = Field(default_factory=list, max_length=16)
    width: Side = 512
    height: Side = 512
    steps: Steps = 30
    guidance_scale: Guidance = 7.5
    seed: Seed = None

    @model_validator(mode="after")
    def _boxes_inside(self) -> GenerateImage:
        for index, grounded in enumerate(self.boxes):
            box = grounded.box
            if box.x1 < 0 or box.y1 < 0 or box.x2 > self.width or box.y2 > self.height:
                raise ValueError(f"boxes[{index}] {box.as_tuple()} does not fit the {self.width} x {self.height} image")
        return self


class SegmentImage(ToolCall):
    """B: segment an object in an image, given by name, by box, or by clicks."""

    tool: ClassVar[str] = "segment_image"
    module: ClassVar[Module] = Module.B

    image: ArtifactRef
    target: Target = None
    region: Box | None = None
    points: list[Point] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _something_to_segment(self) -> SegmentImage:
        _one_of(self, ("target", "region", "points"), "a target, a region or points: what should be segmented?")
        return self


class EditImage(ToolCall):
    """C: edit an image; inside a target or region by inpainting, else by instruction. Prompts apply in order."""

    tool: ClassVar[str] = "edit_image"
    module: ClassVar[Module] = Module.C

    image: ArtifactRef
    prompts: list[Prompt] = Field(min_length=1, max_length=8)
    target: Target = None
    region: Box | None = None
    steps: Steps = 30
    guidance_scale: Guidance = 7.5
    seed: Seed = None


class GenerateVideo(ToolCall):
    """D: text-to-video."""

    tool: ClassVar[str] = "generate_video"
    module: ClassVar[Module] = Module.D

    prompt: Prompt
    num_frames: Frames = 16
    fps: Fps = 8.0
    width: Side = 576
    height: Side = 320
    steps: Steps = 25
    guidance_scale: Guidance = 9.0
    seed: Seed = None


class SegmentVideo(ToolCall):
    """E: segment an object and track it through a video; the region is drawn on frame ``frame``."""

    tool: ClassVar[str] = "segment_video"
    module: ClassVar[Module] = Module.E

    video: ArtifactRef
    target: Target = None
    region: Box | None = None
    frame: FrameIndex = 0

    @model_validator(mode="after")
    def _something_to_track(self) -> SegmentVideo:
        _one_of(self, ("target", "region"), "a target or a region: what should be tracked?")
        return self


class EditVideo(ToolCall):
    """F: change a video's foreground (the tracked target) and/or its background, each with its own prompt."""

    tool: ClassVar[str] = "edit_video"
    module: ClassVar[Module] = Module.F

    video: ArtifactRef
    foreground: str | None = Field(default=None, min_length=1, max_length=2000)
    background: str | None = Field(default=None, min_length=1, max_length=2000)
    target: Target = None
    region: Box | None = None
    frame: FrameIndex = 0
    steps: Steps = 25
    guidance_scale: Guidance = 7.5
    seed: Seed = None

    @model_validator(mode="after")
    def _some_prompt(self) -> EditVideo:
        _one_of(self, ("foreground", "background"), "a foreground prompt, a background prompt, or both")
        return self


class AnimateImage(ToolCall):
    """G: image-to-video."""

    tool: ClassVar[str] = "animate_image"
    module: ClassVar[Module] = Module.G

    image: ArtifactRef
    prompt: Prompt
    num_frames: Frames = 16
    fps: Fps = 8.0
    steps: Steps = 25
    guidance_scale: Guidance = 9.0
    seed: Seed = None


CALLS: dict[Module, type[ToolCall]] = {
    model.module: model
    for model in (GenerateImage, SegmentImage, EditImage, GenerateVideo, SegmentVideo, EditVideo, AnimateImage)
}
"""The call model of each module; ``CALLS[m].tool == m.tool``."""


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

    def latest(self, kind: Literal["image", "video"]) -> Attachment | None:
        return latest_attachment(self.attachments, kind)


def latest_attachment(attachments: Sequence[Attachment], kind: Literal["image", "video"]) -> Attachment | None:
    """The last attachment of ``kind`` (attachments are kept latest last), or None."""
    return next((a for a in reversed(attachments) if a.kind == kind), None)


def call_from_invocation(invocation: Invocation, inputs: CallInputs | None = None) -> ToolCall | None:
    """Turn a parsed planner output into the typed call for its module.

    The person's region, when given, wins over the planner's; a planner's region is read in Vitron's
    224 x 224 frame (or as fractions of the image) and mapped to pixels. Regions are clipped to the image, with
    a note in ``call.notes``.

    Args:
        invocation: from :func:`~vitron_agent.invocation.parse_invocation`.
        inputs: the person's attachments and region.

    Returns:
        The call, or None for understanding (no module and no instruction: the response is the answer).

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
    model = CALLS[module]
    if not invocation.commands:
        raise CallError(
            f"module {module.value} ({module.human_name}) needs an instruction such as "
            f"<instruction>task: what to do</instruction>, and none was given"
        )
    notes: list[str] = []
    fields = _BUILDERS[module](invocation, inputs, notes)
    try:
        return model(**fields, notes=tuple(notes))
    except ValidationError as error:
        raise CallError.from_validation(model.tool, error) from None


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
        notes.append(f"{CALLS[invocation.module].tool} takes no region; the region was ignored")  # type: ignore[index]


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
    return {"image": image.ref, "target": invocation.commands[0].text, "region": region}


def _edit_image(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> dict[str, Any]:
    image = _media(inputs, "image", Module.C)
    prompts = [part.strip() for command in invocation.commands for part in command.text.split(";") if part.strip()]
    return {"image": image.ref, "prompts": prompts, "region": _region(invocation, inputs, image.size, notes)}


def _segment_video(invocation: Invocation, inputs: CallInputs, notes: list[str]) -> dict[str, Any]:
    video = _media(inputs, "video", Module.E)
    _only_first(invocation, notes)
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
    region = _region(invocation, inputs, video.size, notes)
    return {"video": video.ref, **slots, "region": region, "frame": inputs.frame}


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
