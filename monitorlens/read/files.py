"""Opening inputs: every reader opens its input here, once, and reads it in one pass.

An input is a path (plain or gzip, detected by content), ``-`` (stdin) or a binary
file object. It may be a pipe (``summary <(zcat capture.gz)``), a FIFO or stdin: it can
be read once only. So an input is opened exactly once, as an :class:`Input`, whose
first bytes can be *peeked* (to tell gzip from text, a Parquet file from a capture, a
CLIENT LIST log from MONITOR output) and are then read again by the reader.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, Union

from ..errors import InputError
from .schema import Provenance
from .sniff import kind_of

if TYPE_CHECKING:
    import pyarrow as pa


class ByteStream(Protocol):
    """What the readers read from: bytes, front to back (a binary file, an :class:`Input`, a gunzip)."""

    def read(self, n: int = -1, /) -> bytes: ...


# An input as the readers take it: a path, "-" (stdin), a binary file object or an Input already open.
Source = Union[str, os.PathLike, BinaryIO, "Input"]

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
SNIFF_BYTES = 64 << 10  # what kind detection may look at
BLOCK_SIZE = 8 << 20  # bytes read at once


def source_name(source: object) -> str:
    """A name for messages and provenance: the path, ``<stdin>`` or the object's name."""
    if isinstance(source, (str, os.PathLike)):
        return "<stdin>" if str(source) == "-" else str(source)
    return str(getattr(source, "name", "<stream>"))


class Input:
    """One opened input: a binary stream (gzip already undone) read once, front to back.

    :meth:`peek` returns the first bytes without consuming them: the reader that
    follows gets them again from :meth:`read`. The stream is never opened twice, so a
    pipe or a FIFO loses nothing to the look.
    """

    def __init__(self, stream: ByteStream, name: str, *, file: BinaryIO | None = None, gzip: bool = False) -> None:
        self.name = name
        self.gzip = gzip  # the bytes read are the gzip stream's content
        self._stream = stream
        self._file = file  # the opened file itself (for Parquet's random access)
        self._head = b""
        self._consumed = 0  # bytes handed out by read()

    def readable(self) -> bool:
        return True

    def peek(self, n: int) -> bytes:
        """Up to ``n`` first bytes of what :meth:`read` will return (fewer only at the end)."""
        while len(self._head) < n:
            chunk = self._stream.read(n - len(self._head))
            if not chunk:
                break
            self._head += chunk
        return self._head[:n]

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            data = self._stream.read(n)
        elif n < 0:
            data, self._head = self._head + self._stream.read(), b""
        else:
            data, self._head = self._head[:n], self._head[n:]
        self._consumed += len(data)
        return data

    @property
    def error(self) -> str | None:
        """Why the input ended early (a gzip stream cut short or damaged), else None."""
        return getattr(self._stream, "error", None)

    def random_access(self) -> pa.NativeFile:
        """The whole input as a random-access file, for Parquet (whose index is at its end).

        A regular file is used in place; a pipe is read into memory, since Parquet
        cannot be read front to back.
        """
        import pyarrow as pa

        f = self._file
        if f is not None and not self.gzip and self._consumed == 0:
            try:
                f.seek(0)
                return pa.PythonFile(f, mode="r")
            except (OSError, ValueError, io.UnsupportedOperation):
                pass
        return pa.BufferReader(self.read())


UTF8_BOM = b"\xef\xbb\xbf"  # what Windows editors put before text saved as UTF-8


def _stream_of(f: ByteStream, name: str, file: BinaryIO | None = None) -> Input:
    opened = Input(f, name, file=file)
    if opened.peek(2) == GZIP_MAGIC:
        opened = Input(GunzipReader(opened), name, file=file, gzip=True)
    if opened.peek(3) == UTF8_BOM:
        opened.read(3)
    return opened


@contextlib.contextmanager
def open_binary(source: Source) -> Iterator[Input]:
    """Open a path (plain or gzip, detected by content), ``-`` (stdin) or a binary file object.

    An :class:`Input` already open is handed back as it is (its peeked bytes kept).

    >>> with open_binary("capture.txt.gz") as f:  # doctest: +SKIP
    ...     head = f.peek(100)
    """
    if isinstance(source, Input):
        yield source
        return
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            yield _stream_of(sys.stdin.buffer, "<stdin>")
            return
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such file. Check the path, or pass '-' to read stdin.")
        if path.is_dir():
            raise InputError(f"{path}: is a directory; pass a capture file.")
        try:
            f = open(path, "rb", buffering=0)
        except OSError as e:
            raise InputError(f"{path}: cannot open: {e.strerror}") from None
        with f:
            yield _stream_of(f, str(source), file=f)
        return
    if isinstance(source, io.TextIOBase):
        raise InputError(f"{source_name(source)}: opened in text mode; open it with 'rb'.")
    yield _stream_of(source, source_name(source), file=source)


@contextlib.contextmanager
def spooled(source: Source) -> Iterator[Path]:
    """A stream (``-``, a pipe, a FIFO) copied as it is (gzip stays gzip) into a temporary
    file that a reader needing two passes opens twice; the file is removed on exit. Memory:
    one 1 MiB buffer; disk: the stream's bytes, in ``TMPDIR``.

    >>> with spooled("-") as path:  # doctest: +SKIP
    ...     analyze_stream(path, snapshots=...)
    """
    name = source_name(source)
    with tempfile.TemporaryDirectory(prefix="monitorlens-") as folder:
        path = Path(folder) / "capture"
        try:
            with contextlib.ExitStack() as stack:
                if isinstance(source, (str, os.PathLike)):
                    f = sys.stdin.buffer if str(source) == "-" else stack.enter_context(open(source, "rb"))
                else:
                    f = source
                shutil.copyfileobj(f, stack.enter_context(open(path, "wb")), 1 << 20)
        except OSError as e:
            raise InputError(f"{name}: cannot copy it to {folder} to read it twice ({e.strerror or e}). Give the "
                             "capture as a file, or set TMPDIR to a folder with room for it.") from None
        yield path


class GunzipReader(io.RawIOBase):
    """Read a gzip stream (several members too) and keep what precedes a cut or damage.

    gzip.GzipFile raises at a stream cut short and loses what the failing read
    had decompressed; a capture compressed while it was killed ends exactly so.
    Here :attr:`error` says what happened and every byte before it is returned.
    Bytes after the last member that start no new member (a capture continued in
    plain text: ``(gzip -c part1; cat part2) > cap.gz``) are returned as they are,
    and :attr:`note` says so: the reader then counts each of their lines.
    """

    CHUNK = 1 << 16

    def __init__(self, raw: ByteStream) -> None:
        self.raw = raw
        self.name = getattr(raw, "name", "<stream>")
        self.error: str | None = None
        self.note: str | None = None
        self._d: zlib._Decompress | None = zlib.decompressobj(31)
        self._pending: list[bytes] = []
        self._size = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or self._size < n):
            self._feed()
        data = b"".join(self._pending)
        if n < 0 or n >= len(data):
            self._pending, self._size = [], 0
            return data
        self._pending, self._size = [data[n:]], len(data) - n
        return data[:n]

    def _feed(self) -> None:
        data = self.raw.read(self.CHUNK)
        if not data:
            if self._d is not None and not self._d.eof:
                self.error = "the gzip stream ends early (the file was cut short)"
            self._done = True
            return
        if self._d is None:  # past the gzip members: plain bytes
            self._out(data)
            return
        try:
            while data:
                if self._d.eof:  # a member ended: another one, or plain bytes
                    if len(data) < 2:
                        data += self.raw.read(1)
                    if not data.startswith(GZIP_MAGIC):
                        self._d = None
                        self.note = "plain bytes follow the gzip stream; read as they are"
                        self._out(data)
                        return
                    self._d = zlib.decompressobj(31)
                self._out(self._d.decompress(data))
                data = self._d.unused_data if self._d.eof else b""
        except zlib.error as e:
            self.error = f"the gzip stream is damaged ({e})"
            self._done = True

    def _out(self, data: bytes) -> None:
        if data:
            self._pending.append(data)
            self._size += len(data)


# A MONITOR line holds the command's arguments escaped: Redis's largest value (proto-max-bulk-len,
# 512 MB) is a line of a little over 512 MB as text, up to 4x as binary (\xHH). Longer lines are
# rejected (``too-long``, counted) in bounded memory: about this much, so under 1 GiB. A capture
# with larger binary values needs a higher limit (``max_line_bytes``).
MAX_LINE_BYTES = 768 << 20
TOO_LONG = "too-long"  # a line longer than the reader's limit


@dataclass(frozen=True)
class LongLine:
    """A line that was not kept: skipped in bounded memory, its start kept to show."""

    reason: str  # TOO_LONG, or the reason the reader's judge gave
    size: int  # bytes, its line end included
    start: bytes  # its first bytes

    @property
    def detail(self) -> str:
        return f"a line of {self.size:,} bytes, not kept"


# A long line's judge: given its first bytes and the bytes just read of it, the reason it
# cannot be a line of the format being read (then the rest is skipped), or None.
LineJudge = Callable[[bytes, bytes], "str | None"]


class BlockReader:
    """Blocks of whole lines from a binary file (each ends with ``\\n`` but perhaps the last).

    A gzip stream cut short (a capture compressed while it was killed) ends
    the blocks early instead of failing: :attr:`error` then says why, and what
    was read before it is kept.

    Memory stays bounded whatever the lines: a line longer than ``max_line`` bytes,
    or one longer than a block that ``judge`` finds hopeless (a MONITOR line of NUL
    bytes, say), is skipped to its end without being kept, and :meth:`pieces` hands
    out a :class:`LongLine` in its place.
    """

    STUB = 300  # bytes kept of a long line's start

    def __init__(self, block_size: int = BLOCK_SIZE, *, max_line: int = MAX_LINE_BYTES,
                 judge: LineJudge | None = None) -> None:
        self.block_size = min(block_size, max_line)  # so a line past the limit spans reads
        self.max_line = max_line
        self.judge = judge
        self.error: str | None = None
        self.at_end = False

    def blocks(self, f: ByteStream) -> Iterator[bytes]:
        """The blocks alone (a long line's start standing for it, as a line of its own)."""
        for longs, block in self.pieces(f):
            for long in longs:
                yield long.start + b"\n"
            if block:
                yield block

    def pieces(self, f: ByteStream) -> Iterator[tuple[tuple[LongLine, ...], bytes]]:
        """``(longs, block)``: ``longs`` are the lines skipped, in order, just before ``block``."""
        rest: list[bytes] = []  # the start of a line whose end is not read yet
        size = 0  # its bytes so far
        longs: list[LongLine] = []
        skipping: tuple[str, bytes] | None = None  # (reason, start) of a line being skipped
        while True:
            try:
                data = f.read(self.block_size)
            except OSError as e:
                raise InputError(f"{source_name(f)}: read failed: {e}") from None
            if not data:
                self.error = getattr(f, "error", None)
                break
            if skipping is not None:
                end = data.find(b"\n") + 1
                size += end or len(data)
                if not end:
                    continue
                longs.append(LongLine(skipping[0], size, skipping[1]))
                skipping, data, size = None, data[end:], 0
            cut = data.rfind(b"\n") + 1
            if not cut:  # no line ends in this read
                if data:
                    rest.append(data)
                    size += len(data)
                reason = self._hopeless(rest, data, size) if data else None
                if reason is not None:
                    skipping, rest = (reason, _start(rest, self.STUB)), []
                continue
            if rest:
                first = data.find(b"\n") + 1
                if size + first > self.max_line:  # the line ends here, past the limit
                    reason = self._judged(rest, data[: first - 1]) or TOO_LONG
                    longs.append(LongLine(reason, size + first, _start(rest, self.STUB)))
                    rest, data, cut = [], data[first:], cut - first
            yield tuple(longs), b"".join((*rest, memoryview(data)[:cut]))  # the block's one copy
            longs, rest = [], [data[cut:]] if cut < len(data) else []
            size = len(data) - cut
        self.at_end = True
        if skipping is not None:
            longs.append(LongLine(skipping[0], size, skipping[1]))
            rest = []
        if longs or rest:
            yield tuple(longs), b"".join(rest)

    def _hopeless(self, rest: list[bytes], data: bytes, size: int) -> str | None:
        """Why the line being read (``rest``, ``data`` its last read) is to be skipped, or None."""
        if size <= self.block_size:
            return None  # every ordinary line: never judged
        return self._judged(rest, data) or (TOO_LONG if size > self.max_line else None)

    def _judged(self, rest: list[bytes], data: bytes) -> str | None:
        if self.judge is None:
            return None
        head = _start(rest, 64)
        if len(head) < 64:
            return None  # a start too short to judge
        return self.judge(head, data[:-1] if data.endswith(b"\r") else data)


def _start(pieces: list[bytes], n: int) -> bytes:
    """The first ``n`` bytes of the pieces joined, without joining them all."""
    out = b""
    for piece in pieces:
        out += piece[: n - len(out)]
        if len(out) == n:
            break
    return out


def is_parquet(source: Input | Source) -> bool:
    """Whether an input is a Parquet file (by its magic bytes). An opened :class:`Input` is
    peeked; a path is opened for the look (so give a pipe as an opened Input).
    """
    if isinstance(source, Input):
        return not source.gzip and source.peek(4) == PARQUET_MAGIC
    if not isinstance(source, (str, os.PathLike)) or str(source) == "-":
        return False
    try:
        with open_binary(source) as f:
            return is_parquet(f)
    except InputError:
        return False


def read_parquet_table(f: Input, columns: list[str] | None = None) -> tuple[pa.Table, Provenance | None]:
    """A Parquet file written by monitorlens: its table and the provenance in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(f.random_access())
        table = pf.read(columns=columns)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{f.name}: not a readable Parquet file ({e})") from None
    return table, Provenance.from_metadata(pf.metadata.metadata)


KINDS = ("monitor", "clients", "connections", "app-counts")
KIND_NAMES = {
    "monitor": "a MONITOR capture",
    "clients": "CLIENT LIST snapshots",
    "connections": "connection counts",
    "app-counts": "uniq -c counts per client name",
}


def detect_kind(f: Input) -> str:
    """What an opened input holds, from its first bytes (peeked, so nothing is lost):
    ``monitor``, ``clients`` (CLIENT LIST snapshots), ``connections`` (``timestamp,clients``
    CSV), ``app-counts`` (``uniq -c`` per name) or ``parquet`` (a file monitorlens wrote).

    Nothing recognizable (an empty file, garbage) is ``monitor``: the capture reader
    counts and reports every line it rejects.
    """
    if is_parquet(f):
        return "parquet"
    return kind_of(f.peek(SNIFF_BYTES), f.name) or "monitor"
