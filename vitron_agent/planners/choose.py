"""Choosing a planner by name, from a flag, the environment or the workspace's ``vitron.toml``.

The same short spec everywhere (the terminal's ``--planner``, ``VITRON_PLANNER``, ``[planner] spec = ...``):

* ``rules`` (the default): :class:`~vitron_agent.planners.rules.RulePlanner`, offline, no weights;
* ``vitron:<path-or-id>``: :class:`~vitron_agent.planners.vitron.VitronPlanner` on a Vitron release (a LoRA
  folder whose base is found beside it or named in ``vitron.toml``; see that module);
* ``chat:<provider>:<model>``: :class:`~vitron_agent.planners.chat.ChatModelPlanner` around LangChain's
  ``init_chat_model(model, model_provider=provider)``, when the provider's package is installed.

Usage::

    planner = planner_from_spec("chat:ollama:llava", workspace=Path("workspace"))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vitron_agent.planners.base import Planner

if TYPE_CHECKING:
    from vitron_agent.workspace import Workspace

__all__ = ["DEFAULT_SPEC", "PlannerUnavailable", "configured_spec", "planner_from_spec"]

DEFAULT_SPEC = "rules"

class PlannerUnavailable(ValueError):
    """The spec names a planner that cannot be built here; the message says what to install or fix."""


def configured_spec(workspace: Workspace | Path | None = None) -> str:
    """The planner spec from ``VITRON_PLANNER``, then ``[planner] spec`` in ``vitron.toml``, then ``rules``."""
    from vitron_agent.weights import settings
    from vitron_agent.workspace import root_of

    section = settings(root_of(workspace)).get("planner", {})
    return os.environ.get("VITRON_PLANNER") or str(section.get("spec") or DEFAULT_SPEC)


def planner_from_spec(spec: str | None = None, *, workspace: Workspace | Path | None = None,
                      models: Any = None) -> Planner:
    """Build the planner a spec names (None: the configured one).

    Args:
        workspace: the open workspace (or its folder): where attachments are stored (planners that look at
            pixels read them from its store) and where ``vitron.toml`` is read.
        models: the model manager the Vitron planner loads through (default: the open workspace's).

    Raises:
        PlannerUnavailable: an unknown kind, a missing provider package, a malformed spec.
    """
    spec = (spec or configured_spec(workspace)).strip()
    kind, _, rest = spec.partition(":")
    if kind == "rules" and not rest:
        from vitron_agent.planners.rules import RulePlanner

        return RulePlanner()
    if kind == "vitron":
        if not rest:
            raise PlannerUnavailable("vitron: needs a path or hub id, as in vitron:Vitron/vitron-lora")
        from vitron_agent.execution import Execution
        from vitron_agent.planners.vitron import RayVitronPlanner, VitronPlanner
        from vitron_agent.workspace import Workspace, root_of

        root = root_of(workspace)
        if root is not None and Execution.of(root).remote:  # its model on the cluster's vitron deployment
            return RayVitronPlanner(rest, workspace=Workspace.of(workspace))
        return VitronPlanner(rest, workspace=workspace, models=models)
    if kind == "chat":
        provider, _, model = rest.partition(":")
        if not provider or not model:
            raise PlannerUnavailable(f"{spec!r}: write chat:<provider>:<model>, as in chat:openai:gpt-4o")
        return _chat_planner(provider, model, workspace)
    raise PlannerUnavailable(
        f"unknown planner {spec!r}; use rules, vitron:<path-or-id> or chat:<provider>:<model>"
    )


def _chat_planner(provider: str, model: str, workspace: Workspace | Path | None) -> Planner:
    try:
        from langchain.chat_models import init_chat_model  # type: ignore[import-not-found]
    except ImportError:
        raise PlannerUnavailable(
            "chat planners are started with LangChain's init_chat_model; install it with "
            "`pip install 'vitron-agent[chat]'` (the langchain package)"
        ) from None

    from vitron_agent.planners.chat import ChatModelPlanner

    try:
        chat_model = init_chat_model(model, model_provider=provider)
    except (ImportError, ValueError) as error:  # a missing provider package is an ImportError naming it
        raise PlannerUnavailable(f"could not start chat model {provider}:{model}: {error}") from None
    return ChatModelPlanner(chat_model, workspace=workspace)
