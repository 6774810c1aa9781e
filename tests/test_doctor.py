"""The doctor: what would run, and whether its weights are here, told without the deep-learning stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitron_agent.doctor import diagnose
from vitron_agent.models import probe_device
from vitron_agent.weights import WeightSpec, cached, hub_cache

from conftest import configure


def test_every_tool_says_whether_it_can_run_here(workspace: Path, tmp_path: Path) -> None:
    local = tmp_path / "sd-folder"
    local.mkdir()
    configure(workspace, f'[weights.sd]\nsource = "{local}"\n[segmentation]\nbackend = "classic"\n')
    report = diagnose(workspace)
    tools = {tool.name: tool for tool in report.tools}
    assert set(tools) == {"generate_image", "segment_image", "edit_image", "generate_video", "segment_video",
                          "edit_video", "animate_image"}
    generate = {check.family: check for check in tools["generate_image"].weights}
    assert generate["sd"].path == str(local) and generate["gligen"].path is None
    assert tools["generate_image"].ready  # its default call runs on sd, which is here
    assert tools["segment_image"].ready and tools["segment_image"].runs == "classic (OpenCV GrabCut; configured)"
    edit = tools["edit_image"]  # no hub here (HF_HUB_OFFLINE), no weights
    assert edit.readiness.status == "needs_weights" and "vitron-agent pull inpaint" in edit.readiness.fix
    assert "hf download stable-diffusion-v1-5/stable-diffusion-inpainting" in edit.readiness.fix
    assert tools["segment_image"].module == "B" and tools["segment_image"].side_effects
    assert report.planner == "rules" and report.versions["pydantic"] and report.versions["vitron-agent"]


def test_the_hub_cache_is_found_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without importing huggingface_hub: HF_HUB_CACHE, else HF_HOME/hub; a folder with no ref is not a
    download (the full path, with the hub's own listing, is tested against a stand-in hub in test_pull.py)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    assert hub_cache() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hub_cache() == tmp_path / "cache"
    spec = WeightSpec("sam2", "facebook/sam2.1-hiera-tiny")
    snapshot = tmp_path / "cache" / "models--facebook--sam2.1-hiera-tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "sam2.1_hiera_tiny.pt").write_bytes(b"weights")
    assert cached(spec) is None  # no refs/main: not something the hub client finished
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    assert cached(spec) == snapshot  # no cached listing to check against: the files present count
    assert cached(WeightSpec("sam2", str(tmp_path / "nowhere.pt"))) is None


def test_the_device_probe_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRON_DEVICE", "cuda:1")
    monkeypatch.setenv("VITRON_MEMORY_BUDGET", "6GB")
    probe = probe_device()
    assert probe.device == "cuda:1" and probe.budget == 6 * 10**9 and probe.source == "VITRON_DEVICE"
    monkeypatch.delenv("VITRON_DEVICE")
    monkeypatch.delenv("VITRON_MEMORY_BUDGET")
    assert probe_device().budget > 0
