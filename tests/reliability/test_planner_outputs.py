"""Ten thousand generated planner outputs through the whole graph (plan, validate, review): no crash, and every
output that cannot be used is answered with a message instead of a call."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from vitron_agent import ArtifactStore, build_agent
from vitron_agent.calls import Attachment
from vitron_agent.decisions import Decision
from vitron_agent.invocation import parse_invocation

from conftest import PHOTO, ROOT
from support_tools import Crop, Grayscale

COUNT = 10_000
MODULES = list("ABCDEFG") + ["H", "b", "", "Z", "segmentation", "1"]
INSTRUCTIONS = ["segmentation: the dog", "editing: make it red; add snow", "image generation: a fox",
                "video generation: waves", "foreground: a robot", "background: a beach", "image to video: go",
                "", ":", "segmentation:", "x" * 3000, "ünïcödé ✓ <b>bold</b>", "editing: " + "very " * 400]
REGIONS = ["[10, 20, 100, 200]", "[0.1, 0.2, 0.5, 0.9]", "[300, 300, 10, 10]", "[-5, 0, 9999, 1e9]", "[nan, 1, 2, 3]",
           "1,2,3", "[a, b, c, d]", ""]


class Replay:
    """A planner that answers with the next generated output (one graph run each)."""

    def __init__(self) -> None:
        self.output: object = ""

    def plan(self, messages, attachments, region):
        return self.output


def generated(rng: random.Random, photo: str) -> object:
    """A planner output: Vitron-like text, broken in one of many ways, or a typed call, or a list of them."""
    kind = rng.random()
    if kind < 0.55:
        parts = [rng.choice(["Sure.", "", "OK <SP>", "I'll do it!"])]
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            module = rng.choice(MODULES)
            close = rng.choice(["</module>", "</module>", "", "</modul>"])
            parts.append(f"<module>{module}{close} <instruction>{rng.choice(INSTRUCTIONS)}</instruction>")
            if rng.random() < 0.4:
                parts.append(f"<region>{rng.choice(REGIONS)}</region>")
        return " ".join(parts)
    if kind < 0.7:
        junk = ["", "   ", "</s>", "<module>", "<instruction></instruction>", "\x00\x01", "<<<>>>", "A" * 10_000]
        return rng.choice(junk)
    names = ["grayscale", "crop", "segment_image", "no_such_tool", "", None]
    image = rng.choice([photo, photo, "@1", "@2", "@0", "@1.mask", "../../etc/passwd", "", 42, None])
    args = rng.choice([
        {"image": image, "prompts": rng.choice([["gray"], [], ["x" * 5000], "gray", None])},
        {"image": image, "box": rng.choice([[0, 0, 64, 32], [5, 5, 1, 1], [0, 0], "0,0,4,4", None])},
        {"image": image, "prompts": ["gray"], "region": rng.choice([[0, 0, 99, 99], [1e12, 0, 2e12, 5], None])},
        {}, None, "not a dict",
    ])
    call = {"name": rng.choice(names), "args": args}
    return [call, {"name": "grayscale", "args": {"image": "@1", "prompts": ["g"]}}] if rng.random() < 0.3 else call


@pytest.mark.slow
def test_ten_thousand_outputs_never_crash_and_bad_ones_get_a_message(workspace: Path) -> None:
    with ArtifactStore(workspace, import_roots=[ROOT]) as store:
        photo = Attachment.from_artifact(store.import_file(PHOTO)).model_dump()
    planner = Replay()
    agent = build_agent(planner, tools=[Grayscale, Crop], workspace=workspace, checkpointer=InMemorySaver(),
                        max_corrections=0)
    rng = random.Random(7)
    asked = answered = 0
    for number in range(COUNT):
        planner.output = generated(rng, photo["ref"])
        config = {"configurable": {"thread_id": f"t{number}"}}
        result = agent.invoke({"messages": [HumanMessage("do something")], "attachments": [photo]}, config)
        if result.get("__interrupt__"):
            shown = Decision.from_interrupt(result["__interrupt__"][0].value)
            assert shown.tool in ("grayscale", "crop") and shown.steps, planner.output
            asked += 1
        else:
            answer = result["messages"][-1].content
            assert isinstance(answer, str), planner.output
            if isinstance(planner.output, str) and parse_invocation(planner.output).is_understanding:
                answered += 1  # a plain answer, passed through
            else:
                assert answer.startswith("I could not turn the planner's answer into a valid call"), planner.output
                answered += 1
    assert asked + answered == COUNT and asked > 100 and answered > 5_000
    print(f"{COUNT} outputs: {asked} became decisions, {answered} were answered in words")
