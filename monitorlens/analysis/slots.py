"""Redis Cluster hash slots: ``CRC16(key) mod 16384``, with ``{hash tags}`` respected.

The CRC is CRC16-XMODEM (polynomial 0x1021, initial 0), as in Redis' ``crc16.c``; a key
holding ``{...}`` with at least one character between the first ``{`` and the next ``}``
is hashed on that part only (``keyHashSlot`` in ``cluster.c``).

Example::

    >>> key_slot(b"foo"), key_slot(b"{user1000}.following") == key_slot(b"user1000")
    (12182, True)
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Sequence
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SLOTS = 16384


def hashed_part(key: bytes) -> bytes:
    """The part of a key Redis hashes: the first ``{...}`` tag when not empty, else the key.

    >>> hashed_part(b"{a}b"), hashed_part(b"{}b"), hashed_part(b"a{b}{c}")
    (b'a', b'{}b', b'b')
    """
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1:end]
    return key


def key_slot(key: bytes) -> int:
    """The hash slot of one key (what ``CLUSTER KEYSLOT`` answers)."""
    return int(key_slots([key])[0])


def key_slots(keys: Sequence[bytes] | pa.Array) -> np.ndarray:
    """The hash slot of each key (bytes, or an Arrow string/binary array), vectorised.

    Keys without ``{`` and up to :data:`WORD_KEYS` bytes long go through the CRC together,
    two bytes a step (a table of every pair of bytes, :func:`_tables`), longest first so
    that the keys still going are a prefix: ~0.08 us a key, a quarter of one ``crc_hqx``
    call each. The others (hash tags, long keys) take ``crc_hqx`` one by one (in C, ~0.3 us
    a key with the Python around it).

    >>> key_slots([b"foo", b"bar"]).tolist()
    [12182, 5061]
    """
    arr = keys if isinstance(keys, pa.Array) else pa.array(list(keys), pa.binary())
    arr = arr.cast(pa.large_binary())
    n = len(arr)
    if arr.null_count:
        arr = pc.fill_null(arr, b"")
    out = np.empty(n, dtype=np.int64)
    if not n:
        return out
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    tagged = np.asarray(pc.match_substring(arr, b"{").to_numpy(zero_copy_only=False), dtype=bool)
    each = np.flatnonzero(tagged | (lengths > WORD_KEYS))
    if len(each):
        out[each] = [crc_hqx(hashed_part(k), 0) for k in arr.take(pa.array(each)).to_pylist()]
    order = np.flatnonzero(~tagged & (lengths <= WORD_KEYS))
    order = order[np.argsort(-lengths[order], kind="stable")]
    start, down = offsets[order], -lengths[order]  # ``down``: ascending, for searchsorted
    pair, byte = _tables()
    crc = np.zeros(len(order), dtype=np.int32)
    for j in range(0, int(-down[0]) if len(down) else 0, 2):
        two = int(np.searchsorted(down, -(j + 2), side="right"))  # keys with two more bytes
        one = int(np.searchsorted(down, -(j + 1), side="right"))  # ... or just one more
        at = start[:two] + j
        crc[:two] = pair[crc[:two] ^ ((data[at].astype(np.int32) << 8) | data[at + 1])]
        if one > two:
            c = crc[two:one]
            crc[two:one] = ((c << 8) & 0xFFFF) ^ byte[((c >> 8) ^ data[start[two:one] + j]) & 0xFF]
    out[order] = crc
    return out % SLOTS


WORD_KEYS = 128
"""Keys up to this many bytes go through the vectorised CRC (a step per two bytes of the
longest: a few long keys would make many steps for few keys)."""


@cache
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """CRC16-XMODEM of every byte and of every pair of bytes from 0: with a 16-bit register,
    a step of two bytes is ``pair[crc ^ (b0 << 8 | b1)]``, a step of one
    ``(crc << 8 & 0xFFFF) ^ byte[(crc >> 8) ^ b]``."""
    byte = np.array([crc_hqx(bytes([b]), 0) for b in range(256)], dtype=np.int32)
    x = np.arange(1 << 16, dtype=np.int32)
    c = byte[x >> 8]
    pair = ((c << 8) & 0xFFFF) ^ byte[((c >> 8) ^ (x & 0xFF)) & 0xFF]
    return pair.astype(np.int32), byte
