"""Generation tools against the bare diffusers pipelines they wrap, with tiny random components, one run.

For each tool: the first call (which loads the pipeline) against the second (loaded once, reused), and the
second call's time against calling the same loaded pipeline directly with the same arguments and seed. The
tool's extra work is the per-step progress callback, encoding the output and storing it with its lineage.

    python benchmarks/pipelines.py [--repeats 3]

On a machine with a GPU the model manager picks it, and the times are that GPU's (absolute per-tool times).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from rows import Row
from vitron_agent.artifacts import ArtifactStore
from vitron_agent.tools.animate_image import AnimateImage
from vitron_agent.tools.edit_image import EditImage
from vitron_agent.tools.generate_image import GenerateImage
from vitron_agent.tools.generate_video import GenerateVideo
from vitron_agent.models import ModelManager
from vitron_agent.testing import build_tiny_pipelines
from vitron_agent.tools import ToolContext, call_record
from vitron_agent.tools.animate_image import IMAGE_TO_VIDEO, AnimateImageTool
from vitron_agent.tools.backends.diffusion import load_pipeline, working_size
from vitron_agent.tools.edit_image import INSTRUCT, INSTRUCT_PIPELINE, EditImageTool
from vitron_agent.tools.generate_image import PIPELINES, SD, GenerateImageTool
from vitron_agent.tools.generate_video import PIPELINE, TEXT_TO_VIDEO, GenerateVideoTool
from vitron_agent.media import load_image

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "media" / "motorcycle.jpg"


def timed(run: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    measure(repeats=args.repeats)


def measure(quick: bool = False, repeats: int | None = None) -> list[Row]:
    """Each generation tool's second call against its bare, already loaded diffusers pipeline."""
    repeats = repeats or (1 if quick else 3)
    root = Path(tempfile.mkdtemp(prefix="vitron-pipelines-"))
    folders = build_tiny_pipelines(root / "weights")
    workspace = root / "workspace"
    workspace.mkdir()
    (workspace / "vitron.toml").write_text("".join(f'[weights.{k}]\nsource = "{v}"\n' for k, v in folders.items()))
    store = ArtifactStore(workspace, import_roots=[PHOTO.parent])
    photo = store.import_file(PHOTO)
    picture = load_image(PHOTO).resize(working_size(photo.meta["width"], photo.meta["height"]))
    cases = [
        ("generate_image", GenerateImageTool(), GenerateImage(prompt="a red fox", width=256, height=256, steps=4,
                                                              seed=1), (SD, PIPELINES["sd"]),
         lambda p, c: p(prompt=c.prompt, height=c.height, width=c.width, guidance_scale=c.guidance_scale)),
        ("edit_image", EditImageTool(), EditImage(image=photo.id, prompts=["make it winter"], steps=4, seed=1),
         (INSTRUCT, INSTRUCT_PIPELINE), lambda p, c: p(prompt=c.prompts[0], image=picture, guidance_scale=c.guidance_scale)),
        ("generate_video", GenerateVideoTool(), GenerateVideo(prompt="waves", num_frames=8, width=128, height=128,
                                                              steps=4, seed=1), (TEXT_TO_VIDEO, PIPELINE),
         lambda p, c: p(prompt=c.prompt, height=c.height, width=c.width, num_frames=c.num_frames,
                        guidance_scale=c.guidance_scale, output_type="np")),
        ("animate_image", AnimateImageTool(), AnimateImage(image=photo.id, prompt="drive", num_frames=2 if quick else 4,
                                                           steps=4, seed=1), (IMAGE_TO_VIDEO, None),
         lambda p, c: p(image=picture, height=picture.height, width=picture.width, num_frames=c.num_frames,
                        fps=round(c.fps), decode_chunk_size=4, output_type="np")),
    ]
    device = ModelManager().device  # the GPU when there is one: then these are absolute per-tool times on it
    print(f"tiny random pipelines, {device}, median of {repeats}")
    rows = []
    print(f"{'tool':<16}{'first call':>12}{'second':>10}{'first/second':>14}{'bare pipeline':>15}{'overhead':>10}")
    for name, tool, call, (family, class_name), bare in cases:
        ctx = ToolContext(store=store, call=call_record(tool, call), models=ModelManager(device=device))
        start = time.perf_counter()
        tool.run(call, ctx)
        first = time.perf_counter() - start
        second = timed(lambda: tool.run(call, ctx), repeats)
        pipeline, _ = load_pipeline(ctx, family, class_name)

        def bare_call_once() -> None:
            with torch.inference_mode():
                bare_with_seed(pipeline, call, bare)

        direct_s = timed(bare_call_once, repeats)
        print(f"{name:<16}{first:>11.2f}s{second:>9.2f}s{first / second:>13.1f}x{direct_s:>14.2f}s"
              f"{(second / direct_s - 1) * 100:>9.1f}%")
        rows.append(Row("pipelines", f"{name} call / bare loaded pipeline call", second / direct_s, "x", goal=1.05,
                        note=f"{second:.2f} s vs {direct_s:.2f} s on {device}; first call (loads) {first:.2f} s"))
    print("goal: overhead within 5% of the bare pipeline call")
    return rows


def bare_with_seed(pipeline: Any, call: Any, bare: Any) -> Any:
    """The pipeline called directly, with the tool's steps and seed."""
    original = pipeline.__call__

    def seeded(**kwargs: Any) -> Any:
        return original(num_inference_steps=call.steps, generator=torch.Generator("cpu").manual_seed(1), **kwargs)

    return bare(seeded, call)


if __name__ == "__main__":
    main()
