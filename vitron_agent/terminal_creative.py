"""The terminal's creative loop: choosing among candidates, ``/choose``, ``/vary``, ``/use``, ``/sketch`` and
``/tree``.

A mixin of :class:`~vitron_agent.terminal.Terminal`, kept apart so the loop and the decisions stay readable: the
methods use the terminal's session, console and helpers (``_call``, ``_follow``, ``_picture``, ``_say``,
``_hint``), and each command is one session call (:meth:`~vitron_agent.session.Session.choose`, ``vary``,
``use``, ``sketch``) with what it shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vitron_agent.calls import check_mask
from vitron_agent.ui import CANDIDATE_COLUMNS, candidates_view, lineage_tree

if TYPE_CHECKING:
    from vitron_agent.artifacts import Artifact
    from vitron_agent.session import Session, Turn

__all__ = ["CREATIVE_COMMANDS", "CreativeCommands"]

CREATIVE_COMMANDS: dict[str, str] = {
    "/choose N": "pick candidate N of the ones waiting (or just type N); it becomes the current image or video",
    "/vary [ID]": "the call that made the current result (or ID) again, with new seeds, as a new decision",
    "/use ID": "carry on from any image or video in the workspace: the next request works on it",
    "/sketch PATH|ID": "a black-and-white PNG you drew (white: the area to change), or a mask's id, as the area "
                       "for your next request (/sketch clear)",
    "/tree [ID]": "where the current result (or ID) came from: each call, seed and model",
}


class CreativeCommands:
    """Choosing, varying, carrying on, sketching and lineage, for the terminal."""

    session: Session
    mask: Artifact | None

    # provided by the terminal
    console: Any
    _call: Any
    _follow: Any
    _picture: Any
    _say: Any
    _hint: Any
    _read: Any
    command: Any

    def _choose(self, turn: Turn) -> Turn | None:
        """Show the candidates waiting and read a pick (a number, ``/choose N`` or an id); slash commands work
        meanwhile. Returns the turn the choice led to, or None when the choice went away (an undo, a fork)."""
        assert turn.choice is not None
        pictures = [self._picture(artifact, CANDIDATE_COLUMNS) for artifact in turn.candidates]
        self.console.print(candidates_view(turn.choice, turn.candidates, pictures))
        while True:
            line = self._read("choose> ")
            if line.startswith("/") and not line.startswith("/choose"):
                self.command(line)
                if self.session.choice is None:
                    return None
                continue
            pick = line.removeprefix("/choose").strip()
            if not pick:
                self._hint(f"type a number, 1 to {len(turn.candidates)}, to choose")
                continue
            chosen = self._call(self.session.choose, pick)
            if chosen is not None:
                return chosen

    def _cmd_choose(self, args: list[str]) -> None:
        if len(args) != 1:
            self._hint("usage: /choose N")
            return
        self._follow(self._call(self.session.choose, args[0]))

    def _cmd_vary(self, args: list[str]) -> None:
        if len(args) > 1:
            self._hint("usage: /vary, or /vary ID")
            return
        self._follow(self._call(self.session.vary, args[0] if args else None))

    def _cmd_use(self, args: list[str]) -> None:
        if len(args) != 1:
            self._hint("usage: /use ID (/artifacts lists them)")
            return
        self._say(self.session.use(args[0]))
        shown = self._picture(self.session.store.get(args[0]))
        if shown is not None:
            self.console.print(shown)

    def _cmd_sketch(self, args: list[str]) -> None:
        if len(args) != 1:
            self._hint("usage: /sketch PATH (a black-and-white PNG), /sketch ID (a mask), or /sketch clear")
            return
        if args[0] == "clear":
            self.mask = None
            self._say("No mask for the next request.")
            return
        found = self.session.store.find(args[0])
        if found is not None and not Path(args[0]).exists():
            check_mask(found)  # a person's error: one line, from the terminal's command loop
            self.mask, note = found, None
        else:
            self.mask, note = self.session.sketch(args[0])
        share = _share(self.session.store.local_path(self.mask))
        self._say(f"Mask {self.mask.id} ({share}) goes with your next request as the area to change."
                  + (f" Note: {note}." if note else ""))

    def _cmd_tree(self, args: list[str]) -> None:
        if len(args) > 1:
            self._hint("usage: /tree, or /tree ID")
            return
        if args:
            artifact = self.session.store.get(args[0])
        else:
            current = self.session.attachments()
            if not current:
                self._say("Nothing made or attached in this thread yet.")
                return
            artifact = self.session.store.get(current[-1].ref)
        self.console.print(lineage_tree(self.session.store, artifact))


def _share(mask: Path) -> str:
    """How much of its image a mask covers, in words."""
    import numpy as np

    from vitron_agent.media import load_image

    inside = np.asarray(load_image(mask).convert("L")) > 127
    return f"{inside.mean():.0%} of the image"
