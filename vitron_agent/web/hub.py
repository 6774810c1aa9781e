"""What every tab of one web server shares: the workspace (its store, decision log and one model manager, so a
model loads once for everyone), the planner and the tools, and one :class:`~vitron_agent.session.Session` per
thread, each with a lock.

The page never speaks to the graph: every action is a session call made through :meth:`WebHub.act` (a request) or
:meth:`WebHub.answer` (an answer to what the thread waits on). ``answer`` only goes ahead when the decision or
choice the tab *shows* is still the one waiting (:func:`shown_as`): two tabs on one thread see the same waiting
decision, the first answer wins, and the second is told why nothing happened instead of approving a decision its
person never saw (say, one the other tab just edited). A thread busy with one call refuses a second at once
(a second click on Approve while the tool runs), rather than queueing it to run after.

Usage::

    hub = WebHub(Workspace("ws"), RulePlanner())
    turn = hub.act(None, lambda session: session.send("segment the motorcycle", ["photo.jpg"]))
    hub.answer(turn.thread, shown_as(turn.turn), lambda session: session.approve(shown_as(turn.turn)))
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitron_agent.artifacts import Artifact
from vitron_agent.media import MediaError
from vitron_agent.planners.base import Planner
from vitron_agent.session import Session, SessionError, Turn
from vitron_agent.tools import load_tools
from vitron_agent.workspace import Workspace

__all__ = ["KEPT_SESSIONS", "UPLOAD_AGE_S", "UPLOAD_LIMIT", "UPLOAD_TOTAL", "Acted", "WebHub", "shown_as"]

UPLOAD_AGE_S = 3600
"""How long Gradio keeps an uploaded file (imported into the store by then, or never used): any upload, even one
sent straight to its upload route, is deleted once this old (Gradio's ``delete_cache``)."""
KEPT_SESSIONS = 16
"""Threads whose session (its compiled graph) the server keeps open; past that the least recently used idle one
is let go (reopened from the workspace when a tab comes back to it)."""

UPLOAD_TOTAL = 2**30
"""The most one tab may upload in all (the files imported into the store); past it an upload is refused."""
UPLOAD_LIMIT = 200 * 2**20
"""The largest file the page accepts (Gradio's ``max_file_size``, and checked again here): a photo's limit in
:class:`~vitron_agent.media.MediaLimits`. Longer videos go through the terminal or Python, up to 2 GiB."""
BUSY = ("this thread is busy with another call (a tool running, from this tab or another); wait for it to finish, "
        "or press Stop")
NOT_YOURS = ("there is no thread {thread} here that you can open: the list shows your threads and the ones "
             "shared with you")
CHANGED = ("what waits in this thread changed (answered or edited in another tab); the page now shows what waits, "
           "and nothing was run")


@dataclass(frozen=True)
class Acted:
    """A session call's result, with the thread it happened on."""

    thread: str
    turn: Turn | None


def shown_as(turn: Turn | None) -> str:
    """A fingerprint of what a turn waits on (the decision's own :attr:`~vitron_agent.decisions.Decision.fingerprint`,
    or the choice with its candidates); empty when nothing waits. A tab sends back the fingerprint of what it
    shows with each answer, and the session binds a decision's answer to it, in every process."""
    if turn is None or (turn.pending is None and turn.choice is None):
        return ""
    if turn.pending is not None:
        return turn.pending.fingerprint
    return hashlib.sha256(turn.choice.model_dump_json().encode()).hexdigest()[:16]  # type: ignore[union-attr]


class WebHub:
    """Sessions by thread over one workspace, shared by every browser tab of the server.

    Args:
        workspace: the opened workspace (its model manager is the one every session loads through).
        planner: the planner every thread uses.
        policy: the policy a thread starts with (the page may switch it per thread).
        logins: the people the page lets in. With two or more, each thread is its owner's (the login that
            started it): the others neither see, open nor answer it unless its owner shares it; threads started
            outside the page belong to no one and are not shown. With one login or none the page is one
            person's, and every thread is theirs.
    """

    def __init__(self, workspace: Workspace, planner: Planner, *, policy: Any = "ask",
                 upload_limit: int = UPLOAD_LIMIT, kept_sessions: int = KEPT_SESSIONS,
                 upload_age_s: int = UPLOAD_AGE_S, upload_total: int = UPLOAD_TOTAL,
                 logins: Sequence[str] = ()) -> None:
        self.workspace, self.planner, self.policy = workspace, planner, policy
        self.upload_limit, self.kept_sessions, self.upload_age_s = upload_limit, kept_sessions, upload_age_s
        self.upload_total, self.logins = upload_total, tuple(logins)
        self.tools = load_tools()
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._lobby: Session | None = None
        self.starting: list[str] = []
        """artifacts named on the command line: a new tab starts with them attached"""

    @property
    def store(self) -> Any:
        return self.workspace.store

    def session(self, thread: str | None = None, person: str | None = None) -> Session:
        """The session of ``thread`` (one per thread for the whole server); a new thread when None, owned by
        ``person``.

        Raises:
            SessionError: the thread is not ``person``'s to open.
        """
        return self._opened(thread, person)[0]

    def may_open(self, thread: str, person: str | None) -> bool:
        """Whether ``person`` (a login) may see, open and answer ``thread`` (see ``logins``)."""
        if len(self.logins) <= 1:
            return True
        owner = self.workspace.log.owners.of(thread)
        return owner is not None and (owner.owner == person or owner.shared)

    def share(self, thread: str, person: str | None, shared: bool) -> None:
        """Share ``person``'s thread with everyone the page lets in (or stop).

        Raises:
            NotTheOwner: the thread is not theirs.
        """
        self.workspace.log.owners.share(thread, person or "", shared)

    def _opened(self, thread: str | None, person: str | None) -> tuple[Session, threading.Lock]:
        """The thread's session and its lock, taken together under the guard (so neither is let go between);
        refused when it is not ``person``'s to open; a new thread is theirs."""
        if thread and not self.may_open(thread, person):
            raise SessionError(NOT_YOURS.format(thread=thread))
        with self._guard:
            if thread and thread in self._sessions:
                self._sessions.move_to_end(thread)
                return self._sessions[thread], self._locks[thread]
            session = Session(self.workspace, self.planner, policy=self.policy, thread_id=thread or None,
                              tools=self.tools.values())
            if not thread and person:
                self.workspace.log.owners.own(session.thread_id, person)
            self._sessions[session.thread_id] = session
            self._locks[session.thread_id] = lock = threading.Lock()
            self._let_go()
            return session, lock

    def _let_go(self) -> None:
        """Past :data:`KEPT_SESSIONS`, drop the least recently used sessions that no call holds (under the
        guard); a thread's state is in the workspace, so nothing is lost."""
        for thread in list(self._sessions)[:max(0, len(self._sessions) - self.kept_sessions)]:
            if not self._locks[thread].locked():
                del self._sessions[thread], self._locks[thread]

    def adopt(self, session: Session, person: str | None = None) -> Session:
        """Register a session made from another (a fork) as its thread's session, ``person``'s thread."""
        if person:
            self.workspace.log.owners.own(session.thread_id, person)
        with self._guard:
            self._sessions.setdefault(session.thread_id, session)
            self._locks.setdefault(session.thread_id, threading.Lock())
            self._let_go()
            return self._sessions.get(session.thread_id, session)

    def lister(self) -> Session:
        """A session that only reads the workspace's threads (never registered, never written to)."""
        with self._guard:
            if self._lobby is None:
                self._lobby = Session(self.workspace, self.planner, tools=self.tools.values())
            return self._lobby

    def threads(self, person: str | None = None, limit: int = 30) -> list[str]:
        """The workspace's threads ``person`` may open, most recently written first (the ones ``chat --resume``
        continues)."""
        return [thread for thread in self.lister().threads() if self.may_open(thread, person)][:limit]

    @contextmanager
    def holding(self, thread: str | None, person: str | None = None) -> Iterator[Session]:
        """The thread's session, held for one call by ``person`` (who its answers are recorded as); refused at
        once while another call holds it.

        Raises:
            SessionError: the thread is busy, or not ``person``'s to open.
        """
        session, lock = self._opened(thread, person)
        if not lock.acquire(blocking=False):
            raise SessionError(BUSY)
        session.person = person or "person"
        try:
            yield session
        finally:
            lock.release()

    def act(self, thread: str | None, call: Callable[[Session], Turn | None],
            progress: Callable[[dict[str, Any]], None] | None = None, *, shown: str | None = None,
            person: str | None = None) -> Acted:
        """Make one session call on the thread (a new one when None) as ``person``, reporting the tools'
        progress; with ``shown`` (an answer), only if what waits is still what the tab shows (see
        :func:`shown_as`).

        Raises:
            SessionError: the thread is busy or not theirs, or what waits changed since the tab showed it.
        """
        with self.holding(thread, person) as session:
            if shown is not None and shown_as(session.waiting()) != shown:
                raise SessionError(CHANGED)
            session.on_progress = progress
            try:
                return Acted(session.thread_id, call(session))
            finally:
                session.on_progress = None

    def answer(self, thread: str, shown: str, call: Callable[[Session], Turn | None],
               progress: Callable[[dict[str, Any]], None] | None = None, person: str | None = None) -> Acted:
        """Answer what the thread waits on, only if it is still what the tab shows (``shown``, see
        :func:`shown_as`).

        Raises:
            SessionError: nothing waits (a tab with no thread yet), the thread is busy, or what waits changed since
                the tab showed it.
        """
        if not thread:
            raise SessionError("nothing is waiting for a decision or a choice; send a request first")
        return self.act(thread, call, progress, shown=shown, person=person)

    def cancel(self, thread: str | None, person: str | None = None) -> bool:
        """Ask the thread's running tool to stop at its next check; False when nothing of it is open here (or
        it is not ``person``'s)."""
        session = self._sessions.get(thread or "")
        if session is None or not self.may_open(session.thread_id, person):
            return False
        session.cancel()
        return True

    def import_upload(self, path: str | os.PathLike[str], counted: int = 0) -> Artifact:
        """An uploaded file into the store, within the upload limit, the total a tab may upload (``counted``
        bytes are in already) and the media limits (decoded and checked before anything uses it); Gradio's own
        copy of the upload is the only file read.

        Raises:
            MediaError: too large, past the tab's total, not media, or over a media limit (nothing stored).
        """
        source = Path(path)
        try:
            size = source.stat().st_size
        except OSError:
            raise MediaError(source.name, "is no longer on the server (uploads are kept an hour); upload it "
                                          "again") from None
        if size > self.upload_limit:
            raise MediaError(source.name, f"is {size / 2**20:.1f} MiB, over the page's upload limit of "
                                          f"{self.upload_limit / 2**20:.0f} MiB")
        if counted + size > self.upload_total:
            raise MediaError(source.name, f"would bring this tab's uploads to {(counted + size) / 2**20:.0f} MiB, "
                                          f"over the {self.upload_total / 2**20:.0f} MiB one tab may upload")
        try:
            return self.store.import_file(source, grant=True)
        except MediaError as error:  # named as the person named it, not by Gradio's copy in its cache
            raise MediaError(source.name, error.reason) from None
