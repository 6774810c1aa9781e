"""The classic segmenter on a photo larger than its pixel budget: GrabCut on the budget-sized copy (what the tool
does) against GrabCut on the whole window (what OpenCV alone does, and what the tool did before), side by side,
each in a child process of its own so its peak memory is its own.

    python benchmarks/classic.py

The photo is the motorcycle sample scaled up (1600 x 1200 quick, 3200 x 2400 full), its README box scaled with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rows import Row

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "media" / "motorcycle.jpg"
BOX = (60, 90, 580, 380)
CHILD = """
import json, resource, sys, time
import numpy as np
from PIL import Image
from vitron_agent.regions import Box
from vitron_agent.tools.backends import classic
photo, width, height, whole = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "whole"
image = np.asarray(Image.open(photo).convert("RGB").resize((width, height), Image.BICUBIC))
box = Box.of(tuple(v * s for v, s in zip({box}, (width / 640, height / 480) * 2)))
if whole:
    classic.PIXEL_BUDGET = width * height  # nothing scaled: the window as it is
start = time.perf_counter()
mask = classic.grabcut(image, box)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "coverage": float(mask.mean())}}))
"""


def run(width: int, height: int, whole: bool) -> dict[str, float]:
    child = subprocess.run([sys.executable, "-c", CHILD.format(box=BOX), str(PHOTO), str(width), str(height),
                            "whole" if whole else "budget"], capture_output=True, text=True, check=True)
    return json.loads(child.stdout)


def measure(quick: bool = False) -> list[Row]:
    width, height = (1600, 1200) if quick else (3200, 2400)
    budget, whole = run(width, height, whole=False), run(width, height, whole=True)
    for name, figures in (("budget", budget), ("whole window", whole)):
        print(f"{width} x {height}, {name}: {figures['seconds']:.1f} s, peak RSS {figures['peak_mib']:.0f} MiB, "
              f"coverage {figures['coverage']:.3f}")
    note = f"{width} x {height} photo; whole window {whole['seconds']:.1f} s, {whole['peak_mib']:.0f} MiB"
    return [
        Row("classic", "GrabCut time, within the pixel budget / on the whole window", budget["seconds"] /
            whole["seconds"], "x", goal=0.6, note=note),
        Row("classic", "peak RSS, within the pixel budget / on the whole window", budget["peak_mib"] /
            whole["peak_mib"], "x", goal=0.75, note="each in its own process, the decoded photo included"),
    ]


if __name__ == "__main__":
    measure()
