"""The picture one draws on, bounded: a large photo is drawn on as a preview and the box scaled back, a brush layer
larger than the preview is refused from its header (undecoded), and drawings no event read are not kept forever."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import PHOTO, configure
from web_support import CLASSIC

pytest.importorskip("gradio")

from vitron_agent.planners.rules import RulePlanner  # noqa: E402
from vitron_agent.regions import Box  # noqa: E402
from vitron_agent.web.actions import Actions, Tab  # noqa: E402
from vitron_agent.web.canvas import KEPT_DRAWINGS, TOO_LARGE, Canvas  # noqa: E402
from vitron_agent.web.hub import WebHub  # noqa: E402
from vitron_agent.workspace import Workspace  # noqa: E402


def _layer(size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """The alpha of a brush layer painted over ``box``, as the canvas hands it over."""
    alpha = np.zeros(size[::-1], dtype=np.uint8)
    alpha[box[1]:box[3], box[0]:box[2]] = 255
    return alpha


def test_a_large_photo_is_drawn_on_as_a_preview_and_its_box_and_sketch_scaled_back(workspace: Path,
                                                                                    tmp_path: Path) -> None:
    configure(workspace, CLASSIC)
    actions = Actions(WebHub(Workspace(workspace), RulePlanner()))
    large = tmp_path / "large.jpg"
    Image.open(PHOTO).convert("RGB").resize((4000, 3000)).save(large, quality=90)
    tab = Tab()
    screen = actions.uploaded(tab, [str(large)])
    assert isinstance(screen.canvas, Image.Image) and screen.canvas.size == (1600, 1200)
    assert screen.clicks is not None and not isinstance(screen.clicks, Image.Image)  # clicks: the picture itself

    said = actions.drew(tab, {"layers": [_layer((1600, 1200), (100, 100, 500, 400))], "refused": None}, False)
    assert tab.box == Box(x1=250, y1=250, x2=1250, y2=1000)
    assert said == "With the next request: box 250, 250, 1250, 1000"

    actions.drew(tab, {"layers": [_layer((1600, 1200), (0, 0, 800, 600))], "refused": None}, True)
    mask = actions._sketch(tab)  # the sketch, painted on the preview, is a mask of the photo's size
    assert mask is not None and (mask.meta["width"], mask.meta["height"]) == (4000, 3000)


def test_a_photo_that_fits_is_drawn_on_as_itself(workspace: Path) -> None:
    configure(workspace, CLASSIC)
    actions = Actions(WebHub(Workspace(workspace), RulePlanner()))
    tab = Tab()
    screen = actions.uploaded(tab, [str(PHOTO)])
    assert screen.canvas == screen.clicks and Path(screen.canvas).name.endswith(".jpg")
    actions.drew(tab, {"layers": [_layer((640, 480), (60, 90, 580, 380))], "refused": None}, False)
    assert tab.box == Box(x1=60, y1=90, x2=580, y2=380)


PEAK = """
import json, sys
from pathlib import Path
def status(key):
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData
from vitron_agent.web.canvas import Canvas
canvas = Canvas(type="numpy")
Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from what is resident now
idle = status("VmRSS:")
value = canvas.preprocess(EditorData(layers=[FileData(path=sys.argv[1])], background=FileData(path=sys.argv[1])))
peak = status("VmHWM:")
print(json.dumps({"refused": value["refused"], "layers": len(value["layers"]), "peak_mib": (peak - idle) / 1024}))
"""


def test_a_layer_larger_than_the_picture_shown_is_refused_undecoded(tmp_path: Path) -> None:
    bomb = tmp_path / "layer.png"  # 13000 x 13000: a few KiB on the wire, 645 MiB as RGBA
    Image.new("1", (13000, 13000)).save(bomb, optimize=True)
    assert bomb.stat().st_size < 2**20
    done = subprocess.run([sys.executable, "-c", PEAK, str(bomb)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.splitlines()[-1])
    assert measured["refused"] == TOO_LARGE and measured["layers"] == 0
    assert measured["peak_mib"] < 50, measured  # nothing of its size was decoded


def test_drawings_no_event_read_are_not_kept_forever(tmp_path: Path) -> None:
    from gradio.components.image_editor import AcceptBlobs

    canvas = Canvas(type="numpy")
    small = tmp_path / "stroke.png"
    Image.fromarray(_layer((32, 32), (4, 4, 20, 20)), mode="L").save(small)
    for number in range(3 * KEPT_DRAWINGS):  # a client uploading drawings it never sends
        canvas.accept_blobs(AcceptBlobs(data={"type": "layer", "index": 1, "file": b"", "id": f"d{number}"},
                                        files=[("layer", small.read_bytes())]))
    assert len(canvas.blob_storage) == KEPT_DRAWINGS and "d0" not in canvas.blob_storage
    from gradio.components.image_editor import EditorData

    value = canvas.preprocess(EditorData(id=f"d{3 * KEPT_DRAWINGS - 1}"))  # the latest one is read, and let go
    assert value["refused"] is None and value["layers"][0][10, 10] == 255 and value["layers"][0][0, 0] == 0
    assert len(canvas.blob_storage) == KEPT_DRAWINGS - 1


def test_a_drawing_larger_than_any_of_the_preview_is_not_kept() -> None:
    from gradio.components.image_editor import AcceptBlobs

    from vitron_agent.web.canvas import BLOB_BYTES

    canvas = Canvas(type="numpy")
    canvas.accept_blobs(AcceptBlobs(data={"type": "layer", "index": 1, "file": b"", "id": "big"},
                                    files=[("layer", b"\0" * (BLOB_BYTES + 1))]))
    assert canvas.blob_storage == {}
