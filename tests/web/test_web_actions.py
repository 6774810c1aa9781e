"""The page's actions and the hub behind them, without a browser: two tabs on one thread, a busy thread, bad uploads,
boxes and sketches, form values that fail validation, one model manager for every tab."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
import pytest

from conftest import PHOTO, TEST_DATA, configure
from web_support import CLASSIC

pytest.importorskip("gradio")

from vitron_agent.planners.rules import RulePlanner
from vitron_agent.web.actions import Actions, Tab
from vitron_agent.web.hub import BUSY, CHANGED, WebHub
from vitron_agent.web import views
from vitron_agent.web.pointing import EMPTY_SKETCH
from vitron_agent.workspace import Workspace

NOTHING_DRAWN = {"background": None, "layers": [], "composite": None}


@pytest.fixture
def actions(workspace: Path) -> Actions:
    configure(workspace, CLASSIC)
    return Actions(WebHub(Workspace(workspace), RulePlanner()))


def _waiting(actions: Actions, text: str = "segment the motorcycle [60, 90, 580, 380]") -> Tab:
    tab = Tab()
    actions.uploaded(tab, [str(PHOTO)])
    screen = actions.send(tab, text)
    assert screen.turn is not None and screen.turn.pending is not None, screen.notice
    return tab


def _stroke(size: tuple[int, int], box: tuple[int, int, int, int]) -> dict:
    """An editor value with a brush layer painted over ``box`` (x1, y1, x2, y2, end exclusive)."""
    width, height = size
    layer = np.zeros((height, width, 4), dtype=np.uint8)
    x1, y1, x2, y2 = box
    layer[y1:y2, x1:x2] = (255, 59, 48, 255)
    return {"background": None, "layers": [layer], "composite": None}


def test_two_tabs_see_one_decision_and_the_second_approval_is_refused(actions: Actions) -> None:
    first = _waiting(actions)
    second = Tab()
    seen = actions.open(second, first.thread)
    assert seen.turn.pending.summary == actions.screen(first).turn.pending.summary

    approved = actions.answer(first, lambda s: s.approve())
    assert approved.turn is None and not approved.notice
    late = actions.answer(second, lambda s: s.approve())
    assert late.notice == CHANGED
    assert [(e.action, e.outcome) for e in actions.hub.workspace.log.list()] == [("approve", "ok")]


def test_an_edit_in_one_tab_is_not_approved_unseen_in_another(actions: Actions) -> None:
    first = _waiting(actions)
    second = Tab()
    actions.open(second, first.thread)
    actions.answer(first, lambda s: s.edit(target="the van"))
    refused = actions.answer(second, lambda s: s.approve())
    assert refused.notice == CHANGED and "target 'the van'" in refused.turn.pending.summary
    assert actions.hub.workspace.log.list() == []  # nothing approved, nothing ran
    actions.answer(second, lambda s: s.approve())  # now shown, so approved as seen
    assert [e.args["target"] for e in actions.hub.workspace.log.list()] == ["the van"]


def test_a_second_answer_while_the_thread_is_busy_is_refused_at_once(actions: Actions) -> None:
    tab = _waiting(actions)
    with actions.hub.holding(tab.thread):  # a tool running for another click
        busy = actions.answer(tab, lambda s: s.approve())
    assert busy.notice == BUSY and busy.turn.pending is not None
    assert actions.hub.workspace.log.list() == []


def test_every_tab_loads_through_one_model_manager(actions: Actions) -> None:
    one, two = _waiting(actions), _waiting(actions)
    assert one.thread != two.thread
    sessions = [actions.hub.session(one.thread), actions.hub.session(two.thread)]
    assert sessions[0].models is sessions[1].models is actions.hub.workspace.models


@pytest.mark.parametrize("name, expected", [
    ("not-media.jpg", "not-media.jpg: "),
    ("black-4096-300.mkv", "over the 4.0 GiB limit"),
    ("animated-8000.png", "over the limit"),
])
def test_a_bad_upload_is_said_in_the_chat_and_nothing_is_stored(actions: Actions, tmp_path: Path, name: str,
                                                                 expected: str) -> None:
    path = TEST_DATA / "bombs" / name
    if name == "not-media.jpg":
        path = tmp_path / name
        path.write_text("this is not a picture")
    tab = Tab()
    screen = actions.uploaded(tab, [str(path)])
    assert expected in screen.notice and str(tmp_path) not in screen.notice
    assert screen.chat[-1] == {"role": "assistant", "content": views.as_text(screen.notice)}
    assert actions.hub.store.list() == [] and tab.staged == []


def test_an_upload_over_the_page_limit_is_refused_before_it_is_read(actions: Actions) -> None:
    actions.hub.upload_limit = 100_000
    screen = actions.uploaded(Tab(), [str(PHOTO)])
    assert "0.2 MiB, over the page's upload limit of 0 MiB" in screen.notice
    assert actions.hub.store.list() == []


def test_a_dragged_box_goes_with_the_request(actions: Actions) -> None:
    tab = Tab()
    actions.uploaded(tab, [str(PHOTO)])
    said = actions.drew(tab, _stroke((640, 480), (60, 90, 580, 380)), False)
    assert said == "With the next request: box 60, 90, 580, 380"
    screen = actions.send(tab, "segment the motorcycle")
    assert screen.turn.pending.args["region"] == {"x1": 60.0, "y1": 90.0, "x2": 580.0, "y2": 380.0}


def test_a_sketch_is_the_mask_and_its_bounding_box_the_region(actions: Actions) -> None:
    tab = Tab()
    actions.uploaded(tab, [str(PHOTO)])
    actions.drew(tab, _stroke((640, 480), (100, 120, 300, 260)), True)
    screen = actions.send(tab, "make the motorcycle red")
    args = screen.turn.pending.args
    mask = actions.hub.store.get(args["mask"])
    assert mask.kind == "mask" and (mask.meta["width"], mask.meta["height"]) == (640, 480)
    assert "used the mask; the region was ignored" in screen.turn.pending.current.notes


def test_an_empty_sketch_and_a_box_off_the_picture_are_sentences(actions: Actions) -> None:
    tab = Tab()
    actions.uploaded(tab, [str(PHOTO)])
    actions.drew(tab, NOTHING_DRAWN, True)
    empty = actions.send(tab, "make the motorcycle red")
    assert empty.notice == EMPTY_SKETCH and empty.turn is None
    actions.drew(tab, NOTHING_DRAWN, False)
    outside = actions.send(tab, "segment the motorcycle [900, 900, 1000, 1000]")
    assert outside.turn is None or outside.turn.pending is None
    assert "outside" in outside.chat[-1]["content"]
    assert actions.hub.workspace.log.list() == []


def test_form_values_that_fail_validation_show_beside_their_fields(actions: Actions) -> None:
    tab = _waiting(actions)
    fields = [field.name for field in actions.fields["segment_image"]]
    typed = {"image": "549a74bc70d197fe", "target": "x" * 600, "region": "1, 2, 3", "points": "[{]"}
    screen = actions.edit(tab, [typed[name] for name in fields])
    assert set(tab.errors) == {"target", "region", "points"}
    assert "four numbers" in tab.errors["region"] and "at most 500" in tab.errors["target"]
    assert screen.form["errors"] == tab.errors and "target 'motorcycle'" in screen.turn.pending.summary
    fixed = actions.edit(tab, ["549a74bc70d197fe", "the motorbike", "60, 90, 580, 380", "[]"])
    assert not tab.errors and "target 'the motorbike'" in fixed.turn.pending.summary
    assert fixed.turn.pending.current.changed == ["target"]


@pytest.mark.slow
def test_stop_reaches_the_running_tool_and_a_second_approve_is_refused(actions: Actions) -> None:
    """Stop while a tracking runs: the tool stops at its next check (cancelled, nothing stored); a second Approve
    meanwhile is refused with a sentence, not run again."""
    import threading

    from conftest import MEDIA

    tab = Tab()
    actions.uploaded(tab, [str(MEDIA / "motorbike.mp4")])
    assert actions.send(tab, "track the motorbike [148, 129, 222, 208]").turn.pending is not None
    started, finished = threading.Event(), {}

    def run() -> None:
        finished["screen"] = actions.answer(tab.model_copy(deep=True), lambda s: s.approve(),
                                            lambda event: started.set())

    runner = threading.Thread(target=run)
    runner.start()
    assert started.wait(60)
    again = actions.answer(tab.model_copy(deep=True), lambda s: s.approve())
    assert again.notice == BUSY
    stopped = actions.stop(tab)
    assert stopped.notice == "Asked the running tool to stop at its next check."
    runner.join(60)
    entries = actions.hub.workspace.log.list()
    assert [(e.tool, e.outcome) for e in entries] == [("segment_video", "cancelled")]
    assert not [a for a in actions.hub.store.list() if a.kind == "masks"]


def test_clicks_are_drawn_and_go_with_the_request(actions: Actions) -> None:
    tab = Tab()
    actions.uploaded(tab, [str(PHOTO)])
    actions.screen(tab)
    marked, said = actions.click(tab, 300, 250, True)
    marked, said = actions.click(tab, 20, 20, False)
    assert said == "With the next request: 1 click(s) on the object, 1 off it"
    assert np.asarray(marked)[250, 300, 1] > 150  # the green dot on the object
    screen = actions.send(tab, "segment the motorcycle")
    assert "clicks +(300, 250) -(20, 20)" in screen.turn.pending.summary
    assert tab.points == []  # spent with the request


def test_policy_threads_undo_fork_use_and_lineage(actions: Actions) -> None:
    tab = _waiting(actions)
    actions.answer(tab, lambda s: s.approve())
    results = actions.select(tab, 0)
    assert results.lineage.startswith("- image ") and "attached" in results.lineage

    auto = actions.set_policy(tab, "auto")
    assert auto.policy == "auto"
    ran = actions.send(tab, "segment the van [300, 0, 640, 200]")
    assert ran.turn is None and [e.by for e in actions.hub.workspace.log.list()][-1] == "policy: auto"

    undone = actions.undo(tab)
    assert undone.notice.startswith("Undid segment_image: its results are set aside")
    assert [row[4] for row in undone.log][-1] == "ok (undone)"
    origin = tab.thread
    forked = actions.fork(tab)
    assert tab.thread != origin and origin in forked.notice and origin in actions.hub.threads()
    assert forked.chat[0]["content"] == views.as_text("segment the motorcycle [60, 90, 580, 380]")  # from the thread as it was
    used = actions.use(tab)
    assert "Carrying on from image" in used.notice


def test_opening_the_page_makes_no_session_until_the_first_request(actions: Actions) -> None:
    """A tab that only looks holds no session (each holds a compiled graph and a database connection): a server
    many people open stays small."""
    for _ in range(5):
        assert actions.load(Tab(), None).tab.thread is None
    assert actions.hub.threads() == [] and len(actions.hub._sessions) == 0
    tab = _waiting(actions)
    assert len(actions.hub._sessions) == 1 and actions.hub.threads() == [tab.thread]


def test_what_a_person_or_planner_writes_is_shown_as_text(actions: Actions) -> None:
    """Before: an ``<img src=...>`` in a request's target was rendered live in the decision card and the chat."""
    hostile = 'segment the <img src="http://127.0.0.1:9/x.png"> ![t](http://127.0.0.1:9/y) [60, 90, 580, 380]'
    tab = _waiting(actions, hostile)
    screen = actions.screen(tab)
    card = views.card_markdown(screen.turn.pending)
    shown = card + "".join(message["content"] for message in screen.chat if isinstance(message["content"], str))
    assert "<img" not in shown and "](http" not in shown
    assert "&lt;img src=" in card  # the very characters, as text


def test_the_hub_keeps_a_bounded_number_of_sessions(workspace: Path) -> None:
    """Before: every thread ever opened stayed in memory (200 threads: +43 MiB)."""
    configure(workspace, CLASSIC)
    hub = WebHub(Workspace(workspace), RulePlanner(), kept_sessions=3)
    actions = Actions(hub)
    tabs = [_waiting(actions) for _ in range(6)]
    assert len(hub._sessions) == 3 and list(hub._sessions) == [tab.thread for tab in tabs[-3:]]
    again = actions.screen(tabs[0])  # a thread let go is read back from the workspace, as it was
    assert again.turn.pending is not None and len(hub._sessions) == 3
    assert actions.answer(tabs[0], lambda s: s.approve(tabs[0].shown)).turn is None


def test_uploads_count_against_a_total_and_are_deleted_once_sent(workspace: Path, tmp_path: Path) -> None:
    """Before: nothing deleted an upload, and the 200 MiB cap was per file (6 requests: +1.1 GiB)."""
    configure(workspace, CLASSIC)
    size = PHOTO.stat().st_size
    hub = WebHub(Workspace(workspace), RulePlanner(), upload_total=int(size * 1.5))
    gradio_folder = tmp_path / "gradio"
    actions = Actions(hub, uploads=gradio_folder)
    first, second = gradio_folder / "a" / "photo.jpg", gradio_folder / "b" / "gray.png"
    for path in (first, second):
        path.parent.mkdir(parents=True)
    first.write_bytes(PHOTO.read_bytes())
    Image.open(PHOTO).convert("L").resize((640, 480)).save(second)  # another picture, smaller than the photo

    tab = Tab()
    screen = actions.send(tab, "segment the motorcycle [60, 90, 580, 380]", [str(first)])
    assert screen.turn is not None and screen.turn.pending is not None, screen.notice
    assert not first.exists() and tab.uploaded_bytes == size  # imported and sent: Gradio's copy is gone

    refused = actions.uploaded(tab, [str(second)])
    assert "over the" in refused.notice and "one tab may upload" in refused.notice, refused.notice
    assert not second.exists() and not tab.staged  # refused: deleted, nothing staged

    kept = tmp_path / "mine.jpg"  # a file that is not Gradio's upload is never deleted
    kept.write_bytes(PHOTO.read_bytes())
    actions.send(Tab(), "segment the motorcycle [60, 90, 580, 380]", [str(kept)])
    assert kept.exists()
