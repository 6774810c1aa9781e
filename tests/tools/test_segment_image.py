"""segment_image on real photos: the classic backend against the README's boxes, and SAM2 with random weights
loaded through the user's path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import Point
from vitron_agent.tools.segment_image import SegmentImage
from vitron_agent.media import load_image
from vitron_agent.models import ModelManager
from vitron_agent.readiness import check
from vitron_agent.regions import Box
from vitron_agent.tools import ToolContext, call_record, load_tools
from vitron_agent.tools.backends.segmentation import NeedsRegion, choose_backend, describe_backend
from vitron_agent.tools.segment_image import SegmentImageTool
from vitron_agent.weights import WeightsUnavailable

from conftest import MOTORCYCLE, ROOT, TENNIS_PLAYER, TEST_DATA, configure, sam2_settings

PLATE = TEST_DATA / "plate.jpg", (40, 120, 585, 455)


def box_iou(mask: np.ndarray, box: tuple[float, ...]) -> float:
    ys, xs = np.nonzero(mask)
    found = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    inter_w = max(0, min(found[2], box[2]) - max(found[0], box[0]))
    inter_h = max(0, min(found[3], box[3]) - max(found[1], box[1]))
    inter = inter_w * inter_h
    union = (found[2] - found[0]) * (found[3] - found[1]) + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return inter / union


def run(workspace: Path, photo: Path, models: ModelManager | None = None, events: list | None = None, **args):
    store = ArtifactStore(workspace, import_roots=[ROOT])
    image = store.import_file(photo)
    call = SegmentImage(image=image.id, **args)
    ctx = ToolContext(store=store, call=call_record(SegmentImageTool, call), models=models or ModelManager(device="cpu"),
                      progress=lambda done, total, message: (events if events is not None else []).append(done))
    return store, image, SegmentImageTool().run(call, ctx)


@pytest.mark.parametrize(("photo", "box"), [TENNIS_PLAYER, MOTORCYCLE, PLATE], ids=["player", "motorcycle", "plate"])
def test_classic_backend_finds_the_object_in_the_box(workspace: Path, photo: Path, box: tuple) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    store, image, result = run(workspace, photo, target="it", region=Box.of(box))
    mask_artifact, preview = (store.get(i) for i in result.artifacts)
    mask = np.asarray(Image.open(mask_artifact.path))
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}  # lossless 0/255 PNG
    assert mask.shape == (image.meta["height"], image.meta["width"])
    assert box_iou(mask > 0, box) >= 0.5
    assert preview.kind == "preview" and load_image(preview.path).size == (image.meta["width"], image.meta["height"])
    for artifact in (mask_artifact, preview):
        assert artifact.parents == (image.id,) and artifact.meta["backend"] == "classic"
        assert artifact.call["tool"] == "segment_image"
    assert "with classic" in result.text


def test_a_photo_over_the_pixel_budget_is_segmented_scaled_down_and_the_mask_scaled_back(workspace: Path,
                                                                                       tmp_path: Path) -> None:
    """The motorcycle photo at 5x (3200 x 2400, 7.7 MP): GrabCut works on a copy within the budget, reports each
    of its steps, and the full-size mask still fits the object's box."""
    from vitron_agent.tools.backends import classic

    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    photo, box = MOTORCYCLE
    large = workspace / "motorcycle-5x.jpg"
    Image.open(photo).resize((3200, 2400), Image.BICUBIC).save(large, quality=95)
    events: list = []
    store, image, result = run(workspace, large, events=events, region=Box.of(tuple(5 * v for v in box)))
    mask = np.asarray(Image.open(store.get(result.artifacts[0]).path)) > 0
    assert mask.shape == (2400, 3200) and 3200 * 2400 > 4 * classic.PIXEL_BUDGET
    assert box_iou(mask, tuple(5 * v for v in box)) >= 0.9  # the README's box, as at full size (measured 1.00)
    assert [done for done in events if 1 < done < 2] == pytest.approx([1 + k / 5 for k in range(1, 5)])


def test_cancel_stops_grabcut_between_its_steps(workspace: Path) -> None:
    from vitron_agent.tools import ToolCancelled

    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    store = ArtifactStore(workspace, import_roots=[ROOT])
    image = store.import_file(MOTORCYCLE[0])
    call = SegmentImage(image=image.id, region=Box.of(MOTORCYCLE[1]))
    reported: list = []
    ctx = ToolContext(store=store, call=call_record(SegmentImageTool, call), models=ModelManager(device="cpu"),
                      progress=lambda done, total, message: reported.append(message),
                      cancelled=lambda: "segmenting: step 2 of 5" in reported)
    with pytest.raises(ToolCancelled):
        SegmentImageTool().run(call, ctx)
    assert reported[-1] == "segmenting: step 2 of 5" and store.list("mask") == []


def test_classic_clicks_refine_the_mask(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    photo, box = MOTORCYCLE
    store, _, result = run(workspace, photo, points=[Point(x=300, y=250), Point(x=100, y=120, positive=False)])
    mask = np.asarray(Image.open(store.get(result.artifacts[0]).path)) > 0
    assert mask[250, 300] and not mask[120, 100]


def test_words_alone_need_a_region_without_weights(workspace: Path) -> None:
    with pytest.raises(NeedsRegion, match="Draw a box"):
        run(workspace, MOTORCYCLE[0], target="the motorcycle")


def test_auto_falls_back_to_classic_and_says_why(workspace: Path) -> None:
    backend = choose_backend(workspace)
    assert backend.name == "classic" and "hf download facebook/sam2.1-hiera-tiny" in backend.why


def test_forcing_sam2_without_weights_says_how_to_get_them(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "sam2"\n')
    with pytest.raises(WeightsUnavailable, match="VITRON_WEIGHTS_SAM2"):
        run(workspace, MOTORCYCLE[0], region=Box.of(MOTORCYCLE[1]))


def test_sam2_with_random_weights_loads_once(workspace: Path, tiny_sam2: Path) -> None:
    configure(workspace, sam2_settings(tiny_sam2))
    models = ModelManager(device="cpu")
    events: list = []
    store, image, result = run(workspace, MOTORCYCLE[0], models, events, region=Box.of(MOTORCYCLE[1]))
    mask_artifact = store.get(result.artifacts[0])
    mask = np.asarray(Image.open(mask_artifact.path))
    assert mask.shape == (480, 640) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert mask_artifact.model_id == str(tiny_sam2) and mask_artifact.meta["backend"] == "sam2"
    assert events == [0, 1, 2, 3]
    assert models.stats()["loads"] == 1
    run(workspace, MOTORCYCLE[0], models, region=Box.of((100, 100, 300, 300)))
    assert models.stats()["loads"] == 1 and models.stats()["hits"] == 1  # the second call loaded nothing


def test_segment_tools_are_built_in() -> None:
    tools = load_tools(plugins=False)
    assert tools["segment_image"].module.value == "B" and tools["segment_video"].module.value == "E"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ('[segmentation]\nbackend = "classic"\n', "classic (OpenCV GrabCut; configured)"),
        ('[weights.sam2]\nsource = "/nowhere/sam2.pt"\n', "classic (OpenCV GrabCut; the SAM2 weights /nowhere/sam2.pt"),
        ('[segmentation]\nbackend = "sam2"\n[weights.sam2]\nsource = "/nowhere/sam2.pt"\n',
         "sam2 (/nowhere/sam2.pt, configured)"),
        ('[segmentation]\nbackend = "sometimes"\n', "unavailable: "),
    ],
)
def test_the_decision_says_which_backend_will_run(workspace: Path, settings: str, expected: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VITRON_SEGMENTATION_BACKEND", raising=False)
    configure(workspace, settings)
    runs_on = describe_backend(workspace)
    assert runs_on.backend.startswith(expected)
    readiness = check(runs_on, workspace)
    if expected.startswith("sam2"):  # insisted on, and missing: it can't run, and the decision says how to mend it
        assert readiness.status == "needs_weights" and "[weights.sam2]" in readiness.fix
    else:  # the classic backend needs nothing
        assert readiness.can_run


def test_words_alone_also_need_the_detector(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VITRON_SEGMENTATION_BACKEND", raising=False)
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    words = SegmentImageTool().describe({"target": "the dog"}, workspace)
    readiness = check(words, workspace)  # no detector weights here, and no hub
    assert readiness.status == "needs_weights" and readiness.families == ("grounding",)
    assert "draw a box around it" in readiness.fix
    assert check(SegmentImageTool().describe({"target": "the dog", "region": [1, 2, 3, 4]}, workspace),
                 workspace).can_run


def test_configured_sam2_weights_on_disk_are_named(workspace: Path, tiny_sam2: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VITRON_SEGMENTATION_BACKEND", raising=False)
    configure(workspace, sam2_settings(tiny_sam2))
    assert describe_backend(workspace).backend == f"sam2 ({tiny_sam2})"
