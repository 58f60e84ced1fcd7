"""Parquet in and out, with provenance in the file's metadata.

Arguments stay binary, commands and clients are dictionary-encoded, each key's
bytes are stored once (:mod:`monitorlens.read.layout`), rows come in groups of
:data:`ROW_GROUP_ROWS` for parallel readers, and the key ``monitorlens`` of the
Parquet metadata holds the provenance (source, line counts, rejects by reason
and the rejected lines kept, time range, version) as JSON.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError
from .outputs import output_file, refuse_inputs
from .read.files import (KIND_NAMES, KINDS, MAX_LINE_BYTES, Input, Source, detect_kind, is_parquet, open_binary,
                         read_parquet_table, source_name)
from .read.ingest import MonitorStream, read_monitor
from .read.layout import STORED_COLUMNS, STORED_SCHEMA, columns_to_read, pack, unpack
from .read.parse import key_places
from .read.schema import MONITOR_SCHEMA, Provenance, provenance, table_to_frame

if TYPE_CHECKING:
    import pandas as pd

# Dictionary pages only for the columns that are dictionaries in memory (for
# keys, zstd alone makes files as small, and writes them faster), statistics
# only where readers filter: both cost a lot on binary lists. Line numbers and
# times only grow: delta encoding makes them 4x faster to write and about 2x
# smaller than plain pages. Values go to the encoders 64k at a time, not 1k:
# 6% less CPU to write a block, the same file. zstd level 3 (zstd's own default;
# Arrow's is 1) makes the file of 1M redis-benchmark lines 9% smaller for no more time
# to write; level 6 another 9%, for 1.7x the time.
WRITE_OPTIONS = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=["client", "client_kind", "host", "command", "subcommand", "key_rule"],
    write_statistics=["line", "ts", "db"],
    column_encoding={"line": "DELTA_BINARY_PACKED", "ts": "DELTA_BINARY_PACKED"},
    write_batch_size=1 << 16,
)
# Rows per row group: what a reader (stream.aggregate's workers, DuckDB's threads) takes
# at once; polars writes as many. On 4.2M redis-benchmark lines the streaming analysis (2
# workers; each group is a partial to merge) took 6.8 s CPU with groups of 128k rows, 5.5 s
# with 256k, 5.6 s with 512k, 5.8 s with 1M, its largest process 517, 541, 648, 884 MiB:
# 256k rows, ~100 MB as a DataFrame, leave 16 groups to spread at 4.2M lines (4 at 1M).
ROW_GROUP_ROWS = 1 << 18


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str], *, inputs: Iterable[object] = ()) -> Path:
    """Write events (from :func:`read_monitor` or :func:`read_parquet`) with their provenance.

    Written whole or not at all (:func:`monitorlens.outputs.output_file`); ``-`` is stdout;
    a ``path`` that is one of ``inputs`` is refused.

    >>> write_parquet(read_monitor("capture.txt"), "capture.parquet")  # doctest: +SKIP
    """
    bare = df.copy(deep=False)
    bare.attrs = {}  # provenance goes into our own metadata key, not pandas' JSON of attrs
    table = pa.Table.from_pandas(bare, preserve_index=False)
    if set(MONITOR_SCHEMA.names) <= set(table.column_names):
        table = table.select(MONITOR_SCHEMA.names).cast(MONITOR_SCHEMA)
        try:
            table = pack(table, key_places(table))
        except ValueError:  # not the parser's events (a null argument, keys edited): every column whole
            pass
    table = table.replace_schema_metadata((table.schema.metadata or {}) | provenance(df).to_metadata())
    with output_file(path, inputs=inputs) as f:
        pq.write_table(table, f, row_group_size=ROW_GROUP_ROWS, **WRITE_OPTIONS)
    return Path(path)


def convert(
    source: Source,
    path: str | os.PathLike[str],
    *,
    errors: str = "skip",
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Provenance:
    """Convert a capture to Parquet block by block, in bounded memory; returns its provenance.

    A line longer than ``max_line_bytes`` is rejected (``too-long``) without being held.

    >>> convert("capture.txt.gz", "capture.parquet").events  # doctest: +SKIP
    """
    stream = MonitorStream(source, errors=errors, workers=workers, progress=progress, max_line_bytes=max_line_bytes)
    with output_file(path, inputs=[source]) as f, pq.ParquetWriter(f, STORED_SCHEMA, **WRITE_OPTIONS) as writer:
        groups = RowGroups(writer)
        for block in stream.blocks():
            groups.add(pack(block.table, block.key_places))
        groups.close()
        writer.add_key_value_metadata(stream.provenance.to_metadata())
    return stream.provenance


class RowGroups:
    """Tables written in row groups of ``rows`` whatever their own sizes (a parsed block is
    what 8 MB of text holds): at most ``rows`` plus one table are held."""

    def __init__(self, writer: pq.ParquetWriter, rows: int = ROW_GROUP_ROWS) -> None:
        self.writer, self.rows = writer, rows
        self.pending: list[pa.Table] = []
        self.held = 0

    def add(self, table: pa.Table) -> None:
        """Hold ``table``; write every whole group the tables held make."""
        self.pending.append(table)
        self.held += table.num_rows
        if self.held >= self.rows:
            held = pa.concat_tables(self.pending)  # chunks side by side: no copy
            whole = self.held // self.rows * self.rows
            self.writer.write_table(held.slice(0, whole), row_group_size=self.rows)
            self.pending, self.held = [held.slice(whole)], self.held - whole

    def close(self) -> None:
        """Write what is held, as the last (smaller) group."""
        if self.held:
            self.writer.write_table(pa.concat_tables(self.pending), row_group_size=self.rows)
        self.pending, self.held = [], 0




def ingest(
    source: Source,
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    errors: str = "skip",
    progress: Callable[[int, int], None] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Provenance:
    """Any input monitorlens reads to Parquet: a MONITOR capture (streamed), CLIENT LIST
    snapshots, a connection-count CSV or ``uniq -c`` counts; ``kind`` None detects it.
    A capture's lines longer than ``max_line_bytes`` are rejected (``too-long``).

    The input is opened once (it may be a pipe): its kind is told from its first bytes,
    which the reader then reads again.

    >>> ingest("clients.log.gz", "clients.parquet").kind  # doctest: +SKIP
    'clients'
    """
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    refuse_inputs(path, [source])  # before anything is read
    with open_binary(source) as f:
        _refuse_parquet(f)
        kind = kind or detect_kind(f)
        if kind == "monitor":
            return convert(f, path, errors=errors, progress=progress, max_line_bytes=max_line_bytes)
        from .read import clientlist  # lazy: pandas, only for the kinds that need it (ingest of a capture never loads it)
        readers = {
            "clients": clientlist.read_client_list,
            "connections": clientlist.read_connection_counts,
            "app-counts": clientlist.read_app_counts,
        }
        df = readers[kind](f, errors=errors)
    write_parquet(df, path, inputs=[source])
    return provenance(df)


def ingest_dataset(
    sources: Sequence[Source],
    folder: str | os.PathLike[str],
    *,
    node: str | None = None,
    errors: str = "skip",
    progress: Callable[[int, int], None] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> list[tuple[Path, Provenance]]:
    """MONITOR captures to a hive-partitioned dataset: each to
    ``folder/node=<node>/date=<YYYY-MM-DD>/part-<n>.parquet``, ``date`` the UTC day of its
    first event (a capture that runs past midnight stays whole under the day it began;
    one with no event goes under ``date=__HIVE_DEFAULT_PARTITION__``, Hive's null), ``n``
    the next free number there (a capture added later adds a part). ``node`` is the node
    all the captures come from (the days of one server), else each capture's file name
    without its suffixes (the shards of a cluster). pyarrow.dataset, DuckDB
    (``read_parquet('folder/**/*.parquet', hive_partitioning=true)``), polars and Spark read the
    folder as it is, with ``node`` and ``date`` columns (a query on some days reads only
    their folders); so do ``summary``, ``report`` and ``analyze_stream``.

    >>> ingest_dataset(["shard-a.txt.gz", "shard-b.txt.gz"], "dataset")  # doctest: +SKIP
    [(PosixPath('dataset/node=shard-a/date=2026-11-30/part-0.parquet'), ...), ...]
    """
    if node is not None and not _NODE.fullmatch(node):
        raise InputError(f"node {node!r}: use letters, digits and . _ : @ - (it names a folder)")
    for source in sources:
        if node is None and (not isinstance(source, (str, os.PathLike)) or str(source) == "-"):
            raise InputError(f"{source_name(source)}: a stream has no file name to tell its node: give the node")
    written = []
    for source in sources:
        with open_binary(source) as f:
            _refuse_parquet(f)
            check_capture(f)  # before any folder is made
            home = Path(folder) / f"node={node if node is not None else capture_stem(source)}"  # type: ignore[arg-type]
            home.mkdir(parents=True, exist_ok=True)
            incoming = home / f".incoming-{os.getpid()}.parquet"  # a dot: no reader takes it for a part
            try:
                prov = convert(f, incoming, errors=errors, progress=progress, max_line_bytes=max_line_bytes)
                day = home / f"date={prov.first_ts[:10] if prov.first_ts else NO_DATE}"
                day.mkdir(exist_ok=True)
                taken = {p.name for p in day.iterdir()}
                path = day / next(f"part-{n}.parquet" for n in range(len(taken) + 1) if f"part-{n}.parquet" not in taken)
                os.replace(incoming, path)
            finally:
                incoming.unlink(missing_ok=True)
        written.append((path, prov))
    return written


NO_DATE = "__HIVE_DEFAULT_PARTITION__"  # what Hive, Spark and DuckDB write for a null partition value
_NODE = re.compile(r"[A-Za-z0-9._:@-]+")


def capture_stem(source: str | os.PathLike[str]) -> str:
    """A capture's file name without ``.gz``, ``.txt``, ``.log``: ``shard-a`` for ``logs/shard-a.txt.gz``."""
    name = Path(source).name
    for suffix in (".gz", ".txt", ".log"):
        name = name.removesuffix(suffix)
    return name


def _refuse_parquet(f: Input) -> None:
    if is_parquet(f):
        held = stored_kind(f)
        raise InputError(f"{f.name}: already a Parquet file of monitorlens ({KIND_NAMES.get(held, held)}); "
                         "pass it to summary, report or plot as it is.")


def stored_kind(f: Input) -> str:
    """What a Parquet file written by monitorlens holds (a kind of :data:`KINDS`), from its metadata."""
    _, prov = read_parquet_table(f, columns=[])
    if prov is not None:
        return prov.kind
    return "unknown"


def read_parquet(path: str | os.PathLike[str] | Input, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file written by monitorlens back into a DataFrame with its provenance."""
    wanted = list(columns) if columns is not None else None
    with open_binary(path) as f:
        table, prov = read_parquet_table(f, columns_to_read(wanted) if wanted is not None else None)
    if "keys" in table.column_names:  # events
        table = unpack(table)
        if wanted is not None:
            table = table.select(wanted)
    df = table_to_frame(table)
    if prov is not None:
        df.attrs["provenance"] = prov
    return df


def load(
    source: Source, *, errors: str = "skip", progress: Callable[[int, int], None] | None = None
) -> pd.DataFrame:
    """Events from a capture (plain, gzip, stdin) or from a Parquet file made by ``ingest``;
    ``progress(bytes_done, lines)`` is called as a capture is read (see :class:`~monitorlens.progress.Progress`).

    The input is opened once (a pipe loses nothing). Anything else (CLIENT LIST
    snapshots, connection counts, a Parquet file of those) is an
    :class:`~monitorlens.errors.InputError` that says where such a file goes.
    """
    with open_binary(source) as f:
        if is_parquet(f):
            df = read_parquet(f)
            kind = provenance(df).kind if "provenance" in df.attrs else "unknown"
            check_events_parquet(f.name, kind, df.columns)
            return df
        check_capture(f)
        return read_monitor(f, errors=errors, progress=progress)


def check_events_parquet(name: str, kind: str, columns: Iterable[str]) -> None:
    """An :class:`InputError` unless a Parquet file (of this ``kind`` and ``columns``) holds
    MONITOR events, saying where a file of another kind goes."""
    if kind != "monitor" or not set(STORED_COLUMNS) <= set(columns):
        raise InputError(f"{name}: this Parquet file holds {KIND_NAMES.get(kind, 'no MONITOR events')}, "
                         f"not MONITOR events{_hint(kind)}")


def check_capture(f: Input) -> None:
    """An :class:`InputError` unless an opened text input looks like a MONITOR capture (it is
    peeked, not consumed), saying where CLIENT LIST snapshots or connection counts go."""
    kind = detect_kind(f)
    if kind != "monitor":
        raise InputError(f"{f.name}: this looks like {KIND_NAMES[kind]}, not a MONITOR capture{_hint(kind)}")


def load_snapshots(source: Source, *, errors: str = "skip") -> pd.DataFrame:
    """CLIENT LIST snapshots for ``--clients``: text, gzip or the Parquet file ``ingest`` wrote.

    A file that gives no client at all (empty, or not CLIENT LIST output) is an
    :class:`~monitorlens.errors.InputError` saying what its lines were: an analysis of
    zero snapshots would claim things (no client ever named) that no snapshot showed.
    """
    from .read.clientlist import read_client_list  # lazy: pandas, only when CLIENT LIST is given

    return _usable(read_client_list(source, errors=errors), "clients")


def load_connections(source: Source, *, errors: str = "skip") -> pd.DataFrame:
    """Connection counts for ``--connections`` (as :func:`load_snapshots`, for ``<time>,<clients>`` rows)."""
    from .read.clientlist import read_connection_counts  # lazy: pandas, only when counts are given

    return _usable(read_connection_counts(source, errors=errors), "connections")


def _usable(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    if len(df):
        return df
    prov = provenance(df)
    seen = ", ".join(f"{n:,} {reason}" for reason, n in {**prov.rejects_by_reason, **prov.skipped}.items())
    raise InputError(f"{prov.source}: no row of {KIND_NAMES[kind]} in it ({prov.lines:,} lines"
                     + (f": {seen}" if seen else "") + ").")


def _hint(kind: str) -> str:
    if kind == "clients":
        return "; pass it with --clients FILE"
    if kind == "connections":
        return "; pass it to report with --connections FILE"
    return ""
