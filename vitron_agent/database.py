"""Opening the workspace's SQLite files (artifact index, decision log, checkpoints) so that several processes
may open one workspace at the same moment.

Each file runs in WAL mode with ``synchronous = NORMAL``: a commit survives the process being killed, and
readers never wait for a writer. Switching a new file into WAL needs an exclusive lock, and when two
connections ask for it together SQLite answers one of them "database is locked" at once, without waiting
for the busy timeout (waiting could deadlock). So the switch is retried here until the timeout; every other
statement waits through SQLite's own busy handler.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Any

__all__ = ["connect", "sqlite_checkpointer"]

TIMEOUT_S = 30.0


def connect(path: str | Path, *, isolation_level: str | None = None) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode, usable from any thread (callers keep their own lock).

    ``isolation_level=None`` (the default) is autocommit, for callers that open their own transactions;
    pass ``""`` for Python's implicit transactions (what LangGraph's SqliteSaver expects).
    """
    connection = sqlite3.connect(path, timeout=TIMEOUT_S, isolation_level=isolation_level, check_same_thread=False)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                connection.close()
                raise
            time.sleep(random.uniform(0.005, 0.05))
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def sqlite_checkpointer(path: Path) -> Any:
    """The graph's default checkpointer: LangGraph's SqliteSaver on one of the workspace's SQLite files."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    return SqliteSaver(connect(path, isolation_level=""))
