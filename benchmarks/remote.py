"""Tools on Ray Serve, against the same calls run in this process, on one machine.

    python benchmarks/remote.py [--quick]

A local Ray instance is started here (its start-up and each deployment's are reported). Then, side by side:

- overhead: one tool call through :class:`~vitron_agent.ray_execution.RayRunner` (the request with its input
  shipped, the replica's run, the outputs stored back) against ``tool.run`` here, both with the model loaded:
  a tiny Stable Diffusion pipeline (goal: at most 1.15x) and the classic segmentation (reported). The replica
  has as many CPUs as torch uses here, so both compute with the same threads; calls alternate, median of N.
- scaling: concurrent classic segmentations (8 at a time) on 2 replicas of one CPU each against 1 replica of
  one CPU (goal: at least 1.6x), the same Ray instance and cores for both. A replica runs as many calls at
  once as it has CPUs, so the second replica is the only added capacity.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rows import Row

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "media" / "motorcycle.jpg"
BOX = (60, 90, 580, 380)
OVERHEAD_GOAL = 1.15
SCALING_GOAL = 1.6


def measure(quick: bool = False) -> list[Row]:
    import ray
    import torch
    from ray import serve

    from vitron_agent.config import FamilyExecution
    from vitron_agent.execution import FAMILIES, Execution
    from vitron_agent.ray_execution import deploy
    from vitron_agent.testing import build_tiny_pipelines

    threads = torch.get_num_threads()
    root = Path(tempfile.mkdtemp(prefix="vitron-remote-"))
    tiny = build_tiny_pipelines(root / "weights")
    start = time.perf_counter()
    ray.init(num_cpus=threads + 2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    started = time.perf_counter() - start
    families = {name: FamilyExecution(num_cpus=threads) for name in FAMILIES}
    execution = Execution(backend="ray", address="auto", request_bytes=2**28, families=families)
    start = time.perf_counter()
    deploy(execution, ["sd", "sam2"])
    deployed = (time.perf_counter() - start) / 2
    print(f"Ray started in {started:.1f} s; a deployment ready in {deployed:.1f} s (mean of 2)")
    rows = [Row("remote", "Ray start-up (local instance)", started, "s"),
            Row("remote", "one family deployed", deployed, "s")]
    repeats = 5 if quick else 15
    settings = f'[weights.sd]\nsource = "{tiny["sd"]}"\n[segmentation]\nbackend = "classic"\n'
    sd, segmentation = overhead(root, settings, repeats)
    rows.append(Row("remote", "tiny SD call via Ray / here", sd, "x", OVERHEAD_GOAL,
                    note=f"median of {repeats}, model loaded in both"))
    rows.append(Row("remote", "classic segmentation via Ray / here", segmentation, "x",
                    note=f"median of {repeats}"))
    serve.delete("vitron-sd")
    calls = 16 if quick else 48
    one = throughput(execution, root, settings, replicas=1, calls=calls)
    two = throughput(execution, root, settings, replicas=2, calls=calls)
    print(f"concurrent classic segmentations: {one:.2f}/s on 1 replica, {two:.2f}/s on 2 ({two / one:.2f}x)")
    rows.append(Row("remote", "segmentations/s, 2 replicas / 1", two / one, "x", SCALING_GOAL,
                    lower_is_better=False, note=f"{calls} calls, 8 at a time, 1 CPU per replica"))
    serve.shutdown()
    ray.shutdown()
    return rows


def overhead(root: Path, settings: str, repeats: int) -> tuple[float, float]:
    """The median time of a call through Ray over the same call here, for tiny SD and classic segmentation."""
    from vitron_agent.tools import ToolContext, builtin_tools, call_record
    from vitron_agent.tools.generate_image import GenerateImage
    from vitron_agent.tools.segment_image import SegmentImage

    from vitron_agent.workspace import Workspace

    here, there = (Workspace(folder(root / name, settings + extra), import_roots=[PHOTO.parent])
                   for name, extra in (("here", ""), ("there", '[execution]\nbackend = "ray"\n')))
    ratios = []
    fox = GenerateImage(prompt="a red fox", width=256, height=256, steps=4, seed=1)
    cases = (("generate_image", lambda ws: fox),
             ("segment_image", lambda ws: SegmentImage(image=ws.store.import_file(PHOTO).id, region=BOX)))
    for tool_name, make in cases:
        tool = builtin_tools()[tool_name]
        times: dict[str, list[float]] = {"here": [], "there": []}
        for attempt in range(repeats + 1):  # the first call of each loads the model: not counted
            for name, workspace in (("here", here), ("there", there)):
                call = make(workspace)
                record = call_record(tool, call, run=f"{name}/{attempt}")
                ctx = ToolContext(store=workspace.store, call=record, models=workspace.models)
                start = time.perf_counter()
                workspace.runner.run(tool, call, ctx)
                if attempt:
                    times[name].append(time.perf_counter() - start)
        local, remote = statistics.median(times["here"]), statistics.median(times["there"])
        print(f"{tool_name:<16} here {local * 1000:7.1f} ms   via Ray {remote * 1000:7.1f} ms   "
              f"{remote / local:.2f}x")
        ratios.append(remote / local)
    return ratios[0], ratios[1]


def throughput(execution: Any, root: Path, settings: str, *, replicas: int, calls: int) -> float:
    """Classic segmentations per second, 8 in flight at once, on ``replicas`` replicas of one CPU each."""
    from vitron_agent.tools import ToolContext, builtin_tools, call_record
    from vitron_agent.tools.segment_image import SegmentImage

    from vitron_agent.config import FamilyExecution
    from vitron_agent.ray_execution import deploy
    from vitron_agent.workspace import Workspace

    one_cpu = FamilyExecution(num_cpus=1, min_replicas=replicas, max_replicas=replicas)
    deploy(execution.model_copy(update={"families": {**execution.families, "sam2": one_cpu}}), ["sam2"])
    workspace = Workspace(folder(root / f"load{replicas}", settings + '[execution]\nbackend = "ray"\n'),
                          import_roots=[PHOTO.parent])
    tool = builtin_tools()["segment_image"]
    call = SegmentImage(image=workspace.store.import_file(PHOTO).id, region=BOX)

    def one(number: int) -> None:
        workspace.runner.run(tool, call, ToolContext(store=workspace.store, models=workspace.models,
                                                     call=call_record(tool, call, run=f"load/{number}")))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(4)))  # each replica warm
        start = time.perf_counter()
        list(pool.map(one, range(4, 4 + calls)))
        return calls / (time.perf_counter() - start)


def folder(path: Path, settings: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "vitron.toml").write_text(settings)
    return path


def main() -> None:
    for row in measure(quick="--quick" in sys.argv):
        print(row)


if __name__ == "__main__":
    main()
