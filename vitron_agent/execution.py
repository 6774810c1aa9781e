"""Where a tool's ``run`` happens: in this process (the default), or on a Ray Serve deployment of its model family.

Only ``tool.run`` moves. The graph still plans, validates, asks and records in the workspace; the runner it gets
from ``Workspace.runner`` (a :class:`LocalRunner`, or a :class:`~vitron_agent.ray_execution.RayRunner`) decides
where the approved call's pixels are made. The setting is ``[execution]`` in
``vitron.toml``, or ``VITRON_EXECUTION`` (which wins): ``local``, ``ray`` (at ``[execution] address``, "auto" by
default), or a Ray address itself (``ray://head:10001``, ``head:6379``).

On Ray, each model family (:data:`FAMILIES`) is one deployment (``vitron-agent serve-tools`` makes them; see
:mod:`vitron_agent.ray_execution`), and a call goes to the family of the weights it loads: the ones its tool's
``describe`` names, else the first its tool declares. A tool that loads no family's weights runs here.

Usage::

    runner = workspace.runner
    runner.readiness(tool, args)            # can it run where it would run? (a Readiness)
    result = runner.run(tool, call, ctx)    # a ToolResult, as tool.run gives
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from vitron_agent.config import ExecutionSettings, FamilyExecution
from vitron_agent.readiness import Readiness

if TYPE_CHECKING:
    from vitron_agent.tools import Tool, ToolContext, ToolResult

__all__ = ["EXECUTION_ENV", "FAMILIES", "Execution", "LocalRunner", "family_of"]

EXECUTION_ENV = "VITRON_EXECUTION"
FAMILIES = ("sam2", "sd", "inpaint", "pix2pix", "t2v", "i2v", "vitron")
"""The model families that run as deployments: the tools' six, and ``vitron``, the Vitron planner's checkpoint
(the planner node still runs in the graph; only its model's generation moves)."""
_SERVED_BY = {"gligen": "sd", "grounding": "sam2"}
"""Weights that load beside another family's, in its replicas (grounded generation; the text grounder)."""


class Execution(BaseModel):
    """The ``[execution]`` setting, with the environment over it."""

    model_config = ConfigDict(frozen=True)

    backend: str = "local"
    address: str = "auto"
    request_bytes: int
    families: dict[str, FamilyExecution]

    @classmethod
    def of(cls, root: Path) -> Execution:
        """The workspace's ``[execution]`` (checked), with ``VITRON_EXECUTION`` over its backend and address."""
        from vitron_agent.weights import settings

        configured = ExecutionSettings.model_validate(settings(root).get("execution", {}))
        backend, address = configured.backend, configured.address
        chosen = os.environ.get(EXECUTION_ENV, "").strip()
        if chosen in ("local", "ray"):
            backend = chosen
        elif chosen:
            backend, address = "ray", chosen
        return cls(backend=backend, address=address, request_bytes=configured.request_bytes,
                   families={name: getattr(configured, name) for name in FAMILIES})

    @property
    def remote(self) -> bool:
        return self.backend == "ray"


def family_of(tool: Tool, args: dict[str, Any], root: Path) -> str | None:
    """The deployment a call of ``tool`` runs on: the family of the weights it would load, or None (it runs
    here)."""
    from vitron_agent.tools import describe_call

    runs_on = describe_call(tool, args, root)
    named = [family.name for family in runs_on.families] if runs_on is not None else []
    declared = [family.name for family in getattr(tool, "weight_families", ())]
    for name in [*named, *declared]:
        family = _SERVED_BY.get(name, name)
        if family in FAMILIES:
            return family
    return None


class LocalRunner:
    """Runs tools in this process, on the workspace's model manager: the embedded default."""

    remote = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def readiness(self, tool: Tool, args: dict[str, Any]) -> Readiness:
        """Whether this machine has what the call loads (packages, weights)."""
        from vitron_agent.tools import readiness

        return readiness(tool, args, self.root)

    def where(self, tool: Tool, args: dict[str, Any]) -> str:
        """Where the call would run, for the decision ("" here: the backend says it all)."""
        return ""

    def run(self, tool: Tool, args: BaseModel, ctx: ToolContext) -> ToolResult:
        return tool.run(args, ctx)
