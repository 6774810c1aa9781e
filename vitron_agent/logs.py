"""Where the package's log goes, so that no traceback reaches a person.

Every logger of the package sits under ``vitron_agent``, which has a ``NullHandler`` from the start (see the
package's ``__init__``): a library that logs a failure with its traceback must not have Python's last-resort
handler print it on someone's terminal. The surfaces that own a process (the CLI's commands, the web server)
call :func:`to_workspace`: warnings and failures, tracebacks included, go to the workspace's own
``vitron-agent.log``; ``--verbose`` shows them on the terminal as well; the web server's console gets one line
per failure.

Usage::

    path = to_workspace(workspace.root, verbose=False, console="lines")
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Literal

__all__ = ["LOG_FILE", "OneLine", "to_workspace"]

LOG_FILE = "vitron-agent.log"
_PACKAGE = logging.getLogger("vitron_agent")
_OURS = "_vitron_agent_handler"


class OneLine(logging.Formatter):
    """A record as one line, without its traceback (that is in the log file)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().splitlines()[0] if record.getMessage() else ""
        if record.exc_info and record.exc_info[1] is not None:
            reason = str(record.exc_info[1]).strip().splitlines()
            message = f"{message}: {reason[0]}" if reason else message
        return f"{record.levelname.lower()}: {message} (details in {LOG_FILE})"

    def formatException(self, ei: object) -> str:  # noqa: N802 (logging's name)
        return ""


def to_workspace(root: str | Path, *, verbose: bool = False,
                 console: Literal["none", "lines"] = "none") -> Path | None:
    """Send the package's warnings and failures to ``root/vitron-agent.log`` (tracebacks included), replacing
    what an earlier call set up in this process.

    Args:
        root: the workspace folder; a read-only one gets no file (None is returned).
        verbose: show every record, tracebacks included, on standard error too.
        console: ``"lines"``: one line per failure on standard error (a server's console).

    Returns:
        the log file's path, or None when none could be opened.
    """
    for handler in [h for h in _PACKAGE.handlers if getattr(h, _OURS, False)]:
        _PACKAGE.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = []
    path: Path | None = Path(root) / LOG_FILE
    try:
        handlers.append(logging.FileHandler(path, encoding="utf-8", delay=False))
        handlers[-1].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    except OSError:  # a read-only or full disk: the terminal still says what happened, in sentences
        path = None
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
        handlers[-1].setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    elif console == "lines":
        handlers.append(logging.StreamHandler(sys.stderr))
        handlers[-1].setFormatter(OneLine())
    for handler in handlers:
        setattr(handler, _OURS, True)
        handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
        _PACKAGE.addHandler(handler)
    _PACKAGE.setLevel(logging.DEBUG if verbose else logging.WARNING)
    return path
