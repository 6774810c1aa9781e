"""The real ``vitron-agent`` console script, driven in a pseudo-terminal (pexpect) and as a subprocess.

Offline defaults throughout: the rule planner and the classic segmentation backend, on the sample media in
``examples/media`` (what the README's first command uses).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from vitron_agent.decisions import DecisionLog

from vitron_agent.decisions import Decision

from conftest import ROOT

SCRIPT = Path(sys.executable).parent / "vitron-agent"
MOTORCYCLE = ROOT / "examples" / "media" / "motorcycle.jpg"
MOTORBIKE = ROOT / "examples" / "media" / "motorbike.mp4"
SEGMENT = "segment the motorcycle [60, 90, 580, 380]"
THREAD = re.compile(r"--resume ([0-9a-f]{32})")

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed beside python")


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
RULES = re.compile(r"[│┃]")


def environment(**extra: str) -> dict[str, str]:
    """A wide terminal without colours (escape codes for bold and cursor moves remain, and are stripped when
    reading), and the classic backend."""
    return {**os.environ, "TERM": "xterm", "NO_COLOR": "1", "COLUMNS": "200",
            "VITRON_SEGMENTATION_BACKEND": "classic", "HF_HUB_OFFLINE": "1", **extra}


def spawn(workspace: Path, *args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    child = pexpect.spawn(str(SCRIPT), ["chat", "--workspace", str(workspace), *args], env=env or environment(),
                          cwd=str(ROOT), encoding="utf-8", timeout=90, dimensions=(50, 200))
    child.expect("you> ")
    return child


def ask(child: pexpect.spawn, line: str, prompt: str = "you> ") -> str:
    """Send a line and return everything printed until the next prompt, as plain text (table rules blanked)."""
    child.sendline(line)
    child.expect(prompt)
    return RULES.sub(" ", ANSI.sub("", child.before))


def quit_session(child: pexpect.spawn) -> str:
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    match = THREAD.search(ANSI.sub("", child.before))
    assert match, child.before
    return match.group(1)


def test_approve_edit_artifacts_history_and_undo(workspace: Path) -> None:
    child = spawn(workspace, str(MOTORCYCLE))
    panel = ask(child, SEGMENT, "decide> ")
    assert "decision · B image segmentation · segment_image" in panel
    assert re.search(r"region\s+60, 90, 580, 380", panel) and re.search(r"target\s+motorcycle", panel)
    assert "classic (OpenCV GrabCut; configured)" in panel
    preview = re.search(r"preview\s+(\S+\.jpg)", panel)
    assert preview and (workspace / Path(preview.group(1)).relative_to(workspace)).is_file()

    edited = ask(child, "e target=the white motorcycle", "decide> ")
    assert re.search(r"target\s+the white motorcycle\s+\(edited\)", edited)
    wrong_name = ask(child, "e colour=red", "decide> ")
    assert "That change was not applied: segment_image has no argument colour" in wrong_name
    wrong_value = ask(child, "e region=5,5,3,3", "decide> ")
    assert "That change was not applied" in wrong_value and "region" in wrong_value
    assert "write the change as name=value" in ask(child, "e nothing", "decide> ")  # a hint; it still waits

    result = ask(child, "a")
    assert "Segmented 'the white motorcycle' with classic" in result
    assert re.search(r"\bmask\b", result) and re.search(r"\bpreview\b", result)

    listed = ask(child, "/artifacts")
    paths = re.findall(r"(\S+/artifacts/\S+\.(?:png|jpg))", listed)
    kinds = re.findall(r"\b(image|mask|preview)\b", listed)
    assert {"image", "mask", "preview"} <= set(kinds) and all(Path(p).is_file() for p in paths)
    assert re.search(r"segment_image\s+approve \(target edited\)\s+person\s+ok", ask(child, "/history"))

    assert "Undid segment_image" in ask(child, "/undo")
    after = ask(child, "/artifacts")
    assert " mask " not in after and " image " in after
    assert "there is no tool result to undo" in ask(child, "/undo")
    thread = quit_session(child)

    entries = DecisionLog(workspace).list(thread)
    assert [(e.action, e.outcome, e.changed) for e in entries] == [("approve", "ok", ["target"])]


def test_reject_with_a_correction_then_cancel(workspace: Path) -> None:
    child = spawn(workspace, str(MOTORCYCLE))
    ask(child, SEGMENT, "decide> ")
    child.sendline("r")
    child.expect("what was wrong\\? ")
    again = ask(child, "segment the rider [300, 60, 420, 300] instead", "decide> ")
    assert re.search(r"target\s+rider", again) and re.search(r"region\s+300, 60, 420, 300", again)
    assert "Cancelled segment_image; nothing ran." in ask(child, "c")
    history = ask(child, "/history")
    assert re.search(r"segment_image\s+reject", history) and re.search(r"segment_image\s+cancel", history)
    quit_session(child)
    assert not list((workspace / "artifacts").rglob("*.png"))  # nothing ran: no mask was written


def test_mistakes_get_one_line_hints_and_the_session_lives(workspace: Path) -> None:
    child = spawn(workspace)
    assert "unknown command /frobnicate; /help lists them" in ask(child, "/frobnicate")
    assert "/attach PATH" in ask(child, "/help")
    missing = ask(child, "/attach no/such/photo.jpg")
    assert "error:" in missing and "no/such/photo.jpg" in missing
    corrupt = workspace / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff not really a jpeg")
    assert "error:" in ask(child, f"/attach {corrupt}")
    assert "usage: /attach PATH" in ask(child, "/attach")
    assert "error:" in ask(child, "/region 1,2,3")
    assert "usage: /policy ask|step|auto" in ask(child, "/policy sometimes")
    assert "Policy: auto" in ask(child, "/policy auto")
    assert "Attached image motorcycle.jpg (640x480)" in ask(child, f"/attach {MOTORCYCLE}")
    assert "wholly outside" in ask(child, "/region 700,500,800,600")
    assert "Region for the next request: 60, 90, 580, 380" in ask(child, "/region 60,90,580,380")
    # policy auto: the tool runs at once, with the region given by /region
    assert "Segmented 'motorcycle' with classic" in ask(child, "segment the motorcycle")
    quit_session(child)


def test_a_plan_in_the_terminal_edit_drop_undo_and_fork(workspace: Path) -> None:
    child = spawn(workspace, str(MOTORCYCLE))
    panel = ask(child, "segment the motorcycle [60, 90, 580, 380], then segment the van [0, 0, 200, 300], then "
                       "segment the rider [300, 60, 420, 300]", "decide> ")
    assert "decision · step 1 of 3 · B image segmentation · segment_image" in panel
    assert re.search(r"1\s+segment_image: target 'motorcycle'.*asking", panel)
    assert re.search(r"3\s+segment_image: target 'rider'", panel) and "d N drop step N" in panel
    assert re.search(r"3\s+segment_image: target 'the person'", ask(child, "e 3 target=the person", "decide> "))
    dropped = ask(child, "d 2", "decide> ")
    assert "'van'" not in dropped and re.search(r"2\s+segment_image: target 'the person'", dropped)
    done = ask(child, "a")
    assert "1. Segmented 'motorcycle' with classic" in done and "2. Segmented 'the person'" in done
    assert len(re.findall(r"\bdone\b", ask(child, "/plan"))) == 2

    back = ask(child, "/undo 2", "decide> ")
    assert "decision · step 2 of 2" in back and re.search(r"1\s+segment_image: target 'motorcycle'[^\n]*\bdone\b", back)
    assert "Stopped the plan before step 2; steps 1 to 1 are kept." in ask(child, "c")
    forked = ask(child, "/fork 1", "decide> ")
    assert "forked from" in forked and "decision · step 1 of 2" in forked
    assert "1. Segmented 'motorcycle'" in ask(child, "a")
    quit_session(child)


def test_ctrl_c_cancels_the_running_tool_not_the_session(workspace: Path) -> None:
    child = spawn(workspace, str(MOTORBIKE))
    ask(child, "track the motorbike [148, 129, 222, 208]", "decide> ")
    child.sendline("a")
    child.expect(r"frame \d+")  # the progress bar is moving: the tracker is running
    child.sendintr()
    child.expect("Cancelling the running tool")
    child.expect("segment_video was cancelled.")
    child.expect("you> ")
    history = ask(child, "/history")
    assert "cancelled" in history
    thread = quit_session(child)
    assert [e.outcome for e in DecisionLog(workspace).list(thread)] == ["cancelled"]
    assert not list((workspace / "artifacts").rglob("*.npz"))


def test_a_thread_resumes_in_a_second_process_with_its_decision_waiting(workspace: Path) -> None:
    first = spawn(workspace, str(MOTORCYCLE))
    ask(first, SEGMENT, "decide> ")
    thread = quit_session(first)  # leave with the decision unanswered

    second = pexpect.spawn(str(SCRIPT), ["chat", "--workspace", str(workspace), "--resume", thread],
                           env=environment(), cwd=str(ROOT), encoding="utf-8", timeout=90, dimensions=(50, 200))
    second.expect("decide> ")
    shown = ANSI.sub("", second.before)
    assert "segment_image" in shown and f"thread {thread}" in shown
    assert "Segmented 'motorcycle' with classic" in ask(second, "")
    assert thread == quit_session(second)

    unknown = subprocess.run([str(SCRIPT), "chat", "--workspace", str(workspace), "--resume", "nope"],
                             env=environment(), capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1 and "there is no thread 'nope'" in unknown.stdout and thread in unknown.stdout


def run_cli(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "run", "--workspace", str(workspace), *args], env=environment(),
                          cwd=str(ROOT), capture_output=True, text=True, timeout=300)


def test_run_json_reports_decisions_artifacts_and_text(workspace: Path) -> None:
    done = run_cli(workspace, "segment the motorcycle", str(MOTORCYCLE), "--region", "60,90,580,380", "--yes",
                   "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"thread", "decisions", "pending", "choice", "artifacts", "text"}
    assert report["pending"] is None and report["choice"] is None
    assert report["text"].startswith("Segmented 'motorcycle' with classic")
    (decision,) = report["decisions"]
    assert decision["tool"] == "segment_image" and decision["module"] == "B"
    assert decision["action"] == "approve" and decision["by"] == "person" and decision["outcome"] == "ok"
    assert decision["args"]["target"] == "motorcycle"
    assert decision["args"]["region"] == {"x1": 60.0, "y1": 90.0, "x2": 580.0, "y2": 380.0}
    assert decision["backend"].startswith("classic")
    assert [a["kind"] for a in report["artifacts"]] == ["mask", "preview"]
    assert decision["artifacts"] == [a["id"] for a in report["artifacts"]]
    for artifact in report["artifacts"]:
        assert set(artifact) >= {"id", "kind", "path"} and Path(artifact["path"]).is_file()
        assert Path(artifact["path"]).is_relative_to(workspace.resolve())

    waiting = run_cli(workspace, "segment the motorcycle", str(MOTORCYCLE), "--region", "60,90,580,380", "--json")
    assert waiting.returncode == 3
    report = json.loads(waiting.stdout)
    assert report["decisions"] == [] and report["artifacts"] == []
    pending = Decision.model_validate(report["pending"])  # the typed decision, as JSON
    assert pending.summary.startswith("segment_image: target 'motorcycle'") and pending.asking == [1]

    shown = run_cli(workspace, "segment the motorcycle", str(MOTORCYCLE), "--region", "60,90,580,380")
    assert shown.returncode == 3 and "decision · B image segmentation · segment_image" in shown.stdout
    assert "Not run (exit 3)" in shown.stdout


def test_run_refuses_bad_media_in_one_line(workspace: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    failed = run_cli(workspace, "segment the dog", str(corrupt), "--yes")
    assert failed.returncode == 1
    assert "error:" in failed.stderr and "broken.png" in failed.stderr and "Traceback" not in failed.stderr
    outside = run_cli(workspace, "segment the dog", str(MOTORCYCLE), "--region", "1,2,3")
    assert outside.returncode == 1 and "4 numbers" in outside.stderr


HEAVY = ("torch", "transformers", "diffusers")
PROBE = """
import sys
from vitron_agent.cli import app
sys.argv = ["vitron-agent", *sys.argv[1:]]
try:
    app()
except SystemExit:
    pass
print("HEAVY", sorted(name for name in {heavy!r} if name in sys.modules))
"""


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["doctor"]])
def test_help_and_doctor_do_not_import_torch(args: list[str], workspace: Path) -> None:
    args = [*args, "--workspace", str(workspace)] if args == ["doctor"] else args
    probe = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], env=environment(),
                           capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in probe.stdout, probe.stdout + probe.stderr


def test_doctor_lists_each_tool_with_its_backend_and_weights(workspace: Path, tiny_sam2: Path) -> None:
    from conftest import configure, sam2_settings

    configure(workspace, sam2_settings(tiny_sam2))
    env = {k: v for k, v in environment().items() if k != "VITRON_SEGMENTATION_BACKEND"}
    report = subprocess.run([str(SCRIPT), "doctor", "--workspace", str(workspace)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    text = report.stdout
    for tool in ("generate_image", "segment_image", "edit_image", "generate_video", "segment_video", "edit_video",
                 "animate_image"):
        assert tool in text
    assert f"sam2 ({tiny_sam2})" in text  # the configured checkpoint is what would run
    assert f"present sam2 ({tiny_sam2})" in text
    assert "missing sd (stable-diffusion-v1-5/stable-diffusion-v1-5)" in text
    assert "needs weights: the weights sd (stable-diffusion-v1-5/stable-diffusion-v1-5) are not on this" in text
    assert "vitron-agent pull sd" in text and "tools can run here now" in text
    assert re.search(r"device\s+cpu", text) and "memory budget" in text and "torch" in text

    configure(workspace, "[weights.sam2\nsource = ")
    broken = subprocess.run([str(SCRIPT), "doctor", "--workspace", str(workspace)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert broken.returncode == 1 and "is not valid TOML" in broken.stdout and "Traceback" not in broken.stderr


def test_a_failed_step_is_one_sentence_and_its_traceback_goes_to_the_workspace_log(workspace: Path) -> None:
    """Before: about 20 lines of traceback after the sentence (Python's last-resort handler printing the tool's
    WARNING with its exc_info)."""
    whole = ["segment the sheep", str(MOTORCYCLE), "--region", "0,0,640,480", "--yes"]
    done = run_cli(workspace, *whole)
    said = done.stdout + done.stderr
    assert "draw a tighter box around the object" in said
    assert "Traceback" not in said and "Error" not in said, said
    logged = (workspace / "vitron-agent.log").read_text()
    assert "segment_image failed" in logged and "Traceback (most recent call last)" in logged
    verbose = subprocess.run([str(SCRIPT), "--verbose", "run", "--workspace", str(workspace), *whole],
                             env=environment(), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback (most recent call last)" in verbose.stderr
