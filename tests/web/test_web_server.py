"""Serving the page: the address and login, and which files Gradio may hand out."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import PHOTO, ROOT
from web_support import Served, serve, served  # noqa: F401

pytest.importorskip("gradio")

from vitron_agent.web.server import WebError, check_address


def test_only_this_machine_without_a_login() -> None:
    assert not check_address("127.0.0.1", None) and not check_address("::1", None)
    assert check_address("0.0.0.0", "ana:secret").pairs == (("ana", "secret"),)
    with pytest.raises(WebError, match="add --auth USER:PASS"):
        check_address("0.0.0.0", None)
    with pytest.raises(WebError, match="USER:PASS"):
        check_address("127.0.0.1", "no-colon")


def test_several_logins_from_the_command_line_and_a_users_file(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# the page's people\nben:pw-of-ben\n\ncara:pw:with:colons\n")
    logins = check_address("0.0.0.0", ["ana:secret"], users)
    assert logins.names == ["ana", "ben", "cara"]
    assert logins.check("cara", "pw:with:colons") and not logins.check("ben", "secret")
    with pytest.raises(WebError, match="the user ana is given twice"):
        check_address("0.0.0.0", ["ana:one", "ana:two"])
    with pytest.raises(WebError, match="can't read the users file"):
        check_address("0.0.0.0", None, tmp_path / "missing.txt")


def test_the_command_refuses_an_open_address_without_a_login(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "vitron_agent", "web", "--host", "0.0.0.0", "--workspace",
                           str(tmp_path / "ws")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: binding 0.0.0.0 lets other machines reach the page")
    assert "Traceback" not in done.stderr and not (tmp_path / "ws").exists()


def _status(url: str) -> int:
    """The HTTP status of a GET (0: nothing listens there yet)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except urllib.error.URLError:
        return 0


def test_it_serves_the_store_files_and_nothing_else(served: Served) -> None:
    photo = served.hub.store.import_file(PHOTO, grant=True)
    root = served.hub.workspace.root

    def file_url(path: Path | str) -> str:
        return f"{served.url}gradio_api/file={urllib.parse.quote(str(path))}"

    assert _status(file_url(photo.path)) == 200
    for refused in (root / "decisions.sqlite", root / "vitron.toml", ROOT / "pyproject.toml", "/etc/passwd",
                    PHOTO):
        assert _status(file_url(refused)) in (403, 404), refused


@pytest.mark.slow
def test_the_readme_line_serves_the_page_on_the_sample_photo(tmp_path: Path) -> None:
    """``vitron-agent web examples/media/motorcycle.jpg``: the page is served on 127.0.0.1, and a new tab's first
    request has the photo attached."""
    import os
    import time

    from gradio_client import Client

    from web_support import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "vitron_agent", "web", str(PHOTO), "--port", str(port),
                               "--workspace", str(tmp_path / "ws")], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "VITRON_SEGMENTATION_BACKEND": "classic"})
    try:
        deadline = time.monotonic() + 60
        while _status(f"http://127.0.0.1:{port}/") != 200:
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
            time.sleep(0.2)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(None, api_name="/load")
        sent = client.predict({"text": "segment the motorcycle [60, 90, 580, 380]", "files": []}, api_name="/send")
        assert not sent[2] and "segment_image" in str(sent)
    finally:
        server.terminate()
        server.wait(10)


def test_uploads_are_deleted_once_old_even_ones_never_used(workspace: Path) -> None:
    """Before: Gradio's upload route stored any bytes and nothing deleted them (6 requests: +1.1 GiB)."""
    import json
    import time
    import urllib.request
    import uuid

    served = serve(workspace, upload_age_s=2)
    try:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"junk.bin\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + b"x" * 4096 + \
            f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"{served.url}gradio_api/upload", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            [stored] = json.loads(response.read())
        assert Path(stored).is_file()
        deadline = time.time() + 30
        while Path(stored).exists():
            assert time.time() < deadline, "the upload was never deleted"
            time.sleep(0.25)
    finally:
        served.app.close()
