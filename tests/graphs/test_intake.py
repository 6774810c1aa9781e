"""Pictures inside a message become attachments: LangChain's standard blocks, Agent Chat UI's camelCase blocks,
OpenAI's image_url, and file_id references; each bad block is one sentence, the person's words stay, and the
thread goes on."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from conftest import PHOTO, TEST_DATA, configure
from web_support import CLASSIC
from vitron_agent.decisions import Decision
from vitron_agent.graphs.agent import build_agent
from vitron_agent.graphs.intake import TAKEN
from vitron_agent.planners.rules import RulePlanner
from vitron_agent.workspace import Workspace

ASK = "segment the motorcycle [60, 90, 580, 380]"
DATA = base64.b64encode(PHOTO.read_bytes()).decode()


@pytest.fixture
def agent(workspace: Path) -> Any:
    configure(workspace, CLASSIC + "\n[limits]\nattachment_bytes = 1048576\n")
    return build_agent(RulePlanner(), workspace=Workspace(workspace), checkpointer=InMemorySaver())


def _said(agent: Any, thread: str, *blocks: Any, text: str = ASK) -> dict:
    content = [{"type": "text", "text": text}, *blocks]
    return agent.invoke({"messages": [HumanMessage(content)]}, {"configurable": {"thread_id": thread}})


@pytest.mark.parametrize("block", [
    {"type": "image", "base64": DATA, "mime_type": "image/jpeg"},                      # LangChain's standard block
    {"type": "image", "source_type": "base64", "data": DATA, "mime_type": "image/jpeg"},  # its older form
    {"type": "image", "mimeType": "image/jpeg", "data": DATA, "metadata": {"name": "motorcycle.jpg"}},  # Agent Chat UI
    {"type": "image", "url": f"data:image/jpeg;base64,{DATA}"},
    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{DATA}"}},        # OpenAI's
], ids=["base64", "source_type", "camelCase", "data-url", "image_url"])
def test_a_picture_in_the_message_is_attached_and_the_thread_keeps_only_its_reference(agent: Any,
                                                                                     block: dict) -> None:
    state = _said(agent, "t", block)
    decision = Decision.from_interrupt(state["__interrupt__"][0].value)
    [attached] = state["attachments"]
    assert decision.tool == "segment_image" and decision.args["image"] == attached["ref"]
    assert decision.args["region"] == {"x1": 60, "y1": 90, "x2": 580, "y2": 380}  # in the person's pixels, as typed
    message = state["messages"][0]
    assert message.content[1] == {"type": "image", "file_id": attached["ref"], "mime_type": "image/jpeg"}
    assert message.additional_kwargs[TAKEN] == [attached["ref"]]
    saved = json.dumps([m.model_dump() for m in agent.get_state({"configurable": {"thread_id": "t"}}).values[
        "messages"]])
    assert DATA[:64] not in saved and len(saved) < 4096  # the checkpoint holds no picture bytes


def test_the_same_picture_twice_is_one_artifact_and_a_file_id_names_it(agent: Any) -> None:
    first = _said(agent, "a", {"type": "image", "base64": DATA, "mime_type": "image/jpeg"})["attachments"][0]
    again = _said(agent, "b", {"type": "image", "base64": DATA, "mime_type": "image/jpeg"})["attachments"][0]
    named = _said(agent, "c", {"type": "image", "file_id": first["ref"]})["attachments"][0]
    assert first["ref"] == again["ref"] == named["ref"]


@pytest.mark.parametrize(("block", "said"), [
    ({"type": "image", "base64": "not*base64", "mime_type": "image/png"}, "is not valid base64"),
    ({"type": "image", "base64": base64.b64encode(b"\x89PNG\r\n\x1a\n garbage").decode(), "mime_type": "image/png"},
     "can't be used"),
    ({"type": "file", "base64": DATA, "mime_type": "application/pdf"}, "is application/pdf, not an image or video"),
    ({"type": "image", "base64": "A" * (2**21), "mime_type": "image/png"}, "over what one message may carry"),
    ({"type": "image", "base64": base64.b64encode((TEST_DATA / "bombs" / "animated-8000.png").read_bytes()).decode(),
      "mime_type": "image/png"}, "can't be used"),
    ({"type": "image", "file_id": "0123456789abcdef"}, "which is no image or video of this workspace"),
    ({"type": "image", "url": "https://example.com/cat.jpg"}, "a link to example.com; nothing here fetches links"),
], ids=["corrupt-base64", "corrupt-png", "pdf", "too-large", "bomb", "unknown-file-id", "http-url"])
def test_a_bad_block_is_one_sentence_and_the_thread_goes_on(agent: Any, workspace: Path, block: dict,
                                                          said: str) -> None:
    state = _said(agent, "bad", block)
    answer = state["messages"][-1].content
    assert said in answer and "Traceback" not in answer and "Error" not in answer, answer
    assert state["messages"][0].content == ASK  # the person's words are kept, the block is not
    assert not state.get("__interrupt__") and not Workspace(workspace).store.list()
    after = _said(agent, "bad", {"type": "image", "base64": DATA, "mime_type": "image/jpeg"})
    assert Decision.from_interrupt(after["__interrupt__"][0].value).tool == "segment_image"


def test_a_session_sends_content_blocks_too(workspace: Path) -> None:
    from vitron_agent.session import Session, SessionError

    configure(workspace, CLASSIC)
    session = Session(workspace, RulePlanner())
    turn = session.send([{"type": "text", "text": ASK}, {"type": "image", "base64": DATA, "mime_type": "image/jpeg"}])
    assert turn.pending is not None and turn.pending.args["image"] == session.attachments()[0].ref
    with pytest.raises(SessionError, match="nothing here fetches links"):  # nothing is sent
        Session(workspace, RulePlanner()).send([{"type": "text", "text": ASK},
                                                {"type": "image", "url": "http://127.0.0.1:9/x.png"}])
