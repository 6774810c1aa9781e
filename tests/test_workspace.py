"""One Workspace, opened once, is what every surface works on: the same store, decision log and model manager."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vitron_agent import RulePlanner, Session, Workspace, as_langchain_tools, build_agent, planner_from_spec

from conftest import PHOTO, ROOT, configure


def test_every_surface_shares_the_open_workspace(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    opened = Workspace(workspace, import_roots=[ROOT])
    session = Session(opened, RulePlanner())
    assert session.workspace is opened and session.store is opened.store and session.log is opened.log
    assert session.models is opened.models
    photo = session.store.import_file(PHOTO)
    session.send("segment the motorcycle [60, 90, 580, 380]", attachments=[photo])
    session.approve()
    tools = {tool.name: tool for tool in as_langchain_tools(opened)}
    assert "Imported image" in tools["import_media"].invoke({"path": str(PHOTO)})
    done = tools["segment_image"].invoke({"image": photo.id, "region": [60, 90, 580, 380]})
    assert done.startswith("Segmented the region")
    # both surfaces wrote to the one log, each under its own thread
    assert {entry.thread for entry in opened.log.list()} == {session.thread_id, "langchain"}
    assert planner_from_spec("rules", workspace=opened) is not None
    assert build_agent(RulePlanner(), workspace=opened) is not None


def test_a_folder_is_opened_and_a_broken_config_is_said_at_once(workspace: Path) -> None:
    opened = Workspace.of(workspace)
    assert opened.root == workspace.resolve() and Workspace.of(opened) is opened
    configure(workspace, "[weights.sd\nsource = ")
    with pytest.raises(ValueError, match="is not valid TOML"):
        Workspace(workspace)


# -- a full or read-only disk ------------------------------------------------------------------------------------

CLI = Path(sys.executable).parent / "vitron-agent"


@pytest.fixture(scope="module")
def with_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A workspace holding one finished, approved segmentation, and its thread (the tests only read it)."""
    workspace = configure(tmp_path_factory.mktemp("history"), '[segmentation]\nbackend = "classic"\n')
    ran = subprocess.run([str(CLI), "run", "segment the motorcycle [60, 90, 580, 380]", str(PHOTO), "-w",
                          str(workspace), "--yes", "--json"], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    return workspace, json.loads(ran.stdout)["thread"]


def _in_own_mounts(script: str) -> str:
    """Run ``script`` in a mount namespace of its own (``unshare -rm``), where it may mount a small tmpfs or
    remount a folder read-only without touching the machine's mounts; returns what it printed."""
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow mount namespaces (unshare -rm), which stand in for a full disk")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=180)
    return done.stdout + done.stderr


def _chat(workspace: Path, thread: str, *options: str) -> str:
    return (f"printf '/history\\nsegment it again\\n/quit\\n' | {CLI} chat -w {workspace} --resume {thread} "
            f"{' '.join(options)} --no-thumbnails; echo exit=$?")


def test_a_read_only_workspace_is_said_in_one_line_and_can_be_read(with_history: tuple[Path, str]) -> None:
    workspace, thread = with_history
    said = _in_own_mounts(f"mount --bind {workspace} {workspace} && mount -o remount,bind,ro {workspace} && "
                          f"{_chat(workspace, thread)} && {_chat(workspace, thread, '--read-only')}")
    refused, read = said.split("exit=1", 1)
    assert refused.strip() == (f"error: workspace {workspace.resolve()} is read-only: its history can be read with "
                               "--read-only")
    assert "segment_image" in read and " ok" in read and "Traceback" not in said
    assert "can be read, but nothing can be sent" in " ".join(read.split())  # the terminal wraps at 80
    assert read.strip().endswith("exit=0")


def test_a_full_disk_is_said_in_one_line_and_the_history_can_still_be_read(with_history: tuple[Path, str],
                                                                           tmp_path: Path) -> None:
    workspace, thread = with_history
    disk = tmp_path / "disk"
    disk.mkdir()
    full = disk / "workspace"
    said = _in_own_mounts(f"mount -t tmpfs -o size=4m tmpfs {disk} && cp -a {workspace} {full} && "
                          f"(dd if=/dev/zero of={disk}/filler bs=64k 2>/dev/null; true) && "
                          f"{_chat(full, thread)} && {_chat(full, thread, '--read-only')}")
    refused, read = said.split("exit=1", 1)
    assert " ".join(refused.split()) == (f"error: workspace {full} is full: free space on its disk, then open it "
                                         "again (its history can be read with --read-only)")
    assert "segment_image" in read and "Traceback" not in said and read.strip().endswith("exit=0")
