"""What the person answers is what runs: an answer is bound to the decision its person saw, a change of policy
never overrides an answer given, and of two answers given at once to one decision exactly one counts.

Real OS processes answer one waiting thread: each opens it and reads (is shown) the decision, then all answer at
the same instant when the test releases them. Before (a582fdc): a decision edited in another process was approved
as edited by a process that had shown the original (4 of 4); an approval and an edit at the same instant ran the
original and left the edit shown as waiting, then gone (5 of 5); and Cancel, Reject or Drop after the policy was
switched to ``auto`` ran the tool, logged "by policy: auto" (3 of 3).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session

from conftest import GRAY, PHOTO, ROOT
from support_tools import RUNS_FILE, Grayscale

TESTS = Path(__file__).resolve().parents[1]
SHOWN = (60, 90, 580, 380)
EDITED = {"x1": 100, "y1": 100, "x2": 400, "y2": 300}
CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {tests!r})
from support_tools import Grayscale
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session

workspace, action, folder, *threads = sys.argv[1:]
for number, thread in enumerate(threads):
    session = Session(workspace, ScriptedPlanner([{gray!r}] * 3), thread_id=thread, tools=[Grayscale],
                      person=action)
    shown = session.pending
    print(json.dumps({{"shown": shown.fingerprint if shown else None}}), flush=True)
    go = os.path.join(folder, f"go-{{number}}")
    while not os.path.exists(go):
        time.sleep(0.0005)
    if action == "policy":
        session.policy = "auto"
        turn = None
    else:
        turn = {{"approve": lambda: session.approve(),
                 "edit": lambda: session.edit(region=[100, 100, 400, 300]),
                 "cancel": lambda: session.cancel_decision(),
                 "reject": lambda: session.reject("not that"),
                 "drop": lambda: session.remove_step(2)}}[action]()
    print(json.dumps({{"text": turn.text if turn else "", "error": turn.pending.error if turn and turn.pending
                       else None}}), flush=True)
"""


class Answerers:
    """Processes that each show every thread's decision, then answer it when released, all at once."""

    def __init__(self, workspace: Path, tmp_path: Path, actions: list[str], threads: list[str]) -> None:
        self.folder, self.threads = tmp_path, threads
        script = CHILD.format(tests=str(TESTS), gray=GRAY)
        self.children = [subprocess.Popen([sys.executable, "-c", script, str(workspace), action, str(tmp_path),
                                           *threads], stdout=subprocess.PIPE, text=True, cwd=ROOT)
                         for action in actions]

    def round(self, number: int) -> list[dict[str, Any]]:
        """Wait until every process shows round ``number``'s decision, release them, and return what each got."""
        shown = [json.loads(child.stdout.readline()) for child in self.children]
        assert all(said["shown"] for said in shown), shown
        (self.folder / f"go-{number}").touch()
        return [json.loads(child.stdout.readline()) for child in self.children]

    def close(self) -> None:
        for child in self.children:
            child.wait(timeout=60)
            assert child.returncode == 0


def waiting_thread(workspace: Path, thread: str, outputs: list[Any] | None = None) -> Session:
    session = Session(workspace, ScriptedPlanner(outputs or [GRAY]), thread_id=thread, tools=[Grayscale],
                      import_roots=[ROOT])
    assert session.send("make it gray", attachments=[PHOTO], region=SHOWN).pending is not None
    return session


def runs(workspace: Path) -> int:
    path = workspace / RUNS_FILE
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_an_approval_of_what_another_process_edited_since_is_refused_with_what_changed(workspace: Path,
                                                                                         tmp_path: Path) -> None:
    waiting_thread(workspace, "t")
    (tmp_path / "a").mkdir()
    approver = Answerers(workspace, tmp_path / "a", ["approve"], ["t"])
    shown = json.loads(approver.children[0].stdout.readline())  # process 1 shows the box 60,90,580,380
    editor = Session(workspace, ScriptedPlanner([]), thread_id="t", tools=[Grayscale])
    edited = editor.edit(region=[100, 100, 400, 300]).pending  # process 2 (here) edits it
    assert edited.args["region"] == EDITED and edited.fingerprint != shown["shown"]
    (tmp_path / "a" / "go-0").touch()
    [said] = [json.loads(approver.children[0].stdout.readline())]
    approver.close()
    assert said["error"].startswith("what waits changed since it was shown, so nothing was run: step 1 region: "
                                    "(60, 90, 580, 380) -> (100, 100, 400, 300)"), said
    assert runs(workspace) == 0
    turn = editor.approve()  # the person who edited approves what they saw: the edit runs
    assert turn.text == "Grayed the region." and runs(workspace) == 1
    [ran] = [e for e in editor.history() if e.outcome == "ok"]
    assert ran.args["region"] == EDITED and ran.by == "person"


def test_an_approval_and_an_edit_at_the_same_instant_take_one_answer(workspace: Path, tmp_path: Path) -> None:
    threads = [f"race-{number}" for number in range(6)]
    for thread in threads:
        waiting_thread(workspace, thread)
    answerers = Answerers(workspace, tmp_path, ["approve", "edit"], threads)
    outcomes = []
    for number, thread in enumerate(threads):
        approved, edited = answerers.round(number)
        after = Session(workspace, ScriptedPlanner([]), thread_id=thread, tools=[Grayscale])
        ran = [e for e in after.history() if e.outcome == "ok"]
        waiting = after.pending
        if ran:  # the approval came first: it ran what was shown, and the edit was told so (by the answer it
            # met, or by the run's claim when it came once the approval had been taken)
            assert approved["text"] == "Grayed the region." and waiting is None
            assert "already answered (approved by approve" in edited["text"] or \
                "was already approved (by approve" in edited["text"], edited
            assert ran[0].args["region"] == {"x1": 60, "y1": 90, "x2": 580, "y2": 380}
        else:  # the edit came first: it waits, shown as edited, and the approval ran nothing
            assert waiting is not None and waiting.args["region"] == EDITED, (approved, edited)
            assert "already answered (edited by edit" in approved["text"] or \
                "what waits changed since it was shown" in (approved["error"] or ""), approved
        outcomes.append("approved" if ran else "edited")
    answerers.close()
    assert runs(workspace) == outcomes.count("approved"), outcomes


@pytest.mark.parametrize("answer", ["cancel", "reject", "drop"])
def test_an_answer_given_after_the_policy_turned_auto_is_the_answer(workspace: Path, tmp_path: Path,
                                                                     answer: str) -> None:
    two_steps = [{"name": "grayscale", "args": {"prompts": ["gray"]}},
                 {"name": "grayscale", "args": {"prompts": ["gray"], "image": "@1"}}]
    session = waiting_thread(workspace, "t", [two_steps if answer == "drop" else GRAY, "no call"])
    switcher = Answerers(workspace, tmp_path, ["policy"], ["t"])  # another process (a page's radio)
    switcher.round(0)
    switcher.close()
    assert session.policy == "auto"  # every surface reads it from the thread
    session.policy = "auto"  # and the terminal's own /policy auto at the decide> prompt
    turn = {"cancel": session.cancel_decision, "reject": lambda: session.reject("not that"),
            "drop": lambda: session.remove_step(2)}[answer]()
    assert runs(workspace) == 0
    if answer == "drop":  # the plan is shown again without step 2, still waiting for the person
        assert turn.pending is not None and len(turn.pending.steps) == 1
    entries = session.history()
    assert [(e.action, e.by) for e in entries if e.action == "policy"] == [("policy", "policy")]
    assert not [e for e in entries if e.action == "approve"], entries
