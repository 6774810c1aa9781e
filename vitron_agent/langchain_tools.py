"""The vision tools as LangChain tools, for agents that bring their own planner and their own confirmation.

Each tool keeps its typed arguments (its pydantic ``Args`` is the LangChain ``args_schema``), its name and a
description that says which Vitron module it serves and whether it changes anything; ``metadata`` carries
``side_effects`` and ``module`` and side-effecting tools are tagged ``"side_effects"``, so an agent can put its
own confirmation in front of exactly those. Tools run through the same store and model manager as a session, and
each call is written to the decision log (``by: "langchain caller"``) before it runs, so nothing runs untraced.
An ``import_media`` tool brings a file into the store and answers with the artifact id the others take; a
``choose`` tool keeps one of the candidates a call made (``candidates`` 2 to 4).

Usage::

    tools = as_langchain_tools("workspace")
    agent = create_agent(model, tools)          # langchain's agent, or LangGraph's ToolNode
    [t.name for t in tools if t.metadata["side_effects"]]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["as_langchain_tools"]

THREAD = "langchain"
"""The decision log's thread for calls made through these tools."""


class Choose(BaseModel):
    """Keep one of the candidates a run made."""

    artifact: str = Field(description="The id of the candidate to keep, from the artifacts the run returned.")


class ImportMedia(BaseModel):
    """Bring an image or video file into the store."""

    path: str = Field(description="Path of an image or video file, inside the workspace or an allowed folder.")


def as_langchain_tools(
    workspace: str | os.PathLike[str],
    *,
    tools: Iterable[Any] | None = None,
    models: Any = None,
    import_roots: Sequence[str | os.PathLike[str]] = (),
) -> list[Any]:
    """LangChain ``StructuredTool`` objects for the vision tools (and ``import_media``).

    Args:
        workspace: the open workspace (share a session's to share its store, log and loaded models), or its
            folder.
        tools: tool classes or instances; by default the built-ins and installed plugins.
        models: when ``workspace`` is a folder: the model manager to load through.
        import_roots: when ``workspace`` is a folder: folders ``import_media`` may read from, besides the
            workspace (never ``/`` or the home folder; the current folder only if named here).

    Returns:
        The tools; each returns its text, with the made artifacts (id, kind, path) as the tool message's artifact.
    """
    from langchain_core.tools import StructuredTool, ToolException

    from vitron_agent.choices import ChoiceError, choose_outside
    from vitron_agent.paths import refuse_broad_roots
    from vitron_agent.tools import load_tools, recover_interrupted
    from vitron_agent.workspace import Workspace

    # the folder an agent happens to run in is no root: the model behind it could read whatever lies there
    opened = Workspace.of(workspace, import_roots=refuse_broad_roots(import_roots), models=models)
    recover_interrupted(opened, THREAD)  # calls a dead process left running are logged interrupted
    store = opened.store
    made = [_as_structured_tool(tool, opened) for tool in load_tools(tools).values()]

    def import_media(path: str) -> tuple[str, list[dict[str, Any]]]:
        try:
            artifact = store.import_file(path)
        except (ValueError, OSError) as error:  # outside the roots, or not usable media: a sentence for the agent
            raise ToolException(str(error)) from None
        return f"Imported {artifact.kind} {artifact.id} ({artifact.meta['width']}x{artifact.meta['height']}).", [
            artifact.brief()]

    def choose(artifact: str) -> str:
        try:
            return choose_outside(opened.log, store, artifact, thread=THREAD, by="langchain caller")
        except ChoiceError as error:
            raise ToolException(str(error)) from None

    made.append(StructuredTool.from_function(
        choose, name="choose", args_schema=Choose, handle_tool_error=True,
        description="Keep one of the candidates a vision tool made (called with candidates 2 to 4): records the "
                    "choice; the others are marked not chosen. Ask the person which one first.",
        metadata={"side_effects": False, "module": None},
    ))
    made.append(StructuredTool.from_function(
        import_media, name="import_media", args_schema=ImportMedia, response_format="content_and_artifact",
        description="Bring an image or video file into vitron-agent's store; answers with the artifact id that "
                    "the vision tools take as `image` or `video`. Changes nothing.",
        metadata={"side_effects": False, "module": None}, handle_tool_error=True,
    ))
    return made


def _as_structured_tool(tool: Any, workspace: Any) -> Any:
    from langchain_core.tools import StructuredTool, ToolException

    from vitron_agent.tools import (
        ToolFailed,
        call_arguments,
        outside_decision,
        run_logged,
        tool_description,
        validated_args,
    )

    module = tool.module

    def run(**arguments: Any) -> tuple[str, list[dict[str, Any]]]:
        try:  # LangChain validated the schema; what is left is fitting a region to its image
            record = call_arguments(validated_args(tool, arguments, workspace.store.find))
        except ValueError as error:
            raise ToolException(str(error)) from None
        decision = outside_decision(THREAD, tool, record, action="approve", by="langchain caller")
        workspace.log.record(THREAD, decision)
        try:
            result = run_logged(tool, record, decision.id, workspace)
        except ToolFailed as error:  # one line with the fix, as LangChain's tool error (the agent sees it)
            raise ToolException(str(error)) from None
        made = [workspace.store.get(i).brief() for i in result.artifacts]
        choose = " Ask the person which candidate to keep, then call choose." if any("candidate" in m for m in made) \
            else ""
        return (result.text or "Done.") + choose, made

    confirm = " Confirm with the person first." if tool.side_effects else ""
    return StructuredTool.from_function(
        run, name=tool.name, args_schema=tool.Args, response_format="content_and_artifact",
        description=f"{tool_description(tool)}{confirm} Images and videos are artifact ids (see import_media).",
        metadata={"side_effects": tool.side_effects, "module": module.value if module else None},
        tags=["side_effects"] if tool.side_effects else [], handle_tool_error=True,
    )

