"""A running step's claim holds a lease: renewed while its tool runs, however slow, and lapsing when its process
is gone, on this machine or another, so the step is offered again instead of staying ``running`` for ever.

"Another machine" is a process in a UTS namespace of its own (``unshare --uts``, as root) with its own host
name, sharing the workspace. Before (a582fdc): a process on another machine killed while its approved tool ran
left the step running for good, the plan showed it approved, and every other process was told nothing was
waiting; an MCP server killed between approving a proposal and claiming its run left it neither approvable nor
rejectable.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import anyio
import pytest

from vitron_agent.claims import claim_is_stale
from vitron_agent.decisions import LogEntry
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session, SessionError

from conftest import GRAY, PHOTO, ROOT, configure
from support_tools import RUNS_FILE, Grayscale

TESTS = Path(__file__).resolve().parents[1]
LEASE_S = 2.0
APPROVER = r"""
import sys
sys.path.insert(0, {tests!r})
from support_tools import Grayscale
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session

session = Session(sys.argv[1], ScriptedPlanner([]), thread_id="t", tools=[Grayscale])
session.approve()
"""
PROPOSAL_APPROVER = r"""
import sys, time
sys.path.insert(0, {tests!r})
from support_tools import Grayscale
from vitron_agent.claims import holding, running
from vitron_agent.mcp_server import VitronMcp

server = VitronMcp(sys.argv[1], tools=[Grayscale])
log = server.workspace.log
with running() as claimer:  # what approve_decision does before the run takes its own claim
    assert log.claim(sys.argv[2], claimer, outcome="approved")[0]
    with holding(log, sys.argv[2], claimer):
        print("APPROVED", flush=True)
        time.sleep(600)
"""


def on_another_machine(script: str, *args: str) -> subprocess.Popen:
    """A Python process under another host name (a UTS namespace of its own), or skip where that is refused."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or \
            subprocess.run(["unshare", "--uts", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs root and unshare --uts for a second host name")
    command = f'hostname other-machine && exec "$0" -c "$1" "${{@:2}}"'
    return subprocess.Popen(["unshare", "--uts", "bash", "-c", command, sys.executable,
                             script.format(tests=str(TESTS)), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "GRAYSCALE_DELAY": str(LEASE_S * 1.25)})


def runs(workspace: Path) -> int:
    path = workspace / RUNS_FILE
    return len(path.read_text().splitlines()) if path.exists() else 0


def wait_for(condition, seconds: float = 60) -> None:  # noqa: ANN001
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_a_step_killed_on_another_machine_is_offered_again_once_its_lease_lapses(workspace: Path) -> None:
    configure(workspace, f"[limits]\nclaim_lease_s = {LEASE_S}\n")
    Session(workspace, ScriptedPlanner([GRAY]), thread_id="t", tools=[Grayscale], import_roots=[ROOT]).send(
        "make it gray", attachments=[PHOTO])
    holder = on_another_machine(APPROVER, str(workspace))  # its tool runs 4 x 2.5 s
    wait_for(lambda: runs(workspace) == 1)
    time.sleep(LEASE_S * 2.5)  # while the holder lives, its heartbeat keeps the claim, however long the tool takes
    here = Session(workspace, ScriptedPlanner([]), thread_id="t", tools=[Grayscale])
    [entry] = here.log.list("t")
    assert entry.outcome == "running" and entry.claimed_by.startswith("other-machine:")
    assert here.pending is None and not claim_is_stale(entry)
    with pytest.raises(SessionError, match="nothing is waiting"):
        here.approve()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    time.sleep(LEASE_S + 0.5)
    again = Session(workspace, ScriptedPlanner([]), thread_id="t", tools=[Grayscale])
    assert again.pending is not None and again.pending.tool == "grayscale"  # offered again, not re-run by itself
    assert runs(workspace) == 1
    assert again.approve().text == "Grayed the photo."
    assert [e.outcome for e in again.log.list("t")] == ["interrupted", "ok"] and runs(workspace) == 2


def test_a_reused_process_id_cannot_keep_a_dead_claim_alive() -> None:
    import socket

    alive_pid = 1  # always running here: as a process id reused by another program would be
    lapsed = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    held = (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat()
    claim = {"id": "d", "tool": "grayscale", "action": "approve", "by": "person", "outcome": "running",
             "claimed_by": f"{socket.gethostname()}:{alive_pid}:run"}
    assert claim_is_stale(LogEntry(**claim, lease_until=lapsed))
    assert not claim_is_stale(LogEntry(**claim, lease_until=held))
    assert claim_is_stale(LogEntry(**{**claim, "claimed_by": "another-host:12:run"}, lease_until=lapsed))


def test_an_mcp_proposal_approved_by_a_server_that_died_can_be_approved_again(workspace: Path) -> None:
    pytest.importorskip("mcp")
    from vitron_agent.mcp_server import VitronMcp

    configure(workspace, f"[limits]\nclaim_lease_s = {LEASE_S}\n")
    server = VitronMcp(workspace, tools=[Grayscale], import_roots=[ROOT])
    photo = server.workspace.store.import_file(PHOTO)
    proposed = json.loads(anyio.run(server.call, Grayscale(), {"image": photo.id, "prompts": ["gray"]}))
    proposal = proposed["decision"]["id"]
    dying = on_another_machine(PROPOSAL_APPROVER, str(workspace), proposal)
    assert dying.stdout.readline().strip() == "APPROVED"
    dying.send_signal(signal.SIGKILL)
    dying.wait()
    assert server.workspace.log.get(proposal).outcome == "approved"
    time.sleep(LEASE_S + 0.5)
    done = json.loads(anyio.run(server.approve_decision, proposal))
    assert done["status"] == "done" and runs(workspace) == 1
    assert [e.outcome for e in server.workspace.log.list("mcp")] == ["approved", "ok"]
