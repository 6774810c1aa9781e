"""The LangGraph server's own route for results: ``/artifacts/<token>`` serves one artifact of this workspace, with
its content type, when the token is one this workspace signed and not expired (:mod:`vitron_agent.links`).

``langgraph.json`` declares it (``"http": {"app": "./graphs/routes.py:app"}``), so the server that runs the graph
serves its pictures: a chat client shows them from the links in the AI message. The route reads the store only; a
wrong or expired token, or an artifact that is gone, is a 404 with one sentence.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from vitron_agent.artifacts import ArtifactNotFound
from vitron_agent.links import LinkError
from vitron_agent.workspace import Workspace

__all__ = ["app"]

_workspace: Workspace | None = None


def _opened() -> Workspace:
    global _workspace
    if _workspace is None:  # opened on the first request, as the graph's own module opens it
        _workspace = Workspace(os.environ.get("VITRON_WORKSPACE", "vitron-workspace"))
    return _workspace


def _found(token: str) -> tuple[Path, str]:
    """The file and content type a token names (the store is read here, off the server's event loop)."""
    workspace = _opened()
    found = workspace.store.get(workspace.links.check(token))
    return workspace.store.local_path(found), found.media_type


async def artifact(request: Request) -> Response:
    try:
        path, media_type = await run_in_threadpool(_found, request.path_params["token"])
    except (LinkError, ArtifactNotFound) as error:
        said = str(error) if isinstance(error, LinkError) else "that result is no longer in this workspace"
        return PlainTextResponse(said, status_code=404)
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=86400",
                                                              "X-Content-Type-Options": "nosniff"})


app = Starlette(routes=[Route("/artifacts/{token}", artifact)])
