"""One workspace, opened once: its folder, artifact store, decision log, settings and model manager.

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

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vitron_agent.weights import settings

if TYPE_CHECKING:
    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.decisions import DecisionLog
    from vitron_agent.models import ModelManager

__all__ = ["Workspace", "root_of"]


class Workspace:
    """A workspace folder with everything opened on it.

    Args:
        root: the folder (created if missing).
        import_roots: folders, besides the workspace, that files may be imported from when no person named them.
        models: the model manager to load through; a new one (nothing loaded until used) by default.

    Raises:
        ValueError: its ``vitron.toml`` is not valid TOML (the message names it).
    """

    def __init__(self, root: str | os.PathLike[str], *, import_roots: Sequence[str | os.PathLike[str]] = (),
                 models: ModelManager | None = None) -> None:
        from vitron_agent.artifacts import ArtifactStore
        from vitron_agent.decisions import DecisionLog
        from vitron_agent.models import ModelManager

        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        settings(self.root)  # a broken vitron.toml is said at once, not at the first call
        self.store: ArtifactStore = ArtifactStore(self.root, import_roots=import_roots)
        self.log: DecisionLog = DecisionLog(self.root)
        self.models: ModelManager = models or ModelManager()

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

    def close(self) -> None:
        """Close the store's and the log's databases (loaded models stay with the manager)."""
        self.store.close()
        self.log.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"


def root_of(workspace: Workspace | str | os.PathLike[str] | None) -> Path | None:
    """The folder of an open workspace or of a path (None stays None), for code that only reads its files."""
    if workspace is None:
        return None
    return workspace.root if isinstance(workspace, Workspace) else Path(workspace).expanduser().resolve()
