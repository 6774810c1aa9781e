"""Small real tools written the way a third-party author would, for the graph and session tests."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from PIL import Image
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from pydantic import BaseModel, ConfigDict

from vitron_agent.tools.edit_image import EditImage
from vitron_agent.tools.segment_image import SegmentImage
from vitron_agent.invocation import Module
from vitron_agent.media import encode_image, load_image
from vitron_agent.regions import Box
from vitron_agent.tools import ToolContext, ToolResult

RUNS_FILE = "grayscale-runs.txt"


class Grayscale:
    """Serves Vitron's module C: turns the region (or the whole photo) gray. Counts its runs in the workspace;
    GRAYSCALE_DELAY (seconds per step) makes it slow enough to be killed or cancelled mid-run."""

    name = "grayscale"
    module = Module.C
    Args = EditImage
    side_effects = True

    def run(self, args: EditImage, ctx: ToolContext) -> ToolResult:
        with open(ctx.store.root / RUNS_FILE, "a") as runs:
            runs.write(args.image + "\n")
        image = load_image(ctx.store.local_path(args.image))
        pixels = np.asarray(image).copy()
        box = args.region or Box.of((0, 0, image.width, image.height))
        x1, y1, x2, y2 = (round(v) for v in box.as_tuple())
        delay = float(os.environ.get("GRAYSCALE_DELAY", "0"))
        for step in range(4):
            ctx.check_cancelled()
            time.sleep(delay)
            ctx.report(step + 1, 4, "graying")
        patch = pixels[y1:y2, x1:x2].mean(axis=2, keepdims=True).astype(np.uint8)
        pixels[y1:y2, x1:x2] = patch
        artifact = ctx.store.add(encode_image(Image.fromarray(pixels)), kind="image", suffix=".png",
                                 parents=[args.image], call=ctx.call,
                                 meta={"width": image.width, "height": image.height})
        return ToolResult(artifacts=(artifact.id,), text=f"Grayed {'the region' if args.region else 'the photo'}.")


class CropArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str
    box: Box


class Crop:
    """A tool with its own Args and no Vitron module: reachable through typed calls only."""

    name = "crop"
    module = None
    Args = CropArgs
    side_effects = True

    def run(self, args: CropArgs, ctx: ToolContext) -> ToolResult:
        image = load_image(ctx.store.local_path(args.image)).crop(tuple(round(v) for v in args.box.as_tuple()))
        artifact = ctx.store.add(encode_image(image), kind="image", suffix=".png", parents=[args.image],
                                 call=ctx.call, meta={"width": image.width, "height": image.height})
        return ToolResult(artifacts=(artifact.id,), text=f"Cropped to {image.width} x {image.height}.")


class Broken:
    """Serves module B and always fails; ``error`` picks how."""

    name = "segment_image"
    module = Module.B
    side_effects = True
    Args = SegmentImage
    error: BaseException = RuntimeError("the model file is corrupt")

    def run(self, args: object, ctx: ToolContext) -> ToolResult:
        raise self.error


class HalfDone:
    """Serves module C like an editor applying prompts in turn: it stores the first prompt's result, then fails on
    the second (the way a multi-prompt edit fails half-way)."""

    name = "grayscale"
    module = Module.C
    Args = EditImage
    side_effects = True

    def run(self, args: EditImage, ctx: ToolContext) -> ToolResult:
        image = load_image(ctx.store.local_path(args.image)).convert("L").convert("RGB")
        ctx.store.add(encode_image(image), kind="image", suffix=".png", parents=[args.image], call=ctx.call,
                      meta={"width": image.width, "height": image.height, "step": 1})
        raise RuntimeError("the second prompt ran out of denoising steps")


class Measure:
    """No side effects (reads only), so the default policy runs it without asking."""

    name = "measure"
    module = None
    side_effects = False
    Args = CropArgs

    def run(self, args: CropArgs, ctx: ToolContext) -> ToolResult:
        return ToolResult(text=f"The box is {args.box.width:g} x {args.box.height:g} pixels.")


class ToolCallingFake(GenericFakeChatModel):
    """LangChain's scripted chat model with tool binding, as a provider's model has: the bound tools are kept, to
    check what a planner offered."""

    bound_tools: list[Any] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFake:
        self.bound_tools = list(tools)
        return self


class Tints:
    """Serves module C and makes ``candidates`` results the way the diffusion tools do (seeds seed, seed + 1, ...,
    each marked as a candidate), by tinting the photo with a colour drawn from each seed: choices without
    pipelines."""

    name = "grayscale"
    module = Module.C
    Args = EditImage
    side_effects = True
    outputs = ("image",)

    def run(self, args: EditImage, ctx: ToolContext) -> ToolResult:
        from vitron_agent.tools.backends.diffusion import candidate_seeds
        from vitron_agent.tools.base import candidate_meta

        image = np.asarray(load_image(ctx.store.local_path(args.image)), dtype=np.float32)
        made = []
        seeds = candidate_seeds(args.seed, args.candidates)
        for number, seed in enumerate(seeds, start=1):
            tint = np.random.default_rng(seed).uniform(0, 255, 3)
            pixels = (image * 0.5 + tint * 0.5).astype(np.uint8)
            made.append(ctx.store.add(encode_image(Image.fromarray(pixels)), kind="image", suffix=".png",
                                      parents=[args.image], call=ctx.call, seed=seed,
                                      meta={"width": pixels.shape[1], "height": pixels.shape[0],
                                            **candidate_meta(number, len(seeds))}).id)
        return ToolResult(artifacts=tuple(made), text=f"Tinted {len(made)} time(s).")
