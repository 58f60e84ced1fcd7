"""CLIENT LIST names and bundles, streamed block by block, give what the whole capture gives.

The whole-capture path (``read_inputs``: load, ``attach_names``, filter, ``reconcile``, then
``analyze``) is the reference; the streamed one names each block by time, keeps per-client
and per-application partials and counts commands before the filters. Compared on every
sample with its CLIENT LIST log and on a bundle recorded by ``capture`` from a real
redis-server where names change mid-capture, come from HELLO SETNAME, or are known only
from a later snapshot; in blocks of a few lines, and in worker processes.
"""

from __future__ import annotations

import gzip
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from monitorlens.analysis.filters import Filters
from monitorlens.analysis.stream import analyze_stream
from monitorlens.read.bundle import open_bundle
from monitorlens.store import load_connections, load_snapshots
from monitorlens.testing import RedisServer, redis_server_path
from monitorlens.analysis.analyze import analyze
from monitorlens.workflows import Inputs, analyze_files, read_inputs
from test_partials import SAMPLES, assert_same

CLIENT_LOGS = {"grammar": "clients.log", "incident": "clients.log.gz", "calm": "clients.log.gz",
               "surge": "clients.log.gz"}


def same_analysis(expected, got) -> None:
    """assert_same, and the names, applications, CLIENT LIST part and reconciliation too."""
    assert_same(expected, got)
    pd.testing.assert_frame_equal(expected.applications, got.applications, check_dtype=False, obj="applications")
    cols = [c for c in ("client", "name", "name_source", "user", "lib_name") if c in expected.clients]
    assert cols == [c for c in ("client", "name", "name_source", "user", "lib_name") if c in got.clients]
    assert (expected.clientlist is None) == (got.clientlist is None)
    if expected.clientlist is not None:
        assert [f.title for f in expected.clientlist.findings] == [f.title for f in got.clientlist.findings]
    assert (expected.reconciliation is None) == (got.reconciliation is None)
    if expected.reconciliation is not None:
        pd.testing.assert_frame_equal(expected.reconciliation.table, got.reconciliation.table)
        assert expected.reconciliation.to_dict() == got.reconciliation.to_dict()
    unnamed = lambda a: [(f.severity, f.evidence.metrics, f.evidence.rows) for f in a.findings  # noqa: E731
                         if f.code == "unnamed-clients"]
    assert unnamed(expected) == unnamed(got)


def _analyze(inputs: Inputs, top: int, maxclients: int | None):
    """The analysis of the whole capture held in memory: the reference."""
    return analyze(inputs.events, top=top, snapshots=inputs.snapshots, connections=inputs.connections,
                   maxclients=maxclients if maxclients is not None else inputs.maxclients, filters=inputs.filters,
                   names=inputs.names, provenance=inputs.provenance, reconciliation=inputs.reconciliation)


def whole(capture, clients=None, filters: Filters = Filters()):
    return _analyze(read_inputs(capture, clients, filters=filters), 10, None)


@pytest.mark.parametrize("name,block_size", [("grammar", 300), ("incident", 150_000), ("calm", 60_000),
                                             ("surge", 80_000), ("incident", 1 << 20)])
def test_samples_named_block_by_block(name: str, block_size: int) -> None:
    capture, clients = SAMPLES[name], SAMPLES[name].parent / CLIENT_LOGS[name]
    expected = whole(capture, clients)
    assert expected.clients["name"].notna().any() and "user" in expected.clients
    got = analyze_stream(capture, snapshots=load_snapshots(clients), workers=0, block_size=block_size)
    same_analysis(expected, got)


@pytest.mark.parametrize("filters", [dict(since="2026-11-25T21:25:20Z"), dict(command=["GET", "EVALSHA"]),
                                     dict(db=[0])])
def test_named_and_filtered(filters: dict) -> None:
    capture, clients = SAMPLES["incident"], SAMPLES["incident"].parent / "clients.log.gz"
    f = Filters.of(**filters)
    expected = whole(capture, clients, f)
    got = analyze_stream(capture, snapshots=load_snapshots(clients), filters=f, workers=0, block_size=150_000)
    same_analysis(expected, got)


def test_named_in_worker_processes(tmp_path: Path) -> None:
    """A plain text capture cut into chunks for worker processes: partials merge across them."""
    plain = tmp_path / "monitor.txt"
    plain.write_bytes(gzip.decompress(SAMPLES["incident"].read_bytes()))
    clients = SAMPLES["incident"].parent / "clients.log.gz"
    expected = whole(plain, clients)
    import monitorlens.analysis.stream as stream
    old = stream.MIN_CHUNK
    stream.MIN_CHUNK = 50_000  # several chunks of a small file
    try:
        got = analyze_stream(plain, snapshots=load_snapshots(clients), workers=2, block_size=20_000)
    finally:
        stream.MIN_CHUNK = old
    same_analysis(expected, got)


def test_the_sample_folder_reads_its_logs_in_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """analyze_files (summary, report) takes the streamed path with --clients and gives the same."""
    capture, clients = SAMPLES["incident"], SAMPLES["incident"].parent / "clients.log.gz"
    connections = SAMPLES["incident"].parent / "connections.csv"
    expected = _analyze(read_inputs(capture, clients, connections), 10, None)
    got = analyze_files(capture, clients=clients, connections=connections)
    same_analysis(expected, got)


# ----------------------------------------------------------------------- a real bundle


def _workload(server: RedisServer, started: threading.Event, stop: threading.Event) -> None:
    """Names that change mid-capture, HELLO SETNAME, a name set before MONITOR began (known
    only from snapshots, the first of them after the lines), scripts, short connections."""
    early = server.client(single_connection_client=True, protocol=2, client_name="named-before")
    early.ping()
    started.wait(10)
    changing = server.client(single_connection_client=True, protocol=2)
    hello = server.client(single_connection_client=True, protocol=3)
    script = "redis.call('INCR', KEYS[1]) return redis.call('GET', KEYS[1])"
    deadline = time.monotonic() + 4
    changing.client_setname("first-name")
    hello.execute_command("HELLO", "3", "SETNAME", "hello-app")
    i = 0
    while not stop.is_set() and time.monotonic() < deadline:
        early.set(f"early:{i % 5}", i)
        changing.get(f"user:{i % 7}")
        changing.eval(script, 1, f"job:{i % 3}")
        hello.hset(f"h:{i % 4}", "f", i)
        if i == 40:
            changing.client_setname("second-name")
        if i % 15 == 0:
            short = server.client(single_connection_client=True, protocol=2)
            short.execute_command("SELECT", 1)
            short.incr("churn")
            short.close()
        i += 1
        time.sleep(0.02)
    for c in (early, changing, hello):
        c.close()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if redis_server_path() is None:
        pytest.skip("needs redis-server")
    from monitorlens.live import CaptureLimits, Target, capture

    folder = tmp_path_factory.mktemp("bundle") / "incident"
    with RedisServer() as server:
        started, stop = threading.Event(), threading.Event()
        work = threading.Thread(target=_workload, args=(server, started, stop), daemon=True)
        work.start()
        timer = threading.Timer(0.5, started.set)
        timer.start()
        try:
            capture(Target(port=server.port), folder, CaptureLimits(duration=3.5, baseline=0.3, guard_every=0.25,
                                                                    every=0.4, max_drop=1))
        finally:
            stop.set()
            started.set()
            work.join(10)
    return folder


def test_a_recorded_bundle_streamed_equals_the_whole(bundle: Path) -> None:
    b = open_bundle(bundle)
    assert b.monitor is not None and b.clients is not None
    expected = _analyze(read_inputs(bundle), 10, None)
    names = set(expected.clients["name"].dropna())
    assert {"second-name", "hello-app", "named-before"} <= names, names
    by_app = set(expected.applications["application"])
    assert {"first-name", "second-name"} <= by_app  # the name at each line, not the last
    assert expected.reconciliation is not None and expected.reconciliation.exact
    for block_size, workers in ((1 << 20, 0), (3_000, 0)):
        got = analyze_stream(b.monitor, snapshots=load_snapshots(b.clients), workers=workers, block_size=block_size,
                             connections=load_connections(b.connections) if b.connections else None,
                             maxclients=b.maxclients, server=b.server)
        same_analysis(expected, got)
    same_analysis(expected, analyze_files(bundle))


def test_a_recorded_bundle_filtered(bundle: Path) -> None:
    """The reconciliation counts the lines before the filters; names survive them."""
    f = Filters.of(command=["GET", "HSET"])
    expected = _analyze(read_inputs(bundle, filters=f), 10, None)
    got = analyze_files(bundle, filters=f)
    same_analysis(expected, got)
    assert got.reconciliation.shown_total > got.overview.events


def test_plain_copy_in_workers(bundle: Path, tmp_path: Path) -> None:
    b = open_bundle(bundle)
    plain = tmp_path / "monitor.txt"
    with gzip.open(b.monitor, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    expected = whole(plain, b.clients)
    import monitorlens.analysis.stream as stream
    old = stream.MIN_CHUNK
    stream.MIN_CHUNK = 20_000
    try:
        got = analyze_stream(plain, snapshots=load_snapshots(b.clients), workers=2, block_size=4_000)
    finally:
        stream.MIN_CHUNK = old
    same_analysis(expected, got)


# ---------------------------------------------------------------------- --client


@pytest.mark.parametrize("wanted", ["web-1", "legacy-reports", "127.0.0.1", "127.0.0.1:32952", "lua", "nobody"])
def test_client_filter_with_names(wanted: str) -> None:
    """A client chosen by its CLIENT LIST name (the last its lines were given), its host, or
    lua: the lines kept, and their names, are the whole capture's."""
    capture, clients = SAMPLES["incident"], SAMPLES["incident"].parent / "clients.log.gz"
    f = Filters.of(client=wanted)
    try:
        expected = whole(capture, clients, f)
    except Exception as e:  # noqa: BLE001  a value no line matches: the same error both ways
        with pytest.raises(type(e)):
            analyze_files(capture, clients=clients, filters=f)
        return
    got = analyze_stream(capture, snapshots=load_snapshots(clients), filters=f, workers=0, block_size=100_000)
    same_analysis(expected, got)


@pytest.mark.parametrize("wanted", ["first-name", "second-name", "named-before", "hello-app"])
def test_client_filter_on_a_recorded_bundle(bundle: Path, wanted: str) -> None:
    """A name given up mid-capture chooses the lines it named; the last name, the address."""
    f = Filters.of(client=wanted)
    expected = _analyze(read_inputs(bundle, filters=f), 10, None)
    assert expected.overview.events > 0
    b = open_bundle(bundle)
    for block_size in (1 << 20, 3_000):
        got = analyze_stream(b.monitor, snapshots=load_snapshots(b.clients), filters=f, workers=0,
                             block_size=block_size, connections=load_connections(b.connections),
                             maxclients=b.maxclients, server=b.server)
        same_analysis(expected, got)


def test_client_filter_in_workers(bundle: Path, tmp_path: Path) -> None:
    b = open_bundle(bundle)
    plain = tmp_path / "monitor.txt"
    with gzip.open(b.monitor, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    events = _analyze(read_inputs(plain), 10, None).clients
    caller = str(events.loc[events["lua_count"] > 0, "client"].iloc[0])  # the script caller's address
    f = Filters.of(client=caller)
    expected = whole(plain, b.clients, f)
    assert expected.clients["lua_count"].sum() > 0
    import monitorlens.analysis.stream as stream
    old = stream.MIN_CHUNK
    stream.MIN_CHUNK = 20_000
    try:
        got = analyze_stream(plain, snapshots=load_snapshots(b.clients), filters=f, workers=2, block_size=4_000)
    finally:
        stream.MIN_CHUNK = old
    same_analysis(expected, got)


@pytest.mark.parametrize("wanted", [None, "grammar-app"])
def test_parquet_row_groups_named(tmp_path: Path, wanted: str | None) -> None:
    """Parquet read row group by row group (a few rows each): the SETNAME lines are read from
    its columns, each row group named and filtered alone."""
    import pyarrow.parquet as pq

    from monitorlens.store import convert

    convert(SAMPLES["grammar"], tmp_path / "all.parquet")
    table = pq.read_table(tmp_path / "all.parquet")
    pq.write_table(table.replace_schema_metadata(pq.read_metadata(tmp_path / "all.parquet").metadata),
                   tmp_path / "small.parquet", row_group_size=7)
    clients = SAMPLES["grammar"].parent / "clients.log"
    f = Filters.of(client=wanted)
    expected = whole(tmp_path / "small.parquet", clients, f)
    for workers in (0, 2):
        got = analyze_stream(tmp_path / "small.parquet", snapshots=load_snapshots(clients), filters=f, workers=workers)
        same_analysis(expected, got)
