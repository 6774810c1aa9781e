"""The creative workflow end to end, offline: four candidates of a lighthouse, the third chosen; a segmented region
repainted; the result animated; the clip's background changed. Through ``Session`` with the rule planner, the tiny
random pipelines and the classic backend, in a process killed (``kill -9``) while step 3 runs; a new process
resumes with the choice intact and reruns nothing that finished. Then step 1 is varied and the work carries on
from a new candidate in the same thread. (The README's transcript of the same workflow, in the terminal, is
tested in ``test_readme_creative_loop.py``.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from vitron_agent.planners.rules import RulePlanner
from vitron_agent.session import Session

from conftest import ROOT, configure

SMALL = """
[segmentation]
backend = "classic"

[defaults.generate_image]
candidates = 4
width = 64
height = 64
steps = 2

[defaults.edit_image]
steps = 2

[defaults.animate_image]
num_frames = 4
steps = 2

[defaults.edit_video]
steps = 2
"""
"""Small sizes and few steps for every call (the workflow is the same at real sizes), and four candidates for
every generation, as a person who always wants to choose would set it."""
DRAW = "draw a lighthouse on a cliff at dusk"
REPAINT = "segment the lighthouse [8, 4, 40, 60], then repaint it as a red lighthouse"
CLICK = {"x": 24, "y": 30}
"""GrabCut finds no edge in the tiny pipelines' noise from a box alone; a click inside marks the object."""
ANIMATE = "animate it"
STORM = "change the background of the video to a stormy sea [8, 4, 40, 60]"

CHILD = textwrap.dedent("""
    import sys, time
    from vitron_agent.planners.rules import RulePlanner
    from vitron_agent.session import Session

    def hold(event):
        if event["tool"] == "animate_image":
            print("ANIMATING", flush=True)
            time.sleep(600)

    s = Session(sys.argv[1], RulePlanner(), thread_id="t1", on_progress=hold)
    s.send({draw!r})
    s.edit(seed=7)
    s.approve()
    s.choose(3)
    s.send({repaint!r})
    s.edit_step(1, points=[{click!r}])
    s.approve()
    s.send({animate!r})
    s.approve()
""")


def workspace_for(workspace: Path, pipelines: dict[str, Path]) -> Path:
    configure(workspace, SMALL + "".join(f'[weights.{name}]\nsource = "{path}"\n' for name, path in pipelines.items()))
    return workspace


def test_the_creative_workflow_survives_kill_9_and_carries_on(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    workspace_for(workspace, tiny_diffusion)
    script = CHILD.format(draw=DRAW, repaint=REPAINT, click=CLICK, animate=ANIMATE)
    child = subprocess.Popen([sys.executable, "-c", script, str(workspace)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ANIMATING"
    finally:
        os.kill(child.pid, signal.SIGKILL)  # step 3 is running
        child.wait()

    s = Session(workspace, RulePlanner(), thread_id="t1")
    # the choice is intact: candidate 3 chosen, the others kept and marked, the log says so
    [generated] = [e for e in s.history() if e.tool == "generate_image" and e.action == "approve"]
    candidates = [s.store.get(i) for i in generated.artifacts]
    assert [c.seed for c in candidates] == [7, 8, 9, 10] and generated.outcome == "ok"
    assert [c.chosen for c in candidates] == [False, False, True, False]
    [chose] = [e for e in s.history() if e.action == "choose"]
    assert chose.artifacts == [candidates[2].id] and chose.message == "candidate 3 of 4 (seed 9)"
    # step 3 is offered again; nothing that finished runs again
    assert s.pending is not None and s.pending.tool == "animate_image"
    outcomes = [(e.tool, e.outcome) for e in s.history() if e.action == "approve"]
    assert outcomes == [("generate_image", "ok"), ("segment_image", "ok"), ("edit_image", "ok"),
                        ("animate_image", "interrupted")]
    clip = [a for a in s.approve().artifacts if a.kind == "video"][-1]
    assert s.send(STORM).pending.tool == "edit_video"
    final = [a for a in s.approve().artifacts if a.kind == "video"][-1]

    lineage = {a.id for a in s.store.lineage(final.id)}
    assert {candidates[2].id, clip.id} <= lineage
    assert lineage.isdisjoint({candidates[0].id, candidates[1].id, candidates[3].id})
    assert all(e.by == "person" for e in s.history() if e.action == "approve" and e.outcome == "ok")
    assert [e.tool for e in s.history() if e.action == "approve"].count("generate_image") == 1

    # vary step 1, choose a new candidate, carry on from it in the same thread
    varied = s.vary(candidates[2].id)
    assert varied.pending.args["seed"] == 11 and varied.pending.args["candidates"] == 4
    new = s.approve().candidates
    assert [c.seed for c in new] == [11, 12, 13, 14]
    s.choose(2)
    assert s.send(ANIMATE).pending.args["image"] == new[1].id
    again = [a for a in s.approve().artifacts if a.kind == "video"][-1]
    assert new[1].id in {a.id for a in s.store.lineage(again.id)} and s.thread_id == "t1"


def test_a_result_of_three_steps_ago_is_branched_from_without_undo(workspace: Path,
                                                                 tiny_diffusion: dict[str, Path]) -> None:
    workspace_for(workspace, tiny_diffusion)
    s = Session(workspace, RulePlanner())
    s.send(DRAW)
    first = s.approve().candidates
    s.choose(1)
    s.send(ANIMATE)
    s.approve()
    said = s.use(first[3].id)
    assert "Carrying on from image" in said
    assert s.send(ANIMATE).pending.args["image"] == first[3].id
    before = len(s.history())
    s.approve()
    assert len(s.history()) == before + 1 and not any(e.undone for e in s.history())  # a new line, not an undo


def test_run_stops_at_the_choice_and_the_terminal_resumes_it(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    import json
    import subprocess
    import sys

    workspace_for(workspace, tiny_diffusion)
    script = Path(sys.executable).parent / "vitron-agent"
    env = {**os.environ, "COLUMNS": "110", "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([str(script), "run", DRAW, "--workspace", str(workspace), "--yes", "--json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 3, run.stderr
    said = json.loads(run.stdout)
    assert said["pending"] is None and len(said["choice"]["candidates"]) == 4
    assert [a["candidate"] for a in said["artifacts"]] == [1, 2, 3, 4]
    chat = subprocess.run([str(script), "chat", "--workspace", str(workspace), "--resume", said["thread"]],
                          input="9\n2\n/quit\n", capture_output=True, text=True, env=env, timeout=300)
    assert "there is no candidate 9: choose 1 to 4" in chat.stdout
    assert f"Chose candidate 2 of 4: {said['choice']['candidates'][1]}." in chat.stdout
