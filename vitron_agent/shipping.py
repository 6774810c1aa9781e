"""What crosses between the graph and a tool replica on another process or machine, as typed models.

A :class:`ToolRequest` carries the typed call's arguments, the call record its artifacts are stamped with, the
workspace's settings a tool reads (weights, segmentation, defaults: never ``[storage]``, whose URLs may hold
passwords) and each input artifact: its
record, and its bytes unless the artifact files are in shared storage, where the replica fetches them itself. The
replica streams :class:`Progress` events and ends with a :class:`ToolReply` (its outputs, shipped the same way) or
a :class:`Failure`. The caller stores the outputs with :func:`store_reply`: the same kind, parents, call, seed and
model id, so the ids are the ones a local run gives.

Usage::

    request = pack_request(tool, call, ctx, blobs="s3://bucket/vitron")
    ...                                          # the replica: vitron_agent.replica.ReplicaWork.run(request, ...)
    result = store_reply(reply, ctx)             # a ToolResult, as tool.run gives
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from vitron_agent.artifacts import Artifact

if TYPE_CHECKING:
    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.tools import ToolContext, ToolResult

__all__ = ["TOOL_SETTINGS", "Failure", "PlanReply", "PlanRequest", "Progress", "Shipped", "ToolReply", "ToolRequest",
           "pack_request", "settings_toml", "shipped", "store_reply", "tool_settings"]

_ARTIFACT_ID = re.compile(r"[0-9a-f]{16}")
TOOL_SETTINGS = ("weights", "segmentation", "defaults", "limits")
"""The ``vitron.toml`` sections that decide what a tool loads and does, sent with each call."""


class Shipped(BaseModel):
    """One artifact crossing to or from a replica: its record, and its bytes unless the files are shared."""

    artifact: Artifact
    data: bytes | None = None


class ToolRequest(BaseModel):
    """One approved call, as a replica runs it."""

    tool: str
    args: dict[str, Any]
    call: dict[str, Any]
    inputs: list[Shipped]
    settings: dict[str, Any] = {}
    """the workspace's ``vitron.toml`` sections a tool reads (:data:`TOOL_SETTINGS`), as checked data"""
    blobs: str | None = None
    """the shared artifact files (``s3://...`` or a shared folder) the inputs are in and the outputs go to"""

    @property
    def size(self) -> int:
        """Bytes this request puts on the wire, near enough: the shipped files and the texts."""
        return sum(len(item.data or b"") for item in self.inputs) + len(str(self.settings)) + len(str(self.args))


class PlanRequest(BaseModel):
    """One turn for the Vitron planner on its deployment: what the graph's planner would be given, with the
    latest image and video it looks at shipped as a tool call's inputs are."""

    source: str
    """the release (LoRA folder or hub id), as in ``vitron:<source>``"""
    messages: list[Any]
    """the conversation, as LangChain messages"""
    attachments: list[Any]
    region: Any = None
    inputs: list[Shipped]
    settings: dict[str, Any] = {}
    blobs: str | None = None
    max_new_tokens: int = 512
    temperature: float = 0.0
    quantize: str | None = None

    @property
    def size(self) -> int:
        return sum(len(item.data or b"") for item in self.inputs) + len(str(self.settings)) + \
            sum(len(str(message.content)) for message in self.messages)


class PlanReply(BaseModel):
    """The planner's answer, as Vitron text."""

    text: str


class Progress(BaseModel):
    done: float
    total: float
    message: str = ""


class ToolReply(BaseModel):
    """What the tool returned, and every artifact it wrote, in the order it wrote them."""

    artifacts: tuple[str, ...]
    text: str
    outputs: list[Shipped]


class Failure(BaseModel):
    """The tool did not finish on the replica; :meth:`error` is the exception a local run would have raised, so
    people are told the same sentence wherever it ran."""

    kind: Literal["cancelled", "memory", "missing", "weights", "failed"]
    message: str
    missing: str | None = None

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        from vitron_agent.tools import ToolCancelled
        from vitron_agent.weights import WeightsUnavailable

        if isinstance(error, ToolCancelled):
            return cls(kind="cancelled", message=str(error))
        if isinstance(error, MemoryError):
            return cls(kind="memory", message=str(error))
        if isinstance(error, ImportError):
            return cls(kind="missing", message=str(error), missing=getattr(error, "name", None))
        if isinstance(error, WeightsUnavailable):
            return cls(kind="weights", message=str(error))
        return cls(kind="failed", message=str(error))

    def error(self) -> BaseException:
        from vitron_agent.tools import ToolCancelled
        from vitron_agent.weights import WeightsUnavailable

        if self.kind == "cancelled":
            return ToolCancelled(self.message)
        if self.kind == "memory":
            return MemoryError(self.message)
        if self.kind == "missing":
            return ImportError(self.message, name=self.missing)
        if self.kind == "weights":
            return WeightsUnavailable(self.message)
        return RuntimeError(self.message)


def shipped(store: ArtifactStore, artifact: Artifact, *, with_data: bool) -> Shipped:
    """``artifact`` ready to cross: with its bytes (read through the store, so checked) unless ``with_data`` is
    False."""
    return Shipped(artifact=artifact, data=store.local_path(artifact).read_bytes() if with_data else None)


def pack_request(tool: str, args: dict[str, Any], ctx: ToolContext, *, blobs: str | None) -> ToolRequest:
    """The request for one call: every artifact its arguments name goes with it (as bytes, unless ``blobs``
    names the shared files the replica reads too), and the workspace's tool settings."""
    inputs = [shipped(ctx.store, artifact, with_data=blobs is None)
              for artifact in _named_artifacts(args, ctx.store)]
    return ToolRequest(tool=tool, args=args, call=dict(ctx.call), inputs=inputs, blobs=blobs,
                       settings=tool_settings(ctx.store.root))


def tool_settings(root: Path) -> dict[str, Any]:
    """The workspace's :data:`TOOL_SETTINGS` sections, as checked data."""
    from vitron_agent.weights import settings

    configured = settings(root)
    return {name: configured[name] for name in TOOL_SETTINGS if name in configured}


def settings_toml(settings: dict[str, Any]) -> str:
    """``settings`` (sections of tables of plain values, as :data:`TOOL_SETTINGS` hold) written back as TOML, for
    a replica's scratch workspace. JSON's strings, numbers, booleans and lists are TOML's too."""
    lines: list[str] = []

    def table(name: str, values: dict[str, Any]) -> None:
        plain = {key: value for key, value in values.items() if not isinstance(value, dict)}
        if plain:
            lines.append(f"[{name}]")
            lines.extend(f"{json.dumps(key)} = {json.dumps(value)}" for key, value in plain.items())
        for key, value in values.items():
            if isinstance(value, dict):
                table(f"{name}.{json.dumps(key)}", value)

    for section, values in settings.items():
        table(json.dumps(section), values)
    return "\n".join(lines) + "\n"


def store_reply(reply: ToolReply, ctx: ToolContext) -> ToolResult:
    """Store what the replica made, each with the provenance it was made with; returns the tool's result in this
    workspace's ids (the same ids, since an id is a hash of the file and its provenance)."""
    from vitron_agent.tools import ToolResult

    renamed: dict[str, str] = {}
    for item in reply.outputs:
        made, parents = item.artifact, [renamed.get(p, p) for p in item.artifact.parents]
        provenance = {"kind": made.kind, "suffix": made.path.suffix, "parents": parents, "call": made.call,
                      "seed": made.seed, "model_id": made.model_id, "meta": made.meta}
        stored = ctx.store.add(item.data, **provenance) if item.data is not None else \
            ctx.store.add_stored(made.sha256, made.size, **provenance)
        renamed[made.id] = stored.id
    return ToolResult(artifacts=tuple(renamed.get(i, i) for i in reply.artifacts), text=reply.text)


def _named_artifacts(value: Any, store: ArtifactStore) -> Iterator[Artifact]:
    """The artifacts a call's arguments name (any string that is an artifact id of this store), once each."""
    seen: set[str] = set()

    def walk(item: Any) -> Iterator[Artifact]:
        if isinstance(item, dict):
            for inner in item.values():
                yield from walk(inner)
        elif isinstance(item, (list, tuple)):
            for inner in item:
                yield from walk(inner)
        elif isinstance(item, str) and item not in seen and _ARTIFACT_ID.fullmatch(item):
            seen.add(item)
            found = store.find(item)
            if found is not None:
                yield found

    return walk(value)
