"""The artifact files: content-addressed, immutable, never half-visible, and checked by hash when read.

A file lives at ``<folder>/<2 hex>/<sha256><suffix>``. The folder is the workspace's ``artifacts`` folder by
default, or a shared folder (``[storage] blobs = "/shared/vitron"``). With object storage (``blobs =
"s3://bucket/prefix"``) each file is uploaded under the same name below the prefix before its index row is
written, and the local folder becomes a cache that any process fills on demand: a file is downloaded to a
temporary name, its hash checked, and only then given its name.

A file is written under a temporary name, flushed, and hard-linked into place, so a crash leaves the whole file or
none; an S3 object appears only when its upload completes. Reading goes through :meth:`Blobs.local`, which checks
the bytes against the hash the index recorded (once per process and file), so a file changed or damaged where it
is stored is refused, never served.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vitron_agent.paths import TEMPORARY_PREFIX, publish, stage_file
from vitron_agent.storage import Storage, StorageUnavailable, first_line, needs_server_extra

__all__ = ["BlobDamaged", "Blobs"]

_CHUNK = 1 << 20
_LOOK_BEFORE_UPLOAD = 8 << 20
_STALE_TEMPORARY_SECONDS = 3600


class BlobDamaged(LookupError):
    """An artifact's file does not match its recorded hash (or is gone): refused, never served."""


class Blobs:
    """Content-addressed files in ``folder``, and in object storage at ``remote`` when given (the folder is then
    its cache).

    Raises:
        StorageUnavailable: the remote bucket does not exist, our credentials are refused, or it can't be reached.
    """

    def __init__(self, folder: Path, *, remote: str | None = None, read_only: bool = False) -> None:
        self.folder = folder
        self.remote = _Remote(remote) if remote else None
        self._checked: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        if not read_only:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._remove_stale_temporaries()

    @classmethod
    def of(cls, storage: Storage, workspace: Path, *, read_only: bool = False) -> Blobs:
        """The files of a workspace with this ``[storage]``: its shared folder, or its bucket with the workspace's
        ``artifacts`` folder as the cache, or that folder alone."""
        remote = storage.blobs if storage.remote_blobs else None
        return cls(storage.blob_folder or workspace / "artifacts", remote=remote, read_only=read_only)

    def path(self, sha: str, suffix: str) -> Path:
        """Where the file with this hash is (or, with object storage, is cached)."""
        return self.folder / sha[:2] / f"{sha}{suffix}"

    def put(self, chunks: Iterable[bytes], suffix: str) -> tuple[str, int]:
        """Store the bytes under their own hash, read-only; identical bytes already stored are kept as they are.
        With object storage the upload is complete when this returns.

        Returns:
            (sha256 hex digest, size in bytes)
        """
        staged, sha = self._stage(chunks)
        size = staged.stat().st_size
        os.chmod(staged, 0o444)
        target = self.path(sha, suffix)
        target.parent.mkdir(exist_ok=True)
        publish(staged, target)  # False means the identical file is already there, which is just as good
        if self.remote is not None:
            self.remote.upload(target, _key(sha, suffix))
        self._remember(sha, target)
        return sha, size

    def local(self, sha: str, suffix: str, *, name: str) -> Path:
        """The file with this hash on this machine, fetched into the cache first when it lives in object
        storage, and checked against the hash (once per process, while the file stays the same).

        Args:
            name: what the file is, for the message (an artifact's id).

        Raises:
            BlobDamaged: its bytes do not match the hash, or it is missing (nothing is served).
            StorageUnavailable: the object store can't be reached.
        """
        target = self.path(sha, suffix)
        if self._known_good(sha, target):
            return target
        if not target.is_file():
            if self.remote is None:
                raise BlobDamaged(f"the file of {name} is missing from {self.folder}; it can't be shown or used")
            self._fetch(sha, suffix, target, name)  # checked as it arrives
        elif _sha256(target) != sha:
            if self.remote is None:
                raise _damaged(name, str(self.folder))
            target.unlink(missing_ok=True)  # a damaged cached copy: fetch it again, once
            self._fetch(sha, suffix, target, name)
        self._remember(sha, target)
        return target

    def _stage(self, chunks: Iterable[bytes]) -> tuple[Path, str]:
        """The bytes in a new temporary file in the folder, flushed, and their SHA-256 taken on the way."""
        digest = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            for chunk in chunks:
                digest.update(chunk)
                yield chunk

        staged = stage_file(self.folder, hashed())
        return staged, digest.hexdigest()  # the digest is whole once the file is

    def _fetch(self, sha: str, suffix: str, target: Path, name: str) -> None:
        """Download into the cache; named only when its bytes match ``sha``."""
        assert self.remote is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        staged, fetched = self._stage(self.remote.download(_key(sha, suffix), name))
        if fetched != sha:
            staged.unlink(missing_ok=True)
            raise _damaged(name, self.remote.url)
        os.chmod(staged, 0o444)
        publish(staged, target)

    def _known_good(self, sha: str, target: Path) -> bool:
        with self._lock:
            stamp = self._checked.get(sha)
        return stamp is not None and stamp == _stamp(target)

    def _remember(self, sha: str, target: Path) -> None:
        stamp = _stamp(target)
        if stamp is not None:
            with self._lock:
                self._checked[sha] = stamp

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files a killed writer left behind; fresh ones may belong to a live writer."""
        cutoff = time.time() - _STALE_TEMPORARY_SECONDS
        for staged in self.folder.glob(f"{TEMPORARY_PREFIX}*"):
            try:
                if staged.stat().st_mtime < cutoff:
                    staged.unlink()
            except OSError:
                pass


class _Remote:
    """An S3 bucket and prefix through fsspec's s3fs; endpoint and credentials from the standard AWS settings."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:
            raise needs_server_extra(f"the storage blobs {url}", "s3fs") from None
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        self.bucket, self.root = parts.netloc, f"{parts.netloc}{parts.path}".rstrip("/")
        try:
            self.fs: Any = fsspec.filesystem("s3", config_kwargs={"connect_timeout": 5,
                                                                  "retries": {"max_attempts": 2}})
        except ImportError:
            raise needs_server_extra(f"the storage blobs {url}", "s3fs") from None
        with self._said():
            self.fs.info(self.bucket)  # exists, and our credentials are taken

    def upload(self, path: Path, key: str) -> None:
        """Put the file at ``key``. Content-addressed, so an object already there is this very file: a large
        one is looked for first, a small one is put again (one request instead of two; the bytes are the same)."""
        with self._said():
            if path.stat().st_size >= _LOOK_BEFORE_UPLOAD and self.fs.exists(f"{self.root}/{key}"):
                return
            self.fs.put_file(str(path), f"{self.root}/{key}")

    def download(self, key: str, name: str) -> Iterator[bytes]:
        with self._said(name), self.fs.open(f"{self.root}/{key}", "rb", block_size=_CHUNK) as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk

    @contextmanager
    def _said(self, name: str | None = None) -> Iterator[None]:
        """What S3 answers, as one sentence each: a missing bucket (or file), refused credentials, no connection."""
        try:
            yield
        except FileNotFoundError:
            if name is not None and self.fs.exists(self.bucket):
                raise BlobDamaged(f"the file of {name} is missing from {self.url}; it can't be shown or used") \
                    from None
            raise StorageUnavailable(f"the bucket {self.bucket} of the storage blobs {self.url} does not exist; "
                                     "create it, or correct [storage] blobs") from None
        except PermissionError as error:
            raise StorageUnavailable(f"the object store refused our credentials for {self.url} "
                                     f"({first_line(error)}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") \
                from None
        except Exception as error:
            if not isinstance(error, (OSError, ConnectionError)) and "Endpoint" not in type(error).__name__:
                raise
            endpoint = os.environ.get("AWS_ENDPOINT_URL") or "S3"
            raise StorageUnavailable(f"the object store at {endpoint} can't be reached for {self.url} "
                                     f"({first_line(error)}); try again when it is back") from None


def _key(sha: str, suffix: str) -> str:
    return f"{sha[:2]}/{sha}{suffix}"


def _damaged(name: str, where: str) -> BlobDamaged:
    return BlobDamaged(f"the file of {name} in {where} does not match its recorded hash (it was changed or damaged "
                       "where it is kept); it is refused, not served")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stats = path.stat()
    except OSError:
        return None
    return stats.st_size, stats.st_mtime_ns
