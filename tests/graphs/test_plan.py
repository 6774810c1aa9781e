"""Plans: several calls reviewed as a whole, run step by step with each output feeding the next; references
checked first; failures, kill -9, undo and fork."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vitron_agent.calls import Attachment, CallInputs
from vitron_agent.tools import builtin_tools
from vitron_agent.graphs.plan import Plan, PlanStep, check_references, parse_plan, steps_from_invocations
from vitron_agent.media import load_image
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session

from conftest import MOTORCYCLE, PHOTO, ROOT, configure
from support_tools import RUNS_FILE, Broken, Crop, Grayscale

TESTS = Path(__file__).resolve().parents[1]
BOX = [60, 90, 580, 380]


def gray_chain(steps: int = 4) -> list[dict]:
    """Gray the photo, then gray the result again, ... each step on the previous step's image."""
    calls = [{"name": "grayscale", "args": {"prompts": ["gray"], "region": [0, 0, 100 + 50 * i, 100]}}
             for i in range(steps)]
    for number, call in enumerate(calls[1:], start=1):
        call["args"]["image"] = f"@{number}"
    return calls


def session(workspace: Path, outputs: list, **options) -> Session:
    options.setdefault("tools", [Grayscale, Crop, Broken])
    return Session(workspace, ScriptedPlanner(outputs), import_roots=[ROOT], **options)


def runs(workspace: Path) -> int:
    path = workspace / RUNS_FILE
    return len(path.read_text().splitlines()) if path.exists() else 0


# -- reading plans ----------------------------------------------------------------------------------------------

def test_text_with_several_modules_is_one_invocation_per_step() -> None:
    text = ("Sure. <module>A</module> <instruction>image generation: a red car</instruction> "
            "<module>C</module> <instruction>editing: make it blue</instruction> "
            "<module>G</module> <instruction>image to video: it drives off</instruction>")
    first, second, third = parse_plan(text)
    assert (first.response, first.module.value, first.commands[0].text) == ("Sure.", "A", "a red car")
    assert (second.module.value, third.module.value) == ("C", "G") and not first.problems
    assert len(parse_plan("Sure. <module>B</module> <instruction>segmentation: dog</instruction>")) == 1


def test_each_step_works_on_what_the_step_before_made() -> None:
    photo = Attachment(ref="photo", kind="image", width=640, height=480)
    text = ("<module>B</module> <instruction>segmentation: car</instruction> "
            "<module>C</module> <instruction>editing: paint the car red</instruction> "
            "<module>G</module> <instruction>image to video: drive away</instruction>")
    steps = steps_from_invocations(parse_plan(text), CallInputs(attachments=(photo,)), builtin_tools())
    calls = [call for _, call, _ in steps]
    # segmenting makes no new picture, so the edit works on the photo; the animation on the edit
    assert [c.image for c in calls] == ["photo", "photo", "@2"]


def test_references_must_point_back_to_a_step_that_makes_that_kind() -> None:
    plan = Plan(steps=[
        PlanStep(tool="segment_image", args={"image": "photo"}),
        PlanStep(tool="edit_image", args={"image": "@1", "prompts": ["red"]}),
        PlanStep(tool="animate_image", args={"image": "@4", "prompt": "go"}),
        PlanStep(tool="edit_video", args={"video": "@3", "foreground": "x"}),
    ])
    outputs = {"segment_image": ("mask",), "edit_image": ("image",), "animate_image": ("video",),
               "edit_video": ("video",)}
    assert check_references(plan, outputs) == [
        "step 2 uses @1 in image, but step 1 (segment_image) makes mask, not image",
        "step 3 uses @4 in image, but only steps 1 to 2 come before it",
    ]


def test_a_bad_reference_goes_back_to_the_planner_before_anything_runs(workspace: Path) -> None:
    bad = [{"name": "grayscale", "args": {"image": "@2", "prompts": ["gray"]}},
           {"name": "grayscale", "args": {"prompts": ["gray"]}}]
    planner = ScriptedPlanner([bad, "Sorry, I will answer in words."])
    s = Session(workspace, planner, tools=[Grayscale], import_roots=[ROOT])
    turn = s.send("gray twice", attachments=[PHOTO])
    assert turn.pending is None and turn.text == "Sorry, I will answer in words."
    assert "step 1 uses @2 in image, but no step comes before it" in planner.seen[-1].messages[-1].content
    assert runs(workspace) == 0


# -- review and run --------------------------------------------------------------------------------------------

def test_a_plan_is_shown_whole_then_runs_step_by_step(workspace: Path) -> None:
    s = session(workspace, [gray_chain(3)])
    shown = s.send("gray it three times", attachments=[PHOTO]).pending
    assert [step.status for step in shown.steps] == ["planned"] * 3 and shown.asking == [1, 2, 3]
    assert [step.args["image"] for step in shown.steps][1:] == ["@1", "@2"]
    assert shown.steps[1].summary.startswith("grayscale: image @1")
    events: list[dict] = []
    s.on_progress = events.append
    done = s.approve()
    first, second, third = done.artifacts
    assert second.parents == (first.id,) and third.parents == (second.id,)  # each step on the one before
    assert s.store.lineage(third.id)[0].id == shown.steps[0].args["image"]  # back to the photo
    assert done.text.startswith("1. Grayed the region. 2. Grayed the region. 3.")
    assert {(e["step"], e["steps"]) for e in events} == {(1, 3), (2, 3), (3, 3)}
    assert [(e.step, e.action, e.by, e.outcome) for e in s.history()] == [
        (1, "approve", "person", "ok"), (2, "approve", "person", "ok"), (3, "approve", "person", "ok")]
    assert [step.status for step in s.plan.steps] == ["done"] * 3


def test_edit_one_step_and_remove_another(workspace: Path) -> None:
    s = session(workspace, [gray_chain(3)])
    s.send("gray it three times", attachments=[PHOTO])
    edited = s.edit_step(2, region=[0, 0, 40, 40]).pending
    assert edited.steps[1].args["region"] == {"x1": 0, "y1": 0, "x2": 40, "y2": 40}
    assert edited.steps[1].changed == ["region"] and edited.error is None
    assert "step 1 cannot go: step 2 uses its output" in s.remove_step(1).pending.error
    assert "has no argument colour" in s.edit_step(3, colour="red").pending.error
    assert "only steps 1 to 1 come before it" in s.edit_step(2, image="@3").pending.error
    shown = s.remove_step(3).pending
    assert len(shown.steps) == 2 and shown.error is None
    done = s.approve()
    assert len(done.artifacts) == 2 and runs(workspace) == 2


def test_policy_step_asks_before_each_step(workspace: Path) -> None:
    s = session(workspace, [gray_chain(3)], policy="step")
    assert s.send("gray it three times", attachments=[PHOTO]).pending.asking == [1]
    second = s.approve()
    assert len(second.artifacts) == 1 and second.pending.current.number == 2
    assert [step.status for step in second.pending.steps] == ["done", "planned", "planned"]
    third = s.approve()
    assert third.pending.current.number == 3
    assert len(s.approve().artifacts) == 1 and runs(workspace) == 3


def test_a_failed_step_keeps_the_finished_ones_and_offers_retry_edit_or_stop(workspace: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Broken, "error", RuntimeError("the model file is corrupt"))
    plan = [{"name": "grayscale", "args": {"prompts": ["gray"]}},
            {"name": "segment_image", "args": {"image": "@1", "target": "car"}},
            {"name": "grayscale", "args": {"image": "@1", "prompts": ["gray"]}}]
    s = session(workspace, [plan])
    s.send("gray, segment, gray", attachments=[PHOTO])
    failed = s.approve()
    assert len(failed.artifacts) == 1  # step 1 finished and is kept
    shown = failed.pending
    assert shown.current.number == 2 and "step 2 failed: segment_image failed: the model file is corrupt" in shown.error
    assert [step.status for step in shown.steps] == ["done", "failed", "planned"]
    again = s.approve()  # retry: it fails the same way
    assert again.pending is not None and "step 2 failed" in again.pending.error
    stopped = s.cancel_decision()
    assert stopped.pending is None and stopped.text == "Stopped the plan before step 2; steps 1 to 1 are kept."
    assert [a.kind for a in s.artifacts()] == ["image", "image"] and runs(workspace) == 1
    assert [(e.step, e.outcome) for e in s.history() if e.action == "approve"] == [
        (1, "ok"), (2, "failed"), (3, "skipped"), (2, "failed"), (3, "skipped")]


def test_four_step_plan_offline_with_real_tools(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    """Repaint the motorcycle (tiny inpainting inside a GrabCut mask), outline it in the result (classic), restyle
    the result (tiny InstructPix2Pix), then animate that (tiny Stable Video Diffusion)."""
    configure(workspace, '[segmentation]\nbackend = "classic"\n' + "".join(
        f'[weights.{name}]\nsource = "{tiny_diffusion[name]}"\n' for name in ("inpaint", "pix2pix", "i2v")))
    plan = [
        {"name": "edit_image", "args": {"prompts": ["paint it red"], "region": BOX, "steps": 1, "seed": 3}},
        {"name": "segment_image", "args": {"image": "@1", "region": BOX}},
        {"name": "edit_image", "args": {"image": "@1", "prompts": ["make it snowy"], "steps": 1, "seed": 4}},
        {"name": "animate_image", "args": {"prompt": "it drives off", "num_frames": 2, "steps": 1, "seed": 5}},
    ]
    s = Session(workspace, ScriptedPlanner([plan]), import_roots=[ROOT])
    shown = s.send("repaint, outline, restyle, animate", attachments=[MOTORCYCLE[0]]).pending
    assert [step.tool for step in shown.steps] == ["edit_image", "segment_image", "edit_image",
                                                         "animate_image"]
    assert shown.steps[3].args["image"] == "@3"  # left out: the latest image so far, step 3's
    assert shown.steps[0].preview and shown.steps[1].preview is None  # @1 does not exist yet
    assert s.edit_step(4, seed=6).pending.steps[3].args["seed"] == 6
    s.approve()
    photo = shown.steps[0].args["image"]
    steps = s.plan.steps
    assert [step.status for step in steps] == ["done"] * 4, [step.message for step in steps]
    by_kind = [{s.store.get(a).kind: s.store.get(a) for a in step.artifacts} for step in steps]
    repainted, mask, restyled, clip = (by_kind[0]["image"], by_kind[1]["mask"], by_kind[2]["image"],
                                       by_kind[3]["video"])
    assert photo in repainted.parents and mask.parents == (repainted.id,)  # references resolved to the right ones
    assert restyled.parents == (repainted.id,) and clip.parents == (restyled.id,) and clip.seed == 6
    ancestors = [a.id for a in s.store.lineage(clip.id)]  # lineage chains across the steps, oldest first
    assert ancestors.index(photo) < ancestors.index(repainted.id) < ancestors.index(restyled.id)
    assert np.asarray(load_image(mask.path)).any()
    assert [e.outcome for e in s.history()] == ["ok"] * 4


# -- durability: kill -9 mid-plan, resume in a new process -----------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    sys.path.insert(0, {graphs!r})
    from test_plan import gray_chain
    from vitron_agent.planners import ScriptedPlanner
    from vitron_agent.session import Session
    from support_tools import Grayscale
    s = Session(sys.argv[1], ScriptedPlanner([gray_chain(4)]), thread_id="t1", tools=[Grayscale],
                import_roots=[{samples!r}], policy=sys.argv[2])
    turn = s.send("gray it four times", attachments=[{photo!r}])
    if sys.argv[2] == "step":
        s.approve()
        s.approve()
        print("AT STEP", s.pending.current.number, flush=True)
    else:
        print("APPROVING", flush=True)
        s.approve()
    time.sleep(600)
""")


def child(workspace: Path, policy: str, **env: str) -> subprocess.Popen:
    script = CHILD.format(tests=str(TESTS), graphs=str(TESTS / "graphs"), samples=str(ROOT), photo=str(PHOTO))
    return subprocess.Popen([sys.executable, "-c", script, str(workspace), policy], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, **env}, cwd=ROOT)


def test_killed_after_step_2_resumes_at_step_3(workspace: Path) -> None:
    process = child(workspace, "step")
    assert process.stdout.readline().strip() == "AT STEP 3"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    s = Session(workspace, ScriptedPlanner([]), thread_id="t1", tools=[Grayscale], policy="step")
    assert s.pending.current.number == 3
    assert [step.status for step in s.pending.steps] == ["done", "done", "planned", "planned"]
    s.approve()
    s.approve()
    assert runs(workspace) == 4  # steps 1 and 2 were not run again
    assert [e.outcome for e in s.history()] == ["ok"] * 4
    images = [s.store.get(a) for step in s.plan.steps for a in step.artifacts]
    assert [img.parents[0] for img in images[1:]] == [img.id for img in images[:-1]]


def lose_the_checkpoints_since_step_2(workspace: Path) -> None:
    """Make the thread's head the checkpoint taken just before step 2 ran, as if the later ones were never
    written (LangGraph's default "async" durability writes a step's checkpoint while the next step runs)."""
    from vitron_agent.graphs.agent import build_agent
    from vitron_agent.workspace import Workspace

    opened = Workspace(workspace)
    agent = build_agent(ScriptedPlanner([]), tools=[Grayscale], workspace=opened, checkpointer=opened.checkpointer())
    config = {"configurable": {"thread_id": "t1"}}
    before_2 = next(snapshot for snapshot in agent.get_state_history(config) if snapshot.next == ("execute",)
                    and Plan.model_validate(snapshot.values["plan"]).next_step("approved") == 1)
    agent.update_state(before_2.config, None, as_node="__copy__")


@pytest.mark.parametrize("checkpoints_lost", [False, True], ids=["as-written", "steps-2-and-3-unwritten"])
def test_killed_mid_step_3_offers_it_again_and_keeps_1_and_2(workspace: Path, checkpoints_lost: bool) -> None:
    process = child(workspace, "ask", GRAYSCALE_DELAY="1")
    assert process.stdout.readline().strip() == "APPROVING"
    deadline = __import__("time").time() + 120
    while runs(workspace) < 3:
        assert __import__("time").time() < deadline
        __import__("time").sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)  # step 3 is running
    process.wait()
    if checkpoints_lost:  # step 2 finished (its log says ok) but the thread does not know it: it is not re-run
        lose_the_checkpoints_since_step_2(workspace)
    s = Session(workspace, ScriptedPlanner([]), thread_id="t1", tools=[Grayscale])
    shown = s.pending
    assert shown.asking == [3, 4] and [st.status for st in shown.steps][:2] == ["done", "done"]
    done = s.approve()
    assert len(done.artifacts) == 2 and runs(workspace) == 5  # 1, 2, 3 (cut off), 3, 4
    assert [(e.step, e.outcome) for e in s.history()] == [
        (1, "ok"), (2, "ok"), (3, "interrupted"), (4, "skipped"), (3, "ok"), (4, "ok")]


# -- undo and fork --------------------------------------------------------------------------------------------

def test_undo_to_a_step_and_fork_from_one(workspace: Path) -> None:
    s = session(workspace, [gray_chain(4)], policy="auto")
    s.send("gray it four times", attachments=[PHOTO])
    finished = [step.artifacts[0] for step in s.plan.steps]
    assert runs(workspace) == 4
    s.policy = "ask"  # from here on, returned-to steps wait for review

    fork = s.fork(step=2)
    assert fork.thread_id != s.thread_id
    assert fork.pending.asking == [2, 3, 4]
    assert [step.status for step in s.plan.steps] == ["done"] * 4  # the original is intact
    assert [a.id for a in fork.artifacts()][1:] == finished[:1]
    fork.edit_step(2, region=[0, 0, 30, 30])
    forked = fork.approve()
    assert len(forked.artifacts) == 3 and runs(workspace) == 7
    assert s.store.get(forked.artifacts[0].id).parents == (finished[0],)  # the branch starts from step 1's image

    waiting = s.undo(step=2)
    assert waiting.pending.asking == [2, 3, 4]
    assert [a.id for a in s.artifacts()][1:] == finished[:1]  # steps 2-4 set aside
    again = s.approve().artifacts  # new runs (each artifact names its run), same calls: the same bytes
    assert [a.sha256 for a in again] == [s.store.get(i).sha256 for i in finished[1:]]
    assert {a.call["run"] for a in again}.isdisjoint(s.store.get(i).call["run"] for i in finished[1:])
    with pytest.raises(Exception, match="no step 9"):
        s.undo(step=9)


def test_under_policy_auto_a_failed_step_still_waits_for_the_person(workspace: Path) -> None:
    plan = [{"name": "grayscale", "args": {"prompts": ["gray"]}},
            {"name": "segment_image", "args": {"image": "@1", "target": "car"}}]
    s = session(workspace, [plan], policy="auto")
    turn = s.send("gray, then segment", attachments=[PHOTO])  # once: no retrying by itself, forever
    assert turn.pending is not None and "step 2 failed" in turn.pending.error and runs(workspace) == 1
    assert s.cancel_decision().text == "Stopped the plan before step 2; steps 1 to 1 are kept."
