"""edit_image (Vitron's module C): change part of a photo, or all of it, by prompts applied in order.

With a region or a target, the mask comes from the same path as segment_image
(:func:`~vitron_agent.tools.backends.segmentation.mask_for`) and Stable Diffusion inpainting (weights family
``inpaint``, default ``stable-diffusion-v1-5/stable-diffusion-inpainting``) repaints inside it; the result is
composited so that pixels outside the mask stay exactly as they were. Without one, InstructPix2Pix (family
``pix2pix``, default ``timbrooks/instruct-pix2pix``) edits the whole image by instruction. Several prompts (Vitron
separates them with ``;``) run in order, each on the previous result, and each step is an artifact.

Pipelines work on the image scaled to at most 512 pixels on its long side (see
:func:`~vitron_agent.tools.backends.diffusion.working_size`); results are scaled back to the photo's own size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from vitron_agent.calls import ArtifactRef, Guidance, Prompt, Seed, Steps, Target, ToolCall
from vitron_agent.invocation import Module
from vitron_agent.media import encode_image, load_image
from vitron_agent.readiness import RunsOn
from vitron_agent.regions import Box
from vitron_agent.tools.backends import segmentation
from vitron_agent.tools.backends.diffusion import (
    load_pipeline,
    new_seed,
    pipeline_runs_on,
    run_pipeline,
    working_size,
)
from vitron_agent.tools.base import ToolContext, ToolResult
from vitron_agent.weights import Family

__all__ = ["EditImage", "INPAINT", "INPAINT_PIPELINE", "INSTRUCT", "INSTRUCT_PIPELINE", "EditImageTool", "inpaint"]

INPAINT = Family("inpaint", "stable-diffusion-v1-5/stable-diffusion-inpainting")
INPAINT_PIPELINE = "StableDiffusionInpaintPipeline"
INSTRUCT = Family("pix2pix", "timbrooks/instruct-pix2pix")
INSTRUCT_PIPELINE = "StableDiffusionInstructPix2PixPipeline"


class EditImage(ToolCall):
    """C: edit an image; inside a target or region by inpainting, else by instruction. Prompts apply in order."""

    image: ArtifactRef
    prompts: list[Prompt] = Field(min_length=1, max_length=8)
    target: Target = None
    region: Box | None = None
    steps: Steps = 30
    guidance_scale: Guidance = 7.5
    seed: Seed = None


class EditImageTool:
    name: ClassVar[str] = "edit_image"
    module: ClassVar[Module] = Module.C
    description: ClassVar[str] = (
        "Change an image by prompts applied in order: inside a target or region by inpainting (pixels outside "
        "stay exact), else across the whole image by instruction."
    )
    Args: ClassVar[type[EditImage]] = EditImage
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("image",)
    weight_families: ClassVar[tuple[Family, ...]] = (INPAINT, INSTRUCT, *segmentation.WEIGHT_FAMILIES)

    def describe(self, args: dict[str, Any], workspace: Path) -> RunsOn:
        """Inpainting inside a mask (found as segment_image finds it), or instruction editing of the whole image,
        with its checkpoint."""
        if not (args.get("region") or args.get("target")):
            return pipeline_runs_on(INSTRUCT, INSTRUCT_PIPELINE, workspace)
        masks = segmentation.describe_backend(workspace, words_only=not args.get("region"))
        painting = pipeline_runs_on(INPAINT, INPAINT_PIPELINE, workspace)
        return RunsOn(f"{painting.backend}; mask: {masks.backend}", families=(*painting.families, *masks.families),
                      packages=masks.packages, instead=masks.instead)

    def run(self, args: EditImage, ctx: ToolContext) -> ToolResult:
        # 1. Read the input and find the region to change, if any
        source = ctx.store.get(args.image)
        image = np.asarray(load_image(source.path))
        seed = args.seed if args.seed is not None else new_seed()
        mask_artifact, mask = None, None
        if args.region is not None or args.target:
            mask, backend = segmentation.mask_for(image, box=args.region, points=(), target=args.target,
                                                  image_key=args.image, workspace=ctx.store.root,
                                                  models=ctx.models, on_step=lambda *_: ctx.check_cancelled())
            mask_artifact = ctx.store.add(
                segmentation.mask_png(mask), kind="mask", suffix=".png", parents=[source.id], call=ctx.call,
                model_id=backend.model_id, meta={"width": image.shape[1], "height": image.shape[0],
                                                 "backend": backend.name})
        # 2. Load the pipeline (once per process)
        family, class_name = (INPAINT, INPAINT_PIPELINE) if mask is not None else (INSTRUCT, INSTRUCT_PIPELINE)
        pipeline, model_id = load_pipeline(ctx, family, class_name)
        # 3. Apply each prompt to the previous result
        produced, current, parent = [], image, source.id
        for number, prompt in enumerate(args.prompts, start=1):
            ctx.check_cancelled()
            current = self._edit(pipeline, current, mask, prompt, args, seed, ctx, f"edit {number}")
            extra_parents = [mask_artifact.id] if mask_artifact else []
            from PIL import Image

            artifact = ctx.store.add(
                encode_image(Image.fromarray(current)), kind="image", suffix=".png", parents=[parent, *extra_parents],
                call=ctx.call, seed=seed, model_id=model_id,
                meta={"width": image.shape[1], "height": image.shape[0], "step": number, "prompt": prompt,
                      "steps": args.steps, "guidance_scale": args.guidance_scale, "pipeline": class_name},
            )
            produced.append(artifact.id)
            parent = artifact.id
        where = "inside the mask" if mask is not None else "across the image"
        return ToolResult(artifacts=tuple(([mask_artifact.id] if mask_artifact else []) + produced),
                          text=f"Applied {len(args.prompts)} edit(s) {where} (seed {seed}).")

    @staticmethod
    def _edit(pipeline: Any, image: np.ndarray, mask: np.ndarray | None, prompt: str, args: EditImage, seed: int,
              ctx: ToolContext, label: str) -> np.ndarray:
        if mask is not None:
            return inpaint(pipeline, image, mask, prompt, steps=args.steps, seed=seed,
                           guidance_scale=args.guidance_scale, ctx=ctx, label=label)
        from PIL import Image

        height, width = image.shape[:2]
        picture = Image.fromarray(image).resize(working_size(width, height), Image.LANCZOS)
        output = run_pipeline(pipeline, ctx, steps=args.steps, seed=seed, label=label, prompt=prompt,
                              image=picture, guidance_scale=args.guidance_scale)
        return np.asarray(output.images[0].convert("RGB").resize((width, height), Image.LANCZOS))


def inpaint(pipeline: Any, image: np.ndarray, mask: np.ndarray, prompt: str, *, steps: int, seed: int,
            guidance_scale: float, ctx: ToolContext, label: str) -> np.ndarray:
    """Repaint ``mask`` of an RGB image from ``prompt``; pixels outside the mask come back exactly as they were.

    Shared by edit_image and edit_video.
    """
    from PIL import Image

    height, width = image.shape[:2]
    work_w, work_h = working_size(width, height)
    picture = Image.fromarray(image).resize((work_w, work_h), Image.LANCZOS)
    mask_picture = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).resize((work_w, work_h))
    output = run_pipeline(pipeline, ctx, steps=steps, seed=seed, label=label, prompt=prompt, image=picture,
                          mask_image=mask_picture, height=work_h, width=work_w, guidance_scale=guidance_scale)
    painted = np.asarray(output.images[0].convert("RGB").resize((width, height), Image.LANCZOS))
    return np.where(mask[..., None], painted, image)
