"""edit_image (Vitron's module C): change part of a photo, or all of it, by prompts applied in order.

With a mask artifact (a segmentation, or a sketch the person drew), inpainting repaints inside it; with a region
or a target, the mask comes from the same path as segment_image
(:func:`~vitron_agent.tools.backends.segmentation.mask_for`) and Stable Diffusion inpainting (weights family
``inpaint``, default ``stable-diffusion-v1-5/stable-diffusion-inpainting``) repaints inside it; the result is
composited so that pixels outside the mask stay exactly as they were. Without one, InstructPix2Pix (family
``pix2pix``, default ``timbrooks/instruct-pix2pix``) edits the whole image by instruction. Several prompts (Vitron
separates them with ``;``) run in order, each on the previous result, and each step is an artifact. Several
candidates run as one batched call per prompt, seeds ``seed, seed + 1, ...``; the last prompt's results are the
candidates.

Pipelines work on the image scaled to at most 512 pixels on its long side (see
:func:`~vitron_agent.tools.backends.diffusion.working_size`); results are scaled back to the photo's own size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from vitron_agent.calls import ArtifactRef, Candidates, Guidance, Prompt, Seed, Steps, Target, ToolCall
from vitron_agent.invocation import Module
from vitron_agent.media import encode_image, load_image
from vitron_agent.readiness import RunsOn
from vitron_agent.regions import Box
from vitron_agent.tools.backends import segmentation
from vitron_agent.tools.backends.diffusion import (
    candidate_seeds,
    load_pipeline,
    pipeline_runs_on,
    run_pipeline,
    working_size,
)
from vitron_agent.tools.base import ToolContext, ToolResult, candidate_meta, seeds_text
from vitron_agent.weights import Family

__all__ = ["EditImage", "INPAINT", "INPAINT_PIPELINE", "INSTRUCT", "INSTRUCT_PIPELINE", "EditImageTool", "inpaint"]

INPAINT = Family("inpaint", "stable-diffusion-v1-5/stable-diffusion-inpainting")
INPAINT_PIPELINE = "StableDiffusionInpaintPipeline"
INSTRUCT = Family("pix2pix", "timbrooks/instruct-pix2pix")
INSTRUCT_PIPELINE = "StableDiffusionInstructPix2PixPipeline"


class EditImage(ToolCall):
    """C: edit an image; inside a mask, target or region by inpainting, else by instruction. Prompts apply in
    order."""

    image: ArtifactRef
    prompts: list[Prompt] = Field(min_length=1, max_length=8)
    target: Target = None
    region: Box | None = None
    mask: ArtifactRef | None = Field(default=None, description=(
        "Id of a mask artifact (from segment_image, or a sketch imported as a mask), or @N.mask: the area to "
        "repaint."))
    steps: Steps = 30
    guidance_scale: Guidance = 7.5
    seed: Seed = None
    candidates: Candidates = 1


class EditImageTool:
    name: ClassVar[str] = "edit_image"
    module: ClassVar[Module] = Module.C
    description: ClassVar[str] = (
        "Change an image by prompts applied in order: inside a mask, target or region by inpainting (pixels "
        "outside stay exact), else across the whole image by instruction."
    )
    Args: ClassVar[type[EditImage]] = EditImage
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("image",)
    weight_families: ClassVar[tuple[Family, ...]] = (INPAINT, INSTRUCT, *segmentation.WEIGHT_FAMILIES)

    def describe(self, args: dict[str, Any], workspace: Path) -> RunsOn:
        """Inpainting inside a mask (given, or found as segment_image finds it), or instruction editing of the
        whole image, with its checkpoint."""
        painting = pipeline_runs_on(INPAINT, INPAINT_PIPELINE, workspace)
        if args.get("mask"):
            return RunsOn(f"{painting.backend}; mask: {args['mask']}", families=painting.families)
        if not (args.get("region") or args.get("target")):
            return pipeline_runs_on(INSTRUCT, INSTRUCT_PIPELINE, workspace)
        masks = segmentation.describe_backend(workspace, words_only=not args.get("region"))
        return RunsOn(f"{painting.backend}; mask: {masks.backend}", families=(*painting.families, *masks.families),
                      packages=masks.packages, instead=masks.instead)

    def run(self, args: EditImage, ctx: ToolContext) -> ToolResult:
        # 1. Read the input and find the area to change, if any
        source = ctx.store.get(args.image)
        image = np.asarray(load_image(ctx.store.local_path(source)))
        seeds = candidate_seeds(args.seed, args.candidates)
        mask, mask_id, note = self._mask(args, image, source.id, ctx)
        # 2. Load the pipeline (once per process)
        family, class_name = (INPAINT, INPAINT_PIPELINE) if mask is not None else (INSTRUCT, INSTRUCT_PIPELINE)
        pipeline, model_id = load_pipeline(ctx, family, class_name)
        # 3. Apply each prompt to the previous results, one batched call for all candidates
        made: list[str] = []
        currents, parents = [image], [source.id] * len(seeds)
        for number, prompt in enumerate(args.prompts, start=1):
            ctx.check_cancelled()
            label = f"edit {number}" + (f", {len(seeds)} candidates" if len(seeds) > 1 else "")
            currents = self._edit(pipeline, currents, mask, prompt, args, seeds, ctx, label)
            last = number == len(args.prompts)
            parents = [self._store(result, parent, mask_id, seed, model_id, ctx,
                                   meta={"step": number, "prompt": prompt, "steps": args.steps,
                                         "guidance_scale": args.guidance_scale, "pipeline": class_name,
                                         **(candidate_meta(k, len(seeds)) if last else {})})
                       for k, (result, parent, seed) in enumerate(zip(currents, parents, seeds, strict=True), 1)]
            made.extend(parents)
        where = "inside the mask" if mask is not None else "across the image"
        what = "" if len(seeds) == 1 else f", {len(seeds)} candidates"
        text = f"Applied {len(args.prompts)} edit(s) {where}{what} ({seeds_text(seeds)})."
        made_mask = [mask_id] if mask_id and mask_id != args.mask else []
        return ToolResult(artifacts=tuple(made_mask + made), text=f"{text} Note: {note}." if note else text)

    @staticmethod
    def _mask(args: EditImage, image: np.ndarray, source: str,
              ctx: ToolContext) -> tuple[np.ndarray | None, str | None, str | None]:
        """The area to repaint: the given mask artifact (scaled to the image if it must be, with a note), or one
        found from the region or target and stored; or none (the whole image, by instruction)."""
        height, width = image.shape[:2]
        if args.mask is not None:
            mask, note = segmentation.read_mask(ctx.store.local_path(args.mask), (width, height))
            return mask, args.mask, note
        if args.region is None and not args.target:
            return None, None, None
        mask, backend = segmentation.mask_for(image, box=args.region, points=(), target=args.target,
                                              image_key=args.image, workspace=ctx.store.root, models=ctx.models,
                                              on_step=lambda *_: ctx.check_cancelled())
        stored = ctx.store.add(segmentation.mask_png(mask), kind="mask", suffix=".png", parents=[source],
                               call=ctx.call, model_id=backend.model_id,
                               meta={"width": width, "height": height, "backend": backend.name})
        return mask, stored.id, None

    @staticmethod
    def _store(result: np.ndarray, parent: str, mask_id: str | None, seed: int, model_id: str, ctx: ToolContext,
               meta: dict[str, Any]) -> str:
        from PIL import Image

        height, width = result.shape[:2]
        return ctx.store.add(encode_image(Image.fromarray(result)), kind="image", suffix=".png",
                             parents=[parent, *([mask_id] if mask_id else [])], call=ctx.call, seed=seed,
                             model_id=model_id, meta={"width": width, "height": height, **meta}).id

    @staticmethod
    def _edit(pipeline: Any, images: list[np.ndarray], mask: np.ndarray | None, prompt: str, args: EditImage,
              seeds: list[int], ctx: ToolContext, label: str) -> list[np.ndarray]:
        if mask is not None:
            return inpaint(pipeline, images, mask, prompt, steps=args.steps, seeds=seeds,
                           guidance_scale=args.guidance_scale, ctx=ctx, label=label)
        from PIL import Image

        height, width = images[0].shape[:2]
        pictures = [Image.fromarray(image).resize(working_size(width, height), Image.LANCZOS) for image in images]
        output = run_pipeline(pipeline, ctx, steps=args.steps, seeds=seeds, label=label, prompt=prompt,
                              image=pictures if len(pictures) > 1 else pictures[0],
                              guidance_scale=args.guidance_scale)
        return [np.asarray(picture.convert("RGB").resize((width, height), Image.LANCZOS))
                for picture in output.images]


def inpaint(pipeline: Any, images: list[np.ndarray], mask: np.ndarray, prompt: str, *, steps: int,
            seeds: list[int], guidance_scale: float, ctx: ToolContext, label: str) -> list[np.ndarray]:
    """Repaint ``mask`` of RGB images from ``prompt``, one result per seed (from one image, or one image per
    seed); pixels outside the mask come back exactly as they were.

    Shared by edit_image and edit_video.
    """
    from PIL import Image

    height, width = images[0].shape[:2]
    work_w, work_h = working_size(width, height)
    pictures = [Image.fromarray(image).resize((work_w, work_h), Image.LANCZOS) for image in images]
    mask_picture = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).resize((work_w, work_h))
    output = run_pipeline(pipeline, ctx, steps=steps, seeds=seeds, label=label, prompt=prompt,
                          image=pictures if len(pictures) > 1 else pictures[0], mask_image=mask_picture,
                          height=work_h, width=work_w, guidance_scale=guidance_scale)
    sources = images if len(images) == len(output.images) else images * len(output.images)
    return [np.where(mask[..., None], np.asarray(painted.convert("RGB").resize((width, height), Image.LANCZOS)),
                     source) for painted, source in zip(output.images, sources, strict=True)]
