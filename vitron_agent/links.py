"""Links to artifacts that a browser can open: an unguessable token for each artifact, signed with the workspace's
own key, and an expiry.

A result shown in another program (Agent Chat UI, any LangGraph SDK client) is a URL served by the LangGraph server
itself (``graphs/routes.py``): ``<base>/artifacts/<id>.<expires>.<signature><suffix>``. The signature is an HMAC of
the id and expiry under a random key kept in the workspace (``link.key``, made once, readable by its owner only),
so a link can't be guessed or altered, and one past its expiry is refused. Nothing else of the workspace is
reachable through it.

Usage::

    links = ArtifactLinks(workspace_root, "http://127.0.0.1:2024")
    url = links.url(artifact)                  # for a message
    artifact_id = links.check(token)           # in the route; LinkError when wrong or expired
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from vitron_agent.artifacts import Artifact

__all__ = ["LINK_TTL_S", "PUBLIC_URL_ENV", "ArtifactLinks", "LinkError"]

LINK_TTL_S = 30 * 24 * 3600
"""How long a link stays good: a month, so a conversation's pictures stay visible while it is in use."""
PUBLIC_URL_ENV = "VITRON_PUBLIC_URL"
"""Where clients reach the LangGraph server (``langgraph.json``'s ``env``), for the links in messages."""


class LinkError(ValueError):
    """A link that is malformed, signed by another key, or past its expiry."""


class ArtifactLinks:
    """Signs and checks artifact links for one workspace."""

    def __init__(self, root: str | os.PathLike[str], base_url: str, *, ttl_s: int = LINK_TTL_S) -> None:
        self.base_url, self.ttl_s = base_url.rstrip("/"), ttl_s
        self._key = _key(Path(root).expanduser().resolve() / "link.key")

    def token(self, artifact_id: str, *, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_s)
        return f"{artifact_id}.{expires}.{self._sign(artifact_id, expires)}"

    def url(self, artifact: Artifact) -> str:
        return f"{self.base_url}/artifacts/{self.token(artifact.id)}{artifact.path.suffix}"

    def check(self, token: str) -> str:
        """The artifact id a token names.

        Raises:
            LinkError: malformed, a wrong signature, or expired.
        """
        name = token.split("/")[-1][:200]
        artifact_id, _, rest = name.partition(".")
        expires, _, signature = rest.partition(".")
        signature = signature.split(".")[0]  # the suffix that follows it
        if not artifact_id or not expires.isdigit() or not hmac.compare_digest(
                signature.encode(), self._sign(artifact_id, int(expires)).encode()):
            raise LinkError("that link is not one this server made")
        if int(expires) < time.time():
            raise LinkError("that link has expired; ask for the result again to get a new one")
        return artifact_id

    def _sign(self, artifact_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{artifact_id}.{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def _key(path: Path) -> bytes:
    """The workspace's link key, made on first use (readable by its owner only; of two processes making it at
    once, one writes it and both read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            text = path.read_text().strip()
            if len(text) == 64:
                return bytes.fromhex(text)
            time.sleep(0.02)  # being written by the process that made it
        raise LinkError(f"the link key {path} is unreadable; delete it to make a new one (old links then stop)")
    fresh = secrets.token_hex(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(fresh)
    return bytes.fromhex(fresh)
