"""The artifact store: content-addressed immutable files, lineage in SQLite, safe imports, and survival of
concurrent writers and killed ones."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vitron_agent.artifacts import ArtifactNotFound, ArtifactStore
from vitron_agent.media import MediaError
from vitron_agent.paths import TEMPORARY_PREFIX, PathOutsideWorkspace

from conftest import MEDIA, MOTORBIKE_FRAMES, ROOT, TEST_DATA

PHOTO = MEDIA / "motorcycle.jpg"


@pytest.fixture
def store(workspace: Path) -> ArtifactStore:
    with ArtifactStore(workspace, import_roots=[ROOT]) as opened:
        yield opened


def check_files(store: ArtifactStore) -> None:
    """Every artifact's file exists, is read-only and hashes to its name; no other complete file is corrupt."""
    for artifact in store.list():
        data = artifact.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact.sha256 == artifact.path.stem
        assert len(data) == artifact.size
        assert not artifact.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    for path in store.files.glob("??/*"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem


def integrity(root: Path) -> str:
    with sqlite3.connect(root / "artifacts" / "index.sqlite") as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def test_import_a_real_photo(store: ArtifactStore) -> None:
    photo = store.import_file(PHOTO)
    assert photo.kind == "image" and photo.media_type == "image/jpeg"
    assert photo.meta["width"] == 640 and photo.meta["height"] > 0
    assert photo.path.read_bytes() == PHOTO.read_bytes()
    assert photo.path.is_relative_to(store.root)
    assert store.get(photo.id) == photo
    check_files(store)


def test_import_videos_from_a_file_and_a_frame_folder(store: ArtifactStore) -> None:
    clip = store.import_file(TEST_DATA / "young-woman.mp4")
    assert clip.kind == "video" and clip.meta["frames"] == 237 and clip.media_type == "video/mp4"
    frames = store.import_file(MOTORBIKE_FRAMES, fps=15)
    assert frames.kind == "video" and frames.path.suffix == ".mp4"
    assert frames.meta == {"width": 854, "height": 480, "frames": 43, "fps": 15.0, "source": str(MOTORBIKE_FRAMES)}


def test_lineage_of_a_diamond(store: ArtifactStore) -> None:
    photo = store.import_file(PHOTO)
    call = {"tool": "segment_image", "args": {"image": photo.id, "target": "motorcycle"}}
    mask = store.add(b"mask-bytes", kind="mask", suffix=".png", parents=[photo.id], call=call, model_id="sam2")
    preview = store.add(b"preview", kind="preview", suffix=".jpg", parents=[photo.id], call=call)
    edit = store.add(b"edited", kind="image", suffix=".png", parents=[mask.id, preview.id], seed=7)
    assert mask.parents == (photo.id,) and mask.call == call and mask.model_id == "sam2"
    assert edit.parents == (mask.id, preview.id) and edit.seed == 7
    assert [a.id for a in store.lineage(edit.id)] == [photo.id, mask.id, preview.id]
    assert store.lineage(photo.id) == []
    assert [a.id for a in store.list("mask")] == [mask.id]
    assert [a.id for a in store.list()] == [photo.id, mask.id, preview.id, edit.id]


def test_same_result_of_same_call_is_one_artifact(store: ArtifactStore) -> None:
    first = store.add(b"pixels", kind="image", suffix=".png", call={"tool": "x"}, seed=1)
    again = store.add(b"pixels", kind="image", suffix=".png", call={"tool": "x"}, seed=1)
    other_call = store.add(b"pixels", kind="image", suffix=".png", call={"tool": "y"}, seed=1)
    assert again == first
    assert other_call.id != first.id and other_call.path == first.path  # one file, two records
    assert len(store.list()) == 2


def test_unknown_parent_stores_nothing(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFound, match="parent artifact 'nope'"):
        store.add(b"x", kind="mask", suffix=".png", parents=["nope"])
    assert store.list() == []


def test_unknown_id(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFound, match="no artifact 'abc'"):
        store.get("abc")
    with pytest.raises(ArtifactNotFound):
        store.lineage("abc")


@pytest.mark.parametrize(("kind", "suffix"), [("", ".png"), ("image", "png"), ("image", ".p/ng")])
def test_malformed_kind_or_suffix(store: ArtifactStore, kind: str, suffix: str) -> None:
    with pytest.raises(ValueError):
        store.add(b"x", kind=kind, suffix=suffix)


def test_imports_only_from_allowed_roots(workspace: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "photo.jpg").write_bytes(PHOTO.read_bytes())
    with ArtifactStore(workspace) as store:
        with pytest.raises(PathOutsideWorkspace, match="outside the allowed folders"):
            store.import_file(elsewhere / "photo.jpg")
        (workspace / "sneaky.jpg").symlink_to(elsewhere / "photo.jpg")
        with pytest.raises(PathOutsideWorkspace):
            store.import_file(workspace / "sneaky.jpg")
        with pytest.raises(PathOutsideWorkspace):
            store.add_file("../elsewhere/photo.jpg", kind="image")
        with pytest.raises(PathOutsideWorkspace):
            store.safe_path("../../etc/passwd")
        assert store.list() == []


def test_each_frame_of_a_folder_is_checked_like_a_file_named_directly(workspace: Path, tmp_path: Path) -> None:
    """The review's reproduction: a frame folder inside an allowed folder, one of whose entries is a symlink to an
    image elsewhere. The folder passes; the entry is refused in the words a file named directly gets."""
    import shutil

    from vitron_agent.planners import ScriptedPlanner
    from vitron_agent.session import Session

    (tmp_path / "elsewhere").mkdir()
    secret = tmp_path / "elsewhere" / "secret.jpg"
    shutil.copyfile(MOTORBIKE_FRAMES / "00001.jpg", secret)
    frames = workspace / "inputs" / "frames"
    frames.mkdir(parents=True)
    for name in ("00000.jpg", "00002.jpg"):
        shutil.copyfile(MOTORBIKE_FRAMES / name, frames / name)
    (frames / "00001.jpg").symlink_to(secret)
    with ArtifactStore(workspace) as store:
        with pytest.raises(PathOutsideWorkspace) as direct:
            store.import_file(frames / "00001.jpg")
        with pytest.raises(PathOutsideWorkspace) as through_the_folder:
            store.import_file(frames)
        assert str(through_the_folder.value) == str(direct.value) == (
            f"{frames / '00001.jpg'} is outside the allowed folders; copy the file into the workspace or into a "
            "folder allowed for imports")
        assert store.list() == []
    # a person naming the folder grants the folder it lies in, not where its entries lead
    session = Session(workspace, ScriptedPlanner([]))
    with pytest.raises(PathOutsideWorkspace) as attached:
        session.send("track the motorbike", attachments=[frames])
    assert str(attached.value) == str(direct.value) and session.store.list() == []


def test_a_file_swapped_while_it_decodes_is_never_stored_as_another(workspace: Path) -> None:
    """The review's reproduction: the imported path flips between the photo and a symlink to /etc/passwd while
    imports run. Each import decodes and copies one descriptor, so it stores the photo or refuses; never the
    file the symlink leads to (before: /etc/passwd stored as an image in 2 of 5 tries)."""
    import threading

    photo = workspace / "photo.jpg"
    real, link = workspace / "real.tmp", workspace / "link.tmp"
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            real.write_bytes(PHOTO.read_bytes())
            os.replace(real, photo)
            os.symlink("/etc/passwd", link)
            os.replace(link, photo)

    flipper = threading.Thread(target=flip)
    flipper.start()
    stored, refused = 0, 0
    try:
        with ArtifactStore(workspace) as store:
            for _ in range(40):
                try:
                    artifact = store.import_file(photo)
                except (PathOutsideWorkspace, MediaError):
                    refused += 1
                else:
                    stored += 1
                    assert artifact.path.read_bytes() == PHOTO.read_bytes()
    finally:
        stop.set()
        flipper.join()
    assert stored + refused == 40


def test_import_refuses_bad_media(store: ArtifactStore, workspace: Path) -> None:
    (workspace / "broken.jpg").write_bytes(PHOTO.read_bytes()[:2000])
    with pytest.raises(MediaError, match="truncated"):
        store.import_file(workspace / "broken.jpg")
    assert store.list() == []


def test_add_file_from_the_workspace(store: ArtifactStore, workspace: Path) -> None:
    scratch = workspace / "scratch"
    scratch.mkdir()
    (scratch / "out.mp4").write_bytes((TEST_DATA / "young-woman.mp4").read_bytes())
    artifact = store.add_file(scratch / "out.mp4", kind="video", meta={"fps": 23.976})
    assert artifact.path.suffix == ".mp4" and artifact.meta == {"fps": 23.976}
    check_files(store)


def test_reopen_sees_everything_and_uses_wal(workspace: Path) -> None:
    with ArtifactStore(workspace) as store:
        ids = [store.add(f"item {i}".encode(), kind="mask", suffix=".png").id for i in range(5)]
    with ArtifactStore(workspace) as reopened:
        assert [a.id for a in reopened.list()] == ids
        mode = reopened._db.connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


# -- concurrency and crashes ---------------------------------------------------------------------------------


def _writer(root: str, name: str, count: int) -> None:
    with ArtifactStore(root) as store:
        parent = None
        for i in range(count):
            data = f"shared {i}".encode() if i % 4 == 0 else f"{name} {i}".encode()
            parents = [parent] if parent else []
            parent = store.add(data, kind="mask", suffix=".png", parents=parents, call={"tool": name, "i": i}).id


def test_two_processes_write_at_once(workspace: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(workspace), name, 60)) for name in ("left", "right")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with ArtifactStore(workspace) as store:
        artifacts = store.list()
        assert len(artifacts) == 120
        for name in ("left", "right"):
            chain = [a for a in artifacts if a.call["tool"] == name]
            assert len(store.lineage(chain[-1].id)) == 59
        check_files(store)
    assert integrity(workspace) == "ok"


KILLED_WRITER = """
import sys
from vitron_agent.artifacts import ArtifactStore
store = ArtifactStore(sys.argv[1])
parent = []
for i in range(100000):
    data = (b"frame %d " % i) * 20000      # ~200 KB, so a kill often lands mid-write
    artifact = store.add(data, kind="video", suffix=".mp4", parents=parent, call={"tool": sys.argv[2], "i": i})
    parent = [artifact.id]
    print(artifact.id, flush=True)
"""


def test_reopen_after_the_writer_was_killed(workspace: Path) -> None:
    for round_ in range(3):
        tag = f"writer{round_}"
        writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(workspace), tag],
                                  stdout=subprocess.PIPE, text=True)
        committed = [writer.stdout.readline().strip() for _ in range(5 + 7 * round_)]
        time.sleep(0.01 * round_)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        assert integrity(workspace) == "ok"
        with ArtifactStore(workspace) as store:
            ids = {a.id for a in store.list()}
            assert set(committed) <= ids  # everything reported as stored survived
            check_files(store)
            chain = [a for a in store.list("video") if a.call["tool"] == tag]
            assert len(store.lineage(chain[-1].id)) == len(chain) - 1  # the chain is unbroken...
            store.add(b"after the crash %d" % round_, kind="mask", suffix=".png")  # ...and writes still work


def test_stale_temporaries_are_swept_fresh_ones_kept(workspace: Path) -> None:
    ArtifactStore(workspace).close()
    stale, fresh = workspace / "artifacts" / f"{TEMPORARY_PREFIX}old", workspace / "artifacts" / f"{TEMPORARY_PREFIX}new"
    stale.write_bytes(b"half a file")
    fresh.write_bytes(b"being written by another process")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    ArtifactStore(workspace).close()
    assert not stale.exists() and fresh.exists()
