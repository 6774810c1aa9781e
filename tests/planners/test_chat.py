"""ChatModelPlanner on langchain-core's own fake chat models: Vitron text, tool calls, images as content blocks,
provider failures as answers; and choosing planners by spec."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from PIL import Image

from vitron_agent.tools import builtin_tools
from vitron_agent.planners.chat import ChatModelPlanner, tool_schemas
from vitron_agent.planners.choose import PlannerUnavailable, planner_from_spec
from vitron_agent.planners.rules import RulePlanner
from vitron_agent.session import Session

from conftest import MOTORCYCLE, ROOT, configure
from support_tools import ToolCallingFake


class Seen(BaseCallbackHandler):
    """LangChain's callback hook: records the messages each chat model call was given."""

    def __init__(self) -> None:
        self.prompts: list[list[Any]] = []

    def on_chat_model_start(self, serialized: Any, messages: list[list[Any]], **kwargs: Any) -> None:
        self.prompts.extend(messages)


def test_a_model_without_tools_is_asked_for_vitron_text(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    seen = Seen()
    model = GenericFakeChatModel(messages=iter([
        "Sure, the motorcycle. <module>B</module> <instruction>segmentation: the white motorcycle</instruction>"
    ]), callbacks=[seen])
    planner = ChatModelPlanner(model, workspace=workspace)
    assert planner.bound is None
    session = Session(workspace, planner, import_roots=[ROOT])
    photo, box = MOTORCYCLE
    shown = session.send("cut out the motorcycle", attachments=[photo], region=box).pending
    assert shown.tool == "segment_image" and shown.args["target"] == "the white motorcycle"
    system, request = seen.prompts[0][0], seen.prompts[0][-1]
    assert "<module>B</module>" in system.content
    assert "The person drew a region: [60, 90, 580, 380] in pixels" in request.content[0]["text"]


def test_a_tool_calling_model_gets_the_typed_calls_and_its_call_is_completed(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    model = ToolCallingFake(messages=iter([
        AIMessage("", tool_calls=[{"name": "segment_image", "args": {"target": "motorcycle"}, "id": "call-1"}]),
    ]))
    planner = ChatModelPlanner(model, workspace=workspace)
    names = [tool["function"]["name"] for tool in model.bound_tools]
    assert names == list(builtin_tools())  # every loaded tool, each declared in its own file
    session = Session(workspace, planner, import_roots=[ROOT])
    photo, box = MOTORCYCLE
    shown = session.send("cut out the motorcycle", attachments=[photo], region=box).pending
    attached = session.store.list()[0]
    assert shown.args["image"] == attached.id and shown.args["region"]["x2"] == 580
    done = session.approve()
    assert sorted(a.kind for a in done.artifacts) == ["mask", "preview"]


def test_several_tool_calls_become_a_plan_whose_later_steps_use_earlier_outputs(workspace: Path) -> None:
    model = ToolCallingFake(messages=iter([AIMessage("", tool_calls=[
        {"name": "edit_image", "args": {"prompts": ["paint it red"]}, "id": "call-1"},
        {"name": "animate_image", "args": {"prompt": "it drives off"}, "id": "call-2"},
        {"name": "segment_image", "args": {"image": "@1", "target": "motorcycle"}, "id": "call-3"},
    ])]))
    session = Session(workspace, ChatModelPlanner(model, workspace=workspace), import_roots=[ROOT])
    photo, box = MOTORCYCLE
    shown = session.send("repaint it, animate it, and outline it", attachments=[photo], region=box).pending
    steps = shown.steps
    assert [step.tool for step in steps] == ["edit_image", "animate_image", "segment_image"]
    attached = session.store.list()[0].id
    assert [step.args["image"] for step in steps] == [attached, "@1", "@1"]  # left out: the latest so far
    assert steps[0].args["region"]["x2"] == 580 and steps[2].args["region"] is None  # the box goes once


def test_tool_schemas_come_from_the_tools_declarations() -> None:
    schema = {s["function"]["name"]: s["function"] for s in tool_schemas()}["segment_image"]
    assert schema["description"].startswith("Vitron module B (image segmentation). Cut out one object")
    assert "image" not in schema["parameters"].get("required", [])
    assert set(schema["parameters"]["properties"]) == {"image", "target", "region", "points"}


def test_images_go_in_as_content_blocks(workspace: Path) -> None:
    seen = Seen()
    model = GenericFakeChatModel(messages=iter(["A white motorcycle by a van."]), callbacks=[seen])
    session = Session(workspace, ChatModelPlanner(model, workspace=workspace, images=True),
                      import_roots=[ROOT])
    turn = session.send("what is this?", attachments=[MOTORCYCLE[0]])
    assert turn.text == "A white motorcycle by a van."
    block = seen.prompts[0][-1].content[1]
    # langchain-core hands providers the standard block, or its OpenAI-style form for older integrations
    if block["type"] == "image_url":
        header, data = block["image_url"]["url"].split(",", 1)
        assert header == "data:image/jpeg;base64"
    else:
        assert block["type"] == "image" and block["mime_type"] == "image/jpeg"
        data = block["base64"]
    picture = Image.open(io.BytesIO(base64.b64decode(data)))
    assert picture.size == (640, 480) and picture.format == "JPEG"


def _failing() -> Any:
    raise TimeoutError("the provider did not answer in 60 s")
    yield  # pragma: no cover - makes this a generator, which the fake model iterates


@pytest.mark.parametrize(("reply", "says"), [
    (None, "(it did not answer in time: the provider did not answer in 60 s)"),
    (AIMessage("", additional_kwargs={"refusal": "I can't help with that."}), "declined to answer: I can't help"),
    (AIMessage("", response_metadata={"finish_reason": "content_filter"}), "declined to answer"),
])
def test_provider_failures_become_answers_and_the_session_lives(workspace: Path, reply, says) -> None:
    model = GenericFakeChatModel(messages=_failing() if reply is None else iter([reply]))
    session = Session(workspace, ChatModelPlanner(model, workspace=workspace))
    turn = session.send("segment the dog")
    assert says in turn.text and turn.pending is None
    assert session.agent.get_state(session.config).next == ()


def test_planner_specs(workspace: Path) -> None:
    assert isinstance(planner_from_spec("rules"), RulePlanner)
    assert isinstance(planner_from_spec(None, workspace=workspace), RulePlanner)
    configure(workspace, '[planner]\nspec = "chat:nowhere"\n')
    with pytest.raises(PlannerUnavailable, match="chat:<provider>:<model>"):
        planner_from_spec(workspace=workspace)
    with pytest.raises(PlannerUnavailable, match="pip install langchain-openai"):
        planner_from_spec("chat:openai:gpt-4o")
    with pytest.raises(PlannerUnavailable, match="unknown planner 'llama'"):
        planner_from_spec("llama")
    with pytest.raises(PlannerUnavailable, match="needs a path or hub id"):
        planner_from_spec("vitron:")
