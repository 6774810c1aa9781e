"""Four candidates in one run against four runs of one: what a person would do without candidates (ask four times,
each with its own seed), side by side in one process, for each tool that makes candidates.

    python benchmarks/candidates.py [--quick]

The pipelines are ``vitron_agent.testing``'s tiny random ones on CPU, loaded once through the model manager
before timing (both ways share them): 256 x 256 images, the sample photo at 256 x 192 for the editing tools,
8-frame clips (4 with --quick) of 128 x 128 (text to video) and 256 x 192 (image to video). Each figure is the
best of a few repeats, in this process.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rows import Row

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "media" / "motorcycle.jpg"
GOAL = 0.75


def setup(folder: Path) -> tuple[Any, Any, str]:
    """A workspace on the tiny pipelines; its store, a model manager, and the photo's artifact id."""
    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.models import ModelManager
    from vitron_agent.testing import build_tiny_pipelines

    pipelines = build_tiny_pipelines(folder / "pipelines")
    workspace = folder / "workspace"
    workspace.mkdir()
    (workspace / "vitron.toml").write_text("".join(f'[weights.{name}]\nsource = "{path}"\n'
                                                   for name, path in pipelines.items()))
    from PIL import Image

    small = folder / "photo.png"  # the sample photo at 256 x 192: the editing tools' working size stays small
    Image.open(PHOTO).convert("RGB").resize((256, 192), Image.LANCZOS).save(small)
    store = ArtifactStore(workspace, import_roots=[folder])
    return store, ModelManager(device="cpu"), store.import_file(small).id


def calls(photo: str, steps: int, frames: int) -> dict[str, tuple[Any, Any]]:
    """Each tool with a function from (seed, candidates) to its call."""
    from vitron_agent.tools.animate_image import AnimateImage, AnimateImageTool
    from vitron_agent.tools.edit_image import EditImage, EditImageTool
    from vitron_agent.tools.generate_image import GenerateImage, GenerateImageTool
    from vitron_agent.tools.generate_video import GenerateVideo, GenerateVideoTool

    return {
        "generate_image": (GenerateImageTool(), lambda seed, n: GenerateImage(
            prompt="a lighthouse on a cliff at dusk", width=256, height=256, steps=steps, seed=seed, candidates=n)),
        "edit_image": (EditImageTool(), lambda seed, n: EditImage(
            image=photo, prompts=["make it look like winter"], steps=steps, seed=seed, candidates=n)),
        "generate_video": (GenerateVideoTool(), lambda seed, n: GenerateVideo(
            prompt="waves on a beach", width=128, height=128, num_frames=frames, steps=steps, seed=seed, candidates=n)),
        "animate_image": (AnimateImageTool(), lambda seed, n: AnimateImage(
            image=photo, prompt="the bike drives off", num_frames=frames, steps=steps, seed=seed, candidates=n)),
    }


def timed(tool: Any, call: Any, store: Any, models: Any) -> float:
    from vitron_agent.tools import ToolContext, call_record

    start = time.perf_counter()
    tool.run(call, ToolContext(store=store, call=call_record(tool, call), models=models))
    return time.perf_counter() - start


def measure(quick: bool = False) -> list[Row]:
    repeats, steps, frames = (2, 4, 4) if quick else (3, 8, 8)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        store, models, photo = setup(Path(folder))
        for name, (tool, make) in calls(photo, steps, frames).items():
            timed(tool, make(0, 1), store, models)  # loads the pipeline; neither way pays for it below
            together = min(timed(tool, make(100 + r, 4), store, models) for r in range(repeats))
            apart = min(sum(timed(tool, make(200 + r + k, 1), store, models) for k in range(4))
                        for r in range(repeats))
            ratio = together / apart
            print(f"{name}: 4 candidates in one run {together:.2f} s, 4 runs of one {apart:.2f} s, ratio {ratio:.2f}")
            rows.append(Row("candidates", f"{name}: 4 candidates / 4 runs of one", ratio, "x", goal=GOAL,
                            note=f"tiny pipelines on 2 CPU cores, {steps} steps; {together:.2f} s against "
                                 f"{apart:.2f} s"))
    return rows


def main() -> None:
    for row in measure(quick="--quick" in sys.argv):
        print(f"{row.name}: {row.figure:.2f} (goal <= {row.goal})")


if __name__ == "__main__":
    main()
