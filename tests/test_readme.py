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


def test_the_first_command_opens_a_session_on_a_sample_photo(tmp_path: Path) -> None:
    """The README's first command, its install step aside (CI's own install stands for it): the chat it starts
    works on the sample photo it names, with the offline planner and the classic backend."""
    import pexpect

    first = re.search(r"```\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S).group(1)
    assert "\n" not in first and first.startswith("python3 -m venv .venv && .venv/bin/pip install")
    start = first.split(" && ")[-1]
    photo = re.search(r"(examples/media/\S+)", start).group(1)
    assert (ROOT / photo).is_file() and "VITRON_SEGMENTATION_BACKEND=classic" in start
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    start = start.replace(".venv/bin/vitron-agent", str(Path(sys.executable).parent / "vitron-agent"))
    child = pexpect.spawn("bash", ["-c", start], cwd=str(tmp_path), encoding="utf-8", timeout=90,
                          dimensions=(50, 200), env={"PATH": "/usr/bin:/bin", "TERM": "xterm", "NO_COLOR": "1"})
    child.expect("you> ")
    child.sendline("segment the motorcycle [60, 90, 580, 380]")
    child.expect("decide> ")
    child.sendline("")
    child.expect("Segmented 'motorcycle' with classic")
    child.expect("you> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    assert list((tmp_path / "vitron-workspace" / "artifacts").rglob("*.png"))  # the mask


def run_block(marker: str, tmp_path: Path) -> list[str]:
    """Run the README's Python block containing ``marker`` from a folder holding the examples and the venv."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    code = next(block for block in blocks if marker in block)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_the_plan_example_runs_as_written(tmp_path: Path) -> None:
    summaries, done, asking, forked = run_block("edit_step(", tmp_path)
    assert summaries == "[\"segment_image: target 'motorcycle', region (60, 90, 580, 380)\", " \
                        "\"segment_image: target 'rider', region (300, 60, 420, 300)\"]"
    assert done.startswith("1. Segmented 'motorcycle' with classic") and "2. Segmented 'the rider'" in done
    assert asking == "[2]" and forked == "True"


def test_the_subgraph_example_runs_as_written(tmp_path: Path) -> None:
    summary, answer = run_block("MessagesState", tmp_path)
    assert summary == "segment_image: target 'motorcycle', region (60, 90, 580, 380)"
    assert answer.startswith("Segmented 'motorcycle' with classic")


def test_the_langchain_tools_example_runs_as_written(tmp_path: Path) -> None:
    changing, imported = run_block("as_langchain_tools(", tmp_path)
    assert "'segment_image'" in changing and "import_media" not in changing
    assert imported == "Imported image 549a74bc70d197fe (640x480)."


def test_the_mcp_client_example_runs_as_written(tmp_path: Path) -> None:
    assert run_block("stdio_client", tmp_path)[-1].startswith("Segmented the region with classic")
    from PIL import Image

    with Image.open(tmp_path / "preview.jpg") as preview:  # saved from the answer's ImageContent
        assert preview.size == (640, 480)


def test_the_example_from_other_programs_runs_against_langgraph_dev(tmp_path: Path) -> None:
    """The "From other programs" example, as written, against the project's own langgraph.json served by
    ``langgraph dev``: a photo inside the message, the interrupt read, approved, and the result picture saved."""
    import pytest

    pytest.importorskip("langgraph_api")
    from served_support import langgraph_dev

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    code = next(block for block in blocks if "get_sync_client" in block)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    with langgraph_dev(tmp_path, ["ana:secret"]) as (url, _):
        result = subprocess.run([sys.executable, "-c", code.replace("http://127.0.0.1:2024", url)], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "segment_image: target 'motorcycle', region (60, 90, 580, 380)"
    from PIL import Image

    with Image.open(tmp_path / "result.jpg") as picture:
        assert picture.size == (640, 480)

