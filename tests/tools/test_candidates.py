"""Candidates in the four tools that make them: one batched run, seeds seed, seed + 1, ..., each result marked, the
run's progress reported once, cancel between steps; and the mask argument of the two editing tools."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.media import load_image, load_video
from vitron_agent.models import ModelManager
from vitron_agent.tools import ToolCancelled, ToolContext, call_record
from vitron_agent.tools.animate_image import AnimateImage, AnimateImageTool
from vitron_agent.tools.backends.segmentation import mask_png
from vitron_agent.tools.edit_image import EditImage, EditImageTool
from vitron_agent.tools.edit_video import EditVideo, EditVideoTool
from vitron_agent.tools.generate_image import GenerateImage, GenerateImageTool
from vitron_agent.tools.generate_video import GenerateVideo, GenerateVideoTool

from conftest import MOTORCYCLE, ROOT, configure
from test_edit_video import BIKE, clip as short_clip

MODELS = ModelManager(device="cpu")


def calls(photo: str) -> dict:
    return {
        "generate_image": (GenerateImageTool(), lambda **k: GenerateImage(prompt="a lighthouse", width=64, height=64,
                                                                          steps=2, **k)),
        "edit_image": (EditImageTool(), lambda **k: EditImage(image=photo, prompts=["make it red"], steps=2, **k)),
        "generate_video": (GenerateVideoTool(), lambda **k: GenerateVideo(prompt="waves", width=64, height=64,
                                                                          num_frames=4, steps=2, **k)),
        "animate_image": (AnimateImageTool(), lambda **k: AnimateImage(image=photo, prompt="go", num_frames=4,
                                                                       steps=2, **k)),
    }


def opened(workspace: Path, pipelines: dict[str, Path]) -> tuple[ArtifactStore, str]:
    configure(workspace, '[segmentation]\nbackend = "classic"\n'
              + "".join(f'[weights.{name}]\nsource = "{path}"\n' for name, path in pipelines.items()))
    store = ArtifactStore(workspace, import_roots=[ROOT])
    return store, store.import_file(MOTORCYCLE[0]).id


def run(store: ArtifactStore, tool, call, events: list | None = None, cancelled: bool = False):
    ctx = ToolContext(store=store, call=call_record(tool, call), models=MODELS, cancelled=lambda: cancelled,
                      progress=lambda done, total, message: (events if events is not None else []).append(done))
    result = tool.run(call, ctx)
    return [store.get(i) for i in result.artifacts], result


def pixels(artifact) -> np.ndarray:
    return (np.asarray(load_image(artifact.path)) if artifact.kind == "image" else load_video(artifact.path).frames
            ).astype(int)


@pytest.mark.parametrize("name", ["generate_image", "edit_image", "generate_video", "animate_image"])
def test_candidates_come_from_consecutive_seeds_in_one_run(workspace: Path, tiny_diffusion: dict[str, Path],
                                                           name: str) -> None:
    store, photo = opened(workspace, tiny_diffusion)
    tool, make = calls(photo)[name]
    events: list = []
    made, result = run(store, tool, make(seed=5, candidates=3), events)
    made = [a for a in made if a.kind in ("image", "video")]
    assert [a.seed for a in made] == [5, 6, 7]
    assert [(a.meta["candidate"], a.meta["candidates"]) for a in made] == [(1, 3), (2, 3), (3, 3)]
    assert events == [1, 2]  # one batched run: its two steps, for all three candidates
    assert "3 candidates" in result.text and "seeds 5 to 7" in result.text
    [alone], _ = run(store, tool, make(seed=6))
    # candidate 2 starts from the same noise as seed 6 alone: the same pixels, up to float batching (and, for
    # clips, the encoder); another seed is far off
    assert np.abs(pixels(made[1]) - pixels(alone)).mean() < 2
    assert np.abs(pixels(made[0]) - pixels(alone)).mean() > 5
    assert alone.meta.get("candidate") is None


def test_cancel_stops_a_candidate_run_between_steps(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    store, photo = opened(workspace, tiny_diffusion)
    tool, make = calls(photo)["generate_image"]
    with pytest.raises(ToolCancelled):
        run(store, tool, make(seed=1, candidates=4), cancelled=True)
    assert [a.id for a in store.list("image")] == [photo]  # nothing made


def test_edit_image_repaints_inside_a_given_mask_only(workspace: Path, tiny_diffusion: dict[str, Path],
                                                      tmp_path: Path) -> None:
    store, photo = opened(workspace, tiny_diffusion)
    width, height = store.get(photo).meta["width"], store.get(photo).meta["height"]
    inside = np.zeros((height // 2, width // 2), bool)  # drawn at half size: scaled, with a note
    inside[20:80, 40:160] = True
    sketch = store.add(mask_png(inside), kind="mask", suffix=".png", meta={"width": width // 2, "height": height // 2})
    made, result = run(store, EditImageTool(), EditImage(image=photo, prompts=["paint it red"], mask=sketch.id, steps=2,
                                                          seed=3, candidates=2))
    assert [a.kind for a in made] == ["image", "image"]  # the given mask is an input, not a new artifact
    assert all(sketch.id in a.parents for a in made)
    assert f"the mask is {width // 2} x {height // 2} and was scaled to the image's {width} x {height}" in result.text
    scaled = np.asarray(Image.fromarray(inside).resize((width, height), Image.NEAREST))
    original = pixels(store.get(photo))
    for edited in made:
        assert np.array_equal(pixels(edited)[~scaled], original[~scaled])
    empty = store.add(mask_png(np.zeros((height, width), bool)), kind="mask", suffix=".png")
    with pytest.raises(ValueError, match="the mask is empty"):
        run(store, EditImageTool(), EditImage(image=photo, prompts=["x"], mask=empty.id, steps=1, seed=1))


def test_a_mask_argument_must_be_a_mask(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    from vitron_agent.calls import CallError
    from vitron_agent.tools import validated_args

    store, photo = opened(workspace, tiny_diffusion)
    with pytest.raises(CallError, match=f"mask {photo} is an image, not a mask"):
        validated_args(EditImageTool, {"image": photo, "prompts": ["x"], "mask": photo}, store.find)


def test_edit_video_tracks_the_object_a_mask_marks(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    store, _ = opened(workspace, tiny_diffusion)
    clip = store.import_file(short_clip(workspace, frames=3))
    width, height = clip.meta["width"], clip.meta["height"]
    x1, y1, x2, y2 = BIKE
    inside = np.zeros((height, width), bool)
    inside[y1:y2, x1:x2] = True
    mask = store.add(mask_png(inside), kind="mask", suffix=".png", meta={"width": width, "height": height})
    made, _ = run(store, EditVideoTool(), EditVideo(video=clip.id, background="a stormy sea", mask=mask.id, steps=1,
                                                    seed=2))
    masks, edited = made
    assert mask.id in masks.parents and edited.kind == "video"
    tracked = np.load(masks.path)["masks"]
    assert np.array_equal(tracked[0], inside)  # the person's own pixels on the frame they marked
