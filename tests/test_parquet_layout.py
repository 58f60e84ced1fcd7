"""Parquet layout 2: each key's bytes stored once, read back exactly.

``load(ingest(text))`` must equal ``load(text)`` in every column and row: on the sample
captures, on a capture recorded here from a real redis-server with keys of every shape the
parser knows (several key ranges, keywords, numkeys, Redis' own key procedures, binary,
non-UTF-8 and empty keys, a key equal to another argument), and on the real pastes. On disk
(read with pyarrow alone) ``key`` is gone, ``keys`` is whole and ``args`` is null exactly
where Redis' key finder (commands.key_positions, row by row) puts a key whose text is its
bytes. Files of the earlier layout still load, and the streaming analysis reads the new
files as it reads the text.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitorlens import commands
from monitorlens.analysis.analyze import analyze
from monitorlens.analysis import stream
from monitorlens.analysis.stream import aggregate, analyze_stream
from monitorlens.errors import InputError
from monitorlens.read import layout
from monitorlens.read.ingest import read_monitor
from monitorlens.read.parse import parse_block
from monitorlens.store import ROW_GROUP_ROWS, RowGroups, WRITE_OPTIONS, ingest, ingest_dataset, load, read_parquet, write_parquet
from monitorlens.testing import RedisServer
from test_partials import SAMPLES, assert_same

ROOT = Path(__file__).resolve().parents[1]
PASTES = ROOT.parent / "shared" / "wild-pastes" / "monitor"
OLD = ROOT / "tests" / "golden" / "grammar-layout1.parquet"  # written by monitorlens before layout 2


def events_table(df) -> pa.Table:
    bare = df.copy(deep=False)
    bare.attrs = {}
    return pa.Table.from_pandas(bare, preserve_index=False).replace_schema_metadata(None)


def assert_same_events(expected, got) -> None:
    """Every column, every row, every byte, and the dtypes; the provenance too."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    assert events_table(got).equals(events_table(expected))
    assert got.attrs["provenance"] == expected.attrs["provenance"]


def record(out: Path) -> Path:
    """Commands of every key shape, from real clients of a real redis-server."""
    with RedisServer() as server:

        def work() -> None:
            r = server.client()
            r.client_setname("shapes")
            r.set("k", "k")  # a key equal to its value
            r.hset("h", "h", "h")
            r.set("", "empty key")
            r.get("")
            r.set(b"\xff\xfe\x00bin", b"\x00\x01")  # not UTF-8
            r.get(b"\xff\xfe\x00bin")
            r.set("ключ:☃", "utf-8 of several bytes")
            r.set('quote"back\\slash\nnewline', "escaped by MONITOR")
            r.mset({"m1": "v", b"m\xff2": "v", "m3": "m1"})  # one key of three not UTF-8: the row stays whole
            r.mset({"n1": "n1", "n2": "n2"})
            r.mget(["m1", "m3", "m1"])  # a key twice
            r.rename("m1", "m1")
            r.smove("s", "s", "x")
            r.zadd("z1", {"a": 1})
            r.zadd("z2", {"b": 2})
            r.zunionstore("zdst", ["z1", "z2", "z1"], aggregate="MAX")  # dest, numkeys, keys, options
            r.zinterstore("z1", {"z1": 2, "z2": 1})  # dest equal to a source, WEIGHTS
            r.xadd("s1", {"f": "v"})
            r.xadd("s2", {"f": "v"})
            r.xread({"s1": "0", "s2": "0"}, count=1)  # STREAMS k1 k2 id1 id2
            r.xgroup_create("s1", "g", id="0")
            r.xreadgroup("g", "c", {"s1": ">"}, count=1)
            r.xinfo_stream("s1")
            r.rpush("l1", "a", "b")
            r.execute_command("LMPOP", 2, "l0", "l1", "LEFT", "COUNT", 1)
            r.execute_command("ZMPOP", 2, "z0", "z2", "MIN")
            r.rpush("sortme", 3, 1, 2)
            r.execute_command("SORT", "sortme", "BY", "nosort", "GET", "#", "STORE", "d1", "STORE", "d2")
            r.execute_command("SORT", "sortme", "LIMIT", 0, 2, "ALPHA")
            r.execute_command("MIGRATE", "127.0.0.1", 1, "", 0, 100, "KEYS", "gone1", "gone2")  # NOKEY: no connection
            r.eval("return redis.call('GET', KEYS[1]) or #KEYS", 2, "k", "l1", "argv-k", "k")
            r.eval("return 1", 0)
            r.geoadd("g", (13.36, 38.11, "palermo"))
            r.execute_command("GEORADIUS", "g", 15, 37, 200, "km", "STOREDIST", "gd", "STORE", "gs")  # keys out of order
            r.execute_command("OBJECT", "ENCODING", "k")
            r.execute_command("MEMORY", "USAGE", "k")
            r.execute_command("BITOP", "AND", "bdst", "k", "k")
            r.pfadd("p1", "a")
            r.pfmerge("p2", "p1", "p1")
            r.set("big", b"v" * 70_000)
            r.execute_command("SELECT", 3)
            r.set("in-db-3", "x")
            r.ping()

        server.record_monitor(out, work)
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record(tmp_path_factory.mktemp("shapes") / "monitor.txt")


def round_trip(text: Path, tmp_path: Path) -> Path:
    parquet = tmp_path / (text.name.split(".")[0] + ".parquet")
    ingest(text, parquet)
    assert_same_events(load(text), load(parquet))
    return parquet


def test_recording_round_trip_and_disk(recorded: Path, tmp_path: Path) -> None:
    events = load(recorded)
    commands_seen = set(events["command"])
    assert {"ZUNIONSTORE", "XREAD", "XREADGROUP", "LMPOP", "ZMPOP", "SORT", "MIGRATE", "EVAL", "GEORADIUS",
            "BITOP", "PFMERGE", "MSET", "SMOVE"} <= commands_seen
    parquet = round_trip(recorded, tmp_path)
    stored = pq.read_table(parquet)
    assert stored.schema.metadata[layout.LAYOUT_KEY] == layout.LAYOUT
    assert "key" not in stored.column_names and stored.column_names == list(layout.STORED_COLUMNS)
    assert stored.column("keys").to_pylist() == events["keys"].tolist()
    nulled = whole = 0
    for command, args, on_disk, keys in zip(events["command"], events["args"], stored.column("args").to_pylist(),
                                            stored.column("keys").to_pylist()):
        places, _ = commands.key_positions(command, list(args))  # Redis' key finder, one row at a time
        assert [args[p].decode("utf-8", "backslashreplace") for p in places] == keys
        exact = all(args[p] == k.encode() for p, k in zip(places, keys))
        if places and exact and places == sorted(set(places)):
            assert [i for i, a in enumerate(on_disk) if a is None] == places
            assert [a for a in on_disk if a is not None] == [a for i, a in enumerate(args) if i not in places]
            nulled += 1
        else:
            assert on_disk == list(args)
            whole += 1
    assert nulled > 30 and whole > 5
    on_disk = stored.column("args").to_pylist()

    def stored_args(command: str, first: bytes) -> list[bytes | None]:
        rows = [i for i, (c, a) in enumerate(zip(events["command"], events["args"])) if c == command and a[0] == first]
        assert rows, (command, first)
        return on_disk[rows[0]]

    geo = stored_args("GEORADIUS", b"g")
    assert None not in geo and geo[6] == b"gd" and geo[8] == b"gs"  # keys found out of order: the row stays whole
    assert stored_args("ZUNIONSTORE", b"zdst")[:5] == [None, b"3", None, None, None]
    assert stored_args("XREAD", b"COUNT")[3:] == [None, None, b"0", b"0"]
    sort = stored_args("SORT", b"sortme")
    assert sort[0] is None and sort[-1] is None and sort[-3] == b"d1"  # only the last STORE is a key
    assert stored_args("MIGRATE", b"127.0.0.1")[-2:] == [None, None]
    assert stored_args("EVAL", b"return redis.call('GET', KEYS[1]) or #KEYS")[2:] == [None, None, b"argv-k", b"k"]
    assert stored_args("SET", b"k") == [None, b"k"]  # the value equal to the key stays
    assert stored_args("SET", b"") == [None, b"empty key"]
    assert stored_args("SET", b"\xff\xfe\x00bin") == [b"\xff\xfe\x00bin", b"\x00\x01"]  # not UTF-8: whole


def test_recording_analysed_from_parquet(recorded: Path, tmp_path: Path) -> None:
    """The streaming analysis of the Parquet file, in this process and in workers, equals analyze() of the text."""
    parquet = tmp_path / "shapes.parquet"
    ingest(recorded, parquet)
    expected = analyze(read_monitor(recorded))
    assert_same(expected, analyze_stream(parquet, workers=0))
    table = pq.ParquetFile(parquet).read()  # again in groups of a few rows, as any Parquet writer may cut them
    pq.write_table(table, tmp_path / "small.parquet", row_group_size=7, **WRITE_OPTIONS)
    assert pq.ParquetFile(tmp_path / "small.parquet").num_row_groups > 5
    assert_same(expected, analyze_stream(tmp_path / "small.parquet", workers=2))
    with open(parquet, "rb") as f:  # a stream: read once, batch by batch
        assert_same(expected, analyze_stream(f, workers=0))


def test_parquet_size_counts_as_its_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Parquet file is 6-30x smaller than its text: whether its analysis is worth worker
    processes goes by its events, not its bytes (4M events in 19 MB ran on one core)."""
    parquet = tmp_path / "events.parquet"
    ingest(SAMPLES["calm"], parquet)
    events = pq.read_metadata(parquet).num_rows
    assert parquet.stat().st_size * 2 < events * stream.EVENT_BYTES
    monkeypatch.setattr(stream, "INLINE_BYTES", parquet.stat().st_size * 2)  # more than its bytes, less than its text

    class Steps:
        said: list[str] = []

        def __call__(self, done: int, lines: int) -> None:
            pass

        def step(self, text: str) -> None:
            self.said.append(text)

    steps = Steps()
    got = aggregate(parquet, progress=steps).analysis()
    assert any("worker processes" in text for text in steps.said), steps.said
    assert_same(analyze_stream(parquet, workers=0), got)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_round_trip(name: str, tmp_path: Path) -> None:
    parquet = round_trip(SAMPLES[name], tmp_path)
    assert_same(analyze(read_monitor(SAMPLES[name])), analyze_stream(parquet, workers=0))


def test_pastes_round_trip(tmp_path: Path) -> None:
    pastes = sorted(PASTES.glob("*.txt")) if PASTES.is_dir() else []
    if not pastes:
        pytest.skip("../shared/wild-pastes is not beside the repository")
    parsed = 0
    for paste in pastes:
        if len(load(paste)):
            round_trip(paste, tmp_path)
            parsed += 1
    assert parsed >= 20


def test_earlier_layout_still_loads(tmp_path: Path) -> None:
    """A file written by monitorlens before layout 2 (key, keys and args all whole)."""
    assert layout.LAYOUT_KEY not in pq.read_metadata(OLD).metadata
    assert "key" in pq.read_schema(OLD).names
    text = load(SAMPLES["grammar"])
    old = load(OLD)
    text.attrs["provenance"] = dataclasses.replace(text.attrs["provenance"], source="monitor.txt")
    assert_same_events(text, old)
    assert_same(analyze(text), analyze_stream(OLD, workers=0))
    assert read_parquet(OLD, columns=["key", "nargs"])["key"].tolist() == text["key"].tolist()


def test_earlier_layout_of_a_recording(recorded: Path, tmp_path: Path) -> None:
    """The earlier layout was the table in memory as it is: such a file of every key shape loads the same."""
    events = read_monitor(recorded)
    table = events_table(events).cast(layout.MONITOR_SCHEMA)
    table = table.replace_schema_metadata(events.attrs["provenance"].to_metadata())
    pq.write_table(table, tmp_path / "old.parquet", row_group_size=10)
    assert_same_events(events, load(tmp_path / "old.parquet"))
    assert_same(analyze(events), analyze_stream(tmp_path / "old.parquet", workers=2))


def test_some_columns(recorded: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "shapes.parquet"
    ingest(recorded, parquet)
    events = load(recorded)
    for columns in (["key"], ["args"], ["command", "args", "key"], ["line"]):
        got = read_parquet(parquet, columns=columns)
        assert list(got.columns) == columns
        assert events_table(got).equals(events_table(events[columns]))


def test_write_parquet_of_a_frame(recorded: Path, tmp_path: Path) -> None:
    """A DataFrame goes to layout 2 when it is the parser's; edited so that it is not, every column stays whole."""
    events = read_monitor(recorded)
    write_parquet(events, tmp_path / "df.parquet")
    assert pq.read_metadata(tmp_path / "df.parquet").metadata[layout.LAYOUT_KEY] == layout.LAYOUT
    assert_same_events(events, load(tmp_path / "df.parquet"))
    edited = events.copy()
    edited["key"] = edited["key"].str.upper()
    write_parquet(edited, tmp_path / "edited.parquet")
    assert layout.LAYOUT_KEY not in pq.read_metadata(tmp_path / "edited.parquet").metadata
    assert_same_events(edited, load(tmp_path / "edited.parquet"))


def test_rows_pack_only_when_exact() -> None:
    """Unit rules on hand-made rows: a row packs only when its places strictly increase and
    hold its keys' bytes (the same argument twice, or keys out of order, keep it whole)."""
    table = parse_block(b'1700000000.000001 [0 a:1] "MSET" "a" "1" "a" "2"\n'
                        b'1700000000.000002 [0 a:1] "GET" "c"\n').table
    assert table.column("keys").to_pylist() == [["a", "a"], ["c"]]
    mset = [b"a", b"1", b"a", b"2"]
    for places, expected in (((0, 2, 4), [None, b"1", None, b"2"]),  # as the parser finds them
                             ((0, 0, 4), mset),  # one argument for both keys
                             ((2, 0, 4), mset),  # out of order
                             ((0, 1, 4), mset)):  # '1' is not 'a'
        packed = layout.pack(table, np.array(places))
        assert packed.column("args").to_pylist() == [expected, [None]]
        assert layout.unpack(packed).equals(table)
    with pytest.raises(ValueError, match="key places"):
        layout.pack(table, np.array([0, 2]))


def test_damaged_and_later_files(recorded: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "shapes.parquet"
    ingest(recorded, parquet)
    table = pq.ParquetFile(parquet).read()
    later = table.replace_schema_metadata(table.schema.metadata | {layout.LAYOUT_KEY: b"3"})
    pq.write_table(later, tmp_path / "later.parquet")
    with pytest.raises(InputError, match="layout 3.*upgrade"):
        load(tmp_path / "later.parquet")
    args = table.column("args").combine_chunks()
    broken = pa.ListArray.from_arrays(args.offsets, pa.array([None] * len(args.values), pa.binary()))
    pq.write_table(table.set_column(table.schema.get_field_index("args"), "args", broken), tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="damaged"):
        load(tmp_path / "bad.parquet")


def test_row_groups(tmp_path: Path) -> None:
    """Tables of any sizes go out in groups of exactly the size asked, the last one smaller."""
    table = layout.pack(*(lambda r: (r.table, r.key_places))(parse_block(SAMPLES["grammar"].read_bytes())))
    with pq.ParquetWriter(tmp_path / "g.parquet", layout.STORED_SCHEMA) as writer:
        groups = RowGroups(writer, rows=20)
        for start in (0, 3, 30, 31, 70):
            groups.add(table.slice(start, {0: 3, 3: 27, 30: 1, 31: 39, 70: 24}[start]))
        groups.close()
    f = pq.ParquetFile(tmp_path / "g.parquet")
    assert [f.metadata.row_group(g).num_rows for g in range(f.num_row_groups)] == [20, 20, 20, 20, 14]
    assert layout.unpack(f.read()).equals(layout.unpack(table))
    assert ROW_GROUP_ROWS >= 1 << 16


def test_a_dataset_of_captures(recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Several captures to node=<name>/part-N.parquet, read as one by pyarrow.dataset (hive
    partitioning: a node column) and by the streaming analysis, each event under its node."""
    import pyarrow.dataset as ds

    from monitorlens.analysis.stream import aggregate
    from monitorlens.cli import main

    shard_a, shard_b = tmp_path / "shard-a.txt", tmp_path / "shard-b.txt.gz"
    shard_a.write_bytes(recorded.read_bytes())
    shard_b.write_bytes(SAMPLES["incident"].read_bytes())
    counts = {n: len(load(p)) for n, p in (("a", recorded), ("b", SAMPLES["incident"]),
                                           ("g", SAMPLES["grammar"]), ("c", SAMPLES["calm"]))}
    out = tmp_path / "dataset"
    assert main(["ingest", str(shard_a), str(shard_b), "-o", f"{out}/"]) == 0
    assert aggregate(out, workers=0).nodes().set_index("node")["count"].to_dict() == {
        "shard-a": counts["a"], "shard-b": counts["b"]}
    assert main(["ingest", str(SAMPLES["grammar"]), str(SAMPLES["calm"]), "-o", str(out), "--node", "redis-1"]) == 0
    said = capsys.readouterr().out
    day, samples_day = _day(recorded), _day(SAMPLES["grammar"])
    assert f"{out}/node=shard-a/date={day}/part-0.parquet: {counts['a']:,} events" in said
    assert f"{out}/node=redis-1/date={samples_day}/part-1.parquet: {counts['c']:,} events" in said
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    assert files == [f"node=redis-1/date={samples_day}/part-0.parquet", f"node=redis-1/date={samples_day}/part-1.parquet",
                     f"node=shard-a/date={day}/part-0.parquet", f"node=shard-b/date={samples_day}/part-0.parquet"]
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table().drop_columns(["date"])
    nodes = table.group_by("node").aggregate([("line", "count")]).to_pydict()
    assert dict(zip(nodes["node"], nodes["line_count"])) == {
        "shard-a": counts["a"], "shard-b": counts["b"], "redis-1": counts["g"] + counts["c"]}
    # a node= folder of several parts is one node to the streaming analysis too
    assert aggregate(out, workers=0).nodes().set_index("node")["count"].to_dict() == {
        "shard-a": counts["a"], "shard-b": counts["b"], "redis-1": counts["g"] + counts["c"]}
    keys = layout.unpack(table.drop_columns(["node"])).column("keys")
    assert keys.to_pylist() == [k for p in (SAMPLES["grammar"], SAMPLES["calm"], recorded, SAMPLES["incident"])
                                for k in load(p)["keys"].tolist()]
    assert aggregate(out, workers=0).analysis().overview.events == sum(counts.values())


def _day(capture: Path) -> str:
    return load(capture)["ts"].min().strftime("%Y-%m-%d")


def _shifted(capture: Path, to: Path, seconds: float) -> Path:
    """A real recording moved in time (each line's timestamp plus ``seconds``)."""
    out = []
    for line in capture.read_bytes().splitlines(keepends=True):
        stamp, _, rest = line.partition(b" ")
        out.append(b"%.6f %s" % (float(stamp) + seconds, rest) if re.fullmatch(rb"\d+\.\d+", stamp) else line)
    to.write_bytes(b"".join(out))
    return to


def test_a_dataset_of_days(recorded: Path, tmp_path: Path) -> None:
    """Captures of several days from one node: one date= folder per UTC day, which DuckDB,
    Spark and pyarrow read as a column (a query on one day opens its folder only); a
    capture that runs past midnight stays whole under the day it began."""
    import pyarrow.dataset as ds

    from monitorlens.analysis.stream import aggregate

    start = load(recorded)["ts"].min().timestamp()
    ts = load(recorded)["ts"]
    half = (ts.max() - ts.min()).total_seconds() / 2
    assert half > 0
    monday = recorded
    tuesday = _shifted(recorded, tmp_path / "tuesday.txt", 86400)
    midnight = (start // 86400 + 3) * 86400  # the end of the day after tuesday
    late = _shifted(recorded, tmp_path / "late.txt", midnight - half - start)  # half of it before midnight
    written = ingest_dataset([monday, tuesday, late], tmp_path / "ds", node="redis-1")
    days = [_day(p) for p in (monday, tuesday, late)]
    assert len(set(days)) == 3 and _day(late) != load(late)["ts"].max().strftime("%Y-%m-%d")
    assert [p.relative_to(tmp_path / "ds").as_posix() for p, _ in written] == [
        f"node=redis-1/date={d}/part-0.parquet" for d in days]
    n = len(load(recorded))
    dataset = ds.dataset(tmp_path / "ds", format="parquet", partitioning="hive")
    assert dataset.to_table(filter=ds.field("date") == days[1]).num_rows == n
    assert dataset.to_table().group_by("date").aggregate([("line", "count")]).to_pydict()["line_count"] == [n] * 3
    assert aggregate(tmp_path / "ds", workers=0).nodes().set_index("node")["count"].to_dict() == {"redis-1": 3 * n}
    assert not list((tmp_path / "ds").rglob(".incoming-*"))


@pytest.mark.parametrize("argv,message", [
    (["X", "Y"], "name its folder with -o FOLDER/"),
    (["X", "--node", "a/b", "-o", "ds/"], "node 'a/b'"),
    (["-", "-o", "ds/"], "a stream has no file name"),
    (["CLIENTS", "-o", "ds/"], "CLIENT LIST snapshots, not a MONITOR capture"),
    (["X", "-o", "ds/", "--kind", "clients"], "not --kind clients"),
])
def test_dataset_mistakes(argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    from monitorlens.cli import main

    monkeypatch.chdir(tmp_path)
    paths = {"X": str(SAMPLES["grammar"]), "Y": str(SAMPLES["calm"]),
             "CLIENTS": str(ROOT / "sample_captures" / "grammar" / "clients.log")}
    assert main(["ingest", *(paths.get(a, a) for a in argv)]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ds").exists() or not any((tmp_path / "ds").rglob("*"))
