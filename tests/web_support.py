"""What the page's tests share: a workspace on the classic backend, the page served in this process on a free port
of 127.0.0.1 (the same ``launch`` the ``web`` command uses), and Debian's Chromium driven by Playwright, launched
by its path (Playwright's own browser download is not reachable here; ``.ci/run`` installs Chromium).

Import the fixtures into a test module: ``from web_support import chromium, served``.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import configure

CLASSIC = '[segmentation]\nbackend = "classic"\n'
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """Debian's Chromium (or ``VITRON_CHROMIUM``)."""
    given = os.environ.get("VITRON_CHROMIUM")
    return given or next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    """The page being served: its address and the hub behind it."""

    url: str
    hub: Any
    app: Any


def serve(workspace: Path, settings: str = CLASSIC, planner: Any = None, **hub_options: Any) -> Served:
    """The page over ``workspace`` (rule planner unless given), served in this process without blocking."""
    from vitron_agent.planners.rules import RulePlanner
    from vitron_agent.web.hub import WebHub
    from vitron_agent.web.server import launch
    from vitron_agent.workspace import Workspace

    configure(workspace, settings)
    hub = WebHub(Workspace(workspace), planner or RulePlanner(), **hub_options)
    port = free_port()
    app = launch(hub, port=port, block=False, quiet=True)
    return Served(f"http://127.0.0.1:{port}/", hub, app)


@pytest.fixture
def served(workspace: Path) -> Iterator[Served]:
    pytest.importorskip("gradio")
    page = serve(workspace)
    yield page
    page.app.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module (a new context per test keeps tests apart). Not per run: Playwright's
    sync API keeps an event loop running in the thread while it is open, which a later test's ``anyio.run`` (in
    the same worker, in any order) would find."""
    sync_api = pytest.importorskip("playwright.sync_api")
    path = chromium_path()
    if path is None:
        pytest.fail("Chromium is not installed: apt-get install -y chromium (as .ci/run does), or set VITRON_CHROMIUM")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


def open_page(browser: Any, url: str) -> Any:
    """A fresh tab (its own storage) on the page, ready for input."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    # a guard against a hang, not a timing: with -n 2 the other test process may hold both cores for a while
    page.set_default_timeout(180_000)
    page.goto(url)
    page.wait_for_selector("#request textarea")
    return page


def drag_box(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag with the brush from ``start`` to ``end``, as fractions of the canvas (0-1 across, 0-1 down)."""
    canvas = page.locator("#canvas canvas").first.bounding_box()
    x0, y0 = canvas["x"] + canvas["width"] * start[0], canvas["y"] + canvas["height"] * start[1]
    x1, y1 = canvas["x"] + canvas["width"] * end[0], canvas["y"] + canvas["height"] * end[1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x0 + (x1 - x0) * i / 20, y0 + (y1 - y0) * i / 20)
    page.mouse.up()


def send(page: Any, text: str) -> None:
    box = page.locator("#request textarea")
    box.fill(text)
    box.press("Enter")


def wait_for(condition: Any, timeout: float = 180.0, what: str = "the page") -> Any:
    """Poll ``condition`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def has_content(path: Path, minimum_std: float = 12.0) -> bool:
    """A screenshot shows real content: not blank, with a spread of tones (not exact pixels)."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    return pixels.std() > minimum_std and len(np.unique(pixels.astype(np.uint8))) > 64
