"""Image and video I/O with limits, and one error for every bad input.

Media reaches the tools from people and from planners, so every load checks the file before decoding it: it
exists, is not empty, not too large, has an extension we read, holds what its extension says, declares sane
dimensions (no decompression bombs), and decodes to the end. Each failure is one :class:`MediaError` that names
the file and the reason; nothing else escapes from a load.

Images come back as RGB ``PIL.Image``; videos (mp4/webm/mov/mkv/gif via PyAV, or a folder of frames) as a
:class:`Video` holding a ``(frames, height, width, 3)`` uint8 array and its fps. Saving writes PNG/JPEG and
H.264 mp4, atomically and never over an existing file.

Usage::

    image = load_image("photo.jpg")
    video = load_video("clip.mp4")                 # or a folder: load_video("frames/", fps=15)
    save_video(video.frames, "out.mp4", fps=video.fps)
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from vitron_agent.paths import OpenedFile, write_new_file

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

__all__ = [
    "DEFAULT_LIMITS",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "MediaError",
    "MediaLimits",
    "Video",
    "encode_image",
    "encode_video",
    "load_frame",
    "load_image",
    "load_video",
    "open_media",
    "save_image",
    "save_video",
]

# extension -> the format PIL must find inside
IMAGE_SUFFIXES: dict[str, frozenset[str]] = {
    ".jpg": frozenset({"JPEG", "MPO"}),
    ".jpeg": frozenset({"JPEG", "MPO"}),
    ".png": frozenset({"PNG"}),
    ".webp": frozenset({"WEBP"}),
    ".bmp": frozenset({"BMP"}),
    ".gif": frozenset({"GIF"}),
    ".tif": frozenset({"TIFF"}),
    ".tiff": frozenset({"TIFF"}),
}
_SUFFIX_FOR_FORMAT = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "GIF": ".gif",
                      "TIFF": ".tif"}
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif"})
DEFAULT_FOLDER_FPS = 24.0
"""Frame rate given to a folder of frames when the caller names none."""

Source = str | os.PathLike[str] | OpenedFile
"""A path (the store's own files), or a person's file already opened and checked (:func:`open_media`), which is
then read only through its descriptor."""
OpenFile = Callable[[Path], AbstractContextManager[OpenedFile]]
"""How a person's file is opened: :func:`vitron_agent.paths.open_checked` with the allowed folders."""


class MediaError(ValueError):
    """A file that cannot be used as media; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class MediaLimits:
    """Bounds checked before and during decoding. Raise them deliberately for unusual media."""

    max_image_bytes: int = 200 * 2**20
    max_video_bytes: int = 2 * 2**30
    max_pixels: int = 50_000_000
    """per image or per frame; PIL's own bomb warning starts near 89 M"""
    max_side: int = 16_384
    max_aspect: float = 50.0
    max_frames: int = 2_000
    max_decoded_bytes: int = 4 * 2**30
    """the whole decoded video, frames x height x width x 3"""
    max_text_bytes: int = 8 * 2**20
    """a PNG's text chunks (tEXt, zTXt, iTXt) together, as stored; Pillow also caps what they unpack to"""


DEFAULT_LIMITS = MediaLimits()


@dataclass(frozen=True, eq=False)
class Video:
    """Decoded video: ``frames`` is ``(count, height, width, 3)`` uint8 RGB."""

    frames: np.ndarray
    fps: float

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return (int(self.frames.shape[2]), int(self.frames.shape[1]))

    def frame(self, index: int) -> Image.Image:
        from PIL import Image

        return Image.fromarray(self.frames[index])


def load_image(source: Source, *, limits: MediaLimits = DEFAULT_LIMITS) -> Image.Image:
    """Load an image as RGB, upright (EXIF orientation applied), from a path or an opened file.

    Raises:
        MediaError: missing, empty, too large, wrong extension, not an image, a decompression bomb, absurd
            dimensions, or truncated.
    """
    from PIL import Image, ImageOps

    path, file = _check_file(source, IMAGE_SUFFIXES, "an image", limits.max_image_bytes)
    with warnings.catch_warnings(), ExitStack() as stack:
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            file = file or stack.enter_context(open(path, "rb"))
            _check_png_text(path, file, limits)
            with Image.open(file) as image:
                _check_format(path, image.format)
                _check_dimensions(path, image.size, limits)
                image.load()
                upright = ImageOps.exif_transpose(image)
                return _to_rgb(upright)
        except MediaError:
            raise
        except Image.UnidentifiedImageError:
            raise MediaError(path, "is not an image: its contents are no image format we read") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise MediaError(path, f"is a decompression bomb: {error}") from None
        except Exception as error:  # any decoder failure means a broken file, whatever the library calls it
            if "MAX_TEXT" in str(error):  # Pillow's caps on what a PNG's compressed text unpacks to
                raise MediaError(path, "holds compressed text that unpacks past Pillow's limit for text in an "
                                       "image (1 MiB a chunk, 64 MiB in all)") from None
            raise MediaError(path, f"is truncated or corrupt and cannot be decoded ({error})") from None


def load_video(
    source: Source,
    *,
    fps: float | None = None,
    limits: MediaLimits = DEFAULT_LIMITS,
    open_frame: OpenFile | None = None,
) -> Video:
    """Load a whole video, or a folder of frames (sorted by name, numbers in natural order).

    Args:
        source: a video file (mp4, webm, mov, mkv, avi, gif), a path or opened; or a folder of image frames.
        fps: the frame rate for a folder of frames (default 24); for files, overrides the stream's rate.
        open_frame: how each frame of a folder is opened (a person's folder: checked against the allowed
            folders one by one, as a file named directly is); by default they are read by path.

    Raises:
        MediaError: for every unusable input, including zero frames and limits exceeded.
        PathOutsideWorkspace: a frame of the folder (or where its symlink leads) is outside the allowed folders.
    """
    if not isinstance(source, OpenedFile) and Path(source).is_dir():
        return _load_frame_folder(Path(source), fps, limits, open_frame)
    path, file = _check_file(source, VIDEO_SUFFIXES, "a video", limits.max_video_bytes)
    with _video_stream(path, limits, file) as (container, stream):
        frames = _decode_frames(path, container, stream, limits)
        rate = stream.average_rate or stream.guessed_rate
    stream_fps = float(rate) if rate else DEFAULT_FOLDER_FPS
    return Video(frames=frames, fps=float(fps) if fps else stream_fps)


def load_frame(path: str | os.PathLike[str], index: int = 0, *, limits: MediaLimits = DEFAULT_LIMITS) -> Image.Image:
    """One frame of a video file, decoding only up to it (for previews of long clips).

    Raises:
        MediaError: as :func:`load_video`, or when the clip has no frame ``index``.
    """
    path, _ = _check_file(path, VIDEO_SUFFIXES, "a video", limits.max_video_bytes)
    with _video_stream(path, limits) as (container, stream):
        for number, frame in enumerate(container.decode(stream)):
            if number == index:
                return frame.to_image().convert("RGB")
    raise MediaError(path, f"has no frame {index}")


@contextmanager
def open_media(path: Path, open_file: OpenFile) -> Iterator[OpenedFile]:
    """A person's file opened once with ``open_file`` (which checks what it opened); failing to open it is a
    :class:`MediaError` naming the file, and a path outside the allowed folders stays that error."""
    with ExitStack() as stack:
        try:
            opened = stack.enter_context(open_file(path))
        except FileNotFoundError:
            raise MediaError(path, "does not exist") from None
        except IsADirectoryError:
            raise MediaError(path, "is a folder, not a file") from None
        except OSError as error:
            raise MediaError(path, f"cannot be read ({error.strerror or error})") from None
        yield opened


@contextmanager
def _video_stream(path: Path, limits: MediaLimits, file: BinaryIO | None = None) -> Iterator[tuple[Any, Any]]:
    """The open container and its first video stream, dimensions checked; every av failure is a MediaError."""
    import av

    try:
        with av.open(file if file is not None else str(path)) as container:
            if not container.streams.video:
                raise MediaError(path, "has no video stream")
            stream = container.streams.video[0]
            _check_dimensions(path, (stream.codec_context.width, stream.codec_context.height), limits)
            yield container, stream
    except MediaError:
        raise
    except Exception as error:  # av raises its own error family for every container and codec failure
        raise MediaError(path, f"is not a readable video or is corrupt ({error})") from None


def encode_image(image: Image.Image, format: str = "PNG", *, quality: int = 95) -> bytes:
    """Encode an image to PNG (lossless; use for masks) or JPEG (previews) bytes."""
    buffer = io.BytesIO()
    format = format.upper()
    if format in ("JPG", "JPEG"):
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    elif format == "PNG":
        image.save(buffer, format="PNG")
    else:
        raise ValueError(f"format={format!r} is not supported; use 'PNG' or 'JPEG'")
    return buffer.getvalue()


def encode_video(frames: np.ndarray, fps: float, *, crf: int = 18) -> bytes:
    """Encode ``(count, height, width, 3)`` uint8 RGB frames as H.264 mp4 bytes.

    Odd widths or heights are padded by one edge pixel, since H.264's yuv420p needs even sizes.
    """
    import av
    import numpy as np

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (count, height, width, 3) uint8 array, got {frames.shape} "
                         f"{frames.dtype}")
    if not fps or fps <= 0:
        raise ValueError(f"fps={fps!r} must be positive")
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for array in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def save_image(image: Image.Image, path: str | os.PathLike[str], *, quality: int = 95) -> Path:
    """Write an image as PNG or JPEG (chosen by the extension), atomically, never over an existing file."""
    path = Path(path)
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
    if path.suffix.lower() not in formats:
        raise MediaError(path, "can only be saved as .png or .jpg")
    return write_new_file(path, encode_image(image, formats[path.suffix.lower()], quality=quality))


def save_video(frames: np.ndarray, path: str | os.PathLike[str], *, fps: float) -> Path:
    """Write frames as H.264 mp4 at ``fps``, atomically, never over an existing file."""
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise MediaError(path, "can only be saved as .mp4")
    return write_new_file(path, encode_video(frames, fps))


def _check_file(source: Source, suffixes: Collection[str], what: str,
                max_bytes: int) -> tuple[Path, BinaryIO | None]:
    """The path (for messages and the extension) and, for an opened file, its descriptor to read, once the size
    and extension pass."""
    if isinstance(source, OpenedFile):
        path, file, size = source
    else:
        path, file = Path(source), None
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise MediaError(path, "does not exist") from None
        except OSError as error:
            raise MediaError(path, f"cannot be read ({error.strerror or error})") from None
        if path.is_dir():
            raise MediaError(path, f"is a folder, not {what}")
    if size == 0:
        raise MediaError(path, "is empty (0 bytes)")
    if size > max_bytes:
        raise MediaError(path, f"is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
    if path.suffix.lower() not in suffixes:
        known = ", ".join(sorted(suffixes))
        shown = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise MediaError(path, f"has {shown}; {what} must have one of {known}")
    return path, file


def _check_format(path: Path, found: str | None) -> None:
    expected = IMAGE_SUFFIXES[path.suffix.lower()]
    if found not in expected:
        right = _SUFFIX_FOR_FORMAT.get(found or "", "the right extension")
        raise MediaError(path, f"holds {found} data but is named {path.suffix}; rename it to {right}")


def _check_dimensions(path: Path, size: tuple[int, int], limits: MediaLimits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise MediaError(path, f"has absurd dimensions {width} x {height}")
    if width * height > limits.max_pixels:
        raise MediaError(path, f"declares {width} x {height} = {width * height:,} pixels, over the limit of "
                               f"{limits.max_pixels:,} (a decompression bomb, or far larger than needed)")
    if max(width, height) > limits.max_side or max(width, height) / min(width, height) > limits.max_aspect:
        raise MediaError(path, f"has absurd dimensions {width} x {height} (largest side allowed "
                               f"{limits.max_side}, aspect ratio at most {limits.max_aspect:g}:1)")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_PNG_MAX_CHUNKS = 1_000_000


def _check_png_text(path: Path, file: BinaryIO, limits: MediaLimits) -> None:
    """Walk a PNG's chunk headers (seeking past their data, reading nothing else) and refuse one whose text
    chunks together pass the limit, before Pillow reads any of them whole. Other formats pass untouched."""
    import struct

    start = file.tell()
    if file.read(8) != _PNG_SIGNATURE:
        file.seek(start)
        return
    text = 0
    for _ in range(_PNG_MAX_CHUNKS):
        header = file.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        if kind in _PNG_TEXT_CHUNKS:
            text += length
            if text > limits.max_text_bytes:
                raise MediaError(path, f"holds more than {text / 2**20:.1f} MiB of text chunks, over the "
                                       f"{_size(limits.max_text_bytes)} limit for text in an image")
        if kind == b"IEND":
            break
        file.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    else:
        raise MediaError(path, f"has more than {_PNG_MAX_CHUNKS:,} chunks, over the limit")
    file.seek(start)


def _to_rgb(image: Image.Image) -> Image.Image:
    from PIL import Image

    if image.mode == "RGB":
        return image.copy()
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _decode_frames(path: Path, container, stream, limits: MediaLimits) -> np.ndarray:  # noqa: ANN001 (av types)
    """Every frame, into one array allocated once for the counted frames. The count is the stream's own, or,
    where the container declares none (mkv, webm, gif), its packets counted by demuxing (no decoding), and the
    budget is checked on it before anything is decoded. A running total stops the decode the moment it passes
    the frame or byte limit, so a file that lies about its length can't get past them either."""
    import numpy as np

    width, height = stream.codec_context.width, stream.codec_context.height
    declared = stream.frames or 0
    counted = declared or _count_packets(path, container, stream)
    _check_frame_budget(path, counted, width, height, limits)
    frames = np.empty((max(counted, 1), height, width, 3), dtype=np.uint8)
    decoded = 0
    try:
        for frame in container.decode(stream):
            if decoded == len(frames):  # more frames than counted: grow within the limits, or stop here
                _check_frame_budget(path, decoded + 1, width, height, limits)
                frames = _grown(frames, min(2 * decoded, limits.max_frames,
                                            limits.max_decoded_bytes // (width * height * 3)))
            frames[decoded] = frame.to_ndarray(format="rgb24", width=width, height=height)
            decoded += 1
    except MediaError:
        raise
    except Exception as error:
        raise MediaError(path, f"is truncated or corrupt after frame {decoded} ({error})") from None
    if not decoded:
        raise MediaError(path, "has no frames")
    if declared and decoded < 0.9 * declared:
        raise MediaError(path, f"is truncated: it declares {declared} frames but only {decoded} decode")
    return frames[:decoded]


def _count_packets(path: Path, container, stream) -> int:  # noqa: ANN001 (av types)
    """The stream's frames, counted from its packets without decoding them; the container is rewound after."""
    count = 0
    try:
        for packet in container.demux(stream):
            count += packet.size > 0
        container.seek(0, stream=stream)
    except Exception as error:
        raise MediaError(path, f"is not a readable video or is corrupt ({error})") from None
    return count


def _grown(frames: np.ndarray, count: int) -> np.ndarray:
    import numpy as np

    grown = np.empty((max(count, len(frames) + 1), *frames.shape[1:]), dtype=frames.dtype)
    grown[: len(frames)] = frames
    return grown


def _check_frame_budget(path: Path, count: int, width: int, height: int, limits: MediaLimits) -> None:
    if count > limits.max_frames:
        raise MediaError(path, f"has {count} frames, over the limit of {limits.max_frames}")
    decoded = count * width * height * 3
    if decoded > limits.max_decoded_bytes:
        raise MediaError(path, f"would take {_size(decoded)} decoded ({count} frames of {width} x {height}), over "
                               f"the {_size(limits.max_decoded_bytes)} limit")


def _size(size: int) -> str:
    """A size in the unit people read it in: 14.1 GiB, 8.0 MiB, 141.0 KiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 2**10:.1f} KiB"


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _load_frame_folder(folder: Path, fps: float | None, limits: MediaLimits, open_frame: OpenFile | None) -> Video:
    import numpy as np

    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
        key=_natural_key,
    )
    if not files:
        raise MediaError(folder, "is a folder with no image frames in it")

    def frame(file: Path) -> Image.Image:
        if open_frame is None:
            return load_image(file, limits=limits)
        with open_media(file, open_frame) as opened:  # each entry checked, wherever its symlink leads
            return load_image(opened, limits=limits)

    first = frame(files[0])
    _check_frame_budget(folder, len(files), first.width, first.height, limits)
    frames = np.empty((len(files), first.height, first.width, 3), dtype=np.uint8)
    frames[0] = np.asarray(first)
    for index, file in enumerate(files[1:], start=1):
        image = frame(file)
        if image.size != first.size:
            raise MediaError(file, f"is {image.width} x {image.height}, but the first frame ({files[0].name}) is "
                                   f"{first.width} x {first.height}; all frames must have one size")
        frames[index] = np.asarray(image)
    return Video(frames=frames, fps=float(fps) if fps else DEFAULT_FOLDER_FPS)
