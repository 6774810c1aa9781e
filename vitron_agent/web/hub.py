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
    hub.answer(turn.thread, shown_as(turn.turn), lambda session: session.approve())
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
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

__all__ = ["UPLOAD_LIMIT", "Acted", "WebHub", "shown_as"]

UPLOAD_LIMIT = 200 * 2**20
"""The largest file the page accepts (Gradio's ``max_file_size``, and checked again here): a photo's limit in
:class:`~vitron_agent.media.MediaLimits`. Longer videos go through the terminal or Python, up to 2 GiB."""
BUSY = ("this thread is busy with another call (a tool running, from this tab or another); wait for it to finish, "
        "or press Stop")
CHANGED = ("what waits in this thread changed (answered or edited in another tab); the page now shows what waits, "
           "and nothing was run")


@dataclass(frozen=True)
class Acted:
    """A session call's result, with the thread it happened on."""

    thread: str
    turn: Turn | None


def shown_as(turn: Turn | None) -> str:
    """A fingerprint of what a turn waits on (the decision with its arguments, or the choice with its candidates);
    empty when nothing waits. A tab sends back the fingerprint of what it shows with each answer."""
    if turn is None or (turn.pending is None and turn.choice is None):
        return ""
    waiting = turn.pending.model_dump_json() if turn.pending is not None else turn.choice.model_dump_json()  # type: ignore[union-attr]
    return hashlib.sha256(waiting.encode()).hexdigest()[:16]


class WebHub:
    """Sessions by thread over one workspace, shared by every browser tab of the server.

    Args:
        workspace: the opened workspace (its model manager is the one every session loads through).
        planner: the planner every thread uses.
        policy: the policy a thread starts with (the page may switch it per thread).
    """

    def __init__(self, workspace: Workspace, planner: Planner, *, policy: Any = "ask",
                 upload_limit: int = UPLOAD_LIMIT) -> None:
        self.workspace, self.planner, self.policy = workspace, planner, policy
        self.upload_limit = upload_limit
        self.tools = load_tools()
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._lobby: Session | None = None
        self.starting: list[str] = []
        """artifacts named on the command line: a new tab starts with them attached"""

    @property
    def store(self) -> Any:
        return self.workspace.store

    def session(self, thread: str | None = None) -> Session:
        """The session of ``thread`` (one per thread for the whole server); a new thread when None."""
        with self._guard:
            if thread and thread in self._sessions:
                return self._sessions[thread]
            session = Session(self.workspace, self.planner, policy=self.policy, thread_id=thread or None,
                              tools=self.tools.values())
            self._sessions[session.thread_id] = session
            self._locks[session.thread_id] = threading.Lock()
            return session

    def adopt(self, session: Session) -> Session:
        """Register a session made from another (a fork) as its thread's session."""
        with self._guard:
            self._sessions.setdefault(session.thread_id, session)
            self._locks.setdefault(session.thread_id, threading.Lock())
            return self._sessions[session.thread_id]

    def lister(self) -> Session:
        """A session that only reads the workspace's threads (never registered, never written to)."""
        with self._guard:
            if self._lobby is None:
                self._lobby = Session(self.workspace, self.planner, tools=self.tools.values())
            return self._lobby

    def threads(self, limit: int = 30) -> list[str]:
        """The workspace's threads, most recently written first (the ones ``chat --resume`` continues)."""
        return self.lister().threads()[:limit]

    @contextmanager
    def holding(self, thread: str | None) -> Iterator[Session]:
        """The thread's session, held for one call; refused at once while another call holds it.

        Raises:
            SessionError: the thread is busy.
        """
        session = self.session(thread)
        lock = self._locks[session.thread_id]
        if not lock.acquire(blocking=False):
            raise SessionError(BUSY)
        try:
            yield session
        finally:
            lock.release()

    def act(self, thread: str | None, call: Callable[[Session], Turn | None],
            progress: Callable[[dict[str, Any]], None] | None = None, *, shown: str | None = None) -> Acted:
        """Make one session call on the thread (a new one when None), reporting the tools' progress; with
        ``shown`` (an answer), only if what waits is still what the tab shows (see :func:`shown_as`).

        Raises:
            SessionError: the thread is busy, or what waits changed since the tab showed it.
        """
        with self.holding(thread) as session:
            if shown is not None and shown_as(session.waiting()) != shown:
                raise SessionError(CHANGED)
            session.on_progress = progress
            try:
                return Acted(session.thread_id, call(session))
            finally:
                session.on_progress = None

    def answer(self, thread: str, shown: str, call: Callable[[Session], Turn | None],
               progress: Callable[[dict[str, Any]], None] | None = None) -> Acted:
        """Answer what the thread waits on, only if it is still what the tab shows (``shown``, see
        :func:`shown_as`).

        Raises:
            SessionError: nothing waits (a tab with no thread yet), the thread is busy, or what waits changed since
                the tab showed it.
        """
        if not thread:
            raise SessionError("nothing is waiting for a decision or a choice; send a request first")
        return self.act(thread, call, progress, shown=shown)

    def cancel(self, thread: str | None) -> bool:
        """Ask the thread's running tool to stop at its next check; False when nothing of it is open here."""
        session = self._sessions.get(thread or "")
        if session is None:
            return False
        session.cancel()
        return True

    def import_upload(self, path: str | os.PathLike[str]) -> Artifact:
        """An uploaded file into the store, within the upload limit and the media limits (decoded and checked
        before anything uses it); Gradio's own copy of the upload is the only file read.

        Raises:
            MediaError: too large, not media, or over a media limit (nothing stored).
        """
        source = Path(path)
        size = source.stat().st_size
        if size > self.upload_limit:
            raise MediaError(source.name, f"is {size / 2**20:.1f} MiB, over the page's upload limit of "
                                          f"{self.upload_limit / 2**20:.0f} MiB")
        try:
            return self.store.import_file(source, grant=True)
        except MediaError as error:  # named as the person named it, not by Gradio's copy in its cache
            raise MediaError(source.name, error.reason) from None
