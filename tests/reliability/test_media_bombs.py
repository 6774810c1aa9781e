"""Media bombs are refused by the limits, in the limits' words, under a fixed memory ceiling.

Each file of the corpus (``tests/data/bombs``, rebuilt by its ``make.py``) is small on disk and huge decoded:
Matroska and WebM clips that declare no frame count (the review's 110 KB file of 300 black 4096 x 4096 frames),
an animated WebP and an APNG whose canvas is over the pixel limit, a GIF whose logical screen is, and PNGs with
huge text chunks. A child process loads each under ``RLIMIT_AS`` and reports the message and its peak memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import TEST_DATA

BOMBS = TEST_DATA / "bombs"
CEILING = 2 * 2**30
"""address space for the child: the interpreter, numpy, PyAV and Pillow take about 0.75 GiB of it; the bombs
would take 14 GiB (videos) or 0.2-0.4 GiB a frame"""

CHILD = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({ceiling}, {ceiling}))

    def peak_mib():  # this process's own high-water mark (ru_maxrss would count the parent's at the fork)
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

    from vitron_agent import media
    said, peaks = {{}}, {{}}
    for path in sys.argv[1:]:
        load = media.load_video if path.endswith((".mkv", ".webm", ".gif")) else media.load_image
        try:
            load(path)
            said[path] = "loaded"
        except media.MediaError as error:
            said[path] = error.reason
        except MemoryError:
            said[path] = "ran out of memory"
        peaks[path] = peak_mib()
    print(json.dumps({{"said": said, "peak_rss_mib": peaks}}))
""")


def load_under_ceiling(paths: list[Path]) -> dict[str, object]:
    child = subprocess.run([sys.executable, "-c", CHILD.format(ceiling=CEILING), *map(str, paths)],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout)


@pytest.fixture(scope="module")
def text_bombs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    sys.path.insert(0, str(BOMBS))
    from make import text_bomb_png

    folder = tmp_path_factory.mktemp("bombs")
    text_bomb_png(folder / "text-150mib.png", stored=150 * 2**20)  # under the 200 MiB file limit
    text_bomb_png(folder / "ztxt-unpacks-64mib.png", unpacked=64 * 2**20)  # 64 KiB on disk
    return [folder / "text-150mib.png", folder / "ztxt-unpacks-64mib.png"]


def test_every_bomb_is_refused_with_the_limit_it_passes(text_bombs: list[Path]) -> None:
    corpus = sorted(p for p in BOMBS.iterdir() if p.suffix != ".py") + text_bombs
    answer = load_under_ceiling(corpus)
    said, peaks = answer["said"], answer["peak_rss_mib"]
    expected = {
        "black-4096-300.mkv": "would take 14.1 GiB decoded (300 frames of 4096 x 4096), over the 4.0 GiB limit",
        "black-4096-300.webm": "would take 14.1 GiB decoded (300 frames of 4096 x 4096), over the 4.0 GiB limit",
        "animated-8000.webp": "declares 8000 x 8000 = 64,000,000 pixels, over the limit of 50,000,000",
        "animated-8000.png": "declares 8000 x 8000 = 64,000,000 pixels, over the limit of 50,000,000",
        "huge-screen.gif": "declares 16000 x 16000 = 256,000,000 pixels, over the limit of 50,000,000",
        "text-150mib.png": "holds more than 150.0 MiB of text chunks, over the 8.0 MiB limit for text in an image",
        "ztxt-unpacks-64mib.png": "holds compressed text that unpacks past Pillow's limit for text in an image",
    }
    assert {Path(path).name for path in said} == expected.keys()
    for path, reason in said.items():
        assert reason.startswith(expected[Path(path).name]), (path, reason)
    # every refusal comes before the decode: what is left is the interpreter and FFmpeg probing a first frame or
    # two of a clip (115 MiB here), far under the 14 GiB a decode would take
    assert max(peaks.values()) < 1024, peaks


def test_a_clip_that_decodes_past_its_declared_count_is_stopped_by_the_running_total(tmp_path: Path) -> None:
    """An AVI whose headers say 2 frames holds 12: the count checked before decoding passes, and the running
    total stops the decode the moment it passes the limit (before: all 12 decoded, over the limit)."""
    from vitron_agent.media import MediaError, MediaLimits, load_video

    sys.path.insert(0, str(BOMBS))
    from make import lying_avi

    lying_avi(tmp_path / "lying.avi", frames=12, declared=2)
    frame = 64 * 64 * 3
    assert len(load_video(tmp_path / "lying.avi")) == 12  # within the limits, every frame is kept
    with pytest.raises(MediaError, match=r"would take 60\.0 KiB decoded \(5 frames of 64 x 64\), over the 48\.0 KiB "
                                         r"limit$"):
        load_video(tmp_path / "lying.avi", limits=MediaLimits(max_decoded_bytes=4 * frame))
    with pytest.raises(MediaError, match="has 5 frames, over the limit of 4$"):
        load_video(tmp_path / "lying.avi", limits=MediaLimits(max_frames=4))
