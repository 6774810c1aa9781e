"""The Gradio page: where everything sits, and which action each control calls. No graph logic lives here: each
event calls one :class:`~vitron_agent.web.actions.Actions` method and draws the :class:`~.actions.Screen` it
returns.

- Left: the conversation (``gr.Chatbot``, messages format, results inline) and the request box
  (``gr.MultimodalTextbox``: text plus image or video uploads), the policy switch and Stop.
- Right, while something waits: the decision card (its text, the preview with the region drawn, the plan's steps,
  the arguments as a form generated from the tool's schema with ``gr.render``, and Approve, Reject with a
  correction, Cancel), or the candidates as a ``gr.Gallery`` to choose one. Below it the latest picture, large:
  "Box / sketch" (``gr.ImageEditor``, bounded by :mod:`~vitron_agent.web.canvas`: drag a box with the brush, or
  paint the area to change) and "Clicks" (``gr.Image`` select events, on the object or off it); a frame slider
  for a video.
- Beneath: the thread (reopen any, new, undo, fork), its decision log, and its results to carry on from, with
  lineage.

The events a person's answer makes are named (``api_name``), so ``gradio_client`` drives the same actions the
buttons do; approving still goes through the session, whose graph records the approval before any tool runs.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from vitron_agent.web import views
from vitron_agent.web.actions import Actions, Screen, Tab
from vitron_agent.web.canvas import Canvas
from vitron_agent.web.form import Field, shown_value
from vitron_agent.web.hub import WebHub

__all__ = ["CSS", "build_page"]

CSS = """
#card { border-left: 4px solid var(--color-accent); padding-left: 12px; }
.field-error { color: #c0392b; font-size: 0.9em; margin-top: -6px; }
#notice { min-height: 1.5em; }
"""
BROWSER_KEY = "vitron-agent-thread"


class _Page:
    """The components and their wiring, over one set of actions."""

    def __init__(self, actions: Actions) -> None:
        self.actions = actions

    def layout(self) -> None:
        self.tab = gr.State(Tab())
        self.remembered = gr.BrowserState(None, storage_key=BROWSER_KEY)
        self.form_state = gr.State({})
        gr.Markdown("## vitron-agent · every decision is shown before it runs")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                self.chat = gr.Chatbot(elem_id="chat", height=560, label="conversation", buttons=["copy"])
                self.request = gr.MultimodalTextbox(
                    elem_id="request", file_types=["image", "video"], file_count="multiple",
                    placeholder="What should be done? Attach an image or video, draw on it on the right, then send.",
                    show_label=False, sources=["upload"])
                self.notice = gr.Markdown(elem_id="notice")
                with gr.Row():
                    self.policy = gr.Radio(["ask", "step", "auto"], value="ask", label="policy", elem_id="policy",
                                           info="ask: every change waits for you; step: each step of a plan; auto: "
                                                "run without asking")
                    self.stop = gr.Button("Stop the running tool", elem_id="stop", variant="stop", size="sm")
            with gr.Column(scale=6):  # what waits comes first: the card, or the candidates; then the picture
                self._decision()
                self._choice()
                self._pointing()
        self._thread()

    def _pointing(self) -> None:
        with gr.Tabs():
            with gr.Tab("Box / sketch", id="draw"):
                self.canvas = Canvas(
                    elem_id="canvas", type="numpy", sources=(), transforms=(), label="the latest picture",
                    layers=gr.LayerOptions(allow_additional_layers=False), height=460,
                    brush=gr.Brush(colors=["#ff3b30"], color_mode="fixed"), eraser=gr.Eraser())
                self.sketching = gr.Checkbox(False, label="sketch: what I paint is the area to change (otherwise a "
                                                          "drag is a box)", elem_id="sketching")
            with gr.Tab("Clicks", id="clicks"):
                self.clicks = gr.Image(elem_id="clicks", interactive=False, label="click on the object",
                                       height=460, buttons=[])
                with gr.Row():
                    self.positive = gr.Radio([("on the object", True), ("not the object", False)], value=True,
                                             label="a click marks", elem_id="click-sign")
                    self.clear = gr.Button("Clear clicks", size="sm", elem_id="clear-clicks")
        self.frame = gr.Slider(0, 1, step=1, value=0, label="frame to point at", visible=False, elem_id="frame")
        self.pointing = gr.Markdown(elem_id="pointing")

    def _decision(self) -> None:
        """The card, the answers beside it, then the plan and the form to edit it."""
        with gr.Column(visible=False, elem_id="decision", variant="panel") as self.decision:
            self.card = gr.Markdown(elem_id="card")
            self.preview = gr.Image(label="preview: the region on its picture", elem_id="preview", height=280,
                                    interactive=False, buttons=[])
            with gr.Row():
                self.approve = gr.Button("Approve", variant="primary", elem_id="approve")
                self.cancel = gr.Button("Cancel", elem_id="cancel")
            with gr.Row():
                self.correction = gr.Textbox(label="what was wrong (for the planner)", elem_id="correction", scale=3)
                self.reject = gr.Button("Reject with this correction", elem_id="reject", scale=1)
            self.plan = gr.Dataframe(headers=views.PLAN_COLUMNS, elem_id="plan", interactive=False, wrap=True,
                                     label="the plan's steps")
            with gr.Row():
                self.step = gr.Dropdown(choices=[1], value=1, label="step the form edits", elem_id="step",
                                        scale=2)
                self.drop = gr.Button("Drop this step", elem_id="drop", size="sm", scale=1)
            with gr.Column(elem_id="form"):
                @gr.render(inputs=[self.form_state], triggers=[self.form_state.change])
                def form(state: dict[str, Any]) -> None:
                    self._form(state)

    def _form(self, state: dict[str, Any]) -> None:
        """The waiting step's arguments as inputs generated from its tool's schema, errors beside their fields."""
        if not state:
            return
        fields: list[Field] = self.actions.fields[state["tool"]]
        errors = state.get("errors") or {}
        inputs = []
        with gr.Accordion(f"arguments of step {state['step']} ({state['tool']})", open=True):
            for field in fields:
                inputs.append(_input(field, state["args"].get(field.name), key=f"{state['key']}-{field.name}"))
                if field.name in errors:
                    gr.Markdown(f"{field.name}: {errors[field.name]}", elem_classes=["field-error"],
                                elem_id=f"error-{field.name}")
            apply = gr.Button("Apply edits (validated, then shown again)", elem_id="apply-edit", size="sm")
        def edited(tab: Tab, *typed: Any) -> tuple[Any, ...]:
            return self._draw(self.actions.edit(tab, typed))

        apply.click(_as_login(edited, len(inputs)), [self.tab, *inputs], self.outputs, api_name="edit")

    def _choice(self) -> None:
        with gr.Column(visible=False, elem_id="choice", variant="panel") as self.choice:
            self.choice_text = gr.Markdown()
            self.candidates = gr.Gallery(elem_id="candidates", columns=4, height=240, allow_preview=False,
                                         label="candidates")
            self.pick = gr.Radio(choices=[], label="or choose by number", elem_id="pick")

    def _thread(self) -> None:
        with gr.Accordion("Thread: reopen, undo, fork, decisions, results", open=False, elem_id="thread"):
            with gr.Row():
                self.threads = gr.Dropdown(label="threads in this workspace", elem_id="threads", scale=3,
                                           allow_custom_value=True)  # an id pasted from the terminal, checked
                self.open_thread = gr.Button("Open", elem_id="open-thread", size="sm")
                self.new_thread = gr.Button("New thread", elem_id="new-thread", size="sm")
                self.undo = gr.Button("Undo last tool", elem_id="undo", size="sm")
                self.fork = gr.Button("Fork", elem_id="fork", size="sm")
            self.share = gr.Checkbox(False, label="share this thread with everyone who logs in to this page",
                                     elem_id="share", visible=len(self.actions.hub.logins) > 1)
            self.thread_label = gr.Markdown(elem_id="thread-label")
            self.log = gr.Dataframe(label="decisions", elem_id="log", interactive=False, wrap=True)
            self.results = gr.Gallery(label="results: pick one to carry on from it", elem_id="results", columns=6,
                                      height=200, allow_preview=False)
            with gr.Row():
                self.use = gr.Button("Use as the next input", elem_id="use", size="sm")
                self.vary = gr.Button("Vary (new seeds)", elem_id="vary", size="sm")
            self.lineage = gr.Markdown(elem_id="lineage")

    @property
    def outputs(self) -> list[Any]:
        return [self.tab, self.remembered, self.chat, self.notice, self.decision, self.card, self.preview,
                self.plan, self.step, self.approve, self.choice, self.choice_text, self.candidates, self.pick,
                self.canvas,
                self.clicks, self.frame, self.pointing, self.policy, self.log, self.results, self.lineage,
                self.thread_label, self.form_state]

    def _draw(self, screen: Screen) -> tuple[Any, ...]:
        """A screen as the values of :attr:`outputs`, in order."""
        turn, tab = screen.turn, screen.tab
        decision = turn.pending if turn is not None else None
        choice = turn.choice if turn is not None else None
        store = self.actions.hub.store
        preview = decision.current.preview if decision is not None else None
        canvas = gr.skip() if screen.canvas is None else gr.update(
            value={"background": screen.canvas, "layers": [], "composite": None}, visible=True)
        frame = gr.skip() if screen.canvas is None else gr.update(
            visible=screen.canvas_frames > 1, maximum=max(1, screen.canvas_frames - 1), value=min(tab.frame, max(
                0, screen.canvas_frames - 1)))
        values = (
            tab, tab.thread, screen.chat, screen.notice,
            gr.update(visible=decision is not None),
            views.card_markdown(decision) if decision is not None else "",
            views.shown_file(store, preview),
            views.plan_rows(decision) if decision is not None else [],
            gr.update(choices=[s.number for s in decision.steps], value=screen.form.get("step", 1))
            if decision is not None else gr.skip(),
            gr.update(value="Approve all" if decision is not None and len(decision.asking) > 1 else "Approve"),
            gr.update(visible=choice is not None),
            views.choice_markdown(choice) if choice is not None else "",
            [(views.shown_file(store, a), f"{i}") for i, a in enumerate(turn.candidates, start=1)]
            if choice is not None else [],
            gr.update(choices=list(range(1, len(turn.candidates) + 1)), value=None) if choice is not None
            else gr.update(choices=[], value=None),
            canvas,
            screen.clicks if screen.clicks is not None else gr.skip(),
            frame,
            screen.pointing, screen.policy,
            {"headers": list(views.HISTORY_COLUMNS), "data": screen.log} if screen.log else None,
            screen.results, screen.lineage,
            f"Thread **{tab.thread}** · continue it in the terminal with `vitron-agent chat --resume {tab.thread}`"
            if tab.thread else "A new thread: it is saved with your first request.",
            screen.form,
        )
        return _unchanged_skipped(tab, values)

    def _on(self, event: Any, handler: Any, inputs: list[Any], *, name: str | None = None, extra: Any = None,
            **options: Any) -> None:
        """Attach ``handler`` (returning a :class:`Screen`) to ``event`` with the whole screen as its outputs: named
        for the API when ``name`` is given (else private), never queued behind another tab's call (the hub refuses
        what must not overlap), and its progress shown on the conversation only (the picture keeps its drawing)."""
        outputs = [*self.outputs, *([extra] if extra is not None else [])]
        visibility = {"api_name": name} if name else {"api_visibility": "private"}
        event(_as_login(handler), inputs, outputs, concurrency_limit=None, show_progress_on=self.chat, **visibility,
              **options)

    def wire(self, demo: gr.Blocks) -> None:
        a, tab, on = self.actions, self.tab, self._on
        draw = self._draw

        def send(state: Tab, request: dict[str, Any] | None,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
            request = request or {}
            screen = a.send(state, request.get("text") or "", list(request.get("files") or []), _reporter(progress))
            return (*draw(screen), None)

        def added(state: Tab, request: dict[str, Any] | None) -> tuple[Any, ...]:
            files = [str(path) for path in (request or {}).get("files") or []]
            if all(path in state.imported for path in files):  # typing, not a new upload: nothing to redraw
                return tuple(gr.skip() for _ in self.outputs)
            return draw(a.uploaded(state, files))

        def approve(state: Tab, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
            return draw(a.answer(state, lambda s: s.approve(state.shown), _reporter(progress)))

        def chosen(state: Tab, event: gr.SelectData, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
            return draw(a.choose(state, int(event.index) + 1, _reporter(progress)))

        def picked(state: Tab, number: Any, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
            return draw(a.choose(state, number, _reporter(progress)))

        def selected(state: Tab, event: gr.SelectData) -> tuple[Any, ...]:
            return draw(a.select(state, event.index))

        def clicked(state: Tab, positive: bool, event: gr.SelectData) -> tuple[Any, ...]:
            x, y = event.index
            return (state, *a.click(state, float(x), float(y), bool(positive)))

        on(demo.load, lambda state, kept: draw(a.load(state, kept)), [tab, self.remembered], name="load")
        on(self.request.submit, send, [tab, self.request], name="send", extra=self.request)
        on(self.request.change, added, [tab, self.request], trigger_mode="always_last")
        on(self.approve.click, approve, [tab], name="approve", trigger_mode="multiple")
        on(self.cancel.click, lambda state: draw(a.answer(state, lambda s: s.cancel_decision(state.shown))), [tab],
           name="cancel_decision")
        on(self.reject.click, lambda state, text: (*draw(a.reject(state, text or "")), ""), [tab, self.correction],
           name="reject", extra=self.correction)
        on(self.drop.click,
           lambda state, number: draw(a.answer(state, lambda s: s.remove_step(int(number), state.shown))),
           [tab, self.step], name="remove_step")
        on(self.step.input, lambda state, number: draw(_at_step(a, state, number)), [tab, self.step])
        on(self.candidates.select, chosen, [tab])
        on(self.pick.input, picked, [tab, self.pick], name="choose")
        on(self.stop.click, lambda state: draw(a.stop(state)), [tab], name="stop")
        on(self.policy.input, lambda state, word: draw(a.set_policy(state, word)), [tab, self.policy], name="policy")
        on(self.frame.release, lambda state, frame: draw(a.at_frame(state, frame)), [tab, self.frame])
        on(self.open_thread.click, lambda state, thread: draw(a.open(state, thread)), [tab, self.threads],
           name="open_thread")
        on(self.new_thread.click, lambda state: draw(a.open(state, None)), [tab], name="new_thread")
        on(self.undo.click, lambda state: draw(a.undo(state)), [tab], name="undo")
        on(self.fork.click, lambda state: draw(a.fork(state)), [tab], name="fork")
        on(self.results.select, selected, [tab])
        on(self.use.click, lambda state: draw(a.use(state)), [tab], name="use")
        on(self.vary.click, lambda state: draw(a.vary(state)), [tab], name="vary")
        on(self.share.input, lambda state, shared: draw(a.share(state, bool(shared))), [tab, self.share],
           name="share")
        for event in (self.canvas.change, self.sketching.input):  # kept as drawn, so sending needs no upload
            event(_as_login(lambda state, editor, sketching: (state, a.drew(state, editor, sketching))),
                  [tab, self.canvas, self.sketching], [tab, self.pointing], api_visibility="private",
                  trigger_mode="always_last", show_progress="hidden")
        self.clicks.select(_as_login(clicked), [tab, self.positive], [tab, self.clicks, self.pointing],
                           api_visibility="private")
        self.clear.click(_as_login(lambda state: (state, *a.clear_clicks(state))), tab,
                         [tab, self.clicks, self.pointing], api_visibility="private")
        for event in (demo.load, self.open_thread.click, self.new_thread.click, self.fork.click):
            event(self._thread_choices, None, self.threads, api_visibility="private")

    def _thread_choices(self, request: gr.Request) -> Any:
        """The threads the login may open (all of them, with one login or none)."""
        hub = self.actions.hub
        return gr.update(choices=[(views.thread_title(hub.lister(), thread), thread)
                                  for thread in hub.threads(getattr(request, "username", None))])


SKIPPED_WHEN_UNCHANGED = (2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 18, 19, 20, 21, 22, 23)
"""The outputs (by position) a tab is sent only when they differ from what it was last sent: the browser then
redraws only what changed (the conversation and galleries carry images). The tab state, the remembered thread and
the notice are always sent, so an API client reads each call's outcome in its own result; so is what goes with
the next request (the pointing line), which the drawing's own events also change."""


def _as_login(handler: Callable[..., Any], variadic: int = 0) -> Callable[..., Any]:
    """``handler`` (whose first argument is the tab) with the tab's person set from Gradio's request: the login
    the browser authenticated as (None without logins), never anything a client sends. ``variadic``: how many
    values a ``*args`` handler takes (Gradio passes what its inputs give, by position)."""
    hints = typing.get_type_hints(handler)
    parameters = [p for p in inspect.signature(handler).parameters.values() if p.kind != p.VAR_POSITIONAL]
    parameters += [inspect.Parameter(f"value_{n}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in range(variadic)]
    login = inspect.Parameter("login_of_request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                              annotation=gr.Request)

    def called(*given: Any) -> Any:
        *values, request = given
        values[0].person = getattr(request, "username", None) or None
        return handler(*values)

    called.__signature__ = inspect.Signature([*parameters, login])  # type: ignore[attr-defined]
    called.__annotations__ = {**hints, "login_of_request": gr.Request}
    return called


def _unchanged_skipped(tab: Tab, values: tuple[Any, ...]) -> tuple[Any, ...]:
    sent = []
    for index, value in enumerate(values):
        if index not in SKIPPED_WHEN_UNCHANGED or value == gr.skip():
            sent.append(value)
            continue
        digest = hashlib.sha1(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()
        sent.append(gr.skip() if tab.sent.get(index) == digest else value)
        tab.sent[index] = digest
    return tuple(sent)


def _input(field: Field, value: Any, *, key: str) -> Any:
    """The input that suits a field, showing ``value``."""
    shown = shown_value(field, value)
    common = {"label": field.label, "info": field.help or None, "elem_id": f"arg-{field.name}", "key": key,
              "interactive": True}
    if field.kind == "boolean":
        return gr.Checkbox(bool(shown), **common)
    if field.kind in ("integer", "number"):
        return gr.Number(shown, precision=0 if field.kind == "integer" else None, **common)
    if field.kind == "choice":
        return gr.Dropdown(field.choices, value=shown, **common)
    return gr.Textbox(shown, lines=3 if field.kind in ("lines", "json") else 1, **common)


def _at_step(actions: Actions, tab: Tab, number: Any) -> Screen:
    tab.step, tab.errors = int(number or 1), {}
    return actions.screen(tab)


def _reporter(progress: gr.Progress) -> Any:
    """The tools' progress events (``{"tool", "step", "steps", "done", "total", "message"}``) as Gradio's progress
    bar over the page, one step at a time."""
    def report(event: dict[str, Any]) -> None:
        total = float(event.get("total") or 0)
        steps = int(event.get("steps") or 1)
        label = f"step {event.get('step')}/{steps} " if steps > 1 else ""
        desc = f"{label}{event.get('tool', 'tool')}: {event.get('message') or ''}".strip()
        progress((float(event.get("done") or 0), total) if total else None, desc=desc)
    return report


def build_page(hub: WebHub) -> gr.Blocks:
    """The page over a hub (one per server; every tab shares it)."""
    page = _Page(Actions(hub, uploads=Path(gr.utils.get_upload_folder())))
    age = hub.upload_age_s  # uploads deleted once this old, checked a tenth as often (at most every 10 minutes)
    with gr.Blocks(title="vitron-agent", delete_cache=(max(1, min(600, age // 10)), age)) as demo:
        page.layout()
        page.wire(demo)
    return demo
