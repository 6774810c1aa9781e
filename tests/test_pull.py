"""``vitron-agent pull`` end to end: the real ``huggingface_hub`` client against a stand-in hub on 127.0.0.1
(``tests/hub.py``) holding a tiny Stable Diffusion repo built by the tests; then the fetched weights run a tool
offline, as a user's would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitron_agent.weights import WeightSpec, wanted_files

from conftest import ROOT
from hub import Hub

SCRIPT = Path(sys.executable).parent / "vitron-agent"


@pytest.fixture
def hub(tiny_diffusion: dict[str, Path]):
    with Hub() as serving:
        for name in ("tiny/sd", "tiny/cut", "tiny/broken"):
            serving.add(name, tiny_diffusion["sd"])
        serving.cut.add("tiny/cut")
        serving.broken.add("tiny/broken")
        yield serving


def cli(workspace: Path, hub: Hub, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(workspace.parent / "hf"),
                   "HF_HUB_OFFLINE": "0", "NO_COLOR": "1", "COLUMNS": "200", **env}
    return subprocess.run([str(SCRIPT), *args, "--workspace", str(workspace)], capture_output=True, text=True,
                          env=environment, cwd=ROOT, timeout=180)


def said(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_pull_fetches_what_a_tool_needs_and_the_tool_then_runs_offline(workspace: Path, hub: Hub) -> None:
    sd = {"VITRON_WEIGHTS_SD": "tiny/sd"}
    listed = cli(workspace, hub, "pull", "sd", "--dry-run", **sd)
    assert listed.returncode == 0, said(listed)
    assert "would fetch sd: 10 files" in listed.stdout and "unet/diffusion_pytorch_model.safetensors" in listed.stdout
    assert not any(request.startswith("GET /tiny/sd/resolve") for request in hub.requests)  # nothing fetched

    fetched = cli(workspace, hub, "pull", "sd", **sd)
    assert fetched.returncode == 0, said(fetched)
    assert "sd: fetched to" in fetched.stdout and "Fetching 10 files" in fetched.stderr  # the hub's progress bar
    again = cli(workspace, hub, "pull", "sd", **sd, HF_HUB_OFFLINE="1")
    assert again.returncode == 0 and "present at" in again.stdout and "Everything asked for is here" in again.stdout

    doctor = cli(workspace, hub, "doctor", **sd, HF_HUB_OFFLINE="1")
    assert "present sd (" in doctor.stdout, doctor.stdout
    drawn = cli(workspace, hub, "run", "draw a fox in the snow", "--yes", "--json", **sd, HF_HUB_OFFLINE="1",
                VITRON_PLANNER="rules")
    assert drawn.returncode == 0, said(drawn)
    made = json.loads(drawn.stdout)["artifacts"]
    assert [a["kind"] for a in made] == ["image"] and Path(made[0]["path"]).is_file()


def test_with_no_family_it_fetches_each_missing_one_and_offline_it_says_what_and_why(workspace: Path,
                                                                                     hub: Hub) -> None:
    everything = {f"VITRON_WEIGHTS_{name.upper()}": "tiny/sd" for name in
                  ("sd", "gligen", "inpaint", "pix2pix", "grounding", "t2v", "i2v")}
    offline = cli(workspace, hub, "pull", **everything, VITRON_WEIGHTS_SAM2="tiny/sd", HF_HUB_OFFLINE="1")
    assert offline.returncode == 1 and "HF_HUB_OFFLINE is set" in offline.stderr
    assert "would fetch sd (tiny/sd), gligen (tiny/sd)" in offline.stderr and "sam2 (tiny/sd)" in offline.stderr
    assert not [r for r in hub.requests if "/tiny/" in r]  # at once: nothing was asked of the hub

    dry = cli(workspace, hub, "pull", "--dry-run", **everything, VITRON_WEIGHTS_SAM2="tiny/sd")
    assert dry.returncode == 1 and "holds none of the files this family loads" in dry.stderr  # sam2 wants a .pt


def test_each_failure_is_one_line_and_leaves_nothing_that_passes_for_a_download(workspace: Path, hub: Hub) -> None:
    cases = {
        "tiny/missing": "has no model repo 'tiny/missing' (404)",
        "tiny/broken": "answered 500 (a server error; try again later)",
        "tiny/cut": "was cut off or could not connect; run it again to resume",
    }
    for repo, expected in cases.items():
        failed = cli(workspace, hub, "pull", "sd", VITRON_WEIGHTS_SD=repo)
        assert failed.returncode == 1, said(failed)
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith("error: sd:") and expected in last, failed.stderr
        assert "Traceback" not in said(failed) and "Retrying" not in said(failed)
    # half of the cut-off repo's files arrived, but the family is not taken for present
    snapshots = workspace.parent / "hf" / "hub" / "models--tiny--cut" / "snapshots"
    assert any(snapshots.rglob("*.json"))
    listed = cli(workspace, hub, "pull", "sd", "--dry-run", VITRON_WEIGHTS_SD="tiny/cut", HF_HUB_OFFLINE="1")
    assert "sd: tiny/cut (missing)" in listed.stdout
    hub.cut.clear()  # the network is back: the next pull resumes and completes
    resumed = cli(workspace, hub, "pull", "sd", VITRON_WEIGHTS_SD="tiny/cut")
    assert resumed.returncode == 0, said(resumed)
    assert any(request.startswith("GET /tiny/cut/resolve") for request in hub.requests)


def test_mistakes_in_what_to_pull(workspace: Path, hub: Hub, tmp_path: Path) -> None:
    unknown = cli(workspace, hub, "pull", "sdxl")
    assert unknown.returncode == 1 and "unknown weights family 'sdxl'; the families are: sd, gligen" in unknown.stderr
    nowhere = cli(workspace, hub, "pull", "sd", VITRON_WEIGHTS_SD=str(tmp_path / "no-such-folder"))
    assert nowhere.returncode == 1 and "which does not exist" in nowhere.stderr
    (workspace / "vitron.toml").write_text("[weights.sd\nsource = ")
    broken = cli(workspace, hub, "pull", "sd")
    assert broken.returncode == 1 and "is not valid TOML" in broken.stderr
    for result in (unknown, nowhere, broken):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in said(result)


def test_only_the_files_a_family_loads_are_chosen() -> None:
    """A listing shaped like stable-diffusion-v1-5's: one copy of each component's weights, no single-file
    checkpoints, fp16 variants or non-EMA copies; a transformers repo keeps safetensors over pickles; SAM2 keeps
    its checkpoint."""
    sd15 = ["model_index.json", "v1-5-pruned.safetensors", "v1-5-pruned-emaonly.ckpt", "README.md", ".gitattributes",
            "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.bin",
            "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.non_ema.safetensors",
            "vae/config.json", "vae/diffusion_pytorch_model.bin", "text_encoder/model.safetensors",
            "text_encoder/config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json",
            "safety_checker/model.safetensors", "safety_checker/config.json", "feature_extractor/preprocessor_config.json",
            "unet/diffusion_pytorch_model.onnx", "flax_model.msgpack", "v1-inference.yaml"]
    chosen = wanted_files(sd15, WeightSpec("sd", "org/sd"))
    assert "unet/diffusion_pytorch_model.safetensors" in chosen and "vae/diffusion_pytorch_model.bin" in chosen
    assert not {"v1-5-pruned.safetensors", "v1-5-pruned-emaonly.ckpt", "unet/diffusion_pytorch_model.bin",
                "unet/diffusion_pytorch_model.fp16.safetensors", "README.md", "flax_model.msgpack"} & set(chosen)
    transformers_repo = ["config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json", "README.md"]
    assert wanted_files(transformers_repo, WeightSpec("grounding", "org/g")) == [
        "config.json", "model.safetensors", "tokenizer.json"]
    sam2_repo = ["sam2.1_hiera_tiny.pt", "sam2.1_hiera_t.yaml", "model.safetensors", "config.json"]
    assert wanted_files(sam2_repo, WeightSpec("sam2", "org/s", files=("*.pt",))) == ["sam2.1_hiera_tiny.pt"]
