"""Lines no server writes (too long, out of range, cut at the start) are rejected with a reason; the run goes on."""

from __future__ import annotations

import io

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import monitorlens
from monitorlens.read import grammar
from monitorlens.read.files import TOO_LONG, BlockReader
from monitorlens.read.ingest import MonitorStream


def line(i: int, value: bytes = b"v") -> bytes:
    return b'1700000000.%06d [0 127.0.0.1:6000] "SET" "k:%d" "%s"\n' % (i, i, value)


def stream_of(data: bytes, **kw: int) -> tuple[list[int], list[tuple[int, str]], MonitorStream]:
    """The lines and rejects of ``data`` streamed; parsed in the caller's thread (``workers=0``,
    as the analysis' worker processes do) and on two threads, which must agree."""
    seen = []
    for workers in (0, 2):
        stream = MonitorStream(io.BytesIO(data), workers=workers, **kw)
        tables = list(stream)
        lines = pa.concat_tables(tables).column("line").to_pylist() if tables else []
        seen.append((lines, [(n, reason) for n, reason, _ in stream.provenance.rejects], stream.provenance.lines))
    assert seen[0] == seen[1]
    return seen[1][0], seen[1][1], stream


def test_long_lines_are_rejected_with_their_reason() -> None:
    rows = [
        line(1),
        line(2, b"a" * 500),  # a MONITOR line longer than the limit: too long
        line(3),
        b"\x00" * 5000 + b"\n",  # NUL bytes: hopeless as soon as it outgrows a block
        line(5),
        b"z" * 5000 + b"\n",  # printable, but no MONITOR line starts so
        line(7, b"b" * 100),
        line(8, b"\x01" * 3000)[:-1].replace(b"\x01", b"c", 50) + b"\n",  # a good start, then bytes MONITOR escapes
        line(9, b"d" * 900)[:-1],  # too long, at the end, without a line end
    ]
    for block_size in (64, 100, 333, 1 << 20):
        lines, rejects, stream = stream_of(b"".join(rows), block_size=block_size, max_line_bytes=300)
        assert lines == [1, 3, 5, 7], block_size
        expected = [(2, TOO_LONG), (4, grammar.NOT_TEXT), (6, grammar.UNRECOGNIZED), (8, grammar.NOT_TEXT),
                    (9, TOO_LONG)]
        assert rejects == expected, block_size
        assert stream.provenance.lines == 9
        texts = [text for _, _, text in stream.provenance.rejects]
        assert all(len(t) < 400 for t in texts) and "not kept" in texts[0]


def test_the_default_limit_keeps_a_real_sized_line() -> None:
    big = b"x" * (3 << 20)  # longer than a block of the test, far below the default limit
    lines, rejects, _ = stream_of(line(1) + line(2, big) + line(3), block_size=1 << 20)
    assert lines == [1, 2, 3] and rejects == []


line_kinds = st.sampled_from(["ok", "long-ok", "nul", "junk", "blank"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(line_kinds, st.integers(0, 400)), min_size=1, max_size=25), st.integers(16, 200),
       st.booleans())
def test_every_line_is_an_event_or_a_counted_reject(kinds: list[tuple[str, int]], block: int, newline: bool) -> None:
    """Whatever the lengths and the block size, lines are numbered as in the file and none is lost."""
    limit = 250
    rows, want_events = [], []
    for n, (kind, size) in enumerate(kinds, start=1):
        if kind in ("ok", "long-ok"):
            row = line(n, b"v" * (size if kind == "long-ok" else size % 20))
        else:
            row = {"nul": b"\x00" * size, "junk": b"q" * size, "blank": b""}[kind] + b"\n"
        rows.append(row)
    if not newline and rows[-1] != b"\n":
        rows[-1] = rows[-1][:-1]
    want_events = [n for n, ((kind, _), row) in enumerate(zip(kinds, rows), 1) if "ok" in kind and len(row) <= limit]
    data = b"".join(rows)
    lines, rejects, stream = stream_of(data, block_size=block, max_line_bytes=limit)
    assert stream.provenance.lines == len(kinds)
    assert lines == want_events
    assert sorted(set(lines) | {n for n, _ in rejects} | {n for n, row in enumerate(rows, 1) if row == b"\n"}) \
        == list(range(1, len(kinds) + 1))
    for n, reason in rejects:
        if len(rows[n - 1]) > limit:
            assert reason in (TOO_LONG, grammar.NOT_TEXT, grammar.UNRECOGNIZED)


def test_block_reader_memory_stays_bounded_on_a_huge_line() -> None:
    """A 64 MiB line of NULs is skipped: no block handed out is longer than the block size."""

    class Zeros(io.RawIOBase):
        def __init__(self, n: int) -> None:
            self.left = n

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            n = min(n, self.left)
            self.left -= n
            return b"\x00" * n

    reader = BlockReader(1 << 20, judge=lambda head, data: grammar.NOT_TEXT if b"\x00" in data else None)
    pieces = list(reader.pieces(Zeros(64 << 20)))  # type: ignore[arg-type]
    assert len(pieces) == 1
    longs, block = pieces[0]
    assert block == b"" and len(longs) == 1 and longs[0].size == 64 << 20 and len(longs[0].start) == 300


def test_client_list_lines_too_long_are_counted() -> None:
    good = b"id=3 addr=127.0.0.1:5 fd=8 name=a age=1 idle=0 flags=N db=0 omem=0 cmd=get\n"
    data = good + b"id=4 addr=127.0.0.1:6 name=" + b"n" * (2 << 20) + b" cmd=get\n" + good.replace(b"id=3", b"id=5")
    df = monitorlens.read_client_list(io.BytesIO(data))
    assert df.id.tolist() == [3, 5]
    assert [(n, r) for n, r, _ in monitorlens.rejects(df).itertuples(index=False)] == [(2, TOO_LONG)]


def test_every_line_is_accounted_for_in_every_reader() -> None:
    """lines = events + rejected + skipped (a gzip stream cut short adds one reject, no line)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pastes = root.parent / "shared" / "wild-pastes"
    readers = {"monitor": monitorlens.read_monitor, "clientlist": monitorlens.read_client_list}
    paths = [(monitorlens.read_monitor, p) for p in sorted((root / "sample_captures").glob("*/monitor.txt*"))]
    paths += [(monitorlens.read_client_list, p) for p in sorted((root / "sample_captures").glob("*/clients.log*"))]
    paths += [(monitorlens.read_connection_counts, p) for p in sorted((root / "sample_captures").glob("*/connections.csv"))]
    if pastes.is_dir():
        paths += [(readers[p.parent.name], p) for p in sorted(pastes.glob("*/*.txt"))]
    assert len(paths) > 8
    for reader, path in paths:
        prov = monitorlens.provenance(reader(path))
        assert prov.lines == prov.events + prov.rejected + sum(prov.skipped.values()) - prov.input_truncated, path


def test_ingest_takes_the_line_limit(tmp_path) -> None:
    from monitorlens.cli import main

    capture = tmp_path / "big.txt"
    capture.write_bytes(line(1) + line(2, b"x" * (2 << 20)) + line(3))
    out = tmp_path / "big.parquet"
    assert main(["ingest", str(capture), "-o", str(out), "--max-line-mib", "1"]) == 0
    prov = monitorlens.provenance(monitorlens.load(out))
    assert prov.events == 2 and prov.rejects_by_reason == {TOO_LONG: 1}
    assert main(["ingest", str(capture), "-o", str(out)]) == 0  # the default keeps it
    assert monitorlens.provenance(monitorlens.load(out)).events == 3
