"""VitronPlanner end to end on a fake release: chosen by spec, loaded once through the model manager, a real photo
with a region in, tokens out through the graph, the region at the extractor, the text streamed."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from vitron_agent.media import encode_video, load_video
from vitron_agent.models import ModelManager
from vitron_agent.planners.choose import planner_from_spec
from vitron_agent.planners.vitron import VitronPlanner, _history
from vitron_agent.session import Session

from conftest import MOTORBIKE_FRAMES, MOTORCYCLE, ROOT, configure

pytest.importorskip("peft")


def settings(release: dict[str, Path]) -> str:
    return f'[weights.vitron_base]\nsource = "{release["base"]}"\n'


def test_a_photo_and_a_region_go_through_the_model(workspace: Path, tiny_vitron: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_vitron))
    models = ModelManager(device="cpu")
    planner = planner_from_spec(f"vitron:{tiny_vitron['lora']}", workspace=workspace, models=models)
    assert isinstance(planner, VitronPlanner)
    planner.max_new_tokens = 8
    streamed: list[str] = []
    planner.on_text = streamed.append
    boxes = []
    bundle = planner.load()
    hook = bundle.llm.model.region_extractor.register_forward_hook(lambda m, args, out: boxes.append(args[1]))
    try:
        session = Session(workspace, planner, import_roots=[ROOT], models=models)
        photo, box = MOTORCYCLE  # 640 x 480
        turn = session.send("cut out the motorcycle", attachments=[photo], region=box)
    finally:
        hook.remove()
    answer = planner.last_answer
    assert answer.new_tokens == 8 and answer.region_reached
    assert boxes[0].tolist() == [[pytest.approx(60 * 224 / 640), pytest.approx(90 * 224 / 480),
                                  pytest.approx(580 * 224 / 640), pytest.approx(380 * 224 / 480)]]
    assert "".join(streamed).strip() == str(answer)
    # random weights say nothing usable: the graph answers or asks again, and the session lives
    assert turn.pending is not None or turn.text is not None
    assert models.stats()["loads"] == 1
    planner.plan([HumanMessage("and now?")], [], None)
    assert models.stats()["loads"] == 1 and models.stats()["hits"] >= 1


def test_a_video_goes_in_as_eight_frames(workspace: Path, tiny_vitron: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_vitron))
    clip = workspace / "motorbike.mp4"
    clip.write_bytes(encode_video(load_video(MOTORBIKE_FRAMES).frames[:10], 15))
    planner = VitronPlanner(str(tiny_vitron["lora"]), workspace=workspace, models=ModelManager(device="cpu"),
                            max_new_tokens=4)
    frames = []
    bundle = planner.load()
    hook = bundle.video_tower.register_forward_hook(lambda m, args, out: frames.append(tuple(args[0].shape)))
    try:
        session = Session(workspace, planner, models=planner.models)
        session.send("track the motorbike", attachments=[clip])
    finally:
        hook.remove()
    assert frames == [(1, 3, 8, 224, 224)]
    assert planner.last_answer.new_tokens == 4


def test_history_pairs_earlier_turns() -> None:
    turns, latest = _history([HumanMessage("hi"), AIMessage("Hello."), HumanMessage("segment the dog")])
    assert [(t.user, t.assistant) for t in turns] == [("hi", "Hello.")] and latest == "segment the dog"


def test_quantization_without_bitsandbytes_or_a_gpu_is_a_clear_error(workspace: Path, tiny_vitron) -> None:
    configure(workspace, settings(tiny_vitron) + '[planner]\nquantize = "4bit"\n')
    planner = VitronPlanner(str(tiny_vitron["lora"]), workspace=workspace, models=ModelManager(device="cpu"))
    with pytest.raises(ValueError, match="needs the bitsandbytes package and a CUDA GPU"):
        planner.load()
