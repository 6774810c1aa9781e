"""Every surface recovers an approval whose tool never finished, as the graph recovers one: a process killed with
-9 while an MCP-approved call, or a LangChain tool call, ran leaves it ``running`` in the log; the next server (or
set of LangChain tools) on the workspace logs it ``interrupted``, and an MCP proposal is offered again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pytest

from vitron_agent.decisions import DecisionLog
from vitron_agent.mcp_server import VitronMcp

from conftest import PHOTO, ROOT
from support_tools import RUNS_FILE, Grayscale

TESTS = Path(__file__).resolve().parents[1]
CHILD = textwrap.dedent("""
    import json, sys
    import anyio
    sys.path.insert(0, {tests!r})
    from support_tools import Grayscale
    workspace, how, what = sys.argv[1], sys.argv[2], sys.argv[3]
    if how == "mcp":
        from vitron_agent.mcp_server import VitronMcp
        print("APPROVING", flush=True)
        anyio.run(VitronMcp(workspace, tools=[Grayscale]).approve_decision, what)
    else:
        from vitron_agent import as_langchain_tools
        tools = {{tool.name: tool for tool in as_langchain_tools(workspace, tools=[Grayscale])}}
        print("RUNNING", flush=True)
        tools["grayscale"].invoke({{"image": what, "prompts": ["gray"]}})
""")


def runs(workspace: Path) -> int:
    path = workspace / RUNS_FILE
    return len(path.read_text().splitlines()) if path.exists() else 0


def killed_mid_run(workspace: Path, how: str, what: str) -> None:
    """Start a process that approves or calls, and kill it with -9 once the tool has started."""
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(tests=str(TESTS)), str(workspace), how, what],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "GRAYSCALE_DELAY": "5"})
    assert child.stdout is not None and child.stdout.readline().strip() in ("APPROVING", "RUNNING")
    deadline = time.time() + 60
    while runs(workspace) < 1:
        assert time.time() < deadline and child.poll() is None
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


@pytest.mark.slow
def test_an_mcp_approval_cut_off_is_offered_again(workspace: Path) -> None:
    server = VitronMcp(workspace, tools=[Grayscale], import_roots=[ROOT])
    photo = server.workspace.store.import_file(PHOTO)
    proposal = json.loads(anyio.run(server.call, Grayscale(), {"image": photo.id, "prompts": ["gray"]}))["decision"]["id"]
    killed_mid_run(workspace, "mcp", proposal)
    stuck = [e for e in DecisionLog(workspace).list("mcp") if e.action == "approve"]
    assert [e.outcome for e in stuck] == ["running"]  # what a dead server leaves behind

    again = VitronMcp(workspace, tools=[Grayscale])  # a new server on the workspace recovers it
    log = DecisionLog(workspace)
    assert log.get(stuck[0].id).outcome == "interrupted" and log.get(proposal).outcome is None
    done = json.loads(anyio.run(again.approve_decision, proposal))  # offered again: it can be approved (or rejected)
    assert done["status"] == "done" and runs(workspace) == 2
    assert [e.outcome for e in log.list("mcp") if e.action == "approve"] == ["interrupted", "ok"]


@pytest.mark.slow
def test_a_langchain_call_cut_off_is_logged_interrupted(workspace: Path) -> None:
    from vitron_agent import as_langchain_tools

    tools = {tool.name: tool for tool in as_langchain_tools(workspace, tools=[Grayscale], import_roots=[ROOT])}
    photo = tools["import_media"].invoke({"path": str(PHOTO)}).split()[2]
    killed_mid_run(workspace, "langchain", photo)
    assert [e.outcome for e in DecisionLog(workspace).list("langchain")] == ["running"]
    as_langchain_tools(workspace, tools=[Grayscale])
    [entry] = DecisionLog(workspace).list("langchain")
    assert entry.outcome == "interrupted" and entry.message == "the process stopped while the tool was running"
