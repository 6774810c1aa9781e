"""ScriptedPlanner replays outputs in order, records what it was shown, and says clearly when it runs out."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from vitron_agent.tools.generate_image import GenerateImage
from vitron_agent.planners import Planner, PlannerExhausted, ScriptedPlanner


def test_replays_in_order_and_records_requests() -> None:
    call = GenerateImage(prompt="a red fox")
    planner = ScriptedPlanner(["<module>A</module><instruction>generation: a fox</instruction>", call])
    assert isinstance(planner, Planner)
    first = planner.plan([HumanMessage("draw a fox")], [], None)
    assert first.startswith("<module>A</module>")
    assert planner.plan([HumanMessage("again")], [], None) is call
    assert [r.messages[0].content for r in planner.seen] == ["draw a fox", "again"]
    with pytest.raises(PlannerExhausted, match="only 2 outputs"):
        planner.plan([], [], None)
