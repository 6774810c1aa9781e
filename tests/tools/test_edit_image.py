"""edit_image on a real photo with tiny random inpainting and InstructPix2Pix pipelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.tools.edit_image import EditImage
from vitron_agent.media import load_image
from vitron_agent.models import ModelManager
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.regions import Box
from vitron_agent.session import Session
from vitron_agent.tools import ToolContext, call_record
from vitron_agent.tools.edit_image import EditImageTool

from conftest import MOTORCYCLE, ROOT, configure

CLASSIC = '[segmentation]\nbackend = "classic"\n'


def settings(pipelines: dict[str, Path]) -> str:
    return CLASSIC + "".join(f'[weights.{name}]\nsource = "{path}"\n' for name, path in pipelines.items())


def edit(workspace: Path, models: ModelManager, events: list | None = None, **args):
    store = ArtifactStore(workspace, import_roots=[ROOT])
    photo = store.import_file(MOTORCYCLE[0])
    call = EditImage(image=photo.id, steps=2, seed=11, **args)
    ctx = ToolContext(store=store, call=call_record(EditImageTool, call), models=models,
                      progress=lambda done, total, message: (events if events is not None else []).append(message))
    result = EditImageTool().run(call, ctx)
    return store, photo, [store.get(i) for i in result.artifacts], result


def test_region_edits_change_only_pixels_inside_the_mask(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    events: list = []
    store, photo, (mask, first, second), result = edit(
        workspace, ModelManager(device="cpu"), events, prompts=["paint it red", "add snow"],
        region=Box.of(MOTORCYCLE[1]))
    inside = np.asarray(Image.open(mask.path)) > 0
    original = np.asarray(load_image(photo.path))
    for step in (first, second):
        edited = np.asarray(load_image(step.path))
        assert edited.shape == original.shape
        assert np.array_equal(edited[~inside], original[~inside])  # outside the mask: untouched, exactly
        assert not np.array_equal(edited[inside], original[inside])
    assert first.parents == (photo.id, mask.id) and second.parents == (first.id, mask.id)
    assert (first.meta["prompt"], second.meta["prompt"]) == ("paint it red", "add snow")
    assert first.seed == 11 and first.model_id == str(tiny_diffusion["inpaint"])
    assert len(events) == 4 and events[0] == "edit 1: step 1 of 2"


def test_instruction_edit_and_reproducibility(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    models = ModelManager(device="cpu")
    _, photo, [edited], result = edit(workspace, models, prompts=["make it look like winter"])
    assert edited.meta["pipeline"] == "StableDiffusionInstructPix2PixPipeline"
    assert load_image(edited.path).size == (photo.meta["width"], photo.meta["height"])
    again_workspace = workspace / "again"
    again_workspace.mkdir()
    configure(again_workspace, settings(tiny_diffusion))
    _, _, [again], _ = edit(again_workspace, models, prompts=["make it look like winter"])
    assert again.path.read_bytes() == edited.path.read_bytes() and models.stats()["loads"] == 1


def test_module_c_through_the_graph(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    planner = ScriptedPlanner(["Sure. <module>C</module> <instruction>editing: make it red; add snow</instruction>"
                               " <region>[21, 42, 203, 177]</region>"])
    session = Session(workspace, planner, import_roots=[ROOT])
    shown = session.send("repaint the bike", attachments=[MOTORCYCLE[0]]).pending
    assert shown.tool == "edit_image" and shown.args["prompts"] == ["make it red", "add snow"]
    assert shown.current.backend.startswith("StableDiffusionInpaintPipeline (") and shown.current.preview
    session.edit(steps=1, seed=2)
    done = session.approve()
    assert [a.kind for a in done.artifacts] == ["mask", "image", "image"]
