"""One tool replica's work: run a shipped call on this machine's model manager, as the tool would run locally.

Each request runs in a scratch workspace of its own (a temporary folder holding the caller's tool settings):
the inputs are adopted there under their own ids (their bytes from the request, or fetched from the shared
files), the tool runs with the usual :class:`~vitron_agent.tools.ToolContext`, and everything it wrote goes back
in the reply. The folder is removed afterwards; the loaded models stay, in the replica's one
:class:`~vitron_agent.models.ModelManager`, shared by every session that calls it.

This module knows nothing of Ray: :mod:`vitron_agent.ray_execution` wraps it in a Serve deployment, and tests can
run it directly.

Usage::

    work = ReplicaWork("sd", memory="6GB")
    outcome = work.run(request, progress=lambda done, total, message: ..., cancelled=lambda: False)
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vitron_agent.shipping import Failure, Shipped, ToolReply, ToolRequest, settings_toml

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

    def run(self, request: ToolRequest, *, progress: Callable[[float, float, str], None],
            cancelled: Callable[[], bool]) -> ToolReply | Failure:
        """Run ``request``'s call; every failure, cancellation included, is a :class:`Failure`, never raised."""
        self._count(ongoing=1, runs=1)
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            return self._run_in(folder, request, progress, cancelled)
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

    def _run_in(self, folder: Path, request: ToolRequest, progress: Callable[[float, float, str], None],
                cancelled: Callable[[], bool]) -> ToolReply:
        from vitron_agent.artifacts import ArtifactStore
        from vitron_agent.blobs import Blobs
        from vitron_agent.storage import Storage
        from vitron_agent.tools import ToolContext, validated_args

        tool = self.tools.get(request.tool)
        if tool is None:
            raise LookupError(f"this replica has no tool {request.tool!r}; install the same plugins on every worker")
        if request.settings:
            (folder / "vitron.toml").write_text(settings_toml(request.settings))
        blobs = Blobs.of(Storage(blobs=request.blobs), folder) if request.blobs else None
        with ArtifactStore(folder, blobs=blobs) as store:
            for item in request.inputs:
                store.adopt(item.artifact, [item.data] if item.data is not None else None)
            ctx = ToolContext(store=store, call=request.call, progress=progress, cancelled=cancelled,
                              models=self.models)
            result = tool.run(validated_args(tool, request.args, store.find), ctx)
            given = {item.artifact.id for item in request.inputs}
            outputs = [Shipped(artifact=made, data=None if request.blobs else store.local_path(made).read_bytes())
                       for made in store.list() if made.id not in given]
        return ToolReply(artifacts=result.artifacts, text=result.text, outputs=outputs)

    def _count(self, **changes: int) -> None:
        with self._lock:
            for name, change in changes.items():
                setattr(self, name, getattr(self, name) + change)
