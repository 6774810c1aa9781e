"""LangGraph's own ``Auth`` for the served graph: who is asking, and what of the server's they may touch.

``langgraph.json`` names this file (``"auth": {"path": ...}``), so ``langgraph dev`` and the LangGraph server run it
on every request:

- **Who.** The logins are the users file named by ``VITRON_USERS`` (``USER:PASS`` lines, the page's ``--users``
  file), read again when it changes. A client sends its login as ``Authorization: Bearer USER:PASS``, as HTTP
  Basic, or as ``x-api-key: USER:PASS`` (what Agent Chat UI and the SDK's ``api_key`` send). Anything else gets
  401 with one sentence. With no users file the server refuses everyone: a served graph runs tools.
- **What.** Threads, runs and crons carry their creator as ``owner`` metadata, and every read, search, update,
  delete and run is filtered to it, so another user's thread is not found. The graph's assistants may be read by
  everyone and changed by no one. The store is scoped to each user's namespace.
- **Artifacts.** Inside a run the graph knows the user (``langgraph_auth_user_id``, which the server sets and
  refuses from clients): a run uses only artifacts made in that user's threads, or imported, and the decision log
  records the user as the one who answered (:mod:`vitron_agent.owners`).
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache
from typing import Any

from langgraph_sdk import Auth

from vitron_agent.logins import USERS_ENV, LoginError, Logins

__all__ = ["auth"]

auth = Auth()

UNKNOWN = ("that login is not known here: send Authorization: Bearer USER:PASS (or HTTP Basic, or x-api-key) with "
           "a login from the server's users file")
NO_USERS = f"this server has no users file ({USERS_ENV} names one), so it lets no one in"


@lru_cache(maxsize=4)
def _logins(path: str, changed: float) -> Logins:
    """The users file, read once per change (``changed``: its modification time)."""
    return Logins.read((), path)


def _credentials(authorization: str | None, key: bytes | str | None) -> tuple[str, str]:
    """``(user, password)`` from the request's Authorization (Bearer or Basic) or x-api-key header."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            value = ""
    elif scheme.lower() != "bearer":
        value = key.decode(errors="replace") if isinstance(key, bytes) else key or ""
    user, _, password = value.strip().partition(":")
    return user, password


@auth.authenticate
async def authenticate(authorization: str | None, headers: dict[bytes, bytes]) -> Auth.types.MinimalUserDict:
    path = os.environ.get(USERS_ENV)
    if not path:
        raise Auth.exceptions.HTTPException(status_code=401, detail=NO_USERS)
    try:
        logins = _logins(path, os.stat(path).st_mtime)
    except (OSError, LoginError) as error:
        raise Auth.exceptions.HTTPException(status_code=401, detail=f"{NO_USERS}: {error}") from None
    user, password = _credentials(authorization, headers.get(b"x-api-key"))
    if not user or not logins.check(user, password):
        raise Auth.exceptions.HTTPException(status_code=401, detail=UNKNOWN)
    return {"identity": user, "is_authenticated": True}


@auth.on
async def owned(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Every thread, run and cron: marked with its creator on the way in, filtered to the asker on the way out."""
    if isinstance(value, dict):
        metadata = value.get("metadata")
        if not isinstance(metadata, dict):
            metadata = value["metadata"] = {}
        metadata["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.assistants.read
async def read_assistants(ctx: Auth.types.AuthContext, value: Any) -> bool:
    return True  # the graph's own assistant: everyone runs it


@auth.on.assistants.search
async def search_assistants(ctx: Auth.types.AuthContext, value: Any) -> bool:
    return True


@auth.on.assistants.create
@auth.on.assistants.update
@auth.on.assistants.delete
async def change_assistants(ctx: Auth.types.AuthContext, value: Any) -> bool:
    return False


@auth.on.store
async def own_namespace(ctx: Auth.types.AuthContext, value: Any) -> None:
    namespace = tuple(value.get("namespace") or ())
    if not namespace or namespace[0] != ctx.user.identity:
        value["namespace"] = (ctx.user.identity, *namespace)
