"""PostgreSQL as the workspace's database (``[storage] database``): the decision log, the artifact index and
LangGraph's checkpoints, shared by every process that names the same URL.

One connection pool per open workspace serves all three: LangGraph's ``PostgresSaver`` takes connections from it
as it does from any pool, and the log and the index run their statements through :class:`PostgresDatabase`,
which speaks the same small interface as the SQLite files (:class:`~vitron_agent.database.SqliteDatabase`), so
their SQL is written once. The pool checks a connection before lending it, so a server that went away and came
back is used again without restarting anything (a connection is checked when it has been idle a while; one used
moments ago is lent as it is, which saves a round trip on nearly every statement).

The schema is versioned (``vitron_schema``) and migrated on first use under an advisory lock, so processes that
start together don't race; a database set up by a newer vitron-agent is refused rather than misread.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from vitron_agent.storage import StorageUnavailable, first_line, needs_server_extra, redacted

__all__ = ["SCHEMA_VERSION", "PostgresDatabase", "open_postgres", "trouble"]

SCHEMA_VERSION = 3
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE artifacts (
               seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               id         TEXT NOT NULL UNIQUE,
               kind       TEXT NOT NULL,
               sha256     TEXT NOT NULL,
               suffix     TEXT NOT NULL,
               media_type TEXT NOT NULL,
               size       BIGINT NOT NULL,
               call       TEXT,
               seed       BIGINT,
               model_id   TEXT,
               created    TEXT NOT NULL,
               meta       TEXT NOT NULL)""",
        """CREATE TABLE parents (
               child    TEXT NOT NULL REFERENCES artifacts(id),
               position INTEGER NOT NULL,
               parent   TEXT NOT NULL REFERENCES artifacts(id),
               PRIMARY KEY (child, position))""",
        "CREATE TABLE unfinished (id TEXT PRIMARY KEY REFERENCES artifacts(id), run TEXT NOT NULL, outcome TEXT NOT NULL)",
        "CREATE TABLE choices (id TEXT PRIMARY KEY REFERENCES artifacts(id), chosen TEXT NOT NULL)",
        "CREATE INDEX artifacts_by_kind ON artifacts(kind, seq)",
        "CREATE INDEX artifacts_by_run ON artifacts(((call::jsonb) ->> 'run'))",
        "CREATE INDEX parents_by_parent ON parents(parent)",
        """CREATE TABLE decisions (
               seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               id         TEXT NOT NULL UNIQUE,
               thread_id  TEXT NOT NULL,
               created    TEXT NOT NULL,
               decision   TEXT NOT NULL,
               outcome    TEXT,
               artifacts  TEXT,
               message    TEXT,
               finished   TEXT,
               claimed_by TEXT,
               claimed_at TEXT)""",
        "CREATE INDEX decisions_by_thread ON decisions(thread_id, seq)",
    ),
    2: (  # leases on claims, and the one answer each showing of a decision takes
        "ALTER TABLE decisions ADD COLUMN lease_until TEXT",
        """CREATE TABLE answers (
               key       TEXT PRIMARY KEY,
               thread_id TEXT NOT NULL,
               answer    TEXT NOT NULL,
               by        TEXT NOT NULL,
               answered  TEXT NOT NULL)""",
    ),
    3: (  # who each thread belongs to (vitron_agent.owners)
        """CREATE TABLE owners (
               thread_id TEXT PRIMARY KEY,
               owner     TEXT NOT NULL,
               shared    INTEGER NOT NULL DEFAULT 0,
               since     TEXT NOT NULL)""",
    ),
}
"""Each version's statements, applied in order, once, in one transaction per version."""
_MIGRATION_LOCK = 0x7669_7472_6F6E  # "vitron": the advisory lock that serializes set-up across processes
POOL_SIZE = 10
WAIT_S = 10.0
"""How long a statement waits for a connection before the database counts as unreachable."""


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, for the decision log and the artifact index.

    Statements are written as for SQLite (``?`` placeholders); ``writing`` runs them in one transaction,
    ``reading`` on a connection in autocommit. Losing the server turns into :class:`StorageUnavailable`.
    """

    dialect = "postgres"

    def __init__(self, url: str, pool: Any) -> None:
        self.url, self.pool = url, pool

    @contextmanager
    def writing(self) -> Iterator[_Statements]:
        with self._said(), self.pool.connection() as connection, connection.transaction():
            yield _Statements(connection)

    @contextmanager
    def reading(self) -> Iterator[_Statements]:
        with self._said(), self.pool.connection() as connection:
            yield _Statements(connection)

    def checkpointer(self) -> Any:
        """LangGraph's ``PostgresSaver`` on this pool (its tables were set up when the database was opened),
        saying a lost connection as a sentence."""
        from vitron_agent.postgres_saver import SaidPostgresSaver

        return SaidPostgresSaver(self.pool, self._said)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _said(self) -> Iterator[None]:
        try:
            yield
        except Exception as error:
            said = trouble(error, self.url)
            if said is None:
                raise
            raise StorageUnavailable(said) from None


class _Statements:
    """A connection's statements in SQLite's style: ``?`` placeholders, rows as tuples."""

    def __init__(self, connection: Any) -> None:
        from psycopg.rows import tuple_row

        self._cursor = connection.cursor(row_factory=tuple_row)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        self._cursor.execute(_placeholders(sql), tuple(parameters))
        return self._cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        rows = [tuple(row) for row in rows]
        if rows:
            self._cursor.executemany(_placeholders(sql), rows)
        return self._cursor


def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def open_postgres(url: str) -> PostgresDatabase:
    """Connect to the database at ``url``, migrate its schema (and LangGraph's) if it is behind, and open a pool.

    Raises:
        StorageUnavailable: the server can't be reached or refuses us, the schema is from a newer vitron-agent,
            or the server extra is not installed; one sentence, naming the URL without its password.
    """
    try:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError:
        raise needs_server_extra(f"the storage database {redacted(url)}", "psycopg") from None
    # the pool logs each failed reconnection; a deployment's own logging still gets them, a person's terminal not
    logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=int(WAIT_S)) as connection:
            _take_migration_lock(connection)
            _migrate(connection, url)
            pool = ConnectionPool(url, min_size=1, max_size=POOL_SIZE, timeout=WAIT_S, open=True,
                                  check=_check_if_idle, reset=_stamp_use, name="vitron-agent",
                                  kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
            database = PostgresDatabase(url, pool)
            try:
                database.checkpointer().setup()  # LangGraph's own tables, under the same lock
            except BaseException:
                pool.close()
                raise
            connection.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
            return database
    except psycopg.OperationalError as error:
        raise StorageUnavailable(trouble(error, url, starting=True) or _reason(error)) from None
    except psycopg.Error as error:
        raise StorageUnavailable(f"the database at {redacted(url)} can't be set up: {_reason(error)}") from None


_LAST_USED: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
IDLE_CHECK_S = 2.0
"""A pooled connection unused for longer is checked (one round trip) before it is lent: one whose server went
away and came back is replaced, not handed out broken. One used moments ago is lent as it is."""


def _stamp_use(connection: Any) -> None:
    _LAST_USED[connection] = time.monotonic()


def _check_if_idle(connection: Any) -> None:
    from psycopg_pool import ConnectionPool

    if time.monotonic() - _LAST_USED.get(connection, 0.0) > IDLE_CHECK_S:
        ConnectionPool.check_connection(connection)


def _take_migration_lock(connection: Any) -> None:
    """Wait for the set-up lock by asking again, never inside one long statement: LangGraph's set-up builds its
    indexes ``CONCURRENTLY``, which waits for every open statement, so a process blocked in ``pg_advisory_lock``
    would hold up the very set-up it waits for."""
    deadline = time.monotonic() + 120
    while not connection.execute("SELECT pg_try_advisory_lock(%s)", (_MIGRATION_LOCK,)).fetchone()[0]:
        if time.monotonic() > deadline:
            raise StorageUnavailable("another process has been setting up the database for two minutes; try again")
        time.sleep(0.05)


def _migrate(connection: Any, url: str) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, one transaction per version; refuse a newer one."""
    connection.execute("CREATE TABLE IF NOT EXISTS vitron_schema (version INTEGER PRIMARY KEY, "
                       "applied TIMESTAMPTZ NOT NULL DEFAULT now())")
    current = connection.execute("SELECT coalesce(max(version), 0) FROM vitron_schema").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise StorageUnavailable(
            f"the database at {redacted(url)} was set up by a newer vitron-agent (schema {current}; this one "
            f"knows up to {SCHEMA_VERSION}): upgrade vitron-agent on this machine before using it")
    for version in range(current + 1, SCHEMA_VERSION + 1):
        with connection.transaction():
            for statement in MIGRATIONS[version]:
                connection.execute(statement)
            connection.execute("INSERT INTO vitron_schema (version) VALUES (%s)", (version,))


def trouble(error: BaseException, url: str, *, starting: bool = False) -> str | None:
    """The sentence for an error that means the database can't be used now (unreachable, gone, refused), or None
    for any other error. ``starting``: the workspace is being opened, so nothing was decided yet and the fix is the
    server or the URL."""
    kind = type(error)
    if not kind.__module__.startswith(("psycopg", "psycopg_pool")):
        return None
    import psycopg
    from psycopg_pool import PoolTimeout

    where = f"the database at {redacted(url)}"
    if isinstance(error, PoolTimeout):
        return (f"{where} can't be reached now (no connection within {WAIT_S:.0f} s); what was decided is kept, "
                "and the thread goes on from there when it is back")
    if isinstance(error, psycopg.OperationalError):
        reason = _reason(error)
        if "password authentication failed" in reason or "role" in reason and "does not exist" in reason:
            return f"{where} refused the login ({reason}); check the user and password in the URL"
        if "database" in reason and "does not exist" in reason:
            return f"{where} does not exist on that server; create it first (createdb)"
        if starting:
            return (f"{where} can't be reached ({reason}): start it, or correct [storage] database (or "
                    "VITRON_DATABASE_URL)")
        return (f"{where} can't be reached ({reason}); what was decided is kept, and the thread goes on from "
                "there when it is back")
    if isinstance(error, psycopg.InterfaceError):
        return f"{where} closed the connection; what was decided is kept, try again when it is back"
    return None


def _reason(error: BaseException) -> str:
    """The driver's reason in a few words: its first line, without the connection details before it."""
    first = first_line(error)
    return first.rpartition("failed: ")[2].strip() or first
