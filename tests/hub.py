"""A small stand-in for the Hugging Face Hub, served on 127.0.0.1, so ``huggingface_hub``'s real client code runs
in the tests (reached through ``HF_ENDPOINT``; nothing of the client is mocked).

It serves model repos held as local folders, through the four routes the client's downloads use: repo info
(``/api/models/{repo}/revision/{rev}``), the recursive tree listing (``/api/models/{repo}/tree/{rev}``), and
``HEAD`` / ``GET`` of ``/{repo}/resolve/{rev}/{path}`` (with ``Range`` for resumed downloads). Every file is
served as an LFS file whose ETag is its SHA-256, as the Hub does for weights.

Faults, each chosen per repo: ``Hub.broken`` repos answer 500 to everything (with ``Retry-After: 0``, so the
client's five retries take seconds, not half a minute); ``Hub.cut`` repos send half of each
weights file's bytes (``.safetensors``, ``.bin``, ``.pt``) and then close the connection. Unknown repos answer
404 with the Hub's ``X-Error-Code: RepoNotFound``.

Usage::

    with Hub() as hub:
        hub.add("tiny/sd", folder)              # the folder's files become the repo's
        os.environ["HF_ENDPOINT"] = hub.url
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["Hub"]

_WEIGHTS = (".safetensors", ".bin", ".pt")


@dataclass
class _Repo:
    files: dict[str, Path]
    commit: str
    sha256: dict[str, str] = field(default_factory=dict)


class Hub:
    """The stand-in hub: ``add`` repos, read ``url``, see ``requests``; a context manager that serves while
    open."""

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.broken: set[str] = set()
        self.cut: set[str] = set()
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, repo_id: str, folder: Path) -> None:
        """Serve every file under ``folder`` as repo ``repo_id`` (its commit is a hash of the contents)."""
        files = {path.relative_to(folder).as_posix(): path for path in sorted(folder.rglob("*")) if path.is_file()}
        sha256 = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()}
        commit = hashlib.sha1(json.dumps(sha256, sort_keys=True).encode()).hexdigest()
        self.repos[repo_id] = _Repo(files, commit, sha256)

    def __enter__(self) -> Hub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet: the tests read hub.requests
                return None

            def do_HEAD(self) -> None:
                self._answer(send_body=False)

            def do_GET(self) -> None:
                self._answer(send_body=True)

            def _answer(self, *, send_body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                if path.startswith("/api/models/"):
                    repo_id, kind, _ = _split_repo(path[len("/api/models/"):])
                    repo = self._repo(repo_id)
                    if repo is None:
                        return
                    if kind == "revision":
                        siblings = [{"rfilename": name} for name in repo.files]
                        return self._json({"id": repo_id, "modelId": repo_id, "sha": repo.commit,
                                           "siblings": siblings, "private": False})
                    if kind == "tree":
                        return self._json([self._entry(repo, name) for name in repo.files])
                    return self._error(404, "EntryNotFound")
                repo_id, kind, rest = _split_repo(path.lstrip("/"))
                repo = self._repo(repo_id)
                if repo is None:
                    return
                if kind != "resolve":
                    return self._error(404, "EntryNotFound")
                _, _, name = rest.partition("/")
                if name not in repo.files:
                    return self._error(404, "EntryNotFound")
                self._file(repo_id, repo, name, send_body)

            def _repo(self, repo_id: str) -> _Repo | None:
                if repo_id in hub.broken:
                    self._error(500, None)
                    return None
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(404, "RepoNotFound")
                return repo

            def _entry(self, repo: _Repo, name: str) -> dict[str, object]:
                size = repo.files[name].stat().st_size
                oid = hashlib.sha1(repo.files[name].read_bytes()).hexdigest()
                return {"type": "file", "path": name, "size": size, "oid": oid,
                        "lfs": {"oid": repo.sha256[name], "size": size, "pointerSize": 134}}

            def _file(self, repo_id: str, repo: _Repo, name: str, send_body: bool) -> None:
                data = repo.files[name].read_bytes()
                start = 0
                wanted = self.headers.get("Range", "")
                if wanted.startswith("bytes=") and wanted[6:].split("-")[0].isdigit():
                    start = min(int(wanted[6:].split("-")[0]), len(data))
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("ETag", f'"{repo.sha256[name]}"')
                self.send_header("X-Repo-Commit", repo.commit)
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("X-Linked-Etag", f'"{repo.sha256[name]}"')
                self.end_headers()
                if not send_body:
                    return
                body = data[start:]
                if repo_id in hub.cut and name.endswith(_WEIGHTS):
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            def _json(self, value: object) -> None:
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str | None) -> None:
                body = json.dumps({"error": code or "Internal Error"}).encode()
                self.send_response(status)
                if status >= 500:
                    self.send_header("Retry-After", "0")
                if code:
                    self.send_header("X-Error-Code", code)
                    self.send_header("X-Error-Message", code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        return Handler


def _split_repo(path: str) -> tuple[str, str, str]:
    """``org/name/kind/rest`` -> (``org/name``, kind, rest)."""
    parts = path.split("/", 3)
    parts += [""] * (4 - len(parts))
    return f"{parts[0]}/{parts[1]}", parts[2], parts[3]
