"""animate_image (Vitron's module G): a still photo brought to life as a short clip.

Weights family ``i2v``; the checkpoint decides the pipeline (its ``model_index.json``): Stable Video Diffusion
(default ``stabilityai/stable-video-diffusion-img2vid-xt``), which animates from the image alone, or I2VGenXL
(Vitron's choice), which also follows the prompt. The photo is scaled to at most 512 pixels on its long side;
the clip is stored as mp4 at the requested fps with the seed and model in its lineage.

Note: diffusers 0.42's I2VGenXL pipeline reads ``CLIPTextModel.text_model``, which transformers 5 no longer
has; until that is fixed upstream, I2VGenXL checkpoints fail with a clear tool error and SVD is the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from vitron_agent.calls import ArtifactRef, Candidates, Fps, Frames, Guidance, Prompt, Seed, Steps, ToolCall
from vitron_agent.invocation import Module
from vitron_agent.media import encode_video, load_image
from vitron_agent.readiness import RunsOn
from vitron_agent.tools.backends.diffusion import (
    candidate_seeds,
    load_pipeline,
    pipeline_runs_on,
    run_pipeline,
    working_size,
)
from vitron_agent.tools.base import ToolContext, ToolResult, seeds_text, store_candidates
from vitron_agent.tools.generate_video import clips_to_uint8
from vitron_agent.weights import Family

__all__ = ["IMAGE_TO_VIDEO", "AnimateImage", "AnimateImageTool"]

IMAGE_TO_VIDEO = Family("i2v", "stabilityai/stable-video-diffusion-img2vid-xt")


class AnimateImage(ToolCall):
    """G: image-to-video."""

    image: ArtifactRef
    prompt: Prompt
    num_frames: Frames = 16
    fps: Fps = 8.0
    steps: Steps = 25
    guidance_scale: Guidance = 9.0
    seed: Seed = None
    candidates: Candidates = 1


class AnimateImageTool:
    name: ClassVar[str] = "animate_image"
    module: ClassVar[Module] = Module.G
    description: ClassVar[str] = (
        "Bring a still image to life as a short video clip, following the prompt where the model can."
    )
    Args: ClassVar[type[AnimateImage]] = AnimateImage
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("video",)
    weight_families: ClassVar[tuple[Family, ...]] = (IMAGE_TO_VIDEO,)

    def describe(self, args: dict[str, Any], workspace: Path) -> RunsOn:
        return pipeline_runs_on(IMAGE_TO_VIDEO, "image-to-video, SVD or I2VGenXL as the checkpoint says", workspace)

    def run(self, args: AnimateImage, ctx: ToolContext) -> ToolResult:
        # 1. Read the input
        source = ctx.store.get(args.image)
        photo = load_image(ctx.store.local_path(source))
        seeds = candidate_seeds(args.seed, args.candidates)
        width, height = working_size(photo.width, photo.height)
        # 2. Load the pipeline the checkpoint names (once per process)
        pipeline, model_id = load_pipeline(ctx, IMAGE_TO_VIDEO, None)
        kind = type(pipeline).__name__
        ctx.check_cancelled()
        # 3. Denoise, every candidate in one batch
        common = {"image": photo.resize((width, height)), "height": height, "width": width,
                  "num_frames": args.num_frames, "output_type": "np"}
        if kind == "I2VGenXLPipeline":
            output = run_pipeline(pipeline, ctx, steps=args.steps, seeds=seeds, label="animating", prompt=args.prompt,
                                  target_fps=round(args.fps), guidance_scale=args.guidance_scale, **common)
        else:
            output = run_pipeline(pipeline, ctx, steps=args.steps, seeds=seeds, label="animating",
                                  fps=round(args.fps), decode_chunk_size=4, **common)
        # 4. Store each clip
        clips = clips_to_uint8(output.frames)
        made = store_candidates(ctx, (encode_video(frames, args.fps) for frames in clips), seeds, kind="video",
                                suffix=".mp4", model_id=model_id, parents=[source.id],
                                meta={"width": width, "height": height, "frames": len(clips[0]), "fps": args.fps,
                                      "steps": args.steps, "pipeline": kind})
        what = "" if len(seeds) == 1 else f", {len(seeds)} candidates"
        return ToolResult(artifacts=made, text=f"Animated the photo: {args.num_frames} frames at {args.fps:g} "
                                                      f"fps{what} ({seeds_text(seeds)}).")
