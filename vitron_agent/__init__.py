"""vitron-agent: a vision LLM's decisions turned into checked, reversible work on images and videos.

Public names are re-exported lazily: ``import vitron_agent`` loads nothing heavy (no torch, no pydantic until a
name is used), so the CLI starts fast and embedding programs pay only for what they touch.

Usage::

    from vitron_agent import parse_invocation, call_from_invocation

    inv = parse_invocation("Sure. <module>B</module> <instruction>segmentation: zebra</instruction>")
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())  # a library's tracebacks never reach a terminal

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Workspace": "vitron_agent.workspace",
    "parse_invocation": "vitron_agent.invocation",
    "Invocation": "vitron_agent.invocation",
    "Command": "vitron_agent.invocation",
    "Module": "vitron_agent.invocation",
    "Box": "vitron_agent.regions",
    "RegionError": "vitron_agent.regions",
    "call_from_invocation": "vitron_agent.calls",
    "CallError": "vitron_agent.calls",
    "CallInputs": "vitron_agent.calls",
    "Attachment": "vitron_agent.calls",
    "ArtifactStore": "vitron_agent.artifacts",
    "Artifact": "vitron_agent.artifacts",
    "PathOutsideWorkspace": "vitron_agent.paths",
    "build_agent": "vitron_agent.graphs.agent",
    "Session": "vitron_agent.session",
    "Turn": "vitron_agent.session",
    "SessionError": "vitron_agent.session",
    "ScriptedPlanner": "vitron_agent.planners",
    "Planner": "vitron_agent.planners",
    "RulePlanner": "vitron_agent.planners.rules",
    "ChatModelPlanner": "vitron_agent.planners.chat",
    "VitronPlanner": "vitron_agent.planners.vitron",
    "planner_from_spec": "vitron_agent.planners.choose",
    "DecisionLog": "vitron_agent.decisions",
    "ModelManager": "vitron_agent.models",
    "as_langchain_tools": "vitron_agent.langchain_tools",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from vitron_agent.artifacts import Artifact, ArtifactStore
    from vitron_agent.calls import Attachment, CallError, CallInputs, call_from_invocation
    from vitron_agent.decisions import DecisionLog
    from vitron_agent.graphs.agent import build_agent
    from vitron_agent.invocation import Command, Invocation, Module, parse_invocation
    from vitron_agent.langchain_tools import as_langchain_tools
    from vitron_agent.models import ModelManager
    from vitron_agent.paths import PathOutsideWorkspace
    from vitron_agent.planners import Planner, ScriptedPlanner
    from vitron_agent.planners.chat import ChatModelPlanner
    from vitron_agent.planners.choose import planner_from_spec
    from vitron_agent.planners.rules import RulePlanner
    from vitron_agent.planners.vitron import VitronPlanner
    from vitron_agent.regions import Box, RegionError
    from vitron_agent.session import Session, SessionError, Turn
    from vitron_agent.workspace import Workspace


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'vitron_agent' has no attribute {name!r}")
    value = getattr(import_module(module_name), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
