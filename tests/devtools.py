"""Headless Chromium driven over its DevTools pipe, with no package beyond the standard library.

``--dump-dom`` and ``--screenshot`` cannot measure a layout, and headless Chromium lays
``--dump-dom`` pages out at least 500 px wide whatever ``--window-size`` says. Over the
DevTools protocol (``--remote-debugging-pipe``: JSON messages ending in NUL on fds 3 and 4)
a test sets the exact viewport, the print media, evaluates JavaScript in the page and prints
it to PDF as the browser would.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any


def chromium_binary() -> str | None:
    """The Chromium executable itself (Debian's ``/usr/bin/chromium`` is a shell script that
    would not pass the pipe on), or None."""
    for path in ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser"):
        if os.access(path, os.X_OK):
            return path
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


class Browser:
    """One headless Chromium; :meth:`open` a page at a width, :meth:`evaluate`, :meth:`pdf`."""

    def __init__(self, binary: str, profile: Path, timeout: float = 60.0) -> None:
        commands_r, self._out = os.pipe()
        self._in, replies_w = os.pipe()

        def pipe_on_3_and_4() -> None:
            a, b = os.dup2(commands_r, 100), os.dup2(replies_w, 101)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--hide-scrollbars", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=pipe_on_3_and_4, close_fds=False,
        )
        os.close(commands_r)
        os.close(replies_w)
        self.timeout = timeout
        self._id = 0
        self._buf = b""

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise TimeoutError(method)

    def _read(self) -> dict:
        while b"\0" not in self._buf:
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def open(self, page: Path, width: int, height: int = 900, media: str = "screen") -> str:
        """A new tab showing ``page`` at ``width`` x ``height`` CSS px; returns its session."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        self.send("Emulation.setEmulatedMedia", {"media": media}, session)
        self.send("Page.navigate", {"url": page.as_uri()}, session)
        for _ in range(100):  # bounded: a static page is complete at once
            if self.evaluate(session, "document.readyState") == "complete":
                break
            time.sleep(0.05)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def pdf(self, session: str, path: Path) -> Path:
        """The page printed as Chromium prints it (A4, the page's own @page margins)."""
        data = self.send("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69,
                                             "preferCSSPageSize": True, "printBackground": True}, session)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def screenshot(self, session: str, path: Path) -> Path:
        """The whole page as PNG."""
        size = self.evaluate(session, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        clip = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True},
                         session)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, OSError, TimeoutError):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass
