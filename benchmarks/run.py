"""Every benchmark in one run, one table: each figure next to its goal.

Each benchmark runs in a process of its own (so one's imports and memory do not colour another's) through its
``measure(quick)``; its own detail lines go by as it runs, then the table is printed and written as JSON and, with
matplotlib installed, as a PNG bar chart (each figure as a share of its goal; under 1 is met).

    python benchmarks/run.py [--quick] [--only parse,startup] [--out benchmarks/results]

``--quick`` uses smaller counts (under 5 minutes on 2 CPU cores); the full run repeats more.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("parse", "overhead", "residency", "pipelines", "startup", "memory", "classic", "candidates", "web",
              "load", "remote", "lease", "hub_memory", "canvas_memory", "content_blocks")
MARK = "ROWS "
CHILD = (
    "import json, sys; sys.path.insert(0, {here!r}); import {name}; "
    "rows = {name}.measure(quick={quick}); print({mark!r} + json.dumps([r.as_json() for r in rows]), flush=True)"
)


def run_one(name: str, quick: bool) -> tuple[list[dict[str, Any]], float, str | None]:
    """Run one benchmark in a child process; its rows, its wall time, and an error line if it failed."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:  # libraries' progress bars and warnings; shown if it fails
        child = subprocess.Popen([sys.executable, "-c", CHILD.format(here=str(HERE), name=name, quick=quick,
                                                                     mark=MARK)],
                                 stdout=subprocess.PIPE, stderr=errors, text=True, cwd=HERE.parent)
        rows: list[dict[str, Any]] = []
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith(MARK):
                rows = json.loads(line[len(MARK):])
            else:
                print(f"  [{name}] {line.rstrip()}", flush=True)
        code = child.wait()
        errors.seek(0)
        last = errors.read().strip().splitlines()[-1:] if code else []
    error = f"{name} exited with status {code}: {last[0] if last else ''}" if code else None
    return rows, time.perf_counter() - start, error


def table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    shown = Table(title="vitron-agent benchmarks (measured in this run)", title_justify="left", header_style="bold")
    for column in ("benchmark", "measure", "figure", "goal", "met", "note"):
        shown.add_column(column, overflow="fold")
    for row in rows:
        unit = "x" if row["unit"] == "x" else f" {row['unit']}"
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[row["met"]]
        shown.add_row(row["benchmark"], row["name"], f"{row['figure']:.3g}{unit}", row["goal_text"], met,
                      row["note"])
    return shown


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    """Each goal-bearing figure as a share of its goal (lower-is-better: figure / goal; else goal / figure)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    scored = [r for r in rows if r["goal"] not in (None, 0)]
    shares = [r["figure"] / r["goal"] if r["lower_is_better"] else r["goal"] / max(r["figure"], 1e-9)
              for r in scored]
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(scored) + 1.5))
    colours = ["#2e7d32" if share <= 1 else "#c62828" for share in shares]
    axes.barh([r["name"][:70] for r in scored], shares, color=colours)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.invert_yaxis()
    axes.set_xlabel("figure as a share of its goal (left of the line: goal met)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts: under 5 minutes on 2 CPU cores")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated benchmark names")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where latest.json and latest.png go")
    args = parser.parse_args()
    from rich.console import Console

    from vitron_agent.models import probe_device

    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; the benchmarks are {', '.join(BENCHMARKS)}")
    device = probe_device()
    rows, failures, timings = [], [], {}
    for name in names:
        print(f"{name} ...", flush=True)
        found, seconds, error = run_one(name, args.quick)
        rows += found
        timings[name] = round(seconds, 1)
        if error:
            failures.append(error)
    console = Console(width=max(Console().width, 150))
    console.print(table(rows))
    for failure in failures:
        console.print(f"[red]{failure}[/]")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"quick": args.quick, "device": device.device, "device_name": device.name,
              "seconds": timings, "rows": rows, "failures": failures}
    (args.out / "latest.json").write_text(json.dumps(report, indent=2))
    drawn = chart(rows, args.out / "latest.png")
    console.print(f"written: {args.out / 'latest.json'}" + (f", {args.out / 'latest.png'}" if drawn else
                                                            " (no chart: pip install matplotlib)"))
    console.print(f"device: {device.device} ({device.name}); seconds per benchmark: {timings}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
