"""What the person is asked and how their answer is read, without running a graph."""

from __future__ import annotations

import json

import pytest

from vitron_agent.graphs.plan import Plan, PlanStep
from vitron_agent.graphs.review import (
    check_policy,
    decision_record,
    must_ask,
    policy_name,
    read_answer,
    shown,
    summary,
)

from support_tools import Crop, Grayscale


def test_policies_in_their_stored_form() -> None:
    assert check_policy("step") == "step"
    assert check_policy(["crop", "grayscale"]) == frozenset({"crop", "grayscale"})
    for bad in ("always", 3, ["crop", 1]):
        with pytest.raises(ValueError, match="must be 'ask', 'auto', 'step' or a set of tool names"):
            check_policy(bad)
    assert (policy_name("auto"), policy_name(frozenset({"crop"}))) == ("auto", "per tool")


def test_who_must_be_asked() -> None:
    gray, crop = Grayscale(), Crop()
    assert must_ask("ask", gray) and must_ask("step", gray) and not must_ask("auto", gray)
    assert must_ask(frozenset({"grayscale"}), gray) and not must_ask(frozenset({"grayscale"}), crop)


def test_answers_as_text_or_mappings() -> None:
    assert read_answer(" Approve ") == ("approve", None, None)
    assert read_answer({"action": "edit", "args": {"target": "cat"}, "step": "2"}) == ("edit", {"target": "cat"}, 2)
    assert read_answer({"action": "reject", "feedback": "the left one"}) == ("reject", "the left one", None)
    assert read_answer({"action": "remove", "step": "two"})[2] is None
    assert read_answer(42) == ("", None, None)


def test_summary_is_one_line() -> None:
    args = {"image": "@1", "target": "zebra", "region": {"x1": 12, "y1": 30.5, "x2": 200, "y2": 180}}
    assert summary("segment_image", args) == "segment_image: image @1, target 'zebra', region (12, 30.5, 200, 180)"
    assert summary("grayscale", {}) == "grayscale"
    assert len(summary("generate_image", {"prompt": "a red car " * 40})) == 160


def test_the_decision_shown_and_recorded() -> None:
    plan = Plan(response="Two steps.", steps=[
        PlanStep(tool="crop", module="C", args={"image": "abc"}),
        PlanStep(tool="grayscale", args={"image": "@1", "prompts": ["gray"]}, status="done"),
    ])
    payload = shown(plan, [0], {"crop": Crop(), "grayscale": Grayscale()})
    json.dumps(payload)  # an interrupt's payload must be plain data
    assert (payload["id"], payload["tool"], payload["module_name"]) == (plan.id, "crop", "image editing")
    assert payload["asking"] == [1] and [s["status"] for s in payload["steps"]] == ["planned", "done"]
    config = {"configurable": {"thread_id": "t"}}
    record = decision_record(plan.steps[1], plan, config, 3, "approve", "person")
    assert record["id"] == f"t/{plan.steps[1].id}-3"
    assert (record["step"], record["steps"], record["action"], record["by"]) == (2, 2, "approve", "person")
