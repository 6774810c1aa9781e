"""The tool protocol: what a tool declares, what it gets while running, and what it returns.

A tool is one class in one file: a ``name``, the Vitron ``module`` it serves (or None), a pydantic ``Args`` model
(for built-in tools, the typed call from :mod:`vitron_agent.calls`), whether it has ``side_effects``, and
``run(args, ctx) -> ToolResult``. Optionally, ``describe(args, workspace)`` (``args`` as JSON data) says what a
call would run on: a :class:`~vitron_agent.readiness.RunsOn` (backend, weights families, packages) or just a
string; the decision shows it, and whether the call can run here, before anything runs; and
``weight_families``, the :class:`~vitron_agent.weights.Family` objects it may load, lets ``vitron-agent doctor``
and ``vitron-agent pull`` find its weights; and ``outputs``, the artifact kinds a later plan
step may take from it (``"@2"`` in an ``image`` argument needs step 2's tool to list ``"image"``; by-products
such as previews are left out).
Heavy libraries are imported inside ``run`` (or a lazy setup it calls), never at import, so listing tools stays
cheap.

Usage (a third-party tool)::

    class Grayscale:
        name = "grayscale"
        module = Module.C
        Args = EditImage
        side_effects = True

        def run(self, args: EditImage, ctx: ToolContext) -> ToolResult:
            image = load_image(ctx.store.local_path(args.image))
            ctx.report(1, 1, "converted")
            artifact = ctx.store.add(encode_image(image.convert("L")), kind="image", suffix=".png",
                                     parents=[args.image], call=ctx.call)
            return ToolResult(artifacts=(artifact.id,), text="made it gray")
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from vitron_agent.readiness import Readiness, RunsOn, check, install_command

if TYPE_CHECKING:
    from pathlib import Path

    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.decisions import LogEntry
    from vitron_agent.invocation import Module
    from vitron_agent.workspace import Workspace

__all__ = [
    "Tool",
    "ToolCancelled",
    "ToolContext",
    "ToolFailed",
    "ToolResult",
    "call_arguments",
    "candidate_meta",
    "call_record",
    "describe_call",
    "failure_text",
    "outside_decision",
    "readiness",
    "recover_interrupted",
    "run_logged",
    "seeds_text",
    "store_candidates",
    "unfinished_note",
    "validated_args",
]

logger = logging.getLogger("vitron_agent.tools")


class ToolCancelled(Exception):
    """Raised by :meth:`ToolContext.check_cancelled` when the person cancelled the running tool."""


class ToolFailed(RuntimeError):
    """A call outside the graph could not run, or its tool failed; the message is one line for people."""


class ToolResult(BaseModel):
    """What a tool produced: the ids of its artifacts, and a short text for the conversation."""

    model_config = ConfigDict(frozen=True)

    artifacts: tuple[str, ...] = ()
    text: str = ""


@runtime_checkable
class Tool(Protocol):
    """One tool. Built-in tools and plugins are registered the same way (see :mod:`vitron_agent.tools`)."""

    name: ClassVar[str]
    module: ClassVar[Module | None]
    Args: ClassVar[type[BaseModel]]
    side_effects: ClassVar[bool]

    def run(self, args: Any, ctx: ToolContext) -> ToolResult: ...


def _no_progress(done: float, total: float, message: str) -> None:
    return None


def _never_cancelled() -> bool:
    return False


@dataclass
class ToolContext:
    """What a running tool may use: the artifact store, progress, cancellation, and (later) the model manager.

    ``call`` is the record of the call being run (``{"tool": ..., "args": ...}``); pass it as ``call=`` when
    adding artifacts so each knows what made it.
    """

    store: ArtifactStore
    call: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[float, float, str], None] = _no_progress
    cancelled: Callable[[], bool] = _never_cancelled
    models: Any = None

    def report(self, done: float, total: float, message: str = "") -> None:
        """Tell the UI how far along the tool is (``done`` of ``total``); cheap, call it per step."""
        self.progress(done, total, message)

    def check_cancelled(self) -> None:
        """Raise :class:`ToolCancelled` if the person asked to stop; call it between steps."""
        if self.cancelled():
            raise ToolCancelled("cancelled by the person")


def candidate_meta(number: int, count: int) -> dict[str, Any]:
    """What marks result ``number`` of ``count`` candidates in its artifact's ``meta`` (nothing for a lone
    result): the graph waits for the person to choose among a step's candidates before anything uses one."""
    return {"candidate": number, "candidates": count} if count > 1 else {}


def store_candidates(ctx: ToolContext, files: Iterable[bytes], seeds: Sequence[int], *, kind: str, suffix: str,
                     model_id: str, meta: dict[str, Any], parents: Sequence[str] = ()) -> tuple[str, ...]:
    """Store one result per seed (``files`` in seed order) from one run: each with its own seed and, when there
    are several, its candidate mark. Returns their ids, in order."""
    return tuple(ctx.store.add(data, kind=kind, suffix=suffix, parents=list(parents), call=ctx.call, seed=seed,
                               model_id=model_id, meta={**meta, **candidate_meta(number, len(seeds))}).id
                 for number, (data, seed) in enumerate(zip(files, seeds, strict=True), start=1))


def seeds_text(seeds: list[int]) -> str:
    """``seed 7`` or ``seeds 7 to 10``, for a result's text."""
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]} to {seeds[-1]}"


def call_arguments(args: BaseModel) -> dict[str, Any]:
    """A validated call's arguments as JSON-able data, as records keep them (a built-in call model's own
    ``arguments()``, without its notes; any other pydantic model dumped whole)."""
    from vitron_agent.calls import ToolCall

    return args.arguments() if isinstance(args, ToolCall) else args.model_dump(mode="json")


def validated_args(tool: Any, args: dict[str, Any], media: Callable[[str], Any] | None = None) -> BaseModel:
    """The tool's typed arguments from JSON data.

    Args:
        media: the store's ``find`` (artifact id to artifact or None); given, the image or video a call names is
            checked: an unfinished run's output is refused, a region is clipped to its size and clicks outside
            it are refused (see ``ToolCall``).

    Raises:
        CallError: naming the tool and each argument that is wrong, in words a planner or person can act on.
    """
    from pydantic import ValidationError

    from vitron_agent.calls import CallError

    try:
        return tool.Args.model_validate(dict(args), context={"media": media} if media else None)
    except ValidationError as error:
        raise CallError.from_validation(tool.name, error) from None


def call_record(tool: Any, args: BaseModel | dict[str, Any], *, run: str | None = None) -> dict[str, Any]:
    """``{"tool": name, "args": ..., "run": decision id}``: how a call is kept with the artifacts it made
    (``ToolContext.call``); the run ties each artifact to its entry in the decision log."""
    record = {"tool": tool.name, "args": call_arguments(args) if isinstance(args, BaseModel) else dict(args)}
    return {**record, "run": run} if run else record


def unfinished_note(message: str, kept: tuple[str, ...]) -> str:
    """``message`` (why a run stopped) followed by what happened to the outputs it wrote first (set aside)."""
    if not kept:
        return message
    count = f"{len(kept)} output{'s' if len(kept) > 1 else ''}"
    stop = "" if message.endswith((".", "!", "?")) else "."
    return (f"{message}{stop} The {count} it wrote before stopping {'are' if len(kept) > 1 else 'is'} kept apart "
            "and never used later.")


def describe_call(tool: Any, args: dict[str, Any], workspace: Path) -> RunsOn | None:
    """What the tool says a call would run on (its optional ``describe``); None when it does not say. A
    description is a courtesy: its failure is told in the text, never raised."""
    describe = getattr(tool, "describe", None)
    if describe is None:
        return None
    try:
        described = describe(args, workspace)
    except Exception as error:
        logger.debug("describe of %s failed", tool.name, exc_info=True)
        return RunsOn(f"unknown ({error})")
    return described if isinstance(described, RunsOn) else RunsOn(str(described))


def readiness(tool: Any, args: dict[str, Any], workspace: Path) -> Readiness:
    """Whether a call can run on this machine, from what the tool says it runs on (ready when it does not say)."""
    runs_on = describe_call(tool, args, workspace)
    return check(runs_on, workspace) if runs_on is not None else Readiness()


def failure_text(tool: Any, error: BaseException) -> str:
    """What people are told when a tool raised: what went wrong and what to do, never an exception's class name.
    The traceback goes to the ``vitron_agent.tools`` logger, for developers."""
    from vitron_agent.weights import WeightsUnavailable

    if isinstance(error, MemoryError):
        return f"{tool.name} ran out of memory; try a smaller input, or free memory and approve it again."
    if isinstance(error, ImportError):
        missing = getattr(error, "name", None) or "a package"
        return (f"{tool.name} can't run here: it needs {missing}, which is not installed. To fix: "
                f"{install_command('vision')}")
    logger.warning("%s failed", tool.name, exc_info=error)
    if isinstance(error, WeightsUnavailable):
        return f"{tool.name} can't run here: {error}"
    reason = str(error).strip().strip("'\"") or "it stopped without saying why (details in the log)"
    return f"{tool.name} failed: {reason}"


def outside_decision(thread: str, tool: Any, record: dict[str, Any], *, action: str, by: str,
                     **extra: Any) -> LogEntry:
    """A decision-log entry for a call made outside the graph (LangChain tools, the MCP server): a new id in
    ``thread``, the tool and its module, the arguments as recorded, and who decided what."""
    from vitron_agent.decisions import LogEntry

    return LogEntry(id=f"{thread}/{uuid.uuid4().hex}", tool=tool.name,
                    module=tool.module.value if tool.module else None, args=record, action=action, by=by, **extra)


def run_logged(tool: Any, record: dict[str, Any], decision_id: str, workspace: Workspace) -> ToolResult:
    """Run a call whose approval is already in the decision log, for callers outside the graph (LangChain tools,
    the MCP server), and record its outcome.

    Raises:
        ToolFailed: the call can't run here, or the tool failed; the message is for people and is what the log
            records as the reason.
    """
    from vitron_agent.claims import running
    from vitron_agent.decisions import AlreadyApproved

    log = workspace.log
    with running() as claimer:
        won, entry = log.claim(decision_id, claimer)
        if not won:  # another process took it first: it runs there, exactly once
            raise ToolFailed(str(AlreadyApproved(tool.name, entry)))
        ready = workspace.runner.readiness(tool, record)
        if not ready.can_run:
            message = ready.line(tool.name)
            log.finish(decision_id, "failed", (), message)
            raise ToolFailed(message)
        store = workspace.store
        ctx = ToolContext(store=store, call=call_record(tool, record, run=decision_id), models=workspace.models)
        try:
            result = workspace.runner.run(tool, validated_args(tool, record, store.find), ctx)
        except Exception as error:
            kept = store.set_aside(decision_id, "failed")
            message = unfinished_note(failure_text(tool, error), kept)
            log.finish(decision_id, "failed", kept, message)
            raise ToolFailed(message) from None
    log.finish(decision_id, "ok", result.artifacts, result.text)
    return result


def recover_interrupted(workspace: Workspace, thread: str) -> list[str]:
    """Calls made outside the graph whose run never finished (its process died, or the run was abandoned):
    each is logged ``interrupted``, and an approved proposal is offered again (its approval can be given, or it
    can be rejected). Returns the ids of the runs it found.

    The graph's threads recover the same way on their own (:func:`vitron_agent.graphs.history.cut_off`); this is
    for the MCP server and the LangChain tools, which call it when they open a workspace.
    """
    from vitron_agent.claims import claim_is_stale

    log, found = workspace.log, []
    entries = log.list(thread)
    for entry in entries:
        if entry.outcome != "running" or not claim_is_stale(entry):
            continue
        log.finish(entry.id, "interrupted", (), "the process stopped while the tool was running")
        if entry.proposal:
            log.reopen(entry.proposal, was="approved")
        found.append(entry.id)
    started = {entry.proposal for entry in entries if entry.proposal and entry.outcome is not None}
    for entry in entries:  # approved, then the server died before the run took its claim: offered again
        if entry.action != "propose" or entry.outcome != "approved" or entry.id in started or \
                not claim_is_stale(entry):
            continue
        for approval in (e for e in entries if e.proposal == entry.id and e.outcome is None):
            log.finish(approval.id, "interrupted", (), "the process stopped before the tool started")
        if log.reopen(entry.id, was="approved", claimer=entry.claimed_by):
            found.append(entry.id)
    return found
