"""The MCP server as a client meets it: the SDK's own stdio client against the real ``vitron-agent mcp`` process."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from vitron_agent.artifacts import ArtifactStore  # noqa: E402
from vitron_agent.decisions import Decision, DecisionLog  # noqa: E402

from conftest import ROOT, configure  # noqa: E402

SCRIPT = Path(sys.executable).parent / "vitron-agent"
PHOTO = "examples/media/motorcycle.jpg"


def talk(workspace: Path, conversation, *args: str, roots: tuple[Path, ...] = (ROOT / "examples",), asked=None):
    """Start the server in the repository's folder, open a client session, and run ``conversation(session)``;
    ``asked`` is the client's elicitation callback (without one the client declares no elicitation)."""
    rooted = [option for root in roots for option in ("--import-root", str(root))]
    params = StdioServerParameters(command=str(SCRIPT), args=["mcp", "--workspace", str(workspace), *rooted, *args],
                                   env={"VITRON_SEGMENTATION_BACKEND": "classic", "HF_HUB_OFFLINE": "1"},
                                   cwd=str(ROOT))

    async def main():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, elicitation_callback=asked) as session:
                await session.initialize()
                return await conversation(session)

    return anyio.run(main)


async def call(session: ClientSession, name: str, arguments: dict) -> tuple[dict | str, bool]:
    result = await session.call_tool(name, arguments)
    text = result.content[0].text
    try:
        return json.loads(text), result.is_error
    except json.JSONDecodeError:
        return text, result.is_error


def test_tools_are_listed_with_their_typed_schemas(workspace: Path) -> None:
    async def conversation(session):
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in talk(workspace, conversation)}
    assert {"generate_image", "segment_image", "edit_image", "generate_video", "segment_video", "edit_video",
            "animate_image", "import_media", "approve_decision", "reject_decision", "choose"} == set(tools)
    schema = tools["segment_image"].input_schema
    assert schema["required"] == ["image"] and schema["properties"]["target"]["anyOf"][0]["maxLength"] == 500
    assert "notes" not in schema["properties"] and "ctx" not in schema["properties"]
    assert tools["segment_image"].meta == {"side_effects": True}
    # hosts confirm the step that runs a change; tools that change things are not read-only
    approve = tools["approve_decision"].annotations
    assert approve.destructive_hint is True and approve.read_only_hint is None
    assert "ctx" not in tools["approve_decision"].input_schema["properties"]
    assert all(tools[name].annotations.read_only_hint is False for name in ("segment_image", "import_media"))
    assert tools["choose"].annotations.idempotent_hint is True and tools["choose"].annotations.destructive_hint is False
    assert tools["generate_image"].input_schema["properties"]["candidates"]["maximum"] == 4


def test_a_tool_that_changes_nothing_is_marked_read_only(workspace: Path) -> None:
    from mcp import Client

    from vitron_agent.mcp_server import build_server

    sys.path.insert(0, str(ROOT / "tests"))
    from support_tools import Grayscale, Measure

    async def listed():
        async with Client(build_server(workspace, tools=[Measure, Grayscale])) as client:
            return {tool.name: tool.annotations for tool in (await client.list_tools()).tools}

    annotations = anyio.run(listed)
    assert annotations["measure"].read_only_hint is True and annotations["grayscale"].read_only_hint is False


def asking(answer: str, approve: bool = True, seen: list | None = None):
    """An elicitation callback: the person answers ``answer`` (accept, decline or cancel), and what they were
    shown is kept in ``seen``."""
    from mcp.types import ElicitResult

    async def callback(context, params):
        if seen is not None:
            seen.append(params)
        return ElicitResult(action=answer, content={"approve": approve} if answer == "accept" else None)

    return callback


def test_a_person_approves_through_elicitation_and_the_log_says_so(workspace: Path) -> None:
    seen: list = []

    async def conversation(session):
        photo, _ = await call(session, "import_media", {"path": PHOTO})
        return await call(session, "segment_image",
                          {"image": photo["id"], "target": "motorcycle", "region": [60, 90, 580, 380]})

    (done, error) = talk(workspace, conversation, asked=asking("accept", seen=seen))
    assert not error and done["status"] == "done" and [a["kind"] for a in done["artifacts"]] == ["mask", "preview"]
    shown = seen[0].message  # the summary and every argument, before anything ran
    assert "segment_image (B image segmentation): segment_image: target 'motorcycle'" in shown
    assert '  region: {"x1": 60.0, "y1": 90.0, "x2": 580.0, "y2": 380.0}' in shown and "  here: ready" in shown
    entries = DecisionLog(workspace).list("mcp")
    assert [(e.action, e.by, e.outcome) for e in entries] == [("propose", "mcp client", "approved"),
                                                               ("approve", "mcp elicitation", "ok")]
    assert entries[0].claimed_by.split(":")[1].isdigit() and entries[0].lease_until  # a run's leased claim


@pytest.mark.parametrize(("answer", "approve", "outcome"), [("decline", True, "rejected"),
                                                            ("accept", False, "rejected"),
                                                            ("cancel", True, "rejected")])
def test_a_person_who_declines_stops_the_call_and_the_client_cannot_approve_it_after(
        workspace: Path, answer: str, approve: bool, outcome: str) -> None:
    async def conversation(session):
        photo, _ = await call(session, "import_media", {"path": PHOTO})
        said, _ = await call(session, "segment_image", {"image": photo["id"], "region": [60, 90, 580, 380]})
        return said, await call(session, "approve_decision", {"decision": said["decision"]})

    said, (after, after_error) = talk(workspace, conversation, asked=asking(answer, approve))
    assert said["status"] == outcome and said["message"].endswith("segment_image; nothing ran.")
    assert after_error and after.endswith(f"was already {outcome}")
    assert not list((workspace / "artifacts").rglob("*.png"))  # nothing ran
    entries = DecisionLog(workspace).list("mcp")
    assert [(e.action, e.outcome, e.claimed_by) for e in entries] == [("propose", outcome, "mcp elicitation")]


def test_a_change_waits_for_approval_through_a_second_call(workspace: Path) -> None:
    async def conversation(session):
        photo, _ = await call(session, "import_media", {"path": PHOTO})
        proposed, _ = await call(session, "segment_image",
                                 {"image": photo["id"], "target": "motorcycle", "region": [60, 90, 580, 380]})
        before_approval = sorted(p.name for p in (workspace / "artifacts").rglob("*.png"))
        done, error = await call(session, "approve_decision", {"decision": proposed["decision"]["id"]})
        again, again_error = await call(session, "approve_decision", {"decision": proposed["decision"]["id"]})
        bad, bad_error = await call(session, "segment_image", {"image": photo["id"], "region": [5, 5, 1, 1]})
        huge, _ = await call(session, "segment_image", {"image": photo["id"], "region": [0, 0, 1e300, 1e300]})
        return photo, proposed, before_approval, (done, error), (again, again_error), (bad, bad_error), huge

    photo, proposed, before_approval, done, again, bad, huge = talk(workspace, conversation)
    assert photo["kind"] == "image" and (photo["width"], photo["height"]) == (640, 480)
    decision = Decision.model_validate(proposed["decision"])
    assert proposed["status"] == "needs_approval" and decision.tool == "segment_image" and decision.can_run
    assert decision.current.backend == "classic (OpenCV GrabCut; configured)"
    assert before_approval == []  # nothing ran before the approval
    result, error = done
    assert not error and result["status"] == "done" and [a["kind"] for a in result["artifacts"]] == ["mask", "preview"]
    assert all(Path(a["path"]).is_file() for a in result["artifacts"])
    assert again[1] and "already approved" in again[0]
    assert bad[1] and "region" in bad[0]
    clipped = Decision.model_validate(huge["decision"]).current  # clipped when validated, before it is shown
    assert clipped.args["region"] == {"x1": 0.0, "y1": 0.0, "x2": 640.0, "y2": 480.0}
    assert "clipped to the 640 x 480 image" in clipped.notes[0] and "Note: box (0, 0, 1e+300" in huge["message"]
    entries = DecisionLog(workspace).list("mcp")
    assert [(e.action, e.outcome) for e in entries] == [("propose", "approved"), ("approve", "ok"), ("propose", None)]


def test_rejected_and_auto(workspace: Path) -> None:
    async def rejecting(session):
        photo, _ = await call(session, "import_media", {"path": PHOTO})
        proposed, _ = await call(session, "segment_image", {"image": photo["id"], "region": [60, 90, 580, 380]})
        return await call(session, "reject_decision", {"decision": proposed["decision"]["id"], "reason": "not now"})

    assert talk(workspace, rejecting)[0]["status"] == "rejected"
    assert DecisionLog(workspace).list("mcp")[0].outcome == "rejected"

    async def automatic(session):
        photo, _ = await call(session, "import_media", {"path": PHOTO})
        return await call(session, "segment_image", {"image": photo["id"], "region": [60, 90, 580, 380]})

    result, error = talk(workspace, automatic, "--policy", "auto")
    assert not error and result["status"] == "done"
    assert DecisionLog(workspace).list("mcp")[-1].by == "policy: auto"


def test_a_call_that_cannot_run_here_says_so_in_the_proposal_and_fails_in_one_line(workspace: Path) -> None:
    """edit_image without its weights (no hub here): the proposal carries the verdict and the fix; approving it
    anyway is the tool's error with that line, recorded as failed."""
    async def conversation(session):
        photo, _ = await call(session, "import_media", {"path": PHOTO})
        proposed, _ = await call(session, "edit_image", {"image": photo["id"], "prompts": ["make it red"]})
        return proposed, await call(session, "approve_decision", {"decision": proposed["decision"]["id"]})

    proposed, (failed, error) = talk(workspace, conversation)
    decision = Decision.model_validate(proposed["decision"])  # the typed decision every surface shows
    assert proposed["status"] == "needs_approval" and not decision.can_run
    assert decision.current.readiness.status == "needs_weights" and "vitron-agent pull pix2pix" in proposed["message"]
    assert error and "edit_image can't run here:" in failed and "\n" not in failed  # after the SDK's own prefix
    assert DecisionLog(workspace).list("mcp")[-1].outcome == "failed"


def test_only_the_workspace_and_named_roots_are_read_and_outside_says_nothing_more(workspace: Path) -> None:
    """Started in the repository (as hosts start servers in / or the home folder) with no --import-root: its
    photos are outside. A missing file, a real one and a symlink out all get the same words."""
    (workspace / "inside.jpg").write_bytes((ROOT / PHOTO).read_bytes())
    (workspace / "leads-out.jpg").symlink_to("/etc/hostname")

    async def conversation(session):
        said = {}
        for path in (PHOTO, "/etc/passwd", "/no/such/file.jpg", str(workspace / "leads-out.jpg"),
                     str(workspace / "inside.jpg")):
            said[path] = await call(session, "import_media", {"path": path})
        return said

    said = talk(workspace, conversation, roots=())
    *outside, (_, (inside, inside_error)) = said.items()
    for path, (text, error) in outside:
        assert error and text == (f"Error executing tool import_media: {path} is outside the allowed folders; copy "
                                  "the file into the workspace or into a folder allowed for imports")
    assert not inside_error and inside["kind"] == "image"


@pytest.mark.parametrize("root", ["/", str(Path.home())])
def test_the_whole_machine_or_home_folder_is_refused_as_a_root(workspace: Path, root: str) -> None:
    started = subprocess.run([str(SCRIPT), "mcp", "--workspace", str(workspace), "--import-root", root],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert started.returncode == 1
    assert started.stderr.strip() == (f"error: {root} can't be an import root: it would let any file under it be "
                                      "read; name the folder that holds your media")


def test_candidates_over_mcp_and_the_choose_tool(workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    configure(workspace, f'[weights.sd]\nsource = "{tiny_diffusion["sd"]}"\n')

    async def conversation(session):
        made, failed = await call(session, "generate_image", {"prompt": "a lighthouse", "width": 64, "height": 64,
                                                               "steps": 1, "seed": 3, "candidates": 2})
        assert not failed, made
        chosen, _ = await call(session, "choose", {"artifact": made["artifacts"][1]["id"]})
        wrong, wrong_failed = await call(session, "choose", {"artifact": "0123456789abcdef"})
        return made, chosen, (wrong, wrong_failed)

    made, chosen, (wrong, wrong_failed) = talk(workspace, conversation, "--policy", "auto")
    assert [a["candidate"] for a in made["artifacts"]] == [1, 2] and "call choose with the id" in made["text"]
    assert chosen == f"Chose candidate 2 of 2: {made['artifacts'][1]['id']}; the others are marked not chosen."
    assert wrong_failed and "there is no artifact 0123456789abcdef" in str(wrong)
    [entry] = [e for e in DecisionLog(workspace).list("mcp") if e.action == "choose"]
    assert entry.by == "mcp client" and entry.outcome == "chosen"


def test_a_result_comes_as_structured_content_a_picture_and_resources(workspace: Path) -> None:
    """Before: a JSON document as a string, with paths on the server's disk, and no resources."""
    from mcp import Client

    from vitron_agent.mcp_server import build_server

    (workspace / "vitron.toml").write_text('[segmentation]\nbackend = "classic"\n')

    async def conversation():
        async with Client(build_server(workspace, policy="auto", import_roots=[ROOT / "examples"])) as client:
            photo = json.loads((await client.call_tool("import_media", {"path": str(ROOT / PHOTO)})).content[0].text)
            result = await client.call_tool("segment_image", {"image": photo["id"], "target": "motorcycle",
                                                              "region": [60, 90, 580, 380]})
            schema = next(t.output_schema for t in (await client.list_tools()).tools if t.name == "segment_image")
            links = [block for block in result.content if block.type == "resource_link"]
            read = [(await client.read_resource(str(link.uri))).contents[0] for link in links]
            missing = None
            try:
                await client.read_resource("artifact://0123456789abcdef.png")
            except Exception as error:  # the SDK's MCPError, with the server's sentence
                missing = str(error)
            return result, schema, links, read, missing

    result, schema, links, read, missing = anyio.run(conversation)
    assert not result.is_error and result.structured_content["status"] == "done"
    assert set(schema["properties"]) >= {"status", "text", "artifacts", "decision", "message"}
    assert [block.type for block in result.content] == ["text", "resource_link", "resource_link", "image"]
    [image] = [block for block in result.content if block.type == "image"]
    preview = ArtifactStore(workspace).get(result.structured_content["artifacts"][1]["id"])
    assert image.mime_type == preview.media_type and base64.b64decode(image.data) == \
        ArtifactStore(workspace).local_path(preview).read_bytes()
    assert [contents.mime_type for contents in read] == ["image/png", "image/jpeg"]
    assert base64.b64decode(read[1].blob) == base64.b64decode(image.data)
    assert missing and "there is no artifact 0123456789abcdef" in missing
