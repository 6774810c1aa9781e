"""``langgraph dev`` serving the project's own ``langgraph.json`` (its graph, ``Auth`` and route) on 127.0.0.1, in a
folder of its own: the paths made absolute, the workspace, users file and public address pointed there.

Usage::

    with langgraph_dev(tmp_path, ["ana:secret"]) as (url, workspace):
        client = get_sync_client(url=url, api_key="ana:secret")
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from conftest import ROOT

CLI = Path(sys.executable).parent / "langgraph"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _absolute(spec: str) -> str:
    path, colon, name = spec.partition(":")
    return str((ROOT / path).resolve()) + colon + name


@contextmanager
def langgraph_dev(folder: Path, logins: Sequence[str]) -> Iterator[tuple[str, Path]]:
    config = json.loads((ROOT / "langgraph.json").read_text())
    port, workspace, users = free_port(), folder / "workspace", folder / "users.txt"
    users.write_text("".join(f"{login}\n" for login in logins))
    config["dependencies"] = [str(ROOT)]
    config["graphs"] = {name: _absolute(spec) for name, spec in config["graphs"].items()}
    config["auth"]["path"] = _absolute(config["auth"]["path"])
    config["http"]["app"] = _absolute(config["http"]["app"])
    config["env"] = {**config["env"], "VITRON_WORKSPACE": str(workspace), "VITRON_USERS": str(users),
                     "VITRON_PUBLIC_URL": f"http://127.0.0.1:{port}", "VITRON_SEGMENTATION_BACKEND": "classic",
                     "HF_HUB_OFFLINE": "1"}
    (folder / "langgraph.json").write_text(json.dumps(config))
    env = {**os.environ, "LANGGRAPH_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"}
    server = subprocess.Popen([str(CLI), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port",
                               str(port)], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.time() < deadline, "langgraph dev did not start in 90 s"
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", workspace
    finally:
        server.terminate()
        server.wait(timeout=30)
