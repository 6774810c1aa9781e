"""Who runs an approved call: the claim a process takes in the decision log before a tool runs, and whether its
claimer still lives.

A claim is one conditional ``UPDATE`` in the log (:meth:`~vitron_agent.decisions.DecisionLog.claim`): of two
processes approving the same decision at the same instant, exactly one wins and runs the tool; the other is told
who approved it and when. The claimer is named ``host:pid:run``; a run registers itself here while its tool runs,
so recovery can tell a claim whose process died (or whose run was abandoned, as after a second Ctrl-C) from one
still at work in this process or another.

Usage::

    with running() as claimer:
        won, entry = log.claim(entry_id, claimer)
        if won:
            tool.run(...)
    if claim_is_stale(entry.claimed_by):
        log.finish(entry.id, "interrupted", (), "...")
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["claim_is_stale", "describe_claimer", "running"]

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


def claim_is_stale(claimer: str | None) -> bool:
    """Whether a claim's run can no longer finish: its process is gone, or it is this process and the run is not
    going on any more. A claim from another machine is never taken for stale here."""
    if not claimer:
        return True
    host, _, rest = claimer.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _LOCK:
            return claimer not in _RUNS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


def describe_claimer(claimer: str | None) -> str:
    """``process 1234 on host`` for people; empty when the claimer is not a run (a proposal's approver)."""
    parts = (claimer or "").split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return ""
    return f"process {parts[1]} on {parts[0]}"
