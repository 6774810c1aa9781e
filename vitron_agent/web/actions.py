"""The page's actions: each reads the tab's inputs, makes one session call through the :class:`~.hub.WebHub`, and
returns the whole :class:`Screen` read back from the thread. A person's mistake (bad media, a box off the picture,
a decision answered in another tab) becomes a sentence in the conversation; nothing a person does shows a
traceback, and the thread stays as it was.

:class:`Tab` is one browser tab's own state: its thread, the fingerprint of what it shows waiting, what goes with
its next request (uploads, clicks, the video frame), and its notes.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vitron_agent.artifacts import Artifact, ArtifactNotFound
from vitron_agent.calls import Attachment, Point
from vitron_agent.creative import sketch_mask
from vitron_agent.media import MediaError, load_frame, load_image
from vitron_agent.owners import NotTheOwner
from vitron_agent.paths import PathOutsideWorkspace
from vitron_agent.regions import Box, RegionError
from vitron_agent.session import Session, SessionError, Turn
from vitron_agent.tools.backends.segmentation import mask_png
from vitron_agent.web import views
from vitron_agent.web.form import Field, changes, form_fields
from vitron_agent.web.hub import Acted, WebHub, shown_as
from vitron_agent.web.pointing import EMPTY_SKETCH, dots, drawing, preview, region_text, to_picture

__all__ = ["Actions", "Screen", "Tab"]

logger = logging.getLogger(__name__)
SAID = (SessionError, MediaError, PathOutsideWorkspace, RegionError, ArtifactNotFound, ValueError, OSError)
"""What a person's input can cause: said in one sentence, and the page goes on."""
Progress = Callable[[dict[str, Any]], None]
THREAD_ID_LIMIT = 64
"""The longest thread id the page takes (and repeats back); the workspace's own ids are 32 characters."""


class Tab(BaseModel):
    """One browser tab: its thread and what goes with its next request."""

    thread: str | None = None
    person: str | None = None
    """the login this tab is (set by the page from each event's request, never from what a client sends)"""
    shown: str = ""
    """the fingerprint of the decision or choice this tab shows (see :func:`~.hub.shown_as`)"""
    staged: list[str] = []
    """uploads imported for the next request"""
    imported: dict[str, str] = {}
    """Gradio's upload path -> artifact id ("" when refused), so an upload is imported, or refused, once"""
    uploaded_bytes: int = 0
    """what this tab has uploaded in all (see :data:`~.hub.UPLOAD_TOTAL`)"""
    canvas: str | None = None
    """the artifact on the large picture"""
    frame: int = 0
    box: Box | None = None
    """the box dragged (or the painted area's bounds) on the picture, for the next request"""
    sketching: bool = False
    painted: bytes | None = None
    """in sketch mode, the painted area as a black-and-white PNG"""
    points: list[Point] = []
    notes: list[tuple[int, str]] = []
    selected: str | None = None
    """the result picked in the results gallery"""
    step: int = 1
    """the plan step the form edits"""
    errors: dict[str, str] = {}
    sent: dict[int, str] = {}
    """a digest of each output last sent to this tab (the page sends only what changed)"""


class Screen(BaseModel):
    """Everything the page shows, read from the thread after an action."""

    tab: Tab
    chat: list[dict[str, Any]]
    notice: str = ""
    turn: Turn | None = None
    """what waits (a decision or a choice), as a turn"""
    canvas: Any = None
    """the large picture's new value (path or image), or None to leave it as it is"""
    canvas_frames: int = 0
    """frames of the video on the canvas (0: a still)"""
    clicks: Any = None
    log: list[list[str]] = []
    results: list[tuple[str, str]] = []
    lineage: str = ""
    policy: str = "ask"
    form: dict[str, Any] = {}
    pointing: str = ""


class Actions:
    """The page's handlers over one hub; each returns a :class:`Screen`."""

    def __init__(self, hub: WebHub, uploads: Path | None = None) -> None:
        self.hub = hub
        self.uploads = uploads.resolve() if uploads is not None else None
        """Gradio's upload folder: an upload from there is deleted once imported and sent, or refused"""
        self.fields: dict[str, list[Field]] = {name: form_fields(tool.Args) for name, tool in hub.tools.items()}

    # -- the screen --------------------------------------------------------------------------------------------

    def screen(self, tab: Tab, notice: str = "", *, canvas: bool = False) -> Screen:
        """The thread as the tab shows it; ``canvas`` redraws the large picture (else only when the current media
        changed)."""
        if tab.thread and not self.hub.may_open(tab.thread, tab.person):  # its owner stopped sharing it
            for name, value in Tab(person=tab.person):
                setattr(tab, name, value)
            notice = notice or "That thread is no longer shared with you; this tab starts a new one."
        # a new tab's thread is made on its first act
        session = self.hub.session(tab.thread, tab.person) if tab.thread else self.hub.lister()
        turn = session.waiting()
        tab.shown = shown_as(turn)
        entries = session.history()
        chat = views.conversation(session, entries)
        if notice:
            tab.notes.append((len(chat), notice))
        current = self._current(session, tab)
        redraw = current is not None and (canvas or current.id != tab.canvas)
        if redraw:  # a new (or cleaned) picture: nothing is marked on it
            tab.canvas, tab.points, tab.box, tab.painted = current.id, [], None, None
        screen = Screen(tab=tab, chat=views.with_notes(chat, tab.notes), notice=notice, turn=turn,
                        log=views.log_rows(entries), policy=_policy_word(session.policy),
                        results=[(views.shown_file(self.hub.store, a), f"{a.kind} {a.id}")
                                 for a in views.results(session)],
                        form=self._form(tab, turn), pointing=region_text(tab.box, tab.points, tab.sketching))
        if redraw and current is not None:
            screen.clicks = self._picture(current, tab.frame)  # a video's frame decoded once
            screen.canvas = preview(screen.clicks)  # drawn on at most PREVIEW_SIDE a side
            screen.canvas_frames = int(current.meta.get("frames") or 0) if current.kind == "video" else 0
        if tab.selected:
            screen.lineage = self._lineage(tab.selected)
        return screen

    def _current(self, session: Session, tab: Tab) -> Artifact | None:
        """What the next request works on: the latest upload, else the thread's latest image or video."""
        if tab.staged:
            return self.hub.store.get(tab.staged[-1])
        known = session.attachments()
        return self.hub.store.get(known[-1].ref) if known else None

    def _picture(self, artifact: Artifact, frame: int) -> Any:
        path = self.hub.store.local_path(artifact)
        if artifact.kind == "video":
            return load_frame(path, min(frame, max(0, int(artifact.meta.get("frames") or 1) - 1)))
        return str(path)

    def _form(self, tab: Tab, turn: Turn | None) -> dict[str, Any]:
        if turn is None or turn.pending is None:
            return {}
        decision = turn.pending
        number = tab.step if 1 <= tab.step <= len(decision.steps) else decision.asking[0]
        step = decision.steps[number - 1]
        return {"tool": step.tool, "step": number, "args": step.args, "errors": dict(tab.errors),
                "key": f"{tab.shown}-{number}-{len(tab.errors)}"}

    def _lineage(self, artifact_id: str) -> str:
        try:
            return views.lineage_markdown(self.hub.store, self.hub.store.get(artifact_id))
        except ArtifactNotFound:
            return ""

    def _said(self, tab: Tab, action: Callable[[], Any], *, canvas: bool = False) -> Screen:
        """Run an action; a person's mistake (or a bug) becomes one sentence, and the screen is read back."""
        notice = ""
        try:
            done = action()
            notice = done if isinstance(done, str) else ""
            if isinstance(done, Acted):
                tab.thread = done.thread
        except SAID as error:
            notice = str(error)
        except Exception as error:  # a bug must not end the person's page; the thread is on disk
            logger.exception("a page action failed")
            notice = f"Something went wrong and nothing more was done (the thread is saved): {error}"
        return self.screen(tab, notice, canvas=canvas)

    # -- the conversation --------------------------------------------------------------------------------------

    def load(self, tab: Tab, remembered: str | None) -> Screen:
        """A page (re)load: the tab's thread from the browser's storage, if the workspace holds it."""
        if remembered and not tab.thread and remembered in self.hub.threads(tab.person, limit=500):
            tab.thread = remembered
        elif not tab.thread and not tab.staged:
            tab.staged = list(self.hub.starting)  # the media named on the command line
        return self.screen(tab, canvas=True)

    def uploaded(self, tab: Tab, files: Sequence[str]) -> Screen:
        """Files added to the request box: each checked against the limits and imported through the store before
        anything uses it; one that fails is said, and nothing of it is stored."""
        said = []
        for path in files:
            if path in tab.imported:
                continue
            try:
                artifact = self.hub.import_upload(path, tab.uploaded_bytes)
            except SAID as error:
                said.append(str(error))
                tab.imported[path] = ""  # said once; the request box may send it again
                self._let_go([path])
                continue
            tab.imported[path] = artifact.id
            tab.uploaded_bytes += artifact.size
            tab.staged.append(artifact.id)
        return self.screen(tab, " ".join(said))

    def _let_go(self, paths: Sequence[str]) -> None:
        """Delete Gradio's copies of uploads (only files in its upload folder: never one named some other way)."""
        for path in paths:
            source = Path(path).resolve()
            if self.uploads is not None and source.is_relative_to(self.uploads) and source.is_file():
                source.unlink(missing_ok=True)

    def drew(self, tab: Tab, editor: Any, sketching: bool) -> str:
        """The picture's brush layer changed (or the sketch switch): keep what it marks for the next request, and
        say it. Kept here as the person draws, so sending does not wait for the drawing to be uploaded."""
        refused = (editor or {}).get("refused")
        box, painted = drawing(editor)
        if box is not None and painted is not None and tab.canvas is not None:  # drawn on a preview: to the picture
            box = to_picture(box, painted.shape[1::-1], Attachment.from_artifact(self.hub.store.get(tab.canvas)).size)
        tab.box, tab.sketching = box, bool(sketching)
        tab.painted = mask_png(painted) if painted is not None and sketching else None
        return refused or region_text(box, tab.points, tab.sketching)

    def send(self, tab: Tab, text: str, files: Sequence[str] = (), progress: Progress | None = None) -> Screen:
        """Send a request with the uploads, and the box, sketch or clicks marked on the large picture."""
        if files:
            self.uploaded(tab, files)
        if not text.strip():
            return self.screen(tab, "Type what you want done, then send.")
        drew = tab.box is not None

        def act() -> Acted:
            attachments = [self.hub.store.get(i) for i in tab.staged]
            mask = self._sketch(tab)
            acted = self.hub.act(tab.thread, lambda s: s.send(text, attachments=attachments, region=tab.box,
                                                              frame=tab.frame, mask=mask, points=tab.points),
                                 progress, person=tab.person)
            tab.staged, tab.points, tab.step, tab.errors = [], [], 1, {}
            tab.box, tab.painted = None, None
            return acted

        screen = self._said(tab, act, canvas=drew)  # a drawing went with the request: a clean picture for the next
        if not tab.staged:  # sent: the store holds the uploads now
            self._let_go([path for path in files if path in tab.imported])
        return screen

    def _sketch(self, tab: Tab) -> Artifact | None:
        """In sketch mode, the painted area as a mask of the picture it was painted on."""
        if not tab.sketching:
            return None
        if tab.painted is None or tab.canvas is None:
            raise SessionError(EMPTY_SKETCH)
        current = self.hub.store.get(tab.canvas)
        with tempfile.TemporaryDirectory() as folder:
            drawn = Path(folder) / "sketch.png"
            drawn.write_bytes(tab.painted)
            mask, _ = sketch_mask(self.hub.store, drawn, Attachment.from_artifact(current))
        return mask

    # -- answers -----------------------------------------------------------------------------------------------

    def answer(self, tab: Tab, call: Callable[[Session], Turn | None], progress: Progress | None = None) -> Screen:
        """Answer what the tab shows waiting (refused when another tab answered or changed it first)."""
        tab.errors = {}
        return self._said(tab, lambda: self.hub.answer(tab.thread or "", tab.shown, call, progress, tab.person))

    def reject(self, tab: Tab, correction: str) -> Screen:
        if not correction.strip():
            return self.screen(tab, "A rejection needs a correction for the planner (what was wrong); Cancel drops "
                                    "the decision without one.")
        return self.answer(tab, lambda s: s.reject(correction.strip(), tab.shown))

    def edit(self, tab: Tab, typed: Sequence[Any]) -> Screen:
        """Apply the form: each value read and validated by the tool's own arguments; errors go beside their
        fields and nothing is sent until they are fixed."""
        decision = self.hub.session(tab.thread, tab.person).pending if tab.thread else None
        if decision is None:
            return self.screen(tab, "Nothing is waiting for a decision.")
        step = decision.steps[(tab.step if 1 <= tab.step <= len(decision.steps) else decision.asking[0]) - 1]
        tool = self.hub.tools[step.tool]
        edits, errors = changes(tool.Args, self.fields[step.tool], step.args, typed)
        if errors:
            tab.errors = errors
            return self.screen(tab, "Fix the fields marked below; nothing was changed.")
        if not edits:
            return self.screen(tab, "Nothing was changed in the form.")
        return self.answer(tab, lambda s: s.edit_step(step.number, tab.shown, **edits))

    def choose(self, tab: Tab, pick: Any, progress: Progress | None = None) -> Screen:
        """Choose candidate ``pick`` (a number from 1, or an artifact id) of the ones the tab shows."""
        if pick in (None, ""):
            return self.screen(tab, "Say which candidate: click one, or pick its number.")
        return self.answer(tab, lambda s: s.choose(pick), progress)

    def stop(self, tab: Tab) -> Screen:
        stopping = self.hub.cancel(tab.thread, tab.person)
        return self.screen(tab, "Asked the running tool to stop at its next check." if stopping
                           else "Nothing is running in this thread.")

    def set_policy(self, tab: Tab, policy: str) -> Screen:
        def act() -> str:
            session = self.hub.session(tab.thread, tab.person)
            session.set_policy(policy, by=tab.person or "person")
            tab.thread = session.thread_id
            return ""
        return self._said(tab, act)

    # -- pointing ----------------------------------------------------------------------------------------------

    def click(self, tab: Tab, x: float, y: float, positive: bool) -> tuple[Any, str]:
        """A click on the picture: kept for the next request and drawn back on it."""
        tab.points = [*tab.points, Point(x=x, y=y, positive=positive)]
        return self._dotted(tab), region_text(tab.box, tab.points, tab.sketching)

    def clear_clicks(self, tab: Tab) -> tuple[Any, str]:
        tab.points = []
        return self._dotted(tab), region_text(tab.box, tab.points, tab.sketching)

    def _dotted(self, tab: Tab) -> Any:
        if tab.canvas is None:
            return None
        artifact = self.hub.store.get(tab.canvas)
        picture = self._picture(artifact, tab.frame)
        return dots(load_image(picture) if isinstance(picture, str) else picture, tab.points)

    def at_frame(self, tab: Tab, frame: int) -> Screen:
        tab.frame = int(frame or 0)
        return self.screen(tab, canvas=True)

    # -- threads and carrying on -------------------------------------------------------------------------------

    def open(self, tab: Tab, thread: str | None) -> Screen:
        """Switch the tab to ``thread`` (a new one when None), with nothing staged; a thread the workspace does
        not hold is refused."""
        if thread and (len(thread) > THREAD_ID_LIMIT or thread not in self.hub.threads(tab.person, limit=500)):
            named = thread if len(thread) <= THREAD_ID_LIMIT else thread[:THREAD_ID_LIMIT] + "..."
            return self.screen(tab, f"There is no thread {named} here that you can open; the list shows the ones "
                                    "you can.")
        for name, value in Tab(thread=thread or None, person=tab.person):
            setattr(tab, name, value)
        return self.screen(tab, canvas=True)

    def share(self, tab: Tab, shared: bool) -> Screen:
        """Share the tab's thread with everyone the page lets in, or make it its owner's alone again."""
        if not tab.thread:
            return self.screen(tab, "Send a request first: the thread is made with it, and then it can be shared.")
        try:
            self.hub.share(tab.thread, tab.person, shared)
        except NotTheOwner as error:
            return self.screen(tab, f"{error}.")
        return self.screen(tab, f"Thread {tab.thread} is shared with everyone who logs in to this page." if shared
                           else f"Thread {tab.thread} is yours alone again.")

    def undo(self, tab: Tab) -> Screen:
        return self._said(tab, lambda: self.hub.act(tab.thread, lambda s: _said_turn(s.undo()),
                                                    person=tab.person).turn.text,
                          canvas=True)

    def fork(self, tab: Tab) -> Screen:
        def act() -> str:
            with self.hub.holding(tab.thread, tab.person) as session:
                forked = self.hub.adopt(session.fork(), tab.person)
            origin, tab.thread = session.thread_id, forked.thread_id
            return f"Now in thread {forked.thread_id}, forked from {origin} (which stays as it was)."
        return self._said(tab, act, canvas=True)

    def select(self, tab: Tab, index: int) -> Screen:
        found = views.results(self.hub.session(tab.thread, tab.person)) if tab.thread else []
        tab.selected = found[index].id if 0 <= index < len(found) else None
        return self.screen(tab)

    def use(self, tab: Tab) -> Screen:
        if not tab.selected:
            return self.screen(tab, "Pick a result in the gallery first.")
        selected = tab.selected
        return self._said(tab, lambda: self.hub.act(tab.thread, lambda s: _said_turn(s.use(selected)),
                                                    person=tab.person).turn.text,
                          canvas=True)

    def vary(self, tab: Tab) -> Screen:
        selected = tab.selected
        return self._said(tab, lambda: self.hub.act(tab.thread, lambda s: s.vary(selected), person=tab.person))


def _said_turn(result: str | Turn) -> Turn:
    """A session call that answers in words (undo, use) as a turn, so the hub hands every call back alike."""
    return result if isinstance(result, Turn) else Turn(pending=None, text=result, artifacts=[])


def _policy_word(policy: Any) -> str:
    return policy if isinstance(policy, str) else "ask"
