"""vitron-agent inside other LangGraph programs: the served graph (langgraph.json) and the parent-graph example."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from vitron_agent import ArtifactStore
from vitron_agent.calls import Attachment

from conftest import MOTORCYCLE, ROOT


def test_langgraph_json_names_a_graph_the_server_can_load(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    path, _, name = config["graphs"]["vitron_agent"].partition(":")
    monkeypatch.setenv("VITRON_WORKSPACE", str(workspace))
    monkeypatch.setenv("VITRON_SEGMENTATION_BACKEND", "classic")
    spec = importlib.util.spec_from_file_location("served_graph", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # as the server imports it
    graph = getattr(module, name)
    assert graph.checkpointer is None  # the server brings its own
    auth_path, _, auth_name = config["auth"]["path"].partition(":")
    auth_spec = importlib.util.spec_from_file_location("served_auth", ROOT / auth_path)
    auth_module = importlib.util.module_from_spec(auth_spec)
    auth_spec.loader.exec_module(auth_module)
    assert type(getattr(auth_module, auth_name)).__name__ == "Auth" and config["env"]["VITRON_USERS"]
    graph.checkpointer = InMemorySaver()  # as the server does
    photo = Attachment.from_artifact(ArtifactStore(workspace, import_roots=[ROOT]).import_file(MOTORCYCLE[0]))
    thread = {"configurable": {"thread_id": "served"}}
    first = graph.invoke({"messages": [HumanMessage("segment the motorcycle [60, 90, 580, 380]")],
                          "attachments": [photo.model_dump()]}, thread)
    assert first["__interrupt__"][0].value["action_requests"][0]["name"] == "segment_image"
    done = graph.invoke(Command(resume={"action": "approve"}), thread)
    assert done["messages"][-1].text.startswith("Segmented 'motorcycle' with classic")
    assert [block["type"] for block in done["messages"][-1].content] == ["text", "image"]  # the picture, linked


def test_the_parent_graph_example_runs_as_written(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "embed_langgraph.py")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert lines["decision"] == "segment_image: target 'motorcycle', region (60, 90, 580, 380)"
    assert lines["answer"].startswith("Segmented 'motorcycle' with classic")
    report = json.loads(Path(lines["report"]).read_text())
    assert [item["kind"] for item in report] == ["mask", "preview"] and all(Path(i["path"]).is_file() for i in report)
