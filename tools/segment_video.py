"""segment_video (Vitron's module E): one object segmented and tracked through a clip.

Prompted with a box, clicks or words on one frame, then propagated through the whole clip: SAM2's video
predictor when its weights resolve, else OpenCV's MIL tracker carrying the box with GrabCut on every frame.
Produces the per-frame masks, losslessly, as a compressed NumPy archive (``.npz``; ``masks`` is a boolean
``(frames, height, width)`` array; ``numpy.load(path)["masks"]``), and an overlay mp4 at the source fps. Progress
is reported per frame; the clip is bounded by the media limits of :mod:`vitron_agent.media`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import model_validator

from vitron_agent.calls import ArtifactRef, FrameIndex, Target, ToolCall, one_of
from vitron_agent.invocation import Module
from vitron_agent.media import encode_video, load_video
from vitron_agent.readiness import RunsOn
from vitron_agent.regions import Box
from vitron_agent.tools.backends import segmentation
from vitron_agent.tools.base import ToolContext, ToolResult
from vitron_agent.weights import Family

__all__ = ["SegmentVideo", "SegmentVideoTool"]


class SegmentVideo(ToolCall):
    """E: segment an object and track it through a video; the region is drawn on frame ``frame``."""

    video: ArtifactRef
    target: Target = None
    region: Box | None = None
    frame: FrameIndex = 0

    @model_validator(mode="after")
    def _something_to_track(self) -> SegmentVideo:
        one_of(self, ("target", "region"), "a target or a region: what should be tracked?")
        return self


class SegmentVideoTool:
    name: ClassVar[str] = "segment_video"
    module: ClassVar[Module] = Module.E
    description: ClassVar[str] = (
        "Find one object in a video (in words, or by a box on one frame) and track it through the clip: a "
        "mask per frame and an overlay."
    )
    Args: ClassVar[type[SegmentVideo]] = SegmentVideo
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("masks",)
    weight_families: ClassVar[tuple[Family, ...]] = segmentation.WEIGHT_FAMILIES

    def describe(self, args: dict[str, Any], workspace: Path) -> RunsOn:
        """The backend that will run, shown with the decision."""
        return segmentation.describe_backend(workspace, words_only=not args.get("region"))

    def run(self, args: SegmentVideo, ctx: ToolContext) -> ToolResult:
        # 1. Read the input
        source = ctx.store.get(args.video)
        video = load_video(ctx.store.local_path(source))
        # 2. Find the object on the prompted frame and track it through the clip
        def on_frame(done: int, index: int) -> None:
            ctx.report(done, len(video), f"frame {index}")
            ctx.check_cancelled()

        masks, backend = segmentation.track_masks(video.frames, start=args.frame, box=args.region,
                                                  target=args.target, workspace=ctx.store.root, models=ctx.models,
                                                  on_frame=on_frame)
        # 3. Store the masks and the overlay video
        overlay = np.stack([segmentation.overlay(frame, mask) for frame, mask in zip(video.frames, masks)])
        meta = {"width": video.size[0], "height": video.size[1], "frames": len(video), "fps": video.fps,
                "backend": backend.name, "frames_with_object": int(masks.any(axis=(1, 2)).sum())}
        common = {"parents": [source.id], "call": ctx.call, "model_id": backend.model_id, "meta": meta}
        stored = ctx.store.add(segmentation.masks_npz(masks), kind="masks", suffix=".npz", **common)
        preview = ctx.store.add(encode_video(overlay, video.fps), kind="video", suffix=".mp4", **common)
        return ToolResult(
            artifacts=(stored.id, preview.id),
            text=f"Tracked {repr(args.target) if args.target else 'the region'} with {backend.name} through "
                 f"{len(video)} frames; it is present in {meta['frames_with_object']}.",
        )
