"""Decisions: what the person is shown before anything runs, how they answer, and the log of what was decided.

- :class:`Decision` is what the review shows, built once by the graph: the plan's steps (tool, module, typed
  arguments, summary, preview, what runs, whether it can run here), which steps are asking, the policy, and why
  the last answer was refused. The review's LangGraph interrupt carries it as JSON beside LangChain's
  human-in-the-loop fields (``action_requests``, ``review_configs``), so LangChain front ends can drive it.
- Each decision has a :attr:`~Decision.fingerprint` of what would run; an answer carries the fingerprint its
  person saw (:mod:`vitron_agent.answers`), and only the first answer to one showing of a decision counts
  (:meth:`DecisionLog.answer`).
- :class:`DecisionLog` keeps every decision as a :class:`LogEntry` beside the artifacts, queryable across
  threads, written by the node that acts on a decision before it acts: an approval is on disk before its tool
  starts, so no side-effecting tool ever runs without a recorded approval, and a tool that finished is known to
  have finished even if the process died before the graph saved its checkpoint.

Usage::

    decision = Decision.from_interrupt(snapshot.interrupts[0].value)
    print(decision.summary, decision.can_run)
    agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)   # or {"action": "approve"}

    log = DecisionLog(workspace)
    log.record(thread_id, entry)                      # before running
    log.finish(entry.id, "ok", artifacts, "")         # after
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from vitron_agent.answers import (
    Answer,
    AnswerError,
    Approve,
    Cancel,
    Edit,
    Reject,
    Remove,
    read_answer,
)
from vitron_agent.config import DEFAULT_CLAIM_LEASE_S
from vitron_agent.database import SqliteDatabase
from vitron_agent.owners import Owners
from vitron_agent.readiness import Readiness

__all__ = [
    "AlreadyAnswered",
    "AlreadyApproved",
    "Answer",
    "AnswerError",
    "Approve",
    "Cancel",
    "Decision",
    "DecisionLog",
    "Edit",
    "LogEntry",
    "Reject",
    "Remove",
    "StepView",
    "read_answer",
]

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
    finished  TEXT,
    claimed_by TEXT,
    claimed_at TEXT,
    lease_until TEXT
)
"""
_ANSWERS = """
CREATE TABLE IF NOT EXISTS answers (
    key      TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    answer   TEXT NOT NULL,
    by       TEXT NOT NULL,
    answered TEXT NOT NULL
)
"""
_FIELDS = "thread_id, created, decision, outcome, artifacts, message, finished, claimed_by, claimed_at, lease_until"
_CLAIM_COLUMNS = ("claimed_by", "claimed_at", "lease_until")
ALLOWED = ("approve", "edit", "reject")
"""What a LangChain front end may answer for each action (LangChain's ``review_configs``)."""


# -- the log's entries --------------------------------------------------------------------------------------------


class LogEntry(BaseModel):
    """One decision about one call: who decided what, on which arguments, and, once known, what came of it.

    The graph writes one per plan step it approves (and one per rejection or cancel); the MCP server and the
    LangChain tools write one per call they run or propose. The log fills in ``thread``, ``recorded`` and the
    outcome fields.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    tool: str
    module: str | None = None
    action: Literal["approve", "reject", "cancel", "propose", "choose", "policy"]
    by: str
    """who decided: "person", "policy: ask", "mcp client", "langchain caller", ..."""
    args: dict[str, Any] = {}
    call: str | None = None
    """the plan step's id (graph decisions)"""
    plan: str | None = None
    step: int | None = None
    steps: int | None = None
    changed: list[str] = []
    preview: str | None = None
    backend: str | None = None
    feedback: str = ""
    proposal: str | None = None
    """the proposal this approval answers (MCP)"""
    thread: str = ""
    recorded: str | None = None
    outcome: str | None = None
    """running, then ok, failed, cancelled, interrupted or skipped; approved or rejected for a proposal; None
    until known"""
    artifacts: list[str] = []
    message: str | None = None
    finished: str | None = None
    claimed_by: str | None = None
    """the run that took it (``host:pid:run``; see :mod:`vitron_agent.claims`)"""
    claimed_at: str | None = None
    lease_until: str | None = None
    """when the claim lapses unless its run renews it (ISO time, UTC)"""
    undone: bool = False
    """set by ``Session.history``: the run's results were set aside by undo"""

    def decided(self) -> dict[str, Any]:
        """What is stored as the decision itself (the log keeps the thread and outcome in their own columns)."""
        return self.model_dump(mode="json", exclude={"thread", "recorded", "outcome", "artifacts", "message",
                                                     "finished", "claimed_by", "claimed_at", "lease_until",
                                                     "undone"})


class AlreadyApproved(RuntimeError):
    """Another process (or another answer) took this decision first: it runs, or ran, there; nothing ran here."""

    def __init__(self, tool: str, entry: LogEntry | None) -> None:
        from vitron_agent.claims import describe_claimer

        if entry is None:
            super().__init__(f"{tool} was decided elsewhere; nothing was run here")
            return
        when = (entry.claimed_at or entry.recorded or "an unknown time")[:19].replace("T", " ")
        where = f" in {describe_claimer(entry.claimed_by)}" if describe_claimer(entry.claimed_by) else ""
        state = "it runs there" if entry.outcome in ("running", "approved") else f"it ended {entry.outcome}"
        super().__init__(f"{tool} was already approved (by {entry.by}, at {when} UTC{where}); {state}, and nothing "
                         "was run here")


class AlreadyAnswered(RuntimeError):
    """Another answer to the same showing of a decision came first (another tab, process or machine): this one
    was not applied, and nothing ran for it."""

    def __init__(self, tool: str, first: Mapping[str, Any]) -> None:
        when = str(first.get("answered") or "")[:19].replace("T", " ")
        said = _said(first.get("answer"))
        super().__init__(f"the decision on {tool} was already answered ({said} by {first.get('by') or 'someone'}, "
                         f"at {when} UTC); yours was not applied and nothing ran for it: look at what waits now")


def _said(answer: Any) -> str:
    """What an answer did, in a word or two: ``approved``, ``edited``, ``rejected``..."""
    words = {"approve": "approved", "edit": "edited", "remove": "a step removed", "reject": "rejected",
             "cancel": "cancelled"}
    if isinstance(answer, Mapping) and isinstance(answer.get("decisions"), list):
        kinds = [d.get("type") for d in answer["decisions"] if isinstance(d, Mapping)]
        return ", ".join(words.get(str(kind), str(kind)) for kind in kinds) or "answered"
    action = answer.get("action") if isinstance(answer, Mapping) else answer
    return words.get(str(action), "answered")


class DecisionLog:
    """Decisions and their outcomes in ``decisions.sqlite`` in the workspace, or in the shared PostgreSQL database
    of ``[storage] database``.

    SQLite runs in WAL mode with ``synchronous = NORMAL``: a commit survives the process being killed (what the
    crash tests check), and only an operating-system crash could lose the last ones. Thread-safe; several
    processes may write at once.

    Args:
        workspace: the workspace folder.
        read_only: read an existing log as it is.
        database: the shared database (:class:`~vitron_agent.postgres.PostgresDatabase`, which the caller owns and
            closes); None keeps the log in ``decisions.sqlite``.
        lease_s: how long a claim holds after it was taken or last renewed (``[limits] claim_lease_s``).
    """

    def __init__(self, workspace: str | Path, *, read_only: bool = False, database: Any = None,
                 lease_s: float = DEFAULT_CLAIM_LEASE_S) -> None:
        self.path = Path(workspace).expanduser().resolve() / "decisions.sqlite"
        self.lease_s = lease_s
        self._owns_db = database is None
        if database is not None:  # PostgreSQL: its tables come with its schema's migrations
            self._db = database
            self.owners = Owners(database, create=False)
            return
        if read_only:  # an existing log, read as it is
            self._db = SqliteDatabase(self.path, read_only=True)
            self.owners = Owners(self._db, create=False)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = SqliteDatabase(self.path)
        self.owners = Owners(self._db)
        """who each thread belongs to (see :mod:`vitron_agent.owners`)"""
        with self._db.writing() as db:
            db.execute(_SCHEMA)
            db.execute(_ANSWERS)
            present = {row[1] for row in db.execute("PRAGMA table_info(decisions)")}
            for column in _CLAIM_COLUMNS:  # a log written before claims existed
                if column not in present:
                    db.execute(f"ALTER TABLE decisions ADD COLUMN {column} TEXT")

    def close(self) -> None:
        if self._owns_db:
            self._db.close()

    def record(self, thread_id: str, entry: LogEntry) -> LogEntry:
        """Store a decision unless its id is already stored; return the stored entry, with its outcome if it
        has one."""
        with self._db.writing() as db:
            db.execute(
                "INSERT INTO decisions (id, thread_id, created, decision) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (entry.id, thread_id, _now(), json.dumps(entry.decided(), default=str)),
            )
            row = db.execute(f"SELECT {_FIELDS} FROM decisions WHERE id = ?", (entry.id,)).fetchone()
        return _entry(row)

    def claim(self, decision_id: str, claimer: str, *, outcome: str = "running") -> tuple[bool, LogEntry | None]:
        """Take a decision that nothing has taken yet: one conditional ``UPDATE`` (``... WHERE outcome IS NULL``),
        atomic across processes (SQLite's write lock; PostgreSQL's row lock, under which a second update finds the
        row taken), so of several approvers exactly one wins.

        Args:
            claimer: who takes it (``host:pid:run``, see :mod:`vitron_agent.claims`).
            outcome: what it becomes: ``running`` for a run, ``approved`` for a proposal.

        Returns:
            (whether this call won it, the entry as it now stands; None when there is no such decision)
        """
        with self._db.writing() as db:
            taken = db.execute(
                "UPDATE decisions SET outcome = ?, claimed_by = ?, claimed_at = ?, lease_until = ? WHERE id = ? "
                "AND outcome IS NULL", (outcome, claimer, _now(), self._lease_end(), decision_id),
            ).rowcount
            row = db.execute(f"SELECT {_FIELDS} FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        return taken == 1, (_entry(row) if row else None)

    def renew(self, claims: Sequence[tuple[str, str]]) -> int:
        """The heartbeat: push back the lease of each ``(decision id, claimer)`` still held by that claimer.

        Returns:
            how many were renewed (a claim taken over or finished since is left alone).
        """
        with self._db.writing() as db:
            until = self._lease_end()
            return sum(db.execute("UPDATE decisions SET lease_until = ? WHERE id = ? AND claimed_by = ? AND outcome "
                                  "IN ('running', 'approved')", (until, decision_id, claimer)).rowcount
                       for decision_id, claimer in claims)

    def reopen(self, decision_id: str, *, was: str, claimer: str | None = None) -> bool:
        """Give back a decision whose claim came to nothing (its run died): only while it still reads ``was``
        (and, given ``claimer``, is still held by it)."""
        held = " AND claimed_by = ?" if claimer is not None else ""
        with self._db.writing() as db:
            return db.execute(
                "UPDATE decisions SET outcome = NULL, claimed_by = NULL, claimed_at = NULL, lease_until = NULL "
                f"WHERE id = ? AND outcome = ?{held}",
                (decision_id, was, *([claimer] if claimer is not None else []))).rowcount == 1

    def answer(self, key: str, thread_id: str, answer: Any, by: str) -> tuple[bool, dict[str, Any]]:
        """Record the answer to one showing of a decision (``key``) unless one is recorded already: of two
        answers given at once to the same showing (two tabs, two processes), exactly one is taken.

        Returns:
            (whether this answer is the one recorded, the recorded answer: ``answer``, ``by``, ``answered``)
        """
        text = json.dumps(answer, sort_keys=True, default=str)
        with self._db.writing() as db:
            db.execute("INSERT INTO answers (key, thread_id, answer, by, answered) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT DO NOTHING", (key, thread_id, text, by, _now()))
            stored, who, when = db.execute("SELECT answer, by, answered FROM answers WHERE key = ?",
                                           (key,)).fetchone()
        return stored == text, {"answer": json.loads(stored), "by": who, "answered": when}

    def latest(self, thread_id: str, action: str) -> LogEntry | None:
        """The thread's most recent entry of one kind (``policy``: the policy it was last switched to)."""
        with self._db.reading() as db:
            rows = db.execute(f"SELECT {_FIELDS} FROM decisions WHERE thread_id = ? ORDER BY seq DESC",
                              (thread_id,)).fetchall()
        return next((entry for entry in map(_entry, rows) if entry.action == action), None)

    def _lease_end(self) -> str:
        return (datetime.now(timezone.utc) + timedelta(seconds=self.lease_s)).isoformat()

    def interrupt(self, entry: LogEntry, message: str) -> bool:
        """Mark a decision ``interrupted`` only while it still stands as ``entry`` read it: unclaimed, or claimed
        by the same (dead) run. A process resuming the thread at the same instant as another one claims the step
        must not overwrite that claim and then run the step a second time.

        Returns:
            whether it was marked (False: someone took or finished it since).
        """
        with self._db.writing() as db:
            if entry.outcome is None:
                taken = db.execute("UPDATE decisions SET outcome = 'interrupted', message = ?, finished = ? "
                                   "WHERE id = ? AND outcome IS NULL", (message, _now(), entry.id)).rowcount
            else:
                taken = db.execute("UPDATE decisions SET outcome = 'interrupted', message = ?, finished = ? "
                                   "WHERE id = ? AND outcome = ? AND claimed_by = ?",
                                   (message, _now(), entry.id, entry.outcome, entry.claimed_by)).rowcount
        return taken == 1

    def finish(self, decision_id: str, outcome: str, artifacts: Sequence[str] = (), message: str = "") -> None:
        """Record what came of an approved decision: ``ok``, ``failed``, ``cancelled`` or ``interrupted``."""
        with self._db.writing() as db:
            db.execute(
                "UPDATE decisions SET outcome = ?, artifacts = ?, message = ?, finished = ? WHERE id = ?",
                (outcome, json.dumps(list(artifacts)), message, _now(), decision_id),
            )

    def get(self, decision_id: str) -> LogEntry | None:
        with self._db.reading() as db:
            row = db.execute(f"SELECT {_FIELDS} FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        return _entry(row) if row else None

    def list(self, thread_id: str | None = None) -> list[LogEntry]:
        """Every decision (of one thread, or all), oldest first, each with its outcome once known."""
        query = f"SELECT {_FIELDS} FROM decisions"
        with self._db.reading() as db:
            if thread_id is None:
                rows = db.execute(query + " ORDER BY seq").fetchall()
            else:
                rows = db.execute(query + " WHERE thread_id = ? ORDER BY seq", (thread_id,)).fetchall()
        return [_entry(row) for row in rows]


def _entry(row: tuple) -> LogEntry:
    thread_id, created, decision, outcome, artifacts, message, finished, claimed_by, claimed_at, lease_until = row
    return LogEntry.model_validate({
        **json.loads(decision), "thread": thread_id, "recorded": created, "outcome": outcome,
        "artifacts": json.loads(artifacts) if artifacts else [], "message": message, "finished": finished,
        "claimed_by": claimed_by, "claimed_at": claimed_at, "lease_until": lease_until,
    })


def _shown(value: Any) -> str:
    """An argument's value for a line about what changed: a region as its box, anything long cut short."""
    if isinstance(value, Mapping) and set(value) == {"x1", "y1", "x2", "y2"}:
        return "(" + ", ".join(f"{value[k]:g}" for k in ("x1", "y1", "x2", "y2")) + ")"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


# -- what the review shows -----------------------------------------------------------------------------------------


class StepView(BaseModel):
    """One step of a plan as the person sees it."""

    model_config = ConfigDict(frozen=True)

    number: int
    tool: str
    module: str | None = None
    module_name: str | None = None
    args: dict[str, Any]
    summary: str
    status: str = "planned"
    side_effects: bool = True
    preview: str | None = None
    """the artifact id of the region drawn on its image"""
    backend: str | None = None
    """what it runs on (backend and checkpoint), as its tool says"""
    readiness: Readiness = Readiness()
    notes: list[str] = []
    changed: list[str] = []
    """the arguments the person edited"""
    message: str = ""
    """what came of it (finished or failed steps)"""


class Decision(BaseModel):
    """A decision waiting for a person: the plan (one step or several), the steps asking now, and the refusal of
    the last answer, if any. Frozen: an answer makes the graph build a new one."""

    model_config = ConfigDict(frozen=True)

    id: str
    """the plan's id"""
    thread: str = ""
    response: str = ""
    """what the planner said"""
    steps: list[StepView]
    asking: list[int]
    """the numbers of the steps this answer decides (all waiting ones, or one under policy "step")"""
    policy: str = "ask"
    error: str | None = None
    """why the last answer was not applied, or why a step failed"""
    round: int = 0
    """which showing of a decision in this thread this is (each new or edited decision is a new showing; only the
    first answer to a showing counts)"""

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def fingerprint(self) -> str:
        """What would run, as a short hash: the plan, its steps as shown (arguments, previews, what they run
        on) and which are asking. An answer carries the fingerprint its person saw, and is refused when what waits
        has another (why an answer was refused, the policy's name and the showing's number are not part of it)."""
        shown = self.model_dump(mode="json", include={"id", "thread", "response", "steps", "asking"})
        return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def changes_from(self, seen: Decision) -> list[str]:
        """What differs between ``seen`` (what a person was shown) and this decision, in short lines:
        ``step 1 region: (60, 90, 580, 380) -> (100, 100, 400, 300)``."""
        if seen.id != self.id:
            return [f"another plan waits now: {self.summary}"]
        lines = []
        for old, new in zip(seen.steps, self.steps):
            for name in sorted(set(old.args) | set(new.args)):
                if old.args.get(name) != new.args.get(name):
                    lines.append(f"step {new.number} {name}: {_shown(old.args.get(name))} -> "
                                 f"{_shown(new.args.get(name))}")
            if old.status != new.status:
                lines.append(f"step {new.number} is {new.status} (was {old.status})")
        if len(seen.steps) != len(self.steps):
            lines.append(f"the plan has {len(self.steps)} steps (was {len(seen.steps)})")
        if seen.asking != self.asking:
            lines.append(f"asking now: step {', '.join(map(str, self.asking))}")
        return lines or ["what it would run on changed"]

    @property
    def current(self) -> StepView:
        """The first step asking (a single call's only step)."""
        return self.steps[self.asking[0] - 1]

    @property
    def tool(self) -> str:
        return self.current.tool

    @property
    def args(self) -> dict[str, Any]:
        return self.current.args

    @property
    def summary(self) -> str:
        return self.current.summary

    @property
    def can_run(self) -> bool:
        """Every asking step can run on this machine (each step's ``readiness`` says why not)."""
        return all(self.steps[number - 1].readiness.can_run for number in self.asking)

    @property
    def failed(self) -> bool:
        """A step asking again after it failed (approve retries it)."""
        return any(self.steps[number - 1].status == "failed" for number in self.asking)

    def as_text(self) -> str:
        """The asking steps in plain lines (tool and module, summary, each argument, what it runs on, whether it
        can run here, notes), for a surface that shows a person text only: an MCP elicitation."""
        lines = []
        for step in (self.steps[number - 1] for number in self.asking):
            module = f" ({step.module} {step.module_name})" if step.module_name else ""
            lines.append(f"{step.tool}{module}: {step.summary}")
            lines += [f"  {name}: {json.dumps(value, default=str)}" for name, value in step.args.items()
                      if value is not None]
            if step.backend:
                lines.append(f"  runs on: {step.backend}")
            lines.append(f"  here: {step.readiness.line(step.tool) or 'ready'}")
            lines += [f"  note: {note}" for note in step.notes]
        return "\n".join(lines)

    def action_requests(self) -> list[dict[str, Any]]:
        """LangChain's ``action_requests``: one per asking step, its tool, its arguments, its summary."""
        return [{"name": step.tool, "args": step.args, "description": step.summary}
                for step in (self.steps[number - 1] for number in self.asking)]

    def review_configs(self) -> list[dict[str, Any]]:
        """LangChain's ``review_configs``: one per action request, in the same order (as its
        ``HumanInTheLoopMiddleware`` makes them), each allowing approve, edit or reject."""
        return [{"action_name": self.steps[number - 1].tool, "allowed_decisions": list(ALLOWED)}
                for number in self.asking]

    def interrupt_value(self) -> dict[str, Any]:
        """What the review's interrupt carries: LangChain's human-in-the-loop request, and this decision whole
        under ``decision`` (JSON data)."""
        return {"action_requests": self.action_requests(), "review_configs": self.review_configs(),
                "decision": self.model_dump(mode="json")}

    @classmethod
    def from_interrupt(cls, value: Mapping[str, Any]) -> Decision:
        return cls.model_validate(value["decision"])

