"""The [execution] setting and which deployment a call goes to; the local runner (no Ray needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import configure
from vitron_agent.tools import builtin_tools

from vitron_agent.execution import EXECUTION_ENV, Execution, LocalRunner, family_of


def test_local_is_the_default_and_needs_nothing(workspace: Path) -> None:
    execution = Execution.of(workspace)
    assert not execution.remote and execution.address == "auto" and execution.request_bytes == 256 * 2**20
    assert execution.families["sam2"].num_cpus == 1 and execution.families["sam2"].max_replicas == 1


def test_the_setting_and_the_environment(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(workspace, '[execution]\nbackend = "ray"\naddress = "ray://head:10001"\n'
                         '[execution.sd]\nnum_gpus = 0.5\nmin_replicas = 1\nmax_replicas = 4\nmemory = "6GB"\n')
    execution = Execution.of(workspace)
    assert execution.remote and execution.address == "ray://head:10001"
    assert execution.families["sd"].num_gpus == 0.5 and execution.families["sd"].max_replicas == 4
    monkeypatch.setenv(EXECUTION_ENV, "local")
    assert not Execution.of(workspace).remote
    monkeypatch.setenv(EXECUTION_ENV, "10.0.0.5:6379")
    assert Execution.of(workspace).remote and Execution.of(workspace).address == "10.0.0.5:6379"


@pytest.mark.parametrize(("text", "said"), [
    ('[execution]\nbackend = "slurm"\n', "execution.backend"),
    ('[execution.gligen]\nnum_gpus = 1\n', "execution.gligen is not a documented setting"),
    ('[execution.sd]\nmin_replicas = 3\nmax_replicas = 2\n', "min_replicas 3 is more than max_replicas 2"),
    ('[execution.sd]\nnum_gpus = -1\n', "execution.sd.num_gpus"),
])
def test_wrong_settings_are_refused_by_name(workspace: Path, text: str, said: str) -> None:
    configure(workspace, text)
    with pytest.raises(ValueError, match="vitron.toml") as refused:
        Execution.of(workspace)
    assert said in str(refused.value)


@pytest.mark.parametrize(("tool", "args", "family"), [
    ("segment_image", {"image": "a" * 16, "region": {"x1": 0, "y1": 0, "x2": 5, "y2": 5}}, "sam2"),
    ("segment_video", {"video": "a" * 16}, "sam2"),
    ("generate_image", {"prompt": "a bike"}, "sd"),
    ("generate_image", {"prompt": "a bike", "boxes": [{"phrase": "bike", "box": [0, 0, 9, 9]}]}, "sd"),
    ("edit_image", {"image": "a" * 16, "prompts": ["make it red"]}, "pix2pix"),
    ("edit_image", {"image": "a" * 16, "prompts": ["make it red"], "region": {"x1": 0, "y1": 0, "x2": 5, "y2": 5}},
     "inpaint"),
    ("generate_video", {"prompt": "a bike"}, "t2v"),
    ("animate_image", {"image": "a" * 16}, "i2v"),
])
def test_each_call_goes_to_the_family_it_loads(workspace: Path, tool: str, args: dict, family: str) -> None:
    assert family_of(builtin_tools()[tool], args, workspace) == family


def test_a_tool_without_weights_runs_here(workspace: Path) -> None:
    from support_tools import Grayscale

    assert family_of(Grayscale(), {"image": "a" * 16}, workspace) is None
    assert LocalRunner(workspace).where(Grayscale(), {}) == ""


@pytest.mark.parametrize("page", ["README.md", "docs/deploy.md"])
def test_the_documented_settings_are_accepted(page: str) -> None:
    import re

    import tomllib
    from conftest import ROOT

    from vitron_agent.config import read_settings

    blocks = [block for block in re.findall(r"```toml\n(.*?)```", (ROOT / page).read_text(), re.S)
              if "[execution" in block]
    assert blocks
    for block in blocks:
        read_settings(tomllib.loads(block), page)
