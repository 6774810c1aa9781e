"""A synchronous facade over the agent graph, for people who don't want to speak LangGraph.

Each method is one graph run on the session's thread: ``send`` starts a turn, ``approve`` / ``edit`` /
``edit_step`` / ``remove_step`` / ``reject`` / ``cancel_decision`` answer the decision (a plan of one step or
several) waiting at the review interrupt, ``choose`` picks one of a step's candidates, ``vary`` proposes a
result's call again with new seeds, and each returns a :class:`Turn`; ``use`` makes any image or video the
current input and ``sketch`` turns a drawing into a mask for the next request; ``undo`` and ``fork`` go back through
the checkpointer's history (the last tool's results set aside, or a plan returned to before one of its steps, on
this thread or a new one). State lives in
the graph's checkpointer (SQLite in the workspace by default), so a new ``Session`` on the same workspace and
``thread_id`` continues where a dead process stopped: a decision left waiting is still waiting, and a tool that
was cut off mid-run is offered again rather than silently re-run.

Usage::

    session = Session("workspace", ScriptedPlanner([...]), tools=[Grayscale()])
    turn = session.send("make it black and white", attachments=["photo.jpg"])
    print(turn.pending.summary)           # what would run (a typed Decision)
    turn = session.approve()
    print(turn.text, [a.path for a in turn.artifacts])
"""

from __future__ import annotations

import copy
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, ValidationError

from vitron_agent.artifacts import Artifact, ArtifactNotFound
from vitron_agent.calls import Attachment, Point, check_mask, fit_to_media
from vitron_agent.choices import Choice, ChoiceError
from vitron_agent.content_blocks import BlockError, take_pictures, text_of
from vitron_agent.config import request_too_long
from vitron_agent.creative import carried_on, sketch_mask, variation
from vitron_agent.answers import answer_too_long, bound
from vitron_agent.decisions import AlreadyAnswered, AlreadyApproved, Decision, LogEntry
from vitron_agent.graphs import history
from vitron_agent.graphs.agent import POLICY_KEY, Policy, build_agent, check_policy
from vitron_agent.graphs.intake import TAKEN
from vitron_agent.graphs.plan import Plan
from vitron_agent.media import MediaError
from vitron_agent.models import ModelManager
from vitron_agent.paths import PathOutsideWorkspace
from vitron_agent.planners.base import Planner
from vitron_agent.regions import Box, RegionError, parse_box
from vitron_agent.storage import StorageUnavailable
from vitron_agent.workspace import Workspace

__all__ = ["Session", "SessionError", "Turn"]

Progress = Callable[[dict[str, Any]], None]
DURABILITY = "sync"
"""Each step's checkpoint is on disk before the next step starts (LangGraph's default writes it while the next
one runs): a process killed as step 3 begins must not come back with step 2 unrecorded in the thread (seen
once in 36 kills at that moment, which then left no decision to offer)."""


class SessionError(RuntimeError):
    """A session method called at the wrong moment (say, ``approve`` with nothing waiting)."""


class Turn(BaseModel):
    """What one call produced: the decision now waiting (or None), the text, and this turn's artifacts; when a
    step made several candidates, the choice waiting and the candidates, in order."""

    model_config = ConfigDict(frozen=True)

    pending: Decision | None
    text: str
    artifacts: list[Artifact]
    choice: Choice | None = None
    candidates: list[Artifact] = []


class Session:
    """One conversation thread over one workspace.

    Args:
        workspace: an open :class:`~vitron_agent.workspace.Workspace`, or the folder for artifacts, decisions and
            checkpoints (created if missing).
        planner: anything with ``plan(messages, attachments, region)``.
        policy: ``"ask"`` (default), ``"auto"`` or a set of tool names that must ask.
        thread_id: continue this thread; None starts a new one.
        tools: tool classes or instances; by default the built-ins and installed plugins.
        checkpointer: any LangGraph checkpointer; None keeps SQLite in the workspace.
        import_roots: when ``workspace`` is a folder: folders files may be imported from without a person naming
            them, besides the workspace and the current folder.
        on_progress: called with each progress event a running tool reports.
        models: when ``workspace`` is a folder: the model manager to load through (share one between sessions to
            share loaded models; an open workspace brings its own).
        person: who answers through this session, as the decision log records it (a login name).
    """

    def __init__(
        self,
        workspace: Workspace | str | os.PathLike[str],
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
        person: str = "person",
    ) -> None:
        self.workspace = Workspace.of(workspace, import_roots=[Path.cwd(), *import_roots], models=models)
        self.store, self.log, self.models = self.workspace.store, self.workspace.log, self.workspace.models
        self._cancel = threading.Event()
        self.agent = build_agent(
            planner, tools=tools, workspace=self.workspace, policy=policy, checkpointer=checkpointer,
            max_corrections=max_corrections, cancelled=self._cancel.is_set, runs_may_loosen_policy=True,
        )
        self.thread_id = thread_id or uuid.uuid4().hex
        self.config: dict[str, Any] = {"configurable": {"thread_id": self.thread_id,
                                                        POLICY_KEY: check_policy(policy)}}
        self.on_progress = on_progress
        self.person = person
        self._outage = False
        self._seen: Decision | None = None
        """the decision this session last showed its caller (in a turn, or through ``pending``)"""
        if not self.workspace.read_only:
            self.recover()

    # -- the conversation ----------------------------------------------------------------------------------

    @property
    def pending(self) -> Decision | None:
        """The decision waiting for the person, or None. Reading it counts as showing it: a later answer from
        this session is bound to it (see :meth:`approve`)."""
        self._after_outage()
        self._seen = history.waiting(self.agent, self.config)
        return self._seen

    @property
    def choice(self) -> Choice | None:
        """The candidates waiting for the person to choose one, or None."""
        self._after_outage()
        return history.choice(self.agent, self.config)

    def waiting(self) -> Turn | None:
        """What the thread waits on, a decision or a choice among candidates, as a turn to answer; None when
        nothing waits."""
        self._after_outage()
        snapshot = self.agent.get_state(self.config)
        return self._turn(snapshot, ()) if snapshot.interrupts else None

    @property
    def policy(self) -> Policy:
        """Which calls wait for a person (``"ask"``, ``"auto"`` or tool names): the thread's, as last set from any
        surface or process, else the one this session was made with. Setting it (:meth:`set_policy`) applies from
        the next decision: one already waiting is still the person's to answer."""
        return self._logged_policy()

    def _logged_policy(self) -> Policy:
        """The thread's policy as last logged (by any process), now in this session's run config."""
        latest = self.log.latest(self.thread_id, "policy")
        if latest is not None:
            try:
                self.config["configurable"][POLICY_KEY] = check_policy(latest.args.get("to"))
            except ValueError:
                pass  # a log entry this version can't read: keep the session's own
        return self.config["configurable"][POLICY_KEY]

    @policy.setter
    def policy(self, value: Policy) -> None:
        self.set_policy(value)

    def set_policy(self, value: Policy, by: str | None = None) -> None:
        """Switch the thread's policy from the next decision on, logged with who switched it (``by``, default
        this session's person); every surface on the thread reads it from the log.

        Raises:
            ValueError: not a policy.
        """
        policy = check_policy(value)
        if self.workspace.read_only:
            self.config["configurable"][POLICY_KEY] = policy
            return
        before = self.policy
        self.config["configurable"][POLICY_KEY] = policy
        if policy != before:
            words = sorted(policy) if isinstance(policy, frozenset) else policy
            was = sorted(before) if isinstance(before, frozenset) else before
            self.log.record(self.thread_id, LogEntry(id=f"{self.thread_id}/policy-{uuid.uuid4().hex[:12]}",
                                                     tool="policy", action="policy", by=by or self.person,
                                                     args={"to": words, "from": was}))

    def send(
        self,
        text: str | Sequence[Any],
        attachments: Sequence[str | os.PathLike[str] | Artifact] = (),
        region: Box | Sequence[float] | str | None = None,
        *,
        frame: int = 0,
        mask: Artifact | str | None = None,
        points: Sequence[Point | Mapping[str, Any]] = (),
    ) -> Turn:
        """Say something, optionally with new media, a box in pixels of the latest one, a mask (an artifact or its
        id: a segmentation, or a sketch from :meth:`sketch`) as the area to change, and clicks on the latest image
        (``Point`` or ``{"x", "y", "positive"}``: what to segment, and what not). ``text`` may be a message's
        content blocks: pictures inside it are attached (:mod:`vitron_agent.content_blocks`).

        Paths in ``attachments`` are the caller's own choice, so they are imported from anywhere this process can
        read, as the terminal does for files on its command line; paths a planner names stay inside the
        workspace.

        Raises:
            SessionError: a decision is waiting (answer it first), or the request is longer than the workspace's
                limit (nothing reaches the planner or a checkpoint).
            MediaError, PathOutsideWorkspace: an attachment cannot be used (nothing is sent).
            RegionError: the region or a click is malformed.
        """
        self._writable()
        too_long = request_too_long(text_of(text), self.workspace.request_limit)
        if too_long:
            raise SessionError(too_long)
        self._nothing_waiting()
        mask_id = self._mask(mask)
        message, attachments = self._message(text, attachments)
        known = [attachment.model_dump() for attachment in self.attachments()]
        for item in attachments:
            artifact = item if isinstance(item, Artifact) else self.store.import_file(item, grant=True)
            known.append(Attachment.from_artifact(artifact).model_dump())
        box = _box(region)
        clicks = _points(points, known[-1] if known else None)
        return self._run({
            "messages": [message],
            "attachments": known,
            "region": list(box.as_tuple()) if box else None,
            "frame": frame,
            "mask": mask_id,
            "points": [point.model_dump() for point in clicks] or None,
            "corrections": 0,
            "answer": None,
            "plan": None,
        })

    def approve(self, seen: Decision | str | None = None) -> Turn:
        """Run the waiting decision as shown.

        Every answer is bound to the decision its person saw: ``seen`` (a decision or its fingerprint), else the
        one this session last showed (in a turn, or through :attr:`pending`). When what waits differs (edited or
        answered elsewhere), nothing runs: the turn shows what waits now, and its ``error`` says what changed.
        """
        return self._resume({"action": "approve"}, seen)

    def edit(self, seen: Decision | str | None = None, **changes: Any) -> Turn:
        """Change arguments of the waiting decision by name; it is validated and shown again."""
        return self._resume({"action": "edit", "args": changes}, seen)

    def edit_step(self, number: int, seen: Decision | str | None = None, **changes: Any) -> Turn:
        """Change arguments of step ``number`` (from 1) of the waiting plan; validated and shown again."""
        return self._resume({"action": "edit", "args": changes, "step": number}, seen)

    def remove_step(self, number: int, seen: Decision | str | None = None) -> Turn:
        """Take step ``number`` (from 1) out of the waiting plan (refused while a later step uses its output)."""
        return self._resume({"action": "remove", "step": number}, seen)

    def reject(self, feedback: str, seen: Decision | str | None = None) -> Turn:
        """Refuse the waiting decision and tell the planner what was wrong; it plans again.

        Raises:
            SessionError: the correction is over the workspace's ``[limits] request_bytes`` (nothing is sent).
        """
        return self._resume({"action": "reject", "feedback": feedback}, seen)

    def cancel_decision(self, seen: Decision | str | None = None) -> Turn:
        """Drop the waiting decision: nothing runs and the planner is not asked again."""
        return self._resume({"action": "cancel"}, seen)

    def cancel(self) -> None:
        """Ask the running tool to stop at its next check (safe to call from another thread)."""
        self._cancel.set()

    # -- the creative loop ---------------------------------------------------------------------------------

    def choose(self, pick: int | str) -> Turn:
        """Pick one of the candidates waiting (a number from 1, or its artifact id): it becomes the current image
        or video, the choice goes in the decision log, and the plan goes on.

        Raises:
            SessionError: nothing is waiting for a choice, or there is no such candidate.
        """
        self._writable()
        choice = self.choice
        if choice is None:
            raise SessionError("nothing is waiting for a choice; a call with candidates 2 to 4 makes several to "
                               "choose from")
        try:
            choice.pick(pick)
        except ChoiceError as error:
            raise SessionError(str(error)) from None
        return self._run(Command(resume={"action": "choose", "candidate": pick}))

    def vary(self, artifact: Artifact | str | None = None) -> Turn:
        """Propose the call that made a result again with new seeds (same arguments, same number of candidates),
        as a new decision. ``artifact`` is the result (default: the current image or video).

        Raises:
            SessionError: something is waiting, or the result was not made by a call with a seed.
        """
        self._writable()
        self._nothing_waiting()
        if artifact is None:
            latest = self.attachments()
            if not latest:
                raise SessionError("there is no current image or video to vary; make one first")
            artifact = latest[-1].ref
        try:
            call = variation(self._artifact(artifact))
        except ValueError as error:
            raise SessionError(str(error)) from None
        return self._run({"messages": [HumanMessage(f"vary {call['name']}")], "proposed": [call],
                          "region": None, "mask": None, "points": None, "frame": 0, "corrections": 0, "answer": None, "plan": None})

    def use(self, artifact: Artifact | str) -> str:
        """Make any image or video in the workspace (from this thread or another) the current input: the next
        request works on it. A new line in this thread's history, not an undo. Returns what the conversation says.

        Raises:
            SessionError: something is waiting, there is no such artifact, or it is not a finished image or video.
        """
        self._writable()
        self._nothing_waiting()
        found = self._artifact(artifact)
        if found.kind not in ("image", "video"):
            raise SessionError(f"{found.id} is {found.kind_text}, not an image or a video; a mask goes with a request "
                               "as the area to change (send(..., mask=ID), or /sketch in the terminal)")
        if found.unfinished:
            raise SessionError(found.left_unfinished())
        text = carried_on(found)
        with _said_as_session_errors():
            history.take_up(self.agent, self.config, found, text)
        return text

    def sketch(self, path: str | os.PathLike[str]) -> tuple[Artifact, str | None]:
        """Import a black-and-white picture the person drew over the current image (white: the area to change) as
        a mask, for ``send(..., mask=...)``; returns it with a note when it had to be scaled.

        Raises:
            SessionError: no current image or video, or the sketch is empty or not a picture.
            MediaError, PathOutsideWorkspace: the file can't be imported.
        """
        self._writable()
        current = self.attachments()
        if not current:
            raise SessionError("attach or make an image first: a sketch marks an area of it")
        try:
            return sketch_mask(self.store, path, current[-1])
        except ValueError as error:
            if isinstance(error, (MediaError, PathOutsideWorkspace)):
                raise
            raise SessionError(str(error)) from None

    # -- what the thread holds -----------------------------------------------------------------------------

    def artifacts(self) -> list[Artifact]:
        """The thread's artifacts, oldest first: attachments and what tools made (minus undone results)."""
        ids = [a.ref for a in self.attachments()] + history.produced(self.agent, self.config)
        return [self.store.get(i) for i in dict.fromkeys(ids)]

    def attachments(self) -> list[Attachment]:
        """The media attached in this thread, oldest first (the latest is what the next request works on)."""
        return history.attachments(self.agent, self.config)

    def history(self) -> list[LogEntry]:
        """Every decision of this thread from the decision log, oldest first, with its outcome; ``undone`` marks
        a tool run whose results were set aside by :meth:`undo`."""
        return history.entries(self.agent, self.config, self.log)

    @property
    def plan(self) -> Plan | None:
        """The thread's plan: the one waiting or running, else the last one (finished)."""
        return history.plan(self.agent, self.config)

    def exists(self) -> bool:
        """Whether the workspace holds this thread yet (a new session's thread exists after its first turn)."""
        return history.exists(self.agent, self.config)

    def threads(self) -> list[str]:
        """The workspace's threads, most recently written first."""
        return history.threads(self.agent)

    def undo(self, step: int | None = None) -> str | Turn:
        """Go back through the checkpointer's history; nothing is deleted (artifacts are immutable and the old
        checkpoints stay).

        Args:
            step: None: set the last tool's results aside (the thread continues as if that tool had been
                cancelled; the request and attachments stay). A number: return the current plan to just before
                its step ``step`` ran; that step and the later ones wait for review again.

        Returns:
            the message added to the conversation (no step), or the turn now waiting (a step).

        Raises:
            SessionError: a decision is waiting (no step), or there is nothing to go back to.
        """
        self._writable()
        with _said_as_session_errors():
            if step is None:
                return history.undo_last(self.agent, self.config, self.log)
            history.back_to_step(self.agent, self.config, step)
        return self._run(None)

    def fork(self, step: int | None = None) -> Session:
        """A new thread that starts from this one's state (now, or just before step ``step`` of the current plan
        ran, with that step and the later ones waiting for review); this thread stays as it is.

        Returns:
            a session on the new thread, sharing this one's graph, workspace and models.
        """
        self._writable()
        forked = copy.copy(self)
        forked.thread_id = uuid.uuid4().hex
        forked.config = {"configurable": {**self.config["configurable"], "thread_id": forked.thread_id}}
        forked._cancel = threading.Event()
        with _said_as_session_errors():
            if history.fork(self.agent, self.config, forked.config, step):
                forked._run(None)
        return forked

    def recover(self) -> None:
        """If a run was cut off while a step ran (the process died, or the terminal stopped waiting), offer that
        step and the rest of its plan again as a decision; finished steps are kept and never re-run. If the step
        had in fact finished, the plan just goes on. Runs on construction; harmless when nothing was cut off."""
        self._recover()

    def _recover(self, claimed_only: bool = False) -> None:
        if history.cut_off(self.agent, self.config, self.log, claimed_only):
            for _ in self.agent.stream(None, self.config, stream_mode="custom", durability=DURABILITY):
                pass

    # -- internals -----------------------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.workspace.read_only:
            raise SessionError(f"workspace {self.workspace.root} is open read-only: its history, plans and "
                               "artifacts can be read, but nothing can be sent, approved or undone")

    def _nothing_waiting(self) -> None:
        if self.pending is not None:
            raise SessionError("a decision is waiting; approve(), edit() or reject() it first")
        choice = self.choice
        if choice is not None:
            raise SessionError(f"{len(choice.candidates)} candidates of {choice.tool} wait for a choice; choose one "
                               f"(1 to {len(choice.candidates)}) first")

    def _message(self, text: str | Sequence[Any], attachments: Sequence[Any]) -> tuple[HumanMessage, list[Any]]:
        """The request as the graph gets it: content blocks' pictures imported here, before any checkpoint, and
        attached after ``attachments`` (the message keeps a reference to each; see :mod:`~.graphs.intake`)."""
        if isinstance(text, str):
            return HumanMessage(text), list(attachments)
        try:
            taken = take_pictures(list(text), self.store, limit=self.workspace.attachment_limit)
        except BlockError as error:
            raise SessionError(str(error)) from None
        marked = {TAKEN: [artifact.id for artifact in taken.attachments]}
        return HumanMessage(taken.content, additional_kwargs=marked), [*attachments, *taken.attachments]

    def _artifact(self, artifact: Artifact | str) -> Artifact:
        try:
            return self.store.get(artifact.id if isinstance(artifact, Artifact) else str(artifact).strip())
        except ArtifactNotFound:
            raise SessionError(f"there is no artifact {artifact} in this workspace; /artifacts lists them") from None

    def _mask(self, mask: Artifact | str | None) -> str | None:
        """The id of the mask given with a request, checked to be a finished mask in the workspace."""
        if mask is None:
            return None
        found = self._artifact(mask)
        try:
            check_mask(found)
        except ValueError as error:
            raise SessionError(str(error)) from None
        return found.id

    def _resume(self, answer: dict[str, Any], seen: Decision | str | None) -> Turn:
        """Send an answer bound to the decision its person saw; one over the workspace's limit for what a person
        types never reaches the graph or a checkpoint."""
        self._writable()
        too_long = answer_too_long(answer, self.workspace.request_limit)
        if too_long:
            raise SessionError(too_long)
        shown = self._seen
        waiting = self.pending
        if waiting is None:  # a claim whose lease lapsed since this session opened: its step is offered again
            self._recover(claimed_only=True)
            waiting = self.pending
        if waiting is None:
            choice = self.choice
            if choice is not None:
                raise SessionError(f"{len(choice.candidates)} candidates wait for a choice, not a decision: "
                                   f"choose one, 1 to {len(choice.candidates)}")
            raise SessionError("nothing is waiting for a decision; send() a request first")
        seen = seen if seen is not None else shown or waiting
        fingerprint = seen.fingerprint if isinstance(seen, Decision) else str(seen)
        return self._run(Command(resume=bound(answer, fingerprint, by=self.person)))

    def _after_outage(self) -> None:
        """After the shared database went away mid-run: once it answers again, the cut-off step is offered again
        (as after a crash), so the thread goes on from what was recorded."""
        if self._outage:
            self.recover()
            self._outage = False

    def _run(self, graph_input: Any) -> Turn:
        self._after_outage()
        self._logged_policy()  # a switch made in another process applies from this run's next decision
        before = len(history.produced(self.agent, self.config))
        self._cancel.clear()
        try:
            for event in self.agent.stream(graph_input, self.config, stream_mode="custom", durability=DURABILITY):
                if self.on_progress is not None and isinstance(event, dict) and "progress" in event:
                    self.on_progress(event["progress"])
        except AlreadyApproved as error:  # another process answered the same decision first: it runs there
            return Turn(pending=None, text=str(error), artifacts=[])
        except AlreadyAnswered as error:  # another answer to what this person saw came first: it counts
            return Turn(pending=None, text=str(error), artifacts=[])
        except StorageUnavailable:  # the step stops here, said in one sentence; the thread waits for it to return
            self._outage = True
            raise
        snapshot = self.agent.get_state(self.config)
        return self._turn(snapshot, (snapshot.values.get("artifacts") or [])[before:])

    def _turn(self, snapshot: Any, made: Sequence[str]) -> Turn:
        """The thread's state as a turn: what waits (a decision or a choice, with its candidates), the text, and
        the artifacts ``made``."""
        value = snapshot.interrupts[0].value if snapshot.interrupts else None
        choice = Choice.from_interrupt(value)
        pending = Decision.from_interrupt(value) if value is not None and choice is None else None
        self._seen = pending
        text = pending.response if pending else snapshot.values.get("answer") or ""
        if choice is not None:
            text = choice.error or choice.as_text()
        return Turn(pending=pending, text=text, artifacts=[self.store.get(i) for i in made], choice=choice,
                    candidates=[self.store.get(i) for i in choice.candidates] if choice else [])


@contextmanager
def _said_as_session_errors() -> Iterator[None]:
    try:
        yield
    except history.HistoryError as error:
        raise SessionError(str(error)) from None


def _points(points: Sequence[Point | Mapping[str, Any]], latest: Mapping[str, Any] | None) -> list[Point]:
    """The person's clicks, checked to be points on the latest image or video (``latest``: its attachment dump).

    Raises:
        RegionError: a malformed click, or one off the picture.
    """
    try:
        clicks = [point if isinstance(point, Point) else Point.model_validate(point) for point in points]
    except ValidationError as error:
        raise RegionError(f"a click must be x and y in pixels, and positive or not ({error.errors()[0]['msg']})") \
            from None
    if clicks and latest is None:
        raise RegionError("clicks mark an object on an image; attach one first")
    if clicks and latest is not None:
        try:
            fit_to_media({"points": clicks}, (latest["width"], latest["height"]))
        except ValueError as error:
            raise RegionError(str(error)) from None
    return clicks


def _box(region: Box | Sequence[float] | str | None) -> Box | None:
    if region is None or isinstance(region, Box):
        return region
    if isinstance(region, str):
        return parse_box(region)
    return Box.of(region)
