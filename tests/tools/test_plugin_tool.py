"""Adding a tool is one file, its registration and its test: a plugin with no Vitron module, installed the way pip
leaves a distribution (a module and a dist-info naming it in the ``vitron_agent.tools`` entry-point group), is
offered to a chat-model planner, runs in a plan, feeds ``@1`` to the next step, and is listed by the LangChain
tools and the MCP server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from langchain_core.messages import AIMessage

from vitron_agent import Session, as_langchain_tools
from vitron_agent.planners.chat import ChatModelPlanner
from vitron_agent.tools import ENTRY_POINT_GROUP, load_tools

from conftest import MOTORCYCLE, ROOT, configure
from support_tools import ToolCallingFake

PLUGIN = '''
"""upscale_image: a third-party vitron-agent tool, declared in this one file."""
from typing import ClassVar

from PIL import Image
from pydantic import Field

from vitron_agent.calls import ArtifactRef, ToolCall
from vitron_agent.media import encode_image, load_image
from vitron_agent.tools import ToolContext, ToolResult


class UpscaleImage(ToolCall):
    """Upscale an image."""

    image: ArtifactRef
    factor: int = Field(default=2, ge=2, le=4)


class UpscaleImageTool:
    name: ClassVar[str] = "upscale_image"
    module = None
    description: ClassVar[str] = "Make an image larger by a whole factor (Lanczos)."
    Args = UpscaleImage
    side_effects: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = ("image",)

    def run(self, args: UpscaleImage, ctx: ToolContext) -> ToolResult:
        picture = load_image(ctx.store.get(args.image).path)
        larger = picture.resize((picture.width * args.factor, picture.height * args.factor), Image.LANCZOS)
        made = ctx.store.add(encode_image(larger), kind="image", suffix=".png", parents=[args.image], call=ctx.call,
                             meta={"width": larger.width, "height": larger.height})
        return ToolResult(artifacts=(made.id,), text=f"Upscaled to {larger.width} x {larger.height}.")
'''


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "upscale_plugin.py").write_text(PLUGIN)
    info = site / "upscale_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: upscale-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nupscale_image = upscale_plugin:UpscaleImageTool\n")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_plugin_is_offered_to_a_chat_model_runs_in_a_plan_and_feeds_the_next_step(workspace: Path,
                                                                                    installed: Path) -> None:
    configure(workspace, '[segmentation]\nbackend = "classic"\n')
    assert load_tools()["upscale_image"].module is None
    photo, (x1, y1, x2, y2) = MOTORCYCLE
    model = ToolCallingFake(messages=iter([AIMessage("", tool_calls=[
        {"name": "upscale_image", "args": {"factor": 2}, "id": "1"},
        {"name": "segment_image", "args": {"image": "@1", "region": [2 * x1, 2 * y1, 2 * x2, 2 * y2]}, "id": "2"},
    ])]))
    session = Session(workspace, ChatModelPlanner(model, workspace=workspace), import_roots=[ROOT])
    offered = {schema["function"]["name"]: schema["function"] for schema in model.bound_tools}
    assert offered["upscale_image"]["description"] == (
        "Make an image larger by a whole factor (Lanczos). It writes new artifacts.")
    assert set(offered["upscale_image"]["parameters"]["properties"]) == {"image", "factor"}

    shown = session.send("make it larger, then cut out the motorcycle", attachments=[photo]).pending
    assert [step.tool for step in shown.steps] == ["upscale_image", "segment_image"]
    assert shown.steps[1].args["image"] == "@1" and shown.asking == [1, 2]
    done = session.approve()
    assert [step.status for step in session.plan.steps] == ["done", "done"], [s.message for s in session.plan.steps]
    larger, mask = done.artifacts[0], done.artifacts[1]
    assert (larger.meta["width"], larger.meta["height"]) == (1280, 960)
    assert mask.kind == "mask" and mask.parents == (larger.id,)  # step 2 worked on step 1's image


def test_a_plugin_is_listed_by_the_langchain_tools_and_the_mcp_server(workspace: Path, installed: Path) -> None:
    tools = {tool.name: tool for tool in as_langchain_tools(workspace)}
    assert tools["upscale_image"].metadata == {"side_effects": True, "module": None}
    assert tools["upscale_image"].description.startswith("Make an image larger")

    pytest.importorskip("mcp")
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=str(Path(sys.executable).parent / "vitron-agent"),
                                   args=["mcp", "--workspace", str(workspace)],
                                   env={"PYTHONPATH": str(installed), "HF_HUB_OFFLINE": "1"}, cwd=str(ROOT))

    async def listed() -> dict[str, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            return {tool.name: tool for tool in (await client.list_tools()).tools}

    offered = anyio.run(listed)
    assert "upscale_image" in offered and offered["upscale_image"].meta == {"side_effects": True}
    assert json.dumps(offered["upscale_image"].input_schema["properties"]["factor"]) and \
        offered["upscale_image"].description.startswith("Make an image larger")
