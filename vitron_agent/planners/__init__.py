"""Planners: the protocol and the built-in planners (scripted now; Vitron, chat models and rules next)."""

from vitron_agent.planners.base import Planner, PlannerOutput
from vitron_agent.planners.scripted import PlannerExhausted, ScriptedPlanner

__all__ = ["Planner", "PlannerExhausted", "PlannerOutput", "ScriptedPlanner"]
