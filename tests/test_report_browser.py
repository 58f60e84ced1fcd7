"""The HTML report in a real headless Chromium: it renders, asks nothing of the network, and a
capture's hostile keys stay text.

The hostile capture is real: the keys are sent to a throwaway redis-server while
``redis-cli MONITOR`` records them (monitorlens.live.capture_monitor). Network: Chromium is
pointed at a recording proxy on 127.0.0.1 and every host name is made unresolvable, so any
request the page made would be seen; a control page with an <img> to an http URL checks that
the watch works. Scripts: the hostile keys would change ``document.title``; a control page
with a real inline script checks that this Chromium runs scripts at all.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from monitorlens.live import capture_monitor, client_list_bytes
from monitorlens.workflows import make_report
from monitorlens.testing import RedisServer, redis_server_path

redis = pytest.importorskip("redis")

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or redis_server_path() is None or shutil.which("redis-cli") is None,
    reason="needs chromium (apt-get install -y chromium), redis-server and redis-cli",
)

TITLE = "monitorlens-title"
HOSTILE_KEYS = [
    "<script>document.title='pwned-script'</script>",
    "\"><img src=x onerror=\"document.title='pwned-img'\">",
    "<svg/onload=document.title='pwned-svg'>",
    "</title><script>document.title='pwned-title'</script>",
    "<a href=\"http://example.com/leak\">link</a>",
]
HOSTILE_NAME = "<img/src=x/onerror=document.title='pwned-name'>"  # CLIENT SETNAME takes no spaces
SECTIONS = ["Findings", "Traffic over time", "Top commands", "Top clients", "Key patterns and hot keys",
            "Databases", "Gaps", "Coverage: what this capture can and cannot show"]


# Chromium's own services (network time, component updates, sign-in), which it calls even with
# --disable-background-networking: they reach the recording proxy too, and answer 404 there.
BROWSER_HOSTS = re.compile(r"^(?:https?://)?[\w.-]*\b(?:google\.com|googleapis\.com|gvt1\.com|gstatic\.com)(?::\d+)?(?:/|$)")


def page_requests() -> list[str]:
    """What the proxy saw, but Chromium's own service calls."""
    return [path for path in Recorder.seen if not BROWSER_HOSTS.match(path)]


class Recorder(http.server.BaseHTTPRequestHandler):
    """A proxy that answers 404 and remembers every request it got."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Recorder.seen.append(self.path)
        self.send_error(404)

    do_POST = do_HEAD = do_CONNECT = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def proxy():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def chromium(page: Path, tmp: Path, proxy: int, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a file with no way out but the recording proxy."""
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--disable-default-apps", "--no-default-browser-check", "--hide-scrollbars",
        f"--user-data-dir={tmp / 'profile'}", f"--proxy-server=http://127.0.0.1:{proxy}",
        "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=3000", *args, page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def dump_dom(page: Path, tmp: Path, proxy: int) -> str:
    done = chromium(page, tmp, proxy, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def hostile_capture(tmp_path_factory) -> Path:
    """A real MONITOR capture of a client sending the hostile keys."""
    out = tmp_path_factory.mktemp("capture") / "monitor.txt"
    with RedisServer(requirepass="pass") as server:
        watcher = server.client(single_connection_client=True)
        result: dict = {}
        thread = threading.Thread(target=lambda: result.setdefault(
            "proc", capture_monitor(server.cli_args(), out, seconds=4)))
        thread.start()
        deadline = time.monotonic() + 10
        while b"flags=O" not in client_list_bytes(watcher):  # wait until MONITOR listens
            assert time.monotonic() < deadline, "redis-cli MONITOR did not start"
            time.sleep(0.05)
        app = server.client(single_connection_client=True)
        app.client_setname(HOSTILE_NAME)
        for i, key in enumerate(HOSTILE_KEYS * 3):
            app.set(key, f"<script>document.title='pwned-value-{i}'</script>")
            app.get(key)
        app.close()
        thread.join(timeout=20)
    text = out.read_text()
    assert text.count("\"SET\"") == 3 * len(HOSTILE_KEYS) and "onerror" in text
    return out


@pytest.fixture(scope="module")
def report_page(hostile_capture, tmp_path_factory) -> Path:
    page = tmp_path_factory.mktemp("report") / "report.html"
    html = make_report(hostile_capture).to_html()
    page.write_text(html.replace("<title>", f"<title>{TITLE} ", 1))
    return page


def test_report_renders_its_sections_and_keeps_hostile_keys_as_text(report_page, tmp_path, proxy):
    Recorder.seen.clear()
    dom = dump_dom(report_page, tmp_path, proxy)
    title = re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert title.startswith(TITLE) and "pwned" not in title  # no script of the capture ran
    for heading in SECTIONS:
        assert f">{heading}" in dom
    text = re.sub(r"<[^>]+>", "", dom)  # the page's text: the keys are there, as text
    assert "&lt;script&gt;document.title='pwned-script'&lt;/script&gt;" in text
    assert "onerror" in text and "&lt;svg/onload" in text
    assert not re.search(r"<(?:script|img|iframe|object|embed)\b|<a href=\"(?!#)", dom, re.I)
    assert not re.search(r"<[a-z][^>]*\s(?:src|href)=\"(?:https?:)?//", dom, re.I)  # no external URL
    assert page_requests() == []  # no request left the page


def test_escaping_alone_stops_the_scripts(report_page, tmp_path, proxy):
    # Without the CSP meta, a hostile key would run if it were not escaped.
    page = tmp_path / "no-csp.html"
    page.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", report_page.read_text()))
    assert "Content-Security-Policy" not in page.read_text()
    Recorder.seen.clear()
    dom = dump_dom(page, tmp_path, proxy)
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert page_requests() == []


def test_controls_scripts_run_and_requests_are_seen(tmp_path, proxy):
    # The two checks above would pass vacuously if this Chromium ran no script or if the
    # proxy saw nothing: show that a real script and a real request are caught.
    page = tmp_path / "control.html"
    page.write_text("<!DOCTYPE html><html><head><title>before</title></head><body>"
                    "<script>document.title='after'</script>"
                    "<img src='http://example.invalid/pixel.png'></body></html>")
    Recorder.seen.clear()
    dom = dump_dom(page, tmp_path, proxy)
    assert "<title>after</title>" in dom
    assert [path for path in page_requests() if "pixel.png" in path] == ["http://example.invalid/pixel.png"]


def test_screenshot(report_page, tmp_path, proxy):
    shot = tmp_path / "report.png"
    done = chromium(report_page, tmp_path, proxy, f"--screenshot={shot}", "--window-size=1280,2200")
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a rendered page, not a blank one
    keep = os.environ.get("MONITORLENS_SCREENSHOT")  # a path, for a person to look at
    if keep:
        shutil.copy(shot, keep)
