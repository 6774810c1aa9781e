"""Running diffusers pipelines the same way in every generation and editing tool.

Loading: the pipeline class and weights family come from the tool; the source resolves like every weight (see
:mod:`vitron_agent.weights`), loads with ``from_pretrained`` once through the model manager, and is placed under
its memory policy (:meth:`vitron_agent.models.ModelManager.prepare_pipeline`).

Running: a seed is always fixed (a given one, or a fresh random one that is then recorded), with a CPU generator
so the same seed gives the same pixels on any device; each denoising step reports progress and checks for
cancellation through diffusers' ``callback_on_step_end`` (or the older ``callback`` hook of pipelines that lack
it, such as GLIGEN's).
"""

from __future__ import annotations

import inspect
import secrets
from pathlib import Path
from typing import Any

from vitron_agent.readiness import RunsOn
from vitron_agent.tools.base import ToolContext
from vitron_agent.weights import Family, fetch

__all__ = ["WORKING_SIDE", "load_pipeline", "new_seed", "pipeline_runs_on", "run_pipeline", "working_size"]


def pipeline_runs_on(family: Family, class_name: str | None, workspace: Path) -> RunsOn:
    """What a call of pipeline ``class_name`` on ``family``'s configured weights runs on."""
    return RunsOn(f"{class_name or 'the pipeline its checkpoint names'} ({family.spec(workspace).source})",
                  families=(family,))


def load_pipeline(ctx: ToolContext, family: Family, class_name: str | None) -> tuple[Any, str]:
    """The pipeline ``class_name`` for weights ``family``, loaded once; returns it with its model id.

    With ``class_name`` None the checkpoint decides (its ``model_index.json``), through ``DiffusionPipeline``.

    Raises:
        WeightsUnavailable: no weights on disk and none downloadable, with the fix.
    """
    workspace: Path = ctx.store.root
    spec = family.spec(workspace)
    folder = fetch(spec, None, workspace=workspace)
    models = ctx.models

    def load(device: str, dtype: str) -> Any:
        import diffusers
        import torch

        pipeline_class = getattr(diffusers, class_name or "DiffusionPipeline")
        pipeline = pipeline_class.from_pretrained(folder, dtype=getattr(torch, dtype))
        pipeline.set_progress_bar_config(disable=True)
        return models.prepare_pipeline(pipeline, device)

    return models.get(f"{class_name or 'auto'}:{spec.source}", load), spec.source


WORKING_SIDE = 512
"""The long side images are scaled to for Stable Diffusion-family pipelines: the size they were trained at."""


def working_size(width: int, height: int, side: int = WORKING_SIDE) -> tuple[int, int]:
    """(width, height) scaled down so the long side is at most ``side``, each a multiple of 8 (never upscaled)."""
    scale = min(1.0, side / max(width, height))
    return max(8, int(width * scale) // 8 * 8), max(8, int(height * scale) // 8 * 8)


def new_seed() -> int:
    """A fresh random seed, to be recorded so the result can be reproduced."""
    return secrets.randbelow(2**31)


def run_pipeline(pipeline: Any, ctx: ToolContext, *, steps: int, seed: int, label: str, **arguments: Any) -> Any:
    """Call the pipeline with a seeded CPU generator, reporting each step and honouring cancellation."""
    import torch

    def on_step(index: int) -> None:
        ctx.report(index + 1, steps, f"{label}: step {index + 1} of {steps}")
        ctx.check_cancelled()  # raises ToolCancelled, which ends the pipeline call between steps

    accepted = inspect.signature(pipeline.__call__).parameters
    if "callback_on_step_end" in accepted:
        def step_end(pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            on_step(index)
            return tensors

        arguments["callback_on_step_end"] = step_end
    elif "callback" in accepted:
        arguments["callback"] = lambda index, timestep, latents: on_step(index)
        arguments["callback_steps"] = 1
    generator = torch.Generator("cpu").manual_seed(seed)
    with torch.inference_mode():
        return pipeline(num_inference_steps=steps, generator=generator, **arguments)
