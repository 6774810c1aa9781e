"""A decision says, before anyone approves it, whether its call can run on this machine and what mends it; and
approving anyway ends in one line with that fix, recorded as failed. Checked on a built-in tool whose weights are
missing (no hub here) and on a plugin whose library is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitron_agent.decisions import Decision
from vitron_agent.invocation import Module
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.readiness import Readiness, RunsOn, check
from vitron_agent.session import Session
from vitron_agent.tools import ToolContext, ToolResult
from vitron_agent.tools.edit_image import EditImage
from vitron_agent.weights import Family

from conftest import MOTORCYCLE, PHOTO, ROOT, configure

SCRIPT = Path(sys.executable).parent / "vitron-agent"
MISSING_LIBRARY = Family("sketchy", "org/sketchy", packages=("no_such_package_for_vitron_tests",))


class Sketch:
    """A plugin whose backend library is not installed here."""

    name = "sketch"
    module = Module.C
    Args = EditImage
    side_effects = True
    runs = 0

    def describe(self, args: dict, workspace: Path) -> RunsOn:
        return RunsOn("SketchPipeline (org/sketchy)", families=(MISSING_LIBRARY,))

    def run(self, args: EditImage, ctx: ToolContext) -> ToolResult:
        Sketch.runs += 1
        raise AssertionError("a call that cannot run here must not reach run()")


SKETCH = "<module>C</module> <instruction>editing: a pencil sketch</instruction>"


def test_each_status_and_its_fix(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert check(RunsOn("classic"), workspace) == Readiness()
    extra = check(RunsOn("x", families=(MISSING_LIBRARY,)), workspace)
    assert extra.status == "needs_extra" and not extra.can_run
    assert extra.fix == "pip install 'vitron-agent[vision]'" and "no_such_package_for_vitron_tests" in extra.reason
    assert extra.line("sketch").startswith("sketch can't run here: it needs the vision extra")

    hub_family = Family("sd", "org/not-here", packages=())
    offline = check(RunsOn("x", families=(hub_family,)), workspace)  # conftest sets HF_HUB_OFFLINE=1
    assert offline.status == "needs_weights" and offline.families == ("sd",)
    assert "vitron-agent pull sd" in offline.fix and "hf download org/not-here" in offline.fix
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    online = check(RunsOn("x", families=(hub_family,)), workspace)
    assert online.status == "downloads" and online.can_run and "download on first use" in online.reason

    configure(workspace, f'[weights.sd]\nsource = "{tmp_path / "nowhere"}"\n')
    local = check(RunsOn("x", families=(hub_family,)), workspace)
    assert local.status == "needs_weights" and "do not exist" in local.reason and "[weights.sd]" in local.fix
    (tmp_path / "nowhere").mkdir()
    assert check(RunsOn("x", families=(hub_family,)), workspace).status == "ready"


def test_a_plugin_that_cannot_run_says_so_before_approval_and_fails_in_one_line(workspace: Path) -> None:
    s = Session(workspace, ScriptedPlanner([SKETCH, SKETCH]), tools=[Sketch])
    turn = s.send("make it a pencil sketch", attachments=[PHOTO])
    assert turn.pending.can_run is False
    assert turn.pending.current.readiness.status == "needs_extra"
    assert turn.pending.current.readiness.fix == "pip install 'vitron-agent[vision]'"
    assert turn.pending.steps[0].readiness.status == "needs_extra"
    # the answer keys still work: an edit is re-shown, with the same verdict
    edited = s.edit(prompts=["charcoal"])
    assert edited.pending.args["prompts"] == ["charcoal"] and edited.pending.can_run is False
    done = s.approve()
    assert done.pending is None and Sketch.runs == 0
    assert done.text == ("sketch can't run here: it needs the vision extra (no_such_package_for_vitron_tests is "
                         "not installed). To fix: pip install 'vitron-agent[vision]'")
    entry = s.history()[-1]
    assert entry.action == "approve" and entry.outcome == "failed" and entry.message == done.text


def test_a_builtin_tool_without_its_weights_names_the_pull(workspace: Path) -> None:
    """edit_image with no weights here and HF_HUB_OFFLINE: the decision names the family and the commands."""
    s = Session(workspace, ScriptedPlanner(["<module>C</module> <instruction>editing: make it red</instruction>"]))
    turn = s.send("make the motorcycle red", attachments=[PHOTO])
    readiness = turn.pending.current.readiness
    assert turn.pending.tool == "edit_image" and readiness.status == "needs_weights"
    assert readiness.families == ("pix2pix",)
    assert "vitron-agent pull pix2pix" in readiness.fix and "hf download timbrooks/instruct-pix2pix" in readiness.fix
    done = s.approve()
    assert done.text.startswith("edit_image can't run here: the weights pix2pix (timbrooks/instruct-pix2pix)")
    assert s.history()[-1].outcome == "failed"


def test_the_terminal_panel_and_run_say_it_before_and_after(workspace: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "VITRON_SEGMENTATION_BACKEND": "classic"}
    photo = str(MOTORCYCLE[0])
    shown = subprocess.run([str(SCRIPT), "run", "make the motorcycle red", photo, "--workspace", str(workspace)],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert shown.returncode == 3, shown.stderr
    assert "can't run here: the weights pix2pix (timbrooks/instruct-pix2pix) are not on this machine" in shown.stdout
    assert "vitron-agent pull pix2pix" in shown.stdout
    approved = subprocess.run([str(SCRIPT), "run", "make the motorcycle red", photo, "--yes", "--workspace",
                               str(workspace)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert approved.returncode == 1
    lines = approved.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edit_image can't run here:") and "vitron-agent pull" in lines[0]
    assert "Traceback" not in approved.stdout + approved.stderr and "Error" not in approved.stdout
    as_json = subprocess.run([str(SCRIPT), "run", "make the motorcycle red", photo, "--json", "--workspace",
                              str(workspace)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    pending = Decision.model_validate(json.loads(as_json.stdout)["pending"])
    assert not pending.can_run and pending.current.readiness.status == "needs_weights"
