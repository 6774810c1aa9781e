"""Several processes opening one fresh workspace at the same instant: each of the three SQLite files is
switched into WAL mode by whichever process comes first, and none of the others may fail on it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vitron_agent import database

OPEN_ALL = """
import sys, time
from pathlib import Path
from vitron_agent.artifacts import ArtifactStore
from vitron_agent.decisions import DecisionLog
from vitron_agent.database import sqlite_checkpointer
workspace, start = Path(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    pass
DecisionLog(workspace)
ArtifactStore(workspace)
sqlite_checkpointer(workspace / "checkpoints.sqlite").setup()
print("OPENED")
"""


def test_a_connection_is_in_wal_mode(tmp_path: Path) -> None:
    connection = database.connect(tmp_path / "a.sqlite")
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert connection.isolation_level is None


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        database.connect(tmp_path / "no-such-folder" / "a.sqlite")


@pytest.mark.slow
def test_four_processes_open_one_new_workspace_at_once(tmp_path: Path) -> None:
    for round_ in range(4):  # before the retry, about one process in seven failed here
        workspace = tmp_path / f"workspace-{round_}"
        start = time.time() + 2.5  # after every child has imported
        children = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_ALL, str(workspace), str(start)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(4)
        ]
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0 and out.strip() == "OPENED", err
        for name in ("decisions.sqlite", "artifacts/index.sqlite", "checkpoints.sqlite"):
            with sqlite3.connect(workspace / name) as connection:
                assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",), name
