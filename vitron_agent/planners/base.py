"""The planner protocol: the one thing the graph asks of Vitron, a chat model, or a script.

A planner reads the conversation (LangChain messages, the person's corrections included), the attached media and
the person's region, and answers with either Vitron-format text (``"Sure. <module>B</module> ..."``, or a plain
answer) or typed calls (a :class:`~vitron_agent.calls.ToolCall`, or a LangChain-style ``{"name", "args"}``
mapping). The graph parses and validates whatever comes back; it never needs to know which planner it has.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.calls import Attachment, ToolCall
    from vitron_agent.regions import Box
    from vitron_agent.workspace import Workspace

__all__ = ["AttachmentFiles", "Planner", "PlannerOutput"]

PlannerOutput = Union[str, "ToolCall", Mapping[str, Any]]
"""Vitron-format text, a typed call, or a ``{"name": tool, "args": {...}}`` mapping."""


@runtime_checkable
class Planner(Protocol):
    """Anything with this one method can plan for the agent graph."""

    def plan(
        self, messages: Sequence[BaseMessage], attachments: Sequence[Attachment], region: Box | None
    ) -> PlannerOutput: ...


class AttachmentFiles:
    """The files behind attachments, for planners that look at pixels (Vitron, chat models with images).

    Attachments carry artifact ids; the files are in the workspace's store: ``store`` when given (a replica's
    scratch store), an open workspace's own, or one opened on first use when only a folder was given.
    """

    def __init__(self, workspace: Workspace | str | os.PathLike[str] | None, *,
                 store: ArtifactStore | None = None) -> None:
        from vitron_agent.workspace import Workspace, root_of

        self.workspace = root_of(workspace)
        self._store: ArtifactStore | None = store or (workspace.store if isinstance(workspace, Workspace) else None)

    def path(self, attachment: Attachment) -> Path:
        """Raises:
            ValueError: no workspace was given, so attachments cannot be read.
        """
        if self.workspace is None:
            raise ValueError("this planner needs the workspace to read attachments; pass workspace=")
        if self._store is None:  # the workspace's own store: its [storage] may put it in a shared database
            from vitron_agent.workspace import Workspace

            self._store = Workspace(self.workspace).store
        return self._store.local_path(attachment.ref)
