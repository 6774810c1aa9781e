"""The interactive terminal session: type a request or a slash command; review each decision before it runs.

A thin loop over :class:`~vitron_agent.session.Session`: a request goes to ``send``, each decision the graph
stops at is drawn by :mod:`vitron_agent.ui` and answered with one key (``a`` or Enter approves, ``e`` edits an
argument, ``r`` rejects with a correction, ``c`` cancels), and a running tool feeds a progress bar. Ctrl-C while
a tool runs asks it to stop (the session lives on); a second Ctrl-C stops waiting for it, and the cut-off call is
offered again. Every error a person can cause is one line, and the loop goes on.

Usage::

    Terminal(session, Console(), planner="rules").loop()
"""

from __future__ import annotations

import json
import re
import shlex
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from vitron_agent.artifacts import Artifact, ArtifactNotFound
from vitron_agent.calls import Attachment
from vitron_agent.decisions import Decision
from vitron_agent.graphs.review import policy_name, step_view
from vitron_agent.media import MediaError
from vitron_agent.paths import PathOutsideWorkspace
from vitron_agent.regions import Box, RegionError, parse_box
from vitron_agent.session import Session, SessionError, Turn
from vitron_agent.terminal_creative import CREATIVE_COMMANDS, CreativeCommands
from vitron_agent.ui import (
    THUMBNAIL_COLUMNS,
    DECISION_KEYS,
    ProgressView,
    artifacts_table,
    can_show_thumbnails,
    decision_panel,
    history_table,
    plan_table,
    result_view,
    shown_path,
    thumbnail,
)

__all__ = ["COMMANDS", "PERSON_ERRORS", "Terminal", "ctrl_c_cancels", "parse_edit"]

COMMANDS: dict[str, str] = {
    "/help": "this list",
    "/attach PATH": "add an image or video; it goes with your next request",
    "/region x1,y1,x2,y2": "a box in pixels of the latest attachment, for your next request (/region clear)",
    "/artifacts": "what this thread holds: attachments and results, with their paths",
    "/history": "the decisions so far and what came of them",
    "/plan": "the current plan, step by step, and how far it got",
    "/undo [N]": "set the last tool's results aside; with N, return the plan to just before step N ran",
    "/fork [N]": "continue in a new thread from here (or from just before step N); this one stays as it is",
    "/policy ask|step|auto": "ask before every tool that changes something (step: before each step of a plan), or "
                             "run without asking",
    **CREATIVE_COMMANDS,
    "/quit": "leave; the thread is saved and --resume continues it",
}
PERSON_ERRORS = (SessionError, MediaError, PathOutsideWorkspace, RegionError, ArtifactNotFound, ValueError, OSError)
"""Errors a person's input can cause; each is shown as one line and the session goes on."""

_NUMBERS = re.compile(r"\s*-?[0-9.]+(\s*,\s*-?[0-9.]+)+\s*")


class _Quit(Exception):
    """The person asked to leave (``/quit`` or end of input)."""


def parse_edit(text: str) -> dict[str, Any]:
    """``name=value`` as typed after ``e``: the value is JSON when it parses (numbers, lists, null, quoted text),
    four comma-separated numbers become a list (a region), anything else is text.

    Raises:
        ValueError: no ``=``, or no name before it.
    """
    name, equals, raw = text.partition("=")
    if not equals or not name.strip():
        raise ValueError("write the change as name=value, for example target=the red car or region=10,20,200,180")
    raw = raw.strip()
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = [float(part) for part in raw.split(",")] if _NUMBERS.fullmatch(raw) else raw
    return {name.strip(): value}


@contextmanager
def ctrl_c_cancels(session: Session, console: Console) -> Iterator[None]:
    """While a session call runs: the first Ctrl-C asks the running tool to stop (it stops at its next check and
    the session lives on); a second one raises KeyboardInterrupt, to stop waiting for a tool that does not stop."""
    presses = 0

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            raise KeyboardInterrupt
        session.cancel()
        console.print("Cancelling the running tool... (Ctrl-C again to stop waiting for it)")

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread: leave Ctrl-C as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Terminal(CreativeCommands):
    """One person at a terminal, over one session.

    Args:
        session: the session (its thread may already hold a waiting decision; it is shown first).
        console: where everything is drawn.
        attachments: media already imported, sent with the first request.
        region: a box for the first request.
        planner: how the planner is named in the welcome line.
        thumbnails: draw inline thumbnails when the terminal can.
    """

    def __init__(self, session: Session, console: Console, *, attachments: list[Artifact] | None = None,
                 region: Box | None = None, planner: str = "", thumbnails: bool = True) -> None:
        self.session, self.console = session, console
        self.staged: list[Artifact] = list(attachments or [])
        self.region = region
        self.mask: Artifact | None = None
        self.planner = planner
        self.thumbnails = thumbnails and can_show_thumbnails(console)

    # -- the loop ------------------------------------------------------------------------------------------

    def loop(self) -> None:
        """Run until ``/quit`` or end of input."""
        self._welcome()
        try:
            self._follow(self.session.waiting())
            while True:
                line = self._read("you> ")
                if line.startswith("/"):
                    self.command(line)
                elif line:
                    self.request(line)
        except _Quit:
            pass
        if self.session.workspace.read_only:
            return
        self.console.print(
            f"Saved. Continue with: vitron-agent chat --resume {self.session.thread_id} "
            f"--workspace {shown_path(self.session.workspace.root)}"
        )

    def request(self, text: str) -> None:
        """Send a request with whatever is staged; show its decisions and result."""
        turn = self._call(self.session.send, text, attachments=self.staged, region=self.region, mask=self.mask)
        if turn is not None:
            self.staged, self.region, self.mask = [], None, None
            self._follow(turn)

    def command(self, line: str) -> None:
        """Run one slash command; a mistake gets a one-line hint.

        Raises:
            _Quit: for ``/quit``.
        """
        try:
            name, *args = shlex.split(line)
        except ValueError as error:
            self._hint(f"could not read that command ({error})")
            return
        handler: Callable[[list[str]], None] | None = getattr(self, f"_cmd_{name[1:].lower()}", None)
        if handler is None:
            self._hint(f"unknown command {name}; /help lists them")
            return
        try:
            handler(args)
        except PERSON_ERRORS as error:
            self._error(error)

    # -- decisions -----------------------------------------------------------------------------------------

    def _follow(self, turn: Turn | None) -> None:
        """Answer decisions and choices until the turn ends, then show its result."""
        while turn is not None and (turn.pending is not None or turn.choice is not None):
            turn = self._decide(turn.pending) if turn.pending is not None else self._choose(turn)
        if turn is not None:
            self.console.print(result_view(turn.text, turn.artifacts))
            self._show_thumbnail(next((a for a in turn.artifacts if a.kind in ("image", "preview")), None))

    def _decide(self, decision: Decision) -> Turn | None:
        self._show_decision(decision)
        while True:
            line = self._read("decide> ")
            if line.startswith("/"):
                self.command(line)
                continue
            key, _, rest = line.partition(" ")
            key, rest = key.lower(), rest.strip()
            if key in ("", "a", "approve", "y", "yes"):
                turn = self._call(self.session.approve, decision)
            elif key in ("e", "edit"):
                turn = self._edit(rest or self._read("change ([N] name=value)> "), decision)
            elif key in ("d", "drop"):
                if not rest.isdigit():
                    self._hint("say which step to drop: d N")
                    continue
                turn = self._call(self.session.remove_step, int(rest), decision)
            elif key in ("r", "reject"):
                feedback = rest or self._read("what was wrong? ")
                if not feedback:
                    self._hint("a rejection needs a correction for the planner; c cancels without one")
                    continue
                turn = self._call(self.session.reject, feedback, decision)
            elif key in ("c", "cancel"):
                turn = self._call(self.session.cancel_decision, decision)
            else:
                self.console.print(f"Answer with a key: {DECISION_KEYS}")
                continue
            if turn is not None:
                return turn

    def _edit(self, text: str, decision: Decision) -> Turn | None:
        """``name=value`` for the step being asked about, or ``N name=value`` for step N of a plan (of
        ``decision``, the one shown)."""
        number, _, rest = text.strip().partition(" ")
        try:
            if number.isdigit():
                return self._call(self.session.edit_step, int(number), decision, **parse_edit(rest))
            return self._call(self.session.edit, decision, **parse_edit(text))
        except ValueError as error:
            self._hint(str(error))
            return None

    def _show_decision(self, decision: Decision) -> None:
        preview = self._artifact(decision.current.preview)
        self.console.print(decision_panel(decision, preview=self.session.store.local_path_if_any(preview),
                                          picture=self._picture(preview)))

    # -- slash commands ------------------------------------------------------------------------------------

    def _cmd_help(self, args: list[str]) -> None:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for usage, what in COMMANDS.items():
            table.add_row(Text(usage), Text(what))
        self.console.print(table)
        self.console.print(f"At a decision: {DECISION_KEYS}. Ctrl-C stops a running tool.")

    def _cmd_attach(self, args: list[str]) -> None:
        if len(args) != 1:
            self._hint("usage: /attach PATH (quote a path with spaces)")
            return
        artifact = self.session.store.import_file(args[0], grant=True)
        self.staged.append(artifact)
        size = f"{artifact.meta.get('width')}x{artifact.meta.get('height')}"
        self._say(f"Attached {artifact.kind} {Path(args[0]).name} ({size}) as {artifact.id}; "
                  "it goes with your next request.")

    def _cmd_region(self, args: list[str]) -> None:
        if not args:
            self._say(f"Region for the next request: {self._region_text()}")
            return
        if args == ["clear"]:
            self.region = None
            self.console.print("Region cleared.")
            return
        box = parse_box(" ".join(args))
        latest = self._latest_attachment()
        if latest is not None:
            box, note = box.clipped(latest.size)
            if note:
                self._say(note)
        self.region = box
        self._say(f"Region for the next request: {self._region_text()}")

    def _cmd_artifacts(self, args: list[str]) -> None:
        artifacts = self.session.artifacts()
        if artifacts:
            self.console.print(artifacts_table(artifacts))
        else:
            self.console.print("No artifacts in this thread yet.")
        if self.staged:
            self._say("Waiting to go with your next request: " + ", ".join(a.id for a in self.staged))

    def _cmd_history(self, args: list[str]) -> None:
        entries = self.session.history()
        self.console.print(history_table(entries) if entries else "No decisions in this thread yet.")

    def _cmd_plan(self, args: list[str]) -> None:
        plan = self.session.plan
        if plan is None:
            self.console.print("No plan in this thread yet.")
            return
        pending = self.session.pending
        steps = pending.steps if pending else [step_view(i + 1, step, {}) for i, step in enumerate(plan.steps)]
        self.console.print(plan_table(steps, pending.asking if pending else ()))

    def _cmd_undo(self, args: list[str]) -> None:
        if not args:
            self._say(self.session.undo())
            return
        if len(args) != 1 or not args[0].isdigit():
            self._hint("usage: /undo, or /undo N for step N of the current plan")
            return
        turn = self.session.undo(step=int(args[0]))
        self._follow(turn)

    def _cmd_fork(self, args: list[str]) -> None:
        if args and (len(args) != 1 or not args[0].isdigit()):
            self._hint("usage: /fork, or /fork N to start from just before step N of the current plan")
            return
        origin = self.session.thread_id
        self.session = self.session.fork(step=int(args[0]) if args else None)
        self._say(f"Now in thread {self.session.thread_id}, forked from {origin} (which stays as it "
                  f"was: vitron-agent chat --resume {origin}).")
        self._follow(self.session.waiting())

    def _cmd_policy(self, args: list[str]) -> None:
        if args:
            if len(args) != 1 or args[0] not in ("ask", "step", "auto"):
                self._hint("usage: /policy ask|step|auto")
                return
            self.session.policy = args[0]
        policy = self.session.policy
        self._say(f"Policy: {policy if isinstance(policy, str) else ', '.join(sorted(policy))}")

    def _cmd_quit(self, args: list[str]) -> None:
        raise _Quit

    _cmd_exit = _cmd_quit

    # -- running -------------------------------------------------------------------------------------------

    def _call(self, method: Callable[..., Turn], *args: Any, **kwargs: Any) -> Turn | None:
        """Call a session method with a progress bar and Ctrl-C handling; a person's error becomes one line."""
        try:
            with ProgressView(self.console) as progress, ctrl_c_cancels(self.session, self.console):
                self.session.on_progress = progress
                return method(*args, **kwargs)
        except KeyboardInterrupt:
            self.console.print("Stopped waiting for the tool; its call is offered again.")
            self.session.recover()
            return self.session.waiting()
        except PERSON_ERRORS as error:
            self._error(error)
        except Exception as error:  # the session is on disk; a bug must not end the person's session
            self._error(error, prefix="unexpected error (the session is saved)")
        finally:
            self.session.on_progress = None
        return None

    # -- small helpers -------------------------------------------------------------------------------------

    def _read(self, prompt: str) -> str:
        """One line from the person; Ctrl-C at a prompt is a hint, end of input leaves."""
        while True:
            try:
                return self.console.input(prompt).strip()
            except KeyboardInterrupt:
                self.console.print("\n(/quit leaves; the thread is saved)")
            except EOFError:
                self.console.print()
                raise _Quit from None

    def _welcome(self) -> None:
        self.console.print(
            f"[bold]vitron-agent[/] · thread {self.session.thread_id} · workspace "
            f"{escape(shown_path(self.session.workspace.root))} · planner {escape(self.planner or 'custom')} · policy "
            f"{policy_name(self.session.policy)}"
        )
        for artifact in self.staged:
            source = Path(artifact.meta.get("source") or artifact.path).name
            self._say(f"Attached {artifact.kind} {source} as {artifact.id}.")
        if self.region is not None:
            self._say(f"Region for the first request: {self._region_text()}")
        if self.session.workspace.read_only:
            self._say("Read-only: /history, /plan and /artifacts show what the workspace holds; nothing is written.")
            return
        self._say("Type a request (for example: segment the motorcycle [60, 90, 580, 380]); /help lists "
                           "commands.")

    def _latest_attachment(self) -> Attachment | None:
        if self.staged:
            return Attachment.from_artifact(self.staged[-1])
        known = self.session.attachments()
        return known[-1] if known else None

    def _region_text(self) -> str:
        return ", ".join(f"{v:g}" for v in self.region.as_tuple()) if self.region else "none"

    def _artifact(self, artifact_id: str | None) -> Artifact | None:
        if not artifact_id:
            return None
        try:
            return self.session.store.get(artifact_id)
        except ArtifactNotFound:
            return None

    def _picture(self, artifact: Artifact | None, columns: int = THUMBNAIL_COLUMNS) -> Any:
        path = self.session.store.local_path_if_any(artifact) if self.thumbnails else None
        if path is None:
            return None
        try:
            return thumbnail(path, columns)
        except MediaError:
            return None

    def _show_thumbnail(self, artifact: Artifact | None) -> None:
        picture = self._picture(artifact)
        if picture is not None:
            self.console.print(picture)

    def _say(self, text: str) -> None:
        """Print text as written: brackets in file names, requests and answers are not console markup."""
        self.console.print(text, markup=False)

    def _hint(self, text: str) -> None:
        self.console.print(f"[yellow]{escape(text)}[/]")

    def _error(self, error: BaseException, prefix: str = "error") -> None:
        self.console.print(f"[bold red]{prefix}:[/] {escape(str(error))}", highlight=False)
