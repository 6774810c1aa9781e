"""Many people on one deployment: worker processes sharing one PostgreSQL database and one S3 bucket, one of them
killed with -9 mid-run, against the same work in one process on the workspace's SQLite files.

    python benchmarks/load.py [--quick]

Each worker process stands for a server machine: its own workspace folder (so its own blob cache) with the same
``[storage]``, one open workspace (one pool) for all its sessions. A session makes a request ("segment the
motorcycle" with a box, the rule planner), waits for the decision, approves it, and the classic segmentation
runs. 4 workers drive 25 sessions each (8 with --quick). A random moment into the run one worker is killed with
SIGKILL; the sessions it had not finished are resumed by the others (``Session(thread_id=...)``: a decision left
waiting, or a step cut off mid-run, is offered again and approved).

Reported: approved calls per second (all of them, over the whole run), the p50 and p95 of the graph's own time per
approved call (the request and the approval, minus the tool's run), lost decisions (threads without a finished
segmentation at the end) and duplicate tool runs (a decision whose tool ran twice), both of which must be 0.
Side by side, in the same run: the same sessions one after another in one process on SQLite, and (to tell the
stores' own cost from 4 processes sharing the cores) a quarter of them in one process on PostgreSQL + S3. The services are
the tests' own (``vitron_agent.local_services``: PostgreSQL from the pgserver wheel, moto's S3 server), on
127.0.0.1, on this machine's cores; the figures say what the stores cost, not what a cluster serves.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from queue import Empty
from typing import Any

from rows import Row

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "media" / "motorcycle.jpg"
REQUEST = "segment the motorcycle [60, 90, 580, 380]"
WORKERS = 4
GOAL = 2.0


def worker(folder: str, storage: str, jobs: Any, results: Any, runs_file: str) -> None:
    """One server process: opens its workspace once, then drives each session it is given to a finished
    segmentation (a new thread: request, decision, approve; a thread to resume: whatever it waits for)."""
    os.environ["VITRON_SEGMENTATION_BACKEND"] = "classic"
    from vitron_agent.tools import load_tools

    from vitron_agent.planners.rules import RulePlanner
    from vitron_agent.session import Session
    from vitron_agent.workspace import Workspace

    workspace = Workspace(prepare(Path(folder), storage), import_roots=[PHOTO.parent])
    tools = load_tools()
    tool = tools["segment_image"]
    spent = [0.0]
    original = tool.run

    def timed(args: Any, ctx: Any) -> Any:  # the tool's own time, kept apart from the graph's
        with open(runs_file, "a") as runs:
            runs.write(f"{ctx.call['run']}\n")
        started = time.perf_counter()
        try:
            return original(args, ctx)
        finally:
            spent[0] += time.perf_counter() - started

    tool.run = timed  # type: ignore[method-assign]
    photo = workspace.store.import_file(PHOTO)
    while (job := jobs.get()) is not None:
        thread, fresh = job
        spent[0] = 0.0
        started = time.perf_counter()
        session = Session(workspace, RulePlanner(), thread_id=thread, tools=tools.values())
        opened = time.perf_counter()
        if fresh or not session.exists():
            session.send(REQUEST, attachments=[photo])
        while session.pending is not None:
            session.approve()
        finished = time.perf_counter()
        results.put((thread, finished - opened - spent[0], spent[0], finished - started))


def prepare(folder: Path, storage: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if storage:
        (folder / "vitron.toml").write_text(storage)
    return folder


def drive(base: Path, storage: str, workers: int, sessions: int, kill: bool) -> dict[str, Any]:
    """Run ``workers`` processes of ``sessions`` sessions each (killing one when ``kill``); the figures."""
    context = multiprocessing.get_context("spawn")
    base.mkdir(parents=True)
    runs_file = base / "tool-runs.txt"
    runs_file.touch()
    queues = [context.Queue() for _ in range(workers)]
    results = context.Queue()
    threads = [[f"w{w}-s{s}-{base.name}" for s in range(sessions)] for w in range(workers)]
    processes = [context.Process(target=worker, args=(str(base / f"machine-{w}"), storage, queues[w], results,
                                                      str(runs_file))) for w in range(workers)]
    for process in processes:
        process.start()
    for queue, mine in zip(queues, threads):
        for thread in mine:
            queue.put((thread, True))
    done: dict[str, tuple[float, float, float]] = {}
    started = time.perf_counter()
    total = workers * sessions
    victim = 0 if kill else None
    kill_after = random.Random(7).randint(max(1, total // 8), max(2, total // 3)) if kill else None
    while len(done) < total:
        try:
            thread, graph, tool, wall = results.get(timeout=5)
        except Empty:
            if not any(process.is_alive() for process in processes):
                raise RuntimeError("every worker stopped; see their errors above") from None
            continue
        done[thread] = (graph, tool, wall)
        if victim is not None and len(done) == kill_after:
            processes[victim].kill()
            processes[victim].join()
            orphans = [t for t in threads[victim] if t not in done]
            print(f"killed worker {victim} (-9) after {len(done)} sessions; {len(orphans)} of its sessions go to "
                  "the others", flush=True)
            for number, thread in enumerate(orphans):
                queues[1 + number % (workers - 1)].put((thread, False))
            victim = None
    elapsed = time.perf_counter() - started
    for number, queue in enumerate(queues):
        if processes[number].is_alive():
            queue.put(None)
    for process in processes:
        process.join(timeout=60)
    graph_times = sorted(graph for graph, _, _ in done.values())
    return {"seconds": elapsed, "calls": len(done), "graph": graph_times,
            **audit(base, storage, [thread for mine in threads for thread in mine], runs_file)}


def audit(base: Path, storage: str, threads: list[str], runs_file: Path) -> dict[str, int]:
    """Lost decisions (a thread without exactly one finished segmentation) and duplicate tool runs (a decision
    whose tool started twice), read from the shared log."""
    from vitron_agent.workspace import Workspace

    opened = Workspace(prepare(base / "machine-0", storage))  # with SQLite, the one process's; else any
    try:
        lost = 0
        for thread in threads:
            finished = [e for e in opened.log.list(thread) if e.action == "approve" and e.outcome == "ok"]
            lost += len(finished) != 1
        started = Counter(runs_file.read_text().split())
        return {"lost": lost, "duplicates": sum(count - 1 for count in started.values() if count > 1)}
    finally:
        opened.close()


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1] if len(values) > 1 \
        else values[0]


def measure(quick: bool = False) -> list[Row]:
    from vitron_agent.local_services import LocalPostgres, LocalS3

    sessions = 5 if quick else 25
    with tempfile.TemporaryDirectory() as folder, LocalPostgres() as postgres, LocalS3() as s3:
        print(f"test PostgreSQL started in {postgres.started_in:.2f} s, moto's S3 in {s3.started_in:.2f} s",
              flush=True)
        os.environ.update(s3.environment())
        shared = f'[storage]\ndatabase = "{postgres.create_database()}"\nblobs = "{s3.create_bucket()}/files"\n'
        alone = drive(Path(folder) / "sqlite", "", 1, WORKERS * sessions, kill=False)
        many = drive(Path(folder) / "shared", shared, WORKERS, sessions, kill=True)
        shared_alone = drive(Path(folder) / "shared-alone", shared, 1, sessions, kill=False)
    for name, figures in (("SQLite, 1 process", alone), (f"PostgreSQL + S3, {WORKERS} processes", many),
                          ("PostgreSQL + S3, 1 process", shared_alone)):
        print(f"{name}: {figures['calls']} approved calls in {figures['seconds']:.1f} s "
              f"({figures['calls'] / figures['seconds']:.2f}/s); graph p50 {percentile(figures['graph'], 0.5) * 1000:.0f} "
              f"ms, p95 {percentile(figures['graph'], 0.95) * 1000:.0f} ms; lost {figures['lost']}, duplicate runs "
              f"{figures['duplicates']}", flush=True)
    p50 = percentile(many["graph"], 0.5) / percentile(alone["graph"], 0.5)
    note = (f"{WORKERS} workers x {sessions} sessions, one killed with -9; {os.cpu_count()} CPU cores, services on "
            "127.0.0.1")
    return [
        Row("load", "approved calls per second, PostgreSQL + S3, 4 processes", many["calls"] / many["seconds"],
            "/s", note=f"SQLite in one process: {alone['calls'] / alone['seconds']:.2f}/s"),
        Row("load", "graph's own time per approved call, p50, PostgreSQL / SQLite", p50, "x", goal=GOAL, note=note),
        Row("load", "graph's own time per approved call, p95, PostgreSQL", percentile(many["graph"], 0.95) * 1000,
            "ms", note=f"p50 {percentile(many['graph'], 0.5) * 1000:.0f} ms; SQLite p50 "
                       f"{percentile(alone['graph'], 0.5) * 1000:.0f} ms, p95 {percentile(alone['graph'], 0.95) * 1000:.0f} ms"),
        Row("load", "graph's own time per approved call, p50, PostgreSQL + S3 in 1 process / SQLite",
            percentile(shared_alone["graph"], 0.5) / percentile(alone["graph"], 0.5), "x",
            note="the stores' own cost, without 4 processes sharing the cores"),
        Row("load", "lost decisions + duplicate tool runs", many["lost"] + many["duplicates"], "", goal=0,
            note=f"lost {many['lost']}, duplicate runs {many['duplicates']}"),
    ]


if __name__ == "__main__":
    measure(quick="--quick" in sys.argv)
