"""Whether a call can run on this machine, told before anyone approves it.

A tool says what a call would run on with :class:`RunsOn` (a backend for people, the weights families it loads,
any packages beyond theirs). :func:`check` turns that into a :class:`Readiness`: ready; ready once its weights
download on first use; needs an extra installed (with the exact ``pip install``); or needs weights (with
``vitron-agent pull`` and ``hf download``). Everything is read from installed-package metadata, configuration
and the disk: nothing imports torch or touches the network, so every decision can carry it.

Usage::

    readiness = check(tool.describe(args, workspace), workspace)
    if not readiness.can_run:
        print(readiness.line("edit_image"))   # edit_image can't run here: ... To fix: pip install ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from vitron_agent.weights import Family, cached, hub_offline, missing_packages

__all__ = ["Readiness", "RunsOn", "check", "install_command"]

Status = Literal["ready", "downloads", "needs_extra", "needs_weights", "unreachable"]
"""``unreachable``: the call runs elsewhere (a Ray Serve deployment) and that place does not answer now."""


@dataclass(frozen=True)
class RunsOn:
    """What one call would run on, as its tool tells it (see the tool protocol's ``describe``).

    Args:
        backend: for people: the backend and checkpoint, say ``StableDiffusionInpaintPipeline (repo id)``.
        families: the weights families the call loads.
        packages: import names it needs beyond its families' (a backend with no weights still needs its library).
        instead: another way to run it, offered when weights are missing (say, "draw a box instead").
    """

    backend: str
    families: tuple[Family, ...] = ()
    packages: tuple[str, ...] = ()
    instead: str = ""


class Readiness(BaseModel):
    """Whether a call can run here, and if not, why and what to do."""

    model_config = ConfigDict(frozen=True)

    status: Status = "ready"
    reason: str = ""
    """what is missing, in words ("diffusers and torch are not installed")"""
    fix: str = ""
    """the command or setting that mends it"""
    families: tuple[str, ...] = ()
    """the weights families that are not on this machine"""

    @property
    def can_run(self) -> bool:
        return self.status in ("ready", "downloads")

    def line(self, tool: str) -> str:
        """One line for people: ``edit_image can't run here: <reason>. To fix: <fix>``; empty when it can run."""
        if self.status == "ready":
            return ""
        if self.status == "downloads":
            return f"{tool} first downloads its weights: {self.reason}. To fetch them now: {self.fix}"
        return f"{tool} can't run here: {self.reason}. To fix: {self.fix}"


def install_command(extra: str) -> str:
    return f"pip install 'vitron-agent[{extra}]'"


def check(runs_on: RunsOn, workspace: Path | None) -> Readiness:
    """Whether a call that runs on ``runs_on`` can run here: packages first (without them nothing loads), then
    each family's weights."""
    packages = dict.fromkeys([*runs_on.packages, *(p for f in runs_on.families for p in f.packages)])
    missing = missing_packages(list(packages))
    instead = f"; or {runs_on.instead}" if runs_on.instead else ""
    if missing:
        extra = next((f.extra for f in runs_on.families), "vision")
        verb = "is" if len(missing) == 1 else "are"
        return Readiness(status="needs_extra", fix=install_command(extra) + instead,
                         reason=f"it needs the {extra} extra ({_listed(missing)} {verb} not installed)")
    absent = [family.spec(workspace) for family in runs_on.families]
    absent = [spec for spec in absent if cached(spec) is None]
    if not absent:
        return Readiness()
    names = tuple(spec.name for spec in absent)
    repos = _listed([f"{spec.name} ({spec.source})" for spec in absent])
    pull = f"vitron-agent pull {' '.join(names)}"
    local = [spec for spec in absent if spec.local]
    if local:
        spec = local[0]
        return Readiness(status="needs_weights", families=names,
                         reason=f"the configured {spec.name} weights {spec.source} do not exist",
                         fix=f"point [weights.{spec.name}] source (or VITRON_WEIGHTS_{spec.name.upper()}) at "
                             "weights that exist")
    hub = " or ".join(f"hf download {spec.source}" for spec in absent)
    if hub_offline():
        return Readiness(status="needs_weights", families=names, fix=f"{pull} (or {hub}) with network{instead}",
                         reason=f"the weights {repos} are not on this machine, and HF_HUB_OFFLINE is set")
    return Readiness(status="downloads", families=names, fix=f"{pull} (or {hub})",
                     reason=f"the weights {repos} are not on this machine yet; they download on first use")


def _listed(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
