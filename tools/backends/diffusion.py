"""Running diffusers pipelines the same way in every generation and editing tool.

Loading: the pipeline class and weights family come from the tool; the source resolves like every weight (see
:mod:`vitron_agent.weights`), loads with ``from_pretrained`` once through the model manager, and is placed under
its memory policy (:meth:`vitron_agent.models.ModelManager.prepare_pipeline`).

Running: a seed is always fixed (a given one, or a fresh random one that is then recorded), with a CPU generator
so the same seed gives the same pixels on any device; each denoising step reports progress and checks for
cancellation through diffusers' ``callback_on_step_end`` (or the older ``callback`` hook of pipelines that lack
it, such as GLIGEN's). Several candidates are one batched call, a generator per candidate (seeds ``seed,
seed + 1, ...``).
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vitron_agent.readiness import RunsOn
from vitron_agent.tools.base import ToolContext
from vitron_agent.weights import Family, fetch

__all__ = ["WORKING_SIDE", "candidate_seeds", "load_pipeline", "new_seed", "pipeline_runs_on", "run_pipeline",
           "working_size"]


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


def candidate_seeds(seed: int | None, count: int) -> list[int]:
    """The seeds of ``count`` candidates: ``seed, seed + 1, ...`` (a fresh random base when ``seed`` is None), so
    candidate k alone is the run with seed ``seed + k - 1``."""
    base = seed if seed is not None else new_seed()
    return [base + offset for offset in range(count)]


def run_pipeline(pipeline: Any, ctx: ToolContext, *, steps: int, seeds: Sequence[int], label: str,
                 **arguments: Any) -> Any:
    """Call the pipeline for one result per seed, each from its own seeded CPU generator, reporting each step and
    honouring cancellation.

    Several seeds make one batched call. With an input ``image``, each result gets its own copy (or its own
    image, when a list of one per result is given) and a prompt string becomes one per result: pipelines that draw
    noise for the input from the generator (Stable Video Diffusion) or encode it with it (inpainting) then give
    candidate k exactly as a run of its seed alone, and diffusers deprecates repeating one image itself. Without
    one, the pipeline's ``num_images_per_prompt`` / ``num_videos_per_prompt``, else a prompt list; a pipeline
    that takes none of these is called once per seed. Each batch element draws its noise from its own generator.
    """
    import torch

    count = len(seeds)
    batch = _batch_arguments(pipeline, count, arguments) if count > 1 else {}
    if batch is None:  # no way to batch: one call per seed, progress over them all
        return _one_call_per_seed(pipeline, ctx, steps=steps, seeds=seeds, label=label, **arguments)
    arguments.update(batch)
    _hook_steps(pipeline, arguments, lambda index: _on_step(ctx, index + 1, steps, label))
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    with torch.inference_mode():
        return pipeline(num_inference_steps=steps, generator=generators if count > 1 else generators[0],
                        **arguments)


def _on_step(ctx: ToolContext, done: int, total: int, label: str) -> None:
    ctx.report(done, total, f"{label}: step {done} of {total}")
    ctx.check_cancelled()  # raises ToolCancelled, which ends the pipeline call between steps


def _hook_steps(pipeline: Any, arguments: dict[str, Any], on_step: Any) -> None:
    """Have the pipeline call ``on_step(index)`` after each denoising step (``callback_on_step_end``, or the
    older ``callback`` of pipelines that lack it)."""
    accepted = inspect.signature(pipeline.__call__).parameters
    if "callback_on_step_end" in accepted:
        def step_end(pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            on_step(index)
            return tensors

        arguments["callback_on_step_end"] = step_end
    elif "callback" in accepted:
        arguments["callback"] = lambda index, timestep, latents: on_step(index)
        arguments["callback_steps"] = 1


def _batch_arguments(pipeline: Any, count: int, arguments: dict[str, Any]) -> dict[str, Any] | None:
    """What makes one call give ``count`` results, or None when the pipeline can't batch."""
    accepted = inspect.signature(pipeline.__call__).parameters
    inputs = arguments.get("image")
    if inputs is not None:  # an input per result: one given, copied, or one per result already
        images = inputs if isinstance(inputs, list) else [inputs]
        if len(images) not in (1, count):
            return None
        batch: dict[str, Any] = {"image": images * (count // len(images))}
        if isinstance(arguments.get("prompt"), str):
            batch["prompt"] = [arguments["prompt"]] * count
        return batch
    for name in ("num_images_per_prompt", "num_videos_per_prompt"):
        if name in accepted:
            return {name: count}
    if isinstance(arguments.get("prompt"), str):
        return {"prompt": [arguments["prompt"]] * count}
    return None


def _one_call_per_seed(pipeline: Any, ctx: ToolContext, *, steps: int, seeds: Sequence[int], label: str,
                       **arguments: Any) -> Any:
    """The fallback: one call per seed, the outputs joined in seed order (``images`` lists, ``frames`` arrays)."""
    import numpy as np
    import torch

    outputs = []
    total = steps * len(seeds)
    for number, seed in enumerate(seeds):
        call = dict(arguments)
        _hook_steps(pipeline, call, lambda index, done=number * steps: _on_step(ctx, done + index + 1, total, label))
        with torch.inference_mode():
            outputs.append(pipeline(num_inference_steps=steps, generator=torch.Generator("cpu").manual_seed(seed),
                                    **call))
    joined = outputs[0]
    if getattr(joined, "images", None) is not None:
        joined.images = [image for output in outputs for image in output.images]
    if getattr(joined, "frames", None) is not None:
        joined.frames = np.concatenate([np.asarray(output.frames) for output in outputs])
    return joined
