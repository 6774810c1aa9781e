"""segment_image (Vitron's module B): a mask of one object in a photo, from a box, clicks, or words.

A region or clicks go straight to the segmenter; a text target with neither is first located with the zero-shot
detector. The segmenter is SAM2 when its weights resolve, else OpenCV's GrabCut (see
:mod:`vitron_agent.tools.backends.segmentation`). Produces a lossless mask (PNG, 0/255) and an overlay preview
(JPEG), both children of the input image, each recording the backend and model that made it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from vitron_agent.calls import ArtifactRef, Point, Target, ToolCall, one_of
from vitron_agent.invocation import Module
from vitron_agent.media import encode_image, load_image
from vitron_agent.readiness import RunsOn
from vitron_agent.regions import Box
from vitron_agent.tools.backends import segmentation
from vitron_agent.tools.base import ToolContext, ToolResult
from vitron_agent.weights import Family

__all__ = ["SegmentImage", "SegmentImageTool"]


class SegmentImage(ToolCall):
    """B: segment an object in an image, given by name, by box, or by clicks."""

    image: ArtifactRef
    target: Target = None
    region: Box | None = None
    points: list[Point] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _something_to_segment(self) -> SegmentImage:
        one_of(self, ("target", "region", "points"), "a target, a region or points: what should be segmented?")
        return self


class SegmentImageTool:
    name: ClassVar[str] = "segment_image"
    module: ClassVar[Module] = Module.B
    description: ClassVar[str] = (
        "Cut out one object in an image, named in words, given by a box, or by clicks: a lossless mask and an "
        "overlay to check it."
    )
    Args: ClassVar[type[SegmentImage]] = SegmentImage
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("mask",)
    weight_families: ClassVar[tuple[Family, ...]] = segmentation.WEIGHT_FAMILIES

    def describe(self, args: dict[str, Any], workspace: Path) -> RunsOn:
        """The backend that will run, shown with the decision."""
        return segmentation.describe_backend(workspace, words_only=not (args.get("region") or args.get("points")))

    def run(self, args: SegmentImage, ctx: ToolContext) -> ToolResult:
        # 1. Read the input
        source = ctx.store.get(args.image)
        image = np.asarray(load_image(ctx.store.local_path(source)))
        ctx.report(0, 3, "loaded the image")
        # 2. Find the object and segment it
        ctx.report(1, 3, "segmenting")

        def step(done: int, total: int) -> None:
            ctx.check_cancelled()
            ctx.report(1 + done / total, 3, f"segmenting: step {done} of {total}")

        mask, backend = segmentation.mask_for(image, box=args.region, points=args.points, target=args.target,
                                              image_key=args.image, workspace=ctx.store.root, models=ctx.models,
                                              on_step=step)
        ctx.check_cancelled()
        ctx.report(2, 3, "saving")
        # 3. Store the mask and its preview
        from PIL import Image

        meta = {"width": image.shape[1], "height": image.shape[0], "backend": backend.name,
                "coverage": round(float(mask.mean()), 4)}
        common = {"parents": [source.id], "call": ctx.call, "model_id": backend.model_id, "meta": meta}
        stored_mask = ctx.store.add(segmentation.mask_png(mask), kind="mask", suffix=".png", **common)
        preview = ctx.store.add(encode_image(Image.fromarray(segmentation.overlay(image, mask)), "JPEG"),
                                kind="preview", suffix=".jpg", **common)
        ctx.report(3, 3, "done")
        what = repr(args.target) if args.target else "the region"
        return ToolResult(artifacts=(stored_mask.id, preview.id),
                          text=f"Segmented {what} with {backend.name}: {meta['coverage']:.0%} of the image.")
