"""The tool registry: explicit tools, plugins from entry points, and clear errors for tools that don't fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitron_agent.invocation import Module
from vitron_agent.tools import ENTRY_POINT_GROUP, check_tool, load_tools, tool_for_module

from support_tools import Broken, Crop, Grayscale


def test_explicit_tools_by_name() -> None:
    tools = load_tools([Grayscale, Crop()])
    assert sorted(tools) == ["crop", "grayscale"]
    assert tool_for_module(tools, Module.C).name == "grayscale"
    assert tool_for_module(tools, Module.B) is None


def test_the_tool_named_like_the_module_wins() -> None:
    class OtherSegmenter(Broken):
        name = "another_segmenter"

    tools = load_tools([OtherSegmenter, Broken])
    assert tool_for_module(tools, Module.B).name == "segment_image"


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="two tools are named 'grayscale'"):
        load_tools([Grayscale, Grayscale])


def test_a_tool_missing_parts_is_named() -> None:
    class Half:
        name = "half"
        module = "C"

    with pytest.raises(TypeError, match="tool 'half' needs `module`.*`Args`.*`side_effects`.*run"):
        check_tool(Half)


PLUGIN = '''
from pydantic import BaseModel
from vitron_agent.tools import ToolResult

class Echo:
    name = "echo"
    module = None
    side_effects = False

    class Args(BaseModel):
        text: str

    def run(self, args, ctx):
        return ToolResult(text=args.text)
'''


def install_plugin(folder: Path, entries: dict[str, str]) -> None:
    """A real installed distribution, as pip would leave it: a module and a dist-info with entry points."""
    (folder / "echo_plugin.py").write_text(PLUGIN)
    info = folder / "echo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")


def test_plugins_load_from_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, {"echo": "echo_plugin:Echo", "broken": "echo_plugin:Missing"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="skipped tool plugin 'broken'"):
        tools = load_tools()
    assert "echo" in tools and tools["echo"].run(tools["echo"].Args(text="hi"), None).text == "hi"
    assert "echo" not in load_tools(plugins=False)
