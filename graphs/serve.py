"""The agent graph as LangGraph's own server loads it: ``langgraph.json`` at the project root points here, so
``langgraph dev`` (from ``langgraph-cli[inmem]``) serves vitron-agent with its API, Studio and persistence.

The server brings its checkpointer, so the graph is compiled without one. The workspace (artifacts, decision log)
comes from ``VITRON_WORKSPACE`` (default ``vitron-workspace``) and the planner from ``VITRON_PLANNER`` or the
workspace's ``vitron.toml``, as for the terminal. Each turn's closing message carries its pictures by signed links
under ``VITRON_PUBLIC_URL`` (default ``langgraph dev``'s ``http://127.0.0.1:2024``), which ``graphs/routes.py``
serves from the same server.
"""

from __future__ import annotations

import os
from typing import Any

from vitron_agent.graphs.agent import build_agent
from vitron_agent.planners.choose import configured_spec, planner_from_spec
from vitron_agent.workspace import Workspace

__all__ = ["graph", "make_graph"]


def make_graph() -> Any:
    """The compiled agent graph for the server, from the environment."""
    workspace = Workspace(os.environ.get("VITRON_WORKSPACE", "vitron-workspace"))
    planner = planner_from_spec(configured_spec(workspace), workspace=workspace)
    return build_agent(planner, workspace=workspace, checkpointer=False, links=workspace.links)


graph = make_graph()
"""Built once when the server imports this file (its start-up may block; its runs may not)."""
