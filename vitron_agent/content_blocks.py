"""Pictures inside a message: LangChain's standard content blocks (and the shapes clients send) become attachments.

A client that speaks LangChain's messages puts a photo in the message itself: Agent Chat UI's "Upload PDF or
Image", a LangGraph SDK call, a LangChain agent. Each picture block is decoded under the media limits and imported
into the store (deduplicated by content), and in the thread it becomes a small reference block
(``{"type": "image", "file_id": <artifact id>, "mime_type": ...}``), so no checkpoint holds its bytes. Read:

- LangChain's ``image``, ``video`` and ``file`` blocks: ``base64`` (with ``mime_type``), ``url`` holding a data URL,
  ``file_id`` naming an artifact of this workspace; the older ``source_type`` form too;
- the camelCase form Agent Chat UI sends (``mimeType``, ``data``);
- OpenAI's ``image_url`` with a data URL.

Nothing fetches an http(s) URL: one is refused in a sentence (its host is named). Each picture counts against
``[limits] attachment_bytes``, not against the request's text limit.

Usage::

    taken = take_pictures(message.content, store, limit=20 * 2**20)
    taken.content        # the message's content, each picture replaced by its reference
    taken.attachments    # the imported artifacts, in order
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from vitron_agent.artifacts import Artifact, ArtifactStore
from vitron_agent.config import DEFAULT_ATTACHMENT_BYTES
from vitron_agent.media import MediaError

__all__ = ["DEFAULT_ATTACHMENT_BYTES", "BlockError", "Taken", "take_pictures", "text_of"]

SUFFIXES = {"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/png": ".png", "image/webp": ".webp",
            "image/gif": ".gif", "image/bmp": ".bmp", "image/tiff": ".tiff", "video/mp4": ".mp4",
            "video/webm": ".webm", "video/quicktime": ".mov", "video/x-matroska": ".mkv", "video/x-msvideo": ".avi"}
"""The media types a block may carry, and the file suffix each is imported with."""
PICTURE_TYPES = ("image", "video", "file", "image_url", "media")


class BlockError(ValueError):
    """A content block that can't become an attachment, said in one sentence."""


@dataclass
class Taken:
    """A message's content with its pictures imported."""

    content: list[Any] = field(default_factory=list)
    attachments: list[Artifact] = field(default_factory=list)


def text_of(content: Any) -> str:
    """The words of a message's content (its text blocks, joined), without any picture's bytes."""
    if isinstance(content, str):
        return content
    parts = [block if isinstance(block, str) else block.get("text", "") for block in content or []
             if isinstance(block, str) or (isinstance(block, Mapping) and block.get("type") == "text")]
    return "\n".join(part for part in parts if part)


def take_pictures(content: Any, store: ArtifactStore, *, limit: int = DEFAULT_ATTACHMENT_BYTES) -> Taken:
    """Import every picture block of ``content``; text blocks stay as they are.

    Raises:
        BlockError: a block is corrupt, too large, not an image or video, names no artifact here, or is a URL.
    """
    taken, spent = Taken(), 0
    for number, block in enumerate(content if isinstance(content, list) else [content], 1):
        if not isinstance(block, Mapping) or block.get("type") not in PICTURE_TYPES:
            taken.content.append(block)
            continue
        where = f"picture {number}" if len(content) > 1 else "the picture"
        artifact = _known(block, store, where)
        if artifact is None:
            data, mime = _bytes(block, where, limit - spent)
            spent += len(data)
            artifact = _imported(data, mime, store, where)
        taken.attachments.append(artifact)
        taken.content.append({"type": "video" if artifact.kind == "video" else "image", "file_id": artifact.id,
                              "mime_type": artifact.media_type})
    return taken


def _known(block: Mapping[str, Any], store: ArtifactStore, where: str) -> Artifact | None:
    """The artifact a ``file_id`` (or the older ``source_type: id``) block names; None for a block with bytes."""
    ref = block.get("file_id") or (block.get("id") if block.get("source_type") == "id" else None)
    if ref is None:
        return None
    found = store.find(str(ref)[:64])
    if found is None or found.kind not in ("image", "video"):
        raise BlockError(f"{where} names file {str(ref)[:64]!r}, which is no image or video of this workspace")
    return found


def _bytes(block: Mapping[str, Any], where: str, room: int) -> tuple[bytes, str]:
    """The block's decoded bytes and media type, refused past ``room`` bytes before decoding."""
    url = block.get("url") or block.get("image_url")
    url = url.get("url") if isinstance(url, Mapping) else url
    mime = str(block.get("mime_type") or block.get("mimeType") or "").lower()
    encoded = block.get("base64") or block.get("data")
    if isinstance(url, str) and url:
        if not url.startswith("data:"):
            host = urlparse(url).hostname or url[:40]
            raise BlockError(f"{where} is a link to {host}; nothing here fetches links: put the picture itself in "
                             "the message")
        header, comma, encoded = url[5:].partition(",")
        if not comma or not header.endswith(";base64"):
            raise BlockError(f"{where} is a data URL without base64 data")
        mime = header.removesuffix(";base64").lower() or mime
    if not isinstance(encoded, str) or not encoded:
        raise BlockError(f"{where} carries no data: send it as base64 with its mime type, or name an artifact by "
                         "file_id")
    if mime not in SUFFIXES:
        raise BlockError(f"{where} is {mime or 'of no stated type'}, not an image or video this workspace reads "
                         f"({', '.join(sorted({m.split('/')[1] for m in SUFFIXES}))})")
    if len(encoded) * 3 // 4 > room:
        raise BlockError(f"{where} is about {len(encoded) * 3 // 4 / 2**20:.1f} MiB, over what one message may carry "
                         "([limits] attachment_bytes in vitron.toml)")
    try:
        return base64.b64decode(encoded, validate=True), mime
    except (binascii.Error, ValueError):
        raise BlockError(f"{where} is not valid base64") from None


def _imported(data: bytes, mime: str, store: ArtifactStore, where: str) -> Artifact:
    """The bytes imported through the store, which decodes them within the media limits."""
    with tempfile.TemporaryDirectory(prefix="vitron-block-") as folder:
        path = Path(folder) / f"attached{SUFFIXES[mime]}"
        path.write_bytes(data)
        try:
            return store.import_file(path, grant=True)
        except MediaError as error:
            raise BlockError(f"{where} can't be used: {error.reason}") from None

