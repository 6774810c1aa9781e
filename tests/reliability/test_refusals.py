"""Bad input refused cleanly, the session alive after each: the bad-media corpus through a session and through
the terminal, paths outside the workspace and symlinks out of it, absurd sizes; and the memory budget held while
a plan touches three models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from vitron_agent.media import MediaError
from vitron_agent.models import ModelManager
from vitron_agent.paths import PathOutsideWorkspace
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session

from conftest import MOTORCYCLE, PHOTO, ROOT, configure
from support_tools import Grayscale
from test_media import CORPUS_NAMES, build_corpus

SCRIPT = Path(sys.executable).parent / "vitron-agent"
GRAY = "<module>C</module> <instruction>editing: gray</instruction>"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return build_corpus(tmp_path_factory.mktemp("bad-media"))


def test_the_corpus_through_a_session_leaves_it_working(workspace: Path, corpus) -> None:
    s = Session(workspace, ScriptedPlanner([GRAY]), tools=[Grayscale], import_roots=[ROOT],
                policy="auto")
    for name in CORPUS_NAMES:
        path, expect = corpus[name]
        with pytest.raises((MediaError, PathOutsideWorkspace)) as refused:
            s.send("gray it", attachments=[s.store.import_file(path, grant=True)])
        assert expect in str(refused.value), name
    assert s.history() == [] and s.store.list() == []  # nothing half-imported
    assert s.send("gray it", attachments=[PHOTO]).artifacts  # and the session still works


def test_the_corpus_through_the_terminal_one_line_each(workspace: Path, corpus) -> None:
    env = {**os.environ, "TERM": "xterm", "NO_COLOR": "1", "COLUMNS": "200", "HF_HUB_OFFLINE": "1",
           "VITRON_SEGMENTATION_BACKEND": "classic"}
    child = pexpect.spawn(str(SCRIPT), ["chat", "--workspace", str(workspace)], env=env, cwd=str(ROOT),
                          encoding="utf-8", timeout=90, dimensions=(50, 200))
    child.expect("you> ")
    for name in CORPUS_NAMES:
        child.sendline(f"/attach {corpus[name][0]}")
        child.expect("you> ")
        assert "error:" in child.before and "Traceback" not in child.before, name
    child.sendline(f"/attach {MOTORCYCLE[0]}")
    child.expect("Attached image")
    child.expect("you> ")
    child.sendline("segment the motorcycle [60, 90, 580, 380]")
    child.expect("decide> ")  # still alive and working
    child.sendline("/quit")
    child.expect(pexpect.EOF)


def test_paths_outside_and_symlinks_out_are_refused(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(PHOTO.read_bytes())
    (workspace / "link.jpg").symlink_to(outside)
    (workspace / "folder-link").symlink_to(tmp_path)
    s = Session(workspace, ScriptedPlanner([]), tools=[Grayscale])
    for attempt in (outside, workspace / "link.jpg", workspace / "folder-link" / "outside.jpg",
                    workspace / ".." / "outside.jpg", "/etc/passwd"):
        with pytest.raises(PathOutsideWorkspace):
            s.store.import_file(attempt)
    # a planner naming a path instead of an artifact id: the tool is told, the session lives
    planner = ScriptedPlanner([{"name": "grayscale", "args": {"image": "/etc/passwd", "prompts": ["g"]}},
                               {"name": "grayscale", "args": {"image": "../../outside.jpg", "prompts": ["g"]}}])
    s = Session(workspace, planner, tools=[Grayscale], policy="auto")
    for _ in range(2):
        turn = s.send("gray that file")
        assert turn.pending is None and turn.text.startswith("grayscale failed: no artifact")


def test_absurd_sizes_are_refused_before_anything_runs(workspace: Path) -> None:
    from vitron_agent.tools.edit_image import EditImage
    from vitron_agent.tools.generate_image import GenerateImage
    from vitron_agent.tools.generate_video import GenerateVideo

    for build in (lambda: GenerateImage(prompt="x", width=100_000, height=512),
                  lambda: GenerateImage(prompt="x", steps=10**9),
                  lambda: GenerateVideo(prompt="x", num_frames=10**6),
                  lambda: GenerateImage(prompt="x" * 100_000),
                  lambda: EditImage(image="x", prompts=["a"] * 100)):
        with pytest.raises(ValueError):  # pydantic's ValidationError: the field and its bound named
            build()
    # from a planner, an absurd call is turned back with the reason, and nothing runs
    planner = ScriptedPlanner([{"name": "grayscale", "args": {"image": "x", "prompts": ["g"], "steps": 10**9}}])
    turn = Session(workspace, planner, tools=[Grayscale], max_corrections=0).send("gray, forever")
    assert turn.pending is None and "steps" in turn.text and "less than or equal to 200" in turn.text


@pytest.mark.slow
def test_the_memory_budget_holds_while_a_plan_touches_three_models(workspace: Path,
                                                                  tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n' + "".join(
        f'[weights.{name}]\nsource = "{tiny_diffusion[name]}"\n' for name in ("sd", "inpaint", "pix2pix")))
    plan = [  # three pipelines: inpainting (in a GrabCut mask of the photo), InstructPix2Pix, Stable Diffusion
        {"name": "edit_image", "args": {"prompts": ["red"], "region": [60, 90, 580, 380], "steps": 1, "seed": 1}},
        {"name": "edit_image", "args": {"image": "@1", "prompts": ["winter"], "steps": 1, "seed": 1}},
        {"name": "generate_image", "args": {"prompt": "a fox", "width": 128, "height": 128, "steps": 1, "seed": 1}},
    ]
    budget = 10 * 2**20  # the three tiny pipelines take about 14.5 MiB together, 4.8 MiB the largest
    models = ModelManager(device="cpu", budget=budget)
    resident: list[int] = []
    s = Session(workspace, ScriptedPlanner([plan]), models=models, import_roots=[ROOT], policy="auto",
                on_progress=lambda event: resident.append(sum(models.stats()["bytes"].values())))
    s.send("repaint, restyle, draw", attachments=[PHOTO])
    assert [step.status for step in s.plan.steps] == ["done"] * 3, [step.message for step in s.plan.steps]
    stats = models.stats()
    assert resident and max(resident) <= budget and sum(stats["bytes"].values()) <= budget
    assert stats["loads"] == 3 and stats["evictions"] >= 1  # the third pipeline pushed one out
