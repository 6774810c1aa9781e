"""Shared storage on a real PostgreSQL server and a real S3 endpoint (moto's server), both on 127.0.0.1.

The setting (environment over ``vitron.toml``, passwords never shown); the index, log and checkpoints in
PostgreSQL with a versioned schema; one line when the database is down at start, and a thread that goes on after
it went away mid-step; a decision made by the web server's hub on one machine approved from the terminal on
another (another workspace folder, so another cache, on the same storage).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

from vitron_agent import postgres as postgres_module  # the module; `postgres` is the test server fixture
from vitron_agent.decisions import LogEntry
from vitron_agent.local_services import free_port
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session
from vitron_agent.storage import Storage, StorageUnavailable, redacted
from vitron_agent.workspace import Workspace

from conftest import GRAY, PHOTO, ROOT, configure, share
from support_tools import RUNS_FILE, Grayscale

SCRIPT = Path(sys.executable).parent / "vitron-agent"
MOTORCYCLE = ROOT / "examples" / "media" / "motorcycle.jpg"


def cli(workspace: Path, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args, "--workspace", str(workspace)], cwd=ROOT, capture_output=True,
                          check=False, text=True, timeout=300,
                          env={**os.environ, "VITRON_SEGMENTATION_BACKEND": "classic", **environment})


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, (result.returncode, lines)
    assert "Traceback" not in lines[0] and "Error:" not in lines[0]
    return lines[0]


# -- the setting ---------------------------------------------------------------------------------------------------


def test_the_environment_wins_over_vitron_toml_and_passwords_are_never_shown(workspace: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    configure(workspace, '[storage]\ndatabase = "postgresql://a@db/x"\nblobs = "s3://bucket/p"\n')
    assert Storage.of(workspace) == Storage(database="postgresql://a@db/x", blobs="s3://bucket/p")
    monkeypatch.setenv("VITRON_DATABASE_URL", "postgresql://b:secret@db:5433/y")
    assert Storage.of(workspace).database == "postgresql://b:secret@db:5433/y"
    assert redacted("postgresql://b:secret@db:5433/y") == "postgresql://b@db:5433/y"
    assert Storage.of(workspace).remote_blobs
    monkeypatch.setenv("VITRON_BLOBS_URL", str(workspace / "shared"))
    assert Storage.of(workspace).blob_folder == workspace / "shared"
    monkeypatch.setenv("VITRON_DATABASE_URL", "mysql://b:secret@db/y")
    with pytest.raises(ValueError, match="not a postgresql:// URL") as refused:
        Storage.of(workspace)
    assert "secret" not in str(refused.value)


def test_without_a_setting_nothing_changes(workspace: Path) -> None:
    opened = Workspace(workspace)
    assert opened.database is None and (workspace / "decisions.sqlite").is_file()
    assert opened.store.files == workspace / "artifacts"


# -- PostgreSQL ------------------------------------------------------------------------------------------------------


def test_index_and_log_in_postgres(tmp_path: Path, postgres: Any, s3: Any) -> None:
    opened = Workspace(share(tmp_path / "ws", postgres, s3))
    store, log = opened.store, opened.log
    photo = store.import_file(PHOTO, grant=True)
    mask = store.add(b"mask", kind="mask", suffix=".png", parents=[photo.id], call={"tool": "t", "run": "r1"})
    again = store.add(b"mask", kind="mask", suffix=".png", parents=[photo.id], call={"tool": "t", "run": "r1"})
    assert again == mask and [a.id for a in store.lineage(mask.id)] == [photo.id]
    assert [a.id for a in store.of_run("r1")] == [mask.id] and [a.id for a in store.list("image")] == [photo.id]
    assert store.set_aside("r1", "failed") == (mask.id,) and store.get(mask.id).unfinished == "failed"
    entry = LogEntry(id="d1", tool="t", action="approve", by="person")
    assert log.record("thread-a", entry).outcome is None
    assert log.claim("d1", "host:1:a")[0] and not log.claim("d1", "host:2:b")[0]
    log.finish("d1", "ok", [mask.id], "done")
    assert [(e.id, e.outcome, e.artifacts) for e in log.list("thread-a")] == [("d1", "ok", [mask.id])]
    with opened.database.reading() as db:
        assert db.execute("SELECT version FROM vitron_schema ORDER BY version").fetchall() == \
            [(version,) for version in range(1, postgres_module.SCHEMA_VERSION + 1)]
    opened.close()



def test_first_use_by_several_processes_at_once_migrates_once(postgres: Any, tmp_path: Path) -> None:
    url = postgres.create_database()
    opened: list[Any] = []

    def open_it() -> None:
        opened.append(postgres_module.open_postgres(url))

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 4
    with opened[0].reading() as db:
        assert db.execute("SELECT count(*) FROM vitron_schema").fetchone() == (postgres_module.SCHEMA_VERSION,)
    for database in opened:
        database.close()


def test_a_schema_from_a_newer_version_is_refused(postgres: Any) -> None:
    url = postgres.create_database()
    postgres_module.open_postgres(url).close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("INSERT INTO vitron_schema (version) VALUES (99)")
    with pytest.raises(StorageUnavailable, match="set up by a newer vitron-agent .schema 99; this one knows up to 3"):
        postgres_module.open_postgres(url)


def test_the_database_down_at_start_is_one_line_without_the_password(workspace: Path) -> None:
    url = f"postgresql://vitron:hunter2@127.0.0.1:{free_port()}/vitron"
    said = one_line(cli(workspace, "run", "segment the motorcycle", str(MOTORCYCLE), "--yes",
                        VITRON_DATABASE_URL=url))
    assert f"the database at postgresql://vitron@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/vitron" in said
    assert "can't be reached" in said and "hunter2" not in said


def test_a_step_cut_off_by_the_database_going_away_fails_clearly_and_the_thread_goes_on(
        tmp_path: Path, postgres: Any, s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_module, "WAIT_S", 1.0)
    monkeypatch.setenv("GRAYSCALE_DELAY", "0.5")
    workspace = share(tmp_path / "ws", postgres, s3)
    session = Session(workspace, ScriptedPlanner([GRAY]), tools=[Grayscale], import_roots=[ROOT])
    session.send("make it gray", attachments=[PHOTO])
    failed: list[BaseException] = []

    def approve() -> None:
        try:
            session.approve()
        except BaseException as error:  # noqa: BLE001  (what the person would be shown)
            failed.append(error)

    running = threading.Thread(target=approve)
    running.start()
    time.sleep(0.6)  # the tool is at work (four steps of 0.5 s)
    postgres.stop()
    running.join(timeout=60)
    try:
        assert len(failed) == 1 and isinstance(failed[0], StorageUnavailable), failed
        assert "can't be reached" in str(failed[0]) and "when it is back" in str(failed[0])
        with pytest.raises(StorageUnavailable):  # still down: the same sentence, nothing else
            session.pending  # noqa: B018
    finally:
        postgres.start()
    monkeypatch.setenv("GRAYSCALE_DELAY", "0")
    decision = when_back(lambda: session.pending)  # back: the step cut off is offered again
    assert decision is not None and decision.tool == "grayscale"
    assert session.approve().text == "Grayed the photo."
    outcomes = [e.outcome for e in session.history()]
    assert outcomes == ["interrupted", "ok"], outcomes
    assert len((workspace / RUNS_FILE).read_text().splitlines()) == 2


def when_back(ask: Any) -> Any:
    """What ``ask`` answers once the pool has reconnected (its retries back off for a few seconds)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return ask()
        except StorageUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_decision_made_on_the_web_server_is_approved_from_the_terminal_on_another_machine(
        tmp_path: Path, postgres: Any, s3: Any) -> None:
    from vitron_agent.web.server import open_hub

    here = share(tmp_path / "web-server", postgres, s3)
    there = tmp_path / "terminal"  # another machine: its own folder, so its own cache, on the same storage
    there.mkdir()
    configure(there, (here / "vitron.toml").read_text())
    os.environ["VITRON_SEGMENTATION_BACKEND"] = "classic"
    try:
        hub = open_hub(here, "rules", media=[MOTORCYCLE])
        acted = hub.act(None, lambda s: s.send("segment the motorcycle [60, 90, 580, 380]",
                                               attachments=[hub.store.get(hub.starting[0])]))
    finally:
        os.environ.pop("VITRON_SEGMENTATION_BACKEND")
    assert acted.turn.pending is not None and acted.turn.pending.tool == "segment_image"

    terminal = pexpect.spawn(str(SCRIPT), ["chat", "--workspace", str(there), "--resume", acted.thread],
                             cwd=str(ROOT), env={**os.environ, "TERM": "xterm", "NO_COLOR": "1", "COLUMNS": "200",
                                                 "VITRON_SEGMENTATION_BACKEND": "classic"},
                             encoding="utf-8", timeout=90, dimensions=(50, 200))
    terminal.expect("decide> ")
    terminal.sendline("")
    terminal.expect("you> ")
    assert "Segmented 'motorcycle' with classic" in terminal.before
    terminal.sendline("/quit")
    terminal.expect(pexpect.EOF)

    back = hub.session(acted.thread)
    assert back.history()[-1].outcome == "ok"
    mask = next(a for a in back.artifacts() if a.kind == "mask")
    assert not mask.path.exists()  # made on the other machine: in its cache and the bucket, not here yet
    assert back.store.local_path(mask) == mask.path and mask.path.is_file()
    hub.workspace.close()
