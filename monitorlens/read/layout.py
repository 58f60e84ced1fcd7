"""How events lie in a Parquet file: each key's bytes stored once.

In memory (:data:`~monitorlens.read.schema.MONITOR_SCHEMA`) a key is in three columns:
its bytes in ``args``, its text in ``keys`` and, for the first key, in ``key``. On disk
(layout 2, :data:`STORED_SCHEMA`) ``key`` is left out (it is ``keys[0]``), and in ``args``
the argument of a key is null when the key's text in ``keys`` is exactly its bytes (UTF-8):
``keys`` stays whole, so DuckDB, polars or Spark ``unnest(keys)`` as they are. A row with a
key of undecodable bytes (``\\xHH`` text in ``keys``, which does not give the bytes back)
keeps every argument, as does a row whose keys the parser found out of order (Redis' key
specs may find a later argument first). Parquet writes no bytes for a null: a key costs its
text once, plus one bit.

:func:`pack` makes the disk form of a table, :func:`unpack` undoes it for a table (or a row
group) read from any file monitorlens wrote; a file without :data:`LAYOUT_KEY` in its
metadata (monitorlens before layout 2) holds the three columns whole, and is read as it is.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import arrays
from ..errors import InputError
from .schema import MONITOR_SCHEMA

LAYOUT_KEY = b"monitorlens_layout"  # Parquet metadata key: the layout's number; absent before layout 2
LAYOUT = b"2"
STORED_SCHEMA = pa.schema([f for f in MONITOR_SCHEMA if f.name != "key"], metadata={LAYOUT_KEY: LAYOUT})
STORED_COLUMNS = tuple(STORED_SCHEMA.names)  # what a file of events holds, whatever its layout
_SLICE_ROWS = 1 << 17


def pack(table: pa.Table, places: np.ndarray) -> pa.Table:
    """The disk form (:data:`STORED_SCHEMA`) of events as the parser made them, whose keys
    lie at ``places`` in their args (:func:`monitorlens.read.parse.key_places`).

    Only the validity bitmap of the args is new (one bit per argument); every other buffer
    is shared with ``table``. Raises ValueError for a table the parser could not have made
    (an argument null, ``key`` other than the first of ``keys``, ``places`` not one per key).
    """
    args = arrays.whole(table.column("args"))
    keys = arrays.whole(table.column("keys"))
    values = args.values
    if args.null_count or values.null_count:
        raise ValueError("pack: an argument is null; only the parser's events (arguments never null) pack")
    if not arrays.first_items(keys).equals(arrays.whole(table.column("key"))):
        raise ValueError("pack: key is not the first of keys")
    k_off = arrays.to_numpy(keys.offsets)
    counts = np.diff(k_off)
    if len(places) != k_off[-1] - k_off[0]:
        raise ValueError(f"pack: {len(places)} key places for {k_off[-1] - k_off[0]} keys")
    key_rows = np.repeat(np.arange(len(keys)), counts)
    texts = arrays.cast(keys.values.slice(k_off[0], k_off[-1] - k_off[0]), pa.binary())  # zero copy
    same = arrays.bools(arrays.kernel("equal", arrays.take(values, arrays.numeric(places)), texts))
    in_order = np.ones(len(places), bool)  # strictly after the row's previous key: no argument twice
    in_order[1:] = (places[1:] > places[:-1]) | (key_rows[1:] != key_rows[:-1])
    whole_rows = np.zeros(len(keys), bool)
    whole_rows[key_rows[~(same & in_order)]] = True
    nulled = places[~whole_rows[key_rows]]
    valid = np.ones(values.offset + len(values), bool)  # the bitmap counts from the buffers' start
    valid[values.offset + nulled] = False
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    packed = pa.Array.from_buffers(values.type, len(values), [bitmap, *values.buffers()[1:]], len(nulled), values.offset)
    stored = pa.ListArray.from_arrays(args.offsets, packed)
    columns = [stored if name == "args" else table.column(name) for name in STORED_COLUMNS]
    return pa.Table.from_arrays(columns, schema=STORED_SCHEMA)


def unpack(table: pa.Table) -> pa.Table:
    """Events as in memory from a table (or a row group, all columns or some) read from a
    Parquet file of events that any monitorlens wrote: every argument back in ``args`` (which
    needs ``keys``), and ``key`` (before ``keys``) when the table has ``keys`` but no ``key``.

    A file of a later layout, or whose nulls do not match its keys, is an InputError.

    >>> unpack(pq.read_table("capture.parquet")).equals(parse_block(text).table)  # doctest: +SKIP
    True
    """
    metadata = table.schema.metadata or {}
    layout = metadata.get(LAYOUT_KEY)
    if layout is not None and layout != LAYOUT:
        raise InputError(f"this Parquet file has layout {layout.decode(errors='replace')}, which this monitorlens "
                         f"(layout {LAYOUT.decode()}) cannot read: upgrade monitorlens.")
    if layout is not None and "args" in table.column_names:
        if "keys" not in table.column_names:
            raise ValueError("unpack: the args of layout 2 need the keys column")
        # both columns cut alike, in slices that bound the temporaries (~20 bytes per argument)
        batches = table.select(["args", "keys"]).to_batches(max_chunksize=_SLICE_ROWS)
        restored = [_restore(b.column(0), b.column(1)) for b in batches]
        table = table.set_column(table.schema.get_field_index("args"), "args",
                                 pa.chunked_array(restored, MONITOR_SCHEMA.field("args").type))
    if "key" not in table.column_names and "keys" in table.column_names:
        first = pa.chunked_array([arrays.first_items(c) for c in table.column("keys").chunks], pa.string())
        table = table.add_column(table.schema.get_field_index("keys"), MONITOR_SCHEMA.field("key"), first)
    return table.replace_schema_metadata({k: v for k, v in metadata.items() if k != LAYOUT_KEY} or None)


def columns_to_read(wanted: list[str]) -> list[str]:
    """The columns to read from a file of events for :func:`unpack` to give ``wanted``:
    ``keys`` for ``key`` (which layout 2 does not store) and for ``args``."""
    need = {"key": ["keys"], "args": ["args", "keys"]}
    return list(dict.fromkeys(c for name in wanted for c in need.get(name, [name])))


def _restore(args: pa.ListArray, keys: pa.ListArray) -> pa.ListArray:
    """Args with each null (a key's argument) filled with the bytes of its row's keys, in order."""
    a_off = arrays.to_numpy(args.offsets)
    values = args.values.slice(a_off[0], a_off[-1] - a_off[0])
    if not values.null_count:
        return args
    a_off = a_off - a_off[0]
    gaps = arrays.bools(arrays.kernel("is_null", values))
    before = np.zeros(len(values) + 1, np.int32)  # nulls before each argument (a slice has < 2**31)
    np.cumsum(gaps, out=before[1:])
    per_row = before[a_off[1:]] - before[a_off[:-1]]
    k_off = arrays.to_numpy(keys.offsets)
    counts = np.diff(k_off)
    packed = per_row > 0
    if not np.array_equal(per_row[packed], counts[packed]):
        raise InputError("this Parquet file is damaged: its args miss other arguments than its keys")
    texts = arrays.cast(keys.values.slice(k_off[0], k_off[-1] - k_off[0]), pa.binary())  # zero copy
    # One take from the arguments then the keys: twice as fast as replace_with_mask.
    source = np.arange(len(values), dtype=np.int64)
    every = np.array_equal(packed, counts > 0)  # as usual: no row kept whole, every key fills a gap
    source[np.flatnonzero(gaps)] = len(values) + (np.arange(len(texts)) if every else
                                                   np.flatnonzero(np.repeat(packed, counts)))
    filled = arrays.take(pa.concat_arrays([values, texts]), arrays.numeric(source))
    return pa.ListArray.from_arrays(arrays.numeric(a_off, "int32"), filled)
