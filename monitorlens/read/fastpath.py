"""The vectorized path of the parser: plain MONITOR lines, found and cut with numpy.

A real capture is mostly *plain* lines: the 2.6+ form
``<sec>.<usec> [<db> <source>] "<arg>" "<arg>" ...`` with every byte printable
ASCII and no backslash. In such a line every '"' is a quote that sdscatrepr
wrote (a quote inside an argument is written ``\\"``), so once the positions of
the quotes are known the line's shape can be checked, and its fields cut, with
array operations over a whole block at once: argument k lies between quotes 2k
and 2k + 1. Every other line (escapes, old dialects, garbage) is left to the
reference parser, :func:`monitorlens.read.grammar.parse_line`, one line at a time;
tests check that both give the same result for any line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import arrays

QUOTE, SPACE, DOT, OPEN, CLOSE, NEWLINE, CR = (ord(c) for c in '" .[]\n\r')
_SCAN = 1 << 20  # bytes scanned at once for special bytes and quotes
_DB_DIGITS = 4  # longer database numbers (never seen: Redis has 16 by default) take the reference parser
_REACH = 20 + _DB_DIGITS  # the head checks read the first 24 bytes of a line: three 8-byte words
_ZEROS = np.uint64(0x3030303030303030)  # eight '0'
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIXES = np.uint64(0x0606060606060606)
_THREES = np.uint64(0x3333333333333333)
_DOT_TO_ZERO = np.uint64((DOT ^ ord("0")) << 16)  # byte 10 of a line is byte 2 of its second word


@dataclass
class Block:
    """A block of whole lines, with the positions every later step needs."""

    data: bytes
    buf: np.ndarray  # the bytes as uint8
    offsets: np.ndarray  # line i is data[offsets[i]:offsets[i + 1]], '\n' included
    stray: np.ndarray  # positions of bytes that are not printable ASCII, or are '\', but line ends
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
        kind = buf[special_at]
        newline = kind == NEWLINE
        ends = special_at[newline] + 1
        if len(data) and (len(ends) == 0 or ends[-1] != len(data)):
            ends = np.append(ends, len(data))
        offsets = np.zeros(len(ends) + 1, dtype=np.int64)
        offsets[1:] = ends
        # A line ends with '\n', '\r\n', or (the block's last) '\r' or nothing.
        following = special_at + 1
        last = following == len(buf)
        ending = newline | ((kind == CR) & (last | (buf[np.where(last, 0, following)] == NEWLINE)))
        quotes_at = np.concatenate(quotes) if quotes else np.zeros(0, np.int64)
        return cls(data, buf, offsets, special_at[~ending], quotes_at)

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

        The first ``_REACH`` bytes of each line are copied into a row of a
        matrix; its three 8-byte words are read as numbers at once (SWAR: the
        digits of a word are checked and summed with a few integer operations).
        A line starting less than ``_REACH`` bytes before the end of the
        block, or with a database of more than ``_DB_DIGITS`` digits, is not
        taken: the reference parser gets it.
        """
        room = start + _REACH <= len(buf)
        if not room.any():
            return cls(room, *(np.zeros(len(start), np.int64) for _ in range(4)))
        start = np.where(room, start, 0)
        head = _windows(buf, _REACH)[start].view(np.uint8).reshape(-1, _REACH)  # row i: line i's first bytes
        words = head.view("<u8")
        # "SSSSSSSSSS.UUUUUU": ten digits of seconds (2001 to 2286: every real
        # capture). Word 0 holds eight of them; word 1 the last two, the dot
        # (made a '0' to read the word as digits) and five digits of the
        # microseconds, whose sixth is byte 16.
        high_ok, high = _eight_digits(words[:, 0])
        low_ok, low = _eight_digits(words[:, 1] ^ _DOT_TO_ZERO)
        last = head[:, 16] - np.uint8(48)
        seconds = high * np.uint64(100) + low // np.uint64(1_000_000)
        micros = (low % np.uint64(1_000_000)) * np.uint64(10) + last
        ts_ok = high_ok & low_ok & (head[:, 10] == DOT) & (last <= 9)
        db, db_len = _db(head)
        source_start, source_end = start + 20 + db_len, first_quote - 2
        valid = (
            room & ts_ok & (head[:, 17] == SPACE) & (head[:, 18] == OPEN) & (db_len > 0)
            & (source_start <= source_end) & (buf[source_end] == CLOSE) & (buf[source_end + 1] == SPACE)
        )
        ts = (seconds * np.uint64(1_000_000) + micros).astype(np.int64)
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
    # No special byte but the line's own ending, and quotes pair up.
    count = np.diff(np.searchsorted(quotes, offsets))
    ok = (count >= 2) & (count % 2 == 0)
    ok[np.searchsorted(offsets, block.stray, side="right") - 1] = False
    lines = np.flatnonzero(ok)
    # The quotes of those lines (pair k is argument k): all of them, unless a line with quotes is out.
    mine = quotes if (ok | (count == 0)).all() else quotes[np.repeat(ok, count)]
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
    if ok.all():  # the common case: no copies
        return Plain(lines, heads, opening, closing, argc)
    keep = np.repeat(ok, argc)
    return Plain(lines[ok], heads[ok], opening[keep], closing[keep], argc[ok])


def _windows(buf: np.ndarray, width: int) -> np.ndarray:
    """Item i is ``buf[i:i + width]`` (a view: no copy). Gathering items copies ``width``
    bytes each at once: for the 24 bytes of a head, twice as fast as rows of a 2-D sliding window."""
    return np.ndarray(shape=(max(len(buf) - width + 1, 0),), dtype=f"V{width}", buffer=buf, strides=(1,))


def _eight_digits(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each little-endian word holds eight ASCII digits (the first in its lowest
    byte), and the number they write: digit pairs, then quads, then the eight, summed in
    place within each word."""
    ok = ((words & _HIGH_NIBBLES) | (((words + _SIXES) & _HIGH_NIBBLES) >> np.uint64(4))) == _THREES
    v = words - _ZEROS
    v = (v * np.uint64(10) + (v >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    v = (v * np.uint64(100) + (v >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    v = (v * np.uint64(10000) + (v >> np.uint64(32))) & np.uint64(0x00000000FFFFFFFF)
    return ok, v


def _db(head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The database number that starts each head at byte 19, and its length in digits:
    0 unless 1 to ``_DB_DIGITS`` digits end at a space (callers reject those heads)."""
    db = np.zeros(len(head), dtype=np.int64)
    length = np.zeros(len(head), dtype=np.int64)
    going = np.ones(len(head), dtype=bool)  # every byte so far is a digit
    ended = np.zeros(len(head), dtype=bool)  # the digits ended at a space
    for k in range(_DB_DIGITS + 1):  # byte by byte, while some head still reads digits
        byte = head[:, 19 + k]
        if k:
            ended |= going & (byte == SPACE)
        going &= byte - np.uint8(48) <= 9
        if k == _DB_DIGITS or not going.any():
            break
        db = np.where(going, db * 10 + (byte - np.uint8(48)), db)
        length += going
    return db, np.where(ended, length, 0)


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
        "client": arrays.cast(_pieces(block.data, head.source_start, head.source_end), pa.string()),
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
    return arrays.cast(arrays.take(tiles, arrays.numeric(np.arange(0, len(bounds) - 1, 2))), pa.binary())
