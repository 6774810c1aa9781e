"""Our port of Vitron's model: a fake release (random tiny weights, the release's names and layout) loads through
the real path, and the pieces reproduce Vitron's prompt, tokens, preprocessing and region pooling."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from PIL import Image  # noqa: E402

from vitron_agent.vitron_model.loading import ReleaseError, load_release, strip_release_prefixes  # noqa: E402
from vitron_agent.vitron_model.modeling import (  # noqa: E402
    IMAGE_TOKEN_INDEX,
    OBJS_TOKEN_INDEX,
    RegionExtractor,
    VitronForCausalLM,
)
from vitron_agent.vitron_model.processing import (  # noqa: E402
    SYSTEM,
    Turn,
    conversation_prompt,
    preprocess_image,
    preprocess_video,
    sample_frames,
    tokenize,
    user_turn,
)

from conftest import PHOTO  # noqa: E402


@pytest.fixture(scope="module")
def bundle(tiny_vitron: dict[str, Path]):
    return load_release(tiny_vitron["lora"], tiny_vitron["base"])


def test_the_release_loads_with_its_names_and_nothing_silently_dropped(bundle, tiny_vitron) -> None:
    assert type(bundle.llm) is VitronForCausalLM  # merged: no peft wrapper left
    assert bundle.ignored.base == ["model.image_tower.image_tower.embeddings.class_embedding"]
    assert bundle.ignored.non_lora == []
    assert set(bundle.ignored.towers[str(tiny_vitron["image_tower"])]) == {
        "logit_scale", "text_model", "text_projection", "visual_projection"}
    trained = strip_release_prefixes(torch.load(tiny_vitron["lora"] / "non_lora_trainables.bin"))
    assert set(trained) == {k for k in bundle.llm.state_dict()
                            if k.startswith(("model.mm_projector.", "model.region_extractor."))}
    for key, value in trained.items():
        assert torch.equal(bundle.llm.state_dict()[key], value), key
    base = VitronForCausalLM.from_pretrained(tiny_vitron["base"])
    before = base.state_dict()["model.layers.0.self_attn.q_proj.weight"]
    assert not torch.allclose(bundle.llm.state_dict()["model.layers.0.self_attn.q_proj.weight"], before)
    assert bundle.video_tower.frames == 8 and bundle.image_tower.frames == 0


def test_key_prefixes_are_stripped_as_the_release_does() -> None:
    assert list(strip_release_prefixes({"base_model.model.model.mm_projector.0.weight": 1})) == [
        "model.mm_projector.0.weight"]
    assert list(strip_release_prefixes({"model.mm_projector.0.weight": 1})) == ["model.mm_projector.0.weight"]


def test_a_release_missing_its_trained_projector_is_refused(tiny_vitron, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "lora"
    shutil.copytree(tiny_vitron["lora"], broken)
    (broken / "non_lora_trainables.bin").unlink()
    with pytest.raises(ReleaseError, match="non_lora_trainables.bin is missing"):
        load_release(broken, tiny_vitron["base"])
    with pytest.raises(ReleaseError, match="base model folder is needed"):
        load_release(tiny_vitron["lora"], None)


def test_the_prompt_follows_llava_v1() -> None:
    turn = user_turn("cut out the dog", image=True, region=True)
    assert turn == " <image>\n<objs> cut out the dog"
    assert user_turn("what happens?", video_frames=3) == "<image> <image> <image>\nwhat happens?"
    prompt = conversation_prompt([Turn("hi", "Hello."), Turn(turn)])
    assert prompt == f"{SYSTEM} USER: hi ASSISTANT: Hello.</s>USER:  <image>\n<objs> cut out the dog ASSISTANT:"


def test_placeholders_become_their_ids(bundle) -> None:
    ids = tokenize(conversation_prompt([Turn(user_turn("cut out the dog", image=True, region=True))]),
                   bundle.tokenizer).tolist()
    bos = bundle.tokenizer.bos_token_id
    assert ids[0] == bos and ids.count(IMAGE_TOKEN_INDEX) == 1 and ids.count(OBJS_TOKEN_INDEX) == 1
    after_objs = ids[ids.index(OBJS_TOKEN_INDEX) + 1]
    assert after_objs == bos  # Vitron tokenizes the text after <objs> as a new piece, BOS included
    assert ids[ids.index(IMAGE_TOKEN_INDEX) + 1] != bos


def test_images_and_videos_are_preprocessed_to_the_model_frame() -> None:
    photo = Image.open(PHOTO)
    pixels = preprocess_image(photo)
    assert pixels.shape == (3, 224, 224)
    corner = pixels[:, 0, 112]  # the top pad row of a landscape photo is CLIP's mean colour: about 0 normalised
    assert torch.allclose(corner, torch.zeros(3), atol=0.02)
    import numpy as np

    frames = np.stack([np.asarray(photo)] * 12)
    assert sample_frames(12, 8) == [0, 1, 3, 4, 6, 7, 9, 11]
    assert preprocess_video(frames, 8).shape == (3, 8, 224, 224)


def test_region_pooling_keeps_vitrons_transposed_mask() -> None:
    features = torch.zeros(1, 16, 2)  # a 4 x 4 grid of 56-pixel cells
    features[0, 1, :] = 1.0  # grid row 0, column 1: pixels x 56..112, y 0..56
    # Vitron fills mask[x1:x2, y1:y2], rows by x: the box x 0..56, y 56..112 lands on that cell, its
    # mirror image x 56..112, y 0..56 does not
    assert RegionExtractor.pool(features, torch.tensor([[0.0, 56.0, 56.0, 112.0]])).tolist() == [[1.0, 1.0]]
    assert RegionExtractor.pool(features, torch.tensor([[56.0, 0.0, 112.0, 56.0]])).tolist() == [[0.0, 0.0]]
    assert RegionExtractor(2, 8)(features, torch.tensor([[0.0, 0.0, 224.0, 224.0]])).shape == (1, 1, 8)
