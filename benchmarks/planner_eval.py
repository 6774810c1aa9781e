"""Planner evaluation: module accuracy, target words and a confusion table for any planner, on a JSONL set.

    python benchmarks/planner_eval.py [--planner rules] [--data benchmarks/data/planner_requests.jsonl]

Each line of the set is one request: ``text``, ``media`` ("image", "video" or "none": what is attached),
optional ``region`` (pixels), the expected ``module`` ("A".."G", or "none" for an answer in words) and
``target`` (words the instruction must contain). Attachments are real media imported into a temporary workspace,
so planners that look at pixels (Vitron, chat models with images) see a real photo or clip.

A row counts as right when the planner's module equals the expected one; its target is right when, in
addition, every expected word appears in the instruction text. Understanding rows ("none") are right when the
planner answers without calling a module.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from vitron_agent.artifacts import ArtifactStore
from vitron_agent.calls import Attachment, ToolCall
from vitron_agent.invocation import parse_invocation
from vitron_agent.planners.choose import planner_from_spec

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
LABELS = ["A", "B", "C", "D", "E", "F", "G", "none"]


def read_rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for number, row in enumerate(rows, 1):
        if row.get("module") not in LABELS or row.get("media") not in ("image", "video", "none"):
            raise SystemExit(f"{path}:{number}: module must be one of {LABELS} and media image/video/none")
    return rows


def sample_media(workspace: Path, image: Path, video: Path) -> dict[str, Attachment]:
    store = ArtifactStore(workspace, import_roots=[image.parent, video.parent])
    return {kind: Attachment.from_artifact(store.import_file(path)) for kind, path in (("image", image),
                                                                                       ("video", video))}


def answer_of(output: Any) -> tuple[str, str]:
    """(module letter or "none", the instruction text) from any planner output."""
    if isinstance(output, str):
        invocation = parse_invocation(output)
        module = invocation.module.value if invocation.module else "none"
        return module, " ".join(command.text for command in invocation.commands)
    from vitron_agent.invocation import Module
    from vitron_agent.tools import builtin_tools

    if isinstance(output, ToolCall):
        tool = next(t for t in builtin_tools().values() if type(output) is t.Args)
        return tool.module.value, json.dumps(output.arguments())

    name = output.get("name")
    module = next((m.value for m in Module if m.tool == name), "none")
    return module, json.dumps(output.get("args") or {})


def evaluate(planner: Any, rows: list[dict[str, Any]], media: dict[str, Attachment]) -> dict[str, Any]:
    from vitron_agent.regions import Box

    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    targets_right = 0
    mistakes = []
    started = time.perf_counter()
    for row in rows:
        attachments = [media[row["media"]]] if row["media"] != "none" else []
        region = Box.of(row["region"]) if row.get("region") else None
        try:
            module, instruction = answer_of(planner.plan([HumanMessage(row["text"])], attachments, region))
        except Exception as error:  # a planner that crashes on a row scores it wrong, and the run goes on
            module, instruction = "error", f"{type(error).__name__}: {error}"
        confusion[row["module"]][module] += 1
        words_present = all(word.lower() in instruction.lower() for word in row.get("target", []))
        if module == row["module"] and words_present:
            targets_right += 1
        if module != row["module"] or not words_present:
            mistakes.append((row, module, instruction))
    elapsed = time.perf_counter() - started
    right = sum(confusion[label][label] for label in confusion)
    return {"rows": len(rows), "module_right": right, "target_right": targets_right, "confusion": confusion,
            "mistakes": mistakes, "seconds": elapsed}


def print_report(name: str, result: dict[str, Any], show_mistakes: bool) -> None:
    confusion = result["confusion"]
    seen = [label for label in LABELS if label in confusion or any(label in c for c in confusion.values())]
    extra = sorted({got for c in confusion.values() for got in c} - set(LABELS))
    columns = seen + extra
    print(f"planner: {name}   requests: {result['rows']}   "
          f"{result['seconds'] * 1000 / max(1, result['rows']):.2f} ms per request")
    print(f"module accuracy: {result['module_right']}/{result['rows']} = "
          f"{result['module_right'] / result['rows']:.1%}   module and target words: {result['target_right']}/"
          f"{result['rows']} = {result['target_right'] / result['rows']:.1%}")
    print("\nper module (rows: expected, columns: planned)")
    print("expected " + "".join(f"{c:>6}" for c in columns) + "   accuracy")
    for label in LABELS:
        if label not in confusion:
            continue
        counts = confusion[label]
        total = sum(counts.values())
        print(f"{label:<9}" + "".join(f"{counts.get(c, 0) or '.':>6}" for c in columns)
              + f"   {counts[label]}/{total} = {counts[label] / total:.0%}")
    if show_mistakes and result["mistakes"]:
        print("\nmistakes:")
        for row, module, instruction in result["mistakes"]:
            print(f"  [{row['media']}] {row['text']!r}: expected {row['module']} {row.get('target')}, "
                  f"got {module} {instruction[:80]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--planner", default="rules", help="rules, vitron:<path-or-id> or chat:<provider>:<model>")
    parser.add_argument("--data", type=Path, action="append",
                        help="JSONL request sets (default: planner_requests.jsonl and planner_heldout.jsonl)")
    parser.add_argument("--image", type=Path, default=ROOT / "examples" / "media" / "extreme_ironing.jpg")
    parser.add_argument("--video", type=Path, default=ROOT / "examples" / "media" / "motorbike.mp4")
    parser.add_argument("--mistakes", action="store_true", help="list every row the planner got wrong")
    args = parser.parse_args(argv)
    sets = args.data or [DATA / "planner_requests.jsonl", DATA / "planner_heldout.jsonl"]
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        media = sample_media(workspace, args.image, args.video)
        planner = planner_from_spec(args.planner, workspace=workspace)
        for path in sets:
            print(f"\n== {path.name}")
            print_report(args.planner, evaluate(planner, read_rows(path), media), args.mistakes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
