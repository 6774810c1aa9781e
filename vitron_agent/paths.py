"""Where files may be read, and how they are written: inside allowed roots, atomically, never overwritten.

A planner (an LLM) can name any path. Tools and the artifact store only touch paths that, after ``..`` and every
symlink are resolved, lie inside the workspace or another root the person granted; anything else is refused with
:class:`PathOutsideWorkspace` before a byte is read.

Reading a person's file goes one step further (:func:`open_checked`): the file is opened once, and what was
opened (its real path, through the descriptor) is checked again, so a symlink swapped in after the check can't
lead the read elsewhere; everything after reads that one descriptor.

Usage::

    path = resolve_inside("inputs/photo.jpg", [workspace])   # relative paths are taken from the first root
    with open_checked(path, [workspace]) as opened:          # decode and copy from opened.file
        ...
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

__all__ = [
    "TEMPORARY_PREFIX",
    "OpenedFile",
    "PathOutsideWorkspace",
    "open_checked",
    "publish",
    "refuse_broad_roots",
    "resolve_inside",
    "stage_file",
    "write_new_file",
]


class PathOutsideWorkspace(ValueError):
    """A path that resolves outside every allowed root (through ``..`` or a symlink), or is not a path at all."""


def resolve_inside(path: str | os.PathLike[str], roots: Sequence[Path], *, base: Path | None = None) -> Path:
    """Resolve ``path`` (following symlinks) and check it lies inside one of ``roots``.

    Args:
        path: absolute, or relative to ``base``.
        roots: the allowed folders; the first is the workspace.
        base: where relative paths start; the first root unless given (a person's paths start at the
            current folder, a planner's at the workspace).

    Returns:
        The resolved absolute path (it need not exist yet).

    Raises:
        PathOutsideWorkspace: when the resolved path is outside every root, or the path is malformed.
    """
    if not roots:
        raise PathOutsideWorkspace("no allowed folders are configured, so no path can be used")
    text = os.fspath(path)
    if not text or "\x00" in text:
        raise PathOutsideWorkspace(f"{text!r} is not a usable path")
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = (base if base is not None else roots[0]) / candidate
    resolved = _resolve(candidate, text)
    for root in roots:
        if resolved.is_relative_to(root.resolve()):
            return resolved
    raise _outside(text)


def _resolve(candidate: Path, text: str) -> Path:
    # Python 3.11's realpath raises when a part of the path is swapped between its lstat and its readlink (seen
    # as EINVAL in CI with a path flipping between a file and a symlink); a path that changes under the check
    # gets a sentence, and nothing is opened
    for _ in range(3):
        try:
            return candidate.resolve()
        except OSError:
            continue
    raise PathOutsideWorkspace(f"{text} kept changing while it was being checked; try again once it stays put")


def _outside(text: str) -> PathOutsideWorkspace:
    # nothing about the path itself (where it leads, whether it exists, its size): a caller probing the machine
    # learns only that it is not allowed
    return PathOutsideWorkspace(f"{text} is outside the allowed folders; copy the file into the workspace or into "
                                "a folder allowed for imports")


class OpenedFile(NamedTuple):
    """A file opened once and checked: read it (decode it, copy it) only through ``file``."""

    path: Path
    """its real path, as the open descriptor says"""
    file: BinaryIO
    size: int


@contextmanager
def open_checked(path: Path, roots: Sequence[Path]) -> Iterator[OpenedFile]:
    """Open a regular file inside ``roots`` for reading, and check the file actually opened.

    The path is resolved and checked first (nothing outside is opened, so nothing is learnt about it); it is then
    opened without following a symlink in its last part, and the descriptor's own real path is checked against
    the roots again, so a folder or file swapped for a symlink between the check and the open is refused.

    Raises:
        PathOutsideWorkspace: the path, or what was opened, lies outside every root.
        OSError: it can't be opened, or is not a regular file (a folder, a device, a pipe).
    """
    resolved = resolve_inside(path, roots)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(resolved, flags)  # non-blocking: a pipe swapped in can't hang the open
    except OSError as error:
        if error.errno == errno.ELOOP:  # a symlink swapped in after the check
            raise _outside(os.fspath(path)) from None
        raise
    try:
        real = _opened_path(descriptor, resolved)
        if not any(real.is_relative_to(root.resolve()) for root in roots):
            raise _outside(os.fspath(path))
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "is not a regular file", os.fspath(path))
        file = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with file:
        yield OpenedFile(real, file, info.st_size)


def _opened_path(descriptor: int, resolved: Path) -> Path:
    """The real path of an open descriptor (Linux's ``/proc/self/fd``); elsewhere the checked path, once the
    descriptor is shown to be that very file (same device and inode)."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{descriptor}"))
    except OSError:
        opened, checked = os.fstat(descriptor), os.stat(resolved, follow_symlinks=False)
        if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
            raise _outside(os.fspath(resolved)) from None
        return resolved


def refuse_broad_roots(roots: Iterable[str | os.PathLike[str]]) -> tuple[Path, ...]:
    """The roots, resolved; a root that would open the whole machine or the whole home folder (``/``, the home
    folder, or a folder above it) is refused.

    Raises:
        ValueError: naming the root, and what to give instead.
    """
    home = Path.home().resolve()
    checked = []
    for root in roots:
        resolved = Path(root).expanduser().resolve()
        if resolved == Path(resolved.anchor) or home.is_relative_to(resolved):
            raise ValueError(f"{root} can't be an import root: it would let any file under it be read; name the "
                             "folder that holds your media")
        checked.append(resolved)
    return tuple(checked)


def write_new_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, refusing to replace an existing file.

    Raises:
        FileExistsError: ``path`` already exists; nothing was written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not publish(stage_file(path.parent, [data]), path):
        raise FileExistsError(f"{path} already exists; it was left as it was")
    return path


def stage_file(folder: Path, chunks: Iterable[bytes]) -> Path:
    """Write ``chunks`` to a new temporary file in ``folder``, flushed to disk; :func:`publish` names it.

    Temporary names start with :data:`TEMPORARY_PREFIX`, so a reader never mistakes a half-written file for a
    finished one, and a crash leaves only a temporary file behind.
    """
    import tempfile

    descriptor, name = tempfile.mkstemp(dir=folder, prefix=TEMPORARY_PREFIX)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def publish(staged: Path, path: Path) -> bool:
    """Give a staged file its final name, atomically, unless that name exists; the staged file is removed.

    A hard link fails when the name exists, where a rename would silently replace it.

    Returns:
        True when the file was published, False when ``path`` already existed (and was left untouched).
    """
    try:
        os.link(staged, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(staged)
    return True


TEMPORARY_PREFIX = ".tmp-"
"""Names of files still being written; anything with it is incomplete and never listed."""
