"""The page's API, called directly with ``gradio_client`` (no browser, no buttons): the same actions, and still no
tool runs without a recorded approval, whatever is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import PHOTO, configure
from web_support import CLASSIC, Served, free_port, served  # noqa: F401

gradio_client = pytest.importorskip("gradio_client")

CHAT, NOTICE = 1, 2
"""Where the conversation and the notice are among each endpoint's outputs (the tab's own state is not sent)."""


def _client(url: str, **options: Any) -> Any:
    return gradio_client.Client(url, verbose=False, **options)


def _send(client: Any, text: str, *files: Path) -> tuple:
    request = {"text": text, "files": [gradio_client.handle_file(str(path)) for path in files]}
    return client.predict(request, api_name="/send")


def _runs(served: Served) -> list[tuple[str, str | None]]:
    return [(entry.action, entry.outcome) for entry in served.hub.workspace.log.list()]


def test_send_then_approve_through_the_api(served: Served) -> None:
    client = _client(served.url)
    sent = _send(client, "segment the motorcycle [60, 90, 580, 380]", PHOTO)
    assert not sent[NOTICE] and _runs(served) == []
    approved = client.predict(api_name="/approve")
    assert _runs(served) == [("approve", "ok")]
    assert "Segmented 'motorcycle'" in str(approved[CHAT])


def test_nothing_runs_without_a_decision_shown_and_approved(served: Served) -> None:
    client = _client(served.url)
    assert "nothing is waiting" in client.predict(api_name="/approve")[NOTICE]
    with pytest.raises(Exception, match="not in the list of choices"):  # no candidates were shown to it
        client.predict(2, api_name="/choose")
    sent = _send(client, "segment the motorcycle [60, 90, 580, 380]", PHOTO)
    thread = sent[0]

    other = _client(served.url)  # another person's tab, on the same thread
    assert "There is no thread nope" in other.predict("nope", api_name="/open_thread")[NOTICE]
    other.predict(thread, api_name="/open_thread")
    other.predict(api_name="/approve")
    assert "changed" in client.predict(api_name="/approve")[NOTICE]
    assert _runs(served) == [("approve", "ok")]


def test_a_path_the_page_did_not_receive_is_refused(served: Served) -> None:
    client = _client(served.url)
    forged = {"text": "segment it [1, 1, 10, 10]", "files": [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}]}
    with pytest.raises(Exception):
        client.predict(forged, api_name="/send")
    assert served.hub.store.list() == [] and _runs(served) == []


def test_with_a_login_the_api_needs_it(workspace: Path) -> None:
    from vitron_agent.planners.rules import RulePlanner
    from vitron_agent.web.hub import WebHub
    from vitron_agent.web.server import launch
    from vitron_agent.workspace import Workspace

    configure(workspace, CLASSIC)
    port = free_port()
    app = launch(WebHub(Workspace(workspace), RulePlanner()), port=port, login=("ana", "secret"), block=False,
                 quiet=True)
    try:
        with pytest.raises(Exception):
            _client(f"http://127.0.0.1:{port}/")
        client = _client(f"http://127.0.0.1:{port}/", auth=("ana", "secret"))
        assert "nothing is waiting" in client.predict(api_name="/approve")[NOTICE]
    finally:
        app.close()


def test_each_login_sees_opens_and_answers_only_its_own_threads_until_shared(workspace: Path) -> None:
    """Before: behind one shared login, any tab listed, opened and answered every thread in the workspace."""
    from vitron_agent.logins import Logins
    from vitron_agent.owners import NotTheOwner
    from vitron_agent.planners.rules import RulePlanner
    from vitron_agent.web.hub import WebHub
    from vitron_agent.web.server import launch
    from vitron_agent.workspace import Workspace

    configure(workspace, CLASSIC)
    logins = Logins((("ana", "secret"), ("ben", "other")))
    hub = WebHub(Workspace(workspace), RulePlanner(), logins=logins.names)
    port = free_port()
    app = launch(hub, port=port, login=logins, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        ana, ben = _client(url, auth=("ana", "secret")), _client(url, auth=("ben", "other"))
        thread = _send(ana, "segment the motorcycle [60, 90, 580, 380]", PHOTO)[0]
        assert hub.workspace.log.owners.of(thread).owner == "ana"
        assert hub.threads("ana") == [thread] and hub.threads("ben") == []
        refused = ben.predict(thread, api_name="/open_thread")[NOTICE]
        assert "no thread" in refused and "that you can open" in refused, refused
        assert "nothing is waiting" in ben.predict(api_name="/approve")[NOTICE] and _runs_in(hub) == []
        assert "Send a request first" in ben.predict(True, api_name="/share")[NOTICE]  # his tab has no thread
        with pytest.raises(NotTheOwner):
            hub.share(thread, "ben", True)

        assert "is shared with everyone" in ana.predict(True, api_name="/share")[NOTICE]
        ben.predict(thread, api_name="/open_thread")
        ben.predict(api_name="/approve")
        [ran] = hub.workspace.log.list(thread)
        assert (ran.outcome, ran.by) == ("ok", "ben")  # the log says which login answered
        assert "yours alone again" in ana.predict(False, api_name="/share")[NOTICE]
        assert hub.threads("ben") == []
        late = ben.predict(api_name="/approve")[NOTICE]  # his open tab can no longer answer it, and lets go of it
        assert "that you can open" in late or "no longer shared" in late, late
        assert "nothing is waiting" in ben.predict(api_name="/approve")[NOTICE]
    finally:
        app.close()


def _runs_in(hub: Any) -> list[tuple[str, str | None]]:
    return [(entry.action, entry.outcome) for entry in hub.workspace.log.list()]
