"""The README's session example runs as written, from a copy of the repository's example media."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def readme_session_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return next(block for block in blocks if "Session(" in block)


def test_session_example_runs_as_written(tmp_path: Path) -> None:
    code = readme_session_example()
    assert len(code.strip().splitlines()) <= 20
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    summary, done = result.stdout.strip().splitlines()
    assert summary == "grayscale: prompts ['make it black and white']"
    text, path = done.rsplit(" ", 1)
    assert text == "It is black and white now." and Path(path).is_file()
    assert Path(path).is_relative_to(tmp_path / "workspace")


def test_offline_planner_example_runs_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    code = next(block for block in blocks if "RulePlanner()" in block)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    summary, kinds = result.stdout.strip().splitlines()
    assert summary.startswith("segment_image: target 'man', region (190")
    assert kinds == "['mask', 'preview']"
