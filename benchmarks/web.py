"""The page in a real browser (Debian's Chromium through Playwright), rule planner and classic backend, served in
this process: how long a person waits for what they asked, beside the session calls the page makes.

    python benchmarks/web.py [--quick]

- **Send to card**: from pressing Enter on "segment the motorcycle [box]" to the decision card being visible; the
  same request through ``Session.send`` in Python is timed beside it (the page's own share is the difference).
- **Approve to result**: from clicking Approve to the mask overlay in the conversation, minus the tool's own time
  (the decision log's claim to finish).
- **First load**: from opening the page to the request box being ready and the thread drawn.
- **Idle memory**: this process's resident memory with the page served and nothing running (the browser runs in
  its own processes).

Each timed figure is the median of 10 (5 with --quick), after one warm-up.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rows import Row

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "media" / "motorcycle.jpg"
REQUEST = "segment the motorcycle [60, 90, 580, 380]"
CARD_GOAL, OVERHEAD_GOAL, LOAD_GOAL = 400.0, 300.0, 2000.0


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _serve(folder: Path) -> Any:
    from vitron_agent.planners.rules import RulePlanner
    from vitron_agent.web.hub import WebHub
    from vitron_agent.web.server import launch
    from vitron_agent.workspace import Workspace

    workspace = folder / "workspace"
    workspace.mkdir()
    (workspace / "vitron.toml").write_text('[segmentation]\nbackend = "classic"\n')
    hub = WebHub(Workspace(workspace), RulePlanner())
    app = launch(hub, port=7871, block=False, quiet=True)
    return hub, app, "http://127.0.0.1:7871/"


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _tool_ms(hub: Any) -> float:
    entry = hub.workspace.log.list()[-1]
    claimed, finished = datetime.fromisoformat(entry.claimed_at), datetime.fromisoformat(entry.finished)
    return (finished - claimed).total_seconds() * 1000


def _loads(browser: Any, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count + 1):
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#request textarea:not([disabled])")
        page.wait_for_function("() => document.querySelector('#pointing')?.innerText.includes('next request')")
        times.append(_ms(start))
        context.close()
    return times[1:]


def _rounds(browser: Any, url: str, hub: Any, count: int) -> tuple[list[float], list[float]]:
    """Send to card, and approve to result minus the tool, ``count`` times (after a warm-up) in one tab."""
    page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#request textarea")
    page.set_input_files("#request input[type=file]", str(PHOTO))
    while not hub.store.list():
        time.sleep(0.05)
    cards, overheads = [], []
    for _ in range(count + 1):
        shown = page.locator("#chat img").count()
        page.locator("#request textarea").fill(REQUEST)
        start = time.perf_counter()
        page.locator("#request textarea").press("Enter")
        page.wait_for_selector("#card h3", state="visible")
        cards.append(_ms(start))
        start = time.perf_counter()
        page.click("#approve")
        page.wait_for_function(f"() => document.querySelectorAll('#chat img').length > {shown}")
        page.wait_for_selector("#decision", state="hidden")
        overheads.append(_ms(start) - _tool_ms(hub))
    return cards[1:], overheads[1:]


def _session_sends(hub: Any, count: int) -> list[float]:
    """The same request through the session the page uses, in Python: what the page adds to it is the rest."""
    times = []
    session = hub.session(None)
    photo = hub.store.list()[0]
    for index in range(count + 1):
        start = time.perf_counter()
        session.send(REQUEST, attachments=[photo] if index == 0 else [])
        times.append(_ms(start))
        session.cancel_decision()
    return times[1:]


def measure(quick: bool = False) -> list[Row]:
    from playwright.sync_api import sync_playwright

    count = 5 if quick else 10
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is not installed: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as folder:
        hub, app, url = _serve(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                loads = _loads(browser, url, count)
                cards, overheads = _rounds(browser, url, hub, count)
                browser.close()
            time.sleep(1.0)
            idle = _rss_mib()
            direct = _session_sends(hub, count)
        finally:
            app.close()
    card, overhead, load = statistics.median(cards), statistics.median(overheads), statistics.median(loads)
    session = statistics.median(direct)
    print(f"send to card {card:.0f} ms (Session.send alone {session:.0f} ms); approve to result minus the tool "
          f"{overhead:.0f} ms; first load {load:.0f} ms; idle server {idle:.0f} MiB")
    note = f"median of {count}; rule planner, classic backend, Chromium headless on 2 CPU cores"
    return [
        Row("web", "send -> decision card visible", card, "ms", goal=CARD_GOAL,
            note=f"{note}; Session.send alone {session:.0f} ms"),
        Row("web", "approve -> result visible, minus the tool", overhead, "ms", goal=OVERHEAD_GOAL, note=note),
        Row("web", "first page load -> interactive", load, "ms", goal=LOAD_GOAL, note=note),
        Row("web", "server resident memory, idle", idle, "MiB", note="this process: Gradio, the graph, the store; "
            "no model loaded"),
    ]


def main() -> None:
    for row in measure(quick="--quick" in sys.argv):
        print(f"{row.name}: {row.figure:.0f} {row.unit} (goal {row.goal_text})")


if __name__ == "__main__":
    main()
