"""Shared fixtures: the real sample media in ``../shared/data`` and a fresh workspace per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VITRON_SAMPLE_DATA", ROOT.parent / "shared" / "data")).resolve()
IMAGES = SHARED_DATA / "images"
VIDEOS = SHARED_DATA / "videos"

# Boxes from the data README (x1, y1, x2, y2 in pixels), drawn by eye.
TENNIS_PLAYER = IMAGES / "coco_000000015269.jpg", (70, 60, 310, 615)
MOTORCYCLE = IMAGES / "coco_000000270066.jpg", (60, 90, 580, 380)
MOTORBIKE_FRAMES = VIDEOS / "motorbike_frames"


def pytest_configure(config: pytest.Config) -> None:
    if not IMAGES.is_dir():
        raise pytest.UsageError(
            f"sample media not found at {SHARED_DATA}; put the shared folder beside the project "
            "or set VITRON_SAMPLE_DATA"
        )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


PHOTO = IMAGES / "coco_000000270066.jpg"
"""The motorcycle photo, 640 px wide."""

GRAY = "Sure, I will make it black and white. <module>C</module> <instruction>editing: make it black and white</instruction>"
GRAY_REGION = GRAY + " <region>[21, 32, 203, 133]</region>"
