"""One Workspace, opened once, is what every surface works on: the same store, decision log and model manager."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitron_agent import RulePlanner, Session, Workspace, as_langchain_tools, build_agent, planner_from_spec

from conftest import PHOTO, ROOT, configure


def test_every_surface_shares_the_open_workspace(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    opened = Workspace(workspace, import_roots=[ROOT])
    session = Session(opened, RulePlanner())
    assert session.workspace is opened and session.store is opened.store and session.log is opened.log
    assert session.models is opened.models
    photo = session.store.import_file(PHOTO)
    session.send("segment the motorcycle [60, 90, 580, 380]", attachments=[photo])
    session.approve()
    tools = {tool.name: tool for tool in as_langchain_tools(opened)}
    assert "Imported image" in tools["import_media"].invoke({"path": str(PHOTO)})
    done = tools["segment_image"].invoke({"image": photo.id, "region": [60, 90, 580, 380]})
    assert done.startswith("Segmented the region")
    # both surfaces wrote to the one log, each under its own thread
    assert {entry.thread for entry in opened.log.list()} == {session.thread_id, "langchain"}
    assert planner_from_spec("rules", workspace=opened) is not None
    assert build_agent(RulePlanner(), workspace=opened) is not None


def test_a_folder_is_opened_and_a_broken_config_is_said_at_once(workspace: Path) -> None:
    opened = Workspace.of(workspace)
    assert opened.root == workspace.resolve() and Workspace.of(opened) is opened
    configure(workspace, "[weights.sd\nsource = ")
    with pytest.raises(ValueError, match="is not valid TOML"):
        Workspace(workspace)
