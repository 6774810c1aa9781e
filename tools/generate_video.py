"""generate_video (Vitron's module D): text to video with a ZeroScope-style ``TextToVideoSDPipeline``.

Weights family ``t2v``, default ``cerspense/zeroscope_v2_576w`` (Vitron's choice). The clip is stored as H.264
mp4 at the requested fps, with the seed, model, steps, guidance, size and frame count in its lineage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vitron_agent.calls import Fps, Frames, Guidance, Prompt, Seed, Side, Steps, ToolCall
from vitron_agent.invocation import Module
from vitron_agent.media import encode_video
from vitron_agent.readiness import RunsOn
from vitron_agent.tools.backends.diffusion import load_pipeline, new_seed, pipeline_runs_on, run_pipeline
from vitron_agent.tools.base import ToolContext, ToolResult
from vitron_agent.weights import Family

__all__ = ["GenerateVideo", "TEXT_TO_VIDEO", "GenerateVideoTool", "frames_to_uint8"]

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
        seed = args.seed if args.seed is not None else new_seed()
        # 2. Load the pipeline (once per process)
        pipeline, model_id = load_pipeline(ctx, TEXT_TO_VIDEO, PIPELINE)
        ctx.check_cancelled()
        # 3. Denoise all frames together
        output = run_pipeline(pipeline, ctx, steps=args.steps, seed=seed, label="generating video",
                              prompt=args.prompt, height=args.height, width=args.width, num_frames=args.num_frames,
                              guidance_scale=args.guidance_scale, output_type="np")
        frames = frames_to_uint8(output.frames)
        # 4. Store the clip with everything needed to reproduce it
        meta = {"width": args.width, "height": args.height, "frames": len(frames), "fps": args.fps,
                "steps": args.steps, "guidance_scale": args.guidance_scale}
        artifact = ctx.store.add(encode_video(frames, args.fps), kind="video", suffix=".mp4", call=ctx.call,
                                 seed=seed, model_id=model_id, meta=meta)
        return ToolResult(artifacts=(artifact.id,),
                          text=f"Generated {len(frames)} frames at {args.fps:g} fps (seed {seed}).")


def frames_to_uint8(frames: Any) -> np.ndarray:
    """A pipeline's video output (``(1, frames, height, width, 3)`` floats in [0, 1]) as uint8 RGB frames."""
    array = np.asarray(frames)
    if array.ndim == 5:
        array = array[0]
    return (array.clip(0, 1) * 255).round().astype(np.uint8)
