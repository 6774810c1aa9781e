"""The vision tools as LangChain tools, called by a LangChain agent whose chat model is scripted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from vitron_agent import as_langchain_tools
from vitron_agent.decisions import DecisionLog

from conftest import MOTORCYCLE, ROOT, configure


class ScriptedChatModel(GenericFakeChatModel):
    """A chat model that answers from a script and accepts tools (the agent binds them)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self


def test_tools_keep_their_schemas_and_say_which_change_things(workspace: Path) -> None:
    tools = {tool.name: tool for tool in as_langchain_tools(workspace)}
    assert set(tools) >= {"segment_image", "edit_image", "generate_image", "import_media"}
    segment = tools["segment_image"]
    assert segment.args_schema.__name__ == "SegmentImage" and "region" in segment.args
    assert segment.metadata == {"side_effects": True, "module": "B"} and segment.tags == ["side_effects"]
    assert "Confirm with the person first" in segment.description and segment.description.startswith("Vitron module B")
    assert tools["import_media"].metadata["side_effects"] is False


def test_an_agent_imports_a_photo_and_segments_it(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    tools = as_langchain_tools(workspace, import_roots=[ROOT])
    photo, box = MOTORCYCLE
    with_id = {}

    def script():
        yield AIMessage("", tool_calls=[{"name": "import_media", "args": {"path": str(photo)}, "id": "1"}])
        image = with_id["image"]
        yield AIMessage("", tool_calls=[{"name": "segment_image", "id": "2",
                                         "args": {"image": image, "target": "motorcycle", "region": list(box)}}])
        yield AIMessage("The motorcycle is cut out.")

    steps = script()
    model = ScriptedChatModel(messages=_Lazy(steps, with_id, workspace))
    agent = create_agent(model, tools)
    result = agent.invoke({"messages": [HumanMessage("cut out the motorcycle")]})
    tool_messages = [m for m in result["messages"] if m.type == "tool"]
    assert tool_messages[0].artifact[0]["kind"] == "image"
    assert tool_messages[1].content.startswith("Segmented 'motorcycle' with classic")
    assert [a["kind"] for a in tool_messages[1].artifact] == ["mask", "preview"]
    assert Path(tool_messages[1].artifact[0]["path"]).is_file()
    assert result["messages"][-1].content == "The motorcycle is cut out."
    [logged] = DecisionLog(workspace).list("langchain")
    assert logged.tool == "segment_image" and logged.by == "langchain caller" and logged.outcome == "ok"


class _Lazy:
    """Feeds the scripted replies one by one, reading the imported photo's id from the store before the second
    (the script cannot know it in advance)."""

    def __init__(self, steps, with_id: dict, workspace: Path) -> None:
        self.steps, self.with_id, self.workspace, self.count = steps, with_id, workspace, 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.count == 1:
            from vitron_agent.artifacts import ArtifactStore

            self.with_id["image"] = ArtifactStore(self.workspace).list("image")[0].id
        self.count += 1
        return next(self.steps)


def test_a_call_that_cannot_run_here_is_the_tools_error_with_the_fix(workspace: Path) -> None:
    """edit_image without its weights: LangChain's tool error (a ToolMessage with status "error" for an agent)
    carries the one line with the fix; nothing runs, and the log records the failure."""
    tools = {tool.name: tool for tool in as_langchain_tools(workspace, import_roots=[ROOT])}
    photo = tools["import_media"].invoke({"path": str(MOTORCYCLE[0])})
    image = photo.split()[2]
    message = tools["edit_image"].invoke({"type": "tool_call", "id": "1", "name": "edit_image",
                                          "args": {"image": image, "prompts": ["make it red"]}})
    assert message.status == "error" and message.content.startswith("edit_image can't run here:")
    assert "vitron-agent pull pix2pix" in message.content and "Error" not in message.content
    [logged] = DecisionLog(workspace).list("langchain")
    assert logged.outcome == "failed" and logged.message == message.content


def test_only_the_workspace_and_named_roots_are_read(workspace: Path, monkeypatch) -> None:
    """The folder the agent runs in is no root: a photo there is outside until its folder is named."""
    monkeypatch.chdir(ROOT)
    photo = str(MOTORCYCLE[0].relative_to(ROOT))
    unrooted = {tool.name: tool for tool in as_langchain_tools(workspace)}["import_media"]
    refused = unrooted.invoke({"type": "tool_call", "id": "1", "name": "import_media", "args": {"path": photo}})
    assert refused.status == "error" and refused.content == (
        f"{photo} is outside the allowed folders; copy the file into the workspace or into a folder allowed for "
        "imports")
    rooted = {tool.name: tool for tool in as_langchain_tools(workspace, import_roots=[MOTORCYCLE[0].parent])}
    assert rooted["import_media"].invoke({"path": photo}).startswith("Imported image")


def test_candidates_come_back_numbered_and_choose_records_the_pick(workspace: Path) -> None:
    from support_tools import Tints

    tools = {tool.name: tool for tool in as_langchain_tools(workspace, tools=[Tints], import_roots=[ROOT])}
    photo = tools["import_media"].invoke({"type": "tool_call", "name": "import_media", "id": "1",
                                          "args": {"path": str(MOTORCYCLE[0])}}).artifact[0]["id"]
    made = tools["grayscale"].invoke({"type": "tool_call", "name": "grayscale", "id": "2", "args": {
        "image": photo, "prompts": ["tint"], "seed": 4, "candidates": 3}})
    assert [brief["candidate"] for brief in made.artifact] == [1, 2, 3]
    assert "Ask the person which candidate to keep, then call choose" in made.content
    second = made.artifact[1]["id"]
    said = tools["choose"].invoke({"artifact": second})
    assert said == f"Chose candidate 2 of 3: {second}; the others are marked not chosen."
    assert "was already chosen, by langchain caller; it stands" in tools["choose"].invoke({"artifact":
                                                                                          made.artifact[0]["id"]})
    refused = tools["choose"].invoke({"type": "tool_call", "name": "choose", "id": "3", "args": {"artifact": photo}})
    assert "is not one of several candidates of a run" in refused.content
    [entry] = [e for e in DecisionLog(workspace).list("langchain") if e.action == "choose"]
    assert entry.by == "langchain caller" and entry.artifacts == [second] and entry.outcome == "chosen"
