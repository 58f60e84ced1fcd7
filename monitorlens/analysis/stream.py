"""Analysis at any size: captures streamed block by block into partials, on every core or a Dask cluster.

:func:`aggregate` reads one or several sources (text captures, plain or gzip;
Parquet files made by ``ingest``; folders of them, including hive-partitioned
datasets such as ``node=a/date=2026-11-30/part-0.parquet``) and merges their
:class:`~monitorlens.analysis.partials.Partial` in memory that depends on the
distinct commands, clients, patterns and keys, not on the events. Work runs in
worker processes by default (one task per text block, Parquet row group or, with
several text files, per file), or on a ``dask.distributed`` cluster with
``scheduler=``; without either, in this process. :func:`analyze_stream` gives the
:class:`~monitorlens.analysis.analyze.Analysis` :func:`~monitorlens.analysis.analyze.analyze`
would give for the same events.

Example::

    >>> a = analyze_stream(["shard-1.txt.gz", "shard-2.txt.gz"])  # doctest: +SKIP
    >>> agg = aggregate("dataset/"); agg.nodes(), agg.slots().head()  # doctest: +SKIP
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .analyze import Analysis
from .applications import with_listed
from .breakdowns import setname_names
from .clientlist_analysis import analyze_clientlist, with_clientlist
from .filters import ClientChoice, Filters
from .finalize import _names, finalize, node_table, slot_table
from .partials import (CHUNK_BITS, KEY_CAP, Chosen, Partial, Settings, block_partial, chosen_block, first_seen, merge_all,
                       shift_lines)
from .naming import Naming, setname_events
from .patterns import DEFAULT_RULES, PatternRules
from .reconcile import Reconciliation, reconcile_shown, shown_pairs
from .rules import Thresholds
from ..errors import InputError
from ..read import grammar
from ..read.files import BLOCK_SIZE, SNIFF_BYTES, Source, is_parquet, open_binary, read_parquet_table, source_name
from ..read.ingest import MonitorStream
from ..read.layout import STORED_COLUMNS, unpack
from ..read.schema import MONITOR_SCHEMA, Provenance, table_to_frame
from ..store import capture_stem, check_capture, check_events_parquet

Sources = Union[Source, Sequence[Union[str, "os.PathLike[str]"]]]
INLINE_BYTES = 32 << 20  # inputs smaller than this are aggregated here: starting processes costs more
EVENT_BYTES = 90  # text bytes of a MONITOR line, about: what a Parquet file's events weigh as text
MIN_CHUNK = 16 << 20  # a plain text file is cut for the workers into chunks of at least this many bytes


# --------------------------------------------------------------------------- the inputs


@dataclass(frozen=True)
class SourceFile:
    """One source of events: ``path`` (or a stream), what it holds, its number and node."""

    source: Any
    index: int
    node: str
    parquet: bool
    size: int


def _node_of(path: Path, root: Path | None) -> str:
    """The node a file belongs to: a ``node=`` folder (hive partitioning), else its path in
    the folder given (or its name) without the suffixes."""
    for part in reversed(path.parts):
        if part.startswith("node="):
            return part[len("node="):]
    rel = path.relative_to(root) if root is not None else Path(path.name)
    folder = "" if rel.parent == Path(".") else f"{rel.parent}/"
    return folder + capture_stem(rel).removesuffix(".parquet")


def _is_parquet(path: Path) -> bool:
    return is_parquet(path)


def _looks_like_capture(path: Path) -> bool:
    """Whether one of the first lines of a file (plain or gzip) is a MONITOR line."""
    with open_binary(path) as f:
        head = f.peek(SNIFF_BYTES)
    return any(grammar.looks_like_monitor(line) for line in head.split(b"\n", 50)[:50] if line.strip())


def _captures_in(folder: Path) -> list[Path]:
    """The MONITOR captures and Parquet files of a folder, walked in name order; CLIENT LIST
    logs and connection counts beside them (a sample's folder) are not events and stay out."""
    found = []
    for p in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))):
        if _is_parquet(p) or _looks_like_capture(p):
            found.append(p)
    if not found:
        raise InputError(f"{folder}: the folder holds no capture or Parquet file of events.")
    return found


def inputs(sources: Sources) -> list[SourceFile]:
    """Every file of ``sources`` (paths, folders, or one stream), numbered in order.

    A pipe or FIFO is read as a stream, once (never opened twice to look at it).

    >>> [i.node for i in inputs(["a.txt", "b.txt"])]  # doctest: +SKIP
    ['a', 'b']
    """
    if isinstance(sources, (str, os.PathLike)) or hasattr(sources, "read"):
        sources = [sources]  # type: ignore[list-item]
    files: list[tuple[Any, Path | None]] = []
    for src in sources:
        if not isinstance(src, (str, os.PathLike)) or str(src) == "-":
            files.append((src, None))
            continue
        path = Path(src)
        if path.is_dir():
            files.extend((p, path) for p in _captures_in(path))
        elif not path.exists():
            raise InputError(f"{path}: no such file. Check the path, or pass '-' to read stdin.")
        elif not path.is_file():
            files.append((str(src), None))  # a FIFO, /dev/stdin: one pass, checked as it is read
        else:
            with open_binary(path) as f:
                if not is_parquet(f):
                    check_capture(f)  # CLIENT LIST snapshots or counts given as the capture: say where they go
            files.append((path, None))
    nodes = [_node_of(src, root) if isinstance(src, Path) else source_name(src) for src, root in files]
    # A node= folder names its node, however many files it holds (parts, dates); a name
    # taken from a file that another file shares (same names in different folders) gives
    # way to the file's path.
    hive = [isinstance(src, Path) and any(p.startswith("node=") for p in src.parts) for src, _ in files]
    shared = Counter(nodes)
    nodes = [str(src) if not h and shared[n] > 1 and isinstance(src, Path) else n
             for (src, _), n, h in zip(files, nodes, hive)]
    out = []
    for i, (src, _root) in enumerate(files):
        if isinstance(src, Path):
            out.append(SourceFile(src, i, nodes[i] if len(files) > 1 else "", _is_parquet(src), src.stat().st_size))
        else:
            out.append(SourceFile(src, i, source_name(src) if len(files) > 1 else "", False, 0))
    return out


# ------------------------------------------------------------------------------- tasks


def _frame_partial(table: pa.Table, index: int, node: str, settings: Settings, chunk: int = 0) -> Partial:
    """The partial of one block, named by time (with CLIENT LIST), then filtered (a block
    the filters empty merges as nothing but what it said before them)."""
    events = table_to_frame(table)
    shown = shown_pairs(events) if settings.shown else None
    if settings.naming is not None:
        events = settings.naming.attach(events)
    seen = names = chosen = None
    if settings.filters:  # what the rows filtered out still say: names, and each label's first line
        seen, names = first_seen(events, index, chunk), setname_names(events)
        if settings.filters.client:
            events, chosen = _chosen(events, index, chunk, node, settings)
        else:
            events = settings.filters.apply(events)
    p = block_partial(events, source=index, chunk=chunk, node=node, settings=settings, seen=seen, names=names,
                      shown=shown)
    return replace(p, chosen=chosen) if chosen is not None else p


def _chosen(events: pd.DataFrame, index: int, chunk: int, node: str, s: Settings) -> tuple[pd.DataFrame, Chosen]:
    """A block's rows a client filter keeps, and its lua lines that wait for their caller."""
    line = events["line"].to_numpy()
    if len(line) > 1 and not (line[1:] > line[:-1]).all():
        events = events.iloc[line.argsort(kind="stable")]
    others, client = s.filters.masks(events, s.choice)
    picks = s.choice.picks(events["client"], events["host"], s.filters.client)
    keep, waits, chosen = chosen_block(events, others.to_numpy(), client.to_numpy(), picks.to_numpy(), index)  # type: ignore[union-attr]
    waiting: dict[str, Any] = {name: block_partial(events[rows], source=index, chunk=chunk, node=node, settings=s)
                               for name, rows in waits.items() if rows.any()}
    chosen = replace(chosen, **waiting)
    return events[keep], chosen


def _row_group_partial(path: str, groups: Sequence[int], index: int, node: str, settings: Settings) -> Partial:
    """Consecutive row groups of a Parquet file, each a block, merged here: one partial goes back."""
    f = pq.ParquetFile(path)
    acc = _Batched(lambda parts: merge_all(parts, settings))
    for g in groups:
        acc.push(_frame_partial(unpack(f.read_row_group(g, columns=STORED_COLUMNS)), index, node, settings))
    out: Partial = acc.result()
    return out


def _runs(n: int, parts: int) -> list[range]:
    """0..n-1 cut into ``parts`` runs of consecutive numbers (fewer when n is smaller)."""
    parts = max(1, min(parts, n))
    cuts = [n * i // parts for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


class _Range(io.RawIOBase):
    """Bytes ``start`` to ``end`` of a file, as a file of their own (named after the file)."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self.f = open(path, "rb")
        self.f.seek(start)
        self.left = end - start
        self.name = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        got = self.f.readinto(memoryview(buffer)[:n]) if n else 0
        self.left -= got or 0
        return got or 0

    def close(self) -> None:
        self.f.close()
        super().close()


def chunks(path: Path, chunk_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of about ``chunk_bytes`` that cut a plain text file at line starts."""
    size = path.stat().st_size
    n = max(1, min((1 << CHUNK_BITS) - 1, -(-size // max(chunk_bytes, 1))))
    cuts = [0]
    with open(path, "rb") as f:
        for i in range(1, n):
            f.seek(size * i // n)
            f.readline()
            if cuts[-1] < f.tell() < size:
                cuts.append(f.tell())
    cuts.append(size)
    return list(zip(cuts[:-1], cuts[1:]))


def _range_partial(path: str, start: int, end: int, index: int, chunk: int, node: str, settings: Settings,
                   block_size: int, threads: int = 0) -> tuple[Partial, Provenance]:
    """A chunk of a plain text capture, block by block, merged here: one partial goes back.
    ``threads``: parsing threads beside the analysis (0: parsed in turn, here)."""
    with _Range(path, start, end) as raw:
        stream = MonitorStream(io.BufferedReader(raw), block_size=block_size, workers=threads)
        acc = _Batched(lambda parts: merge_all(parts, settings))
        for table in stream:
            acc.push(_frame_partial(table, index, node, settings, chunk))
    return acc.result(), stream.provenance


def _file_partial(path: str, index: int, node: str, settings: Settings, block_size: int, threads: int = 0
                  ) -> tuple[Partial, Provenance]:
    """A whole text capture, block by block, in one task (when files run side by side)."""
    stream = MonitorStream(path, block_size=block_size, workers=threads)
    acc = _Batched(lambda parts: merge_all(parts, settings))
    for table in stream:
        acc.push(_frame_partial(table, index, node, settings))
    return acc.result(), stream.provenance


BATCH_EVENTS = 500_000
"""Events a worker's block partials hold before they are merged into its running total at
once (:class:`_Batched`): five or six 8 MB blocks of text, two Parquet row groups."""


def _events(p: Partial) -> int:
    return p.events


class _Batched:
    """Merge partials given in order: ``merge_many`` (:func:`~monitorlens.analysis.partials.merge_all`)
    of the running total and the partials since, once they weigh ``limit`` (``weigh``: by
    default their events).

    Merging each block's partial into the total copied its keys and tables once a block
    (the merges of a worker: 0.34 us of CPU an event at 4.2M lines); at once, they are
    copied once a batch and the blocks' keys hashed once (0.21-0.26 us). Memory: the block
    partials of up to :data:`BATCH_EVENTS` events held beside the total (about 60 MB).
    ``limit=1``: each merged as it comes (the command's own merges of its workers' results,
    which are large)."""

    def __init__(self, merge_many: Callable[[list[Any]], Any], limit: int = BATCH_EVENTS,
                 weigh: Callable[[Any], int] = _events) -> None:
        self.merge_many, self.limit, self.weigh = merge_many, limit, weigh
        self.parts: list[Any] = []
        self.held = 0  # what the parts pushed since the last merge weigh

    def push(self, item: Any) -> None:
        self.parts.append(item)
        self.held += self.weigh(item)
        if self.held >= self.limit and len(self.parts) > 1:
            self.parts, self.held = [self.merge_many(self.parts)], 0

    def result(self) -> Any:
        if not self.parts:
            return Partial()
        return self.parts[0] if len(self.parts) == 1 else self.merge_many(self.parts)


# ------------------------------------------------------------------------------ running


@dataclass
class Aggregate:
    """The merged partial of some sources, with what was read (provenance) and the settings."""

    partial: Partial
    provenance: Provenance
    settings: Settings
    sources: list[SourceFile] = field(default_factory=list)
    snapshots: pd.DataFrame | None = None  # CLIENT LIST, when the events were named from it

    def analysis(self) -> Analysis:
        """The :class:`Analysis` (tables and findings, as :func:`analyze` gives them)."""
        a = finalize(self.partial, self.provenance, self.settings)
        if self.snapshots is None:
            return a
        return replace(a, applications=with_listed(a.applications, self.snapshots))

    def reconciliation(self, server: Mapping[str, Any]) -> Reconciliation | None:
        """The bundle's reconciliation (``server.json``) from the lines counted before the
        filters (aggregated with ``shown=True``)."""
        if self.partial.shown is None and self.partial.events:
            raise ValueError("aggregate(shown=True) counts what reconciliation needs")
        return reconcile_shown(self.partial.shown or {}, server)

    def nodes(self) -> pd.DataFrame:
        """Events per node (source): node, count, share, first, last."""
        return node_table(self.partial)

    def slots(self) -> pd.DataFrame:
        """Key references per Redis Cluster hash slot (needs ``slots=True``)."""
        return slot_table(self.partial)


def _parquet_provenance(path: Path) -> tuple[Provenance, int]:
    """The provenance in a Parquet file's metadata, and its number of row groups."""
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None
    prov = Provenance.from_metadata(meta.metadata)
    check_events_parquet(str(path), prov.kind if prov is not None else "unknown", meta.schema.to_arrow_schema().names)
    return prov, meta.num_row_groups  # type: ignore[return-value]


WORKER_MEMORY = 1 << 30  # what to budget per worker process: ~400 MB at peak on 1M-line chunks


def default_workers() -> int:
    """Every core, but no more workers than the machine's memory holds at WORKER_MEMORY each."""
    cores = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return cores
    return max(1, min(cores, memory // WORKER_MEMORY - 1))  # one share for this process


def _malloc_pool() -> None:
    """A worker allocates Arrow memory with malloc, unless ARROW_DEFAULT_MEMORY_POOL says
    otherwise: pyarrow's mimalloc keeps what each block frees, so a worker grew with the
    capture (the reason and the figures: ``monitorlens.cli._system_arrow_pool``)."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork: workers start with monitorlens, pandas and pyarrow already imported (spawn
    # would import them again in each worker: about a second).
    method = "fork" if sys.platform.startswith("linux") else None
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_malloc_pool)
    pool.submit(int).result()  # with fork, every worker starts now: before any reading thread does
    return pool


def aggregate(
    sources: Sources,
    *,
    scheduler: Any = None,
    workers: int | None = None,
    block_size: int = BLOCK_SIZE,
    top: int = 10,
    thresholds: Thresholds = Thresholds(),
    pattern_rules: PatternRules = DEFAULT_RULES,
    freq: str = "1s",
    key_cap: int = KEY_CAP,
    slots: bool | None = None,
    filters: Filters = Filters(),
    snapshots: pd.DataFrame | None = None,
    shown: bool = False,
    progress: Callable[[int, int], None] | None = None,
    name: str | None = None,
) -> Aggregate:
    """Read and aggregate ``sources`` into one :class:`Aggregate`.

    ``workers``: processes (default: every core the memory allows, :func:`default_workers`,
    or none for inputs under 32 MB, where starting processes costs more than it saves; 0
    runs here). ``scheduler``: a ``dask.distributed`` address (``tcp://host:8786``) or
    Client: one task per file or Parquet row group on the cluster, merged here (the
    workers must see the same paths). ``key_cap``: keys counted exactly before hot keys
    become a sketch. ``slots``: Redis Cluster hash slots per key (default: with several
    sources). ``progress`` hears of the lines read here (a :class:`~monitorlens.progress.Progress`
    also of the work sent to workers). ``filters`` (:class:`~monitorlens.analysis.filters.Filters`: time, command, db)
    apply to every block. CLIENT LIST ``snapshots`` name each block's events by time before
    the filters, as ``attach_names`` names the whole capture. Both they and a client filter
    read each file once more first, for the names the capture sets
    (:func:`~monitorlens.analysis.naming.setname_events`; so: files, not streams); a client
    filter with ``snapshots`` also aggregates the whole capture once unfiltered before, as
    a client is chosen by the last name its lines were given
    (:class:`~monitorlens.analysis.filters.ClientChoice`). ``shown`` counts each command
    before the filters, for :meth:`Aggregate.reconciliation`. ``name``: what the capture
    is called in the provenance and overview (a pipe's name, for the copy read instead).
    """
    found = inputs(sources)
    named = calls = choice = None
    if snapshots is not None or filters.client:
        if any(not isinstance(i.source, Path) for i in found):
            raise InputError("CLIENT LIST names and --client read the capture twice: give it as a file, not a stream")
        _step(progress, "reading the names set in the capture...")
        calls = setname_events([i.source for i in found])
    if snapshots is not None:
        named = Naming.of(snapshots, calls)
    settings = Settings(freq=freq, key_cap=key_cap, top=top, thresholds=thresholds, pattern_rules=pattern_rules,
                        slots=len(found) > 1 if slots is None else slots, filters=filters, naming=named,
                        shown=shown)
    run = dict(scheduler=scheduler, workers=workers, block_size=block_size, progress=progress)
    if filters.client:
        if named is None:
            choice = ClientChoice.of(filters.client, _setname_finals(calls))
        else:
            _step(progress, "reading the names of every client first...")
            whole, _ = _run(found, replace(settings, filters=Filters(), shown=False), **run)
            choice = _choice_of(whole, filters.client)
        settings = replace(settings, choice=choice)
    partial, provs = _run(found, settings, **run)
    prov = Provenance.combined(provs, name or (str(sources) if isinstance(sources, (str, os.PathLike)) else None))
    return Aggregate(partial, replace(prov, source=name) if name else prov, settings, found, snapshots)


def _setname_finals(calls: pd.DataFrame) -> dict[str, str]:
    """The last name each client set (``setname_names``) in SETNAME lines."""
    table = setname_names(calls)
    return dict(zip(table["client"].astype(str), table["name"].astype(str)))


def _choice_of(whole: Partial, wanted: Sequence[str]) -> ClientChoice:
    """A client filter's choice from the unfiltered partial of a named capture: each client's
    last name, and the clients with a line named as asked."""
    names = _names(whole)
    apps = whole.apps.index if whole.apps is not None else pd.MultiIndex.from_arrays([[], []])
    named = {str(c) for n, c in apps if n in set(wanted)}
    return ClientChoice.of(wanted, dict(zip(names.index, names["name"])), named)


def _run(found: list[SourceFile], settings: Settings, *, scheduler: Any, workers: int | None, block_size: int,
         progress: Callable[[int, int], None] | None) -> tuple[Partial, list[Provenance]]:
    """The merged partial of ``found`` and what was read, here, in workers or on Dask."""
    if scheduler is not None:
        _step(progress, "analysing on the Dask cluster...")
        return _on_dask(found, settings, scheduler, block_size)
    else:
        if workers is None:
            small = sum(_text_bytes(i) for i in found) < INLINE_BYTES
            workers = 0 if small else default_workers()
        if any(not isinstance(i.source, Path) for i in found):
            workers = 0  # a stream is read once, here
        elif len(found) == 1 and not found[0].parquet and _is_gzip(found[0].source):
            workers = 0  # one gzip stream reads in order: here, with parse threads, beats one worker
        _step(progress, f"analysing in {workers} worker processes..." if workers > 0 else "analysing...")
        return _local(found, settings, workers, block_size, progress)


def analyze_stream(
    sources: Sources,
    *,
    snapshots: pd.DataFrame | None = None,
    connections: pd.DataFrame | None = None,
    maxclients: int | None = None,
    server: Mapping[str, Any] | None = None,
    **options: Any,
) -> Analysis:
    """:func:`aggregate` then the :class:`Analysis` (same options): what
    :func:`~monitorlens.analysis.analyze.analyze` gives for the whole capture, with the
    CLIENT LIST part when ``snapshots`` or ``connections`` are given (judged with
    ``maxclients``) and a bundle's reconciliation when its ``server`` (server.json) is.

    >>> analyze_stream("capture.txt.gz", workers=4).commands.head()  # doctest: +SKIP
    """
    agg = aggregate(sources, snapshots=snapshots, shown=server is not None, **options)
    a = agg.analysis()
    if server is not None:
        a = replace(a, reconciliation=agg.reconciliation(server))
    if snapshots is None and connections is None:
        return a
    part = analyze_clientlist(snapshots, connections, maxclients=maxclients)
    return replace(a, clientlist=part, findings=tuple(with_clientlist(list(a.findings), part.findings)))


def _read_once(item: SourceFile, s: Settings, acc: "_Batched", block_size: int,
               progress: Callable[[int, int], None] | None) -> Provenance:
    """A stream (stdin, a pipe, a FIFO) opened once and read in order: a capture, or a
    Parquet file of events, its kind checked on its first bytes without consuming them."""
    with open_binary(item.source) as f:
        if is_parquet(f):
            table, prov = read_parquet_table(f)
            check_events_parquet(f.name, prov.kind if prov is not None else "unknown", table.column_names)
            for batch in table.to_batches(max_chunksize=1 << 17):
                events = unpack(pa.Table.from_batches([batch])).select(MONITOR_SCHEMA.names)
                acc.push(_frame_partial(events, item.index, item.node, s))
            return prov  # type: ignore[return-value]
        check_capture(f)
        stream = MonitorStream(f, block_size=block_size, progress=progress)
        for table in stream:
            acc.push(_frame_partial(table, item.index, item.node, s))
        return stream.provenance


def _step(progress: Any, text: str) -> None:
    """Tell a :class:`~monitorlens.progress.Progress` what comes next (a plain callback hears lines only)."""
    if progress is not None and hasattr(progress, "step"):
        progress.step(text)


def _local(found: list[SourceFile], s: Settings, workers: int, block_size: int,
           progress: Callable[[int, int], None] | None = None) -> tuple[Partial, list[Provenance]]:
    if workers <= 0:
        acc = _Batched(lambda parts: merge_all(parts, s))
        provs = []
        for item in found:
            if item.parquet:
                prov, groups = _parquet_provenance(item.source)
                for g in range(groups):
                    acc.push(_row_group_partial(str(item.source), [g], item.index, item.node, s))
            elif isinstance(item.source, Path):
                stream = MonitorStream(item.source, block_size=block_size, progress=progress)
                for table in stream:
                    acc.push(_frame_partial(table, item.index, item.node, s))
                prov = stream.provenance
            else:
                prov = _read_once(item, s, acc, block_size, progress)
            provs.append(prov)
        return acc.result(), provs
    with _pool(workers) as pool:
        return _pooled(pool, found, s, workers, block_size)


def _text_bytes(item: SourceFile) -> int:
    """About how much text a source holds: a Parquet file is 6-30x smaller than its text,
    so its size would keep a 4M-event file here, on one core (its events count instead)."""
    if not item.parquet:
        return item.size
    try:
        return int(pq.read_metadata(item.source).num_rows) * EVENT_BYTES
    except (OSError, pa.ArrowInvalid):
        return item.size  # unreadable: _parquet_provenance says why, wherever it runs


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _pooled(pool: Executor, found: list[SourceFile], s: Settings, workers: int, block_size: int
            ) -> tuple[Partial, list[Provenance]]:
    """Tasks in order, at most ``2 * workers`` in flight; results merged in order as they come.

    A plain text file is cut into chunks at line starts, each read, parsed and merged by a
    worker (one partial comes back); a gzip file is one task (it can only be read in order);
    a Parquet file is one task per row group.
    """
    acc = _Batched(lambda parts: merge_all(parts, s), limit=1)
    provs: dict[int, list[Provenance]] = {i.index: [] for i in found}
    lines: Counter[int] = Counter()  # lines of each source's chunks merged so far
    pending: deque[tuple[Future[Any], int | None]] = deque()  # (future, input index when it returns provenance)

    def drain(limit: int) -> None:
        while len(pending) > limit or (pending and pending[0][0].done()):
            future, index = pending.popleft()
            result = future.result()
            if index is not None:
                result, prov = result
                result = shift_lines(result, lines[index])
                provs[index].append(_shifted(prov, lines[index]))
                lines[index] += prov.lines
            acc.push(result)

    # A worker parses in turn when the workers keep every core busy; with cores to spare
    # (fewer workers than cores: --workers, or memory), on threads beside its analysis.
    threads = max(0, (os.cpu_count() or 1) // workers - 1)
    plain = [i for i in found if not i.parquet and not _is_gzip(i.source)]
    # One file: as many equal chunks as workers (each partial that comes back costs a merge
    # here, 0.2-0.25 s at 4.2M lines, beside the workers). Several: twice as many, so that
    # files of unequal sizes still share the workers evenly.
    tasks = workers if len(found) == 1 else 2 * workers
    chunk_bytes = max(MIN_CHUNK, -(-sum(i.size for i in plain) // max(tasks, 1)))
    for item in found:
        path = str(item.source)
        if item.parquet:
            prov, groups = _parquet_provenance(item.source)
            provs[item.index].append(prov)
            for run in _runs(groups, tasks):  # consecutive row groups per task: few partials come back
                pending.append((pool.submit(_row_group_partial, path, list(run), item.index, item.node, s), None))
                drain(2 * workers)
        elif item in plain:
            for c, (start, end) in enumerate(chunks(item.source, chunk_bytes)):
                pending.append((pool.submit(_range_partial, path, start, end, item.index, c, item.node, s,
                                            block_size, threads), item.index))
                drain(2 * workers)
        else:
            pending.append((pool.submit(_file_partial, path, item.index, item.node, s, block_size, threads),
                            item.index))
            drain(2 * workers)
    drain(0)
    return acc.result(), [Provenance.combined(provs[i.index], str(i.source)) for i in found if provs[i.index]]


def _shifted(prov: Provenance, offset: int) -> Provenance:
    """A chunk's provenance with its rejected lines numbered in the whole file."""
    if not offset or not prov.rejects:
        return prov
    return replace(prov, rejects=tuple((line + offset, reason, text) for line, reason, text in prov.rejects))


def _on_dask(found: list[SourceFile], s: Settings, scheduler: Any, block_size: int) -> tuple[Partial, list[Provenance]]:
    """One task per text file or Parquet row group on a ``dask.distributed`` cluster; the
    merges run there too (in order, two partials at a time into the running total), and only
    the merged partial comes back."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed: pip install 'monitorlens[dask]'") from None
    for item in found:
        if not isinstance(item.source, Path):
            raise InputError(f"{source_name(item.source)}: a Dask cluster reads files by path; give a file.")
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)  # type: ignore[no-untyped-call]
    try:
        futures: list[Any] = []
        provs: dict[int, Any] = {}  # input index -> provenance, or the future of one
        for item in found:
            path = str(item.source.resolve())
            if item.parquet:
                provs[item.index], groups = _parquet_provenance(item.source)
                futures.extend(client.submit(_row_group_partial, path, [g], item.index, item.node, s, pure=False)
                               for g in range(groups))
            else:
                both = client.submit(_file_partial, path, item.index, item.node, s, block_size, pure=False)
                futures.append(client.submit(_first, both, pure=False))
                provs[item.index] = client.submit(_second, both, pure=False)
        # Two files' or row groups' partials at a time (a whole file's may be large), merged there
        acc = _Batched(lambda parts: client.submit(merge_all, parts, s, pure=False), limit=2, weigh=lambda _: 1)
        for f in futures:
            acc.push(f)
        merged = acc.result()
        partial = merged.result() if hasattr(merged, "result") else merged
        return partial, [p.result() if hasattr(p, "result") else p for _, p in sorted(provs.items())]
    finally:
        if client is not scheduler:
            client.close()  # type: ignore[no-untyped-call]


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _second(pair: tuple[Any, Any]) -> Any:
    return pair[1]
