"""The decision log: every approval, edit and rejection, with what was shown and what came of it.

Graph state already holds each thread's decisions; this log keeps them beside the artifacts, queryable across
threads, and is written by the node that acts on a decision, before it acts: an approval is on disk before its
tool starts, so no side-effecting tool ever runs without a recorded approval, and a tool that finished is
known to have finished even if the process died before the graph saved its checkpoint.

Usage::

    log = DecisionLog(workspace)
    log.record(thread_id, decision)                   # before running
    log.finish(decision["id"], "ok", artifacts, "")  # after
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vitron_agent import database

__all__ = ["DecisionLog"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    created   TEXT NOT NULL,
    decision  TEXT NOT NULL,
    outcome   TEXT,
    artifacts TEXT,
    message   TEXT,
    finished  TEXT
)
"""
_FIELDS = "thread_id, created, decision, outcome, artifacts, message, finished"


class DecisionLog:
    """Decisions and their outcomes in ``decisions.sqlite`` in the workspace.

    WAL mode with ``synchronous = NORMAL``: a commit survives the process being killed (what the crash tests
    check), and only an operating-system crash could lose the last ones. Thread-safe; several processes may
    write at once.
    """

    def __init__(self, workspace: str | Path) -> None:
        self.path = Path(workspace).expanduser().resolve() / "decisions.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = database.connect(self.path)
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, thread_id: str, decision: Mapping[str, Any]) -> dict[str, Any]:
        """Store a decision (it must have an ``id``) unless that id is already stored; return the stored entry,
        with its outcome if it has one."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO decisions (id, thread_id, created, decision) VALUES (?, ?, ?, ?)",
                (decision["id"], thread_id, _now(), json.dumps(dict(decision), default=str)),
            )
            row = self._db.execute(f"SELECT {_FIELDS} FROM decisions WHERE id = ?", (decision["id"],)).fetchone()
        return _entry(row)

    def finish(self, decision_id: str, outcome: str, artifacts: Sequence[str] = (), message: str = "") -> None:
        """Record what came of an approved decision: ``ok``, ``failed``, ``cancelled`` or ``interrupted``."""
        with self._lock:
            self._db.execute(
                "UPDATE decisions SET outcome = ?, artifacts = ?, message = ?, finished = ? WHERE id = ?",
                (outcome, json.dumps(list(artifacts)), message, _now(), decision_id),
            )

    def get(self, decision_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_FIELDS} FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        return _entry(row) if row else None

    def list(self, thread_id: str | None = None) -> list[dict[str, Any]]:
        """Every decision (of one thread, or all), oldest first, each with its outcome once known."""
        query = f"SELECT {_FIELDS} FROM decisions"
        with self._lock:
            if thread_id is None:
                rows = self._db.execute(query + " ORDER BY seq").fetchall()
            else:
                rows = self._db.execute(query + " WHERE thread_id = ? ORDER BY seq", (thread_id,)).fetchall()
        return [_entry(row) for row in rows]


def _entry(row: tuple) -> dict[str, Any]:
    thread_id, created, decision, outcome, artifacts, message, finished = row
    return {
        **json.loads(decision),
        "thread_id": thread_id,
        "recorded": created,
        "outcome": outcome,
        "artifacts": json.loads(artifacts) if artifacts else [],
        "message": message,
        "finished": finished,
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
