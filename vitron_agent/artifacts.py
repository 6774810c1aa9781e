"""The artifact store: every input and output as an immutable file with its lineage, in the workspace.

Files are content-addressed (``artifacts/<2 hex>/<sha256><suffix>``, or a shared folder, or object storage with
the folder as its cache: see :mod:`vitron_agent.blobs`), and nothing is ever overwritten. Read them through
:meth:`ArtifactStore.local_path`, which fetches and checks them. Metadata lives in ``artifacts/index.sqlite``
(WAL mode, writes in ``BEGIN IMMEDIATE`` transactions, so several processes can share one workspace), or in the
shared PostgreSQL database of ``[storage] database``: the kind, the parents, the call that produced it, seed,
model id and time.

An artifact's id is a hash of its content *and* provenance (kind, parents, call, seed, model), so adding the
same result of the same call twice (say, a step re-run after a crash) returns the existing artifact, while the
same pixels produced by a different call get their own record.

Files from outside the workspace enter only through :meth:`ArtifactStore.import_file`, which accepts paths inside
the workspace or the import roots the person granted; everything else is :class:`PathOutsideWorkspace`.

Usage::

    store = ArtifactStore("workspace", import_roots=[Path.cwd()])
    photo = store.import_file("photo.jpg")
    mask = store.add(png_bytes, kind="mask", suffix=".png", parents=[photo.id],
                     call={"tool": "segment_image", "args": {...}})
    [a.id for a in store.lineage(mask.id)]   # [photo.id]
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict

from vitron_agent.blobs import BlobDamaged, Blobs
from vitron_agent.database import SqliteDatabase
from vitron_agent.paths import open_checked, resolve_inside

__all__ = ["Artifact", "ArtifactNotFound", "ArtifactStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS artifacts (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    suffix     TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    call       TEXT,
    seed       INTEGER,
    model_id   TEXT,
    created    TEXT NOT NULL,
    meta       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parents (
    child    TEXT NOT NULL REFERENCES artifacts(id),
    position INTEGER NOT NULL,
    parent   TEXT NOT NULL REFERENCES artifacts(id),
    PRIMARY KEY (child, position)
);
CREATE TABLE IF NOT EXISTS unfinished (
    id      TEXT PRIMARY KEY REFERENCES artifacts(id),
    run     TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS choices (
    id     TEXT PRIMARY KEY REFERENCES artifacts(id),
    chosen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_by_kind ON artifacts(kind, seq);
CREATE INDEX IF NOT EXISTS parents_by_parent ON parents(parent);
"""
_COLUMNS = "seq, id, kind, sha256, suffix, media_type, size, call, seed, model_id, created, meta"
_OF_RUN = {"sqlite": "WHERE json_extract(call, '$.run') = ? ORDER BY seq",
           "postgres": "WHERE (call::jsonb) ->> 'run' = ? ORDER BY seq"}
"""What one run wrote (its artifacts' ``call["run"]``), in the order it wrote them."""
_CHUNK = 1 << 20


_KIND_TEXT = {"image": "an image", "masks": "a set of per-frame masks"}


class ArtifactNotFound(LookupError):
    """No artifact with that id in this workspace (or its file is gone or damaged: :class:`BlobDamaged`)."""


class Artifact(BaseModel):
    """One immutable file in the store and where it came from."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    path: Path
    media_type: str
    sha256: str
    size: int
    parents: tuple[str, ...] = ()
    call: dict[str, Any] | None = None
    seed: int | None = None
    model_id: str | None = None
    created: datetime
    meta: dict[str, Any] = {}
    unfinished: str | None = None
    """``failed`` or ``cancelled`` when the run that wrote it stopped before finishing (see
    :meth:`ArtifactStore.set_aside`): kept, for looking at, but never the input of a later call."""
    chosen: bool | None = None
    """for one of several candidates a run made, once the person chose (see :meth:`ArtifactStore.mark_choice`):
    True for the one chosen, False for the others (kept, never in the lineage of what follows); else None"""

    @property
    def kind_text(self) -> str:
        """The kind with its article, for sentences: "an image", "a video", "a mask", "a set of per-frame masks"."""
        return _KIND_TEXT.get(self.kind, f"a {self.kind}")

    def left_unfinished(self) -> str | None:
        """Why this artifact can't be a later call's input (its run stopped before finishing), or None."""
        if self.unfinished is None:
            return None
        return f"{self.id} was left by a {self.unfinished} run; only a finished run's results can be used"

    def brief(self) -> dict[str, Any]:
        """``{"id", "kind", "path"}`` (and ``candidate``, its number, for one of several candidates): how a result
        is handed to scripts, LangChain and MCP callers."""
        brief = {"id": self.id, "kind": self.kind, "path": str(self.path)}
        return {**brief, "candidate": self.meta["candidate"]} if self.meta.get("candidate") else brief


class ArtifactStore:
    """Content-addressed files plus an index of lineage, for one workspace.

    Thread-safe; several processes may open the same workspace at once.

    Args:
        root: the workspace folder.
        import_roots: folders, besides the workspace, that files may be imported from.
        read_only: read an existing index as it is (nothing is created, migrated or cleaned).
        database: the shared database holding the index (:class:`~vitron_agent.postgres.PostgresDatabase`, which
            the caller owns and closes); None keeps it in ``artifacts/index.sqlite``.
        blobs: where the files are (a shared folder, or object storage: see :meth:`Blobs.of`); None keeps them in
            ``artifacts``.
    """

    def __init__(self, root: str | os.PathLike[str], *, import_roots: Sequence[str | os.PathLike[str]] = (),
                 read_only: bool = False, database: Any = None, blobs: Blobs | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.import_roots = (self.root, *(Path(r).expanduser().resolve() for r in import_roots))
        self.blobs = blobs or Blobs(self.root / "artifacts", read_only=read_only)
        self.files = self.blobs.folder
        self._tracks_unfinished = self._tracks_choices = True
        self._owns_db = database is None
        if database is not None:
            self._db = database
        elif read_only:  # an existing index, read as it is
            self._db = SqliteDatabase(self.root / "artifacts" / "index.sqlite", read_only=True)
            tables = self._db.tables()
            self._tracks_unfinished, self._tracks_choices = "unfinished" in tables, "choices" in tables
        else:
            (self.root / "artifacts").mkdir(parents=True, exist_ok=True)  # the index stays here with shared files
            self._db = SqliteDatabase(self.root / "artifacts" / "index.sqlite")
            self._db.connection.execute("PRAGMA foreign_keys = ON")
            with self._db.writing() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)

    def close(self) -> None:
        if self._owns_db:
            self._db.close()

    def __enter__(self) -> ArtifactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- adding --------------------------------------------------------------------------------------------

    def add(
        self,
        data: bytes | Iterable[bytes],
        *,
        kind: str,
        suffix: str,
        parents: Sequence[str] = (),
        call: Mapping[str, Any] | None = None,
        seed: int | None = None,
        model_id: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Artifact:
        """Store ``data`` as a new artifact (or return the identical one already stored).

        Args:
            data: the file's bytes, or an iterable of byte chunks (large files are never held whole).
            kind: what it is to people and tools: "image", "mask", "preview", "video", ...
            suffix: the file extension, such as ".png"; it decides the media type.
            parents: ids of the artifacts it was made from; each must exist.
            call: the call that made it, as JSON-able data (``{"tool": ..., "args": {...}}``).
            seed, model_id: what a reproduction needs.
            meta: small JSON-able facts (width, height, frames, fps).

        Raises:
            ArtifactNotFound: a parent does not exist; nothing was recorded.
            ValueError: an empty kind or a malformed suffix.
        """
        suffix = _checked_suffix(kind, suffix)
        sha, size = self.blobs.put([data] if isinstance(data, bytes) else data, suffix)
        return self.add_stored(sha, size, kind=kind, suffix=suffix, parents=parents, call=call, seed=seed,
                               model_id=model_id, meta=meta)

    def add_stored(self, sha: str, size: int, *, kind: str, suffix: str, parents: Sequence[str] = (),
                   call: Mapping[str, Any] | None = None, seed: int | None = None, model_id: str | None = None,
                   meta: Mapping[str, Any] | None = None) -> Artifact:
        """Record an artifact whose file the store's blobs already hold (a Ray replica uploaded it to the shared
        object store); it gets the id :meth:`add` gives the same file and provenance. Takes :meth:`add`'s
        keyword arguments."""
        suffix = _checked_suffix(kind, suffix)
        parents = tuple(parents)
        call_json = json.dumps(dict(call), sort_keys=True, default=str) if call is not None else None
        identity = json.dumps([sha, suffix, kind, parents, call_json, seed, model_id])
        artifact_id = hashlib.sha256(identity.encode()).hexdigest()[:16]
        media_type = mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream"
        meta_json = json.dumps(dict(meta or {}), sort_keys=True, default=str)
        created = datetime.now(timezone.utc).isoformat()
        with self._db.writing() as db:
            existing = db.execute(f"SELECT {_COLUMNS} FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()
            if existing is not None:
                return self._build([existing], db)[0]
            self._require(db, parents)
            db.execute(  # a process adding the same artifact at this instant wins; its row is the same
                f"INSERT INTO artifacts ({_COLUMNS.removeprefix('seq, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (artifact_id, kind, sha, suffix, media_type, size, call_json, seed, model_id, created, meta_json),
            )
            db.executemany(
                "INSERT INTO parents (child, position, parent) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(artifact_id, i, parent) for i, parent in enumerate(parents)],
            )
            row = db.execute(f"SELECT {_COLUMNS} FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()
            return self._build([row], db)[0]

    def adopt(self, artifact: Artifact, data: Iterable[bytes] | None = None) -> None:
        """Take in an artifact recorded in another store, under its own id (a replica's copy of a call's input):
        its file from ``data``, or, with shared blobs, where it already is. Its parents stay behind: lineage
        lives in the workspace it came from.

        Raises:
            BlobDamaged: ``data`` does not match the artifact's hash.
        """
        suffix = artifact.path.suffix
        if data is not None:
            sha, _ = self.blobs.put(data, suffix)
            if sha != artifact.sha256:
                raise BlobDamaged(f"the copy of {artifact.id} sent here does not match its recorded hash")
        call_json = json.dumps(artifact.call, sort_keys=True, default=str) if artifact.call is not None else None
        with self._db.writing() as db:
            db.execute(
                f"INSERT INTO artifacts ({_COLUMNS.removeprefix('seq, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (artifact.id, artifact.kind, artifact.sha256, suffix, artifact.media_type, artifact.size, call_json,
                 artifact.seed, artifact.model_id, artifact.created.isoformat(),
                 json.dumps(artifact.meta, sort_keys=True, default=str)),
            )

    def add_file(self, path: str | os.PathLike[str], *, kind: str, **provenance: Any) -> Artifact:
        """Store a file that lies inside the workspace (a tool's scratch output), streamed, never loaded whole.

        Takes the same keyword arguments as :meth:`add`; the suffix defaults to the file's.

        Raises:
            PathOutsideWorkspace: the path resolves outside the workspace.
        """
        source = resolve_inside(path, [self.root])
        provenance.setdefault("suffix", source.suffix)
        with open(source, "rb") as handle:
            return self.add(_chunks(handle), kind=kind, **provenance)

    def import_file(self, path: str | os.PathLike[str], *, fps: float | None = None, grant: bool = False) -> Artifact:
        """Bring a person's image or video into the store, after checking it decodes within the media limits.

        A folder of frames is imported as one mp4 video (at ``fps``, default 24).

        Args:
            grant: the person named this path themselves (a command-line argument, the terminal's ``/attach``),
                which grants the folder it lies in; paths from anywhere else must lie in the import roots.

        Raises:
            PathOutsideWorkspace: the path resolves outside the workspace and every import root.
            MediaError: the file is not usable media.
        """
        from vitron_agent import media

        roots = self.import_roots
        if grant:
            roots = (*roots, Path(path).expanduser().resolve().parent)
        source = resolve_inside(path, roots, base=Path.cwd())
        open_file = partial(open_checked, roots=roots)
        if source.is_dir():  # each frame is opened and checked on its own, wherever its symlink leads
            video = media.load_video(source, fps=fps, open_frame=open_file)
            return self.add(media.encode_video(video.frames, video.fps), kind="video", suffix=".mp4",
                            meta={**_video_meta(video), "source": str(source)})
        with media.open_media(source, open_file) as opened:  # decoded and copied from this one descriptor
            suffix = source.suffix.lower()
            if suffix in media.IMAGE_SUFFIXES and suffix != ".gif":
                image = media.load_image(opened)
                kind, meta = "image", {"width": image.width, "height": image.height}
            else:
                kind, meta = "video", _video_meta(media.load_video(opened, fps=fps))
            opened.file.seek(0)
            return self.add(_chunks(opened.file), kind=kind, suffix=source.suffix,
                            meta={**meta, "source": str(source)})

    # -- reading -------------------------------------------------------------------------------------------

    def get(self, artifact_id: str) -> Artifact:
        """The artifact with this id.

        Raises:
            ArtifactNotFound: no such id in this workspace.
        """
        with self._db.reading() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()
            if row is None:
                raise ArtifactNotFound(
                    f"no artifact {artifact_id!r} in the workspace {self.root}; list them to see the ids"
                )
            return self._build([row], db)[0]

    def find(self, artifact_id: str) -> Artifact | None:
        """The artifact with this id, or None: what a call's media is checked against when it is validated (an
        unknown id is left for the tool to report)."""
        try:
            return self.get(artifact_id)
        except ArtifactNotFound:
            return None

    def of_run(self, run: str) -> list[Artifact]:
        """What one run wrote (artifacts whose ``call["run"]`` is ``run``), in the order it wrote them."""
        with self._db.reading() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM artifacts {_OF_RUN[self._db.dialect]}", (run,)).fetchall()
            return self._build(rows, db)

    def set_aside(self, run: str, outcome: str) -> tuple[str, ...]:
        """Mark what a run wrote before it failed or was cancelled (artifacts whose ``call["run"]`` is ``run``) as
        unfinished, so no later call takes them as input. Returns their ids, for the run's entry in the decision
        log."""
        with self._db.writing() as db:
            rows = db.execute(f"SELECT id FROM artifacts {_OF_RUN[self._db.dialect]}", (run,)).fetchall()
            db.executemany("INSERT INTO unfinished (id, run, outcome) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           [(row[0], run, outcome) for row in rows])
        return tuple(row[0] for row in rows)

    def mark_choice(self, chosen: str, candidates: Sequence[str]) -> None:
        """Record the person's choice among a run's ``candidates``: ``chosen`` is marked chosen, the others not
        chosen. A choice already recorded for a candidate stays (the first answer wins)."""
        with self._db.writing() as db:
            db.executemany("INSERT INTO choices (id, chosen) VALUES (?, ?) ON CONFLICT DO NOTHING",
                           [(candidate, "yes" if candidate == chosen else "no") for candidate in candidates])

    def lineage(self, artifact_id: str) -> list[Artifact]:
        """All ancestors of an artifact, oldest first (each appears after its own parents); not the artifact."""
        self.get(artifact_id)
        with self._db.reading() as db:
            rows = db.execute(
                f"""WITH RECURSIVE ancestors(id) AS (
                        SELECT parent FROM parents WHERE child = ?
                        UNION SELECT p.parent FROM parents p JOIN ancestors a ON p.child = a.id)
                    SELECT {_COLUMNS} FROM artifacts WHERE id IN (SELECT id FROM ancestors) ORDER BY seq""",
                (artifact_id,),
            ).fetchall()
            return self._build(rows, db)

    def list(self, kind: str | None = None) -> list[Artifact]:
        """Every artifact, or those of one kind, in the order they were added."""
        with self._db.reading() as db:
            if kind is None:
                rows = db.execute(f"SELECT {_COLUMNS} FROM artifacts ORDER BY seq").fetchall()
            else:
                rows = db.execute(f"SELECT {_COLUMNS} FROM artifacts WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
            return self._build(rows, db)

    def local_path(self, artifact: Artifact | str) -> Path:
        """The artifact's file on this machine, checked against its hash: what tools and surfaces read. With
        object storage it is fetched into the workspace's cache first; ``Artifact.path`` is where it lands.

        Raises:
            ArtifactNotFound: no such artifact, or its file is missing or does not match its hash (refused).
            StorageUnavailable: the object store can't be reached.
        """
        found = artifact if isinstance(artifact, Artifact) else self.get(artifact)
        try:
            return self.blobs.local(found.sha256, found.path.suffix, name=found.id)
        except BlobDamaged as error:
            raise ArtifactNotFound(str(error)) from None

    def local_path_if_any(self, artifact: Artifact | str | None) -> Path | None:
        """:meth:`local_path`, or None when the file can't be had now (missing, damaged, its store unreachable):
        for what only decorates a screen, a thumbnail or a picture, which never stops it."""
        if artifact is None:
            return None
        try:
            return self.local_path(artifact)
        except (LookupError, ValueError):  # ArtifactNotFound; StorageUnavailable
            return None

    def open(self, artifact: Artifact | str) -> BinaryIO:
        """The artifact's bytes for reading (see :meth:`local_path`)."""
        return open(self.local_path(artifact), "rb")

    def safe_path(self, path: str | os.PathLike[str]) -> Path:
        """Resolve a path a planner or tool named; only paths inside the workspace are allowed.

        Raises:
            PathOutsideWorkspace: it resolves outside (through ``..``, an absolute path or a symlink).
        """
        return resolve_inside(path, [self.root])

    # -- internals -----------------------------------------------------------------------------------------

    @staticmethod
    def _require(db: Any, ids: Sequence[str]) -> None:
        for parent in ids:
            if db.execute("SELECT 1 FROM artifacts WHERE id = ?", (parent,)).fetchone() is None:
                raise ArtifactNotFound(f"parent artifact {parent!r} does not exist; add it before its children")

    def _build(self, rows: Sequence[tuple], db: Any) -> list[Artifact]:
        if not rows:
            return []
        ids = [row[1] for row in rows]
        parents: dict[str, list[str]] = {i: [] for i in ids}
        unfinished: dict[str, str] = {}
        chosen: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            for child, parent in db.execute(
                f"SELECT child, parent FROM parents WHERE child IN ({marks}) ORDER BY child, position", batch
            ):
                parents[child].append(parent)
            if self._tracks_unfinished:  # an index written before it tracked them has none (nor choices)
                unfinished.update(db.execute(f"SELECT id, outcome FROM unfinished WHERE id IN ({marks})", batch))
            if self._tracks_choices:
                chosen.update(db.execute(f"SELECT id, chosen FROM choices WHERE id IN ({marks})", batch))
        return [
            Artifact(
                id=row[1],
                kind=row[2],
                path=self.blobs.path(row[3], row[4]),
                sha256=row[3],
                media_type=row[5],
                size=row[6],
                call=json.loads(row[7]) if row[7] else None,
                seed=row[8],
                model_id=row[9],
                created=datetime.fromisoformat(row[10]),
                meta=json.loads(row[11]),
                parents=tuple(parents[row[1]]),
                unfinished=unfinished.get(row[1]),
                chosen={"yes": True, "no": False}.get(chosen.get(row[1], "")),
            )
            for row in rows
        ]


def _checked_suffix(kind: str, suffix: str) -> str:
    """``suffix`` in lower case, once it and ``kind`` are known to be well formed.

    Raises:
        ValueError: an empty kind or a malformed suffix.
    """
    suffix = suffix.lower()
    if not kind or not kind.strip():
        raise ValueError("kind must be a non-empty word such as 'image' or 'mask'")
    if not (suffix.startswith(".") and 1 < len(suffix) <= 10 and suffix[1:].isalnum()):
        raise ValueError(f"suffix={suffix!r} must look like '.png'")
    return suffix


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    """A file's bytes in 1 MiB chunks from where it stands, so a large file is never held whole."""
    return iter(lambda: handle.read(_CHUNK), b"")


def _video_meta(video: Any) -> dict[str, Any]:
    """What an imported video's artifact records about it."""
    return {"width": video.size[0], "height": video.size[1], "frames": len(video), "fps": video.fps}
