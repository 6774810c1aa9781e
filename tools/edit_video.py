"""edit_video (Vitron's module F): a new look for the tracked object (foreground) and/or everything else
(background), each from its own prompt.

The object (a box, words, or a mask on one frame) is tracked with the same path as segment_video
(:func:`~vitron_agent.tools.backends.segmentation.track_masks`). Each frame is then repainted with Stable
Diffusion inpainting (weights family ``inpaint``): the foreground prompt inside the frame's mask, the background
prompt outside it. Every frame starts from the same seed, so the same noise, which keeps the frames far more alike
than independent seeds would; outside what each prompt repaints, pixels stay exactly as in the source. The clip
keeps the source's frame count and fps.

Vitron's StableVideo instead edits one neural atlas per layer (foreground and background, learned from the whole
clip) and maps it back to every frame, so an edit is consistent by construction; here consistency comes only
from the shared noise and the masks, so textures can flicker between frames.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from vitron_agent.calls import ArtifactRef, FrameIndex, Guidance, Seed, Steps, Target, ToolCall, one_of
from vitron_agent.invocation import Module
from vitron_agent.media import encode_video, load_video
from vitron_agent.readiness import RunsOn
from vitron_agent.regions import Box
from vitron_agent.tools.backends import segmentation
from vitron_agent.tools.backends.diffusion import load_pipeline, new_seed, pipeline_runs_on
from vitron_agent.tools.base import ToolContext, ToolResult
from vitron_agent.tools.edit_image import INPAINT, INPAINT_PIPELINE, inpaint
from vitron_agent.weights import Family

__all__ = ["EditVideo", "EditVideoTool"]


class EditVideo(ToolCall):
    """F: change a video's foreground (the tracked target) and/or its background, each with its own prompt."""

    video: ArtifactRef
    foreground: str | None = Field(default=None, min_length=1, max_length=2000)
    background: str | None = Field(default=None, min_length=1, max_length=2000)
    target: Target = None
    region: Box | None = None
    mask: ArtifactRef | None = Field(default=None, description=(
        "Id of a mask artifact on frame `frame` (from segment_image, or a sketch imported as a mask), or @N.mask: "
        "the object, tracked through the clip from there."))
    frame: FrameIndex = 0
    steps: Steps = 25
    guidance_scale: Guidance = 7.5
    seed: Seed = None

    @model_validator(mode="after")
    def _some_prompt(self) -> EditVideo:
        one_of(self, ("foreground", "background"), "a foreground prompt, a background prompt, or both")
        return self


class EditVideoTool:
    name: ClassVar[str] = "edit_video"
    module: ClassVar[Module] = Module.F
    description: ClassVar[str] = (
        "Repaint a video's tracked object (foreground) and/or everything else (background), each from its own "
        "prompt."
    )
    Args: ClassVar[type[EditVideo]] = EditVideo
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("video",)
    weight_families: ClassVar[tuple[Family, ...]] = (INPAINT, *segmentation.WEIGHT_FAMILIES)

    def describe(self, args: dict[str, Any], workspace: Path) -> RunsOn:
        """Inpainting per frame, inside masks tracked as segment_video tracks them."""
        tracker = segmentation.describe_backend(workspace, words_only=not (args.get("region") or args.get("mask")))
        painting = pipeline_runs_on(INPAINT, INPAINT_PIPELINE, workspace)
        return RunsOn(f"{painting.backend}; tracking: {tracker.backend}",
                      families=(*painting.families, *tracker.families), packages=tracker.packages,
                      instead=tracker.instead)

    def run(self, args: EditVideo, ctx: ToolContext) -> ToolResult:
        # 1. Read the input
        source = ctx.store.get(args.video)
        video = load_video(ctx.store.local_path(source))
        seed = args.seed if args.seed is not None else new_seed()
        layers = [(prompt, inside) for prompt, inside in ((args.foreground, True), (args.background, False)) if prompt]
        total = len(video) * (1 + len(layers))

        def report(done: int, message: str) -> None:
            ctx.report(done, total, message)
            ctx.check_cancelled()

        # 2. Track the foreground object through the clip (from the given mask's box, when there is one)
        given, box = None, args.region
        if args.mask is not None:
            given, _ = segmentation.read_mask(ctx.store.local_path(args.mask), video.size)
            rows, columns = np.nonzero(given)
            box = Box(x1=int(columns.min()), y1=int(rows.min()), x2=int(columns.max()) + 1, y2=int(rows.max()) + 1)
        masks, backend = segmentation.track_masks(
            video.frames, start=args.frame, box=box, target=args.target, workspace=ctx.store.root,
            models=ctx.models, on_frame=lambda done, index: report(done, f"tracking: frame {index}"))
        if given is not None and args.frame < len(masks):
            masks[args.frame] = given  # the person's own pixels on the frame they marked
        # 3. Repaint each frame, layer by layer, from the same seed
        pipeline, model_id = load_pipeline(ctx, INPAINT, INPAINT_PIPELINE)
        per_frame = replace(ctx, progress=lambda done, total, message: None)  # progress is counted per frame here
        frames = video.frames.copy()
        done = len(video)
        for index in range(len(video)):
            for prompt, inside in layers:
                region = masks[index] if inside else ~masks[index]
                if region.any():
                    frames[index] = inpaint(pipeline, [frames[index]], region, prompt, steps=args.steps,
                                            seeds=[seed], guidance_scale=args.guidance_scale, ctx=per_frame,
                                            label=f"frame {index}")[0]
                done += 1
                report(done, f"{'foreground' if inside else 'background'}: frame {index}")
        # 4. Store the masks and the edited clip
        meta = {"width": video.size[0], "height": video.size[1], "frames": len(video), "fps": video.fps,
                "backend": backend.name, "steps": args.steps, "guidance_scale": args.guidance_scale}
        masks_artifact = ctx.store.add(segmentation.masks_npz(masks), kind="masks", suffix=".npz",
                                       parents=[source.id, *([args.mask] if args.mask else [])], call=ctx.call,
                                       model_id=backend.model_id, meta=meta)
        clip = ctx.store.add(encode_video(frames, video.fps), kind="video", suffix=".mp4",
                             parents=[source.id, masks_artifact.id], call=ctx.call, seed=seed, model_id=model_id,
                             meta=meta)
        changed = " and ".join(("the foreground",) * bool(args.foreground) + ("the background",) * bool(args.background))
        return ToolResult(artifacts=(masks_artifact.id, clip.id),
                          text=f"Repainted {changed} in {len(video)} frames (seed {seed}).")
