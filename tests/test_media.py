"""Media I/O on the real samples, and a corpus of bad media that must each end in one MediaError."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vitron_agent.media import (
    MediaError,
    MediaLimits,
    encode_video,
    load_frame,
    load_image,
    load_video,
    save_image,
    save_video,
)

from conftest import MEDIA, MOTORBIKE_FRAMES, TEST_DATA


@pytest.mark.parametrize("path", sorted([*MEDIA.glob("*.jpg"), *TEST_DATA.glob("*.jpg")]), ids=lambda p: p.name)
def test_every_sample_photo_loads_as_rgb(path: Path) -> None:
    image = load_image(path)
    assert image.mode == "RGB" and max(image.size) >= 500


def test_mp4_loads_with_its_frame_rate() -> None:
    video = load_video(TEST_DATA / "young-woman.mp4")
    assert video.size == (596, 336)
    assert len(video) == 237
    assert video.fps == pytest.approx(23.976, abs=1e-3)
    assert video.frames.dtype == np.uint8 and video.frames.shape == (237, 336, 596, 3)


def test_folder_of_frames_loads_in_natural_order() -> None:
    video = load_video(MOTORBIKE_FRAMES, fps=15)
    assert len(video) == 43 and video.size == (854, 480) and video.fps == 15
    assert np.array_equal(video.frames[10], np.asarray(load_image(MOTORBIKE_FRAMES / "00010.jpg")))


def test_png_round_trip_is_lossless(tmp_path: Path) -> None:
    image = load_image(MEDIA / "extreme_ironing.jpg")
    saved = save_image(image, tmp_path / "copy.png")
    assert np.array_equal(np.asarray(load_image(saved)), np.asarray(image))


def test_mp4_round_trip_keeps_frames_size_and_fps(tmp_path: Path) -> None:
    source = load_video(MOTORBIKE_FRAMES, fps=15)
    frames = source.frames[:12]
    saved = save_video(frames, tmp_path / "clip.mp4", fps=15)
    back = load_video(saved)
    assert len(back) == 12 and back.size == source.size and back.fps == pytest.approx(15)
    error = np.abs(back.frames.astype(int) - frames.astype(int)).mean()
    assert error < 4, f"H.264 at crf 18 should be near-lossless, mean error {error:.2f}"


def test_odd_sizes_are_padded_for_h264(tmp_path: Path) -> None:
    frames = np.asarray(load_image(MEDIA / "extreme_ironing.jpg"))[None, :101, :151]
    back = load_video(save_video(np.repeat(frames, 3, axis=0), tmp_path / "odd.mp4", fps=8))
    assert back.size == (152, 102) and len(back) == 3


def test_gif_is_a_video(tmp_path: Path) -> None:
    frames = [load_image(MOTORBIKE_FRAMES / f"{i:05d}.jpg").resize((160, 90)) for i in range(5)]
    path = tmp_path / "clip.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    video = load_video(path)
    assert len(video) == 5 and video.size == (160, 90)


def test_save_refuses_existing_files_and_unknown_formats(tmp_path: Path) -> None:
    image = load_image(MEDIA / "extreme_ironing.jpg")
    save_image(image, tmp_path / "a.jpg")
    with pytest.raises(FileExistsError):
        save_image(image, tmp_path / "a.jpg")
    with pytest.raises(MediaError, match=".png or .jpg"):
        save_image(image, tmp_path / "a.gif")


def test_encode_video_checks_its_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_video(np.zeros((2, 8, 8, 3), dtype=np.float32), 8)
    with pytest.raises(ValueError, match="fps"):
        encode_video(np.zeros((2, 8, 8, 3), dtype=np.uint8), 0)


# -- the bad-media corpus -------------------------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size and holds a tiny (invalid) body: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b""
    )


def build_corpus(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each bad input, and a word its error message must contain."""
    photo = (MEDIA / "motorcycle.jpg").read_bytes()
    clip = (TEST_DATA / "young-woman.mp4").read_bytes()
    cases: dict[str, tuple[bytes | None, str, str]] = {
        "zero-byte image": (b"", "empty.jpg", "empty"),
        "truncated jpeg": (photo[: len(photo) // 3], "cut.jpg", "truncated"),
        "truncated png": (None, "cut.png", "truncated"),
        "jpeg named png": (photo, "photo.png", "holds JPEG"),
        "wrong extension": (photo, "photo.txt", "extension"),
        "no extension": (photo, "photo", "no extension"),
        "text named jpg": (b"this is not a picture\n" * 20, "note.jpg", "not an image"),
        "decompression bomb": (_png_header_only(60_000, 60_000), "bomb.png", "decompression bomb"),
        "absurd aspect": (None, "strip.png", "absurd dimensions"),
        "zero-byte video": (b"", "empty.mp4", "empty"),
        "truncated video": (clip[: len(clip) // 2], "cut.mp4", "corrupt"),
        "text named mp4": (b"not a video at all " * 100, "fake.mp4", "not a readable video"),
        "video wrong extension": (clip, "clip.txt", "extension"),
        "zero-frame video": (None, "zero.mp4", "no "),
        "missing file": (None, "missing.jpg", "does not exist"),
    }
    made: dict[str, tuple[Path, str]] = {}
    for name, (data, filename, expect) in cases.items():
        path = folder / filename
        if data is not None:
            path.write_bytes(data)
        made[name] = (path, expect)
    png = folder / "whole.png"
    Image.open(MEDIA / "motorcycle.jpg").save(png)
    (folder / "cut.png").write_bytes(png.read_bytes()[: png.stat().st_size // 2])
    Image.new("RGB", (4000, 20), "white").save(folder / "strip.png")
    _write_zero_frame_mp4(folder / "zero.mp4")
    return made


def _write_zero_frame_mp4(path: Path) -> None:
    import av

    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # header and trailer, no frames


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return build_corpus(tmp_path_factory.mktemp("bad-media"))


CORPUS_NAMES = [
    "zero-byte image", "truncated jpeg", "truncated png", "jpeg named png", "wrong extension", "no extension",
    "text named jpg", "decompression bomb", "absurd aspect", "zero-byte video", "truncated video",
    "text named mp4", "video wrong extension", "zero-frame video", "missing file",
]


@pytest.mark.parametrize("case", CORPUS_NAMES)
def test_bad_media_raises_one_media_error(case: str, corpus: dict[str, tuple[Path, str]]) -> None:
    path, expect = corpus[case]
    load = load_video if path.suffix == ".mp4" or case == "video wrong extension" else load_image
    with pytest.raises(MediaError) as caught:
        load(path)
    assert caught.value.path == path
    assert str(path) in str(caught.value) and expect in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_bad_media_in_a_fresh_process_exits_cleanly(tmp_path: Path) -> None:
    """Native decoders must not take the process down: load the whole corpus in a child and count."""
    build_corpus(tmp_path)
    script = (
        "import sys; from pathlib import Path; from vitron_agent.media import load_image, load_video, MediaError\n"
        "n = 0\n"
        "for p in sorted(Path(sys.argv[1]).iterdir()):\n"
        "    if p.name == 'whole.png': continue\n"
        "    for load in (load_image, load_video):\n"
        "        try: load(p)\n"
        "        except MediaError: n += 1\n"
        "print(n)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 2 * (len(list(tmp_path.iterdir())) - 1)


def test_a_folder_is_not_an_image() -> None:
    with pytest.raises(MediaError, match="is a folder"):
        load_image(MOTORBIKE_FRAMES)


def test_empty_frame_folder(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no image frames"):
        load_video(tmp_path)


def test_frames_of_different_sizes(tmp_path: Path) -> None:
    load_image(MOTORBIKE_FRAMES / "00000.jpg").save(tmp_path / "00000.png")
    load_image(MOTORBIKE_FRAMES / "00001.jpg").resize((100, 100)).save(tmp_path / "00001.png")
    with pytest.raises(MediaError, match="one size"):
        load_video(tmp_path)


@pytest.mark.parametrize(
    ("limits", "target", "expect"),
    [
        (MediaLimits(max_image_bytes=10_000), MEDIA / "extreme_ironing.jpg", "MiB limit"),
        (MediaLimits(max_pixels=100_000), MEDIA / "extreme_ironing.jpg", "pixels"),
        (MediaLimits(max_frames=10), TEST_DATA / "young-woman.mp4", "frames"),
        (MediaLimits(max_frames=10), MOTORBIKE_FRAMES, "frames"),
        (MediaLimits(max_decoded_bytes=10_000_000), TEST_DATA / "young-woman.mp4", "MiB decoded"),
    ],
)
def test_limits_are_enforced(limits: MediaLimits, target: Path, expect: str) -> None:
    load = load_video if target.is_dir() or target.suffix == ".mp4" else load_image
    with pytest.raises(MediaError, match=expect):
        load(target, limits=limits)


def test_load_frame_decodes_only_what_it_needs(tmp_path: Path) -> None:
    frames = load_video(MOTORBIKE_FRAMES).frames[:5]
    path = save_video(frames, tmp_path / "clip.mp4", fps=15)
    third = np.asarray(load_frame(path, 2)).astype(int)
    assert third.shape == (480, 854, 3) and np.abs(third - frames[2].astype(int)).mean() < 4
    with pytest.raises(MediaError, match="has no frame 9"):
        load_frame(path, 9)
