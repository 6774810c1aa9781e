"""Planners: the protocol and the built-in planners.

``RulePlanner`` (offline, the default), ``ChatModelPlanner`` (any LangChain chat model) and ``VitronPlanner``
(Vitron's own model) live in ``rules``, ``chat`` and ``vitron``; :func:`~vitron_agent.planners.choose.planner_from_spec`
builds one from a short spec. Only the light ones are imported here.
"""

from vitron_agent.planners.base import Planner, PlannerOutput
from vitron_agent.planners.scripted import PlannerExhausted, ScriptedPlanner

__all__ = ["Planner", "PlannerExhausted", "PlannerOutput", "ScriptedPlanner"]
