"""Exactly once: several processes answering one decision at the same instant run its tool once between them.

Before the claim, two processes calling ``Session.approve()`` on one waiting thread both ran the tool, and two
MCP clients approving one proposal ran it twice in 2 of 20 rounds. Now the step is claimed in the decision log with
one conditional update first; the losers are told who approved it and run nothing. Real processes (spawned, so
nothing is shared but the workspace), released together by a barrier, 20 rounds each with 2 and with 4. The same
holds on a shared PostgreSQL database (the claim is an ``UPDATE`` under its row lock), also when the processes
open (resume) the thread at the same instant as they approve it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from vitron_agent.decisions import DecisionLog
from vitron_agent.workspace import Workspace
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session

from conftest import GRAY, PHOTO, ROOT
from support_tools import RUNS_FILE, Grayscale

ROUNDS = 20
pytestmark = pytest.mark.slow


def approver(kind: str, workspace: str, jobs: Any, barrier: Any, results: Any) -> None:
    """One process: for each round's thread or proposal, wait for the others, then approve it at once."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from support_tools import Grayscale  # noqa: F811  (this process imports on its own)

    from vitron_agent.planners import ScriptedPlanner
    from vitron_agent.session import Session, SessionError

    server = None
    if kind == "mcp":
        from vitron_agent.mcp_server import VitronMcp

        server = VitronMcp(workspace, tools=[Grayscale])
    while (job := jobs.get()) is not None:
        resume = lambda: Session(workspace, ScriptedPlanner([]), thread_id=job, tools=[Grayscale])  # noqa: E731
        session = None if server or kind == "resume" else resume()
        barrier.wait()
        if kind == "resume":  # opened at the same instant: each one's recovery runs alongside the others' approval
            session = resume()
        try:
            said = anyio.run(server.approve_decision, job) if server else session.approve().text
        except SessionError as error:  # it finished before this one asked: nothing waits any more
            said = f"session: {error}"
        except Exception as error:  # the MCP SDK's ToolError, as a client would get it
            said = f"error: {error}"
        results.put(said)


def run_rounds(kind: str, workspace: Path, count: int) -> list[list[str]]:
    context = multiprocessing.get_context("spawn")
    jobs = [context.Queue() for _ in range(count)]
    results, barrier = context.Queue(), context.Barrier(count)
    os.environ["GRAYSCALE_DELAY"] = "0.05"  # each run takes 0.2 s, so the approvals overlap with it
    workers = [context.Process(target=approver, args=(kind, str(workspace), queue, barrier, results))
               for queue in jobs]
    for worker in workers:
        worker.start()
    rounds = []
    try:
        if kind == "mcp":
            from vitron_agent.mcp_server import VitronMcp

            server = VitronMcp(workspace, tools=[Grayscale], import_roots=[ROOT])
            photo = server.workspace.store.import_file(PHOTO)
        for number in range(ROUNDS):
            if kind == "mcp":
                import json

                proposed = json.loads(anyio.run(server.call, Grayscale(), {"image": photo.id, "prompts": [f"gray {number}"]}))
                job = proposed["decision"]["id"]
            else:
                job = f"round-{number}"
                Session(workspace, ScriptedPlanner([GRAY]), thread_id=job, tools=[Grayscale],
                        import_roots=[ROOT]).send("make it gray", attachments=[PHOTO])
            for queue in jobs:
                queue.put(job)
            rounds.append(sorted(results.get(timeout=120) for _ in range(count)))
    finally:
        for queue in jobs:
            queue.put(None)
        for worker in workers:
            worker.join(timeout=60)
        os.environ.pop("GRAYSCALE_DELAY", None)
    return rounds


def runs(workspace: Path) -> int:
    path = workspace / RUNS_FILE
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize("count", [2, 4])
def test_approvers_of_one_waiting_thread_run_its_tool_once(tmp_path: Path, storage: Callable[[Path], Path],
                                                           count: int) -> None:
    check_approvals(storage(tmp_path / "workspace"), "session", count)


@pytest.mark.parametrize("storage", ["postgres+s3"], indirect=True)
def test_processes_resuming_one_thread_at_once_run_its_tool_once(tmp_path: Path,
                                                                 storage: Callable[[Path], Path]) -> None:
    check_approvals(storage(tmp_path / "workspace"), "resume", 2)


def check_approvals(workspace: Path, kind: str, count: int) -> None:
    rounds = run_rounds(kind, workspace, count)
    assert runs(workspace) == ROUNDS, rounds
    opened = Workspace(workspace)
    log = opened.log
    for number, said in enumerate(rounds):
        assert sum(text == "Grayed the photo." for text in said) == 1, said
        losers = [text for text in said if text != "Grayed the photo."]
        assert all("was already approved (by person, at" in text or "nothing is waiting" in text
                   for text in losers), losers
        entries = [e for e in log.list(f"round-{number}") if e.action == "approve"]
        ran = [e for e in entries if e.outcome == "ok"]
        assert len(ran) == 1 and ran[0].claimed_by  # one run, with its claim
        # a process that resumes the thread at the very moment another has approved, but not yet claimed, the step
        # takes that approval for cut off: it is logged interrupted (never claimed, never run) and the step is
        # offered again, and approved, there; with the sessions opened beforehand nothing is interrupted
        others = [e for e in entries if e is not ran[0]]
        assert all(e.outcome == "interrupted" and e.claimed_by is None for e in others), others
        assert kind == "resume" or not others
    opened.close()


@pytest.mark.parametrize("count", [2, 4])
def test_mcp_approvals_of_one_proposal_run_it_once(workspace: Path, count: int) -> None:
    rounds = run_rounds("mcp", workspace, count)
    assert runs(workspace) == ROUNDS, rounds
    for said in rounds:
        assert sum('"status": "done"' in text for text in said) == 1, said
        assert all("already approved (by mcp client" in text for text in said if '"status": "done"' not in text)
    approvals = [e for e in DecisionLog(workspace).list("mcp") if e.action == "approve"]
    assert len(approvals) == ROUNDS and {e.outcome for e in approvals} == {"ok"}
