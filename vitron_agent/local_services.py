"""A PostgreSQL server and an S3-compatible object store on 127.0.0.1, started from installed packages: what the
tests and ``benchmarks/load.py`` run the shared storage against, and a way to try a deployment on one machine.

- :class:`LocalPostgres` runs the PostgreSQL binaries of the ``pgserver`` wheel in a temporary folder, on a free
  port of 127.0.0.1 (as an unprivileged user when started by root, which PostgreSQL refuses to run as). Nothing is
  shared with any other server; the folder is removed at :meth:`LocalPostgres.close`.
- :class:`LocalS3` runs moto in server mode (a real HTTP S3 endpoint) on a free port of 127.0.0.1; point
  ``AWS_ENDPOINT_URL`` at it (:meth:`LocalS3.environment`).

Both come with the ``test`` extra (``pgserver``, ``moto[server]``); neither is a production server.

Usage::

    with LocalPostgres() as postgres, LocalS3() as s3:
        os.environ.update(s3.environment())
        url = postgres.create_database("vitron")
        bucket = s3.create_bucket("vitron")     # "s3://vitron"
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

__all__ = ["LocalPostgres", "LocalS3", "free_port"]

_POSTGRES_USER = "vitron"
_SYSTEM_USER = "vitron-postgres"
"""The unprivileged account the server runs as when the caller is root."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalPostgres:
    """A throwaway PostgreSQL server on 127.0.0.1; :meth:`stop` and :meth:`start` again keep its data and port
    (what an outage test needs)."""

    def __init__(self) -> None:
        found = importlib.util.find_spec("pgserver")
        if found is None or not found.submodule_search_locations:
            raise RuntimeError("the pgserver wheel is not installed (it comes with vitron-agent[test])")
        self.bin = Path(next(iter(found.submodule_search_locations))) / "pginstall" / "bin"
        self.folder = Path(tempfile.mkdtemp(prefix="vitron-postgres-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._user = _system_user() if os.geteuid() == 0 else None
        self._process: subprocess.Popen[bytes] | None = None
        started = time.monotonic()
        if self._user is not None:
            self.folder.chmod(0o755)
            os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", _POSTGRES_USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        self.started_in = time.monotonic() - started
        """seconds from nothing to a server taking connections (initdb included)"""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{_POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database (a fresh name unless given); returns its URL."""
        import psycopg

        name = name or f"vitron_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        """Start the server (again) on its folder and port, and wait until it takes connections."""
        options = ["-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port), "-k", "",
                   "-c", "fsync=off", "-c", "max_connections=200"]  # fsync: nothing here kills the server itself
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115  (the server keeps writing to it)
        self._process = subprocess.Popen([str(self.bin / "postgres"), *options], stdout=log, stderr=log,
                                         user=self._user.pw_uid if self._user else None, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {self.folder / 'server.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server at once (PostgreSQL's fast shutdown: clients are disconnected)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            self._process.wait(timeout=60)
        self._process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answers(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url(), connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([str(self.bin / program), *args], check=True, capture_output=True,
                       user=self._user.pw_uid if self._user else None)


class LocalS3:
    """moto's S3 server on 127.0.0.1 in its own process. ``credentials_checked`` makes it refuse every key (no
    IAM user exists), for testing refused credentials."""

    def __init__(self, *, credentials_checked: bool = False) -> None:
        started = time.monotonic()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, **({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if credentials_checked else {})}
        self._process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                          str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         env=environment, start_new_session=True)
        deadline = time.monotonic() + 60
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto's S3 server did not start")
            time.sleep(0.05)
        self.started_in = time.monotonic() - started

    def environment(self) -> dict[str, str]:
        """The standard AWS settings that point any S3 client here."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

    def create_bucket(self, name: str | None = None) -> str:
        """A new bucket (a fresh name unless given); returns ``s3://name``."""
        import fsspec

        name = name or f"vitron-{uuid.uuid4().hex[:12]}"
        filesystem: Any = fsspec.filesystem("s3", skip_instance_cache=True, endpoint_url=self.endpoint,
                                            key="testing", secret="testing")
        filesystem.mkdir(name)
        return f"s3://{name}"

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)

    def __enter__(self) -> LocalS3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                return True
        except OSError:
            return False


def _system_user() -> pwd.struct_passwd:
    """The unprivileged account PostgreSQL runs as under root, created on first use."""
    try:
        return pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SYSTEM_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(_SYSTEM_USER)
