"""RulePlanner: plain requests to Vitron invocations offline, honest answers otherwise, and the whole path from a
request to a mask through the graph with the classic backend."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from vitron_agent.calls import Attachment, CallInputs, call_from_invocation
from vitron_agent.invocation import Module, parse_invocation
from vitron_agent.planners import Planner
from vitron_agent.planners.rules import RulePlanner
from vitron_agent.session import Session

from conftest import MOTORCYCLE, ROOT, configure

PHOTO = Attachment(ref="a" * 64, kind="image", width=640, height=480)
CLIP = Attachment(ref="b" * 64, kind="video", width=854, height=480)


def plan(text: str, *attachments: Attachment, region=None) -> str:
    return RulePlanner().plan([HumanMessage(text)], list(attachments), region)


@pytest.mark.parametrize(("text", "media", "module", "words"), [
    ("segment the dog", PHOTO, Module.B, "dog"),
    ("Could you please cut out the white motorcycle in this photo?", PHOTO, Module.B, "white motorcycle"),
    ("track the rider", CLIP, Module.E, "rider"),
    ("follow the motorbike across the road", CLIP, Module.E, "motorbike"),
    ("replace the dog with a cat", PHOTO, Module.C, "replace the dog with a cat"),
    ("draw a fox in the snow", None, Module.A, "fox in the snow"),
    ("make a video of waves at night", None, Module.D, "waves at night"),
    ("animate this photo so the flags wave", PHOTO, Module.G, "flags wave"),
])
def test_maps_requests_to_one_module_with_its_target(text, media, module, words) -> None:
    invocation = parse_invocation(plan(text, *([media] if media else [])))
    assert invocation.module is module and invocation.problems == ()
    assert invocation.commands[0].text == words


def test_video_edits_carry_foreground_and_background_to_the_call() -> None:
    text = plan("change the background to a snowy forest and the rider into a robot", CLIP)
    invocation = parse_invocation(text)
    call = call_from_invocation(invocation, CallInputs(attachments=(CLIP,)))
    assert invocation.module is Module.F and type(call).__name__ == "EditVideo"
    assert (call.foreground, call.background) == ("robot", "snowy forest")


def test_a_typed_box_becomes_the_region_in_pixels() -> None:
    text = plan("cut out the dog [64, 48, 320, 240]", PHOTO)
    call = call_from_invocation(parse_invocation(text), CallInputs(attachments=(PHOTO,)))
    assert call.target == "dog" and call.region.as_tuple() == pytest.approx((64, 48, 320, 240), abs=0.1)


@pytest.mark.parametrize(("text", "media", "says"), [
    ("what is in this picture?", PHOTO, "can't answer questions"),
    ("hello", None, "can't tell what to do"),
    ("segment the dog", None, "attach an image or a video"),
    ("", PHOTO, "empty request"),
])
def test_what_it_cannot_map_gets_an_honest_answer(text, media, says) -> None:
    answer = plan(text, *([media] if media else []))
    invocation = parse_invocation(answer)
    assert invocation.is_understanding and says in answer.lower()
    if "rule planner" in answer:
        assert "--planner chat:" in answer


def test_the_graphs_own_correction_is_answered_not_looped() -> None:
    answer = plan("Your last output could not be used: no image attached\nAnswer again, fixing that.", PHOTO)
    assert parse_invocation(answer).is_understanding and "no image attached" in answer


def test_a_persons_correction_is_read_as_the_new_request() -> None:
    answer = plan("Correction from the person: segment the cat instead", PHOTO)
    assert parse_invocation(answer).commands[0].text == "cat"


def test_reaches_ninety_percent_on_the_evaluation_set() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import planner_eval
    finally:
        sys.path.pop(0)
    media = {"image": PHOTO, "video": CLIP}
    for name in ("planner_requests.jsonl", "planner_heldout.jsonl"):
        rows = planner_eval.read_rows(ROOT / "benchmarks" / "data" / name)
        result = planner_eval.evaluate(RulePlanner(), rows, media)
        assert result["module_right"] / result["rows"] >= 0.9, result["mistakes"]
    assert len(planner_eval.read_rows(ROOT / "benchmarks" / "data" / "planner_requests.jsonl")) >= 150


def test_from_a_request_to_a_mask_offline(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    planner = RulePlanner()
    assert isinstance(planner, Planner)
    session = Session(workspace, planner, import_roots=[ROOT])
    photo, box = MOTORCYCLE
    shown = session.send("cut out the motorcycle", attachments=[photo], region=box).pending
    assert shown.tool == "segment_image" and shown.args["target"] == "motorcycle"
    done = session.approve()
    assert sorted(a.kind for a in done.artifacts) == ["mask", "preview"]


def test_a_request_in_steps_becomes_one_invocation_per_step() -> None:
    from vitron_agent.graphs.plan import parse_plan

    text = plan("draw a street with a red car, then cut out the car [128, 128, 384, 384], then paint the car blue, "
                "and then animate it")
    steps = parse_plan(text)
    assert [step.module.value for step in steps] == ["A", "B", "C", "G"]
    assert steps[1].commands[0].text == "car" and steps[1].region == (56, 56, 168, 168)  # 512 x 512 drawing
    assert steps[2].commands[0].text == "paint the car blue"
    only = parse_plan(plan("track the rider, then replace the background with a beach", CLIP))
    assert [step.module.value for step in only] == ["E", "F"]
    assert "Step 2" in plan("segment the dog, then what is it?", PHOTO)
