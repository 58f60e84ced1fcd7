"""The vectorized path of the parser: plain MONITOR lines, found and cut with numpy.

A real capture is mostly *plain* lines: the 2.6+ form
``<sec>.<usec> [<db> <source>] "<arg>" "<arg>" ...`` with every byte printable
ASCII and no backslash. In such a line every '"' is a quote that sdscatrepr
wrote (a quote inside an argument is written ``\\"``), so once the positions of
the quotes are known the line's shape can be checked, and its fields cut, with
array operations over a whole block at once: argument k lies between quotes 2k
and 2k + 1. Every other line (escapes, old dialects, garbage) is left to the
reference parser, :func:`monitorlens.grammar.parse_line`, one line at a time;
tests check that both give the same result for any line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from . import arrays

QUOTE, SPACE, DOT, OPEN, CLOSE, NEWLINE, CR = (ord(c) for c in '" .[]\n\r')
_SCAN = 1 << 20  # bytes scanned at once for special bytes and quotes
_REACH = 29  # the head checks read the first 29 bytes of a line
_TS_DIGITS = np.r_[0:10, 11:17]


@dataclass
class Block:
    """A block of whole lines, with the positions every later step needs."""

    data: bytes
    buf: np.ndarray  # the bytes as uint8
    offsets: np.ndarray  # line i is data[offsets[i]:offsets[i + 1]], '\n' included
    special: np.ndarray  # positions of bytes that are not printable ASCII, or are '\'
    quotes: np.ndarray  # positions of '"'

    @classmethod
    def of(cls, data: bytes) -> Block:
        buf = np.frombuffer(data, dtype=np.uint8)
        special, quotes = [], []
        for at in range(0, len(buf), _SCAN):  # a piece at a time: its temporaries stay in the CPU's cache
            piece = buf[at : at + _SCAN]
            special.append(np.flatnonzero((piece - np.uint8(32) > 94) | (piece == 92)) + at)
            quotes.append(np.flatnonzero(piece == QUOTE) + at)
        special_at = np.concatenate(special) if special else np.zeros(0, np.int64)
        ends = special_at[buf[special_at] == NEWLINE] + 1
        if len(data) and (len(ends) == 0 or ends[-1] != len(data)):
            ends = np.append(ends, len(data))
        offsets = np.zeros(len(ends) + 1, dtype=np.int64)
        offsets[1:] = ends
        return cls(data, buf, offsets, special_at, np.concatenate(quotes) if quotes else np.zeros(0, np.int64))

    @property
    def lines(self) -> int:
        return len(self.offsets) - 1

    def line(self, i: int) -> bytes:
        return self.data[self.offsets[i] : self.offsets[i + 1]]


@dataclass
class Heads:
    """The fields of line heads: ``<sec>.<usec> [<db> <source>] ``, and whether each is one."""

    valid: np.ndarray
    ts: np.ndarray  # microseconds since the epoch
    db: np.ndarray
    source_start: np.ndarray
    source_end: np.ndarray

    @classmethod
    def at(cls, buf: np.ndarray, start: np.ndarray, first_quote: np.ndarray) -> Heads:
        """The heads of the lines at ``start``, each ending two bytes before ``first_quote``.

        A line starting less than ``_REACH`` bytes before the end of the
        block is not taken: the reference parser gets it.
        """
        room = start + _REACH <= len(buf)
        if not room.any():
            return cls(room, *(np.zeros(len(start), np.int64) for _ in range(4)))
        start = np.where(room, start, 0)
        # "SSSSSSSSSS.UUUUUU": ten digits of seconds (2001 to 2286: every
        # real capture), read as the 16 digits of the time in microseconds.
        ts_text = sliding_window_view(buf, 17)[start] - np.uint8(48)
        digits = ts_text[:, _TS_DIGITS]
        ts_ok = (digits <= 9).all(axis=1) & (buf[start + 10] == DOT)
        db, db_len = _decimals(buf, start + 19, 10)
        source_start, source_end = start + 20 + db_len, first_quote - 2
        valid = (
            room & ts_ok & (buf[start + 17] == SPACE) & (buf[start + 18] == OPEN)
            & (db_len > 0) & (buf[start + 19 + db_len] == SPACE)
            & (source_start <= source_end) & (buf[source_end] == CLOSE) & (buf[source_end + 1] == SPACE)
        )
        ts = digits[:, 0].astype(np.int64)
        for i in range(1, 16):  # column by column: 2x faster than a product of int64 matrices
            ts *= 10
            ts += digits[:, i]
        return cls(valid, ts, db, source_start, source_end)

    def __getitem__(self, rows: np.ndarray) -> Heads:
        return Heads(self.valid[rows], self.ts[rows], self.db[rows], self.source_start[rows], self.source_end[rows])


@dataclass
class Plain:
    """The plain lines of a block (see the module's doc), and their quotes."""

    lines: np.ndarray  # their indices in the block
    heads: Heads  # theirs
    opening: np.ndarray  # argument k of every plain line lies between opening[k] and closing[k]
    closing: np.ndarray
    argc: np.ndarray  # arguments (argv[0] included) of each plain line


def plain_lines(block: Block) -> Plain:
    """Find the plain lines of a block: every check is one array operation over all lines."""
    buf, offsets, quotes = block.buf, block.offsets, block.quotes
    start, end = offsets[:-1], offsets[1:]
    stop = end - (buf[end - 1] == NEWLINE)  # the line without '\n' and a '\r' before it
    stop -= (stop > start) & (buf[stop - 1] == CR)
    # The only special bytes are the line's own terminators, and quotes pair up.
    count = np.diff(np.searchsorted(quotes, offsets))
    ok = (np.diff(np.searchsorted(block.special, offsets)) == end - stop) & (count >= 2) & (count % 2 == 0)
    lines = np.flatnonzero(ok)
    mine = quotes[np.repeat(ok, count)]  # the quotes of those lines: pair k is argument k
    opening, closing = mine[0::2], mine[1::2]
    argc = count[lines] // 2
    last = np.cumsum(argc) - 1
    first = last - argc + 1
    # The last quote ends the line, and every other closing quote is followed by ' "'.
    ok = closing[last] == stop[lines] - 1
    bad_gaps = np.zeros(len(opening), dtype=np.int32)  # before each argument, bad separators since the first
    np.cumsum((opening[1:] != closing[:-1] + 2) | (buf[closing[:-1] + 1] != SPACE), out=bad_gaps[1:])
    ok &= bad_gaps[last] == bad_gaps[first]
    # Then the head, "<sec>.<usec> [<db> <source>] " before the first quote.
    heads = Heads.at(buf, start[lines], opening[first])
    ok &= heads.valid
    keep = np.repeat(ok, argc)
    return Plain(lines[ok], heads[ok], opening[keep], closing[keep], argc[ok])


def _decimals(buf: np.ndarray, start: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The numbers written in decimal at each ``start`` of ``buf``, and how many digits each has.

    A number of ``width`` digits or more has length 0: callers reject it.
    """
    digits = sliding_window_view(buf, width)[start] - np.uint8(48)  # a row per number; non-digits wrap above 9
    length = np.argmin(digits <= 9, axis=1)
    value = np.zeros(len(start), dtype=np.int64)
    for n in range(1, width):  # the numbers of each length at once
        rows = np.flatnonzero(length == n)
        if len(rows):
            value[rows] = digits[rows, :n].astype(np.int64) @ 10 ** np.arange(n - 1, -1, -1, dtype=np.int64)
    return value, length


def rows(block: Block, plain: Plain, first_line: int) -> dict[str, pa.Array]:
    """The raw columns of the plain lines: line, ts, db, client, name (argv[0]) and args."""
    name = np.cumsum(plain.argc) - plain.argc  # argv[0], the command name
    rest = np.ones(len(plain.opening), dtype=bool)
    rest[name] = False
    arg_offsets = np.zeros(len(plain.argc) + 1, dtype=np.int32)
    np.cumsum(plain.argc - 1, out=arg_offsets[1:])
    head, opening, closing = plain.heads, plain.opening, plain.closing
    return {
        "line": arrays.numeric(plain.lines + first_line),
        "ts": arrays.numeric(head.ts),
        "db": arrays.numeric(head.db, "int32"),
        "client": _pieces(block.data, head.source_start, head.source_end).cast(pa.string()),
        "name": _pieces(block.data, opening[name] + 1, closing[name]),
        "args": arrays.lists(arg_offsets, _pieces(block.data, opening[rest] + 1, closing[rest])),
    }


def _pieces(data: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """``data[starts[i]:ends[i]]`` for each i, as one Arrow binary array (ranges in order, not overlapping).

    The ranges and the gaps between them tile the buffer, zero copy; taking
    the ranges copies their bytes once.
    """
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2] = starts
    bounds[1::2] = ends
    tiles = pa.Array.from_buffers(
        pa.large_binary(), max(len(bounds) - 1, 0), [None, pa.py_buffer(bounds), pa.py_buffer(data)]
    )
    return tiles.take(arrays.numeric(np.arange(0, len(bounds) - 1, 2))).cast(pa.binary())
