"""The MONITOR line grammar, one rule at a time, on literal lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitorlens.read import grammar
from monitorlens.read.grammar import MonitorLine, Rejected, escape, parse_line, split_args, unescape

TS = b"1700000000.000042"


@pytest.mark.parametrize(
    "line, source, db, argv",
    [
        (TS + b' [0 127.0.0.1:57562] "GET" "k"', "127.0.0.1:57562", 0, (b"GET", b"k")),
        (TS + b' [0 [::1]:47068] "get" "k"', "[::1]:47068", 0, (b"get", b"k")),
        (TS + b' [3 unix:/run/redis/redis.sock] "PING"', "unix:/run/redis/redis.sock", 3, (b"PING",)),
        (TS + b' [0 lua] "set" "a" "1"', "lua", 0, (b"set", b"a", b"1")),
        (TS + b' [0 ?:0] "PING"', "?:0", 0, (b"PING",)),
        (TS + b' [0 ] "PING"', "", 0, (b"PING",)),
        (TS + b' [0 unix:/tmp/my dir/r.sock] "PING"', "unix:/tmp/my dir/r.sock", 0, (b"PING",)),
        # an argument ending in \" followed by another argument: '" "' inside an argument
        (TS + rb' [0 127.0.0.1:1] "SET" "a\" \"b" "c"', "127.0.0.1:1", 0, (b"SET", b'a" "b', b"c")),
        (TS + rb' [0 127.0.0.1:1] "SET" "x\\" "y"', "127.0.0.1:1", 0, (b"SET", b"x\\", b"y")),
        (TS + rb' [0 127.0.0.1:1] "SET" "caf\xc3\xa9" ""', "127.0.0.1:1", 0, (b"SET", b"caf\xc3\xa9", b"")),
        (TS + rb' [0 127.0.0.1:1] "SET" "\n\r\t\a\b"', "127.0.0.1:1", 0, (b"SET", b"\n\r\t\x07\x08")),
        (TS + b' [0 127.0.0.1:1] "AUTH" "(redacted)"', "127.0.0.1:1", 0, (b"AUTH", b"(redacted)")),
        (TS + b' [0 127.0.0.1:1] "GET" "k"\r', "127.0.0.1:1", 0, (b"GET", b"k")),
    ],
)
def test_modern_lines(line: bytes, source: str, db: int, argv: tuple[bytes, ...]) -> None:
    parsed = parse_line(line)
    assert isinstance(parsed, MonitorLine), parsed
    assert (parsed.source, parsed.db, parsed.argv) == (source, db, argv)
    assert parsed.ts_us == 1_700_000_000_000_042
    assert parsed.dialect == grammar.DIALECT_MODERN


def test_old_dialects() -> None:
    old = parse_line(b'1300000000.123456 (db 2) "GET" "k"')
    assert isinstance(old, MonitorLine) and old.db == 2 and old.dialect == grammar.DIALECT_DB_PAREN
    # Redis 2.0-2.4 wrote "(db N)" only when N was not 0: a line without it is db 0.
    oldest = parse_line(b'1300000000.123456 "GET" "k"')
    assert isinstance(oldest, MonitorLine) and oldest.db == 0 and oldest.dialect == grammar.DIALECT_NO_DB


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"", grammar.BLANK),
        (b"   ", grammar.BLANK),
        (b"OK", grammar.CLI_OK),
        (b"Error: Server closed the connection", grammar.CLI_MESSAGE),
        (TS + b' [0 127.0.0.1:1] "SET" "ke', grammar.TRUNCATED),
        (TS + rb' [0 127.0.0.1:1] "SET" "a\x4', grammar.TRUNCATED),
        (TS + b' [0 127.0.0.1:1] "SET" "a\\', grammar.TRUNCATED),
        (TS + b' [0 127.0.0.1:1] "SET" k', grammar.BAD_ARGS),
        (TS + rb' [0 127.0.0.1:1] "SET" "\q"', grammar.BAD_ARGS),
        (TS + b' [0 127.0.0.1:1] "SET"  "k"', grammar.BAD_ARGS),
        (TS + b' [0 127.0.0.1:1] "SET" "caf\xc3\xa9"', grammar.NOT_TEXT),
        (b"\x00\x01\xff\xfe", grammar.NOT_TEXT),
        (b"hello world", grammar.UNRECOGNIZED),
        (b'1700000000.1 [0 1.2.3.4:5] "GET"', grammar.UNRECOGNIZED),
    ],
)
def test_rejects(line: bytes, reason: str) -> None:
    parsed = parse_line(line)
    assert isinstance(parsed, Rejected)
    assert parsed.reason == reason


@pytest.mark.parametrize(
    "source, expected",
    [
        ("127.0.0.1:57562", ("tcp", "127.0.0.1", 57562)),
        ("[::1]:47068", ("tcp6", "::1", 47068)),
        ("[fe80::1%eth0]:6379", ("tcp6", "fe80::1%eth0", 6379)),
        ("unix:/run/redis.sock", ("unix", None, None)),
        ("lua", ("lua", None, None)),
        ("", ("module", None, None)),
        ("?:0", ("module", None, None)),
    ],
)
def test_classify_source(source: str, expected: tuple) -> None:
    assert grammar.classify_source(source) == expected


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=8))
def test_escape_round_trip(argv: list[bytes]) -> None:
    """Any list of byte strings escaped the way Redis escapes comes back exactly."""
    rest = b" ".join(escape(a) for a in argv)
    assert split_args(rest) == tuple(argv)
    line = grammar.format_line(1_700_000_000_000_001, 5, "[::1]:6000", argv)
    parsed = parse_line(line)
    assert isinstance(parsed, MonitorLine) and parsed.argv == tuple(argv) and parsed.db == 5


@given(st.binary(max_size=64))
def test_escape_is_printable_ascii(arg: bytes) -> None:
    escaped = escape(arg)
    assert all(0x20 <= b <= 0x7E for b in escaped)
    assert unescape(escaped[1:-1]) == arg


@given(st.binary(max_size=200))
def test_parse_line_never_raises(line: bytes) -> None:
    assert isinstance(parse_line(line), (MonitorLine, Rejected))
