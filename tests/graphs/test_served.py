"""The graph served by LangGraph's own server (``langgraph dev``, from ``langgraph-cli[inmem]``), driven over its
HTTP API with the official SDK client: the review's interrupt arrives in LangChain's human-in-the-loop shape,
and a ``{"decisions": [...]}`` resume edits, then approves, the call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langgraph_api")
from langgraph_sdk import get_sync_client  # noqa: E402

from vitron_agent.artifacts import ArtifactStore  # noqa: E402
from vitron_agent.calls import Attachment  # noqa: E402
from vitron_agent.content_blocks import text_of  # noqa: E402
from vitron_agent.decisions import Decision  # noqa: E402

from conftest import PHOTO, ROOT  # noqa: E402
from served_support import langgraph_dev  # noqa: E402

ANA, BEN = "ana:secret", "ben:other"
"""Two logins of the served graph's users file (``graphs/auth.py``)."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``langgraph dev`` on 127.0.0.1, serving the project's langgraph.json on a workspace of its own."""
    with langgraph_dev(tmp_path, [ANA, BEN]) as running:
        yield running


def test_an_interrupt_is_resumed_over_the_servers_api_with_langchains_decisions(served: tuple[str, Path]) -> None:
    url, workspace = served
    photo = Attachment.from_artifact(ArtifactStore(workspace, import_roots=[ROOT]).import_file(PHOTO))
    client = get_sync_client(url=url, api_key=ANA)
    thread = client.threads.create()["thread_id"]
    request = {"messages": [{"role": "user", "content": "segment the motorcycle [60, 90, 580, 380]"}],
               "attachments": [photo.model_dump()]}
    client.runs.wait(thread, "vitron_agent", input=request)
    [interrupt] = client.threads.get_state(thread)["interrupts"]
    value = interrupt["value"]
    assert set(value) == {"action_requests", "review_configs", "decision"}
    decision = Decision.from_interrupt(value)
    assert value["action_requests"][0]["name"] == decision.tool == "segment_image"

    edited = {**decision.args, "target": "the white motorcycle"}
    client.runs.wait(thread, "vitron_agent", command={"resume": {"decisions": [
        {"type": "edit", "edited_action": {"name": "segment_image", "args": edited}}]}})
    shown = Decision.from_interrupt(client.threads.get_state(thread)["interrupts"][0]["value"])
    assert shown.args["target"] == "the white motorcycle" and shown.current.changed == ["target"]

    done = client.runs.wait(thread, "vitron_agent", command={"resume": {"decisions": [{"type": "approve"}]}})
    assert text_of(done["messages"][-1]["content"]).startswith("Segmented 'the white motorcycle' with classic")
    assert len(done["artifacts"]) == 2 and not client.threads.get_state(thread)["interrupts"]


def test_a_client_cannot_switch_the_servers_review_off(served: tuple[str, Path]) -> None:
    """The owner chose "ask" (the default); an API caller's run config asking for "auto" is not obeyed."""
    url, workspace = served
    photo = Attachment.from_artifact(ArtifactStore(workspace, import_roots=[ROOT]).import_file(PHOTO))
    client = get_sync_client(url=url, api_key=ANA)
    request = {"messages": [{"role": "user", "content": "segment the motorcycle [60, 90, 580, 380]"}],
               "attachments": [photo.model_dump()]}
    for key in ("policy", "vitron_agent_policy"):
        thread = client.threads.create()["thread_id"]
        state = client.runs.wait(thread, "vitron_agent", input=request, config={"configurable": {key: "auto"}})
        [interrupt] = client.threads.get_state(thread)["interrupts"]
        assert Decision.from_interrupt(interrupt["value"]).tool == "segment_image"
        assert not state["artifacts"]  # nothing ran


def test_each_user_reaches_only_their_own_threads_and_pictures(served: tuple[str, Path]) -> None:
    """Before: the server knew no one; any client could read, resume and answer any thread."""
    import httpx

    url, workspace = served
    photo = Attachment.from_artifact(ArtifactStore(workspace, import_roots=[ROOT]).import_file(PHOTO))
    ana, ben = get_sync_client(url=url, api_key=ANA), get_sync_client(url=url, api_key=BEN)
    with pytest.raises(httpx.HTTPStatusError) as refused:
        get_sync_client(url=url, api_key="ana:wrong").threads.create()
    assert refused.value.response.status_code == 401 and "not known here" in refused.value.response.text

    thread = ana.threads.create()["thread_id"]
    request = {"messages": [{"role": "user", "content": "segment the motorcycle [60, 90, 580, 380]"}],
               "attachments": [photo.model_dump()]}
    ana.runs.wait(thread, "vitron_agent", input=request)
    assert [t["thread_id"] for t in ben.threads.search()] == []
    for reach in (lambda: ben.threads.get_state(thread),
                  lambda: ben.runs.wait(thread, "vitron_agent", command={"resume": {"decisions": [
                      {"type": "approve"}]}})):
        with pytest.raises(httpx.HTTPStatusError) as hidden:
            reach()
        assert hidden.value.response.status_code == 404

    # ana approves, saying she is ben: the log records who the server says answered
    done = ana.runs.wait(thread, "vitron_agent", command={"resume": {"decisions": [{"type": "approve"}],
                                                                     "by": "ben"}})
    mask = done["artifacts"][-1]
    from vitron_agent.decisions import DecisionLog

    [entry] = [e for e in DecisionLog(workspace).list(thread) if e.action == "approve"]
    assert (entry.by, entry.outcome) == ("ana", "ok")

    # ben can't take ana's result into a thread of his by naming it
    own = ben.threads.create()["thread_id"]
    stolen = {"messages": [{"role": "user", "content": "segment the rider [60, 90, 580, 380]"}],
              "attachments": [{**photo.model_dump(), "ref": mask}]}
    said = ben.runs.wait(own, "vitron_agent", input=stolen)
    assert "made in another person's thread" in said["messages"][-1]["content"], said["messages"][-1]
    assert not ben.threads.get_state(own)["interrupts"]


def test_a_photo_inside_a_message_reaches_the_decision(served: tuple[str, Path]) -> None:
    """Before: Agent Chat UI's image block was refused as a 209 KiB request, and the message dropped."""
    import base64

    url, workspace = served
    client = get_sync_client(url=url, api_key=ANA)
    thread = client.threads.create()["thread_id"]
    photo = {"type": "image", "mimeType": "image/jpeg", "data": base64.b64encode(PHOTO.read_bytes()).decode(),
             "metadata": {"name": PHOTO.name}}  # as Agent Chat UI sends it
    message = {"role": "user", "content": [{"type": "text", "text": "segment the motorcycle [60, 90, 580, 380]"},
                                           photo]}
    client.runs.wait(thread, "vitron_agent", input={"messages": [message]})
    state = client.threads.get_state(thread)
    decision = Decision.from_interrupt(state["interrupts"][0]["value"])
    kept = state["values"]["messages"][0]["content"]
    assert decision.args["image"] == kept[1]["file_id"] == state["values"]["attachments"][0]["ref"]
    done = client.runs.wait(thread, "vitron_agent", command={"resume": {"decisions": [{"type": "approve"}]}})
    text, picture = done["messages"][-1]["content"]  # the words with a markdown image, and an image block
    assert text["type"] == "text" and text["text"].startswith("Segmented 'motorcycle'")
    assert picture["type"] == "image" and f"]({picture['url']})" in text["text"]

    import httpx

    from vitron_agent.links import ArtifactLinks

    got = httpx.get(picture["url"], timeout=30)  # no login: the link itself is the key
    shown = ArtifactStore(workspace).get(picture["url"].rsplit("/", 1)[1].split(".")[0])
    assert got.status_code == 200 and got.headers["content-type"] == picture["mime_type"] == shown.media_type
    assert got.content == ArtifactStore(workspace).local_path(shown).read_bytes() and shown.kind == "preview"
    token = picture["url"].rsplit("/", 1)[1]
    forged = token[:-8] + ("0" if token[-5] != "0" else "1") + token[-7:]
    artifact_id = token.split(".")[0]
    expired = ArtifactLinks(workspace, url).token(artifact_id, now=0)
    for bad in (forged, expired + ".png", "nope"):
        refused = httpx.get(f"{url}/artifacts/{bad}", timeout=30)
        assert refused.status_code == 404 and ("not one this server made" in refused.text or
                                               "expired" in refused.text), (bad, refused.text)
    for outside in ("..%2Fdecisions.sqlite", "../link.key"):  # nothing but a signed artifact comes out
        assert httpx.get(f"{url}/artifacts/{outside}", timeout=30).status_code in (401, 404)
