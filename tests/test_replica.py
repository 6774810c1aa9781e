"""A replica's work without Ray: a shipped call runs in a scratch workspace and comes back as the same artifacts a
local run makes (classic segmentation on the motorcycle photo)."""

from __future__ import annotations

from pathlib import Path

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.tools.segment_image import SegmentImage
from vitron_agent.replica import ReplicaWork
from vitron_agent.shipping import Failure, ToolReply, pack_request, store_reply
from vitron_agent.tools import ToolContext, builtin_tools, call_arguments, call_record

from conftest import MOTORCYCLE, ROOT, configure, made


def request_in(folder: Path, *, tool: str = "segment_image", cancelled: bool = False) -> tuple:
    configure(made(folder), '[segmentation]\nbackend = "classic"\n')
    store = ArtifactStore(folder, import_roots=[ROOT])
    photo = store.import_file(MOTORCYCLE[0])
    call = SegmentImage(image=photo.id, region=MOTORCYCLE[1])
    ctx = ToolContext(store=store, call=call_record(builtin_tools()["segment_image"], call, run="t/1"))
    return store, call, ctx, pack_request(tool, call_arguments(call), ctx, blobs=None)


def test_a_shipped_call_comes_back_as_a_local_run_would_make_it(tmp_path: Path) -> None:
    store, call, ctx, request = request_in(tmp_path / "here")
    assert request.settings == {"segmentation": {"backend": "classic"}} and request.inputs[0].data
    events: list = []
    reply = ReplicaWork("sam2").run(request, emit=events.append, cancelled=lambda: False)
    assert isinstance(reply, ToolReply) and [item.artifact.kind for item in reply.outputs] == ["mask", "preview"]
    result = store_reply(reply, ctx)
    assert result.artifacts == reply.artifacts  # the same ids: the same bytes and provenance
    local_store, _, local_ctx, _ = request_in(tmp_path / "local")
    local = builtin_tools()["segment_image"].run(call, local_ctx)
    assert [store.get(i).sha256 for i in result.artifacts] == [local_store.get(i).sha256 for i in local.artifacts]
    assert result.artifacts == local.artifacts and events


def test_failures_come_back_as_what_a_local_run_raises(tmp_path: Path) -> None:
    _, _, _, request = request_in(tmp_path)
    work = ReplicaWork("sam2")
    stopped = work.run(request, emit=print, cancelled=lambda: True)
    assert isinstance(stopped, Failure) and stopped.kind == "cancelled"
    unknown = work.run(request.model_copy(update={"tool": "paint"}), emit=print, cancelled=lambda: False)
    assert isinstance(unknown, Failure) and "this replica has no tool 'paint'" in str(unknown.error())
    damaged = request.model_copy(deep=True)
    damaged.inputs[0].data = b"not the photo"
    refused = work.run(damaged, emit=print, cancelled=lambda: False)
    assert "does not match its recorded hash" in refused.message
    assert work.stats()["runs"] == 3 and work.stats()["cancelled"] == 1 and work.stats()["ongoing"] == 0
    assert not list(work.scratch.iterdir())  # each call's scratch workspace is gone
