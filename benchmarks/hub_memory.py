"""The page server's memory as threads come and go: its resident memory after many threads have been opened
and left, against its memory with one thread.

Each thread is what a tab makes: a new tab sends a request (the rule planner answers it in words), then the tab is
left. The hub keeps at most ``KEPT_SESSIONS`` sessions (each holds a compiled graph); the rest are let go and
read back from the workspace when a tab returns. An unbounded hub (what the server was) is measured beside it
for the per-thread figure. Resident memory read from ``/proc/self/status`` after a garbage collection.

    python benchmarks/hub_memory.py [--threads 2000]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from pathlib import Path

from rows import Row
from vitron_agent.planners.rules import RulePlanner
from vitron_agent.web.actions import Actions, Tab
from vitron_agent.web.hub import KEPT_SESSIONS, WebHub
from vitron_agent.workspace import Workspace


def rss_mib() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def opened_and_left(actions: Actions, count: int) -> None:
    for _ in range(count):
        screen = actions.send(Tab(), "hello, what can you do?")
        if screen.tab.thread is None:
            raise RuntimeError(f"no thread was made: {screen.notice}")


def grow(kept: int, threads: int, root: Path) -> tuple[float, float]:
    """RSS (MiB) with one thread, and after ``threads`` more, for a hub keeping ``kept`` sessions."""
    actions = Actions(WebHub(Workspace(root), RulePlanner(), kept_sessions=kept))
    opened_and_left(actions, 1)
    opened_and_left(actions, 50)  # warm: the first sessions load what every later one shares
    one = rss_mib()
    opened_and_left(actions, threads)
    return one, rss_mib()


def measure(quick: bool = False, threads: int | None = None) -> list[Row]:
    threads = threads or (400 if quick else 2000)
    root = Path(tempfile.mkdtemp(prefix="vitron-hub-"))
    one, after = grow(KEPT_SESSIONS, threads, root / "bounded")
    ratio = after / one
    print(f"bounded hub ({KEPT_SESSIONS} sessions kept): {one:.0f} MiB after the first threads, {after:.0f} MiB "
          f"after {threads} more: {ratio:.2f}x (goal: at most 1.2x)")
    unbounded = min(threads, 400)
    base, grown = grow(10**9, unbounded, root / "unbounded")
    per_thread = (grown - base) * 1024 / unbounded
    print(f"unbounded hub (every session kept, as before): +{per_thread:.0f} KiB per thread over {unbounded} "
          "threads")
    return [Row("hub_memory", f"page server RSS after {threads} threads opened and left / with one thread", ratio,
                "x", goal=1.2, note=f"{after:.0f} MiB vs {one:.0f} MiB"),
            Row("hub_memory", "memory each thread kept by an unbounded hub (before)", per_thread, "KiB",
                note=f"over {unbounded} threads")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2000)
    measure(threads=parser.parse_args().threads)


if __name__ == "__main__":
    main()
