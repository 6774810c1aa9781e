"""A synchronous facade over the agent graph, for people who don't want to speak LangGraph.

Each method is one graph run on the session's thread: ``send`` starts a turn, ``approve`` / ``edit`` /
``reject`` / ``cancel_decision`` answer the decision waiting at the review interrupt, and each returns a
:class:`Turn`; ``undo`` sets the last tool's results aside through the checkpointer's history. State lives in
the graph's checkpointer (SQLite in the workspace by default), so a new ``Session`` on the same workspace and
``thread_id`` continues where a dead process stopped: a decision left waiting is still waiting, and a tool that
was cut off mid-run is offered again rather than silently re-run.

Usage::

    session = Session("workspace", ScriptedPlanner([...]), tools=[Grayscale()])
    turn = session.send("make it black and white", attachments=["photo.jpg"])
    print(turn.pending["summary"])        # what would run
    turn = session.approve()
    print(turn.text, [a.path for a in turn.artifacts])
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict

from vitron_agent.artifacts import Artifact, ArtifactStore
from vitron_agent.calls import Attachment
from vitron_agent.decisions import DecisionLog
from vitron_agent.graphs.agent import Policy, build_agent, check_policy
from vitron_agent.models import ModelManager
from vitron_agent.planners.base import Planner
from vitron_agent.regions import Box, parse_box

__all__ = ["Session", "SessionError", "Turn"]

Progress = Callable[[dict[str, Any]], None]

UNDONE = "Undid {tool}: its results are set aside (still in the store: {artifacts})."


class SessionError(RuntimeError):
    """A session method called at the wrong moment (say, ``approve`` with nothing waiting)."""


class Turn(BaseModel):
    """What one call produced: the decision now waiting (or None), the text, and this turn's artifacts."""

    model_config = ConfigDict(frozen=True)

    pending: dict[str, Any] | None
    text: str
    artifacts: list[Artifact]


class Session:
    """One conversation thread over one workspace.

    Args:
        workspace: folder for artifacts, decisions and checkpoints (created if missing).
        planner: anything with ``plan(messages, attachments, region)``.
        policy: ``"ask"`` (default), ``"auto"`` or a set of tool names that must ask.
        thread_id: continue this thread; None starts a new one.
        tools: tool classes or instances; by default the built-ins and installed plugins.
        checkpointer: any LangGraph checkpointer; None keeps SQLite in the workspace.
        import_roots: folders attachments may come from, besides the workspace and the current folder.
        on_progress: called with each progress event a running tool reports.
        models: the model manager to load through (share one between sessions to share loaded models).
    """

    def __init__(
        self,
        workspace: str | os.PathLike[str],
        planner: Planner,
        *,
        policy: Policy = "ask",
        thread_id: str | None = None,
        tools: Iterable[Any] | None = None,
        checkpointer: Any = None,
        import_roots: Sequence[str | os.PathLike[str]] = (),
        on_progress: Progress | None = None,
        max_corrections: int = 3,
        models: ModelManager | None = None,
    ) -> None:
        self.workspace = Path(workspace).expanduser().resolve()
        self.store = ArtifactStore(self.workspace, import_roots=[Path.cwd(), *import_roots])
        self.log = DecisionLog(self.workspace)
        self._cancel = threading.Event()
        self.models = models or ModelManager()
        self.agent = build_agent(
            planner, tools=tools, workspace=self.workspace, policy=policy, checkpointer=checkpointer,
            max_corrections=max_corrections, cancelled=self._cancel.is_set, models=self.models,
        )
        self.thread_id = thread_id or uuid.uuid4().hex
        self.config: dict[str, Any] = {"configurable": {"thread_id": self.thread_id, "policy": check_policy(policy)}}
        self.on_progress = on_progress
        self.recover()

    # -- the conversation ----------------------------------------------------------------------------------

    @property
    def pending(self) -> dict[str, Any] | None:
        """The decision waiting for the person, or None."""
        interrupts = self.agent.get_state(self.config).interrupts
        return interrupts[0].value if interrupts else None

    @property
    def policy(self) -> Policy:
        """Which calls wait for a person; settable between turns (``"ask"``, ``"auto"`` or tool names)."""
        return self.config["configurable"]["policy"]

    @policy.setter
    def policy(self, value: Policy) -> None:
        self.config["configurable"]["policy"] = check_policy(value)

    def send(
        self,
        text: str,
        attachments: Sequence[str | os.PathLike[str] | Artifact] = (),
        region: Box | Sequence[float] | str | None = None,
        *,
        frame: int = 0,
    ) -> Turn:
        """Say something, optionally with new media (paths are imported) and a box in pixels of the latest one.

        Raises:
            SessionError: a decision is waiting; answer it first.
            MediaError, PathOutsideWorkspace: an attachment cannot be used (nothing is sent).
            RegionError: the region is malformed.
        """
        if self.pending is not None:
            raise SessionError("a decision is waiting; approve(), edit() or reject() it first")
        known = list(self.agent.get_state(self.config).values.get("attachments") or [])
        for item in attachments:
            artifact = item if isinstance(item, Artifact) else self.store.import_file(item)
            known.append(Attachment.from_artifact(artifact).model_dump())
        box = _box(region)
        return self._run({
            "messages": [HumanMessage(text)],
            "attachments": known,
            "region": list(box.as_tuple()) if box else None,
            "frame": frame,
            "corrections": 0,
            "answer": None,
            "pending": None,
        })

    def approve(self) -> Turn:
        """Run the waiting decision as shown."""
        return self._resume({"action": "approve"})

    def edit(self, **changes: Any) -> Turn:
        """Change arguments of the waiting decision by name; it is validated and shown again."""
        return self._resume({"action": "edit", "args": changes})

    def reject(self, feedback: str) -> Turn:
        """Refuse the waiting decision and tell the planner what was wrong; it plans again."""
        return self._resume({"action": "reject", "feedback": feedback})

    def cancel_decision(self) -> Turn:
        """Drop the waiting decision: nothing runs and the planner is not asked again."""
        return self._resume({"action": "cancel"})

    def cancel(self) -> None:
        """Ask the running tool to stop at its next check (safe to call from another thread)."""
        self._cancel.set()

    # -- what the thread holds -----------------------------------------------------------------------------

    def artifacts(self) -> list[Artifact]:
        """The thread's artifacts, oldest first: attachments and what tools made (minus undone results)."""
        values = self.agent.get_state(self.config).values
        ids = [a["ref"] for a in values.get("attachments") or []] + list(values.get("artifacts") or [])
        return [self.store.get(i) for i in dict.fromkeys(ids)]

    def history(self) -> list[dict[str, Any]]:
        """Every decision of this thread from the decision log, oldest first, with its outcome; ``undone`` marks
        a tool run whose results were set aside by :meth:`undo`."""
        present = set(self.agent.get_state(self.config).values.get("artifacts") or [])
        return [
            {**entry, "undone": bool(entry["artifacts"]) and present.isdisjoint(entry["artifacts"])}
            for entry in self.log.list(self.thread_id)
        ]

    def undo(self) -> str:
        """Return the thread to just before its last tool ran, through the checkpointer's history.

        The thread continues from the checkpoint taken after that tool's approval, as if the tool had been
        cancelled: its results leave the conversation and the thread's artifacts, the request and attachments
        stay. Nothing is deleted (artifacts are immutable; the old checkpoints stay in the history).

        Returns:
            the message added to the conversation.

        Raises:
            SessionError: a decision is waiting, or no tool result is left to undo.
        """
        if self.pending is not None:
            raise SessionError("a decision is waiting; answer it before undoing")
        state = self.agent.get_state(self.config)
        present = set(state.values.get("artifacts") or [])
        last = next((entry for entry in reversed(self.history())
                     if entry["outcome"] == "ok" and present.intersection(entry["artifacts"])), None)
        if last is None:
            raise SessionError("there is no tool result to undo in this thread")
        before = self._checkpoint_before(state, last["id"])
        text = UNDONE.format(tool=last["tool"], artifacts=", ".join(last["artifacts"]))
        self.agent.update_state(
            before.config, {"pending": None, "answer": text, "messages": [AIMessage(text)]}, as_node="report"
        )
        return text

    def _checkpoint_before(self, state: Any, decision_id: str) -> Any:
        """Walk the thread's parents back to the checkpoint where ``decision_id`` was approved, before it ran."""
        snapshot = state
        while snapshot is not None:
            pending = snapshot.values.get("pending") or {}
            if snapshot.next == ("execute",) and pending.get("decision") == decision_id:
                return snapshot
            snapshot = self.agent.get_state(snapshot.parent_config) if snapshot.parent_config else None
        raise SessionError(f"the checkpoint before decision {decision_id} is no longer in the thread's history")

    def recover(self) -> None:
        """If a run was cut off while a tool ran (the process died, or the terminal stopped waiting), offer that
        call again as a decision; if the tool had in fact finished, just finish the turn. Runs on construction;
        harmless when nothing was cut off."""
        snapshot = self.agent.get_state(self.config)
        if snapshot.next != ("execute",):
            return
        pending = snapshot.values["pending"]
        entry = self.log.get(pending.get("decision") or "")
        if entry is None or entry["outcome"] != "ok":
            if entry is not None:
                self.log.finish(entry["id"], "interrupted", (), "the process stopped while the tool was running")
            self.agent.update_state(
                self.config, {"pending": {**pending, "decision": None}, "step": "review"}, as_node="validate"
            )
        for _ in self.agent.stream(None, self.config, stream_mode="custom"):
            pass

    # -- internals -----------------------------------------------------------------------------------------

    def _resume(self, answer: dict[str, Any]) -> Turn:
        if self.pending is None:
            raise SessionError("nothing is waiting for a decision; send() a request first")
        return self._run(Command(resume=answer))

    def _run(self, graph_input: Any) -> Turn:
        before = len(self.agent.get_state(self.config).values.get("artifacts") or [])
        self._cancel.clear()
        for event in self.agent.stream(graph_input, self.config, stream_mode="custom"):
            if self.on_progress is not None and isinstance(event, dict) and "progress" in event:
                self.on_progress(event["progress"])
        snapshot = self.agent.get_state(self.config)
        pending = snapshot.interrupts[0].value if snapshot.interrupts else None
        produced = (snapshot.values.get("artifacts") or [])[before:]
        text = pending.get("response", "") if pending else snapshot.values.get("answer") or ""
        return Turn(pending=pending, text=text, artifacts=[self.store.get(i) for i in produced])


def _box(region: Box | Sequence[float] | str | None) -> Box | None:
    if region is None or isinstance(region, Box):
        return region
    if isinstance(region, str):
        return parse_box(region)
    return Box.of(region)
