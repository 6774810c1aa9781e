"""Who a thread belongs to: the person who started it, and whether they share it.

A page with several logins shows, opens and answers a thread only for its owner, or for anyone once the owner
shares it (:class:`~vitron_agent.web.hub.WebHub`). The owner is recorded once, by the first writer: two tabs
starting the same thread id at once can't both own it. Threads started outside the page (the terminal, Python)
have no owner. On LangGraph's server a thread is the authenticated user's (``graphs/auth.py``), and a run may use
only artifacts made in that user's threads, or imported (:meth:`Owners.foreign`). The table lives beside the
decision log, in the same database (SQLite, or PostgreSQL's schema 3).

Usage::

    owners = Owners(database)
    owners.own("t1", "alice")            # "alice": the owner recorded (the first one wins)
    owners.of("t1")                      # Owner(thread="t1", owner="alice", shared=False, since=...)
    owners.share("t1", "alice", True)    # only its owner may
"""

from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

__all__ = ["OWNERS_SCHEMA", "NotTheOwner", "Owner", "Owners"]

OWNERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (
    thread_id TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    shared    INTEGER NOT NULL DEFAULT 0,
    since     TEXT NOT NULL
)
"""


class NotTheOwner(PermissionError):
    """Only a thread's owner may share it, or stop sharing it."""


class Owner(BaseModel):
    """A thread's owner, as recorded."""

    thread: str
    owner: str
    shared: bool = False
    since: str


class Owners:
    """Thread owners in the workspace's database (the decision log's)."""

    def __init__(self, database: Any, *, create: bool = True) -> None:
        self._db = database
        if create:
            with self._db.writing() as db:
                db.execute(OWNERS_SCHEMA)

    def own(self, thread: str, person: str) -> str:
        """Record ``person`` as the thread's owner unless it has one; the owner it has now."""
        with self._db.writing() as db:
            db.execute("INSERT INTO owners (thread_id, owner, shared, since) VALUES (?, ?, 0, ?) "
                       "ON CONFLICT DO NOTHING", (thread, person, datetime.now(timezone.utc).isoformat()))
            return db.execute("SELECT owner FROM owners WHERE thread_id = ?", (thread,)).fetchone()[0]

    def of(self, thread: str) -> Owner | None:
        """The thread's owner; None for a thread started outside the page."""
        with self._db.reading() as db:
            row = db.execute("SELECT thread_id, owner, shared, since FROM owners WHERE thread_id = ?",
                             (thread,)).fetchone()
        return None if row is None else Owner(thread=row[0], owner=row[1], shared=bool(row[2]), since=row[3])

    def of_artifact(self, artifact_id: str) -> Owner | None:
        """The owner of the thread whose step made ``artifact_id``; None for an import, or a thread of no one."""
        with self._db.reading() as db:
            quoted = artifact_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            row = db.execute("SELECT o.thread_id, o.owner, o.shared, o.since FROM decisions d JOIN owners o "
                             "ON o.thread_id = d.thread_id WHERE d.outcome = 'ok' AND d.artifacts LIKE ? ESCAPE '\\' "
                             "LIMIT 1", (f'%"{quoted}"%',)).fetchone()
        return None if row is None else Owner(thread=row[0], owner=row[1], shared=bool(row[2]), since=row[3])

    def foreign(self, person: str, thread: str, named: Iterable[Any]) -> str | None:
        """The first artifact ``named`` (ids, or a call's arguments holding them) that was made in a thread of
        someone other than ``person`` and not shared, as a sentence; None when ``person`` may use them all.
        Records ``person`` as ``thread``'s owner if it has none (a thread's first run on LangGraph's server)."""
        self.own(thread, person)
        for artifact_id in _strings(named):
            owner = self.of_artifact(artifact_id)
            if owner is not None and owner.owner != person and not owner.shared:
                return (f"artifact {artifact_id} was made in another person's thread, so it can't be used here; "
                        "attach a picture or video of your own")
        return None

    def share(self, thread: str, person: str, shared: bool) -> None:
        """Share the thread with everyone the page lets in, or stop sharing it.

        Raises:
            NotTheOwner: ``person`` does not own it.
        """
        with self._db.writing() as db:
            changed = db.execute("UPDATE owners SET shared = ? WHERE thread_id = ? AND owner = ?",
                                 (int(shared), thread, person)).rowcount
        if not changed:
            raise NotTheOwner(f"only the owner of thread {thread} may share it")


def _strings(values: Any) -> Iterator[str]:
    """Every string in ``values``, through lists and mappings (an artifact id may sit anywhere in a call)."""
    if isinstance(values, str):
        yield values
    elif isinstance(values, Mapping):
        for value in values.values():
            yield from _strings(value)
    elif isinstance(values, (list, tuple)):
        for value in values:
            yield from _strings(value)
