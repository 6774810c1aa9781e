"""The people a server lets in: ``USER:PASS`` pairs from the command line (``--auth``, repeated) or a users file,
one pair per line (blank lines and ``#`` comments skipped). The page and the LangGraph server read the same file,
so a person has one login on both; each thread is the login's that started it (:mod:`vitron_agent.owners`).

Usage::

    logins = Logins.read(["alice:secret"], users_file=Path("users.txt"))
    logins.check("alice", "secret")       # True (compared in constant time)
    logins.pairs                          # [("alice", "secret"), ...], as Gradio's auth= takes them
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LOGIN_LIMIT", "USERS_ENV", "LoginError", "Logins"]

USERS_ENV = "VITRON_USERS"
"""The users file the LangGraph server reads (set it in ``langgraph.json``'s ``env``)."""
LOGIN_LIMIT = 256
"""The longest user name or password taken, in characters."""


class LoginError(ValueError):
    """A login written wrong, or a users file that can't be read; said in one line."""


@dataclass(frozen=True)
class Logins:
    """User names and their passwords."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def read(cls, given: Sequence[str] = (), users_file: str | os.PathLike[str] | None = None) -> Logins:
        """The logins given as ``USER:PASS`` and those in ``users_file``.

        Raises:
            LoginError: a pair not written USER:PASS, a name given twice, or a file that can't be read.
        """
        lines = [(text, "--auth") for text in given]
        if users_file is not None:
            path = Path(users_file).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise LoginError(f"can't read the users file {path}: {error.strerror or 'not UTF-8 text'}") from None
            lines += [(line.strip(), f"{path.name} line {number}") for number, line in enumerate(text.splitlines(), 1)
                      if line.strip() and not line.lstrip().startswith("#")]
        pairs: dict[str, str] = {}
        for line, where in lines:
            user, colon, password = line.partition(":")
            if not colon or not user or not password or max(len(user), len(password)) > LOGIN_LIMIT:
                raise LoginError(f"write each login as USER:PASS, both parts non-empty and at most {LOGIN_LIMIT} "
                                 f"characters ({where})")
            if user in pairs:
                raise LoginError(f"the user {user} is given twice ({where})")
            pairs[user] = password
        return cls(tuple(pairs.items()))

    @property
    def names(self) -> list[str]:
        return [user for user, _ in self.pairs]

    def check(self, user: str, password: str) -> bool:
        """Whether ``user`` logs in with ``password`` (every pair compared, in constant time)."""
        matched = False
        for name, expected in self.pairs:
            matched |= hmac.compare_digest(name.encode(), user.encode()) & \
                hmac.compare_digest(expected.encode(), password.encode())
        return matched

    def __bool__(self) -> bool:
        return bool(self.pairs)
