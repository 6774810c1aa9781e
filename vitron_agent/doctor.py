"""What ``vitron-agent doctor`` checks: versions, device, memory budget, the planner, and for every tool which
backend and checkpoint would run, whether it can run here (ready; needs an extra installed; needs weights), and
whether each weights family it may load is on this machine.

Everything here is read from package metadata, configuration and the disk; nothing imports torch, transformers
or diffusers (nor needs them installed), so the doctor answers in a fraction of a second in every install.

Usage::

    report = diagnose(Path("vitron-workspace"))
    [tool.name for tool in report.tools if not tool.ready]
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from vitron_agent.models import DeviceProbe, probe_device
from vitron_agent.readiness import Readiness
from vitron_agent.weights import cached, hub_offline

__all__ = ["PACKAGES", "DoctorReport", "ToolCheck", "WeightCheck", "diagnose"]

PACKAGES = (
    "vitron-agent", "torch", "torchvision", "transformers", "diffusers", "sam2", "huggingface_hub", "peft",
    "accelerate", "opencv-python-headless", "langgraph", "langchain-core", "langchain", "pydantic", "av", "rich",
    "typer",
)
"""The distributions whose versions the doctor lists (None: not installed)."""


@dataclass(frozen=True)
class WeightCheck:
    """One weights family a tool may load: where it is configured to come from, and where it is, if here."""

    family: str
    source: str
    path: str | None


@dataclass(frozen=True)
class ToolCheck:
    name: str
    module: str | None
    side_effects: bool
    runs: str
    """the backend and checkpoint a call with default arguments would run on (the tool's ``describe``)"""
    readiness: Readiness
    """whether such a call can run here, and the fix when it can't"""
    weights: tuple[WeightCheck, ...]
    """every family the tool may load, present or not"""

    @property
    def ready(self) -> bool:
        """A call with default arguments runs here now, with nothing to install or download."""
        return self.readiness.status == "ready"


@dataclass(frozen=True)
class DoctorReport:
    python: str
    versions: dict[str, str | None]
    device: DeviceProbe
    workspace: Path
    planner: str
    hub_offline: bool
    tools: tuple[ToolCheck, ...]
    execution: str = "local"
    """where tools run: "local", or "ray at <address>" """
    cluster: str | None = None
    """why the Ray cluster can't be asked (None when it answered, or tools run here)"""
    deployments: tuple[Any, ...] = ()
    """each family's :class:`~vitron_agent.ray_execution.DeploymentCheck`, when tools run on Ray"""


def diagnose(workspace: Path) -> DoctorReport:
    """Check this machine for ``workspace`` (its ``vitron.toml`` and environment overrides apply)."""
    from vitron_agent.planners.choose import configured_spec
    from vitron_agent.tools import load_tools

    workspace = workspace.expanduser().resolve()
    return DoctorReport(
        python=platform.python_version(),
        versions={name: _version(name) for name in PACKAGES},
        device=probe_device(),
        workspace=workspace,
        planner=configured_spec(workspace),
        hub_offline=hub_offline(),
        tools=tuple(_check_tool(tool, workspace) for tool in load_tools().values()),
        **_execution(workspace),
    )


def _execution(workspace: Path) -> dict[str, Any]:
    """Where tools run and, on Ray, each family's deployment (Ray is imported only then)."""
    from vitron_agent.execution import Execution

    execution = Execution.of(workspace)
    if not execution.remote:
        return {}
    if execution.address == "local":
        return {"execution": "ray, an instance started in each process that runs a tool (address \"local\"); a "
                             "family deploys on its first call"}
    from vitron_agent.ray_execution import RAY_EXTRA, RAY_MISSING, deployments

    where = {"execution": f"ray at {execution.address}"}
    why, found = deployments(execution)
    if why == RAY_MISSING:
        why = f"{RAY_MISSING}: {RAY_EXTRA}"
    return {**where, "cluster": why, "deployments": tuple(found)}


def _check_tool(tool: object, workspace: Path) -> ToolCheck:
    """One tool, as a call with default arguments (a box, not words, for the segmenters) would run."""
    from vitron_agent.readiness import check
    from vitron_agent.tools import describe_call

    defaults = {"region": {"x1": 0, "y1": 0, "x2": 1, "y2": 1}}
    runs_on = describe_call(tool, defaults, workspace)
    weights = []
    for family in getattr(tool, "weight_families", ()):
        spec = family.spec(workspace)
        found = cached(spec)
        weights.append(WeightCheck(family.name, spec.source, str(found) if found else None))
    module = getattr(tool, "module", None)
    return ToolCheck(tool.name, module.value if module else None, tool.side_effects,
                     runs_on.backend if runs_on else "not described by the tool",
                     check(runs_on, workspace) if runs_on else Readiness(), tuple(weights))


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
