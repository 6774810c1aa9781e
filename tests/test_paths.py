"""Paths stay inside the allowed roots; files are written whole or not at all, never over another."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vitron_agent.paths import TEMPORARY_PREFIX, PathOutsideWorkspace, resolve_inside, write_new_file


def test_relative_path_inside_the_workspace(workspace: Path) -> None:
    assert resolve_inside("inputs/photo.jpg", [workspace]) == workspace.resolve() / "inputs" / "photo.jpg"


@pytest.mark.parametrize("path", ["../outside.jpg", "inputs/../../outside.jpg", "/etc/passwd", "~/x.jpg"])
def test_paths_that_leave_the_workspace_are_refused(workspace: Path, path: str) -> None:
    with pytest.raises(PathOutsideWorkspace, match="outside the allowed folders"):
        resolve_inside(path, [workspace])


def test_symlink_out_of_the_workspace_is_refused(workspace: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("nope")
    (workspace / "link.txt").symlink_to(secret)
    (workspace / "dir_link").symlink_to(tmp_path)
    for path in ("link.txt", "dir_link/secret.txt"):
        with pytest.raises(PathOutsideWorkspace):
            resolve_inside(path, [workspace])


def test_symlink_within_the_workspace_is_fine(workspace: Path) -> None:
    (workspace / "real.txt").write_text("ok")
    (workspace / "alias.txt").symlink_to(workspace / "real.txt")
    assert resolve_inside("alias.txt", [workspace]) == (workspace / "real.txt").resolve()


def test_second_root_and_base(workspace: Path, tmp_path: Path) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    assert resolve_inside("a.jpg", [workspace, other], base=other) == other.resolve() / "a.jpg"


@pytest.mark.parametrize("path", ["", "a\x00b"])
def test_malformed_paths(workspace: Path, path: str) -> None:
    with pytest.raises(PathOutsideWorkspace, match="not a usable path"):
        resolve_inside(path, [workspace])


def test_write_new_file_never_overwrites(workspace: Path) -> None:
    target = workspace / "out" / "a.bin"
    write_new_file(target, b"first")
    with pytest.raises(FileExistsError):
        write_new_file(target, b"second")
    assert target.read_bytes() == b"first"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(TEMPORARY_PREFIX)]
    assert os.stat(target).st_nlink == 1


def swap_after_the_check(monkeypatch: pytest.MonkeyPatch, swap) -> None:
    """Run ``swap()`` between open_checked's path check and its open: the race, made to happen every time."""
    import vitron_agent.paths as paths

    checked = paths.resolve_inside

    def check_then_swap(*args, **kwargs):
        resolved = checked(*args, **kwargs)
        swap()
        return resolved

    monkeypatch.setattr(paths, "resolve_inside", check_then_swap)


def test_a_file_swapped_for_a_symlink_after_the_check_is_not_opened(workspace: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from vitron_agent.paths import open_checked

    (workspace / "photo.jpg").write_bytes(b"the photo")
    swap_after_the_check(monkeypatch, lambda: (os.remove(workspace / "photo.jpg"),
                                               os.symlink("/etc/passwd", workspace / "photo.jpg")))
    with pytest.raises(PathOutsideWorkspace, match="photo.jpg is outside the allowed folders"):
        with open_checked(workspace / "photo.jpg", [workspace]):
            pass


def test_a_folder_swapped_for_a_symlink_after_the_check_is_caught_by_what_was_opened(
        workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vitron_agent.paths import open_checked

    (workspace / "photos").mkdir()
    (workspace / "photos" / "photo.jpg").write_bytes(b"the photo")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "photo.jpg").write_bytes(b"a secret")
    swap_after_the_check(monkeypatch, lambda: (os.rename(workspace / "photos", workspace / "moved"),
                                               os.symlink(tmp_path / "elsewhere", workspace / "photos")))
    with pytest.raises(PathOutsideWorkspace, match="outside the allowed folders"):
        with open_checked(workspace / "photos" / "photo.jpg", [workspace]):
            pass


def test_what_is_opened_is_read_through_one_descriptor_and_must_be_a_regular_file(workspace: Path) -> None:
    from vitron_agent.paths import open_checked

    (workspace / "photo.jpg").write_bytes(b"the photo")
    with open_checked(workspace / "photo.jpg", [workspace]) as opened:
        os.remove(workspace / "photo.jpg")  # gone by name; the descriptor still reads what was checked
        assert (opened.file.read(), opened.size) == (b"the photo", 9)
        assert opened.path == (workspace / "photo.jpg").resolve()
    os.mkfifo(workspace / "pipe.jpg")  # a pipe would block a plain open forever
    with pytest.raises(OSError, match="is not a regular file"):
        with open_checked(workspace / "pipe.jpg", [workspace]):
            pass
