"""Module commands on a real server with a real module (Debian's RediSearch): keys from specs, calls credited."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_partials import assert_same

import monitorlens
from monitorlens.analysis import breakdowns as bd
from monitorlens.analysis.analyze import analyze
from monitorlens.analysis.breakdowns import ClientNames
from monitorlens.analysis.filters import Filters
from monitorlens.analysis.stream import analyze_stream
from monitorlens.store import WRITE_OPTIONS
from monitorlens.testing import RedisServer

REDISEARCH = "/usr/lib/redis/modules/redisearch.so"  # apt-get install redis-redisearch (.ci/run does)
ROOT = Path(__file__).resolve().parents[1]
PASTES = ROOT.parent / "shared" / "wild-pastes" / "monitor"
needs_module = pytest.mark.skipif(not os.path.exists(REDISEARCH), reason="redis-redisearch is not installed")


def record(commands: dict[str, list[list[str]]], timeout: float = 20.0) -> bytes:
    """A MONITOR capture (redis-cli, as users take them) of named clients running ``commands``
    in turn, on a server with RediSearch loaded."""
    with RedisServer(config={"loadmodule": REDISEARCH}) as server:
        capture = subprocess.Popen([*server.cli_args(), "MONITOR"], stdout=subprocess.PIPE)
        clients = {name: server.client(protocol=2, single_connection_client=True) for name in commands}
        deadline = time.monotonic() + timeout
        while b"OK" not in capture.stdout.peek(2) and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.02)
        rounds = max(len(c) for c in commands.values())
        for i in range(rounds):
            for name, cmds in commands.items():
                if i < len(cmds):
                    clients[name].execute_command(*cmds[i])
        clients[next(iter(commands))].execute_command("PING")  # the last line, to know all came
        for c in clients.values():
            c.close()
        time.sleep(0.3)
        capture.terminate()
        out, _ = capture.communicate(timeout=timeout)
    return out


@needs_module
def test_module_calls_are_credited_to_the_client_of_the_module_command() -> None:
    data = record({
        "indexer": [["FT.CREATE", "idx", "SCHEMA", "t", "TEXT"],
                    ["FT.ADD", "idx", "doc1", "1.0", "FIELDS", "t", "hello world"],
                    ["FT.ADD", "idx", "doc2", "1.0", "FIELDS", "t", "hello"]],
        "reader": [["GET", "plain"], ["SET", "plain", "1"], ["FT.SEARCH", "idx", "hello"]],
    })
    events = monitorlens.read_monitor(data.splitlines())
    # RediSearch loads each hit with HGETALL (and now and then calls INFO on its own).
    module = (events["client"].astype(str) == "?:0") & (events["command"] == "HGETALL")
    assert module.sum() == 2, data.decode()
    callers = bd.script_callers(events)
    search_client = events.loc[events.command == "FT.SEARCH", "client"].astype(str).iloc[0]
    assert (callers[module].astype(str) == search_client).all()
    assert events.loc[events.command == "FT.SEARCH", "key_rule"].astype(str).tolist() == ["none"]
    assert events.loc[events.command == "FT.ADD", "keys"].map(list).tolist() == [["doc1"], ["doc2"]]


# FT.DROP on Redis 7.0 + RediSearch 1.2 (recorded with test_module_calls_...'s server):
# the module's SCAN/DEL come before the FT.DROP line, which the server writes once it ran.
FT_DROP = [
    b'1796061062.129131 [0 127.0.0.1:57650] "SET" "a" "1"',
    b'1796061062.129322 [0 ?:0] "SCAN" "0" "MATCH" "ft:idx/*" "COUNT" "100"',
    b'1796061062.129334 [0 ?:0] "DEL" "ft:idx/hello" "ss:idx/hello" "si:idx/hello"',
    b'1796061062.129362 [0 127.0.0.1:57651] "FT.DROP" "idx"',
    b'1796061062.129600 [0 127.0.0.1:57650] "PING"',
    b'1796061062.129571 [0 ] "INFO" "x"',  # 7.2+: empty source; no module command around it
]


def test_lines_a_module_ran_before_its_command_are_credited_to_it() -> None:
    events = monitorlens.read_monitor(FT_DROP)
    assert bd.script_callers(events).astype(str).tolist() == [
        "127.0.0.1:57650", "127.0.0.1:57651", "127.0.0.1:57651", "127.0.0.1:57651", "127.0.0.1:57650", ""]


@pytest.fixture(scope="module")
def searches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FT.CREATE, FT.ADD and FT.SEARCH (whose HGETALL lines RediSearch writes) among plain
    commands, recorded once for the tests that cut it into blocks everywhere."""
    data = record({
        "indexer": [["FT.CREATE", "idx", "SCHEMA", "t", "TEXT"],
                    *[["FT.ADD", "idx", f"doc{i}", "1.0", "FIELDS", "t", "hello world"] for i in range(10)]],
        "reader": [["GET", "plain"], *[["FT.SEARCH", "idx", "hello"] for _ in range(5)]],
        "other": [["SET", f"k{i}", "v"] for i in range(8)],
    })
    capture = tmp_path_factory.mktemp("searches") / "monitor.txt"
    capture.write_bytes(data)
    events = monitorlens.read_monitor(capture)
    assert ((events["client"].astype(str) == "?:0") & (events["command"] == "HGETALL")).sum() >= 10
    return capture


def assert_same_cut_anywhere(expected, capture: Path, tmp_path: Path, step: int, **options) -> None:
    """``capture`` streamed in blocks of 150 bytes and more (the boundaries fall everywhere in
    turn), in chunks merged in order, and in Parquet row groups of 3 rows: as ``expected``."""
    for block_size in range(150, 1200, step):
        assert_same(expected, analyze_stream(capture, workers=0, block_size=block_size, **options))
    assert_same(expected, analyze_stream(capture, workers=2, block_size=300, **options))
    monitorlens.convert(capture, tmp_path / "whole.parquet")
    table = pq.ParquetFile(tmp_path / "whole.parquet").read()
    pq.write_table(table, tmp_path / "groups.parquet", row_group_size=3, **WRITE_OPTIONS)
    assert_same(expected, analyze_stream(tmp_path / "groups.parquet", workers=2, **options))


@needs_module
def test_module_lines_across_blocks_are_credited_as_in_one_piece(searches: Path, tmp_path: Path) -> None:
    """A module command and its lines in different blocks, chunks or row groups: the streaming
    analysis credits them as analyze() of the whole capture does (lines that wait at a
    partial's edge are resolved when the partial beside it is merged)."""
    assert_same_cut_anywhere(analyze(monitorlens.read_monitor(searches)), searches, tmp_path, 37)


def _filtered(events, client: str):
    """What analyze() of the whole capture gives under ``--client client``."""
    f = Filters.of(client=client)
    return f, analyze(f.apply(events), filters=f, names=ClientNames.of(events))


@needs_module
def test_a_client_filter_keeps_module_lines_across_blocks(searches: Path, tmp_path: Path) -> None:
    """Under --client, a module's lines at a block's, chunk's or row group's edge follow their
    module command's client as in the whole capture (they wait for the block beside)."""
    events = monitorlens.read_monitor(searches)
    reader = str(events.loc[events.command == "FT.SEARCH", "client"].iloc[0])
    f, expected = _filtered(events, reader)
    assert expected.commands.set_index("command")["count"].get("HGETALL", 0) >= 10  # the module's, credited
    assert_same_cut_anywhere(expected, searches, tmp_path, 53, filters=f)


def test_a_client_filter_keeps_lines_a_module_ran_before_its_command(tmp_path: Path) -> None:
    """FT.DROP's SCAN/DEL come before its line: in a block before it, or a block of them
    alone, they follow FT.DROP's client under --client (and not the client before them)."""
    capture = tmp_path / "monitor.txt"
    capture.write_bytes(b"\n".join([*FT_DROP, b'1796061062.129800 [0 127.0.0.1:57650] "GET" "a"']) + b"\n")
    events = monitorlens.read_monitor(capture)
    for client in ("127.0.0.1:57651", "127.0.0.1:57650"):
        f, expected = _filtered(events, client)
        assert expected.overview.events == 3  # FT.DROP and its SCAN, DEL; or SET, PING, GET
        for block_size in (60, 90, 120, 150, 200, 400):
            assert_same(expected, analyze_stream(capture, workers=0, block_size=block_size, filters=f))


def test_module_lines_before_their_command_across_blocks(tmp_path: Path) -> None:
    """Lines a module ran before its command's line (FT.DROP), a block apart, and a block of
    module lines only: credited as in one piece."""
    capture = tmp_path / "monitor.txt"
    capture.write_bytes(b"\n".join([*FT_DROP, b'1796061062.129800 [0 127.0.0.1:57650] "GET" "a"']) + b"\n")
    expected = analyze(monitorlens.read_monitor(capture))
    assert expected.clients.set_index("client")["count"].to_dict()["127.0.0.1:57651"] == 3
    for block_size in (60, 90, 120, 150, 200):
        assert_same(expected, analyze_stream(capture, workers=0, block_size=block_size))


@pytest.mark.skipif(not PASTES.is_dir(), reason="shared/wild-pastes is not beside the repo")
def test_redisgears_trigger_names_no_hot_key_and_its_calls_are_credited() -> None:
    # Redis 6.x + RedisGears, pasted in the redis.io rate-limiting page: RG.TRIGGER RateLimiter ...
    events = monitorlens.read_monitor(PASTES / "29-redisgears-module-client-6.x.txt")
    from monitorlens.analysis.analyze import analyze

    hot = bd.hot_keys(events)
    assert "RateLimiter" not in hot["key"].tolist()
    assert hot["key"].tolist()[0] == "rl_localhost:47"
    credited = bd.script_callers(events).astype(str)
    assert set(credited) == {"172.17.0.1:56036"}
    analysis = analyze(events)
    assert "RateLimiter" not in {r["key"] for r in analysis.to_dict()["hot_keys"]}


def test_unknown_commands_keys_are_guesses_left_out_unless_asked() -> None:
    events = monitorlens.read_monitor([
        b'1700000000.000001 [0 127.0.0.1:5] "MYMOD.DO" "not-a-key" "1"',
        b'1700000000.000002 [0 127.0.0.1:5] "GET" "user:1"',
        b'1700000000.000003 [0 127.0.0.1:5] "MYMOD.DO" "not-a-key" "2"',
    ])
    assert events.key_rule.astype(str).tolist() == ["first-arg", "spec", "first-arg"]
    assert bd.hot_keys(events)["key"].tolist() == ["user:1"]
    assert bd.by_key_pattern(events)["pattern"].tolist() == ["user:{int}"]
    asked = bd.key_table(events, guessed_keys=True)
    assert bd.hot_keys(asked)["key"].tolist() == ["not-a-key", "user:1"]
