"""edit_video on the DAVIS motorbike clip: tracked with the classic backend, repainted with a tiny random
inpainting pipeline; same frame count and fps, and the background left alone when only the foreground changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.tools.edit_video import EditVideo
from vitron_agent.media import encode_video, load_video
from vitron_agent.models import ModelManager
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.regions import Box
from vitron_agent.session import Session
from vitron_agent.tools import ToolContext, call_record
from vitron_agent.tools.edit_video import EditVideoTool

from conftest import MOTORBIKE_FRAMES, configure, sam2_settings

BIKE = (198, 172, 296, 278)


def clip(workspace: Path, frames: int = 4) -> Path:
    path = workspace / "motorbike.mp4"
    path.write_bytes(encode_video(load_video(MOTORBIKE_FRAMES).frames[:frames], 15))
    return path


def settings(tiny_diffusion: dict[str, Path]) -> str:
    return f'[segmentation]\nbackend = "classic"\n[weights.inpaint]\nsource = "{tiny_diffusion["inpaint"]}"\n'


def test_foreground_only_leaves_the_background(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    store = ArtifactStore(workspace)
    source = store.import_file(clip(workspace))
    call = EditVideo(video=source.id, foreground="a golden motorbike", region=Box.of(BIKE), steps=1, seed=9)
    events: list = []
    ctx = ToolContext(store=store, call=call_record(EditVideoTool, call), models=ModelManager(device="cpu"),
                      progress=lambda done, total, message: events.append((done, total)))
    result = EditVideoTool().run(call, ctx)
    masks_artifact, edited = (store.get(i) for i in result.artifacts)
    masks = np.load(masks_artifact.path)["masks"]
    before, after = load_video(source.path), load_video(edited.path)
    assert len(after) == len(before) == 4 and after.fps == pytest.approx(before.fps) and after.size == before.size
    difference = np.abs(after.frames.astype(int) - before.frames.astype(int)).mean(axis=3)
    for index in range(4):
        assert difference[index][~masks[index]].mean() < 3  # only H.264's own noise outside the object
        assert difference[index][masks[index]].mean() > 10  # the object was repainted
    assert edited.parents == (source.id, masks_artifact.id) and edited.seed == 9
    assert events[-1] == (8, 8)


def test_module_f_with_two_instructions(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    planner = ScriptedPlanner(["Sure. <module>F</module> <instruction>video editing: a golden motorbike"
                               "</instruction> <instruction>video editing: a snowy road</instruction>"])
    session = Session(workspace, planner, import_roots=[workspace])
    shown = session.send("make the bike gold and the road snowy", attachments=[clip(workspace, 3)],
                         region=list(BIKE)).pending
    assert (shown.args["foreground"], shown.args["background"]) == ("a golden motorbike", "a snowy road")
    assert "tracking: classic" in shown.current.backend
    session.edit(steps=1, seed=3)
    masks, edited = session.approve().artifacts
    assert masks.kind == "masks" and len(load_video(edited.path)) == 3


def test_the_same_seed_gives_the_same_clip(workspace: Path, tiny_diffusion: dict[str, Path], tiny_sam2: Path) -> None:
    """Tracked with SAM2 (random weights): OpenCV's MIL tracker, behind the classic backend, does not give the
    same track on every run, so a byte-for-byte comparison needs the deterministic tracker."""
    models = ModelManager(device="cpu")
    outputs = []
    for name in ("first", "second"):
        folder = workspace / name
        folder.mkdir()
        configure(folder, sam2_settings(tiny_sam2) + f'[weights.inpaint]\nsource = "{tiny_diffusion["inpaint"]}"\n')
        store = ArtifactStore(folder)
        source = store.import_file(clip(folder, 2))
        call = EditVideo(video=source.id, background="a snowy road", region=Box.of(BIKE), steps=1, seed=5)
        result = EditVideoTool().run(call, ToolContext(store=store, call=call_record(EditVideoTool, call), models=models))
        outputs.append(store.get(result.artifacts[1]).path.read_bytes())
    assert outputs[0] == outputs[1]
