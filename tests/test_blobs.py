"""Artifact files in a shared folder and in S3 (moto's server on 127.0.0.1): read back through the store's
cache, checked by hash, and refused when they don't match; a missing bucket and refused credentials are one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import pytest

from vitron_agent.artifacts import ArtifactNotFound
from vitron_agent.local_services import LocalS3
from vitron_agent.storage import Storage
from vitron_agent.workspace import Workspace

from conftest import PHOTO, ROOT, configure, share

SCRIPT = Path(sys.executable).parent / "vitron-agent"
MOTORCYCLE = ROOT / "examples" / "media" / "motorcycle.jpg"


def bucket_path(workspace: Path, sha: str, suffix: str) -> str:
    """Where an artifact's object is in the workspace's bucket (``bucket/prefix/ab/<sha><suffix>``)."""
    blobs = Storage.of(workspace).blobs
    return f"{blobs.removeprefix('s3://')}/{sha[:2]}/{sha}{suffix}"


def test_a_file_comes_back_from_s3_into_an_empty_cache(tmp_path: Path, postgres: Any, s3: Any) -> None:
    first = Workspace(share(tmp_path / "one", postgres, s3))
    photo = first.store.import_file(PHOTO, grant=True)
    assert fsspec.filesystem("s3").cat(bucket_path(first.root, photo.sha256, ".jpg")) == PHOTO.read_bytes()
    (tmp_path / "two").mkdir()  # another machine: its own, empty cache
    second = Workspace(configure(tmp_path / "two", (first.root / "vitron.toml").read_text()))
    found = second.store.get(photo.id)
    assert found.path.parent.parent == tmp_path / "two" / "artifacts" and not found.path.exists()
    assert second.store.local_path(found).read_bytes() == PHOTO.read_bytes()
    with second.store.open(found) as handle:
        assert handle.read(4) == PHOTO.read_bytes()[:4]
    first.close()
    second.close()


def test_an_object_changed_in_the_bucket_is_refused_never_served(tmp_path: Path, postgres: Any, s3: Any) -> None:
    first = Workspace(share(tmp_path / "one", postgres, s3))
    photo = first.store.import_file(PHOTO, grant=True)
    fsspec.filesystem("s3").pipe(bucket_path(first.root, photo.sha256, ".jpg"), b"not the photo")
    (tmp_path / "two").mkdir()
    second = Workspace(configure(tmp_path / "two", (first.root / "vitron.toml").read_text()))
    with pytest.raises(ArtifactNotFound, match=f"the file of {photo.id} in s3://.* does not match its recorded hash"):
        second.store.local_path(photo.id)
    assert not list((tmp_path / "two" / "artifacts").rglob("*.jpg"))  # nothing half-checked left in the cache
    first.close()
    second.close()


def test_a_damaged_cached_copy_is_fetched_again(tmp_path: Path, postgres: Any, s3: Any) -> None:
    opened = Workspace(share(tmp_path / "one", postgres, s3))
    photo = opened.store.import_file(PHOTO, grant=True)
    opened.close()
    photo.path.chmod(0o644)
    photo.path.write_bytes(b"damaged on this disk")
    reopened = Workspace(tmp_path / "one")
    assert reopened.store.local_path(photo.id).read_bytes() == PHOTO.read_bytes()
    reopened.close()


def test_a_changed_file_in_the_workspace_folder_is_refused(workspace: Path) -> None:
    opened = Workspace(workspace)
    photo = opened.store.import_file(PHOTO, grant=True)
    opened.close()
    photo.path.chmod(0o644)
    photo.path.write_bytes(b"changed")
    reopened = Workspace(workspace)
    with pytest.raises(ArtifactNotFound, match="does not match its recorded hash .* it is refused, not served"):
        reopened.store.local_path(photo.id)
    reopened.close()


def test_a_shared_folder_holds_the_files(workspace: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared-files"
    configure(workspace, f'[storage]\nblobs = "{shared}"\n')
    opened = Workspace(workspace)
    photo = opened.store.import_file(PHOTO, grant=True)
    assert photo.path == shared / photo.sha256[:2] / f"{photo.sha256}.jpg" and photo.path.is_file()
    assert opened.store.local_path(photo) == photo.path and not (workspace / "artifacts" / photo.sha256[:2]).exists()


def run(workspace: Path, **environment: str) -> str:
    result = subprocess.run([str(SCRIPT), "run", "segment the motorcycle", str(MOTORCYCLE), "--yes",
                             "--workspace", str(workspace)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            check=False, env={**os.environ, "VITRON_SEGMENTATION_BACKEND": "classic", **environment})
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, (result.returncode, lines)
    assert "Traceback" not in lines[0] and "Error" not in lines[0]
    return lines[0]


def test_a_missing_bucket_is_one_line(workspace: Path, s3: Any) -> None:
    said = run(workspace, VITRON_BLOBS_URL="s3://no-such-bucket/vitron")
    assert "the bucket no-such-bucket of the storage blobs s3://no-such-bucket/vitron does not exist" in said


def test_refused_credentials_are_one_line(workspace: Path) -> None:
    with LocalS3(credentials_checked=True) as strict:
        said = run(workspace, VITRON_BLOBS_URL="s3://vitron/files", **strict.environment())
    assert said.startswith("error: the object store refused our credentials for s3://vitron/files")
    assert "AWS_ACCESS_KEY_ID" in said
