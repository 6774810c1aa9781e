"""parse_invocation reads Vitron's format, repairs what it can, notes the rest, and never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitron_agent.invocation import Command, Invocation, Module, parse_invocation

VITRON_EXAMPLE = (
    "Sure, I'll focus on the zebra that is the farthest from us. "
    "<module>B</module> <instruction>segmentation: zebra farthest from you</instruction>"
)


def roundtrips(inv: Invocation) -> bool:
    canonical = inv.to_vitron_text()
    again = parse_invocation(canonical)
    return again == inv and again.to_vitron_text() == canonical


def test_vitron_example() -> None:
    inv = parse_invocation(VITRON_EXAMPLE)
    assert inv.response == "Sure, I'll focus on the zebra that is the farthest from us."
    assert inv.module is Module.B
    assert inv.commands == (Command(task="segmentation", text="zebra farthest from you"),)
    assert inv.region is None and inv.problems == ()
    assert inv.to_vitron_text() == VITRON_EXAMPLE


def test_module_knows_its_tool_and_name() -> None:
    assert [m.tool for m in Module] == [
        "generate_image", "segment_image", "edit_image", "generate_video", "segment_video", "edit_video",
        "animate_image",
    ]
    assert Module("F").human_name == "video editing"
    assert Module.A.value == "A"


def test_plain_answer_is_understanding() -> None:
    inv = parse_invocation("The man is ironing clothes on the back of a taxi.")
    assert inv.is_understanding and inv.problems == ()
    assert inv.response == "The man is ironing clothes on the back of a taxi."


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_empty_input(text: str) -> None:
    inv = parse_invocation(text)
    assert inv == Invocation() and inv.problems == ()


def test_lowercase_letter_is_read_with_a_note() -> None:
    inv = parse_invocation("<module>c</module><instruction>editing: make the sky pink</instruction>")
    assert inv.module is Module.C
    assert any("read it as C" in p for p in inv.problems)


def test_module_by_tool_or_human_name() -> None:
    assert parse_invocation("<module>segment_image</module><instruction>s: dog</instruction>").module is Module.B
    assert parse_invocation("<module>Video Editing</module><instruction>f: x</instruction>").module is Module.F


@pytest.mark.parametrize("letter", ["H", "Z", "AB", "", "7"])
def test_unknown_letter(letter: str) -> None:
    inv = parse_invocation(f"<module>{letter}</module><instruction>segmentation: dog</instruction>")
    assert inv.module is None
    assert inv.commands == (Command(task="segmentation", text="dog"),)
    assert any("unknown module" in p for p in inv.problems)


def test_several_module_tags_keep_the_first() -> None:
    inv = parse_invocation("<module>B</module> <module>E</module> <instruction>segmentation: cat</instruction>")
    assert inv.module is Module.B
    assert any("several modules" in p and "used B" in p for p in inv.problems)


def test_repeated_same_module_is_noted() -> None:
    inv = parse_invocation("<module>B</module><module>B</module><instruction>segmentation: cat</instruction>")
    assert inv.module is Module.B and any("more than once" in p for p in inv.problems)


def test_colon_inside_text_is_kept() -> None:
    # Vitron's demo splits on the last ':' and would call the tool with " 9 pm".
    inv = parse_invocation("<module>A</module><instruction>generation: a clock showing 10:30, ratio 16:9</instruction>")
    assert inv.commands == (Command(task="generation", text="a clock showing 10:30, ratio 16:9"),)


def test_instruction_without_task() -> None:
    inv = parse_invocation("<module>B</module><instruction>the dog</instruction>")
    assert inv.commands == (Command(task="", text="the dog"),)
    assert any("names no task" in p for p in inv.problems)
    assert roundtrips(inv)


def test_empty_instruction_is_dropped() -> None:
    inv = parse_invocation("<module>B</module><instruction>segmentation:   </instruction>")
    assert inv.commands == () and any("empty instruction" in p for p in inv.problems)


def test_missing_closing_tags() -> None:
    inv = parse_invocation("Okay. <module>B <instruction>segmentation: dog on the left")
    assert inv.module is Module.B
    assert inv.commands == (Command(task="segmentation", text="dog on the left"),)
    assert inv.response == "Okay."
    assert sum("was not closed" in p for p in inv.problems) == 2


def test_unclosed_tag_stops_at_the_line_end() -> None:
    inv = parse_invocation("<module>E</module><instruction>tracking: the dog\nLet me know if that works.")
    assert inv.commands[0].text == "the dog"
    assert inv.response == "Let me know if that works."


def test_stray_closing_tag() -> None:
    inv = parse_invocation("Done.</instruction> <module>D</module><instruction>video: waves</instruction>")
    assert inv.response == "Done." and inv.module is Module.D
    assert any("stray </instruction>" in p for p in inv.problems)


def test_stray_tags_are_removed_and_noted() -> None:
    inv = parse_invocation("<SP>Sure!</s> <module>B</module><instruction>segmentation: <SP>zebra</instruction>")
    assert inv.response == "Sure!"
    assert inv.commands[0].text == "zebra"
    assert any("<SP> x2" in p and "</s>" in p for p in inv.problems)


def test_two_instructions_for_video_editing() -> None:
    inv = parse_invocation(
        "<module>F</module> <instruction>foreground: a red sports car</instruction> "
        "<instruction>background: a snowy mountain road</instruction>"
    )
    assert [c.text for c in inv.commands] == ["a red sports car", "a snowy mountain road"]
    assert roundtrips(inv)


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("[12, 30, 200, 180]", (12, 30, 200, 180)),
        ("12,30,200,180", (12, 30, 200, 180)),
        ("(12, 30), (200, 180)", (12, 30, 200, 180)),
        ("[0.05, 0.1, 0.9, 0.75]", (0.05, 0.1, 0.9, 0.75)),
        ("x1: 12, y1: 30, x2: 200, y2: 180", (12, 30, 200, 180)),
        ("  [ 1.5e1 , 3e1 , 2E2 , +180 ] ", (15, 30, 200, 180)),
    ],
)
def test_region_formats(region: str, expected: tuple[float, ...]) -> None:
    inv = parse_invocation(f"<module>B</module><instruction>segmentation: dog</instruction><region>{region}</region>")
    assert inv.region == expected and inv.problems == ()
    assert roundtrips(inv)


@pytest.mark.parametrize("region", ["[1, 2, 3]", "left half", "[1, 2, 3, 4, 5]", "[1e999, 2, 3, 4]"])
def test_unusable_region_is_ignored_with_a_note(region: str) -> None:
    inv = parse_invocation(f"<module>B</module><instruction>s: dog</instruction><region>{region}</region>")
    assert inv.region is None and any("region" in p for p in inv.problems)


def test_second_region_is_ignored() -> None:
    inv = parse_invocation("<region>1,2,3,4</region><region>5,6,7,8</region>")
    assert inv.region == (1, 2, 3, 4) and any("second region" in p for p in inv.problems)


def test_non_text_input_does_not_raise() -> None:
    inv = parse_invocation(None)  # type: ignore[arg-type]
    assert inv.module is None and inv.problems


def test_equality_ignores_problems() -> None:
    messy = parse_invocation("<module>b<instruction>segmentation: cat")
    assert messy.problems
    assert messy == parse_invocation(messy.to_vitron_text())
    assert hash(messy) == hash(parse_invocation(messy.to_vitron_text()))


def test_megabytes_of_junk() -> None:
    junk = [
        "<instruction>" * 200_000,  # unclosed tags, each ends at the next
        "<" * 2_000_000,
        "</module>" * 100_000 + "<region>" + "1," * 500_000,
        ("<SP>" + "x" * 50) * 40_000,
        "\n".join(["<module>B</module><instruction>seg: a:b:c</instruction>"] * 30_000),
    ]
    for text in junk:
        inv = parse_invocation(text)
        assert isinstance(inv, Invocation)
        assert len(inv.problems) <= 21  # bounded, however much junk
        assert roundtrips(inv)


FRAGMENTS = [
    "<module>", "</module>", "<instruction>", "</instruction>", "<region>", "</region>", "<SP>", "</s>",
    "<Module>", "< module>", "<module >", "<", ">", "/", "A", "b", "G", "H", "segment_image", ":", ";", ",",
    " ", "\n", "[", "]", "(", ")", "0.5", "12", "-3", "1e999", ".", "segmentation", "zebra", "\t",
]
outputs = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=40).map("".join)


@settings(max_examples=1500, deadline=None)
@given(outputs)
def test_never_raises_and_roundtrips(text: str) -> None:
    inv = parse_invocation(text)
    assert isinstance(inv, Invocation)
    assert roundtrips(inv)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_unicode_never_raises(text: str) -> None:
    assert roundtrips(parse_invocation(text))


def test_tag_names_are_case_insensitive() -> None:
    inv = parse_invocation("<MODULE>B</Module><Instruction>Segmentation: Dog</INSTRUCTION>")
    assert inv.module is Module.B and inv.commands == (Command(task="segmentation", text="Dog"),)


@pytest.mark.parametrize(("content", "expected"), [("B: image segmentation", Module.B), ("a dog", None),
                                                   ("E (tracking)", Module.E)])
def test_module_with_extra_words(content: str, expected: Module | None) -> None:
    assert parse_invocation(f"<module>{content}</module>").module is expected
