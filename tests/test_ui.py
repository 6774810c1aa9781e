"""Rendering: what a person reads in the terminal, rendered to plain text with rich's own recording console."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image
from rich.console import Console

from vitron_agent.artifacts import Artifact
from vitron_agent.decisions import Decision, LogEntry, StepView
from vitron_agent.ui import decision_panel, history_table, result_view, thumbnail

from conftest import PHOTO

STEP = StepView(
    number=1, tool="segment_image", module="B", module_name="image segmentation",
    args={"image": "549a74bc70d197fe", "target": "the white motorcycle", "region": {"x1": 60.0, "y1": 90.0,
          "x2": 580.0, "y2": 380.0}, "points": []},
    summary="", preview="p1", backend="classic (OpenCV GrabCut; configured)",
    notes=["box (60, 90, 700, 380) was clipped to the 640 x 480 image: (60, 90, 640, 380)"], changed=["target"],
)
SHOWN = Decision(id="c1", steps=[STEP], asking=[1], response="Segmenting motorcycle.")


def text_of(renderable: object, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_the_decision_panel_shows_module_arguments_backend_preview_and_notes() -> None:
    text = text_of(decision_panel(SHOWN, preview=Path("/ws/artifacts/ab/preview.jpg")))
    assert "decision · B image segmentation · segment_image" in text
    assert "Segmenting motorcycle." in text
    assert "the white motorcycle  (edited)" in text and "60, 90, 580, 380" in text
    assert "runs on  classic (OpenCV GrabCut; configured)" in text
    assert "preview  /ws/artifacts/ab/preview.jpg" in text
    assert "was clipped to the 640 x 480 image" in text
    assert "a approve (Enter)" in text and "c cancel" in text


def test_a_refused_edit_is_said_in_the_panel() -> None:
    text = text_of(decision_panel(SHOWN.model_copy(update={"error": "segment_image has no argument colour"})))
    assert "That change was not applied: segment_image has no argument colour" in text


def test_the_thumbnail_draws_two_pixels_per_cell_in_the_photo_colours() -> None:
    picture = thumbnail(PHOTO, columns=32)
    lines = picture.plain.splitlines()
    assert len(lines) == 12 and all(line == "▀" * 32 for line in lines)  # 640 x 480 -> 32 x 24 pixels
    photo = Image.open(PHOTO).convert("RGB").resize((32, 24))
    first = picture.spans[0].style
    assert first.color.triplet == photo.getpixel((0, 0)) and first.bgcolor.triplet == photo.getpixel((0, 1))


def test_results_and_history_list_ids_kinds_paths_and_outcomes(tmp_path: Path) -> None:
    mask = Artifact(id="m1", kind="mask", path=tmp_path / "m.png", media_type="image/png", sha256="0" * 64, size=1,
                    parents=("p0",), call={"tool": "segment_image"}, created=datetime.now(timezone.utc))
    text = text_of(result_view("Segmented it.", [mask]))
    assert "Segmented it." in text and "m1" in text and "mask" in text and "m.png" in text
    entries = [LogEntry(id="1", tool="segment_image", action="approve", by="person", outcome="ok", artifacts=["m1"],
                        message="Segmented it.", changed=["region"], undone=True),
               LogEntry(id="2", tool="edit_image", action="reject", by="person", feedback="not the van")]
    history = text_of(history_table(entries))
    assert "approve (region edited)" in history and "ok (undone)" in history
    assert "reject" in history and "not the van" in history
