"""What the lease on a claim costs an approved call: the same calls with the heartbeat and without it.

An approved call through a ``Session`` on the workspace's own SQLite files (what a person at the terminal runs):
the request, the review's interrupt, the approval, the claim and the tool. "With" is the code as it is: the
claim held by the process's heartbeat thread while the tool runs; "without" swaps ``claims.holding`` for a
context that does nothing (what the code was before leases). Rounds interleaved (which goes first alternating), the median of six. A tool that
takes 50 ms is timed too, so the heartbeat renews while it runs.

    python benchmarks/lease.py [--calls 40]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rows import Row
from vitron_agent.graphs import agent as agent_module
from vitron_agent.invocation import Module
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session
from vitron_agent.tools import ToolContext, ToolResult
from vitron_agent.tools.generate_image import GenerateImage

OUTPUT = "Sure. <module>A</module> <instruction>generation: a red fox in the snow</instruction>"


class Sleeper:
    """A tool that takes ``seconds`` and makes nothing."""

    name = "generate_image"
    module = Module.A
    Args = GenerateImage
    side_effects = True
    seconds = 0.0

    def run(self, args: GenerateImage, ctx: ToolContext) -> ToolResult:
        time.sleep(self.seconds)
        return ToolResult(text="done")


def time_calls(root: Path, calls: int, *, heartbeat: bool, seconds: float) -> float:
    """Seconds per approved call (request, review, approval, claim, tool), each on a thread of its own."""
    real = agent_module.holding
    agent_module.holding = real if heartbeat else (lambda *args: contextlib.nullcontext())  # type: ignore[assignment]
    tool = Sleeper()
    tool.seconds = seconds
    try:
        elapsed = 0.0
        for _ in range(calls):
            session = Session(root, ScriptedPlanner([OUTPUT]), tools=[tool])  # a new thread; not timed
            start = time.perf_counter()
            session.send("draw a fox")
            done = session.approve()
            elapsed += time.perf_counter() - start
            if done.text != "done":
                raise RuntimeError("the call did not run")
        return elapsed / calls
    finally:
        agent_module.holding = real


def compare(root: Path, calls: int, seconds: float) -> tuple[float, float]:
    time_calls(root / "warm", 5, heartbeat=True, seconds=seconds)
    rounds: list[tuple[float, float]] = []
    for number in range(6):  # which goes first alternates, so neither has the warmer caches every time
        first, second = (True, False) if number % 2 == 0 else (False, True)
        timed = {heartbeat: time_calls(root / f"{heartbeat}-{number}", calls, heartbeat=heartbeat, seconds=seconds)
                 for heartbeat in (first, second)}
        rounds.append((timed[True], timed[False]))
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


def measure(quick: bool = False, calls: int | None = None) -> list[Row]:
    calls = calls or (15 if quick else 40)
    root = Path(tempfile.mkdtemp(prefix="vitron-lease-"))
    rows = []
    for seconds, label in ((0.0, "an instant tool"), (0.05, "a 50 ms tool")):
        with_s, without_s = compare(root / label.replace(" ", "-"), calls, seconds)
        ratio = with_s / without_s
        print(f"{label}: with the lease's heartbeat {with_s * 1e3:.2f} ms per approved call, without "
              f"{without_s * 1e3:.2f} ms: {ratio:.3f}x (goal: at most 1.02x)")
        rows.append(Row("lease", f"approved call with the claim's heartbeat / without, {label}, SQLite", ratio,
                        "x", goal=1.02, note=f"{with_s * 1e3:.1f} ms vs {without_s * 1e3:.1f} ms"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    measure(calls=parser.parse_args().calls)


if __name__ == "__main__":
    main()
