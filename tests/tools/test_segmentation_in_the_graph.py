"""Modules B and E through the graph: the scripted planner emits Vitron's tags, the decision shows the region
on the image, approval runs the built-in tool, and its artifacts land in the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vitron_agent.media import encode_video, load_video
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session

from conftest import MOTORBIKE_FRAMES, MOTORCYCLE, ROOT, configure


def test_module_b_from_vitron_text_to_a_mask(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    planner = ScriptedPlanner([
        "Sure, I'll outline the motorcycle. <module>B</module> <instruction>segmentation: the white motorcycle"
        "</instruction> <region>[21, 42, 203, 177]</region>"
    ])
    session = Session(workspace, planner, import_roots=[ROOT])  # the built-in tools
    shown = session.send("cut out the motorcycle", attachments=[MOTORCYCLE[0]]).pending
    assert shown.tool == "segment_image" and shown.current.module == "B"
    assert session.store.get(shown.current.preview).kind == "preview"
    assert shown.current.backend.startswith("classic")
    done = session.approve()
    kinds = sorted(a.kind for a in done.artifacts)
    assert kinds == ["mask", "preview"] and "with classic" in done.text
    assert all(a in session.store.list() for a in done.artifacts)


def test_module_e_tracks_through_a_clip(workspace: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    clip = workspace / "motorbike.mp4"
    clip.write_bytes(encode_video(load_video(MOTORBIKE_FRAMES).frames[:8], 15))
    planner = ScriptedPlanner(["<module>E</module> <instruction>tracking: the motorbike</instruction>"])
    session = Session(workspace, planner, import_roots=[ROOT])
    shown = session.send("follow the motorbike", attachments=[clip], region=[198, 172, 296, 278]).pending
    preview = session.store.get(shown.current.preview)  # the box drawn on the clip's first frame
    assert preview.kind == "preview" and (preview.meta["width"], preview.meta["height"]) == (854, 480)
    done = session.approve()
    masks, overlay = done.artifacts
    assert masks.kind == "masks" and masks.meta["frames"] == 8 and overlay.kind == "video"
    assert np.load(masks.path)["masks"].shape == (8, 480, 854)
    assert session.log.list()[0].outcome == "ok"
