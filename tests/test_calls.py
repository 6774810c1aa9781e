"""From a parsed Vitron output and the person's attachments to one typed, validated tool call."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import Attachment, CallError, CallInputs, GroundedBox, call_from_invocation
from vitron_agent.invocation import Module, parse_invocation
from vitron_agent.regions import Box
from vitron_agent.tools import builtin_tools, call_record, tool_for_module
from vitron_agent.tools.animate_image import AnimateImage
from vitron_agent.tools.edit_image import EditImage
from vitron_agent.tools.edit_video import EditVideo
from vitron_agent.tools.generate_image import GenerateImage
from vitron_agent.tools.generate_video import GenerateVideo
from vitron_agent.tools.segment_image import SegmentImage
from vitron_agent.tools.segment_video import SegmentVideo

from conftest import MOTORBIKE_FRAMES, MOTORCYCLE, ROOT, TENNIS_PLAYER


@pytest.fixture(scope="module")
def attached(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Attachment]:
    """A real photo and a real clip, imported the way a session imports them."""
    with ArtifactStore(tmp_path_factory.mktemp("ws"), import_roots=[ROOT]) as store:
        photo = store.import_file(MOTORCYCLE[0])
        clip = store.import_file(MOTORBIKE_FRAMES, fps=15)
        return {"image": Attachment.from_artifact(photo), "video": Attachment.from_artifact(clip)}


def make(text: str, attached: dict[str, Attachment], *kinds: str, region: Box | None = None, frame: int = 0):
    inputs = CallInputs(attachments=tuple(attached[k] for k in kinds), region=region, frame=frame)
    return call_from_invocation(parse_invocation(text), inputs)


def test_each_module_is_served_by_the_tool_that_declares_it() -> None:
    tools = builtin_tools()
    assert {m: tool_for_module(tools, m).name for m in Module} == {m: m.tool for m in Module}
    assert Module.B.tool == "segment_image" and tools["segment_image"].Args is SegmentImage


def test_understanding_yields_no_call(attached: dict[str, Attachment]) -> None:
    assert make("A man is ironing on a taxi.", attached, "image") is None


def test_segment_image_with_the_planners_region(attached: dict[str, Attachment]) -> None:
    image = attached["image"]
    call = make("Sure. <module>B</module> <instruction>segmentation: the motorcycle</instruction> "
                "<region>[21, 32, 203, 133]</region>", attached, "image")
    assert isinstance(call, SegmentImage)
    assert call.image == image.ref and call.target == "the motorcycle"
    expected = Box.from_model_frame((21, 32, 203, 133), image.size)
    assert call.region == expected and call.notes == ()


def test_the_persons_region_wins(attached: dict[str, Attachment]) -> None:
    mine = Box.of(MOTORCYCLE[1])
    call = make("<module>B</module><instruction>segmentation: bike</instruction><region>0,0,10,10</region>",
                attached, "image", region=mine)
    assert call.region == mine and any("person's region" in n for n in call.notes)


def test_region_partly_outside_is_clipped_with_a_note(attached: dict[str, Attachment]) -> None:
    call = make("<module>B</module><instruction>segmentation: bike</instruction><region>[100, 100, 260, 300]"
                "</region>", attached, "image")
    width, height = attached["image"].size
    assert call.region.x2 == width and call.region.y2 == height
    assert any("clipped" in n for n in call.notes)


@pytest.mark.parametrize(
    ("region", "message"),
    [("[250, 10, 300, 20]", "wholly outside"), ("[200, 10, 100, 20]", "x1 < x2"), ("[5, 5, 5, 9]", "x1 < x2")],
)
def test_unusable_planner_region(attached: dict[str, Attachment], region: str, message: str) -> None:
    with pytest.raises(CallError, match=message) as caught:
        make(f"<module>B</module><instruction>segmentation: x</instruction><region>{region}</region>", attached,
             "image")
    assert "224 x 224" in str(caught.value)


def test_persons_region_outside_the_image(attached: dict[str, Attachment]) -> None:
    with pytest.raises(CallError, match="person's region.*wholly outside"):
        make("<module>B</module><instruction>segmentation: x</instruction>", attached, "image",
             region=Box.of((5000, 5000, 6000, 6000)))


def test_edit_image_splits_prompts_on_semicolons(attached: dict[str, Attachment]) -> None:
    call = make("<module>C</module><instruction>editing: make it red; add snow ;</instruction>"
                "<instruction>editing: at dusk</instruction>", attached, "image")
    assert isinstance(call, EditImage)
    assert call.prompts == ["make it red", "add snow", "at dusk"] and call.region is None


def test_video_editing_reads_foreground_then_background(attached: dict[str, Attachment]) -> None:
    call = make("<module>F</module><instruction>editing: a golden motorbike</instruction>"
                "<instruction>editing: a snowy road</instruction>", attached, "video")
    assert isinstance(call, EditVideo)
    assert (call.foreground, call.background) == ("a golden motorbike", "a snowy road")


def test_video_editing_honours_task_names(attached: dict[str, Attachment]) -> None:
    call = make("<module>F</module><instruction>background: a desert</instruction>"
                "<instruction>foreground: a robot</instruction><instruction>x: extra</instruction>",
                attached, "video")
    assert (call.foreground, call.background) == ("a robot", "a desert")
    assert any("extra" in n for n in call.notes)


def test_segment_video_keeps_the_frame(attached: dict[str, Attachment]) -> None:
    call = make("<module>E</module><instruction>tracking: the motorbike</instruction>", attached, "video",
                region=Box.of((198, 172, 296, 278)), frame=0)
    assert isinstance(call, SegmentVideo) and call.video == attached["video"].ref and call.frame == 0


def test_generation_modules(attached: dict[str, Attachment]) -> None:
    image = make("<module>A</module><instruction>generation: a red fox</instruction><region>1,2,3,4</region>",
                 attached)
    assert isinstance(image, GenerateImage) and image.prompt == "a red fox" and image.width == 512
    assert any("takes no region" in n for n in image.notes)
    video = make("<module>D</module><instruction>video generation: waves</instruction>", attached)
    assert isinstance(video, GenerateVideo) and video.num_frames == 16
    animated = make("<module>G</module><instruction>i2v: the bike drives off</instruction>", attached, "image")
    assert isinstance(animated, AnimateImage) and animated.image == attached["image"].ref


def test_latest_attachment_of_the_right_kind_is_used(tmp_path: Path, attached: dict[str, Attachment]) -> None:
    with ArtifactStore(tmp_path, import_roots=[ROOT]) as store:
        second = Attachment.from_artifact(store.import_file(TENNIS_PLAYER[0]))
    inputs = CallInputs(attachments=(attached["image"], attached["video"], second))
    call = call_from_invocation(parse_invocation("<module>B</module><instruction>s: player</instruction>"), inputs)
    assert call.image == second.ref


@pytest.mark.parametrize(
    ("text", "kinds", "message"),
    [
        ("<module>B</module><instruction>segmentation: dog</instruction>", (), "needs an image"),
        ("<module>E</module><instruction>tracking: dog</instruction>", ("image",), "needs a video"),
        ("<module>B</module> I will segment it.", ("image",), "needs an instruction"),
        ("<module>H</module><instruction>x: dog</instruction>", ("image",), "no valid <module>"),
        ("<instruction>segmentation: dog</instruction>", ("image",), "no valid <module>"),
        ("<module>A</module><instruction>generation: " + "x" * 3000 + "</instruction>", (), "prompt"),
    ],
)
def test_errors_say_what_to_do(attached: dict[str, Attachment], text: str, kinds: tuple[str, ...],
                               message: str) -> None:
    with pytest.raises(CallError, match=message):
        make(text, attached, *kinds)


def test_validation_errors_become_field_lines() -> None:
    with pytest.raises(ValidationError):
        GenerateImage(prompt="x", steps=0)
    with pytest.raises(ValidationError, match="does not fit"):
        GenerateImage(prompt="x", boxes=[GroundedBox(phrase="cat", box=Box.of((0, 0, 600, 100)))])
    with pytest.raises(ValidationError, match="give a target, a region or points"):
        SegmentImage(image="a")
    with pytest.raises(ValidationError, match="foreground prompt, a background prompt"):
        EditVideo(video="v")
    with pytest.raises(ValidationError, match="extra"):
        SegmentImage(image="a", target="dog", colour="red")


def test_json_schemas_are_tool_schemas() -> None:
    for tool in builtin_tools().values():
        schema = tool.Args.model_json_schema()
        assert schema["additionalProperties"] is False
        assert "notes" not in schema["properties"]
    assert set(SegmentImage.model_json_schema()["required"]) == {"image"}
    assert EditImage.model_json_schema()["properties"]["prompts"]["minItems"] == 1


def test_record_is_json_data(attached: dict[str, Attachment]) -> None:
    call = make("<module>B</module><instruction>segmentation: bike</instruction><region>[0,0,100,100]</region>",
                attached, "image")
    record = call_record(builtin_tools()["segment_image"], call)
    assert record["tool"] == "segment_image" and "notes" not in record["args"]
    assert SegmentImage.model_validate(record["args"]) == call.model_copy(update={"notes": ()})


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([
    "<module>", "</module>", "<instruction>", "</instruction>", "<region>", "</region>", "A", "B", "C", "D",
    "E", "F", "G", "H", "seg: ", "dog", ";", "[", "]", ",", "0", "224", "-5", "0.5", "300", " ",
]), max_size=30).map("".join), st.sampled_from([(), ("image",), ("video",), ("image", "video")]))
def test_only_call_errors_escape(attached: dict[str, Attachment], text: str, kinds: tuple[str, ...]) -> None:
    try:
        call = make(text, attached, *kinds)
    except CallError as error:
        assert str(error)
    else:
        assert call is None or any(type(call) is tool.Args for tool in builtin_tools().values())
