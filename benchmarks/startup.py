"""Start-up: ``vitron-agent --help`` against the floor of its CLI library and of Python, and the time from a typed
request to the decision panel.

Three commands, interleaved, each run ``--runs`` times in fresh processes (medians reported):

- ``python -c pass``: the interpreter alone;
- ``python bare_typer.py --help``: a one-command typer app, the cheapest --help typer can give;
- ``vitron-agent --help``: the console script, as a person types it;

and ``vitron-agent doctor`` (which reads package metadata, the workspace's configuration and the weights cache).

Then a real terminal session (pexpect, rule planner, classic backend) on the sample photo: the time from sending
a request line to the decision prompt, measured ``--requests`` times (each decision cancelled before the next).

    python benchmarks/startup.py [--runs 15] [--requests 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rows import Row

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "vitron-agent"
PHOTO = ROOT / "examples" / "media" / "motorcycle.jpg"
BARE_TYPER = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(f"hello {name}")


app()
'''
GOAL = 1.5


def timed_runs(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def startup(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare_typer.py"
        bare.write_text(BARE_TYPER)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "bare typer --help": [sys.executable, str(bare), "--help"],
            "vitron-agent --help": [str(SCRIPT), "--help"],
            "vitron-agent doctor": [str(SCRIPT), "doctor", "--workspace", str(Path(folder) / "workspace")],
        }
        for command in commands.values():  # warm the file cache once
            timed_runs(command, 1)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):  # interleaved, so drift on a shared machine hits all alike
            for name, command in commands.items():
                samples[name] += timed_runs(command, 1)
    return {name: statistics.median(values) for name, values in samples.items()}


def request_to_panel(requests: int) -> tuple[float, float]:
    """Seconds from sending a typed request to the decision prompt (median, max), in a real pseudo-terminal."""
    import pexpect

    env = {**os.environ, "TERM": "xterm", "NO_COLOR": "1", "COLUMNS": "160", "HF_HUB_OFFLINE": "1",
           "VITRON_SEGMENTATION_BACKEND": "classic"}
    with tempfile.TemporaryDirectory() as workspace:
        child = pexpect.spawn(str(SCRIPT), ["chat", str(PHOTO), "--workspace", workspace, "--no-thumbnails"],
                              env=env, encoding="utf-8", timeout=60, dimensions=(50, 160))
        child.expect("you> ")
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            child.sendline("segment the motorcycle [60, 90, 580, 380]")
            child.expect("decide> ")
            times.append(time.perf_counter() - start)
            child.sendline("c")
            child.expect("you> ")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    return statistics.median(times), max(times)


def measure(quick: bool = False, runs: int | None = None, requests: int | None = None) -> list[Row]:
    """--help against the bare typer app and python -c pass; doctor; typed request to decision panel."""
    runs = runs or (5 if quick else 15)
    requests = requests or (3 if quick else 10)
    if not SCRIPT.exists():
        sys.exit(f"{SCRIPT} not found: install the project (pip install -e .) in this Python first")
    times = startup(runs)
    for name, seconds in times.items():
        print(f"{name:<22} {seconds * 1000:7.1f} ms (median of {runs})")
    ours = times["vitron-agent --help"]
    versus_typer = ours / times["bare typer --help"]
    print(f"vitron-agent --help / bare typer --help: {versus_typer:.2f}x (goal <= {GOAL}x: "
          f"{'met' if versus_typer <= GOAL else 'NOT met'})")
    print(f"vitron-agent --help / python -c pass:    {ours / times['python -c pass']:.2f}x")
    print(f"vitron-agent doctor / python -c pass:    {times['vitron-agent doctor'] / times['python -c pass']:.2f}x")
    median, worst = request_to_panel(requests)
    print(f"typed request -> decision panel (rule planner, classic backend): {median * 1000:.0f} ms median, "
          f"{worst * 1000:.0f} ms max over {requests}")
    return [
        Row("startup", "vitron-agent --help / a bare one-command typer app --help", versus_typer, "x", goal=GOAL,
            note=f"{ours * 1e3:.0f} ms vs {times['bare typer --help'] * 1e3:.0f} ms"),
        Row("startup", "vitron-agent --help / python -c pass", ours / times["python -c pass"], "x",
            note=f"python alone {times['python -c pass'] * 1e3:.0f} ms"),
        Row("startup", "typed request -> decision panel (rule planner)", median * 1000, "ms",
            note=f"max {worst * 1000:.0f} ms over {requests}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="processes per command")
    parser.add_argument("--requests", type=int, default=10, help="typed requests in the terminal session")
    args = parser.parse_args()
    measure(runs=args.runs, requests=args.requests)


if __name__ == "__main__":
    main()
