"""A vision tool's MCP answer in MCP's own types: the JSON text as before, and beside it an ``outputSchema``'d
``structuredContent`` object, a ``resource_link`` per artifact, and each picture small enough as an
``ImageContent`` a client shows as it is. Every artifact is a resource (``artifact://<id><suffix>``), read with
``resources/read``.

Usage::

    server.add_tool(call, ...)                  # whose return annotation is ToolAnswer
    return answered(text, store)                # from that call: a CallToolResult
    add_artifact_resources(server, store)
"""

from __future__ import annotations

import base64
import json
from typing import Any

from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, ConfigDict, Field

from vitron_agent.artifacts import ArtifactNotFound, ArtifactStore

__all__ = ["INLINE_IMAGE_BYTES", "RESOURCE_TYPES", "ToolAnswer", "add_artifact_resources", "answered"]

INLINE_IMAGE_BYTES = 2 * 2**20
"""A picture up to this size travels inside the answer as an ImageContent; a larger one only as its resource."""
RESOURCE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                  ".gif": "image/gif", ".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
                  ".mkv": "video/x-matroska", ".avi": "video/x-msvideo", ".bmp": "image/bmp", ".tiff": "image/tiff"}
"""The artifact resources' suffixes and content types (one resource template each)."""
SHOWN = ("image", "preview")


class ToolAnswer(BaseModel):
    """What a vision tool, or ``approve_decision``, answers (its ``structuredContent``)."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="done, needs_approval or rejected")
    text: str = Field("", description="what happened, in words, when it ran")
    artifacts: list[dict[str, Any]] = Field(default_factory=list, description="what it made: id, kind, path, ...")
    decision: Any = Field(None, description="the decision to show the person (needs_approval), or its id")
    message: str = Field("", description="what to do next")


def answered(text: str, store: ArtifactStore) -> CallToolResult:
    """The tool's JSON answer as MCP content: the text first (as clients have always read it), then each
    artifact's resource link and, for a picture up to ``INLINE_IMAGE_BYTES``, the picture itself."""
    data = json.loads(text)
    content: list[Any] = [TextContent(type="text", text=text)]
    for brief in data.get("artifacts") or []:
        try:
            artifact = store.get(str(brief.get("id")))
        except ArtifactNotFound:
            continue
        suffix = artifact.path.suffix.lower()
        content.append(ResourceLink(type="resource_link", uri=f"artifact://{artifact.id}{suffix}",
                                    name=f"{artifact.kind} {artifact.id}", mime_type=artifact.media_type,
                                    size=artifact.size))
        if artifact.kind in SHOWN and artifact.size <= INLINE_IMAGE_BYTES:
            data_b64 = base64.b64encode(store.local_path(artifact).read_bytes()).decode()
            content.append(ImageContent(type="image", data=data_b64, mime_type=artifact.media_type))
    return CallToolResult(content=content, structured_content=ToolAnswer.model_validate(data).model_dump(mode="json"))


def add_artifact_resources(server: Any, store: ArtifactStore) -> None:
    """One resource template per suffix, so each artifact is read with its own content type."""
    for suffix, mime in RESOURCE_TYPES.items():
        server.resource(f"artifact://{{artifact_id}}{suffix}", name=f"artifact{suffix}", mime_type=mime,
                        description=f"an artifact of the workspace stored as {suffix} (its id before the suffix)")(
            _reader(store, suffix))


def _reader(store: ArtifactStore, suffix: str) -> Any:
    def read(artifact_id: str) -> bytes:
        from mcp.server.mcpserver.exceptions import ResourceError

        try:
            artifact = store.get(artifact_id[:64])
        except ArtifactNotFound:
            raise ResourceError(f"there is no artifact {artifact_id[:64]} in this workspace") from None
        if artifact.path.suffix.lower() != suffix:
            raise ResourceError(f"artifact {artifact.id} is a {artifact.path.suffix} file, not {suffix}")
        return store.local_path(artifact).read_bytes()

    return read
