"""What an input holds, told from its first bytes: MONITOR output, CLIENT LIST snapshots,
connection counts or ``uniq -c`` counts. Pure: bytes in, a kind out (no pandas, no I/O).

People save these with what surrounds them: a redis-cli prompt (``127.0.0.1:6379> client
list``), a program's output (``Type = BulkString``), a crash report's log lines, a remark.
So the first line that is recognizably one kind decides, and the lines before it that are
none are passed over.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from .grammar import looks_like_monitor

Kind = Literal["monitor", "clients", "connections", "app-counts"]
LINES = 50  # lines looked at

# What may stand before the first field of a client line in what people save and paste:
# indentation, a Redis log line's head (a crash report lists the clients: "[29474] 12 Nov
# 00:00:01 # " before 3.0, "29474:M 12 Nov 2023 00:00:01.123 # " since), a program's output
# ("Result = "). The first field is id (2.8.12+) or addr (2.4 to 2.8.11).
_CLIENT_START = re.compile(
    rb"[ \t]*(?:\[\d+\] [^#]*# |\d+:[A-Z] [^#]*# |[A-Za-z][\w ]{0,30}= )?(?=(?:id|addr)=\S)"
)
_CSV_ROW = re.compile(rb"\s*(?:\d{9,13}(?:\.\d+)?|\d{4}-\d{2}-\d{2}[T ][\d:.]+\S*)\s*[,;\t ]\s*\d+\s*")
_APP_ROW = re.compile(rb" *\d+ +\S")


def client_start(line: bytes) -> int | None:
    """Where the fields of a client line start (after a log head or a program's output), else None.

    >>> client_start(b"[29474] 12 Nov 00:00:01 # addr=10.20.48.19:46556 fd=5"), client_start(b"id=3 addr=x")
    (26, 0)
    """
    m = _CLIENT_START.match(line)
    return None if m is None else m.end()


def kind_of(first_bytes: bytes, name: str = "") -> Kind | None:
    """What a file holds, from its first bytes (gzip already undone) and its name; None if unknown.

    >>> kind_of(b"OK\\n1700000000.000001 [0 127.0.0.1:5] \\"get\\" \\"k\\"\\n", "x")
    'monitor'
    >>> kind_of(b"127.0.0.1:6379> client list\\nid=3 addr=127.0.0.1:5 fd=8\\n", "clients.log")
    'clients'
    >>> kind_of(b"1700000000,12\\n", "connections.csv")
    'connections'
    >>> kind_of(b"     12 name=web\\n", "connections_by_app_1700000000.txt")
    'app-counts'
    """
    lines = [ln.rstrip(b"\r") for ln in first_bytes.split(b"\n", LINES)[:LINES]]
    if lines and len(first_bytes) > 200 and not first_bytes.endswith(b"\n"):
        lines.pop()  # cut in the middle by the caller
    for ln in lines:
        if not ln.strip():
            continue
        if looks_like_monitor(ln):
            return "monitor"
        if client_start(ln) is not None:
            return "clients"
        if _APP_ROW.match(ln) and b"=" in ln:
            return "app-counts"
        if _CSV_ROW.fullmatch(ln):
            return "connections"
        # Anything else (a snapshot time, a CSV header, a prompt, a program's output, a
        # remark): the lines that follow decide.
    base = os.path.basename(name).lower()
    if base.startswith("connections_by_") or "uniq" in base:
        return "app-counts"
    return None
