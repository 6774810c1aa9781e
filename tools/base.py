"""The tool protocol: what a tool declares, what it gets while running, and what it returns.

A tool is one class in one file: a ``name``, the Vitron ``module`` it serves (or None), a pydantic ``Args`` model
(for built-in tools, the typed call from :mod:`vitron_agent.calls`), whether it has ``side_effects``, and
``run(args, ctx) -> ToolResult``. Optionally, ``describe(args, workspace) -> str`` (``args`` as JSON
data) says which backend and checkpoint a call would run on; the decision shows it before anything runs; and
``weight_families``, the ``(family, default source)`` pairs of :mod:`vitron_agent.weights` it may load, lets
``vitron-agent doctor`` say whether they are on this machine; and ``outputs``, the artifact kinds a later plan
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
            image = load_image(ctx.store.get(args.image).path)
            ctx.report(1, 1, "converted")
            artifact = ctx.store.add(encode_image(image.convert("L")), kind="image", suffix=".png",
                                     parents=[args.image], call=ctx.call)
            return ToolResult(artifacts=(artifact.id,), text="made it gray")
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pathlib import Path

    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.decisions import DecisionLog
    from vitron_agent.invocation import Module

__all__ = [
    "Tool",
    "ToolCancelled",
    "ToolContext",
    "ToolResult",
    "call_arguments",
    "describe_call",
    "outside_decision",
    "run_logged",
]


class ToolCancelled(Exception):
    """Raised by :meth:`ToolContext.check_cancelled` when the person cancelled the running tool."""


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


def call_arguments(args: BaseModel) -> dict[str, Any]:
    """A validated call's arguments as JSON-able data, as records keep them (a built-in call model's own
    ``arguments()``, without its notes; any other pydantic model dumped whole)."""
    from vitron_agent.calls import ToolCall

    return args.arguments() if isinstance(args, ToolCall) else args.model_dump(mode="json")


def describe_call(tool: Any, args: dict[str, Any], workspace: Path) -> str | None:
    """What the tool says a call would run on (its optional ``describe``); None when it does not say. A
    description is a courtesy: its failure is told in the text, never raised."""
    describe = getattr(tool, "describe", None)
    if describe is None:
        return None
    try:
        return str(describe(args, workspace))
    except Exception as error:
        return f"unknown ({type(error).__name__}: {error})"


def outside_decision(thread: str, tool: Any, record: dict[str, Any], *, action: str, by: str) -> dict[str, Any]:
    """A decision-log entry for a call made outside the graph (LangChain tools, the MCP server): a new id in
    ``thread``, the tool and its module, the arguments as recorded, and who decided what."""
    return {"id": f"{thread}/{uuid.uuid4().hex}", "tool": tool.name,
            "module": tool.module.value if tool.module else None, "args": record, "action": action, "by": by}


def run_logged(tool: Any, record: dict[str, Any], decision_id: str, *, store: ArtifactStore, log: DecisionLog,
               models: Any) -> ToolResult:
    """Run a call whose approval is already in the decision log, for callers outside the graph (LangChain tools,
    the MCP server), and record its outcome; a failure is recorded, then raised."""
    ctx = ToolContext(store=store, call={"tool": tool.name, "args": record}, models=models)
    try:
        result = tool.run(tool.Args.model_validate(record), ctx)
    except Exception as error:
        log.finish(decision_id, "failed", (), f"{type(error).__name__}: {error}")
        raise
    log.finish(decision_id, "ok", result.artifacts, result.text)
    return result
