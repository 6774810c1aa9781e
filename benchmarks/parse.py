"""Parse throughput and correctness: parse_invocation against the three-regex reading Vitron's demo uses.

Generates 100,000 mixed planner outputs (clean invocations for every module, plain answers, and the malformed
shapes seen in practice), parses them with both readers in the same run, and prints throughput, the time ratio,
and how many outputs each reads wrongly against the known intent.

    python benchmarks/parse.py [--count 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable

from rows import Row
from vitron_agent.invocation import parse_invocation

Expected = tuple[str | None, list[str], tuple[float, ...] | None]

RESPONSES = [
    "Sure, I'll focus on the zebra that is the farthest from us.",
    "Here is what I will do with your picture.",
    "Okay! Let me take care of that for you.",
    "No problem.",
]
TASKS = {
    "A": ("generation", ["a cozy cabin in the snow", "a red sports car on a coastal road at sunset"]),
    "B": ("segmentation", ["zebra farthest from you", "the man holding the remote"]),
    "C": ("editing", ["make the sky pink", "turn the car blue"]),
    "D": ("video generation", ["waves crashing on rocks", "a cat playing piano"]),
    "E": ("video segmentation", ["the motorbike", "the woman on the left"]),
    "F": ("video editing", ["a golden motorbike", "a snowy road"]),
    "G": ("image-to-video", ["the flag waves in the wind", "clouds drift slowly"]),
}
ANSWERS = [
    "The photo shows a man ironing clothes on the back of a yellow taxi.",
    "There are two people eating outdoors; one of them holds a fork.",
]


def make_case(rng: random.Random) -> tuple[str, Expected]:
    """One output and what it means: (module letter, instruction texts, region)."""
    shape = rng.choice(["clean", "clean", "clean", "answer", "colon", "lower", "unclosed", "stray", "region",
                        "video_edit"])
    if shape == "answer":
        return rng.choice(ANSWERS), (None, [], None)
    letter = "F" if shape == "video_edit" else rng.choice("ABCDEG")
    task, texts = TASKS[letter]
    text = rng.choice(texts)
    if shape == "colon":
        text = f"{text} at 10:30, ratio 16:9"
    response = rng.choice(RESPONSES)
    module_tag = f"<module>{letter.lower() if shape == 'lower' else letter}</module>"
    instruction = f"<instruction>{task}: {'<SP>' if shape == 'stray' else ''}{text}</instruction>"
    if shape == "unclosed":
        return f"{response} {module_tag} <instruction>{task}: {text}", (letter, [text], None)
    if shape == "video_edit":
        back = "a snowy mountain road"
        out = f"{response} {module_tag} <instruction>foreground: {text}</instruction> " \
              f"<instruction>background: {back}</instruction>"
        return out, (letter, [text, back], None)
    if shape == "region":
        box = tuple(float(v) for v in sorted(rng.sample(range(0, 224), 2)) + sorted(rng.sample(range(0, 224), 2)))
        box = (box[0], box[2], box[1], box[3])
        form = rng.choice(["[{}, {}, {}, {}]", "{},{},{},{}", "({}, {}), ({}, {})"])
        region = form.format(*(int(v) for v in box))
        return f"{response} {module_tag} {instruction} <region>{region}</region>", (letter, [text], box)
    return f"{response} {module_tag} {instruction}", (letter, [text], None)


# -- the baseline: what Vitron's demo does, written here for comparison ---------------------------------------
_B_MODULE = re.compile(r"<module>(.*?)</module>")
_B_INSTRUCTION = re.compile(r"<instruction>(.*?)</instruction>")
_B_REGION = re.compile(r"<region>(.*?)</region>")
_B_TAGS = re.compile(r"<[^>]+>(.*?)<[^>]+>")


def baseline(text: str) -> tuple[str, str | None, list[str] | None, str | None]:
    module = _B_MODULE.search(text)
    instructions = _B_INSTRUCTION.findall(text)
    region = _B_REGION.search(text)
    return (
        _B_TAGS.sub("", text),
        module.group(1) if module else None,
        [i.split(":")[-1].strip() for i in instructions] or None,
        region.group(1) if region else None,
    )


def baseline_reading(text: str) -> Expected:
    _, module, instructions, region = baseline(text)
    numbers = tuple(float(n) for n in re.findall(r"\d+\.?\d*", region)) if region else None
    return (module, instructions or [], numbers)


def ours_reading(text: str) -> Expected:
    inv = parse_invocation(text)
    return (inv.module.value if inv.module else None, [c.text for c in inv.commands], inv.region)


def timed(parsers: list[Callable[[str], object]], texts: list[str], repeats: int = 3,
          chunk: int = 2000) -> tuple[list[float], float]:
    """Total best time of each parser, and the median ratio second/first over chunks of ``chunk`` texts.

    Each chunk is parsed by both, back to back, so CPU frequency drift and other load hit both alike; the median
    of the per-chunk ratios is the figure to quote. The garbage collector is paused as timeit does (the corpus
    itself is 100,000 live objects that a collection would walk, which has nothing to do with either parser).
    """
    totals = [0.0] * len(parsers)
    ratios: list[float] = []
    gc.collect()
    gc.disable()
    try:
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            best = [float("inf")] * len(parsers)
            for _ in range(repeats):
                for index, parse in enumerate(parsers):
                    began = time.perf_counter()
                    for text in part:
                        parse(text)
                    best[index] = min(best[index], time.perf_counter() - began)
            totals = [total + b for total, b in zip(totals, best)]
            ratios.append(best[1] / best[0])
    finally:
        gc.enable()
    return totals, statistics.median(ratios)


def measure(quick: bool = False, count: int | None = None, seed: int = 0) -> list[Row]:
    """parse_invocation against the regex reading of Vitron's demo on generated outputs: time and mistakes."""
    count = count or (20_000 if quick else 100_000)
    rng = random.Random(seed)
    cases = [make_case(rng) for _ in range(count)]
    texts = [text for text, _ in cases]

    (base_s, ours_s), ratio = timed([baseline, parse_invocation], texts)
    base_wrong: Counter[str] = Counter()
    ours_wrong = 0
    for text, expected in cases:
        if baseline_reading(text) != expected:
            base_wrong[_shape_of(text)] += 1
        if ours_reading(text) != expected:
            ours_wrong += 1

    print(f"outputs parsed           {count:>12,}")
    print(f"baseline (3 regexes)     {count / base_s:>12,.0f} /s   {base_s * 1e6 / count:6.2f} us each")
    print(f"parse_invocation         {count / ours_s:>12,.0f} /s   {ours_s * 1e6 / count:6.2f} us each")
    print(f"time ratio ours/baseline {ratio:>12.2f} x   (median over chunks of 2,000; goal: <= 2.00)")
    print(f"read wrongly: baseline   {sum(base_wrong.values()):>12,}   {dict(base_wrong)}")
    print(f"read wrongly: ours       {ours_wrong:>12,}")
    return [
        Row("parse", "parse_invocation time / Vitron's 3-regex reading", ratio, "x", goal=2.0,
            note=f"{count:,} outputs; {ours_s * 1e6 / count:.1f} us each"),
        Row("parse", "outputs read wrongly: ours / baseline", ours_wrong / max(1, sum(base_wrong.values())), "x",
            goal=0.0, note=f"ours {ours_wrong}, baseline {sum(base_wrong.values())} of {count:,}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    measure(count=args.count, seed=args.seed)


def _shape_of(text: str) -> str:
    if ":" in text.split("<instruction>", 1)[-1].split(":", 1)[-1].split("</instruction>")[0]:
        return "colon in text"
    if "<SP>" in text:
        return "stray tag"
    if "<module>" in text and "</instruction>" not in text:
        return "unclosed tag"
    if re.search(r"<module>[a-g]</module>", text):
        return "lowercase module"
    if "<region>(" in text:
        return "region (x1, y1), (x2, y2)"
    return "other"


if __name__ == "__main__":
    main()
