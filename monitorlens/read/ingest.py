"""Reading MONITOR captures: plain, gzip, stdin, file objects (opened by :mod:`.files`).

Everything here streams: a file is read in blocks cut at line ends, so a capture
larger than memory is never held whole.
"""

from __future__ import annotations

import functools
import io
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, cast

import pyarrow as pa

from . import arrays, grammar
from ..errors import InputError, ParseError
from .files import BLOCK_SIZE, MAX_LINE_BYTES, BlockReader, ByteStream, Source, open_binary, source_name
from .parse import BlockResult, parse_block, renumber
from .schema import ERRORS, MONITOR_SCHEMA, REJECTS_KEPT, Provenance, table_to_frame

if TYPE_CHECKING:
    import pandas as pd





def _hopeless(head: bytes, data: bytes) -> str | None:
    """Why a line longer than a block, starting with ``head`` and going on with ``data``,
    cannot be a MONITOR line (then it is skipped to its end, not kept), or None."""
    if grammar.NON_PRINTABLE.search(head) or grammar.NON_PRINTABLE.search(data):
        return grammar.NOT_TEXT  # as the parser would say first
    if not grammar.looks_like_monitor(head):
        return grammar.UNRECOGNIZED
    return None


class MonitorStream:
    """Stream a MONITOR capture as Arrow tables of events, block by block.

    Iterate it for tables (each a few MB of lines; memory stays bounded
    whatever the file size); after the loop, :attr:`provenance` says what was
    read. Blocks are parsed on ``workers`` threads, since the Arrow kernels
    release the GIL; with ``workers=0``, in the iterating thread, each when it is
    needed (what the analysis' worker processes do when they keep every core busy
    already). A line longer than ``max_line_bytes`` (or longer than a block
    and plainly no MONITOR line: NUL bytes, say) is rejected without being held.

    >>> stream = MonitorStream("capture.txt.gz")  # doctest: +SKIP
    >>> rows = sum(t.num_rows for t in stream); stream.provenance.rejected  # doctest: +SKIP
    """

    def __init__(
        self,
        source: Source,
        *,
        errors: str = "skip",
        block_size: int = BLOCK_SIZE,
        workers: int = 2,
        progress: Callable[[int, int], None] | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        if errors not in ERRORS:
            raise InputError(f"errors={errors!r}: use 'skip' (count and keep bad lines) or 'raise'.")
        self.source = source
        self.name = source_name(source)
        self.errors = errors
        self.block_size = block_size
        self.workers = max(0, workers)
        self.progress = progress
        self.max_line_bytes = max_line_bytes
        self.provenance = Provenance(source=self.name)

    def __iter__(self) -> Iterator[pa.Table]:
        for block in self.blocks():
            yield block.table

    def blocks(self) -> Iterator[BlockResult]:
        """The parsed blocks that have events, in order: each table with its
        :attr:`~monitorlens.read.parse.BlockResult.key_places`, which Parquet's layout needs."""
        tally = _Tally()
        reader = BlockReader(self.block_size, max_line=self.max_line_bytes, judge=_hopeless)
        with open_binary(self.source) as f:
            for result, bytes_in in self._parsed(reader, f):
                yield from self._account(result, tally)
                if self.progress is not None:
                    self.progress(bytes_in, tally.lines)
        self.provenance = tally.provenance(self.name, reader.error)

    def _parsed(self, reader: BlockReader, f: ByteStream) -> Iterator[tuple[BlockResult, int]]:
        """Parsed blocks in file order (with the bytes read so far): here, one at a time,
        with ``workers=0``; else on threads, at most 2 * workers + 1 in flight.

        In a worker process of the analysis a parsing thread only took turns with the
        analysis on a busy core, and held three blocks. Parsed here, on 2 cores, summary of
        4.2M lines: 3.63 -> 3.37 s and a peak of 673 -> 517 MB (PSS of it and its workers,
        medians of 5); of 34M: 23.1 -> 20.2 s, 832 -> 697 MB."""
        jobs = _jobs(reader, f)
        if not self.workers:
            yield from ((job(), done) for job, done in jobs)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            yield from self._threaded(jobs, pool)

    def _threaded(self, jobs: Iterator[tuple[Callable[[], BlockResult], int]], pool: ThreadPoolExecutor
                  ) -> Iterator[tuple[BlockResult, int]]:
        pending: deque[tuple[Future[BlockResult], int]] = deque()
        for job, done in jobs:
            pending.append((pool.submit(job), done))
            # A result that is ready goes out (to be written) at once, as long as a block
            # waits for each worker meanwhile; else the next block is read first. Writes
            # then neither starve the workers nor pile up for the end, when they are idle.
            while pending and (len(pending) > 2 * self.workers or (
                    pending[0][0].done() and sum(not fut.done() for fut, _ in pending) > self.workers)):
                future, read = pending.popleft()
                yield future.result(), read
        for future, read in pending:
            yield future.result(), read

    def _account(self, result: BlockResult, tally: _Tally) -> Iterator[BlockResult]:
        result = renumber(result, tally.lines)
        for line, reason, text in result.rejects:
            tally.reasons[reason] += 1
            if reason in grammar.IGNORABLE:
                continue
            if self.errors == "raise":
                raise ParseError(reason, source=self.name, line=line, text=text)
            if len(tally.kept) < REJECTS_KEPT:
                tally.kept.append((line, reason, text))
        tally.add(result)
        if result.table.num_rows:
            yield result


def _jobs(reader: BlockReader, f: ByteStream) -> Iterator[tuple[Callable[[], BlockResult], int]]:
    """The parse of each block, in file order, with the bytes read once it is parsed."""
    bytes_in = 0
    for longs, block in reader.pieces(f):
        # Numbered from 1 here; _account renumbers each block after the lines before it.
        job = functools.partial(parse_block, block, 1, final=reader.at_end, before=longs, starts_input=not bytes_in)
        bytes_in += len(block) + sum(long.size for long in longs)
        yield job, bytes_in


@dataclass
class _Tally:
    """What a stream has read so far, for its provenance."""

    lines: int = 0
    events: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    dialects: Counter[str] = field(default_factory=Counter)
    kept: list[tuple[int, str, str]] = field(default_factory=list)

    def add(self, result: BlockResult) -> None:
        self.lines += result.lines
        self.events += result.table.num_rows
        self.dialects.update(result.dialects)
        self.first_ts, self.last_ts = _span(result.table, self.first_ts, self.last_ts)

    def provenance(self, source: str, input_error: str | None) -> Provenance:
        reasons = self.reasons + Counter({"input-truncated": 1} if input_error else {})
        return Provenance.counted(
            source,
            "monitor",
            lines=self.lines,
            events=self.events,
            reasons=reasons,
            ignorable=grammar.IGNORABLE,
            first_ts=_iso(self.first_ts),
            last_ts=_iso(self.last_ts),
            dialects=self.dialects,
            input_truncated=input_error is not None,
            rejects=self.kept,
        )


def _span(table: pa.Table, first: int | None, last: int | None) -> tuple[int | None, int | None]:
    if table.num_rows == 0:
        return first, last
    lo, hi = arrays.kernel("min_max", arrays.cast(arrays.whole(table.column("ts")), pa.int64())).values()
    lo, hi = lo.as_py(), hi.as_py()
    return (lo if first is None else min(first, lo)), (hi if last is None else max(last, hi))


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    sec, usec = divmod(us, 1_000_000)
    return datetime.fromtimestamp(sec, timezone.utc).replace(microsecond=usec).isoformat()


def read_monitor(
    source: Source | Iterable[bytes | str],
    *,
    errors: str = "skip",
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> pd.DataFrame:
    """Read a MONITOR capture into a DataFrame of events (see :mod:`monitorlens.read.schema`).

    ``source`` is a path (plain or gzip), ``-`` for stdin, a binary file
    object, or an iterable of lines (bytes or str). Bad lines are counted and
    kept (``monitorlens.rejects(df)``) with ``errors="skip"``; ``errors="raise"``
    raises :class:`~monitorlens.errors.ParseError` at the first one. ``progress(bytes_done,
    lines)`` is called after each block (see :class:`monitorlens.progress.Progress`).

    >>> df = read_monitor("sample_captures/grammar/monitor.txt")  # doctest: +SKIP
    >>> df.command.value_counts().head()  # doctest: +SKIP
    """
    opened: Source
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "read"):
        opened = cast(Source, source)  # a file object: what has read() (mypy cannot narrow on it)
    else:  # an iterable of lines
        opened = io.BytesIO(b"".join(_as_line(x) for x in source))
    stream = MonitorStream(opened, errors=errors, workers=workers, progress=progress, max_line_bytes=max_line_bytes)
    tables = list(stream)
    table = pa.concat_tables(tables) if tables else MONITOR_SCHEMA.empty_table()
    df = table_to_frame(table)
    df.attrs["provenance"] = stream.provenance
    return df


def _as_line(x: bytes | str) -> bytes:
    b = x.encode("utf-8", "surrogateescape") if isinstance(x, str) else bytes(x)
    return b if b.endswith(b"\n") else b + b"\n"
