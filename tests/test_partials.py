"""Partial aggregates merged block by block give what analyze() gives on the whole capture.

Every sample capture and a capture recorded here from a real redis-server (scripts whose lua
lines straddle blocks, SELECT churn, names, KEYS, full reads, big values, a flush) are read
in blocks of several sizes, down to a few lines, and as Parquet row groups of a few rows;
the tables and findings must equal analyze()'s.
"""

from __future__ import annotations

import gzip
import random
from functools import reduce
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from monitorlens.analysis.analyze import analyze
from monitorlens.analysis.partials import Settings, block_partial, merge, merge_all
from monitorlens.analysis.finalize import finalize
from monitorlens.analysis.stream import aggregate, analyze_stream
from monitorlens.read.ingest import MonitorStream, read_monitor
from monitorlens.read.schema import table_to_frame
from monitorlens.store import convert
from monitorlens.testing import RedisServer

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {name: ROOT / "sample_captures" / name / file for name, file in
           (("grammar", "monitor.txt"), ("incident", "monitor.txt.gz"), ("calm", "monitor.txt.gz"),
            ("surge", "monitor.txt.gz"))}
TABLES = ("commands", "subcommands", "clients", "applications", "key_patterns", "hot_keys", "dbs", "timeline",
          "timeline_clients", "bursts", "gaps")


def assert_same(expected, got) -> None:
    """The tables, the overview and every finding's code, severity, count and title agree."""
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(expected, name), getattr(got, name), check_dtype=False,
                                      check_index_type=False, check_column_type=False, obj=name)
    assert expected.overview == got.overview
    key = lambda f: (f.code, f.severity, f.evidence.count, f.title)  # noqa: E731
    assert sorted(map(key, expected.findings)) == sorted(map(key, got.findings))
    assert [f.code for f in expected.findings] == [f.code for f in got.findings]  # same order


def record(out: Path) -> Path:
    """A capture from a real redis-server with what crosses block boundaries and what rules judge."""
    with RedisServer() as server:

        def work() -> None:
            app, worker, admin = server.client(), server.client(), server.client(via="unix")
            app.client_setname("app")
            rng = random.Random(7)
            script = "for i = 1, 5 do redis.call('INCR', KEYS[1] .. i) end return redis.call('GET', KEYS[1] .. '1')"
            for i in range(60):
                app.set(f"user:{rng.randint(1, 30)}:name", "x" * rng.randint(1, 20))
                app.get(f"user:{rng.randint(1, 30)}:name")
                worker.eval(script, 1, f"job:{i % 4}:")
                app.hset(f"session:{i % 7}", mapping={"a": 1, "b": 2})
                if i % 10 == 0:
                    app.hgetall(f"session:{i % 7}")
                    worker.lrange("queue", 0, -1)
            for db in (1, 2) * 6:
                worker.execute_command("SELECT", db)
                worker.incr("counter")
            admin.keys("*")
            app.mget([f"user:{i}:name" for i in range(120)])
            app.set("blob", b"v" * 150_000)
            app.rpush("jobs", "a")
            worker.blpop(["jobs"], 0)
            admin.flushdb()

        server.record_monitor(out, work)
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record(tmp_path_factory.mktemp("rec") / "monitor.txt")


def streamed(path: Path, block_size: int, settings: Settings = Settings()):
    stream = MonitorStream(path, block_size=block_size)
    parts = [block_partial(table_to_frame(t), settings=settings) for t in stream]
    return finalize(reduce(lambda a, b: merge(a, b, settings), parts), stream.provenance, settings), len(parts)


@pytest.mark.parametrize("name,block_size", [("grammar", 150), ("grammar", 2_000), ("incident", 150_000),
                                             ("incident", 1 << 20), ("calm", 40_000), ("surge", 30_000)])
def test_samples_block_by_block(name: str, block_size: int) -> None:
    expected = analyze(read_monitor(SAMPLES[name]))
    got, blocks = streamed(SAMPLES[name], block_size)
    assert blocks > 1 or block_size > 1 << 19
    assert_same(expected, got)


@pytest.mark.parametrize("block_size", [400, 8_000])
def test_recording_block_by_block(recorded: Path, block_size: int) -> None:
    expected = analyze(read_monitor(recorded))
    codes = {f.code for f in expected.findings}
    assert {"keys", "full-read", "select-churn", "huge-argument", "flush", "blocking-forever"} <= codes
    assert (expected.clients["lua_count"] > 0).any()  # scripts' lua lines credited to their caller
    got, blocks = streamed(recorded, block_size)
    assert blocks > 5
    assert_same(expected, got)


def test_merge_is_associative(recorded: Path) -> None:
    """((a b) c) d == a (b (c d)) == all at once (merge_all, as workers merge a batch):
    how the partials are grouped changes nothing."""
    stream = MonitorStream(recorded, block_size=3_000)
    parts = [block_partial(table_to_frame(t)) for t in stream]
    assert len(parts) >= 4
    left = reduce(merge, parts)
    right = reduce(lambda acc, p: merge(p, acc), reversed(parts[:-1]), parts[-1])
    expected = finalize(left, stream.provenance)
    assert_same(expected, finalize(right, stream.provenance))
    assert_same(expected, finalize(merge_all(parts), stream.provenance))
    assert_same(expected, finalize(merge_all([merge_all(parts[:3]), *parts[3:-2], merge_all(parts[-2:])]),
                                   stream.provenance))


def test_parquet_row_groups(recorded: Path, tmp_path: Path) -> None:
    """A Parquet file read row group by row group (a few rows each), in worker processes."""
    events = read_monitor(recorded)
    convert(recorded, tmp_path / "all.parquet")
    table = pq.read_table(tmp_path / "all.parquet")
    pq.write_table(table.replace_schema_metadata(pq.read_metadata(tmp_path / "all.parquet").metadata),
                   tmp_path / "small.parquet", row_group_size=37)
    assert pq.ParquetFile(tmp_path / "small.parquet").num_row_groups > 10
    assert_same(analyze(events), analyze_stream(tmp_path / "small.parquet", workers=2))


def test_worker_processes_give_the_same(recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In worker processes: a plain file cut into chunks (lines renumbered, lua lines across
    chunks credited), a gzip file in one task."""
    from monitorlens.analysis import stream

    expected = analyze(read_monitor(recorded))
    monkeypatch.setattr(stream, "MIN_CHUNK", 6_000)
    assert len(stream.chunks(recorded, 6_000)) > 5
    assert_same(expected, analyze_stream(recorded, workers=2, block_size=2_500))
    assert_same(expected, analyze_stream(recorded, workers=0, block_size=5_000))
    # Fewer workers than cores: each parses on threads beside its analysis (else in turn).
    monkeypatch.setattr(stream.os, "cpu_count", lambda: 4)
    assert_same(expected, analyze_stream(recorded, workers=1, block_size=2_500))
    assert_same(expected, analyze_stream(recorded, workers=2, block_size=2_500))
    packed = tmp_path / "monitor.txt.gz"
    packed.write_bytes(gzip.compress(recorded.read_bytes()))
    got = analyze_stream(packed, workers=2)  # one gzip file: read here, in order
    assert got.provenance.source == str(packed)
    assert_same(analyze(read_monitor(packed)), got)
    both = [packed, SAMPLES["incident"]]  # several gzip files: one task each
    assert_same(analyze_stream(both, workers=0), analyze_stream(both, workers=2))


def test_several_captures_as_one(recorded: Path, tmp_path: Path) -> None:
    """Two nodes' captures analysed as one: counts add up, each node keeps its events."""
    (tmp_path / "node=a").mkdir()
    (tmp_path / "node=b").mkdir()
    (tmp_path / "node=a" / "monitor.txt").write_bytes(recorded.read_bytes())
    (tmp_path / "node=b" / "monitor.txt").write_bytes(SAMPLES["grammar"].read_bytes())
    one = analyze(read_monitor(recorded))
    other = analyze(read_monitor(SAMPLES["grammar"]))
    agg = aggregate(tmp_path, workers=2, block_size=4_000)
    both = agg.analysis()
    assert both.overview.events == one.overview.events + other.overview.events
    assert both.provenance.lines == one.provenance.lines + other.provenance.lines
    counts = pd.concat([one.commands, other.commands]).groupby("command")["count"].sum()
    assert both.commands.set_index("command")["count"].sort_index().to_dict() == counts.sort_index().to_dict()
    nodes = agg.nodes().set_index("node")["count"].to_dict()
    assert nodes == {"a": one.overview.events, "b": other.overview.events}
    slots = agg.slots()
    assert slots["count"].sum() == one.key_patterns["count"].sum() + other.key_patterns["count"].sum()
    assert slots["slot"].between(0, 16383).all()


def test_empty_capture(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"OK\n")
    assert_same(analyze(read_monitor(empty)), analyze_stream(empty))


@pytest.mark.parametrize("filters", [{"command": ["get", "client setname"]}, {"db": [1, 2]},
                                     {"since": 0.3, "until": 0.7}])
def test_filters_block_by_block(recorded: Path, filters: dict) -> None:
    from monitorlens.analysis.breakdowns import ClientNames
    from monitorlens.analysis.filters import Filters

    events = read_monitor(recorded)
    filters = Filters.of(**{k: (events["ts"].quantile(v).isoformat() if k in ("since", "until") else v)
                            for k, v in filters.items()})  # a time range by events seen
    expected = analyze(filters.apply(events), filters=filters, names=ClientNames.of(events))
    assert 0 < expected.overview.events < len(events) and expected.overview.filtered
    assert_same(expected, analyze_stream(recorded, workers=0, block_size=3_000, filters=filters))


@pytest.mark.parametrize("block_size", [400, 3_000])
def test_client_filter_block_by_block(recorded: Path, block_size: int) -> None:
    """By name (the SETNAME of the whole capture) and by address; a script's lua lines follow
    their caller even when they begin a block."""
    from monitorlens.analysis.breakdowns import ClientNames
    from monitorlens.analysis.filters import Filters

    events = read_monitor(recorded)
    evals = events[events["command"].astype(str) == "EVAL"]
    caller = str(evals["client"].iloc[0])
    for wanted in ("app", caller, ["app", "lua"]):
        f = Filters.of(client=wanted, command=None if wanted != caller else ["INCR", "GET", "EVAL", "SELECT"])
        expected = analyze(f.apply(events), filters=f, names=ClientNames.of(events))
        assert 0 < expected.overview.events < len(events)
        if wanted == caller:
            assert expected.clients["lua_count"].sum() > 0
        assert_same(expected, analyze_stream(recorded, workers=0, block_size=block_size, filters=f))


def test_a_folder_of_samples(tmp_path: Path) -> None:
    """A folder: its captures (CLIENT LIST logs, CSVs and notes beside them stay out), one node each."""
    captures = sorted((ROOT / "sample_captures").glob("*/monitor.txt*"))
    assert len(captures) >= 3
    agg = aggregate(ROOT / "sample_captures", workers=0)
    assert sorted(agg.nodes()["node"]) == [f"{p.parent.name}/monitor" for p in captures]
    assert agg.analysis().overview.events == sum(len(read_monitor(p)) for p in captures)
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    from monitorlens.errors import InputError

    with pytest.raises(InputError, match="no capture"):
        aggregate(tmp_path)


def test_a_fifo_is_read_once(tmp_path: Path) -> None:
    import os
    import threading
    from dataclasses import replace

    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    data = SAMPLES["grammar"].read_bytes()
    writer = threading.Thread(target=lambda: fifo.write_bytes(data))
    writer.start()
    got = analyze_stream(fifo)
    writer.join(timeout=10)
    expected = analyze(read_monitor(SAMPLES["grammar"]))
    assert got.overview == replace(expected.overview, source=str(fifo))
    assert_same(replace(expected, overview=got.overview), got)


def test_default_workers_fit_cores_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from monitorlens.analysis import stream

    assert 1 <= stream.default_workers() <= (os.cpu_count() or 1)
    monkeypatch.setattr(stream, "WORKER_MEMORY", 1 << 60)  # no memory to spare: one worker
    assert stream.default_workers() == 1


def test_module_lines_and_guessed_keys(tmp_path: Path) -> None:
    """Lines a module ran are credited to its command's client, guessed keys stay out of the key
    tables: as analyze() does (a paste of RedisGears traffic, and lines of an unknown command)."""
    paste = ROOT.parent / "shared" / "wild-pastes" / "monitor" / "29-redisgears-module-client-6.x.txt"
    unknown = tmp_path / "unknown.txt"
    unknown.write_bytes(b'1700000000.000001 [0 127.0.0.1:5] "MYMOD.DO" "not-a-key" "1"\n'
                        b'1700000000.000002 [0 127.0.0.1:5] "GET" "user:1"\n'
                        b'1700000000.000003 [0 127.0.0.1:5] "MYMOD.DO" "not-a-key" "2"\n')
    for path in [unknown, *([paste] if paste.exists() else [])]:
        expected = analyze(read_monitor(path))
        got = analyze_stream(path, workers=0)
        assert_same(expected, got)
        assert "not-a-key" not in got.hot_keys["key"].tolist() and "RateLimiter" not in got.hot_keys["key"].tolist()


def test_positions_in_hashes_either_side_with_the_same_answer() -> None:
    import numpy as np
    import pyarrow as pa

    from monitorlens.analysis.partials import _positions_in

    rng = np.random.default_rng(2)
    for na, nb in [(1000, 50), (50, 1000), (0, 5), (5, 0), (300, 300)]:
        a = pa.array(np.unique(rng.integers(0, 2000, na)).astype(str))
        b = pa.array(np.unique(rng.integers(0, 2000, nb)).astype(str))
        held = a.to_pylist()
        expected = [held.index(x) if x in held else -1 for x in b.to_pylist()]
        assert _positions_in(b, a).tolist() == expected
