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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["SqliteDatabase", "connect", "connect_read_only", "sqlite_checkpointer"]

TIMEOUT_S = 30.0


def connect(path: str | Path, *, isolation_level: str | None = None, read_only: bool = False) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode, usable from any thread (callers keep their own lock).

    ``isolation_level=None`` (the default) is autocommit, for callers that open their own transactions;
    pass ``""`` for Python's implicit transactions (what LangGraph's SqliteSaver expects). ``read_only`` opens an
    existing file for reading only (see :func:`connect_read_only`).
    """
    if read_only:
        return connect_read_only(path, isolation_level=isolation_level)
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


def connect_read_only(path: str | Path, *, isolation_level: str | None = None) -> sqlite3.Connection:
    """An existing SQLite file opened for reading only: what ``--read-only`` uses on a workspace that is on a
    read-only disk, or whose disk is full.

    Reading a WAL file needs its shared-memory file; where that can't be created (a read-only disk after the
    last writer closed cleanly) the file is opened as immutable, which is true of it while nothing can write.

    Raises:
        sqlite3.OperationalError: the file is missing or unreadable.
    """
    target = Path(path)
    if not target.is_file():
        raise sqlite3.OperationalError(f"{target.name} is missing")
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        connection = sqlite3.connect(f"{target.as_uri()}?{flags}", uri=True, timeout=TIMEOUT_S,
                                     isolation_level=isolation_level, check_same_thread=False)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return connection
        except sqlite3.OperationalError:
            connection.close()
            if "immutable" in flags:
                raise
    raise AssertionError("unreachable")


def sqlite_checkpointer(path: Path, *, read_only: bool = False) -> Any:
    """The graph's default checkpointer: LangGraph's SqliteSaver on one of the workspace's SQLite files, set up
    now, so a disk that is full or read-only is found when the workspace opens, not in the middle of a turn."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    saver = SqliteSaver(connect(path, isolation_level="", read_only=read_only))
    saver.setup()  # on a read-only file LangGraph only reads, when its tables are there
    return saver


class SqliteDatabase:
    """One SQLite file as the decision log's or the artifact index's database: the same small interface as
    :class:`~vitron_agent.postgres.PostgresDatabase`, so their statements are written once.

    ``writing`` is one ``BEGIN IMMEDIATE`` transaction (rolled back on any error); ``reading`` runs statements as
    they come. Both hold a lock, since the connection is shared by the process's threads.
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.connection = connect_read_only(path) if read_only else connect(path)
        self._lock = threading.Lock()

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
                self.connection.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:  # a failed COMMIT (a full disk) leaves it open
                    self.connection.execute("ROLLBACK")
                raise

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.connection

    def tables(self) -> set[str]:
        with self.reading() as db:
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def close(self) -> None:
        with self._lock:
            self.connection.close()
