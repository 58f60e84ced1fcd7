"""The only place that opens capture files: plain, gzip, stdin, file objects.

Everything here streams: a file is read in blocks cut at line ends, so a capture
larger than memory is never held whole.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Union

import pyarrow as pa

from .. import __version__
from . import arrays, grammar
from ..errors import InputError, ParseError
from .parse import BlockResult, parse_block, renumber
from .schema import MONITOR_SCHEMA, REJECTS_KEPT, Provenance, table_to_frame

if TYPE_CHECKING:
    import pandas as pd

Source = Union[str, os.PathLike, BinaryIO]

BLOCK_SIZE = 8 << 20
GZIP_MAGIC = b"\x1f\x8b"


def source_name(source: object) -> str:
    """A name for messages and provenance: the path, ``<stdin>`` or the object's name."""
    if isinstance(source, (str, os.PathLike)):
        return "<stdin>" if str(source) == "-" else str(source)
    return str(getattr(source, "name", "<stream>"))


@contextlib.contextmanager
def open_binary(source: Source) -> Iterator[BinaryIO]:
    """Open a path (plain or gzip, detected by content), ``-`` (stdin) or a binary file object.

    >>> with open_binary("capture.txt.gz") as f:  # doctest: +SKIP
    ...     head = f.read(100)
    """
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            yield _maybe_gunzip(sys.stdin.buffer)
            return
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such file. Check the path, or pass '-' to read stdin.")
        if path.is_dir():
            raise InputError(f"{path}: is a directory; pass a capture file.")
        try:
            f = open(path, "rb")
        except OSError as e:
            raise InputError(f"{path}: cannot open: {e.strerror}") from None
        with f:
            yield _maybe_gunzip(f)
        return
    if isinstance(source, io.TextIOBase):
        raise InputError(f"{source_name(source)}: opened in text mode; open it with 'rb'.")
    yield _maybe_gunzip(source)


SNIFF_BYTES = 64 << 10


def detect_kind(source: Source) -> str:
    """What a file holds: ``monitor``, ``clients`` (CLIENT LIST snapshots), ``connections``
    (``timestamp,clients`` CSV) or ``app-counts`` (``uniq -c`` per name), from its first bytes.

    stdin and file objects are not sniffed (that would consume them): they are ``monitor``,
    as is a file nothing in which is recognized.
    """
    if not isinstance(source, (str, os.PathLike)) or str(source) == "-":
        return "monitor"
    with open_binary(source) as f:
        head = f.read(SNIFF_BYTES)
    first = next((ln for ln in head.split(b"\n", 50)[:50] if ln.strip()), b"")
    if grammar.looks_like_monitor(first):
        return "monitor"  # the common case, without loading the CLIENT LIST readers (and pandas)
    from .clientlist import detect_kind as sniff  # lazy: the CLIENT LIST readers load pandas

    # Nothing recognizable (an empty file, garbage): read it as a capture, whose
    # reader counts and reports every line it rejects.
    return sniff(head, str(source)) or "monitor"


def _maybe_gunzip(f: BinaryIO) -> BinaryIO:
    """Wrap ``f`` in a gzip reader when its first bytes are the gzip magic."""
    buffered = f if hasattr(f, "peek") else io.BufferedReader(f)  # type: ignore[arg-type]
    head = buffered.peek(2)[:2]  # type: ignore[union-attr]
    if head == GZIP_MAGIC:
        return GunzipReader(buffered)  # type: ignore[return-value]
    return buffered  # type: ignore[return-value]


class GunzipReader(io.RawIOBase):
    """Read a gzip stream (several members too) and keep what precedes a cut or damage.

    gzip.GzipFile raises at a stream cut short and loses what the failing read
    had decompressed; a capture compressed while it was killed ends exactly so.
    Here :attr:`error` says what happened and every byte before it is returned.
    """

    CHUNK = 1 << 16

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.name = getattr(raw, "name", "<stream>")
        self.error: str | None = None
        self._d = zlib.decompressobj(31)
        self._pending: list[bytes] = []
        self._size = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        while not self._done and (n < 0 or self._size < n):
            self._feed()
        data = b"".join(self._pending)
        if n < 0 or n >= len(data):
            self._pending, self._size = [], 0
            return data
        self._pending, self._size = [data[n:]], len(data) - n
        return data[:n]

    def _feed(self) -> None:
        chunk = self.raw.read(self.CHUNK)
        if not chunk:
            if not self._d.eof:
                self.error = "the gzip stream ends early (the file was cut short)"
            self._done = True
            return
        try:
            out = self._d.decompress(chunk)
            while self._d.eof and self._d.unused_data:
                rest = self._d.unused_data
                if not rest.startswith(GZIP_MAGIC):
                    self._done = True  # padding after the last member
                    break
                self._d = zlib.decompressobj(31)
                out += self._d.decompress(rest)
        except zlib.error as e:
            self.error = f"the gzip stream is damaged ({e})"
            self._done = True
            return
        if out:
            self._pending.append(out)
            self._size += len(out)


class BlockReader:
    """Blocks of whole lines from a binary file (each ends with ``\\n`` but perhaps the last).

    A gzip stream cut short (a capture compressed while it was killed) ends
    the blocks early instead of failing: :attr:`error` then says why, and what
    was read before it is kept.
    """

    def __init__(self, block_size: int = BLOCK_SIZE) -> None:
        self.block_size = block_size
        self.error: str | None = None
        self.at_end = False

    def blocks(self, f: BinaryIO) -> Iterator[bytes]:
        rest = b""
        while True:
            try:
                data = f.read(self.block_size)
            except OSError as e:
                raise InputError(f"{source_name(f)}: read failed: {e}") from None
            if not data:
                self.error = getattr(f, "error", None)
                break
            cut = data.rfind(b"\n") + 1
            if not cut:  # no line ends in this read
                rest += data
                continue
            yield b"".join((rest, memoryview(data)[:cut]))  # the block's one copy
            rest = data[cut:]
        self.at_end = True
        if rest:
            yield rest


ERRORS = ("skip", "raise")


class MonitorStream:
    """Stream a MONITOR capture as Arrow tables of events, block by block.

    Iterate it for tables (each a few MB of lines; memory stays bounded
    whatever the file size); after the loop, :attr:`provenance` says what was
    read. Blocks are parsed on ``workers`` threads, since the Arrow kernels
    release the GIL.

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
    ) -> None:
        if errors not in ERRORS:
            raise InputError(f"errors={errors!r}: use 'skip' (count and keep bad lines) or 'raise'.")
        self.source = source
        self.name = source_name(source)
        self.errors = errors
        self.block_size = block_size
        self.workers = max(1, workers)
        self.progress = progress
        self.provenance = Provenance(source=self.name)

    def __iter__(self) -> Iterator[pa.Table]:
        tally = _Tally()
        reader = BlockReader(self.block_size)
        with open_binary(self.source) as f, ThreadPoolExecutor(self.workers) as pool:
            for result, bytes_in in self._parsed(reader, f, pool):
                yield from self._account(result, tally)
                if self.progress is not None:
                    self.progress(bytes_in, tally.lines)
        self.provenance = tally.provenance(self.name, reader.error)

    def _parsed(
        self, reader: BlockReader, f: BinaryIO, pool: ThreadPoolExecutor
    ) -> Iterator[tuple[BlockResult, int]]:
        """Parsed blocks in file order (with the bytes read so far), at most 2 * workers + 1 in flight."""
        pending: deque[tuple[Future[BlockResult], int]] = deque()
        bytes_in = 0
        for block in reader.blocks(f):
            # Numbered from 1 here; _account renumbers each block after the lines before it.
            pending.append((pool.submit(parse_block, block, 1, final=reader.at_end), bytes_in + len(block)))
            bytes_in += len(block)
            # A result that is ready goes out (to be written) at once, as long as a block
            # waits for each worker meanwhile; else the next block is read first. Writes
            # then neither starve the workers nor pile up for the end, when they are idle.
            while pending and (len(pending) > 2 * self.workers or (
                    pending[0][0].done() and sum(not fut.done() for fut, _ in pending) > self.workers)):
                future, done = pending.popleft()
                yield future.result(), done
        for future, done in pending:
            yield future.result(), done

    def _account(self, result: BlockResult, tally: _Tally) -> Iterator[pa.Table]:
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
            yield result.table


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
        skipped = {r: c for r, c in self.reasons.items() if r in grammar.IGNORABLE}
        rejected = {r: c for r, c in self.reasons.items() if r not in grammar.IGNORABLE}
        if input_error:
            rejected["input-truncated"] = 1
        return Provenance(
            source=source,
            kind="monitor",
            lines=self.lines,
            events=self.events,
            rejected=sum(rejected.values()),
            rejects_by_reason=dict(sorted(rejected.items())),
            skipped=dict(sorted(skipped.items())),
            first_ts=_iso(self.first_ts),
            last_ts=_iso(self.last_ts),
            dialects={k: v for k, v in sorted(self.dialects.items()) if v},
            input_truncated=input_error is not None,
            monitorlens_version=__version__,
            rejects=tuple(self.kept),
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
    source: Source, *, errors: str = "skip", workers: int = 2, progress: Callable[[int, int], None] | None = None
) -> pd.DataFrame:
    """Read a MONITOR capture into a DataFrame of events (see :mod:`monitorlens.read.schema`).

    ``source`` is a path (plain or gzip), ``-`` for stdin, a binary file
    object, or an iterable of lines (bytes or str). Bad lines are counted and
    kept (``monitorlens.rejects(df)``) with ``errors="skip"``; ``errors="raise"``
    raises :class:`~monitorlens.errors.ParseError` at the first one. ``progress(bytes_done,
    lines)`` is called after each block (see :class:`monitorlens.store.Progress`).

    >>> df = read_monitor("sample_captures/grammar/monitor.txt")  # doctest: +SKIP
    >>> df.command.value_counts().head()  # doctest: +SKIP
    """
    if not isinstance(source, (str, os.PathLike)) and not hasattr(source, "read"):
        source = io.BytesIO(b"".join(_as_line(x) for x in source))  # an iterable of lines
    stream = MonitorStream(source, errors=errors, workers=workers, progress=progress)
    tables = list(stream)
    table = pa.concat_tables(tables) if tables else MONITOR_SCHEMA.empty_table()
    df = table_to_frame(table)
    df.attrs["provenance"] = stream.provenance
    return df


def _as_line(x: bytes | str) -> bytes:
    b = x.encode("utf-8", "surrogateescape") if isinstance(x, str) else bytes(x)
    return b if b.endswith(b"\n") else b + b"\n"
