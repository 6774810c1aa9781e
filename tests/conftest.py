"""Shared fixtures: the project's own sample media (``examples/media`` and ``tests/data``) and a fresh workspace
per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# No model hub here or in CI: look in the local cache only, at once, instead of retrying the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / "examples" / "media"
"""The README's sample photos and clip."""
TEST_DATA = ROOT / "tests" / "data"
"""What only the tests use: a frame folder, a second clip, one more photo (sources in its README)."""

# Boxes from the media READMEs (x1, y1, x2, y2 in pixels), drawn by eye.
TENNIS_PLAYER = MEDIA / "tennis_player.jpg", (70, 60, 310, 615)
MOTORCYCLE = MEDIA / "motorcycle.jpg", (60, 90, 580, 380)
MOTORBIKE_FRAMES = TEST_DATA / "motorbike_frames"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


PHOTO = MEDIA / "motorcycle.jpg"
"""The motorcycle photo, 640 px wide."""

GRAY = "Sure, I will make it black and white. <module>C</module> <instruction>editing: make it black and white</instruction>"
GRAY_REGION = GRAY + " <region>[21, 32, 203, 133]</region>"


from vitron_agent.testing import SAM2_CONFIG, SAM2_SMALL_SIZE  # noqa: E402  (after HF_HUB_OFFLINE is set)


@pytest.fixture(scope="session")
def tiny_sam2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight SAM 2.1 hiera-tiny at input size 256, saved as a checkpoint the way released ones are
    (``{"model": state_dict}``), so it loads through exactly the user's path."""
    pytest.importorskip("sam2")
    from vitron_agent.testing import build_tiny_sam2

    return build_tiny_sam2(tmp_path_factory.mktemp("weights") / "sam2.1_hiera_tiny_random.pt")


def configure(workspace: Path, text: str) -> Path:
    """Write the workspace's vitron.toml."""
    (workspace / "vitron.toml").write_text(text)
    return workspace


def sam2_settings(checkpoint: Path) -> str:
    return (f'[weights.sam2]\nsource = "{checkpoint}"\nconfig = "{SAM2_CONFIG}"\n'
            f"overrides = {SAM2_SMALL_SIZE!r}\n".replace("'", '"'))


@pytest.fixture(scope="session")
def tiny_diffusion(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random pipelines for every generation and editing tool, saved with ``save_pretrained``."""
    pytest.importorskip("diffusers")
    from vitron_agent.testing import build_tiny_pipelines

    return build_tiny_pipelines(tmp_path_factory.mktemp("diffusion"))


@pytest.fixture(scope="session")
def tiny_vitron(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A random-weight Vitron release (base, LoRA with non-LoRA trainables, two LanguageBind towers)."""
    pytest.importorskip("peft")
    from vitron_agent.testing import build_tiny_vitron_release

    return build_tiny_vitron_release(tmp_path_factory.mktemp("vitron"))


# -- over the whole run: no tool ran without a recorded approval -----------------------------------------------

RUN_OUTCOMES = ("ok", "failed", "cancelled", "interrupted")


def audit_decision_logs(root: Path) -> tuple[int, list[str]]:
    """Every decision log under ``root``: each tool run (an entry with a run's outcome) must be a recorded
    approval, written before the run finished, and claimed by its own run before it ran (the claim is what keeps
    two approvers from running one step twice). Returns the runs checked and the problems found."""
    import sqlite3

    runs, problems = 0, []
    for database in root.rglob("decisions.sqlite"):
        with sqlite3.connect(database) as connection:
            found = audit_rows(str(database), connection.execute(f"SELECT {AUDITED} FROM decisions").fetchall())
        runs, problems = runs + found[0], problems + found[1]
    return runs, problems


AUDITED = "id, created, decision, outcome, finished, claimed_by, claimed_at"
POSTGRES_AUDIT: list[tuple[int, list[str]]] = []
"""What the PostgreSQL server's decision logs held, audited before the server stops (see ``postgres``)."""


def audit_rows(source: str, rows: list[tuple]) -> tuple[int, list[str]]:
    import json

    runs, problems = 0, []
    for decision_id, created, decision, outcome, finished, claimed_by, claimed_at in rows:
        if outcome not in RUN_OUTCOMES or (outcome == "interrupted" and claimed_by is None):
            continue  # a step recovery found approved but never claimed did not run
        runs += 1
        entry = json.loads(decision)
        if entry.get("action") != "approve" or not entry.get("by"):
            problems.append(f"{source}: {decision_id} ran ({outcome}) without an approval: {entry.get('action')}")
        elif not claimed_by or not claimed_at or claimed_at < created:
            problems.append(f"{source}: {decision_id} ran ({outcome}) without its own claim")
        elif finished is not None and finished < created:
            problems.append(f"{source}: {decision_id} finished before its approval was recorded")
    return runs, problems


def audit_postgres(server: Any) -> tuple[int, list[str]]:
    """The decision log of every database on the test PostgreSQL server, audited as the SQLite ones are."""
    import psycopg

    runs, problems = 0, []
    with psycopg.connect(server.url(), autocommit=True) as connection:
        names = [row[0] for row in connection.execute("SELECT datname FROM pg_database WHERE datname LIKE 'vitron_%'")]
    for name in names:
        with psycopg.connect(server.url(name), autocommit=True) as connection:
            if connection.execute("SELECT to_regclass('decisions')").fetchone()[0] is None:
                continue
            found = audit_rows(server.url(name), connection.execute(f"SELECT {AUDITED} FROM decisions").fetchall())
        runs, problems = runs + found[0], problems + found[1]
    return runs, problems


@pytest.fixture(scope="session", autouse=True)
def every_tool_run_was_approved(tmp_path_factory: pytest.TempPathFactory):
    """After the last test: the decision logs of every test's workspaces are audited (docs/reliability.md)."""
    yield
    root = tmp_path_factory.getbasetemp()
    runs, problems = audit_decision_logs(root)
    for shared_runs, shared_problems in POSTGRES_AUDIT:
        runs, problems = runs + shared_runs, problems + shared_problems
    (root / "approval-audit.txt").write_text(f"{runs} tool runs audited ({sum(r for r, _ in POSTGRES_AUDIT)} in "
                                             f"PostgreSQL), {len(problems)} without an approval\n")
    assert not problems, "\n".join(problems[:20])


# -- shared storage: PostgreSQL and S3 on 127.0.0.1, started once per test run, only when a test asks -------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A PostgreSQL server from the pgserver wheel's binaries, on a free port of 127.0.0.1."""
    pytest.importorskip("psycopg")
    from vitron_agent.local_services import LocalPostgres

    with LocalPostgres() as server:
        yield server
        POSTGRES_AUDIT.append(audit_postgres(server))  # before it stops: the run-wide approval audit reads it


@pytest.fixture(scope="session")
def s3() -> Iterator[Any]:
    """moto's S3 server on 127.0.0.1, with the standard AWS settings pointing at it for this run (child
    processes inherit them)."""
    pytest.importorskip("s3fs")
    from vitron_agent.local_services import LocalS3

    with LocalS3() as server:
        saved = {name: os.environ.get(name) for name in server.environment()}
        os.environ.update(server.environment())
        yield server
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def made(workspace: Path) -> Path:
    """The workspace folder, made if missing."""
    workspace.mkdir(parents=True, exist_ok=True)
    return workspace


def share(workspace: Path, postgres: Any, s3: Any) -> Path:
    """Point ``workspace`` at a fresh database and a fresh bucket (its vitron.toml's [storage]); returns it."""
    return configure(made(workspace), f'[storage]\ndatabase = "{postgres.create_database()}"\n'
                                f'blobs = "{s3.create_bucket()}/artifacts"\n')


@pytest.fixture(params=["sqlite", "postgres+s3"])
def storage(request: pytest.FixtureRequest) -> Callable[[Path], Path]:
    """Each test that takes it runs twice: on the workspace's own SQLite files and folder, and on a shared
    PostgreSQL database and S3 bucket. It prepares a workspace folder (made if missing) and returns it."""
    if request.param == "sqlite":
        return made
    postgres, s3 = request.getfixturevalue("postgres"), request.getfixturevalue("s3")
    return lambda workspace: share(workspace, postgres, s3)
