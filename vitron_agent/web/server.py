"""Launching the page: checking the address and login, opening the workspace, and telling Gradio which files it
may serve.

- It binds 127.0.0.1 unless told otherwise; any other address needs a login (:func:`check_address`): ``--auth``
  repeated, or a users file. With two or more, each thread is its owner's (see :class:`~.hub.WebHub`).
- Gradio serves only the store's files (``allowed_paths`` is the workspace's ``artifacts`` folder: not its
  databases, not the current folder) and what it made itself; uploads are capped at the hub's limit before they
  reach the store, which checks them against the media limits.
- Nothing leaves the machine: Gradio's analytics are off and the theme uses the system's fonts, not a font host.

Usage::

    hub = open_hub(Path("ws"), "rules", logins=check_address("0.0.0.0", ["ana:pw", "ben:pw2"]))
    server = launch(hub, host="0.0.0.0", port=7860, login=Logins(...), block=False)
    ...
    server.close()
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vitron_agent.logins import LoginError, Logins

__all__ = ["LOCAL_HOSTS", "WebError", "check_address", "launch", "open_hub"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
GRADIO_FOLDERS = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
"""Where each page server's own Gradio folder goes (``GRADIO_TEMP_DIR`` as it was set before any server)."""


class WebError(ValueError):
    """The page can't start as asked (an open address without a login, a malformed login); said in one line."""


def check_address(host: str, auth: str | Sequence[str] | None, users_file: Path | None = None) -> Logins:
    """The logins (``--auth USER:PASS``, repeated, and a users file), after checking that an address other than
    this machine's has one.

    Raises:
        WebError: an open address without a login, a login not written USER:PASS, an unreadable users file.
    """
    given = [auth] if isinstance(auth, str) else list(auth or [])
    try:
        logins = Logins.read(given, users_file)
    except LoginError as error:
        raise WebError(str(error)) from None
    if not logins and not _local(host):
        raise WebError(f"binding {host} lets other machines reach the page, and every approval on it runs tools: "
                       "add --auth USER:PASS (or --users FILE), or keep the default --host 127.0.0.1")
    return logins


def _local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_hub(workspace: Path, planner_spec: str | None, *, policy: Any = "ask", media: Sequence[Path] = (),
             logins: Logins = Logins()) -> Any:
    """The hub for a workspace folder and planner spec (as ``chat`` takes them); ``media`` named on the command
    line are imported now and go with a new tab's first request; with two or more ``logins`` each thread is its
    owner's."""
    from vitron_agent.planners.choose import configured_spec, planner_from_spec
    from vitron_agent.web.hub import WebHub
    from vitron_agent.workspace import Workspace

    opened = Workspace(workspace)  # no import roots: uploads are granted one by one, planners name artifacts
    spec = planner_spec or configured_spec(opened)
    hub = WebHub(opened, planner_from_spec(spec, workspace=opened), policy=policy, logins=logins.names)
    hub.starting = [opened.store.import_file(path, grant=True).id for path in media]
    return hub


def launch(hub: Any, *, host: str = "127.0.0.1", port: int = 7860, login: Logins | tuple[str, str] | None = None,
           block: bool = True, quiet: bool = False) -> Any:
    """Build the page over ``hub`` and serve it; returns the Gradio app (``block=False`` returns at once, and
    ``app.close()`` stops it)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Gradio names the files it keeps by their content, so two servers on one machine would share copies, and one
    # deleting its old uploads (or closing) would take the other's: each server keeps its own folder
    os.environ["GRADIO_TEMP_DIR"] = str(GRADIO_FOLDERS / f"vitron-{os.getpid()}-{port}")
    import gradio as gr

    from vitron_agent.web.page import CSS, build_page

    demo = build_page(hub)
    artifacts = hub.workspace.store.files  # the artifacts folder (or the shared one, or object storage's cache)
    artifacts.mkdir(parents=True, exist_ok=True)
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    demo.queue(default_concurrency_limit=None)
    if isinstance(login, tuple):
        login = Logins((login,))
    demo.launch(server_name=host, server_port=port, auth=login.check if login else None,
                allowed_paths=[str(artifacts)],
                max_file_size=hub.upload_limit, css=CSS, theme=theme, prevent_thread_lock=not block, quiet=quiet,
                show_error=False, ssr_mode=False, inbrowser=False, share=False)
    return demo
