"""A photo inside a message against the same photo attached beforehand: the time to the decision, and what the
thread's checkpoints grow by per turn.

Over ``langgraph dev`` (the SDK's client on 127.0.0.1, the served graph with its ``Auth``): "inside" sends the
request as content blocks with a 640 x 480 JPEG in base64 (what Agent Chat UI sends); "attached" names the same
photo imported beforehand (not timed). The same in one process, through a ``Session`` on the workspace's SQLite
files. Interleaved rounds, the median of each. Then 10 turns in one thread, each with a new photo of about 200 KB
inside the message, and what the thread's checkpoints grow by per turn, beside the same turns attached by path.

    python benchmarks/content_blocks.py [--rounds 12]
"""

from __future__ import annotations

import argparse
import base64
import io
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from rows import Row
from vitron_agent.planners.rules import RulePlanner
from vitron_agent.session import Session

PHOTO = Path(__file__).resolve().parent.parent / "examples" / "media" / "motorcycle.jpg"
ASK = "segment the motorcycle [60, 90, 580, 380]"
CLASSIC = '[segmentation]\nbackend = "classic"\n'


def blocks(data: bytes) -> list[dict]:
    return [{"type": "text", "text": ASK},
            {"type": "image", "mimeType": "image/jpeg", "data": base64.b64encode(data).decode()}]


def to_decision(root: Path, inside: bool, data: bytes, path: Path) -> float:
    session = Session(root, RulePlanner())
    attachment = [] if inside else [session.store.import_file(path, grant=True)]  # imported beforehand: not timed
    start = time.perf_counter()
    turn = session.send(blocks(data)) if inside else session.send(ASK, attachments=attachment)
    elapsed = time.perf_counter() - start
    if turn.pending is None:
        raise RuntimeError(f"no decision: {turn.text}")
    session.cancel_decision()
    return elapsed


def photos(count: int, folder: Path) -> list[Path]:
    """``count`` different JPEGs of about 200 KB (the sample photo, shifted and re-encoded)."""
    base = Image.open(PHOTO).convert("RGB").resize((1024, 768))
    made = []
    for number in range(count):
        path = folder / f"photo-{number}.jpg"
        shifted = Image.new("RGB", base.size)
        shifted.paste(base, (number * 7, number * 5))
        buffer = io.BytesIO()
        shifted.save(buffer, format="JPEG", quality=92)
        path.write_bytes(buffer.getvalue())
        made.append(path)
    return made


def stored(root: Path, thread: str) -> int:
    """The bytes LangGraph's SqliteSaver holds for a thread: its checkpoints and their pending writes (the rows'
    own sizes; the file's pages and write-ahead log come and go with SQLite's own housekeeping)."""
    with sqlite3.connect(root / "checkpoints.sqlite") as db:
        saved = db.execute("SELECT COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) FROM checkpoints "
                           "WHERE thread_id = ?", (thread,)).fetchone()[0]
        written = db.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes WHERE thread_id = ?",
                             (thread,)).fetchone()[0]
    return saved + written


def growth(root: Path, inside: bool, paths: list[Path]) -> float:
    """Bytes the thread's checkpoints grow by per turn, over ``len(paths)`` turns."""
    session = Session(root, RulePlanner())
    session.send("hello")
    before = stored(root, session.thread_id)
    for path in paths:
        turn = session.send(blocks(path.read_bytes())) if inside else session.send(ASK, attachments=[path])
        if turn.pending is not None:
            session.cancel_decision()
    return (stored(root, session.thread_id) - before) / len(paths)


def served_times(root: Path, rounds: int) -> tuple[float, float]:
    """Median seconds of one run to the interrupt over ``langgraph dev`` (the SDK's client on 127.0.0.1): the photo
    inside the message, and a pre-imported attachment."""
    import json
    import os
    import socket
    import subprocess
    import sys

    from langgraph_sdk import get_sync_client

    from vitron_agent.artifacts import ArtifactStore
    from vitron_agent.calls import Attachment

    project = Path(__file__).resolve().parent.parent
    (root / "users.txt").write_text("bench:secret\n")
    (root / "langgraph.json").write_text(json.dumps({
        "dependencies": [str(project)], "graphs": {"vitron_agent": str(project / "graphs" / "serve.py") + ":graph"},
        "auth": {"path": str(project / "graphs" / "auth.py") + ":auth"},
        "env": {"VITRON_WORKSPACE": str(root), "VITRON_USERS": str(root / "users.txt"), "HF_HUB_OFFLINE": "1"}}))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "langgraph"), "dev", "--no-browser", "--no-reload",
                               "--host", "127.0.0.1", "--port", str(port)], cwd=root,
                              env={**os.environ, "LANGGRAPH_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = get_sync_client(url=f"http://127.0.0.1:{port}", api_key="bench:secret")
        for _ in range(240):
            try:
                client.assistants.search()
                break
            except Exception:  # still starting
                time.sleep(0.5)
        photo = Attachment.from_artifact(ArtifactStore(root).import_file(PHOTO, grant=True)).model_dump()
        requests = {True: {"messages": [{"role": "user", "content": blocks(PHOTO.read_bytes())}]},
                    False: {"messages": [{"role": "user", "content": ASK}], "attachments": [photo]}}
        times: dict[bool, list[float]] = {True: [], False: []}
        for number in range(rounds + 1):
            for inside in ((True, False) if number % 2 else (False, True)):
                thread = client.threads.create()["thread_id"]
                start = time.perf_counter()
                client.runs.wait(thread, "vitron_agent", input=requests[inside])
                if number:  # the first round warms the server
                    times[inside].append(time.perf_counter() - start)
        return statistics.median(times[True]), statistics.median(times[False])
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(quick: bool = False, rounds: int | None = None) -> list[Row]:
    rounds = rounds or (4 if quick else 12)
    root = Path(tempfile.mkdtemp(prefix="vitron-blocks-"))
    for name in ("time", "inside", "attached"):
        (root / name).mkdir()
        (root / name / "vitron.toml").write_text(CLASSIC)
    data = PHOTO.read_bytes()
    times: dict[bool, list[float]] = {True: [], False: []}
    to_decision(root / "time", True, data, PHOTO)  # warm: the first call loads what every later one shares
    for number in range(rounds):
        for inside in ((True, False) if number % 2 else (False, True)):
            times[inside].append(to_decision(root / "time", inside, data, PHOTO))
    inside, attached = statistics.median(times[True]), statistics.median(times[False])
    (root / "served").mkdir()
    (root / "served" / "vitron.toml").write_text(CLASSIC)
    over, over_attached = served_times(root / "served", rounds)
    paths = photos(10, root)
    grown, grown_attached = growth(root / "inside", True, paths), growth(root / "attached", False, paths)
    size = statistics.mean(p.stat().st_size for p in paths) / 1024
    print(f"to the decision: inside the message {inside * 1000:.0f} ms, attached by path {attached * 1000:.0f} ms: "
          f"{inside / attached:.2f}x (goal: at most 1.2x)")
    print(f"over langgraph dev: inside the message {over * 1000:.0f} ms, attached beforehand "
          f"{over_attached * 1000:.0f} ms: {over / over_attached:.2f}x (goal: at most 1.2x)")
    print(f"checkpoints per turn with a new {size:.0f} KB photo: inside the message +{grown / 1024:.1f} KiB, attached "
          f"by path +{grown_attached / 1024:.1f} KiB (goal: at most 32 KiB)")
    return [Row("content_blocks", "a 640x480 photo inside the message / attached beforehand, to the interrupt over "
                "langgraph dev", over / over_attached, "x", goal=1.2,
                note=f"{over * 1000:.0f} ms vs {over_attached * 1000:.0f} ms"),
            Row("content_blocks", "the same in one process (a Session on SQLite, no HTTP)", inside / attached, "x",
                note=f"{inside * 1000:.0f} ms vs {attached * 1000:.0f} ms: the import's decode and fsync"),
            Row("content_blocks", f"checkpoint growth per turn, a new {size:.0f} KB photo inside each message",
                grown / 1024, "KiB", goal=32, note=f"attached by path: {grown_attached / 1024:.1f} KiB")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    measure(rounds=parser.parse_args().rounds)


if __name__ == "__main__":
    main()
