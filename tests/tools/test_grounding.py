"""Words to a box with a tiny random zero-shot detector (OWLv2 layout), saved with save_pretrained and loaded back
through the same AutoProcessor / AutoModelForZeroShotObjectDetection path real checkpoints take."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vitron_agent.media import load_image
from vitron_agent.models import ModelManager
from vitron_agent.testing import tiny_clip_tokenizer
from vitron_agent.tools.backends import grounding

from conftest import MOTORCYCLE, configure, sam2_settings
from test_segment_image import run


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("owlv2")
    tokenizer = tiny_clip_tokenizer(folder)
    vocab = tokenizer.get_vocab()
    text = {"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "max_position_embeddings": 32, "bos_token_id": len(vocab) - 2,
            "eos_token_id": len(vocab) - 1, "pad_token_id": len(vocab) - 1}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 64, "patch_size": 16}
    torch.manual_seed(0)
    config = transformers.Owlv2Config(text_config=text, vision_config=vision, projection_dim=32)
    model = transformers.Owlv2ForObjectDetection(config)
    processor = transformers.Owlv2Processor(
        image_processor=transformers.Owlv2ImageProcessor(size={"height": 64, "width": 64}), tokenizer=tokenizer
    )
    saved = folder / "detector"
    model.save_pretrained(saved)
    processor.save_pretrained(saved)
    return saved


def test_the_detector_grounds_words_to_a_box_once(workspace: Path, tiny_detector: Path) -> None:
    configure(workspace, f'[weights.grounding]\nsource = "{tiny_detector}"\nthreshold = 0.0\n')
    models = ModelManager(device="cpu")
    image = np.asarray(load_image(MOTORCYCLE[0]))
    box = grounding.locate("the motorcycle", image, workspace, models)
    assert 0 <= box.x1 < box.x2 <= 640 and 0 <= box.y1 < box.y2 <= 480
    grounding.locate("a van", image, workspace, models)
    assert models.stats()["loads"] == 1 and models.stats()["hits"] == 1


def test_a_text_target_is_grounded_then_segmented(workspace: Path, tiny_detector: Path, tiny_sam2: Path) -> None:
    configure(workspace, sam2_settings(tiny_sam2) + f'[weights.grounding]\nsource = "{tiny_detector}"\n'
                         "threshold = 0.0\n")
    models = ModelManager(device="cpu")
    store, image, result = run(workspace, MOTORCYCLE[0], models, target="the motorcycle")
    mask = store.get(result.artifacts[0])
    assert mask.kind == "mask" and mask.meta["backend"] == "sam2" and "'the motorcycle'" in result.text
    assert sorted(key.split(":")[0] for key in models.stats()["resident"]) == ["grounding", "sam2-image"]


def test_nothing_found_asks_for_a_box(workspace: Path, tiny_detector: Path) -> None:
    configure(workspace, f'[weights.grounding]\nsource = "{tiny_detector}"\nthreshold = 1.1\n')
    from vitron_agent.tools.backends.segmentation import NeedsRegion

    with pytest.raises(NeedsRegion, match="found no 'the motorcycle'.*draw a box"):
        run(workspace, MOTORCYCLE[0], target="the motorcycle")
