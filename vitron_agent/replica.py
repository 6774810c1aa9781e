"""One replica's work: run a shipped tool call (or plan a turn with the Vitron planner) on this machine's model
manager, as it would run locally.

Each request runs in a scratch workspace of its own (a temporary folder holding the caller's tool settings):
the inputs are adopted there under their own ids (their bytes from the request, or fetched from the shared
files), the tool runs with the usual :class:`~vitron_agent.tools.ToolContext`, and everything it wrote goes back
in the reply. The folder is removed afterwards; the loaded models stay, in the replica's one
:class:`~vitron_agent.models.ModelManager`, shared by every session that calls it.

This module knows nothing of Ray: :mod:`vitron_agent.ray_execution` wraps it in a Serve deployment, and tests can
run it directly.

Usage::

    work = ReplicaWork("sd", memory="6GB")
    outcome = work.run(request, emit=events.append, cancelled=lambda: False)
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vitron_agent.shipping import (
    Failure,
    PlanReply,
    PlanRequest,
    Progress,
    Shipped,
    ToolReply,
    ToolRequest,
    settings_toml,
)

if TYPE_CHECKING:
    from vitron_agent.artifacts import ArtifactStore

__all__ = ["ReplicaWork"]


class ReplicaWork:
    """The state one replica keeps between calls: its tools, its model manager and its counters.

    Args:
        family: the model family this replica serves (for its stats).
        memory: the model manager's memory budget ("6GB"); by default the replica's ``gpu_share`` of what the
            manager would take of the whole GPU, or the manager's own default on the CPU.
    """

    def __init__(self, family: str, *, memory: str | None = None, gpu_share: float = 0.0) -> None:
        from vitron_agent.models import ModelManager
        from vitron_agent.tools import load_tools

        self.family = family
        self.models = ModelManager(budget=memory)
        if memory is None and 0 < gpu_share < 1 and self.models.device.startswith("cuda"):
            self.models = ModelManager(budget=int(self.models.budget() * gpu_share))
        self.tools = load_tools()
        self.scratch = Path(tempfile.mkdtemp(prefix=f"vitron-{family}-"))
        self._lock = threading.Lock()
        self.runs = self.cancelled = self.ongoing = 0

    def run(self, request: ToolRequest | PlanRequest, *, emit: Callable[[Any], None],
            cancelled: Callable[[], bool]) -> ToolReply | PlanReply | Failure:
        """Run ``request``'s call (tool progress goes to ``emit`` as :class:`Progress`), or plan its turn (the
        planner's text goes to ``emit`` piece by piece); every failure, cancellation included, is a
        :class:`Failure`, never raised."""
        self._count(ongoing=1, runs=1)
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            if cancelled():  # cancelled while it waited for a worker: nothing starts
                from vitron_agent.tools import ToolCancelled

                raise ToolCancelled("cancelled by the person")
            with self._scratch(folder, request) as store:
                if isinstance(request, PlanRequest):
                    return self._plan(store, request, emit)
                return self._run_tool(store, request, emit, cancelled)
        except BaseException as error:  # the caller turns it into the sentence a local run would give
            failure = Failure.of(error)
            if failure.kind == "cancelled":
                self._count(cancelled=1)
            return failure
        finally:
            self._count(ongoing=-1)
            shutil.rmtree(folder, ignore_errors=True)

    def stats(self) -> dict[str, Any]:
        """What ``vitron-agent doctor`` shows for this replica: loaded models, counters, calls in progress."""
        with self._lock:
            counters = {"runs": self.runs, "cancelled": self.cancelled, "ongoing": self.ongoing}
        return {"family": self.family, **self.models.stats(), **counters}

    @contextmanager
    def _scratch(self, folder: Path, request: ToolRequest | PlanRequest) -> Iterator[ArtifactStore]:
        """A workspace in ``folder`` with the caller's tool settings and the request's inputs, under their ids."""
        from vitron_agent.artifacts import ArtifactStore
        from vitron_agent.blobs import Blobs
        from vitron_agent.storage import Storage

        if request.settings:
            (folder / "vitron.toml").write_text(settings_toml(request.settings))
        blobs = Blobs.of(Storage(blobs=request.blobs), folder) if request.blobs else None
        with ArtifactStore(folder, blobs=blobs) as store:
            for item in request.inputs:
                store.adopt(item.artifact, [item.data] if item.data is not None else None)
            yield store

    def _run_tool(self, store: ArtifactStore, request: ToolRequest, emit: Callable[[Any], None],
                  cancelled: Callable[[], bool]) -> ToolReply:
        from vitron_agent.tools import ToolContext, validated_args

        tool = self.tools.get(request.tool)
        if tool is None:
            raise LookupError(f"this replica has no tool {request.tool!r}; install the same plugins on every worker")
        ctx = ToolContext(store=store, call=request.call, cancelled=cancelled, models=self.models,
                          progress=lambda done, total, message: emit(Progress(done=done, total=total,
                                                                               message=message)))
        result = tool.run(validated_args(tool, request.args, store.find), ctx)
        given = {item.artifact.id for item in request.inputs}
        outputs = [Shipped(artifact=made, data=None if request.blobs else store.local_path(made).read_bytes())
                   for made in store.list() if made.id not in given]
        return ToolReply(artifacts=result.artifacts, text=result.text, outputs=outputs)

    def _plan(self, store: ArtifactStore, request: PlanRequest, emit: Callable[[Any], None]) -> PlanReply:
        from vitron_agent.planners.base import AttachmentFiles
        from vitron_agent.planners.vitron import VitronPlanner

        planner = VitronPlanner(request.source, workspace=store.root, models=self.models, on_text=emit,
                                max_new_tokens=request.max_new_tokens, temperature=request.temperature,
                                quantize=request.quantize)
        planner.files = AttachmentFiles(store.root, store=store)
        return PlanReply(text=planner.plan(request.messages, request.attachments, request.region))

    def _count(self, **changes: int) -> None:
        with self._lock:
            for name, change in changes.items():
                setattr(self, name, getattr(self, name) + change)
