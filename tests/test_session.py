"""The session facade over the graph: decisions shown, approved, edited, rejected; durable across processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from vitron_agent.media import load_image
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.paths import PathOutsideWorkspace
from vitron_agent.session import Session, SessionError

from conftest import GRAY, GRAY_REGION, PHOTO, ROOT
from support_tools import RUNS_FILE, Broken, Crop, Grayscale, Measure

TESTS = Path(__file__).resolve().parent


def session(workspace: Path, outputs: list, **options) -> Session:
    options.setdefault("tools", [Grayscale, Crop, Broken, Measure])
    return Session(workspace, ScriptedPlanner(outputs), import_roots=[ROOT], **options)


def is_gray(path: Path, box: tuple[int, int, int, int]) -> bool:
    pixels = np.asarray(load_image(path)).astype(int)
    x1, y1, x2, y2 = box
    patch = pixels[y1:y2, x1:x2]
    return bool(np.abs(patch[..., 0] - patch[..., 1]).max() <= 1 and np.abs(patch[..., 1] - patch[..., 2]).max() <= 1)


def test_decision_is_shown_then_approved(workspace: Path) -> None:
    s = session(workspace, [GRAY_REGION])
    turn = s.send("make the bike black and white", attachments=[PHOTO])
    shown = turn.pending
    assert shown is not None and turn.artifacts == []
    assert shown.tool == "grayscale" and shown.current.module == "C" and shown.current.module_name == "image editing"
    assert shown.args["prompts"] == ["make it black and white"]
    assert shown.summary.startswith("grayscale: prompts ['make it black and white'], region (")
    preview = s.store.get(shown.current.preview)  # the region drawn on the photo
    assert preview.kind == "preview" and preview.parents == (shown.args["image"],)
    assert not (workspace / RUNS_FILE).exists()  # nothing ran before the approval
    assert turn.text == "Sure, I will make it black and white."

    done = s.approve()
    assert done.pending is None and done.text == "Grayed the region."
    [result] = done.artifacts
    region = shown.args["region"]
    assert is_gray(result.path, (round(region["x1"]), round(region["y1"]), round(region["x2"]), round(region["y2"])))
    assert s.store.lineage(result.id)[0].id == shown.args["image"]
    [entry] = s.log.list(s.thread_id)
    assert entry.action == "approve" and entry.by == "person" and entry.outcome == "ok"
    assert entry.artifacts == [result.id]


def test_edit_is_validated_and_shown_again(workspace: Path) -> None:
    s = session(workspace, [GRAY])
    s.send("gray please", attachments=[PHOTO])
    shown = s.edit(region=[0, 0, 100, 50]).pending
    assert shown.args["region"] == {"x1": 0, "y1": 0, "x2": 100, "y2": 50} and shown.current.changed == ["region"]
    assert shown.error is None
    bad = s.edit(steps=0).pending
    assert "steps" in bad.error and bad.args["steps"] == 30  # refused; the call is unchanged
    unknown = s.edit(colour="red").pending
    assert "no argument colour" in unknown.error
    done = s.approve()
    assert is_gray(done.artifacts[0].path, (0, 0, 100, 50))
    assert not is_gray(done.artifacts[0].path, (200, 100, 400, 300))
    [entry] = s.log.list(s.thread_id)
    assert entry.changed == ["region"]


def test_rejection_goes_back_to_the_planner(workspace: Path) -> None:
    planner_outputs = [GRAY, "Understood, I will leave the photo as it is."]
    s = session(workspace, planner_outputs)
    s.send("make it gray", attachments=[PHOTO])
    turn = s.reject("no, keep the colours; I only wanted a description")
    assert turn.pending is None and turn.text == "Understood, I will leave the photo as it is."
    seen = s.agent.get_state(s.config).values["messages"]
    assert any("keep the colours" in m.content for m in seen)
    assert not (workspace / RUNS_FILE).exists()


def test_the_planner_sees_the_correction(workspace: Path) -> None:
    planner = ScriptedPlanner([GRAY, "Fine."])
    s = Session(workspace, planner, tools=[Grayscale], import_roots=[ROOT])
    s.send("make it gray", attachments=[PHOTO])
    s.reject("use the whole photo")
    last = planner.seen[-1].messages
    assert last[-1].content == "Correction from the person: use the whole photo"
    assert planner.seen[-1].attachments[0].width == 640
    decisions = s.agent.get_state(s.config).values["decisions"]
    assert [d["action"] for d in decisions] == ["reject"] and decisions[0]["feedback"] == "use the whole photo"
    [logged] = s.log.list(s.thread_id)
    assert logged.action == "reject" and logged.by == "person" and logged.outcome is None


def test_policy_auto_and_per_tool(workspace: Path) -> None:
    auto = session(workspace / "auto", [GRAY], policy="auto")
    turn = auto.send("gray", attachments=[PHOTO])
    assert turn.pending is None and len(turn.artifacts) == 1
    assert auto.log.list()[0].by == "policy: auto"

    planner = ScriptedPlanner([GRAY])
    per_tool = Session(workspace / "per-tool", planner, tools=[Grayscale, Crop], policy={"grayscale"},
                       import_roots=[ROOT])
    assert per_tool.send("gray", attachments=[PHOTO]).pending.tool == "grayscale"
    gray = per_tool.approve().artifacts[0]
    planner.outputs.append({"name": "crop", "args": {"image": gray.id, "box": [0, 0, 64, 32]}})
    cropped = per_tool.send("crop the corner")
    assert cropped.pending is None and cropped.text == "Cropped to 64 x 32."


def test_tools_without_side_effects_never_ask(workspace: Path) -> None:
    s = session(workspace, [{"name": "measure", "args": {"image": "x", "box": [1, 2, 11, 22]}}])
    turn = s.send("how big is this box?")
    assert turn.pending is None and turn.text == "The box is 10 x 20 pixels."
    assert s.log.list()[0].by == "policy: no side effects"


def test_understanding_needs_no_tool(workspace: Path) -> None:
    s = session(workspace, ["A white motorcycle is parked next to a van."])
    turn = s.send("what is in the photo?", attachments=[PHOTO])
    assert turn.pending is None and turn.text == "A white motorcycle is parked next to a van."
    assert s.log.list() == [] and turn.artifacts == []


def test_garbage_hits_the_correction_limit(workspace: Path) -> None:
    garbage = [
        "<module>H</module><instruction>x: y</instruction>",  # unknown module
        "<module>C</module>",  # no instruction
        "<<<>>> <instruction>editing: gray</instruction>",  # no module
        "<module>B</module><instruction>seg: bike</instruction>",  # no tool serves B here
    ]
    planner = ScriptedPlanner(garbage)
    s = Session(workspace, planner, tools=[Grayscale], max_corrections=3, import_roots=[ROOT])
    turn = s.send("do something", attachments=[PHOTO])
    assert turn.pending is None and "after 4 tries" in turn.text
    assert len(planner.seen) == 4
    corrections = [m.content for m in planner.seen[-1].messages if m.content.startswith("Your last output")]
    assert len(corrections) == 3 and "no valid <module>" in corrections[0] and "needs an instruction" in corrections[1]
    assert "no installed tool serves module B" in turn.text


def test_a_bad_output_then_a_good_one(workspace: Path) -> None:
    planner = ScriptedPlanner(["<module>C</module><instruction>editing: gray</instruction><region>[300, 5, "
                               "200, 9]</region>", GRAY])
    s = Session(workspace, planner, tools=[Grayscale], import_roots=[ROOT])
    turn = s.send("gray", attachments=[PHOTO])
    assert turn.pending is not None and turn.pending.args["region"] is None
    assert "x1 < x2" in planner.seen[1].messages[-1].content


@pytest.mark.parametrize(("error", "expected"), [
    (RuntimeError("the model file is corrupt"), "segment_image failed: the model file is corrupt"),
    (RuntimeError(), "segment_image failed: it stopped without saying why"),
    (MemoryError(), "segment_image ran out of memory"),
    (ModuleNotFoundError("No module named 'diffusers'", name="diffusers"),
     "segment_image can't run here: it needs diffusers, which is not installed. To fix: pip install "
     "'vitron-agent[vision]'"),
])
def test_a_failing_tool_leaves_a_live_session(workspace: Path, error: BaseException, expected: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Broken, "error", error)  # not left behind for other tests
    s = session(workspace, ["<module>B</module><instruction>segmentation: the bike</instruction>", GRAY],
                policy="auto")
    turn = s.send("segment the bike", attachments=[PHOTO])
    assert turn.text.startswith(expected) and turn.artifacts == []
    assert "Error" not in turn.text  # people never see an exception's class name
    assert s.log.list()[0].outcome == "failed"
    again = s.send("then make it gray")
    assert len(again.artifacts) == 1


def test_progress_and_cancellation(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress reaches the caller while the tool runs; cancelling from it stops the tool at its next check."""
    monkeypatch.setenv("GRAYSCALE_DELAY", "0.3")
    events: list[dict] = []

    def on_progress(event: dict) -> None:
        events.append(event)
        s.cancel()

    s = session(workspace, [GRAY], policy="auto", on_progress=on_progress)
    turn = s.send("gray", attachments=[PHOTO])
    assert events[0] == {"tool": "grayscale", "step": 1, "steps": 1, "done": 1, "total": 4, "message": "graying"}
    assert len(events) < 4
    assert "cancelled" in turn.text and turn.artifacts == []
    assert s.log.list()[0].outcome == "cancelled"


def test_wrong_moment_errors(workspace: Path) -> None:
    s = session(workspace, [GRAY])
    with pytest.raises(SessionError, match="nothing is waiting"):
        s.approve()
    s.send("gray", attachments=[PHOTO])
    with pytest.raises(SessionError, match="a decision is waiting"):
        s.send("something else")


# -- durability: kill -9 and resume in a fresh process --------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from vitron_agent.planners import ScriptedPlanner
    from vitron_agent.session import Session
    from support_tools import Grayscale
    from conftest import GRAY_REGION
    s = Session(sys.argv[1], ScriptedPlanner([GRAY_REGION]), thread_id="t1", tools=[Grayscale],
                import_roots=[{samples!r}])
    turn = s.send("gray", attachments=[{photo!r}])
    print("PENDING", flush=True)
    if sys.argv[2] == "approve":
        s.approve()
    time.sleep(600)
""")


def child(workspace: Path, then: str, **env: str) -> subprocess.Popen:
    script = CHILD.format(tests=str(TESTS), samples=str(ROOT), photo=str(PHOTO))
    return subprocess.Popen([sys.executable, "-c", script, str(workspace), then], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, **env}, cwd=ROOT)


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_killed_at_the_interrupt_then_approved_elsewhere(workspace: Path) -> None:
    process = child(workspace, "wait")
    assert process.stdout.readline().strip() == "PENDING"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    s = Session(workspace, ScriptedPlanner([]), thread_id="t1", tools=[Grayscale])
    assert s.pending is not None and s.pending.tool == "grayscale"
    turn = s.approve()
    assert len(turn.artifacts) == 1
    assert len((workspace / RUNS_FILE).read_text().splitlines()) == 1  # ran exactly once
    assert s.log.list("t1")[0].outcome == "ok"


def test_killed_mid_tool_is_offered_again(workspace: Path) -> None:
    process = child(workspace, "approve", GRAYSCALE_DELAY="5")
    assert process.stdout.readline().strip() == "PENDING"
    wait_for(lambda: (workspace / RUNS_FILE).exists())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    s = Session(workspace, ScriptedPlanner([]), thread_id="t1", tools=[Grayscale])
    shown = s.pending
    assert shown is not None and shown.tool == "grayscale"  # re-offered, not silently re-run
    assert len((workspace / RUNS_FILE).read_text().splitlines()) == 1
    turn = s.approve()
    assert len(turn.artifacts) == 1
    outcomes = [entry.outcome for entry in s.log.list("t1")]
    assert outcomes == ["interrupted", "ok"]
    assert len(s.store.list("image")) == 2  # the photo and one result


def test_cancelling_a_decision_runs_nothing_and_asks_no_one(workspace: Path) -> None:
    planner = ScriptedPlanner([GRAY])
    s = Session(workspace, planner, tools=[Grayscale], import_roots=[ROOT])
    s.send("make it gray", attachments=[PHOTO])
    turn = s.cancel_decision()
    assert turn.pending is None and turn.text == "Cancelled grayscale; nothing ran." and turn.artifacts == []
    assert len(planner.seen) == 1  # the planner was not asked again
    assert not (workspace / RUNS_FILE).exists()
    [logged] = s.log.list(s.thread_id)
    assert logged.action == "cancel" and logged.by == "person"
    with pytest.raises(SessionError, match="nothing is waiting"):
        s.cancel_decision()


def test_policy_can_change_between_turns(workspace: Path) -> None:
    s = session(workspace, [GRAY, GRAY])
    assert s.send("gray", attachments=[PHOTO]).pending is not None
    s.cancel_decision()
    s.policy = "auto"
    assert s.send("gray, and don't ask").pending is None
    assert [(e.action, e.by) for e in s.log.list(s.thread_id)] == [
        ("cancel", "person"), ("policy", "person"), ("approve", "policy: auto")]
    assert s.log.list(s.thread_id)[1].args == {"to": "auto", "from": "ask"}
    with pytest.raises(ValueError, match="policy="):
        s.policy = "sometimes"


def test_a_policy_switched_elsewhere_applies_from_the_next_decision(workspace: Path) -> None:
    here = session(workspace, [GRAY])  # open, as a terminal is, while another surface switches the policy
    elsewhere = Session(workspace, ScriptedPlanner([]), tools=[Grayscale], thread_id=here.thread_id)
    elsewhere.set_policy("auto", by="ana")
    assert here.send("gray", attachments=[PHOTO]).pending is None
    assert [(e.action, e.by) for e in here.log.list(here.thread_id)] == [("policy", "ana"), ("approve", "policy: auto")]


def test_undo_sets_the_last_result_aside_through_the_history(workspace: Path) -> None:
    planner = ScriptedPlanner([GRAY])
    s = Session(workspace, planner, tools=[Grayscale, Crop], policy="auto", import_roots=[ROOT])
    gray = s.send("gray", attachments=[PHOTO]).artifacts[0]
    planner.outputs.append({"name": "crop", "args": {"image": gray.id, "box": [0, 0, 64, 32]}})
    crop = s.send("crop the corner").artifacts[0]
    photo = s.artifacts()[0]
    assert [a.id for a in s.artifacts()] == [photo.id, gray.id, crop.id]

    text = s.undo()
    assert text.startswith("Undid crop") and crop.id in text
    assert [a.id for a in s.artifacts()] == [photo.id, gray.id]
    assert crop.path.is_file()  # set aside, not deleted
    assert s.agent.get_state(s.config).values["messages"][-1].content == text
    assert [e.undone for e in s.history()] == [False, True]

    s.undo()
    assert [a.id for a in s.artifacts()] == [photo.id]
    with pytest.raises(SessionError, match="no tool result to undo"):
        s.undo()
    # the request and its attachment stay: the thread goes on from there
    again = Session(workspace, ScriptedPlanner([GRAY]), tools=[Grayscale], thread_id=s.thread_id, policy="auto")
    assert again.send("gray again").artifacts[0].sha256 == gray.sha256  # same input, same call: same bytes


def test_a_person_named_file_is_imported_from_anywhere(workspace: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "photo.jpg").write_bytes(PHOTO.read_bytes())
    s = Session(workspace, ScriptedPlanner([GRAY]), tools=[Grayscale])
    with pytest.raises(PathOutsideWorkspace):
        s.store.import_file(elsewhere / "photo.jpg")
    assert s.store.import_file(elsewhere / "photo.jpg", grant=True).kind == "image"
    # the caller's own attachments are the caller's: send() imports them from wherever they are ...
    turn = s.send("gray it", attachments=[elsewhere / "photo.jpg"])
    assert turn.pending.args["image"] == s.artifacts()[0].id
    # ... while a path a planner names stays inside the workspace
    planner = ScriptedPlanner([{"name": "grayscale", "args": {"image": str(elsewhere / "photo.jpg"),
                                                              "prompts": ["g"]}}])
    named = Session(workspace, planner, tools=[Grayscale], policy="auto").send("gray that file")
    assert named.pending is None and "no artifact" in named.text and not named.artifacts


def test_clicks_go_with_the_request_to_the_first_segmentation(workspace: Path) -> None:
    """Clicks given with a request reach the segmentation call (shown in its summary); a click off the picture or
    a malformed one is refused in one sentence before anything is sent."""
    from vitron_agent.planners.rules import RulePlanner
    from vitron_agent.regions import RegionError

    session = Session(workspace, RulePlanner())
    turn = session.send("segment the motorcycle", attachments=[PHOTO],
                        points=[{"x": 300, "y": 250}, {"x": 20, "y": 20, "positive": False}])
    assert turn.pending is not None
    assert turn.pending.args["points"] == [{"x": 300.0, "y": 250.0, "positive": True},
                                           {"x": 20.0, "y": 20.0, "positive": False}]
    assert "clicks +(300, 250) -(20, 20)" in turn.pending.summary
    session.cancel_decision()
    with pytest.raises(RegionError, match="outside the 640 x 480 image"):
        session.send("segment the motorcycle", points=[{"x": 3000, "y": 250}])
    with pytest.raises(RegionError, match="a click must be x and y"):
        session.send("segment the motorcycle", points=[{"x": "left"}])
    assert session.pending is None
