"""Memory of one brush stroke on a 7000 x 7000 photo: the page's canvas against Gradio's ImageEditor as its docs
use it (``type="numpy"``), which is what the page used before.

A stroke's change event carries what the browser's editor holds. With the stock editor that is the background,
the brush layer and their composite, each 7000 x 7000, all three decoded before the handler runs. The page's
canvas shows a preview of at most ``PREVIEW_SIDE`` pixels a side, so its layer is that small, and reads only the
layer. Each side runs in a fresh process; its peak resident memory above idle is ``VmHWM`` (reset through
``/proc/self/clear_refs`` once everything is imported) less ``VmRSS`` at that moment.
Drawing the picture on the canvas (the preview, once per picture) is measured the same way.

    python benchmarks/canvas_memory.py [--side 7000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from rows import Row
from vitron_agent.web.pointing import PREVIEW_SIDE

PHOTO = Path(__file__).resolve().parent.parent / "examples" / "media"

STROKE = """
import json, sys
from pathlib import Path
def status(key):
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData
import gradio as gr
from vitron_agent.web.canvas import Canvas
from vitron_agent.web.pointing import drawing, preview, to_picture
from vitron_agent.tools.backends.segmentation import mask_png
which, folder, side = sys.argv[1], sys.argv[2], int(sys.argv[3])
editor = Canvas(type="numpy") if which == "canvas" else gr.ImageEditor(type="numpy")
files = {name: FileData(path=f"{folder}/{which}-{name}.png") for name in ("background", "layer", "composite")}
Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from what is resident now
idle = status("VmRSS:")
if which == "preview":
    shown = preview(f"{folder}/photo.jpg")
    print(json.dumps({"peak": (status("VmHWM:") - idle) / 1024,
                      "size": list(shown.size)}))
    raise SystemExit
value = editor.preprocess(EditorData(background=files["background"], layers=[files["layer"]],
                                     composite=files["composite"]))
box, painted = drawing(value)
box = to_picture(box, painted.shape[1::-1], (side, side))
sketch = mask_png(painted)
peak = status("VmHWM:")
print(json.dumps({"peak": (peak - idle) / 1024, "box": box.as_tuple()}))
"""


def payloads(folder: Path, side: int) -> None:
    """What each editor's browser side sends for one stroke over the middle third of a ``side``-pixel photo."""
    source = next(path for path in sorted(PHOTO.iterdir()) if path.suffix == ".jpg")
    photo = Image.open(source).convert("RGB").resize((side, side))
    photo.save(folder / "photo.jpg", quality=90)
    for which, size in (("stock", side), ("canvas", min(side, PREVIEW_SIDE))):
        shown = photo.resize((size, size)) if size != side else photo
        layer = Image.new("RGBA", (size, size))
        ImageDraw.Draw(layer).rectangle((size // 3, size // 3, 2 * size // 3, 2 * size // 3), fill=(255, 59, 48, 255))
        shown.save(folder / f"{which}-background.png", compress_level=1)
        layer.save(folder / f"{which}-layer.png", compress_level=1)
        Image.alpha_composite(shown.convert("RGBA"), layer).save(folder / f"{which}-composite.png", compress_level=1)


def peak(which: str, folder: Path, side: int) -> dict:
    done = subprocess.run([sys.executable, "-c", STROKE, which, str(folder), str(side)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def measure(quick: bool = False, side: int = 7000) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="vitron-canvas-"))
    payloads(folder, side)
    stock, canvas, shown = peak("stock", folder, side), peak("canvas", folder, side), peak("preview", folder, side)
    print(f"one stroke on a {side} x {side} photo: Gradio's ImageEditor +{stock['peak']:.0f} MiB, the page's canvas "
          f"+{canvas['peak']:.0f} MiB (goal: at most 200 MiB); box {canvas['box']} vs {stock['box']}")
    print(f"drawing the photo on the canvas (a {shown['size'][0]} x {shown['size'][1]} preview, once per picture): "
          f"+{shown['peak']:.0f} MiB")
    return [Row("canvas_memory", f"peak above idle of one brush stroke on a {side}x{side} photo", canvas["peak"],
                "MiB", goal=200, note=f"Gradio's ImageEditor (type=numpy): +{stock['peak']:.0f} MiB"),
            Row("canvas_memory", "page canvas / Gradio's ImageEditor, peak memory of one stroke",
                canvas["peak"] / stock["peak"], "x"),
            Row("canvas_memory", f"peak above idle of drawing a {side}x{side} photo on the canvas", shown["peak"],
                "MiB", note="the preview, made once per picture")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=7000)
    measure(side=parser.parse_args().side)


if __name__ == "__main__":
    main()
