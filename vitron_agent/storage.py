"""Where a workspace keeps what several processes share: the ``[storage]`` setting.

By default everything is in the workspace folder: three SQLite files and the ``artifacts`` folder, the embedded
setup that needs nothing installed. A deployment that serves many people from several processes or machines
names shared stores instead, in ``vitron.toml`` or the environment (which wins)::

    [storage]
    database = "postgresql://vitron@db.internal/vitron"   # or VITRON_DATABASE_URL
    blobs = "s3://bucket/vitron"                          # or VITRON_BLOBS_URL; a shared folder also works

``database`` holds the LangGraph checkpoints, the decision log and the artifact index; ``blobs`` holds the
artifact files, content-addressed as in the folder. S3's endpoint and credentials come from the standard AWS
settings (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), so any S3-compatible store works. Both need the
``server`` extra. A URL is shown to people only through :func:`redacted`, which drops the password.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict

__all__ = ["Storage", "StorageUnavailable", "first_line", "needs_server_extra", "redacted"]

DATABASE_ENV = "VITRON_DATABASE_URL"
BLOBS_ENV = "VITRON_BLOBS_URL"
SERVER_EXTRA = "pip install 'vitron-agent[server]'"


class StorageUnavailable(ValueError):
    """A shared store that can't be used now: unreachable, refused, missing, or from a newer version. The message
    is one sentence naming it (never its password) and what to do."""


class Storage(BaseModel):
    """The shared stores a workspace uses; None for each means the workspace folder (the default)."""

    model_config = ConfigDict(frozen=True)

    database: str | None = None
    blobs: str | None = None

    @classmethod
    def of(cls, root: Path) -> Storage:
        """The workspace's ``[storage]`` with the environment over it, checked.

        Raises:
            ValueError: a database that is not a PostgreSQL URL, or blobs that are neither S3 nor a folder.
        """
        from vitron_agent.weights import settings

        configured = settings(root).get("storage", {})
        database = os.environ.get(DATABASE_ENV) or configured.get("database") or None
        blobs = os.environ.get(BLOBS_ENV) or configured.get("blobs") or None
        if database and urlsplit(database).scheme not in ("postgresql", "postgres"):
            raise ValueError(f"the storage database {redacted(database)} is not a postgresql:// URL; leave it out to "
                             "keep SQLite in the workspace")
        if blobs and "://" in blobs and urlsplit(blobs).scheme not in ("s3", "file"):
            raise ValueError(f"the storage blobs {redacted(blobs)} are neither an s3:// URL nor a folder")
        return cls(database=database, blobs=blobs)

    @property
    def remote_blobs(self) -> bool:
        """Whether artifact files live in object storage (read through a local cache) rather than a folder."""
        return bool(self.blobs) and urlsplit(self.blobs).scheme == "s3"

    @property
    def blob_folder(self) -> Path | None:
        """The shared folder that holds the artifact files, when ``blobs`` names one."""
        if not self.blobs or self.remote_blobs:
            return None
        path = urlsplit(self.blobs).path if self.blobs.startswith("file://") else self.blobs
        return Path(path).expanduser().resolve()


def redacted(url: str) -> str:
    """``url`` with its password left out, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}"))


def needs_server_extra(what: str, module: str) -> StorageUnavailable:
    """The error for a shared store whose client library is not installed."""
    return StorageUnavailable(f"{what} needs the server extra ({module} is not installed): {SERVER_EXTRA}")


def first_line(error: BaseException) -> str:
    """What a client library said, in one line, for a sentence of ours (never the exception's class name)."""
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else "no reason given"
