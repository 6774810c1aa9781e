"""What the person is asked (the typed Decision, in LangChain's human-in-the-loop shape too) and how their answer
is read, without running a graph."""

from __future__ import annotations

import json

import pytest

from vitron_agent.decisions import (
    AnswerError,
    Approve,
    Cancel,
    Decision,
    Edit,
    Reject,
    Remove,
    StepView,
    read_answer,
)
from vitron_agent.graphs.plan import Plan, PlanStep
from vitron_agent.graphs.review import (
    POLICY_KEY,
    build_decision,
    check_policy,
    log_entry,
    must_ask,
    policy_name,
    run_policy,
    summary,
)

from support_tools import Crop, Grayscale


def test_a_run_may_only_tighten_the_owners_policy() -> None:
    def run(asked: object, owner: object, may_loosen: bool = False) -> object:
        return run_policy({"configurable": {POLICY_KEY: asked}}, check_policy(owner), may_loosen=may_loosen)

    assert run("auto", "ask") == "ask" and run(["crop"], "ask") == "ask"
    assert run("step", "ask") == "step" and run("ask", "auto") == "ask"
    assert run(["crop", "grayscale"], ["crop"]) == frozenset({"crop", "grayscale"})
    assert run(["grayscale"], ["crop"]) == frozenset({"crop"})  # not a superset: the owner's
    assert run("nonsense", "ask") == "ask" and run("auto", "ask", may_loosen=True) == "auto"
    assert run_policy({"configurable": {"policy": "auto"}}, "ask", may_loosen=True) == "ask"


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


def two_steps() -> Decision:
    steps = [StepView(number=n, tool=tool, args={"image": "abc"}, summary=tool) for n, tool in
                  ((1, "crop"), (2, "grayscale"))]
    return Decision(id="p", steps=steps, asking=[1, 2])


def test_our_answers_as_text_or_mappings() -> None:
    decision = two_steps()
    assert read_answer(" Approve ", decision) == [Approve()]
    assert read_answer({"action": "edit", "args": {"target": "cat"}, "step": "2"}, decision) == [
        Edit(args={"target": "cat"}, step=2)]
    assert read_answer({"action": "reject", "feedback": "the left one"}, decision) == [Reject(feedback="the left one")]
    assert read_answer({"action": "remove", "step": 1}, decision) == [Remove(step=1)]
    assert read_answer("cancel", decision) == [Cancel()]
    for bad in (42, "maybe", {"action": "remove", "step": "two"}, {"action": "dance"}):
        with pytest.raises(AnswerError):
            read_answer(bad, decision)


def test_langchains_decisions_one_per_action() -> None:
    decision = two_steps()
    answers = read_answer({"decisions": [{"type": "approve"},
                                         {"type": "edit", "edited_action": {"name": "grayscale",
                                                                            "args": {"image": "x"}}}]}, decision)
    assert answers == [Approve(), Edit(args={"image": "x"}, step=2, replace=True)]
    assert read_answer({"decisions": [{"type": "reject", "message": "no"}, {"type": "approve"}]}, decision)[0] == \
        Reject(feedback="no")
    problems = {
        "has 1 decisions for 2 action(s)": {"decisions": [{"type": "approve"}]},
        "unknown decision type 'respond'": {"decisions": [{"type": "respond", "message": "hi"}, {"type": "approve"}]},
        "must keep its tool crop, not 'grayscale'": {"decisions": [
            {"type": "edit", "edited_action": {"name": "grayscale", "args": {}}}, {"type": "approve"}]},
        "needs edited_action with name and args": {"decisions": [{"type": "edit"}, {"type": "approve"}]},
    }
    for said, answer in problems.items():
        with pytest.raises(AnswerError, match=said.replace("(", r"\(").replace(")", r"\)")):
            read_answer(answer, decision)


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
    decision = build_decision(plan, [0], {"crop": Crop(), "grayscale": Grayscale()}, "t", "ask")
    assert (decision.id, decision.tool, decision.current.module_name) == (plan.id, "crop", "image editing")
    assert decision.asking == [1] and [s.status for s in decision.steps] == ["planned", "done"]
    value = decision.interrupt_value()
    assert json.loads(json.dumps(value)) == value  # an interrupt's value must be plain data
    assert value["action_requests"] == [{"name": "crop", "args": {"image": "abc"}, "description": decision.summary}]
    assert value["review_configs"] == [{"action_name": "crop", "allowed_decisions": ["approve", "edit", "reject"]}]
    assert Decision.from_interrupt(value) == decision
    config = {"configurable": {"thread_id": "t"}}
    entry = log_entry(plan.steps[1], plan, config, 3, "approve", "person")
    assert entry.id == f"t/{plan.steps[1].id}-3"
    assert (entry.step, entry.steps, entry.action, entry.by) == (2, 2, "approve", "person")
