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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.invocation import Module

__all__ = ["Tool", "ToolCancelled", "ToolContext", "ToolResult"]


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
