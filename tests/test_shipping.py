"""What crosses to a replica: the artifacts a call names, and the tool settings (never [storage])."""

from __future__ import annotations

import tomllib
from pathlib import Path

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.shipping import pack_request, settings_toml
from vitron_agent.tools import ToolContext

from conftest import MOTORCYCLE, ROOT, TENNIS_PLAYER, configure


def test_the_named_artifacts_and_tool_settings_go_and_storage_stays(workspace: Path) -> None:
    configure(workspace, '[storage]\nblobs = "/shared/x"\n[segmentation]\nbackend = "classic"\n'
                         '[weights.sd]\nsource = "/w/sd"\n[defaults.edit_image]\nsteps = 4\n')
    store = ArtifactStore(workspace, import_roots=[ROOT])
    one, two = store.import_file(MOTORCYCLE[0]), store.import_file(TENNIS_PLAYER[0])
    args = {"image": one.id, "mask": one.id, "nested": [{"also": two.id}], "prompt": "0123456789abcdef"}
    request = pack_request("edit_image", args, ToolContext(store=store, call={"tool": "edit_image"}), blobs=None)
    assert [item.artifact.id for item in request.inputs] == [one.id, two.id]  # each once; not the prompt
    assert "storage" not in request.settings and request.settings["weights"]["sd"]["source"] == "/w/sd"
    shared = pack_request("edit_image", args, ToolContext(store=store, call={}), blobs="s3://b/p")
    assert all(item.data is None for item in shared.inputs) and shared.size < 1024


def test_settings_are_written_back_as_the_same_toml() -> None:
    settings = {"weights": {"sd": {"source": 'C:\\w "sd"', "overrides": ["++model.image_size=256"]},
                            "grounding": {"threshold": 0.25}},
                "segmentation": {"backend": "classic"}, "defaults": {"edit_image": {"candidates": 4}}}
    assert tomllib.loads(settings_toml(settings)) == settings
