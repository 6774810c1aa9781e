"""The page in a real browser (Debian's Chromium through Playwright), with the rule planner and the classic backend:
upload, drag a box with the mouse, see the card with its preview, edit the form, approve, see the mask overlay;
reject with a correction; drop a step of a plan; choose a candidate; play a video result; reload and find the
thread. Screenshots go to each test's temporary folder and are checked for real content, not exact pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import MEDIA, PHOTO
from web_support import Served, chromium, drag_box, has_content, open_page, send, serve, served, wait_for  # noqa: F401, F811

pytestmark = pytest.mark.slow


def _card(page: Any) -> str:
    page.wait_for_selector("#card h3", state="visible")
    return page.locator("#card").inner_text()


def _upload(page: Any, path: Path, hub: Any) -> None:
    """Attach a file to the request box and wait until the page has imported it (and drawn it large)."""
    before = len(hub.store.list())
    page.set_input_files("#request input[type=file]", str(path))
    wait_for(lambda: len(hub.store.list()) > before, what="the upload to be imported")
    page.wait_for_selector("#canvas canvas")


def _chat_images(page: Any) -> int:
    return page.locator("#chat img").count()


def test_box_card_edit_approve_overlay_then_reload(chromium: Any, served: Served, tmp_path: Path) -> None:
    page = open_page(chromium, served.url)
    _upload(page, PHOTO, served.hub)
    page.wait_for_timeout(1500)  # the editor draws its background
    drag_box(page, (0.3, 0.2), (0.7, 0.8))
    wait_for(lambda: "box " in page.locator("#pointing").inner_text(), what="the box to be taken")
    send(page, "segment the motorcycle")
    card = _card(page)
    assert "segment_image" in card and "module B" in card and "region (" in card and "here:" in card
    wait_for(lambda: page.locator("#preview img").count() and page.locator("#preview img").first.get_attribute("src"),
             what="the preview")
    page.screenshot(path=tmp_path / "card.png", full_page=True)
    assert has_content(tmp_path / "card.png")

    page.locator("#arg-target textarea").fill("the white motorbike")
    page.click("#apply-edit")
    wait_for(lambda: "the white motorbike" in page.locator("#card").inner_text(), what="the edited card")
    assert "edited: target" in page.locator("#card").inner_text()
    page.click("#approve")
    wait_for(lambda: _chat_images(page) >= 1, what="the mask overlay in the conversation")
    wait_for(lambda: not page.locator("#decision").is_visible(), what="the card to go")
    page.screenshot(path=tmp_path / "overlay.png", full_page=True)
    assert has_content(tmp_path / "overlay.png")
    entries = served.hub.workspace.log.list()
    assert [(e.action, e.outcome, e.changed) for e in entries] == [("approve", "ok", ["target"])]
    assert entries[0].args["target"] == "the white motorbike"

    page.reload()
    page.wait_for_selector("#request textarea")
    wait_for(lambda: "segment the motorcycle" in page.locator("#chat").inner_text(), what="the thread after reload")
    wait_for(lambda: _chat_images(page) >= 1, what="the overlay after reload")
    assert "Segmented" in page.locator("#chat").inner_text()


def test_a_tab_closed_mid_run_leaves_a_consistent_thread(chromium: Any, served: Served) -> None:
    """Approve, then close the tab at once: the tool finishes on the server, and the thread reopened (the browser
    remembers it) shows the result with nothing left waiting."""
    page = open_page(chromium, served.url)
    _upload(page, PHOTO, served.hub)
    send(page, "segment the motorcycle [60, 90, 580, 380]")
    _card(page)
    page.click("#approve")
    # the click must reach the server before the tab goes (closed at once, a loaded machine can drop it unsent)
    wait_for(lambda: [e.action for e in served.hub.workspace.log.list()] == ["approve"], what="the approval")
    context = page.context
    page.close()
    wait_for(lambda: [e.outcome for e in served.hub.workspace.log.list()] == ["ok"], what="the tool to finish")
    again = context.new_page()
    again.goto(served.url)
    wait_for(lambda: again.locator("#chat img").count() >= 1, what="the result in the reopened thread")
    assert not again.locator("#decision").is_visible()


def test_reject_with_a_correction_shows_the_new_decision(chromium: Any, served: Served) -> None:
    page = open_page(chromium, served.url)
    _upload(page, PHOTO, served.hub)
    send(page, "segment the motorcycle [60, 90, 580, 380]")
    assert "target 'motorcycle'" in _card(page)
    page.locator("#correction textarea").fill("segment the van [300, 0, 640, 200]")
    page.click("#reject")
    wait_for(lambda: "target 'van'" in page.locator("#card").inner_text(), what="the new decision")
    assert [e.action for e in served.hub.workspace.log.list()] == ["reject"]


def test_a_plan_drop_a_step_then_approve(chromium: Any, served: Served) -> None:
    page = open_page(chromium, served.url)
    _upload(page, PHOTO, served.hub)
    send(page, "segment the motorcycle [60, 90, 580, 380], then make it black and white")
    card = _card(page)
    assert "A plan of 2 steps" in card
    assert page.locator("#approve").inner_text().strip() == "Approve all"
    page.locator("#step input").click()
    page.get_by_role("option", name="2").click()
    wait_for(lambda: "(edit_image)" in page.locator("#decision").inner_text(), what="the form of step 2")
    page.click("#drop")
    wait_for(lambda: "A plan of" not in page.locator("#card").inner_text(), what="the plan of one step")
    page.click("#approve")
    wait_for(lambda: _chat_images(page) >= 1, what="the segmentation's overlay")
    assert [(e.tool, e.outcome) for e in served.hub.workspace.log.list()] == [("segment_image", "ok")]


@pytest.mark.usefixtures("tiny_diffusion")
def test_candidates_choose_one(chromium: Any, workspace: Path, tiny_diffusion: dict[str, Path]) -> None:
    settings = (f'[weights.sd]\nsource = "{tiny_diffusion["sd"]}"\n\n[defaults.generate_image]\ncandidates = 3\n'
                'width = 64\nheight = 64\nsteps = 2\nseed = 5\n')
    page_server = serve(workspace, settings)
    try:
        page = open_page(chromium, page_server.url)
        send(page, "draw a lighthouse on a cliff")
        assert "generate_image" in _card(page)
        page.click("#approve")
        page.wait_for_selector("#choice", state="visible")
        wait_for(lambda: page.locator("#candidates img").count() == 3, what="three candidates")
        page.locator("#candidates img").nth(1).click()
        wait_for(lambda: not page.locator("#choice").is_visible(), what="the choice to go")
        chosen = [a for a in page_server.hub.store.list() if a.chosen]
        assert [(a.seed, a.meta["candidate"]) for a in chosen] == [(6, 2)]
        assert [e.action for e in page_server.hub.workspace.log.list()] == ["approve", "choose"]
    finally:
        page_server.app.close()


def test_a_video_result_plays(chromium: Any, served: Served, tmp_path: Path) -> None:
    page = open_page(chromium, served.url)
    _upload(page, MEDIA / "motorbike.mp4", served.hub)
    page.wait_for_selector("#frame", state="visible")
    send(page, "track the motorbike [148, 129, 222, 208]")
    assert "segment_video" in _card(page)
    page.click("#approve")
    page.wait_for_selector("#chat video", timeout=120_000)
    duration = wait_for(lambda: page.evaluate(
        "() => { const v = document.querySelector('#chat video'); return v && v.currentSrc && v.duration > 0 "
        "? v.duration : 0 }"), what="the clip's metadata")
    assert 2.0 < duration < 4.0  # 43 frames at 15 fps
    page.screenshot(path=tmp_path / "video.png", full_page=True)
    assert has_content(tmp_path / "video.png")
