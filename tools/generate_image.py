"""generate_image (Vitron's module A): text to image, or grounded generation when boxes and phrases are given.

Plain prompts run Stable Diffusion (weights family ``sd``, default ``stable-diffusion-v1-5/stable-diffusion-v1-5``);
prompts with boxes run GLIGEN (family ``gligen``, default ``masterful/gligen-1-4-generation-text-box``), as Vitron
does. The image is stored as a PNG whose lineage records the seed, model, steps, guidance and size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from vitron_agent.calls import Candidates, GroundedBox, Guidance, Prompt, Seed, Side, Steps, ToolCall
from vitron_agent.invocation import Module
from vitron_agent.media import encode_image
from vitron_agent.readiness import RunsOn
from vitron_agent.tools.backends.diffusion import candidate_seeds, load_pipeline, pipeline_runs_on, run_pipeline
from vitron_agent.tools.base import ToolContext, ToolResult, seeds_text, store_candidates
from vitron_agent.weights import Family

__all__ = ["GenerateImage", "GLIGEN", "SD", "GenerateImageTool"]

SD = Family("sd", "stable-diffusion-v1-5/stable-diffusion-v1-5")
GLIGEN = Family("gligen", "masterful/gligen-1-4-generation-text-box")
PIPELINES = {"sd": "StableDiffusionPipeline", "gligen": "StableDiffusionGLIGENPipeline"}


class GenerateImage(ToolCall):
    """A: text-to-image; with boxes and phrases, grounded generation."""

    prompt: Prompt
    boxes: list[GroundedBox] = Field(default_factory=list, max_length=16)
    width: Side = 512
    height: Side = 512
    steps: Steps = 30
    guidance_scale: Guidance = 7.5
    seed: Seed = None
    candidates: Candidates = 1

    @model_validator(mode="after")
    def _boxes_inside(self) -> GenerateImage:
        for index, grounded in enumerate(self.boxes):
            box = grounded.box
            if box.x1 < 0 or box.y1 < 0 or box.x2 > self.width or box.y2 > self.height:
                raise ValueError(f"boxes[{index}] {box.as_tuple()} does not fit the {self.width} x {self.height} image")
        return self


class GenerateImageTool:
    name: ClassVar[str] = "generate_image"
    module: ClassVar[Module] = Module.A
    description: ClassVar[str] = (
        "Draw a new image from a text prompt; with phrases and boxes, each phrase is placed in its box "
        "(grounded generation)."
    )
    Args: ClassVar[type[GenerateImage]] = GenerateImage
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("image",)
    weight_families: ClassVar[tuple[Family, ...]] = (SD, GLIGEN)

    def describe(self, args: dict[str, Any], workspace: Path) -> RunsOn:
        """The pipeline and checkpoint that will run, shown with the decision."""
        family = GLIGEN if args.get("boxes") else SD
        return pipeline_runs_on(family, PIPELINES[family.name], workspace)

    def run(self, args: GenerateImage, ctx: ToolContext) -> ToolResult:
        # 1. Check inputs (the call model already bounds sizes, steps and prompt length)
        seeds = candidate_seeds(args.seed, args.candidates)
        family = GLIGEN if args.boxes else SD
        class_name = PIPELINES[family.name]
        # 2. Load the pipeline (once per process)
        pipeline, model_id = load_pipeline(ctx, family, class_name)
        ctx.check_cancelled()
        # 3. Denoise
        extra = {}
        if args.boxes:
            extra = {
                "gligen_phrases": [grounded.phrase for grounded in args.boxes],
                "gligen_boxes": [[b.box.x1 / args.width, b.box.y1 / args.height, b.box.x2 / args.width,
                                  b.box.y2 / args.height] for b in args.boxes],
                "gligen_scheduled_sampling_beta": 1.0,
            }
        output = run_pipeline(pipeline, ctx, steps=args.steps, seeds=seeds, label="generating", prompt=args.prompt,
                              height=args.height, width=args.width, guidance_scale=args.guidance_scale, **extra)
        # 4. Store each image with everything needed to reproduce it
        made = store_candidates(ctx, map(encode_image, output.images), seeds, kind="image", suffix=".png",
                                model_id=model_id, meta={"width": args.width, "height": args.height,
                                                         "steps": args.steps, "guidance_scale": args.guidance_scale,
                                                         "pipeline": class_name})
        what = "an image" if len(seeds) == 1 else f"{len(seeds)} candidates"
        return ToolResult(artifacts=made, text=f"Generated {what}, {args.width} x {args.height} ({seeds_text(seeds)}).")
