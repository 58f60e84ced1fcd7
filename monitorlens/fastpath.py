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
_REACH = 29  # the head checks read the first 29 bytes of a line
_TS_DIGITS = np.r_[0:10, 11:17]
_TS_WEIGHTS = 10 ** np.arange(15, -1, -1, dtype=np.int64)


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
        special = np.flatnonzero((buf - np.uint8(32) > 94) | (buf == 92))
        ends = special[buf[special] == NEWLINE] + 1
        if len(data) and (len(ends) == 0 or ends[-1] != len(data)):
            ends = np.append(ends, len(data))
        offsets = np.zeros(len(ends) + 1, dtype=np.int64)
        offsets[1:] = ends
        return cls(data, buf, offsets, special, np.flatnonzero(buf == QUOTE))

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
        return cls(valid, digits.astype(np.int64) @ _TS_WEIGHTS, db, source_start, source_end)

    def __getitem__(self, rows: np.ndarray) -> Heads:
        return Heads(self.valid[rows], self.ts[rows], self.db[rows], self.source_start[rows], self.source_end[rows])


@dataclass
class Plain:
    """The plain lines of a block (see the module's doc)."""

    lines: np.ndarray  # their indices in the block
    heads: Heads  # theirs
    quote_count: np.ndarray  # of every line of the block


def plain_lines(block: Block) -> Plain:
    """Find the plain lines of a block: every check is one array operation over all lines."""
    buf, offsets, quotes = block.buf, block.offsets, block.quotes
    start, end = offsets[:-1], offsets[1:]
    stop = end - (buf[end - 1] == NEWLINE)  # the line without '\n' and a '\r' before it
    stop -= (stop > start) & (buf[stop - 1] == CR)
    # The only special bytes are the line's own terminators.
    ok = np.diff(np.searchsorted(block.special, offsets)) == end - stop
    # Quotes pair up, the last one ends the line, and every other closing
    # quote (argument k's: quote 2k + 1 of its line) is followed by ' "'.
    q = np.searchsorted(quotes, offsets)
    first, count = q[:-1], np.diff(q)
    ok &= (count >= 2) & (count % 2 == 0)
    if not ok.any():
        return Plain(np.flatnonzero(ok), Heads.at(buf, start[:0], start[:0]), count)
    ok &= quotes[np.minimum(first + count - 1, len(quotes) - 1)] == stop - 1
    gap_bad = np.ones(len(quotes), dtype=bool)
    gap_bad[:-1] = (quotes[1:] != quotes[:-1] + 2) | (buf[quotes[:-1] + 1] != SPACE)
    parity = np.arange(len(quotes)) % 2
    lo, hi = first, np.maximum(first, first + count - 1)
    for p in (0, 1):
        bad_before = np.zeros(len(quotes) + 1, dtype=np.int64)
        np.cumsum(gap_bad & (parity == p), out=bad_before[1:])
        ok &= ((first + 1) % 2 != p) | (bad_before[hi] == bad_before[lo])
    # Then the head, "<sec>.<usec> [<db> <source>] " before the first quote.
    candidates = np.flatnonzero(ok)
    heads = Heads.at(buf, start[candidates], quotes[first[candidates]])
    return Plain(candidates[heads.valid], heads[heads.valid], count)


def _decimals(buf: np.ndarray, start: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The numbers written in decimal at each ``start`` of ``buf``, and how many digits each has.

    A number of ``width`` digits or more has length 0: callers reject it.
    """
    digits = sliding_window_view(buf, width)[start] - np.uint8(48)  # a row per number; non-digits wrap above 9
    length = np.argmin(digits <= 9, axis=1)
    value = np.zeros(len(start), dtype=np.int64)
    for n in np.unique(length[length > 0]).tolist():  # numbers of one length at a time: few lengths
        rows = np.flatnonzero(length == n)
        value[rows] = digits[rows, :n].astype(np.int64) @ 10 ** np.arange(n - 1, -1, -1, dtype=np.int64)
    return value, length


def rows(block: Block, plain: Plain, first_line: int) -> dict[str, pa.Array]:
    """The raw columns of the plain lines: line, ts, db, client, name (argv[0]) and args."""
    keep = np.zeros(block.lines, dtype=bool)
    keep[plain.lines] = True
    quotes = block.quotes[np.repeat(keep, plain.quote_count)]
    opening, closing = quotes[0::2], quotes[1::2]
    nargv = plain.quote_count[plain.lines] // 2
    name = np.cumsum(nargv) - nargv  # argv[0], the command name
    rest = np.ones(len(opening), dtype=bool)
    rest[name] = False
    arg_offsets = np.zeros(len(nargv) + 1, dtype=np.int32)
    np.cumsum(nargv - 1, out=arg_offsets[1:])
    head = plain.heads
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
