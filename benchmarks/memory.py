"""Memory budget with three models in play: three generation and editing tools take turns through one model
manager whose budget holds only two of their pipelines, twice round. Reports the most model memory resident at
once against the budget, the loads and evictions, and the process's peak RSS.

    python benchmarks/memory.py

Tiny random pipelines (same classes and code paths as the released checkpoints), so the budget is set from their
measured sizes: 2.5 times the largest.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from residency import peak_rss_mib
from rows import Row
from vitron_agent.artifacts import ArtifactStore
from vitron_agent.tools.edit_image import EditImage
from vitron_agent.tools.generate_image import GenerateImage
from vitron_agent.models import ModelManager
from vitron_agent.testing import build_tiny_pipelines
from vitron_agent.tools import ToolContext, call_record
from vitron_agent.tools.edit_image import EditImageTool
from vitron_agent.tools.generate_image import GenerateImageTool

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "media" / "motorcycle.jpg"


def measure(quick: bool = False) -> list[Row]:
    root = Path(tempfile.mkdtemp(prefix="vitron-memory-"))
    folders = build_tiny_pipelines(root / "weights")
    workspace = root / "workspace"
    workspace.mkdir()
    (workspace / "vitron.toml").write_text('[segmentation]\nbackend = "classic"\n' + "".join(
        f'[weights.{k}]\nsource = "{v}"\n' for k, v in folders.items()))
    store = ArtifactStore(workspace, import_roots=[PHOTO.parent])
    photo = store.import_file(PHOTO)
    calls = [
        (GenerateImageTool(), GenerateImage(prompt="a red fox", width=128, height=128, steps=2, seed=1)),
        (EditImageTool(), EditImage(image=photo.id, prompts=["paint it red"], region=(60, 90, 580, 380), steps=2,
                                    seed=1)),
        (EditImageTool(), EditImage(image=photo.id, prompts=["make it winter"], steps=2, seed=1)),
    ]
    sizes = []  # each pipeline's size, from a manager of its own with no limit
    for tool, call in calls:
        alone = ModelManager(device="cpu")
        tool.run(call, ToolContext(store=store, call=call_record(tool, call), models=alone))
        sizes.append(sum(alone.stats()["bytes"].values()))
        alone.clear()
    largest, total = max(sizes), sum(sizes)
    budget = int(largest * 2.5)
    models = ModelManager(device="cpu", budget=budget)
    peak_resident = 0
    for _ in range(2 if quick else 4):
        for tool, call in calls:
            tool.run(call, ToolContext(store=store, call=call_record(tool, call), models=models))
            peak_resident = max(peak_resident, sum(models.stats()["bytes"].values()))
    stats = models.stats()
    print(f"three pipelines, largest {largest / 2**20:.1f} MiB, all three {total / 2**20:.1f} MiB; "
          f"budget {budget / 2**20:.1f} MiB")
    print(f"most resident at once {peak_resident / 2**20:.1f} MiB; loads {stats['loads']}, evictions "
          f"{stats['evictions']}, hits {stats['hits']}; peak RSS {peak_rss_mib():.0f} MiB")
    return [
        Row("memory", "most model memory resident at once / budget (3 models, budget fits 2)",
            peak_resident / budget, "x", goal=1.0,
            note=f"{stats['loads']} loads, {stats['evictions']} evictions; all three: {total / 2**20:.1f} MiB"),
        Row("memory", "peak RSS of the process", peak_rss_mib(), "MiB", note="python + torch + three tiny pipelines"),
    ]


if __name__ == "__main__":
    measure()
