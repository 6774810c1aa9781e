"""One workspace, opened once: its folder, artifact store, decision log, settings and model manager.

Where the index, the log and the checkpoints live is the workspace's ``[storage]`` setting (see
:mod:`vitron_agent.storage`): SQLite files in the folder by default, or one shared PostgreSQL database (and the
artifact files in a shared folder or object storage) for a deployment of many processes.

Everything that works on a workspace takes this object: the graph (``build_agent``), ``Session``, the planners
that read pixels, ``as_langchain_tools`` and the MCP server. Opening it once means one store and one decision log
per process (each with its SQLite connection), and one model manager, so a model loads once however many
surfaces use it. Each of them also accepts a path, and then opens the workspace itself.

Usage::

    workspace = Workspace("vitron-workspace", import_roots=[Path.cwd()])
    session = Session(workspace, RulePlanner())
    tools = as_langchain_tools(workspace)          # the same store, log and loaded models
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vitron_agent.postgres import open_postgres
from vitron_agent.storage import Storage
from vitron_agent.weights import settings

if TYPE_CHECKING:
    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.decisions import DecisionLog
    from vitron_agent.models import ModelManager

__all__ = ["Workspace", "WorkspaceUnavailable", "root_of"]


class WorkspaceUnavailable(ValueError):
    """A workspace that can't be opened as asked (its disk is full or read-only, or a file in it is damaged);
    the message says which, and what can still be done."""


class Workspace:
    """A workspace folder with everything opened on it.

    Args:
        root: the folder (created if missing, unless ``read_only``).
        import_roots: folders, besides the workspace, that files may be imported from when no person named them.
        models: the model manager to load through; a new one (nothing loaded until used) by default.
        read_only: open an existing workspace for reading its history and artifacts only (nothing is written:
            for a workspace on a read-only or full disk).

    Raises:
        ValueError: its ``vitron.toml`` is not valid TOML (the message names it).
        WorkspaceUnavailable: its disk is full or read-only, or its databases are unreadable.
        StorageUnavailable: its shared database or object store can't be used (one sentence, no password).
    """

    def __init__(self, root: str | os.PathLike[str], *, import_roots: Sequence[str | os.PathLike[str]] = (),
                 models: ModelManager | None = None, read_only: bool = False) -> None:
        from vitron_agent.artifacts import ArtifactStore
        from vitron_agent.blobs import Blobs
        from vitron_agent.decisions import DecisionLog
        from vitron_agent.models import ModelManager

        self.root = Path(root).expanduser().resolve()
        self.read_only = read_only
        with self.opening():
            if read_only and not self.root.is_dir():
                raise WorkspaceUnavailable(f"there is no workspace at {self.root} to read")
            self.root.mkdir(parents=True, exist_ok=True)
            self.storage = Storage.of(self.root)  # a broken vitron.toml is said at once, not at the first call
            self.database = open_postgres(self.storage.database) if self.storage.database else None
            try:
                self.store: ArtifactStore = ArtifactStore(
                    self.root, import_roots=import_roots, read_only=read_only, database=self.database,
                    blobs=Blobs.of(self.storage, self.root, read_only=read_only))
                self.log: DecisionLog = DecisionLog(self.root, read_only=read_only, database=self.database,
                                                    lease_s=self.claim_lease)
            except BaseException:
                if self.database is not None:
                    self.database.close()
                raise
        self.models: ModelManager = models or ModelManager()
        self._runner: Any = None
        self._links: Any = None

    @property
    def runner(self) -> Any:
        """Where tools run (``[execution]``, see :mod:`vitron_agent.execution`): a ``LocalRunner``, or a
        ``RayRunner`` (which needs the ``ray`` extra only when a call runs); chosen when first asked, then kept
        (its connection with it).

        Raises:
            ValueError: ``[execution]`` says something undocumented (the message names it).
        """
        if self._runner is None:
            from vitron_agent.execution import Execution, LocalRunner

            execution = Execution.of(self.root)
            if execution.remote:
                from vitron_agent.ray_execution import RayRunner

                self._runner = RayRunner(execution, self.root, blobs=self.storage.blobs)
            else:
                self._runner = LocalRunner(self.root)
        return self._runner

    def checkpointer(self) -> Any:
        """LangGraph's SqliteSaver on ``checkpoints.sqlite`` here (read-only when the workspace is), set up now;
        or, with a shared database, its PostgresSaver (set up when the database was opened).

        Raises:
            WorkspaceUnavailable: as for opening the workspace.
        """
        from vitron_agent.database import sqlite_checkpointer

        if self.database is not None:
            return self.database.checkpointer()
        with self.opening():
            return sqlite_checkpointer(self.root / "checkpoints.sqlite", read_only=self.read_only)

    @contextmanager
    def opening(self) -> Iterator[None]:
        """Turn what SQLite and the disk say when a file of the workspace can't be opened or written into one
        sentence a person can act on (:class:`WorkspaceUnavailable`)."""
        try:
            yield
        except (sqlite3.Error, OSError) as error:
            raise WorkspaceUnavailable(self._unavailable(error)) from error

    def _unavailable(self, error: BaseException) -> str:
        said = str(error).lower()
        code = getattr(error, "errno", None)
        if self.read_only:
            return f"workspace {self.root} can't be read: {str(error).strip() or 'a file in it is unreadable'}"
        if "full" in said or code in (errno.ENOSPC, errno.EDQUOT) or _free_bytes(self.root) < _NEARLY_FULL:
            return (f"workspace {self.root} is full: free space on its disk, then open it again (its history can be "
                    "read with --read-only)")
        if "readonly" in said or code in (errno.EROFS, errno.EACCES, errno.EPERM) or not _writable(self.root):
            return f"workspace {self.root} is read-only: its history can be read with --read-only"
        return f"workspace {self.root} can't be opened: {str(error).strip() or 'a file in it is damaged'}"

    @classmethod
    def of(cls, workspace: Workspace | str | os.PathLike[str], **options: Any) -> Workspace:
        """``workspace`` itself when it is already open, else a new one on that folder with ``options``."""
        return workspace if isinstance(workspace, Workspace) else cls(workspace, **options)

    @property
    def config(self) -> dict[str, Any]:
        """The workspace's ``vitron.toml`` as read now (people edit it between runs)."""
        return settings(self.root)

    @property
    def request_limit(self) -> int:
        """The longest request, in bytes of UTF-8, a person may send (``[limits] request_bytes``)."""
        from vitron_agent.config import DEFAULT_REQUEST_BYTES

        return int(self.config.get("limits", {}).get("request_bytes", DEFAULT_REQUEST_BYTES))

    @property
    def links(self) -> Any:
        """Signed links to this workspace's artifacts (:class:`~vitron_agent.links.ArtifactLinks`), under the
        LangGraph server's address (``VITRON_PUBLIC_URL``, default ``langgraph dev``'s)."""
        from vitron_agent.links import PUBLIC_URL_ENV, ArtifactLinks

        if self._links is None:
            self._links = ArtifactLinks(self.root, os.environ.get(PUBLIC_URL_ENV) or "http://127.0.0.1:2024")
        return self._links

    @property
    def attachment_limit(self) -> int:
        """The most a message's pictures may weigh, in bytes (``[limits] attachment_bytes``)."""
        from vitron_agent.config import DEFAULT_ATTACHMENT_BYTES

        return int(self.config.get("limits", {}).get("attachment_bytes", DEFAULT_ATTACHMENT_BYTES))

    @property
    def claim_lease(self) -> float:
        """Seconds a running step's claim holds after its last heartbeat (``[limits] claim_lease_s``)."""
        from vitron_agent.config import DEFAULT_CLAIM_LEASE_S

        return float(self.config.get("limits", {}).get("claim_lease_s", DEFAULT_CLAIM_LEASE_S))

    def defaults(self, tool: str) -> dict[str, Any]:
        """The argument values ``tool``'s calls start from (``[defaults.<tool>]``), where the planner leaves them
        out: a workspace that always wants four candidates, or fewer steps."""
        return dict(self.config.get("defaults", {}).get(tool, {}))

    def close(self) -> None:
        """Close the store's and the log's databases (loaded models stay with the manager)."""
        self.store.close()
        self.log.close()
        if self.database is not None:
            self.database.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"


_NEARLY_FULL = 64 * 1024
"""Free bytes below which a failed write is put down to a full disk (SQLite says "disk I/O error" when the
shared-memory file it maps can't grow)."""


def _free_bytes(folder: Path) -> int:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    try:
        stats = os.statvfs(existing)
    except OSError:
        return _NEARLY_FULL
    return stats.f_bavail * stats.f_frsize


def _writable(folder: Path) -> bool:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    return os.access(existing, os.W_OK)


def root_of(workspace: Workspace | str | os.PathLike[str] | None) -> Path | None:
    """The folder of an open workspace or of a path (None stays None), for code that only reads its files."""
    if workspace is None:
        return None
    return workspace.root if isinstance(workspace, Workspace) else Path(workspace).expanduser().resolve()
