"""animate_image on a real photo with a tiny random Stable Video Diffusion pipeline, chosen by the checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.tools.animate_image import AnimateImage
from vitron_agent.media import load_video
from vitron_agent.models import ModelManager
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session
from vitron_agent.tools import ToolContext, call_record
from vitron_agent.tools.animate_image import AnimateImageTool

from conftest import MOTORCYCLE, ROOT, configure


def test_a_photo_becomes_a_clip(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, f'[weights.i2v]\nsource = "{tiny_diffusion["i2v"]}"\n')
    store = ArtifactStore(workspace, import_roots=[ROOT])
    photo = store.import_file(MOTORCYCLE[0])
    call = AnimateImage(image=photo.id, prompt="the bike drives off", num_frames=4, fps=8, steps=2, seed=6)
    events: list = []
    ctx = ToolContext(store=store, call=call_record(AnimateImageTool, call), models=ModelManager(device="cpu"),
                      progress=lambda done, total, message: events.append(done))
    result = AnimateImageTool().run(call, ctx)
    clip = store.get(result.artifacts[0])
    video = load_video(clip.path)
    assert len(video) == 4 and video.fps == pytest.approx(8) and video.size == (512, 384)
    assert clip.meta["pipeline"] == "StableVideoDiffusionPipeline" and clip.parents == (photo.id,)
    assert clip.seed == 6 and events == [1, 2]


def test_module_g_through_the_graph(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, f'[weights.i2v]\nsource = "{tiny_diffusion["i2v"]}"\n')
    planner = ScriptedPlanner(["<module>G</module> <instruction>image-to-video: the bike drives off</instruction>"])
    session = Session(workspace, planner, import_roots=[ROOT])
    assert session.send("animate it", attachments=[MOTORCYCLE[0]]).pending.tool == "animate_image"
    session.edit(num_frames=2, steps=1, seed=1)
    [clip] = session.approve().artifacts
    assert len(load_video(clip.path)) == 2


def test_the_same_seed_gives_the_same_clip(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    models = ModelManager(device="cpu")
    outputs = []
    for name in ("first", "second"):
        folder = workspace / name
        folder.mkdir()
        configure(folder, f'[weights.i2v]\nsource = "{tiny_diffusion["i2v"]}"\n')
        store = ArtifactStore(folder, import_roots=[ROOT])
        call = AnimateImage(image=store.import_file(MOTORCYCLE[0]).id, prompt="go", num_frames=2, steps=1, seed=3)
        result = AnimateImageTool().run(call, ToolContext(store=store, call=call_record(AnimateImageTool, call), models=models))
        outputs.append(store.get(result.artifacts[0]).path.read_bytes())
    assert outputs[0] == outputs[1]
