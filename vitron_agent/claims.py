"""Who runs an approved call: the claim a process takes in the decision log before a tool runs, the lease that
keeps it while the tool runs, and whether a claim can still finish.

A claim is one conditional ``UPDATE`` in the log (:meth:`~vitron_agent.decisions.DecisionLog.claim`): of two
processes approving the same decision at the same instant, exactly one wins and runs the tool; the other is told
who approved it and when. The claimer is named ``host:pid:run``. Every claim holds a lease (``[limits]
claim_lease_s``, 30 s by default): while its run lasts, one heartbeat thread per process renews the leases of
all the claims it holds (:func:`holding`), however slow the tool. A claim whose lease has lapsed belongs to a run
that stopped (killed, on this machine or another, or cut off from the database), so any process that opens the
thread may offer the step again; a reused process id can't make a dead claim look alive.

Usage::

    with running() as claimer:
        won, entry = log.claim(entry_id, claimer)
        if won:
            with holding(log, entry_id, claimer):
                tool.run(...)
    if claim_is_stale(entry):
        log.interrupt(entry, "...")
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

__all__ = ["claim_is_stale", "describe_claimer", "holding", "running"]

_HOST = socket.gethostname()
_RUNS: set[str] = set()
_LOCK = threading.Lock()


@contextmanager
def running() -> Iterator[str]:
    """A claimer name for one run of one tool in this process, registered as running while the block lasts."""
    claimer = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    with _LOCK:
        _RUNS.add(claimer)
    try:
        yield claimer
    finally:
        with _LOCK:
            _RUNS.discard(claimer)


@contextmanager
def holding(log: Any, decision_id: str, claimer: str) -> Iterator[None]:
    """Keep the lease of a claim this process won while the block lasts (the run of its tool)."""
    _HEARTBEAT.add(log, decision_id, claimer)
    try:
        yield
    finally:
        _HEARTBEAT.discard(decision_id, claimer)


def claim_is_stale(entry: Any) -> bool:
    """Whether a claim (a :class:`~vitron_agent.decisions.LogEntry` as the log holds it) can no longer finish:
    it is this process's and its run is over, its process is gone from this machine, or its lease has lapsed (a
    process on another machine, or one whose id a new process reuses, can only hold it while it renews it).
    A claim written before leases, from another machine, is never taken for stale."""
    claimer = getattr(entry, "claimed_by", None)
    if not claimer:
        return True
    host, _, rest = claimer.partition(":")
    pid_text = rest.partition(":")[0]
    if host == _HOST and pid_text == str(os.getpid()):
        with _LOCK:
            return claimer not in _RUNS
    if host == _HOST and pid_text.isdigit() and not _alive(int(pid_text)):
        return True
    lease_until = getattr(entry, "lease_until", None)
    return bool(lease_until) and datetime.now(timezone.utc) > datetime.fromisoformat(lease_until)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def describe_claimer(claimer: str | None) -> str:
    """``process 1234 on host`` for people; empty when the claimer is not a run (a proposal's approver)."""
    parts = (claimer or "").split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return ""
    return f"process {parts[1]} on {parts[0]}"


class _Heartbeat:
    """One daemon thread per process renewing every held claim, a third of the shortest lease apart: holding a
    claim costs a dict entry, not a thread or a write."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], Any] = {}
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, log: Any, decision_id: str, claimer: str) -> None:
        with self._guard:
            self._held[(decision_id, claimer)] = log
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, name="vitron-claim-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, decision_id: str, claimer: str) -> None:
        with self._guard:
            self._held.pop((decision_id, claimer), None)

    def _beat(self) -> None:
        while True:
            with self._guard:
                held = dict(self._held)
            if held:
                self._renew(held)
            interval = min((log.lease_s for log in held.values()), default=30.0) / 3
            self._wake.wait(max(0.2, interval))

    @staticmethod
    def _renew(held: dict[tuple[str, str], Any]) -> None:
        by_log: dict[int, tuple[Any, list[tuple[str, str]]]] = {}
        for claim, log in held.items():
            by_log.setdefault(id(log), (log, []))[1].append(claim)
        for log, claims in by_log.values():
            try:
                log.renew(claims)
            except Exception:  # the database away for a moment: the next beat tries again, within the lease
                continue


_HEARTBEAT = _Heartbeat()
