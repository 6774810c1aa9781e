"""vitron.toml is plain data: only documented keys are read, and nothing in it can make Hydra run code."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitron_agent.weights import settings
from vitron_agent.workspace import Workspace

from conftest import configure


def test_documented_keys_are_read_and_checked(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n[weights.sam2]\nsource = "facebook/sam2.1-hiera-small"\n'
                         'config = "configs/sam2.1/sam2.1_hiera_s.yaml"\noverrides = ["++model.image_size=1024"]\n'
                         '[limits]\nrequest_bytes = 4096\n')
    read = settings(workspace)
    assert read["segmentation"] == {"backend": "classic"} and read["limits"] == {"request_bytes": 4096}
    assert read["weights"]["sam2"]["overrides"] == ["++model.image_size=1024"]


@pytest.mark.parametrize(("text", "says"), [
    # the hostile review's: Hydra instantiates _target_, so this copied a file
    ('[weights.sam2]\noverrides = ["+model.pwn._target_=shutil.copyfile", "+model.pwn.src=/etc/hostname", '
     '"+model.pwn.dst={dst}"]\n', "is not a plain override"),
    ('[weights.sam2]\noverrides = ["++model.image_size=${{oc.env:HOME}}"]\n', "is not a plain override"),
    ('[weights.sam2]\nconfig = "../../../tmp/evil.yaml"\n', "is not one of sam2's packaged configs"),
    ('[planer]\nspec = "rules"\n', "planer is not a documented setting"),
    ('[weights.sd]\nsorce = "my/sd"\n', "weights.sd.sorce is not a documented setting"),
    ('[segmentation]\nbackend = "fast"\n', "segmentation.backend"),
])
def test_anything_else_is_refused_at_open_and_nothing_runs(workspace: Path, tmp_path: Path, text: str,
                                                            says: str) -> None:
    target = tmp_path / "pwned"
    configure(workspace, text.format(dst=target))
    with pytest.raises(ValueError, match=says) as refused:
        Workspace(workspace)
    assert str(workspace / "vitron.toml") in str(refused.value) and "\n" not in str(refused.value)
    assert not target.exists()
