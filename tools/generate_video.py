"""generate_video (Vitron's module D): text to video with a ZeroScope-style ``TextToVideoSDPipeline``.

Weights family ``t2v``, default ``cerspense/zeroscope_v2_576w`` (Vitron's choice). The clip is stored as H.264
mp4 at the requested fps, with the seed, model, steps, guidance, size and frame count in its lineage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vitron_agent.calls import Candidates, Fps, Frames, Guidance, Prompt, Seed, Side, Steps, ToolCall
from vitron_agent.invocation import Module
from vitron_agent.media import encode_video
from vitron_agent.readiness import RunsOn
from vitron_agent.tools.backends.diffusion import candidate_seeds, load_pipeline, pipeline_runs_on, run_pipeline
from vitron_agent.tools.base import ToolContext, ToolResult, seeds_text, store_candidates
from vitron_agent.weights import Family

__all__ = ["GenerateVideo", "TEXT_TO_VIDEO", "GenerateVideoTool", "clips_to_uint8"]

TEXT_TO_VIDEO = Family("t2v", "cerspense/zeroscope_v2_576w")
PIPELINE = "TextToVideoSDPipeline"


class GenerateVideo(ToolCall):
    """D: text-to-video."""

    prompt: Prompt
    num_frames: Frames = 16
    fps: Fps = 8.0
    width: Side = 576
    height: Side = 320
    steps: Steps = 25
    guidance_scale: Guidance = 9.0
    seed: Seed = None
    candidates: Candidates = 1


class GenerateVideoTool:
    name: ClassVar[str] = "generate_video"
    module: ClassVar[Module] = Module.D
    description: ClassVar[str] = (
        "Make a short video clip from a text prompt."
    )
    Args: ClassVar[type[GenerateVideo]] = GenerateVideo
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("video",)
    weight_families: ClassVar[tuple[Family, ...]] = (TEXT_TO_VIDEO,)

    def describe(self, args: dict[str, Any], workspace: Path) -> RunsOn:
        return pipeline_runs_on(TEXT_TO_VIDEO, PIPELINE, workspace)

    def run(self, args: GenerateVideo, ctx: ToolContext) -> ToolResult:
        # 1. Check inputs (the call model bounds size, frames, fps and prompt length)
        seeds = candidate_seeds(args.seed, args.candidates)
        # 2. Load the pipeline (once per process)
        pipeline, model_id = load_pipeline(ctx, TEXT_TO_VIDEO, PIPELINE)
        ctx.check_cancelled()
        # 3. Denoise all frames together, every candidate in one batch
        output = run_pipeline(pipeline, ctx, steps=args.steps, seeds=seeds, label="generating video",
                              prompt=args.prompt, height=args.height, width=args.width, num_frames=args.num_frames,
                              guidance_scale=args.guidance_scale, output_type="np")
        # 4. Store each clip with everything needed to reproduce it
        clips = clips_to_uint8(output.frames)
        made = store_candidates(ctx, (encode_video(frames, args.fps) for frames in clips), seeds, kind="video",
                                suffix=".mp4", model_id=model_id,
                                meta={"width": args.width, "height": args.height, "frames": len(clips[0]),
                                      "fps": args.fps, "steps": args.steps, "guidance_scale": args.guidance_scale})
        what = "" if len(seeds) == 1 else f" in each of {len(seeds)} candidates"
        return ToolResult(artifacts=made, text=f"Generated {args.num_frames} frames at {args.fps:g} fps{what} "
                                                      f"({seeds_text(seeds)}).")


def clips_to_uint8(frames: Any) -> list[np.ndarray]:
    """A pipeline's video output (``(clips, frames, height, width, 3)`` floats in [0, 1], or one clip without the
    first axis) as one uint8 RGB frame array per clip."""
    array = np.asarray(frames)
    clips = array if array.ndim == 5 else array[None]
    return [np.ascontiguousarray((clip.clip(0, 1) * 255).round().astype(np.uint8)) for clip in clips]
