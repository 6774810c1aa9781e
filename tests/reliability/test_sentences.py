"""People see sentences, never a library's error: a typed region of 1e300 is clipped to its image when the call
is validated, a box with no background asks for a tighter box, and a tool that fails half-way leaves its partial
outputs with the failed run, where no later call can take them.

Before: the region was shown as given and GrabCut ended in ``(-215:Assertion failed) !bgdSamples.empty()``; the
partial output was recorded like a good run's and could be edited on."""

from __future__ import annotations

from pathlib import Path

from vitron_agent import ScriptedPlanner, Session, as_langchain_tools

from conftest import PHOTO, ROOT, configure
from support_tools import HalfDone

HUGE_REGION = [0, 0, 1e300, 1e300]


def test_a_typed_region_is_clipped_and_a_box_without_background_asks_for_a_tighter_one(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    call = {"name": "segment_image", "args": {"target": "motorcycle", "region": HUGE_REGION}}
    session = Session(workspace, ScriptedPlanner([[call]]), import_roots=[ROOT])
    shown = session.send("cut out the motorcycle", attachments=[PHOTO]).pending.current
    assert shown.args["region"] == {"x1": 0.0, "y1": 0.0, "x2": 640.0, "y2": 480.0}
    assert any("clipped to the 640 x 480 image" in note for note in shown.notes)

    done = session.approve()
    assert done.text == ("segment_image failed: the box covers (nearly) the whole 640 x 480 image, which leaves no "
                         "background to tell the object from; draw a tighter box around the object")
    assert "Assertion" not in done.text and session.history()[-1].outcome == "failed"


def test_langchain_callers_get_the_same_clipping_and_sentence(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    tools = {tool.name: tool for tool in as_langchain_tools(workspace, import_roots=[ROOT])}
    photo = tools["import_media"].invoke({"path": str(PHOTO)})
    image = photo.split()[2]
    said = tools["segment_image"].invoke({"image": image, "region": HUGE_REGION})
    assert "draw a tighter box" in said and "Assertion" not in said
    outside = tools["segment_image"].invoke({"image": image, "region": [700, 500, 800, 600]})
    assert outside.startswith("segment_image arguments are invalid") and "wholly outside the 640 x 480" in outside
    clicked = tools["segment_image"].invoke({"image": image, "points": [{"x": 900, "y": 10}]})
    assert "points[0] (900, 10) is outside the 640 x 480 image" in clicked


def test_a_half_done_runs_outputs_stay_with_the_failed_run(workspace: Path) -> None:
    planner = ScriptedPlanner([[{"name": "grayscale", "args": {"prompts": ["gray", "sepia"]}}]])
    session = Session(workspace, planner, tools=[HalfDone], policy="auto", import_roots=[ROOT])
    turn = session.send("gray, then sepia", attachments=[PHOTO])
    assert turn.text == ("grayscale failed: the second prompt ran out of denoising steps. The 1 output it wrote "
                         "before stopping is kept apart and never used later.")
    assert not turn.artifacts and [a.kind for a in session.artifacts()] == ["image"]  # the photo only
    [failed] = session.history()
    [partial] = failed.artifacts
    assert failed.outcome == "failed" and session.store.get(partial).unfinished == "failed"
    assert session.store.get(partial).call["run"] == failed.id

    tools = {tool.name: tool for tool in as_langchain_tools(session.workspace, tools=[HalfDone])}
    refused = tools["grayscale"].invoke({"image": partial, "prompts": ["sepia"]})
    assert refused == (f"grayscale arguments are invalid:\narguments: {partial} was left by a failed run; only a "
                       "finished run's results can be used")
