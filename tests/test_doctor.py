"""The doctor: what would run, and whether its weights are here, told without the deep-learning stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import constants

from vitron_agent.doctor import diagnose
from vitron_agent.models import probe_device
from vitron_agent.weights import WeightSpec, cached

from conftest import configure


def test_every_tool_is_checked_with_its_configured_weights(workspace: Path, tmp_path: Path) -> None:
    local = tmp_path / "sd-folder"
    local.mkdir()
    configure(workspace, f'[weights.sd]\nsource = "{local}"\n[segmentation]\nbackend = "classic"\n')
    report = diagnose(workspace)
    tools = {tool.name: tool for tool in report.tools}
    assert set(tools) == {"generate_image", "segment_image", "edit_image", "generate_video", "segment_video",
                          "edit_video", "animate_image"}
    generate = {check.family: check for check in tools["generate_image"].weights}
    assert generate["sd"].path == str(local) and generate["gligen"].path is None
    assert not tools["generate_image"].ready
    assert tools["segment_image"].runs == "classic (OpenCV GrabCut; configured)"
    assert tools["segment_image"].module == "B" and tools["segment_image"].side_effects
    assert report.planner == "rules" and report.versions["pydantic"] and report.versions["vitron-agent"]


def test_a_repo_in_the_hub_cache_counts_as_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    spec = WeightSpec("sam2", "facebook/sam2.1-hiera-tiny")
    assert cached(spec) is None
    snapshot = tmp_path / "models--facebook--sam2.1-hiera-tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    assert cached(spec) is None  # an empty snapshot is an interrupted download
    (snapshot / "sam2.1_hiera_tiny.pt").write_bytes(b"weights")
    assert cached(spec) == snapshot
    assert cached(WeightSpec("sam2", str(tmp_path / "nowhere.pt"))) is None


def test_the_device_probe_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRON_DEVICE", "cuda:1")
    monkeypatch.setenv("VITRON_MEMORY_BUDGET", "6GB")
    probe = probe_device()
    assert probe.device == "cuda:1" and probe.budget == 6 * 10**9 and probe.source == "VITRON_DEVICE"
    monkeypatch.delenv("VITRON_DEVICE")
    monkeypatch.delenv("VITRON_MEMORY_BUDGET")
    assert probe_device().budget > 0
