"""The README's creative-loop transcript, replayed as written: what follows each prompt (``you>``, ``decide>``,
``choose>``) is typed into the real ``vitron-agent chat``, and every other line of the transcript must appear in
what it prints. Ids, long seeds and box-drawing differ between runs and are read loosely; ``…`` stands for lines
left out of the README."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from conftest import ROOT, configure
from test_creative_loop import SMALL

SCRIPT = Path(sys.executable).parent / "vitron-agent"
MARKER = "<!-- transcript: replayed by tests/test_readme_creative_loop.py -->"
PROMPT = re.compile(r"^(you|decide|choose)> ?(.*)$")
LOOSE = [(re.compile(r"\b[0-9a-f]{16}\b"), "ID"), (re.compile(r"\b\d{5,}\b"), "N"),
         (re.compile(r"[│┃╭╮╰╯─━┼╇└├┐┌┘┬┴…]+"), " "), (re.compile(r"\s+"), " ")]

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed beside python")


def transcript() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split(MARKER, 1)[1].split("```", 2)[1]
    return block.splitlines()[1:]  # the fence's own line ends at once; the first line is the shell command


def loose(text: str) -> str:
    for pattern, replacement in LOOSE:
        text = pattern.sub(replacement, text)
    return text.strip()


def test_the_readme_transcript_runs_as_written(tmp_path: Path, tiny_diffusion: dict[str, Path]) -> None:
    import pexpect

    lines = transcript()
    assert lines[0].startswith("$ vitron-agent chat --workspace lighthouse")
    steps = [(match.group(1), match.group(2)) for match in map(PROMPT.match, lines[1:]) if match]
    expected = [loose(line) for line in lines[1:] if not PROMPT.match(line) and loose(line)]
    assert len(steps) >= 15 and len(expected) >= 20
    workspace = tmp_path / "lighthouse"
    workspace.mkdir()
    configure(workspace, SMALL + "".join(f'[weights.{name}]\nsource = "{path}"\n'
                                         for name, path in tiny_diffusion.items()))
    child = pexpect.spawn(str(SCRIPT), ["chat", "--workspace", "lighthouse"], cwd=str(tmp_path), encoding="utf-8",
                          timeout=300, dimensions=(50, 110),
                          env={**os.environ, "TERM": "xterm", "NO_COLOR": "1", "COLUMNS": "110",
                               "HF_HUB_OFFLINE": "1"})
    printed = ""
    for prompt, typed in steps:
        child.expect(f"{prompt}> ")
        printed += ANSI.sub("", child.before)
        child.sendline(same_ids(typed, lines, printed))
    child.expect(pexpect.EOF)
    printed += ANSI.sub("", child.before)
    said = loose(printed)
    missing = [line for line in expected if line not in said]
    assert not missing, f"not printed: {missing[:5]}\n--- printed:\n{printed[-4000:]}"
    assert "Traceback" not in printed


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
ID = re.compile(r"\b[0-9a-f]{16}\b")


def same_ids(typed: str, lines: list[str], printed: str) -> str:
    """``typed`` with each artifact id the README's run printed replaced by the id this run printed in its place
    (the first README line showing the id, read with any id in its place, found in this run's output)."""
    for readme_id in ID.findall(typed):
        shown = next(line for line in lines if readme_id in line and not PROMPT.match(line))
        wanted = shown.strip().split(readme_id)[0]
        before = ID.sub("ID", loose_keeping_ids(wanted))
        pattern = re.escape(before).replace("ID", "[0-9a-f]{16}") + r"\s*([0-9a-f]{16})"
        match = re.search(pattern, loose_keeping_ids(printed))
        assert match, f"the run printed nothing like {shown.strip()!r}"
        typed = typed.replace(readme_id, match.group(1))
    return typed


def loose_keeping_ids(text: str) -> str:
    for pattern, replacement in LOOSE[1:]:
        text = pattern.sub(replacement, text)
    return text.strip()
