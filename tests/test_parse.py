"""Block parsing: the vectorized fast path agrees with the reference parser, and bad input is counted."""

from __future__ import annotations

import gzip
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import monitorlens
from monitorlens import grammar
from monitorlens.parse import FAST_LINE, parse_block

SOURCES = ["127.0.0.1:6000", "[::1]:47068", "unix:/tmp/r.sock", "lua", "", "10.0.0.7:1"]
printable = st.binary(max_size=12).map(lambda b: bytes(c % 95 + 32 for c in b))
arg = st.one_of(printable, st.binary(max_size=12), st.sampled_from([b"", b'"', b"\\", b'a\\" "b', b" "]))
line_st = st.tuples(
    st.integers(0, 2**40), st.integers(0, 15), st.sampled_from(SOURCES),
    st.lists(arg, min_size=1, max_size=6),
)


def reference(lines: list[bytes]) -> list[tuple]:
    out = []
    for raw in lines:
        p = grammar.parse_line(raw)
        if isinstance(p, grammar.MonitorLine):
            out.append((p.ts_us, p.db, p.source, p.argv))
    return out


def from_block(data: bytes) -> list[tuple]:
    t = parse_block(data).table
    cmd = t.column("command").to_pylist()
    return [
        (ts.value // 1000 if hasattr(ts, "value") else ts, db, c, tuple([a[0], *args]))
        for ts, db, c, a, args in zip(
            t.column("ts").cast("int64").to_pylist(), t.column("db").to_pylist(),
            t.column("client").to_pylist(), [[x.encode()] for x in cmd], t.column("args").to_pylist(),
        )
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(line_st, min_size=1, max_size=20))
def test_fast_path_agrees_with_reference(specs: list[tuple]) -> None:
    lines = [grammar.format_line(*s) for s in specs]
    got = from_block(b"\n".join(lines) + b"\n")
    want = reference(lines)
    assert len(got) == len(want) == len(lines)
    for (gts, gdb, gsrc, gargv), (wts, wdb, wsrc, wargv) in zip(got, want):
        assert (gts, gdb, gsrc) == (wts, wdb, wsrc)
        assert gargv[1:] == wargv[1:]
        # Redis compares command names ASCII-case-insensitively, so only ASCII is upper-cased.
        assert gargv[0].decode() == wargv[0].upper().decode("utf-8", "backslashreplace")


def test_fast_regex_rejects_what_the_reference_rejects() -> None:
    import re

    fast = re.compile(FAST_LINE.encode())
    for bad in [b'1.000001 [0 a:1] "G\\"', b'1.000001 [0 a:1] "G" k', b'1.000001 [0 a:1] "G"  "k"',
                b'1.000001 [0 a:1] "G\xff"', b'1.000001 [0 a:1] "G" "k']:
        assert not fast.match(bad)


def test_lines_keep_their_numbers_and_order() -> None:
    data = (
        b"OK\n"
        b'1700000000.000001 [0 127.0.0.1:1] "SET" "caf\\xc3\\xa9" "v"\n'
        b"\n"
        b'1700000000.000002 [0 127.0.0.1:1] "GET" "k"\n'
        b"garbage \xff\n"
        b'1700000000.000003 [1 lua] "get" "k2"\r\n'
        b'1700000000.000004 [0 127.0.0.1:1] "SET" "cut'
    )
    r = parse_block(data)
    t = r.table
    assert t.column("line").to_pylist() == [2, 4, 6]
    assert t.column("command").to_pylist() == ["SET", "GET", "GET"]
    assert t.column("key").to_pylist() == ["café", "k", "k2"]
    assert t.column("db").to_pylist() == [0, 0, 1]
    assert [(ln, reason) for ln, reason, _ in r.rejects] == [
        (1, "cli-ok"), (3, "blank"), (5, "binary-garbage"), (7, "truncated"),
    ]
    assert r.lines == 7


def test_read_monitor_variants_agree(tmp_path) -> None:
    body = b'OK\r\n1700000000.000001 [0 127.0.0.1:1] "SET" "k" "v"\r\n1700000000.000002 [0 [::1]:2] "GET" "k"\r\n'
    plain = tmp_path / "c.txt"
    plain.write_bytes(body)
    gz = tmp_path / "c.txt.gz"
    gz.write_bytes(gzip.compress(body))
    frames = [
        monitorlens.read_monitor(plain),
        monitorlens.read_monitor(gz),
        monitorlens.read_monitor(io.BytesIO(body)),
        monitorlens.read_monitor(body.decode().splitlines()),
    ]
    for df in frames:
        assert df.command.tolist() == ["SET", "GET"]
        assert df.client.tolist() == ["127.0.0.1:1", "[::1]:2"]
        assert df.client_kind.tolist() == ["tcp", "tcp6"]
        assert monitorlens.provenance(df).skipped == {"cli-ok": 1}


def test_empty_input(tmp_path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    df = monitorlens.read_monitor(empty)
    assert len(df) == 0
    assert list(df.columns) == list(monitorlens.schema.MONITOR_COLUMNS)
    assert monitorlens.provenance(df).lines == 0


def test_errors_raise_names_file_line_and_text(tmp_path) -> None:
    f = tmp_path / "bad.txt"
    f.write_bytes(b'1700000000.000001 [0 127.0.0.1:1] "GET" "k"\nnot a monitor line\n')
    with pytest.raises(monitorlens.ParseError) as e:
        monitorlens.read_monitor(f, errors="raise")
    msg = str(e.value)
    assert str(f) in msg and ":2:" in msg and "not a monitor line" in msg and "unrecognized" in msg


def test_truncated_gzip_keeps_what_was_read(tmp_path) -> None:
    lines = b"".join(b'1700000000.%06d [0 127.0.0.1:1] "INCR" "n"\n' % i for i in range(5000))
    gz = gzip.compress(lines)
    f = tmp_path / "cut.txt.gz"
    f.write_bytes(gz[: len(gz) // 2])
    df = monitorlens.read_monitor(f)
    prov = monitorlens.provenance(df)
    assert prov.input_truncated
    assert 0 < len(df) < 5000
    assert prov.rejects_by_reason.get("input-truncated") == 1


def test_blocks_split_mid_capture_give_the_same_rows(tmp_path) -> None:
    lines = b"".join(b'1700000000.%06d [%d 127.0.0.1:%d] "SET" "k:%d" "\\x00v"\n' % (i, i % 3, i, i) for i in range(3000))
    f = tmp_path / "c.txt"
    f.write_bytes(lines)
    whole = monitorlens.read_monitor(f)
    stream = monitorlens.ingest.MonitorStream(f, block_size=4096, workers=2)
    import pyarrow as pa

    parts = pa.concat_tables(list(stream)).to_pandas()
    assert parts["line"].tolist() == whole["line"].tolist() == list(range(1, 3001))
    assert parts["key"].tolist() == whole["key"].tolist()
