"""The grammar of MONITOR lines, and Redis's argument escaping. No I/O.

A MONITOR line, as Redis 2.6+ writes it (replication.c ``replicationFeedMonitors``)::

    <sec>.<usec> [<db> <source>] "<arg0>" "<arg1>" ...

``<usec>`` is six digits; ``<source>`` is ``ip:port``, ``[ipv6]:port``,
``unix:<socket path>``, ``lua``, ``?:0`` or empty (module clients). Older
servers wrote ``<ts> (db <n>) "cmd" ...`` (2.6 before the bracket form) and
``<ts> "cmd" ...`` (2.4). Every argument is quoted by ``sdscatrepr``: ``\\\\``
and ``\\"`` for backslash and quote, ``\\n \\r \\t \\a \\b`` for those controls,
``\\xHH`` (lowercase hex) for every other byte outside 0x20..0x7E.

This module is the reference parser: :func:`parse_line` handles one line
exactly. :mod:`monitorlens.monitor` parses whole blocks with a vectorized fast
path for plain lines and falls back to :func:`parse_line` for everything else.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Reasons a line does not become an event. The first two are not errors: they
# are what redis-cli prints around a capture.
BLANK = "blank"
CLI_OK = "cli-ok"  # the "OK" redis-cli prints when MONITOR starts
CLI_PROMPT = "cli-prompt"  # "127.0.0.1:6379> MONITOR": the prompt and command of a pasted session
IGNORABLE = frozenset({BLANK, CLI_OK, CLI_PROMPT})
CLI_MESSAGE = "cli-message"  # "Error: Server closed the connection", "Could not connect ..."
TRUNCATED = "truncated"  # an argument whose closing quote never came
BAD_ARGS = "bad-arguments"  # head is right, arguments do not follow sdscatrepr
NOT_TEXT = "binary-garbage"  # bytes MONITOR never prints raw (outside 0x20..0x7E)
UNRECOGNIZED = "unrecognized"  # printable, but no MONITOR dialect
OUT_OF_RANGE = "out-of-range"  # a port above 65535 or a time after the year 9999: no server wrote it

DIALECT_MODERN = "2.6+"  # <ts> [<db> <source>] ...
DIALECT_DB_PAREN = "db-paren"  # <ts> (db <n>) ...   (before 2.6)
DIALECT_NO_DB = "no-db"  # <ts> "cmd" ...        (2.4)
# How a line was written down, beside its dialect: the server's raw RESP reply (a capture
# taken with telnet or nc: "+<line>"), or indented as a whole (a capture quoted in a ticket).
FORM_RESP = "RESP +"
FORM_INDENTED = "indented"

MAX_TS_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z: the last time Python's datetime shows
MAX_PORT = 65535

# `^(\d+)\.(\d{6}) \[(\d+) (.*?)\] (".*)$` (redis-formats.md): the source may
# itself contain "]" (IPv6), so the head ends at the first '] "'. Seconds have
# at most 12 digits (year 33658) and the db at most 9 (Redis's limit is
# INT_MAX), so that every time and db fits its column; longer is garbage.
_TIME, _DB_SOURCE, _PAREN_DB = rb"(\d{1,12})\.(\d{6}) ", rb"\[(\d{1,9}) (.*?)\] ", rb"\(db (\d{1,9})\) "
_MODERN = re.compile(_TIME + _DB_SOURCE + rb'(".*)\Z', re.S)
_DB_PAREN = re.compile(_TIME + _PAREN_DB + rb'(".*)\Z', re.S)
_NO_DB = re.compile(_TIME + rb'(".*)\Z', re.S)
# The head of a line of any of those dialects: all before its first argument's quote.
HEAD = re.compile(_TIME + rb"(?:%s|%s)?(?=\")" % (_DB_SOURCE, _PAREN_DB), re.S)

# One quoted argument: raw bytes 0x20..0x7E except '"' and '\', or one of the
# escapes sdscatrepr writes. Nothing else is valid inside the quotes.
_ARG = rb'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\\"nrtab]|\\x[0-9a-fA-F]{2})*)"'
_ARGS = re.compile(rb"%s(?: %s)*\Z" % (_ARG, _ARG))
_ONE_ARG = re.compile(_ARG)
_CUT_ESCAPE = re.compile(rb"\\(?:x[0-9a-fA-F]?)?\Z")  # an escape cut short at the end
NON_PRINTABLE = re.compile(rb"[^\x20-\x7e]")
# The start of a MONITOR line of any dialect, enough to tell a capture from other logs.
# (A raw RESP '+' and indentation may come first: see FORM_RESP, FORM_INDENTED.)
MONITOR_HEAD = re.compile(rb'[ \t]*\+?\d{1,12}\.\d{6} (?:\[\d{1,9} |\(db \d{1,9}\) |")')
_OK = re.compile(rb"[ \t]*\+?OK\r?\Z")


def looks_like_monitor(line: bytes) -> bool:
    """Whether a line (without its newline) starts a MONITOR capture: redis-cli's ``OK`` or a line head.

    >>> looks_like_monitor(b'1700000000.000001 [0 lua] "GET" "k"'), looks_like_monitor(b"id=3 addr=x")
    (True, False)
    >>> looks_like_monitor(b'+1689844887.413603 [0 127.0.0.1:57780] "ping"'), looks_like_monitor(b"+OK")
    (True, True)
    """
    return _OK.match(line) is not None or MONITOR_HEAD.match(line) is not None


# redis-cli's prompt (host:port, a [db] when not 0) before what was typed.
CLI_PROMPT_LINE = re.compile(rb"(?:\S*:\d+(?:\[\d+\])?)?> ?\S")

# What redis-cli itself prints in its output (not Redis data).
CLI_MESSAGES = (b"Error:", b"Could not connect", b"(error)", b"AUTH failed", b"Warning:", b"NOAUTH")


@dataclass(frozen=True)
class MonitorLine:
    """One parsed MONITOR line: time in microseconds since the epoch, db, source and argv."""

    ts_us: int
    db: int | None
    source: str
    argv: tuple[bytes, ...]
    dialect: str
    form: str = ""  # FORM_RESP, FORM_INDENTED or "" (as redis-cli prints it)


@dataclass(frozen=True)
class Rejected:
    """Why a line did not parse (one of the reason constants above)."""

    reason: str
    detail: str = ""


def unescape(body: bytes) -> bytes:
    """Undo ``sdscatrepr`` for the inside of one argument (already validated).

    >>> unescape(rb'caf\\xc3\\xa9 \\"q\\"')
    b'caf\\xc3\\xa9 "q"'
    """
    if b"\\" not in body:
        return body
    # The argument grammar admits only \\ \" \n \r \t \a \b \xHH, and
    # codecs.escape_decode maps each of those exactly as sdscatrepr meant.
    return codecs.escape_decode(body)[0]


_ESCAPES = {0x5C: b"\\\\", 0x22: b'\\"', 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x07: b"\\a", 0x08: b"\\b"}
_ESCAPE_TABLE = [
    _ESCAPES.get(b, bytes([b]) if 0x20 <= b <= 0x7E else b"\\x%02x" % b) for b in range(256)
]


def escape(arg: bytes) -> bytes:
    """Quote one argument the way Redis's ``sdscatrepr`` does (with the quotes).

    >>> escape(b'a"b\\n')
    b'"a\\\\"b\\\\n"'
    """
    return b'"' + b"".join(_ESCAPE_TABLE[b] for b in arg) + b'"'


def format_head(ts_us: int, db: int | None = None, source: str | None = None) -> bytes:
    """The head of a MONITOR line: ``sec.usec [db source]`` as Redis 2.6+ writes it,
    ``sec.usec (db N)`` without a source (before 2.6), the bare time without a database.

    >>> format_head(1_500_000_000_000_001, 0, "lua"), format_head(1_500_000_000_000_001, 2)
    (b'1500000000.000001 [0 lua]', b'1500000000.000001 (db 2)')
    """
    sec, usec = divmod(ts_us, 1_000_000)
    head = b"%d.%06d" % (sec, usec)
    if db is None:
        return head
    if source is None:
        return head + b" (db %d)" % db
    return head + b" [%d %s]" % (db, source.encode())


def format_line(ts_us: int, db: int, source: str, argv: list[bytes] | tuple[bytes, ...]) -> bytes:
    """A MONITOR line as Redis 2.6+ writes it (without the newline); the inverse of :func:`parse_line`."""
    return format_head(ts_us, db, source) + b" " + b" ".join(escape(a) for a in argv)


def split_args(rest: bytes) -> tuple[bytes, ...] | Rejected:
    """Tokenize the quoted arguments of a line and undo the escaping.

    >>> split_args(rb'"SET" "a\\" \\"b" ""')
    (b'SET', b'a" "b', b'')
    """
    if _ARGS.match(rest) is None:
        if _unterminated(rest):
            return Rejected(TRUNCATED, "an argument's closing quote is missing")
        return Rejected(BAD_ARGS, "arguments are not quoted the way MONITOR quotes them")
    return tuple(unescape(m.group(1)) for m in _ONE_ARG.finditer(rest))


def _unterminated(rest: bytes) -> bool:
    """True when the arguments are fine up to an argument that never closes."""
    pos = 0
    while pos < len(rest):
        m = _ONE_ARG.match(rest, pos)
        if m is None:
            tail = rest[pos:]
            if not tail.startswith(b'"'):
                return False
            return any(
                _ONE_ARG.fullmatch(t + b'"') is not None for t in (tail, _CUT_ESCAPE.sub(b"", tail))
            )
        pos = m.end()
        if pos == len(rest):
            return False
        if rest[pos : pos + 1] != b" ":
            return False
        pos += 1
    return False


def parse_line(line: bytes) -> MonitorLine | Rejected:
    """Parse one line (without its ``\\n``; a trailing ``\\r`` is ignored).

    >>> parse_line(b'1700000000.000042 [0 [::1]:47068] "GET" "k"').source
    '[::1]:47068'
    """
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line.strip():
        return Rejected(BLANK)
    form = ""
    if line[:1] in (b" ", b"\t"):
        line, form = line.lstrip(b" \t"), FORM_INDENTED
    if line[:1] == b"+":  # what the server sends: a RESP simple string
        line, form = line[1:], FORM_RESP
    if line == b"OK":
        return Rejected(CLI_OK)
    if CLI_PROMPT_LINE.match(line):
        return Rejected(CLI_PROMPT)
    if line.startswith(CLI_MESSAGES):
        return Rejected(CLI_MESSAGE, "a message from redis-cli, not a command")
    if NON_PRINTABLE.search(line):
        return Rejected(NOT_TEXT, "MONITOR escapes every byte outside printable ASCII")
    m = _MODERN.match(line)
    if m is not None:
        sec, usec, db, src, rest = m.groups()
        db_value: int | None = int(db)
        source, dialect = src.decode("ascii"), DIALECT_MODERN
    elif (m := _DB_PAREN.match(line)) is not None:
        sec, usec, db, rest = m.groups()
        db_value, source, dialect = int(db), "", DIALECT_DB_PAREN
    elif (m := _NO_DB.match(line)) is not None:
        sec, usec, rest = m.groups()
        # Redis 2.0-2.4 wrote "(db N)" only when N was not 0 (replicationFeedMonitors).
        db_value, source, dialect = 0, "", DIALECT_NO_DB
    else:
        return Rejected(UNRECOGNIZED, "not a MONITOR line of any Redis version")
    argv = split_args(rest)
    if isinstance(argv, Rejected):
        return argv
    ts_us = int(sec) * 1_000_000 + int(usec)
    wrong = out_of_range(ts_us, source)
    if wrong is not None:
        return Rejected(OUT_OF_RANGE, wrong)
    return MonitorLine(ts_us, db_value, source, argv, dialect, form)


def out_of_range(ts_us: int, source: str) -> str | None:
    """What no server writes in a line that has the grammar's shape: a time after the year
    9999 or a port above 65535; None when both are fine.

    >>> out_of_range(1_700_000_000_000_000, "127.0.0.1:99999")
    'port 99999 is above 65535'
    """
    if ts_us > MAX_TS_US:
        return "a time after the year 9999"
    port = classify_source(source)[2]
    if port is not None and port > MAX_PORT:
        return f"port {port} is above {MAX_PORT}"
    return None


def classify_source(source: str) -> tuple[str, str | None, int | None]:
    """The kind of a MONITOR source and its host and port where it has them.

    >>> classify_source("[::1]:47068")
    ('tcp6', '::1', 47068)
    """
    if source == "lua":
        return "lua", None, None
    if source in ("", "?:0"):
        return "module", None, None
    if source.startswith("unix:"):
        return "unix", None, None
    if source.startswith("["):
        host, _, port = source[1:].rpartition("]:")
        return "tcp6", host, int(port) if port.isdigit() else None
    host, _, port = source.rpartition(":")
    if host and port.isdigit():
        return "tcp", host, int(port)
    return "tcp", source or None, None
