"""Rebuild the media bombs in this folder (python tests/data/bombs/make.py). Each is small on disk and would be
huge decoded; the media limits must refuse every one before it is (tests/reliability/test_media_bombs.py).

The two videos take about a minute to encode on two cores, so they are kept in the repository; the PNG text
bombs are quick and are made by the test itself (``text_bomb_png``).
"""

from __future__ import annotations

import struct
import sys
import zlib
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent


def black_video(path: Path, container: str, codec: str, frames: int = 300, side: int = 4096, **options: str) -> None:
    """``frames`` black ``side`` x ``side`` frames; Matroska and WebM write no frame count."""
    import av
    import numpy as np

    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=Fraction(24))
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.options = options
        black = av.VideoFrame.from_ndarray(np.zeros((side, side, 3), np.uint8), format="rgb24").reformat(
            format="yuv420p")
        for number in range(frames):
            frame = black.reformat(format="yuv420p")
            frame.pts = number
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))


def animated(path: Path, format: str, side: int = 8000, frames: int = 2) -> None:
    """An animated WebP or APNG whose canvas, ``side`` x ``side``, is over the pixel limit."""
    from PIL import Image

    images = [Image.new("RGB", (side, side), (0, number, 0)) for number in range(frames)]
    images[0].save(path, format=format, save_all=True, append_images=images[1:], duration=100, loop=0,
                   **({"lossless": True, "method": 0} if format == "WEBP" else {"optimize": False}))


def huge_screen_gif(path: Path, width: int = 16000, height: int = 16000) -> None:
    """A 16 x 16 GIF whose logical screen says ``width`` x ``height`` (up to 16384: above that FFmpeg gives up on
    the size itself, and reports 0 x 0)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("P", (16, 16)).save(buffer, format="GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen descriptor follows the 6-byte header
    path.write_bytes(bytes(data))


def text_bomb_png(path: Path, *, stored: int = 0, unpacked: int = 0) -> None:
    """A 16 x 16 PNG with one tEXt chunk of ``stored`` bytes, or one zTXt chunk that unpacks to ``unpacked``."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x00" * 16 * 3 for _ in range(16))
    with open(path, "wb") as output:
        output.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)))
        if stored:
            output.write(struct.pack(">I", stored + 8) + b"tEXt" + b"Comment\x00")
            for _ in range(stored // 2**20):
                output.write(b"a" * 2**20)
            output.write(b"a" * (stored % 2**20) + b"\x00\x00\x00\x00")  # the CRC is never reached
        if unpacked:
            output.write(chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * unpacked, 9)))
        output.write(chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def lying_avi(path: Path, frames: int = 12, declared: int = 2, side: int = 64) -> None:
    """An AVI of ``frames`` MJPEG frames whose headers (avih's total, strh's length) say ``declared``."""
    import av
    import numpy as np

    with av.open(str(path), "w", format="avi") as output:
        stream = output.add_stream("mjpeg", rate=Fraction(24))
        stream.width = stream.height = side
        stream.pix_fmt = "yuvj420p"
        for number in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((side, side, 3), number, np.uint8), format="rgb24")
            frame = frame.reformat(format="yuvj420p")
            frame.pts = number
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    data = bytearray(path.read_bytes())
    for chunk, offset in ((b"avih", 16), (b"strh", 32)):  # dwTotalFrames; dwLength
        at = data.index(chunk) + 8 + offset
        data[at:at + 4] = struct.pack("<I", declared)
    path.write_bytes(bytes(data))


def main() -> None:
    black_video(HERE / "black-4096-300.mkv", "matroska", "libx264", preset="ultrafast")
    black_video(HERE / "black-4096-300.webm", "webm", "libvpx", deadline="realtime", **{"cpu-used": "8"})
    animated(HERE / "animated-8000.webp", "WEBP")
    animated(HERE / "animated-8000.png", "PNG")
    huge_screen_gif(HERE / "huge-screen.gif")
    for path in sorted(HERE.iterdir()):
        print(f"{path.name}: {path.stat().st_size:,} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
