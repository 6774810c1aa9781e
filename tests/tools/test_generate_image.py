"""generate_image on tiny random Stable Diffusion and GLIGEN pipelines loaded through from_pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import GroundedBox
from vitron_agent.tools.generate_image import GenerateImage
from vitron_agent.media import load_image
from vitron_agent.models import ModelManager
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.regions import Box
from vitron_agent.session import Session
from vitron_agent.tools import ToolCancelled, ToolContext, call_record
from vitron_agent.tools.generate_image import GenerateImageTool
from vitron_agent.weights import WeightsUnavailable

from conftest import configure


def settings(pipelines: dict[str, Path]) -> str:
    return "".join(f'[weights.{name}]\nsource = "{path}"\n' for name, path in pipelines.items())


def generate(workspace: Path, call: GenerateImage, models: ModelManager, events: list | None = None,
             cancelled: bool = False):
    store = ArtifactStore(workspace)
    ctx = ToolContext(store=store, call=call_record(GenerateImageTool, call), models=models, cancelled=lambda: cancelled,
                      progress=lambda done, total, message: (events if events is not None else []).append(done))
    result = GenerateImageTool().run(call, ctx)
    return store, store.get(result.artifacts[0]), result


def test_text_to_image_is_reproducible_and_recorded(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    models = ModelManager(device="cpu")
    events: list = []
    call = GenerateImage(prompt="a red fox in the snow", width=64, height=72, steps=2, seed=7)
    store, image, result = generate(workspace, call, models, events)
    assert load_image(image.path).size == (64, 72) and image.media_type == "image/png"
    assert image.seed == 7 and image.model_id == str(tiny_diffusion["sd"])
    assert image.meta == {"width": 64, "height": 72, "steps": 2, "guidance_scale": 7.5,
                          "pipeline": "StableDiffusionPipeline"}
    assert image.call == {"tool": "generate_image", "args": call.arguments()}
    assert events == [1, 2] and "seed 7" in result.text
    first = image.path.read_bytes()
    (workspace / "again").mkdir()
    configure(workspace / "again", settings(tiny_diffusion))
    _, again, _ = generate(workspace / "again", call, models)
    assert again.path.read_bytes() == first  # the same seed gives byte-identical output
    assert models.stats()["loads"] == 1


def test_a_fresh_seed_is_recorded(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    _, image, _ = generate(workspace, GenerateImage(prompt="a fox", width=64, height=64, steps=1),
                           ModelManager(device="cpu"))
    assert isinstance(image.seed, int)


def test_boxes_use_gligen(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    call = GenerateImage(prompt="a dog and a ball", width=64, height=64, steps=2, seed=3,
                         boxes=[GroundedBox(phrase="a dog", box=Box.of((0, 0, 32, 64))),
                                GroundedBox(phrase="a ball", box=Box.of((40, 40, 60, 60)))])
    events: list = []
    _, image, _ = generate(workspace, call, ModelManager(device="cpu"), events)
    assert image.meta["pipeline"] == "StableDiffusionGLIGENPipeline" and events == [1, 2]
    assert image.model_id == str(tiny_diffusion["gligen"])


def test_cancellation_between_steps(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    with pytest.raises(ToolCancelled):
        generate(workspace, GenerateImage(prompt="a fox", width=64, height=64, steps=2, seed=1),
                 ModelManager(device="cpu"), cancelled=True)
    assert ArtifactStore(workspace).list() == []


def test_bad_arguments_are_refused_before_any_load() -> None:
    for bad in ({"width": 65}, {"steps": 0}, {"height": 4096}, {"prompt": ""}, {"prompt": "x" * 3000}):
        with pytest.raises(ValidationError):
            GenerateImage(**{"prompt": "a fox", **bad})


def test_missing_weights_say_how_to_get_them(workspace: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="hf download stable-diffusion-v1-5/stable-diffusion-v1-5"):
        generate(workspace, GenerateImage(prompt="a fox", steps=1), ModelManager(device="cpu"))


def test_module_a_through_the_graph(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, settings(tiny_diffusion))
    planner = ScriptedPlanner(["Here you go. <module>A</module> <instruction>generation: a red fox</instruction>"])
    session = Session(workspace, planner)
    shown = session.send("draw a red fox").pending
    assert shown.tool == "generate_image" and shown.current.backend.startswith("StableDiffusionPipeline (")
    session.edit(width=64, height=64, steps=2, seed=5)
    done = session.approve()
    [image] = done.artifacts
    assert image.seed == 5 and load_image(image.path).size == (64, 64)
