"""Tools (installed as ``vitron_agent.tools``): the protocol, the built-in tools, and plugins.

A tool is declared once, in its own file: its name, the Vitron module it serves (or none), its typed ``Args``,
a ``description`` for models and people, whether it has side effects, and what it makes (``outputs``). Everything
else is derived from the loaded tools: which tool serves a module, what a plan step makes, the schemas a chat
model is offered, the LangChain tools and the MCP tool list.

Built-in tools and third-party ones are found the same way: built-ins are listed in :data:`BUILTIN`, plugins
declare an entry point in the group ``vitron_agent.tools`` pointing at a tool class (or instance)::

    [project.entry-points."vitron_agent.tools"]
    grayscale = "my_package.grayscale:Grayscale"

A plugin that fails to load is skipped with a warning that names it; it never stops the others.

Usage::

    tools = load_tools()                       # built-ins + plugins, by name
    tool = tool_for_module(tools, Module.B)    # the tool that serves Vitron's module B
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel
from vitron_agent.tools.base import (
    Tool,
    ToolCancelled,
    ToolContext,
    ToolFailed,
    ToolResult,
    call_arguments,
    call_record,
    describe_call,
    failure_text,
    outside_decision,
    readiness,
    recover_interrupted,
    run_logged,
    unfinished_note,
    validated_args,
)

from vitron_agent.invocation import Module

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "Tool",
    "ToolCancelled",
    "ToolContext",
    "ToolFailed",
    "ToolResult",
    "builtin_tools",
    "call_arguments",
    "call_record",
    "check_tool",
    "describe_call",
    "failure_text",
    "load_tools",
    "made_kind",
    "tool_description",
    "outside_decision",
    "readiness",
    "recover_interrupted",
    "run_logged",
    "tool_for_module",
    "unfinished_note",
    "validated_args",
]

ENTRY_POINT_GROUP = "vitron_agent.tools"

BUILTIN: tuple[str, ...] = (
    "vitron_agent.tools.generate_image:GenerateImageTool",
    "vitron_agent.tools.edit_image:EditImageTool",
    "vitron_agent.tools.generate_video:GenerateVideoTool",
    "vitron_agent.tools.edit_video:EditVideoTool",
    "vitron_agent.tools.animate_image:AnimateImageTool",
    "vitron_agent.tools.segment_image:SegmentImageTool",
    "vitron_agent.tools.segment_video:SegmentVideoTool",
)
"""``"module:Class"`` of each built-in tool, imported only when the tools are loaded."""


def check_tool(candidate: Any) -> Tool:
    """Instantiate a tool class if needed and check it declares what the protocol asks.

    Raises:
        TypeError: naming the tool and what it lacks.
    """
    tool = candidate() if isinstance(candidate, type) else candidate
    label = getattr(tool, "name", None) or type(tool).__name__
    problems = []
    if not isinstance(getattr(tool, "name", None), str) or not tool.name:
        problems.append("a non-empty str `name`")
    module = getattr(tool, "module", "missing")
    if module is not None and not isinstance(module, Module):
        problems.append("`module`, a vitron_agent.Module or None")
    args = getattr(tool, "Args", None)
    if not (isinstance(args, type) and issubclass(args, BaseModel)):
        problems.append("`Args`, a pydantic model class")
    if not isinstance(getattr(tool, "side_effects", None), bool):
        problems.append("`side_effects`, a bool")
    if not callable(getattr(tool, "run", None)):
        problems.append("a `run(args, ctx)` method")
    if problems:
        raise TypeError(f"tool {label!r} needs " + ", ".join(problems))
    return tool


def load_tools(tools: Iterable[Any] | None = None, *, plugins: bool = True) -> dict[str, Tool]:
    """The tools a graph may run, by name.

    Args:
        tools: an explicit list (classes or instances); when given, only these are used.
        plugins: with no explicit list, also load the entry points of group ``vitron_agent.tools``.

    Raises:
        TypeError: an explicit tool does not follow the protocol.
        ValueError: two explicit tools share a name.
    """
    if tools is not None:
        found: dict[str, Tool] = {}
        for candidate in tools:
            tool = check_tool(candidate)
            if tool.name in found:
                raise ValueError(f"two tools are named {tool.name!r}; tool names must be unique")
            found[tool.name] = tool
        return found
    found = {}
    for spec in BUILTIN:
        module_name, _, attribute = spec.partition(":")
        tool = check_tool(getattr(import_module(module_name), attribute))
        found[tool.name] = tool
    if plugins:
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                tool = check_tool(entry.load())
            except Exception as error:  # a broken plugin must not take the others down
                warnings.warn(f"skipped tool plugin {entry.name!r} ({entry.value}): {error}", stacklevel=2)
                continue
            found[tool.name] = tool
    return found


@cache
def builtin_tools() -> Mapping[str, Tool]:
    """The built-in tools, loaded once per process (what names each module's tool, and what Vitron's text maps to
    when no other tools are given)."""
    return load_tools(plugins=False)


def tool_for_module(tools: Mapping[str, Tool], module: Module) -> Tool | None:
    """The tool serving a Vitron module: the one named like the built-in tool for it, else the first declaring
    it."""
    named = tools.get(module.tool)
    if named is not None and named.module == module:
        return named
    return next((tool for tool in tools.values() if tool.module == module), None)


def tool_description(tool: Tool) -> str:
    """What a tool does, for models and people (chat planners, LangChain, MCP): its Vitron module, its own
    ``description`` (or its arguments' docstring), and whether it changes anything."""
    module = f"Vitron module {tool.module.value} ({tool.module.human_name}). " if tool.module else ""
    own = getattr(tool, "description", None) or (tool.Args.__doc__ or "").strip().split("\n")[0] or tool.name
    effect = "It writes new artifacts." if tool.side_effects else "It changes nothing."
    return f"{module}{own.strip()} {effect}"


def made_kind(tool: Tool) -> str | None:
    """The media kind a later step can work on from this tool's result (the first of its ``outputs`` that is an
    image or a video), or None: segmentations are looked at, not edited."""
    return next((kind for kind in getattr(tool, "outputs", None) or () if kind in ("image", "video")), None)
