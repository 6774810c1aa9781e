"""Choosing among candidates in the graph: the choose interrupt, the pick recorded and marked, a plan's @N waiting
for it, results becoming the current media, vary, use and sketch; each mistake one sentence. On ``Tints``, a
real tool that makes candidates without pipelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session, SessionError

from conftest import PHOTO, ROOT
from support_tools import Tints

TINT = {"name": "grayscale", "args": {"prompts": ["tint it"], "seed": 7, "candidates": 4}}


def session(workspace: Path, outputs: list, **options) -> Session:
    return Session(workspace, ScriptedPlanner(outputs), import_roots=[ROOT], tools=[Tints], **options)


def test_candidates_wait_for_a_choice_then_the_pick_is_current_and_recorded(workspace: Path) -> None:
    s = session(workspace, [TINT, {"name": "grayscale", "args": {"prompts": ["again"], "seed": 1}}])
    s.send("tint it four ways", attachments=[PHOTO])
    turn = s.approve()
    assert turn.pending is None and turn.choice is not None
    assert [a.seed for a in turn.candidates] == [7, 8, 9, 10]
    assert turn.text == "grayscale made 4 candidates (seeds 7 to 10): choose one, 1 to 4"
    with pytest.raises(SessionError, match="4 candidates of grayscale wait for a choice"):
        s.send("something else")
    with pytest.raises(SessionError, match="4 candidates wait for a choice, not a decision"):
        s.approve()
    with pytest.raises(SessionError, match="there is no candidate 5: choose 1 to 4"):
        s.choose(5)
    with pytest.raises(SessionError, match="is not one of these 4 candidates"):
        s.choose("0123456789abcdef")

    chosen = s.choose(3)
    third = turn.candidates[2]
    assert chosen.choice is None and chosen.text == f"Chose candidate 3 of 4: {third.id}."
    assert s.attachments()[-1].ref == third.id
    marks = [s.store.get(a.id).chosen for a in turn.candidates]
    assert marks == [False, False, True, False]
    entry = next(e for e in s.history() if e.action == "choose")
    assert entry.by == "person" and entry.outcome == "chosen" and entry.artifacts == [third.id]
    assert entry.message == "candidate 3 of 4 (seed 9)"
    with pytest.raises(SessionError, match="nothing is waiting for a choice"):
        s.choose(1)

    s.send("again")  # the next request works on the chosen candidate, not the photo or the others
    assert s.pending.args["image"] == third.id
    [result] = s.approve().artifacts
    lineage = {a.id for a in s.store.lineage(result.id)}
    assert third.id in lineage and lineage.isdisjoint({c.id for c in turn.candidates} - {third.id})


def test_a_plan_step_using_a_multi_candidate_step_waits_for_the_choice(workspace: Path) -> None:
    plan = [TINT, {"name": "grayscale", "args": {"prompts": ["then this"], "image": "@1", "seed": 3}}]
    s = session(workspace, [plan])
    s.send("tint, then tint the one I pick", attachments=[PHOTO])
    turn = s.approve()
    assert turn.choice is not None and turn.choice.step == 1 and turn.choice.steps == 2
    assert len(s.log.list(s.thread_id)) == 2 and s.log.list(s.thread_id)[1].outcome is None  # step 2 not run
    done = s.choose(turn.candidates[1].id)  # by id
    [second] = [a for a in done.artifacts if a.kind == "image"]
    assert second.parents == (turn.candidates[1].id,)
    assert s.plan.steps[0].chosen == turn.candidates[1].id and s.plan.steps[1].status == "done"


def test_a_wrong_answer_at_the_interrupt_is_told_and_it_waits_again(workspace: Path) -> None:
    from langgraph.types import Command

    s = session(workspace, [TINT])
    s.send("tint", attachments=[PHOTO])
    s.approve()
    for event in s.agent.stream(Command(resume={"action": "choose", "candidate": 9}), s.config):
        pass
    assert s.choice.error == "there is no candidate 9: choose 1 to 4"
    assert s.choose(1).choice is None


def test_vary_proposes_the_same_call_with_the_next_seeds(workspace: Path) -> None:
    s = session(workspace, [TINT])
    s.send("tint", attachments=[PHOTO])
    first = s.approve().candidates
    s.choose(2)
    varied = s.vary()
    assert varied.pending is not None and varied.pending.tool == "grayscale"
    assert varied.pending.args["seed"] == 11 and varied.pending.args["candidates"] == 4
    assert varied.pending.args["image"] == first[1].parents[0]
    again = s.approve()
    assert [a.seed for a in again.candidates] == [11, 12, 13, 14]
    s.choose(4)
    assert s.attachments()[-1].ref == again.candidates[3].id
    with pytest.raises(SessionError, match="was attached, not made by a tool"):
        s.vary(first[1].parents[0])


def test_use_carries_on_from_any_result_and_refuses_what_it_cannot(workspace: Path) -> None:
    s = session(workspace, [TINT])
    s.send("tint", attachments=[PHOTO])
    candidates = s.approve().candidates
    s.choose(1)
    other = session(workspace, [])  # another thread of the same workspace
    said = other.use(candidates[3].id)
    assert said.startswith(f"Carrying on from image {candidates[3].id}, made by grayscale with seed 10")
    assert other.attachments()[-1].ref == candidates[3].id
    with pytest.raises(SessionError, match="there is no artifact nope in this workspace"):
        other.use("nope")
    mask = s.store.add(b"not read", kind="mask", suffix=".png")
    with pytest.raises(SessionError, match="is a mask, not an image or a video"):
        other.use(mask.id)


def test_a_sketch_becomes_a_mask_scaled_to_the_image_and_an_empty_one_is_refused(workspace: Path,
                                                                                  tmp_path: Path) -> None:
    s = session(workspace, [{"name": "grayscale", "args": {"prompts": ["paint inside"], "seed": 1}}])
    s.use(s.store.import_file(PHOTO).id)
    drawn = np.zeros((120, 160), np.uint8)
    drawn[30:90, 40:120] = 255
    Image.fromarray(drawn).save(tmp_path / "sketch.png")
    mask, note = s.sketch(tmp_path / "sketch.png")
    width, height = s.attachments()[-1].size
    assert mask.kind == "mask" and (mask.meta["width"], mask.meta["height"]) == (width, height)
    assert note == f"the mask is 160 x 120 and was scaled to the image's {width} x {height}"
    assert s.send("paint inside", mask=mask).pending.args["mask"] == mask.id
    s.cancel_decision()
    Image.fromarray(np.zeros((120, 160), np.uint8)).save(tmp_path / "empty.png")
    with pytest.raises(SessionError, match="the mask is empty"):
        s.sketch(tmp_path / "empty.png")
    with pytest.raises(SessionError, match="not a mask"):
        s.send("paint inside", mask=s.attachments()[-1].ref)


@pytest.mark.parametrize("bad", [0, 5, -1, 2.5, "two"])
def test_a_candidates_value_out_of_range_is_a_validation_message(workspace: Path, bad: object) -> None:
    planner = ScriptedPlanner([{"name": "grayscale", "args": {"prompts": ["tint"], "candidates": bad}},
                               "I could not do that."])
    s = Session(workspace, planner, import_roots=[ROOT], tools=[Tints])
    turn = s.send("tint", attachments=[PHOTO])
    assert turn.pending is None and turn.text == "I could not do that."
    seen = planner.seen[-1].messages[-1].content  # the planner was told what to fix, in words
    assert "candidates" in seen and "Traceback" not in seen
    said = " ".join(str(m.content) for m in s.agent.get_state(s.config).values["messages"])
    assert "candidates" not in said  # and the person never reads the retry prompt
