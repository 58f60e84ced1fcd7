"""Block parsing: the vectorized fast path agrees with the reference parser, and bad input is counted."""

from __future__ import annotations

import gzip
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import monitorlens
from monitorlens.read import fastpath
from monitorlens.read import grammar
from monitorlens.read.parse import parse_block

SOURCES = ["127.0.0.1:6000", "[::1]:47068", "unix:/tmp/r.sock", "lua", "", "10.0.0.7:1"]
printable = st.binary(max_size=12).map(lambda b: bytes(c % 95 + 32 for c in b))
arg = st.one_of(printable, st.binary(max_size=12), st.sampled_from([b"", b'"', b"\\", b'a\\" "b', b" "]))
# Times of real captures (10 digits of seconds: the fast path) and any other (the reference parser's).
ts_st = st.one_of(st.integers(10**15, 10**16 - 1), st.integers(0, 10**18 - 1))
line_st = st.tuples(
    ts_st, st.one_of(st.integers(0, 15), st.integers(0, 10**9 - 1)), st.sampled_from(SOURCES),
    st.lists(arg, min_size=1, max_size=6),
)


def assert_agrees_with_reference(data: bytes) -> None:
    """parse_block gives, line by line, the rows and rejects the reference parser gives."""
    result = parse_block(data)
    want_rows, want_rejects = [], []
    for number, raw in enumerate(data.split(b"\n")[:-1], start=1):
        p = grammar.parse_line(raw)
        if isinstance(p, grammar.Rejected):
            want_rejects.append((number, p.reason))
            continue
        source = p.source if p.dialect == grammar.DIALECT_MODERN else None
        command = p.argv[0].upper().decode("utf-8", "backslashreplace")
        want_rows.append((number, p.ts_us, p.db, source, command, list(p.argv[1:])))
    t = result.table
    columns = [t.column("ts").cast("int64")] + [t.column(c) for c in ("db", "client", "command", "args")]
    got_rows = list(zip(t.column("line").to_pylist(), *(c.to_pylist() for c in columns)))
    assert got_rows == want_rows
    assert [(line, reason) for line, reason, _ in result.rejects] == want_rejects


@settings(max_examples=200, deadline=None)
@given(st.lists(line_st, min_size=1, max_size=20))
def test_fast_path_agrees_with_reference(specs: list[tuple]) -> None:
    lines = [grammar.format_line(*s) for s in specs]
    assert_agrees_with_reference(b"\n".join(lines) + b"\n")
    in_range = sum(s[0] <= grammar.MAX_TS_US for s in specs)  # after the year 9999: out-of-range
    assert len(parse_block(b"\n".join(lines) + b"\n").table) == in_range


def test_plain_lines_take_the_fast_path() -> None:
    dbs = (0, 9, 15, 123, 9999, 1)  # up to fastpath._DB_DIGITS digits
    lines = [grammar.format_line(1_700_000_000_000_001 + i * 999_999, db, src, [b"GET", b"k:%d" % i, b"v w"])
             for i, (db, src) in enumerate(zip(dbs, SOURCES, strict=True))]
    lines.append(grammar.format_line(1_700_000_000_000_001, 0, "a:1", [b"SET", b'q"uote']))  # escaped: slow
    for eol in (b"\n", b"\r\n"):
        plain = fastpath.plain_lines(fastpath.Block.of(eol.join(lines) + eol))
        assert plain.lines.tolist() == list(range(len(SOURCES)))


def test_line_endings_at_the_end_of_a_block() -> None:
    # The last line of a block may end with '\r', '\r\n', '\n' or nothing; '\r' elsewhere is a stray byte.
    line = b'1700000000.000001 [0 a:1] "GET" "k"'
    for tail, fast in ((b"", True), (b"\n", True), (b"\r", True), (b"\r\n", True), (b"\r\r", False), (b"\r\r\n", False)):
        plain = fastpath.plain_lines(fastpath.Block.of(line + tail))
        assert plain.lines.tolist() == ([0] if fast else []), tail
        assert_agrees_with_reference(line + tail + (b"" if tail.endswith(b"\n") else b"\n"))


MUTATIONS = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 40), st.integers(-20, -1), st.integers(0, 200)),  # where: head, end, anywhere
        st.integers(0, 2),  # insert, delete or replace
        st.sampled_from(list(b'"\\ .[]0123456789\r\nab\x00\xff')),
    ),
    min_size=1, max_size=4,
)


def mutate(line: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    for pos, op, byte in edits:  # pos < 0 counts from the end
        pos %= len(line) + 1
        if op == 0:
            line = line[:pos] + bytes([byte]) + line[pos:]  # insert
        elif op == 1:
            line = line[:pos] + line[pos + 1 :]  # delete
        else:
            line = line[:pos] + bytes([byte]) + line[pos + 1 :]  # replace
    return line


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(line_st, MUTATIONS), min_size=1, max_size=12), st.booleans())
def test_any_damaged_line_parses_as_the_reference_says(specs: list[tuple], crlf: bool) -> None:
    eol = b"\r\n" if crlf else b"\n"
    assert_agrees_with_reference(eol.join(mutate(grammar.format_line(*spec), edits) for spec, edits in specs) + eol)


NEAR_MISSES = [
    b'1700000000.000001 [0 a:1] "G" "',  # odd quotes, the last one ending the line
    b'1700000000.000001 [0 a:1] " "xx"b"',  # quotes pair up, but not at separators
    b'1700000000.000001 [0 a:1] "G"  "k"', b'1700000000.000001 [0 a:1] "G" k', b'1700000000.000001 [0 a:1] "G""k"',
    b'1700000000.000001 [0 a:1]"G"', b'1700000000.000001 [0 a:1 "G"', b'1700000000.000001 [0] "G"',
    b'1700000000.000001 [a:1] "G"', b'1700000000.000001 0 a:1] "G"', b'1700000000.000001 x0 a:1] "G"',
    b'1700000000.000001 [ a:1] "G"', b'1700000000.00000a [0 a:1] "G"', b'1700000000.00001 [0 a:1] "G"',
    b'1700000000.0000001 [0 a:1] "G"', b'1700000000x000001 [0 a:1] "G"', b'170000000a.000001 [0 a:1] "G"',
    b'1700000000.000001[0 a:1] "G"', b'1.000001 [0 a:1] "G"', b'1234567890123.000001 [0 a:1] "G"',
    b'1700000000.000001 [1234567890 a:1] "G"', b'1700000000.000001 [0 ] "G"', b'1700000000.000001 [0 a:1] "G\r" "k"',
    b'1700000000.000001 [0 a:1] "G"\r\r', b'1700000000.000001 [0 a\x00] "G"', b'1700000000.000001 [0 x] "y] "G"',
    b'1700000000.0000001[0 a:1] "G"', b'1700000000.000001 [0x a:1] "G"', b'1700000000.000001 [0 a:1] "G"x"k"',
    b'"G" "k"', b'1700000000.000001 "G"', b'1700000000.000001 (db 0) "G"', b"",
]


@pytest.mark.parametrize("line", NEAR_MISSES)
def test_near_misses_parse_as_the_reference_says(line: bytes) -> None:
    good = b'1700000000.000001 [0 a:1] "GET" "k"\n'
    assert_agrees_with_reference(good + line + b"\n" + good)


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
    assert list(df.columns) == list(monitorlens.read.schema.MONITOR_COLUMNS)
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
    stream = monitorlens.read.ingest.MonitorStream(f, block_size=4096, workers=2)
    import pyarrow as pa

    parts = pa.concat_tables(list(stream)).to_pandas()
    assert parts["line"].tolist() == whole["line"].tolist() == list(range(1, 3001))
    assert parts["key"].tolist() == whole["key"].tolist()


def test_blocks_number_their_rejects_in_the_whole_file(tmp_path) -> None:
    # Each block is parsed as if it began the file, then renumbered after the lines before it.
    rows = [b'1700000000.%06d [0 127.0.0.1:1] "GET" "k:%d"\n' % (i, i) for i in range(3000)]
    for at in (0, 499, 1777, 2999):
        rows[at] = b"garbage %d\n" % at
    rows.append(b'1700000000.999999 [0 127.0.0.1:1] "SET" "cut')
    f = tmp_path / "c.txt"
    f.write_bytes(b"".join(rows))
    for block_size, workers in ((4096, 2), (1 << 20, 2), (4096, 0), (1 << 20, 0)):  # 0: parsed in this thread
        stream = monitorlens.read.ingest.MonitorStream(f, block_size=block_size, workers=workers)
        import pyarrow as pa

        lines = pa.concat_tables(list(stream)).column("line").to_pylist()
        assert lines == [n for n in range(1, 3001) if n not in (1, 500, 1778, 3000)]
        assert [(n, reason) for n, reason, _ in stream.provenance.rejects] == [
            (1, "unrecognized"), (500, "unrecognized"), (1778, "unrecognized"), (3000, "unrecognized"),
            (3001, "truncated"),
        ]


def test_container_commands_with_and_without_a_subcommand() -> None:
    # A bare container command has no subcommand; with none in a block, no row is grouped by one.
    for data in (b'1700000000.000001 [0 a:1] "CLIENT"\n1700000000.000002 [0 a:1] "get" "k"\n',
                 b'1700000000.000001 [0 a:1] "client" "setname" "x"\n1700000000.000002 [0 a:1] "CLIENT"\n'
                 b'1700000000.000003 [0 a:1] "OBJECT" "ENCODING" "k"\n'):
        t = parse_block(data).table
        rows = list(zip(*(t.column(c).to_pylist() for c in ("command", "subcommand", "key", "key_rule"))))
        want = {b"get": [("CLIENT", None, None, "none"), ("GET", None, "k", "spec")],
                b"set": [("CLIENT", "SETNAME", None, "none"), ("CLIENT", None, None, "none"),
                         ("OBJECT", "ENCODING", "k", "spec")]}
        assert rows == want[b"get" if b'"get"' in data else b"set"]
