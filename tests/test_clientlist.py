"""CLIENT LIST grammar and the readers of snapshots and connection-count logs.

Grammar rules are checked on short literal lines; the address forms on a real
redis-server (RedisServer, never a mock) and on the recorded sample captures.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from monitorlens.read import clientlist as cl
from monitorlens.read.sniff import kind_of
from monitorlens.errors import InputError, ParseError
from monitorlens.read.grammar import Rejected, parse_line
from monitorlens.read.schema import rejects
from monitorlens.testing import RedisServer, redis_server_path

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"

# One line per server version, written the way that version writes them (redis-formats.md §2).
V5 = (
    b"id=3 addr=10.0.0.5:40000 fd=8 name=web age=100 idle=5 flags=N db=0 sub=0 psub=0 multi=-1 "
    b"qbuf=0 qbuf-free=32768 obl=0 oll=0 omem=0 events=r cmd=get"
)
V72 = (
    b"id=4 addr=[::1]:5000 laddr=[::1]:6379 fd=9 name=api age=7 idle=0 flags=P db=1 sub=2 psub=0 "
    b"ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=3 "
    b"omem=2048 tot-mem=22000 events=rw cmd=subscribe user=alice redir=-1 resp=3 "
    b"lib-name=redis-py lib-ver=5.0.1"
)
VALKEY81 = (
    b"id=5 addr=/run/my redis/redis.sock:0 laddr=/run/my redis/redis.sock:0 fd=10 name= age=1 "
    b"idle=1 flags=U capa=redirect db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf=26 qbuf-free=0 "
    b"argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1800 events=r "
    b"cmd=client|list user=default redir=-1 resp=2 lib-name= lib-ver= tot-net-in=120 "
    b"tot-net-out=80 tot-cmds=3 io-thread=0 future-field=zz"
)


def read(data: bytes, **kw: object) -> pd.DataFrame:
    return cl.read_client_list(io.BytesIO(data), **kw)


# ---------------------------------------------------------------- grammar rules


def test_pairs_split_on_first_equals_and_continue_without_equals() -> None:
    assert cl.split_pairs("id=1 name=a=b=c age=2") == [("id", "1"), ("name", "a=b=c"), ("age", "2")]
    assert cl.split_pairs("addr=/tmp/a b  c.sock:0 fd=3") == [("addr", "/tmp/a b  c.sock:0"), ("fd", "3")]
    assert cl.split_pairs("hello id=1") is None


@pytest.mark.parametrize(
    ("line", "checks"),
    [
        (V5, {"id": 3, "qbuf-free": 32768, "cmd": "get", "name": "web"}),
        (V72, {"user": "alice", "lib-name": "redis-py", "omem": 2048, "laddr": "[::1]:6379"}),
        (VALKEY81, {"addr": "/run/my redis/redis.sock:0", "tot-net-in": 120, "io-thread": 0,
                    "capa": "redirect", "future-field": "zz", "lib-name": ""}),
    ],
)  # fmt: skip
def test_every_version_parses_typed(line: bytes, checks: dict[str, object]) -> None:
    parsed = cl.parse_client_line(line)
    assert isinstance(parsed, dict)
    for key, value in checks.items():
        assert parsed[key] == value


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"", "blank"),
        (b"id=3 addr=1.2.3.4:5 age=old", "bad-value"),
        (b"Could not connect to Redis at 127.0.0.1:6379: Connection refused", "cli-message"),
        (b"(error) NOAUTH Authentication required.", "cli-message"),
        (b"\x00\x01garbage", "binary-garbage"),
        (b"name=web id=3", "unrecognized"),
    ],
)
def test_bad_lines_say_why(line: bytes, reason: str) -> None:
    rejected = cl.parse_client_line(line)
    assert isinstance(rejected, Rejected) and rejected.reason == reason


def test_invalid_utf8_is_kept_as_escapes() -> None:
    parsed = cl.parse_client_line(b"id=1 addr=/tmp/caf\xe9.sock:0 name=x")
    assert isinstance(parsed, dict) and parsed["addr"] == "/tmp/caf\\xe9.sock:0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1795634812.426001", 1795634812426001),
        ("1795634812", 1795634812000000),
        ("1795634812123", 1795634812123000),  # milliseconds
        ("2023-12-11T10:30:47Z", 1702290647000000),
        ("2023-12-11 10:30:47", 1702290647000000),  # no zone: UTC
        ("2023-12-11T11:30:47+01:00", 1702290647000000),
        ("Mon Dec 11 10:30:47 UTC 2023", 1702290647000000),  # `date`
        ("soon", None),
        ("12", None),
    ],
)
def test_times(text: str, expected: int | None) -> None:
    # 1702290647 = 2023-12-11 10:30:47 UTC (date -u -d @1702290647).
    assert cl.parse_time(text) == expected


def test_time_lines() -> None:
    assert cl.parse_time_line("# 1795634812.426001\r\n") == 1795634812426001
    assert cl.parse_time_line("1795634812") == 1795634812000000
    assert isinstance(cl.parse_time_line("# 12 o'clock"), Rejected)
    assert cl.parse_time_line("# taken on replica 2").reason == "bad-timestamp"  # type: ignore[union-attr]
    assert cl.parse_time_line("# production").reason == "comment"  # type: ignore[union-attr]
    assert cl.parse_time_line(V5) is None


def test_flags_and_types() -> None:
    flags = cl.parse_flags("ObA")
    assert flags["flag_monitor"] and flags["flag_blocked"] and flags["flag_close_asap"]
    assert not flags["flag_replica"] and not flags["flag_pubsub"]
    assert [cl.client_type(f) for f in ("N", "S", "M", "P", "O", "Pb")] == [
        "normal", "replica", "master", "pubsub", "monitor", "pubsub"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("addr", "unix", "expected"),
    [
        ("127.0.0.1:57562", False, ("tcp", "127.0.0.1", 57562, "127.0.0.1:57562")),
        ("[::1]:47068", False, ("tcp6", "::1", 47068, "[::1]:47068")),
        ("/run/redis.sock:0", True, ("unix", "/run/redis.sock", 0, "unix:/run/redis.sock")),
        ("redis.sock:0", True, ("unix", "redis.sock", 0, "unix:redis.sock")),
    ],
)
def test_addresses(addr: str, unix: bool, expected: tuple[object, ...]) -> None:
    assert cl.addr_parts(addr, unix) == expected


# -------------------------------------------------------------------- reading


def test_snapshots_with_time_lines() -> None:
    data = b"# 1700000000.5\r\n" + V5 + b"\r\n" + V72 + b"\r\n# 2023-11-14T22:13:30Z\n" + V5 + b"\n"
    df = read(data)
    assert df.snapshot.tolist() == [0, 0, 1]
    assert df.snapshot_ts.tolist() == [
        pd.Timestamp("2023-11-14 22:13:20.5", tz="UTC"),
        pd.Timestamp("2023-11-14 22:13:20.5", tz="UTC"),
        pd.Timestamp("2023-11-14 22:13:30", tz="UTC"),
    ]
    assert str(df.snapshot_ts.dtype) == "datetime64[us, UTC]"
    assert df.line.tolist() == [2, 3, 5]
    assert df.cmd.tolist() == ["get", "subscribe", "get"]  # no \r left by CRLF
    assert df.user.isna().tolist() == [True, False, True]  # 5.0 has no user field
    assert df.omem.dtype == "Int64" and df.qbuf_free.iloc[0] == 32768
    assert df.flag_pubsub.tolist() == [False, True, False]
    assert df.client_type.tolist() == ["normal", "pubsub", "normal"]
    assert rejects(df).empty


def test_unknown_fields_kept_and_unix_clients() -> None:
    df = read(VALKEY81 + b"\n")
    row = df.iloc[0]
    assert row.future_field == "zz" and row.tot_net_out == 80 and row.capa == "redirect"
    assert row.addr_kind == "unix" and row.monitor_source == "unix:/run/my redis/redis.sock"
    assert pd.isna(row.snapshot_ts)


def test_time_from_file_name(tmp_path: Path) -> None:
    path = tmp_path / "clients_1702293847.txt.gz"
    path.write_bytes(gzip.compress(V5 + b"\n"))
    df = cl.read_client_list(path)
    assert df.snapshot_ts.iloc[0] == pd.Timestamp(1702293847, unit="s", tz="UTC")
    assert df.attrs["provenance"].source == str(path)


def test_appended_outputs_without_times_split_on_a_repeated_id() -> None:
    df = read(V5 + b"\n" + V72 + b"\n" + V5 + b"\n")
    assert df.snapshot.tolist() == [0, 0, 1]


def test_truncated_last_line_is_a_counted_reject() -> None:
    df = read(V5 + b"\n" + V5.replace(b"id=3", b"id=4")[:60])
    assert len(df) == 1
    kept = rejects(df)
    assert kept.columns.tolist() == ["line", "reason", "text"]
    assert kept.to_dict("records") == [
        {"line": 2, "reason": "truncated", "text": V5.replace(b"id=3", b"id=4")[:60].decode()}
    ]
    assert df.attrs["provenance"].rejected == 1


def test_last_line_without_newline_but_complete_is_kept() -> None:
    assert read(V5 + b"\n" + V5.replace(b"id=3", b"id=4")).id.tolist() == [3, 4]


def test_bad_lines_skip_or_raise() -> None:
    data = b"# 1700000000\n" + V5 + b"\nError: Server closed the connection\n# whenever 12\n\n"
    df = read(data)
    assert len(df) == 1
    assert rejects(df)[["line", "reason"]].values.tolist() == [[3, "cli-message"], [4, "bad-timestamp"]]
    assert df.attrs["provenance"].skipped == {"blank": 1, "snapshot-time": 1}
    with pytest.raises(ParseError, match=r":3: cli-message"):
        read(data, errors="raise")
    with pytest.raises(InputError):
        read(data, errors="ignore")


def test_frames_with_provenance_concatenate() -> None:
    a, b = read(V5 + b"\nbad\n"), read(V72 + b"\nworse\n")
    assert len(pd.concat([a, b])) == 2  # attrs hold no DataFrame that pandas would compare


def test_empty_input_gives_typed_empty_frame() -> None:
    df = read(b"")
    assert df.empty and "flag_monitor" in df.columns and str(df.snapshot_ts.dtype) == "datetime64[us, UTC]"
    assert df.omem.dtype == "Int64"


def test_truncated_gzip_keeps_what_was_read() -> None:
    text = b"".join(b"# %d\n" % (1700000000 + i) + V5.replace(b"id=3", b"id=%d" % i) + b"\n" for i in range(2000))
    data = gzip.compress(text)
    df = read(data[: len(data) // 2])
    assert 0 < len(df) < 2000
    assert df.id.tolist() == list(range(len(df)))
    assert df.attrs["provenance"].input_truncated
    assert "input-truncated" in rejects(df).reason.tolist()


def test_combine_one_file_per_snapshot(tmp_path: Path) -> None:
    late, early = tmp_path / "clients_1702293900.txt", tmp_path / "clients_1702293847.txt"
    late.write_bytes(V5 + b"\n" + V72 + b"\n")
    early.write_bytes(V5 + b"\nnonsense\n")
    df = cl.combine_snapshots([cl.read_client_list(late), cl.read_client_list(early)])
    assert df.snapshot.tolist() == [0, 1, 1]
    assert df.snapshot_ts.is_monotonic_increasing
    assert rejects(df).text.tolist() == [f"{early}: nonsense"]
    assert df.attrs["provenance"].rejected == 1 and df.attrs["provenance"].lines == 4


# ------------------------------------------------------- connection-count logs


def test_connection_counts_with_and_without_header() -> None:
    plain = cl.read_connection_counts(io.BytesIO(b"1702293847,12\n1702293852,      13\r\n"))
    assert plain.clients.tolist() == [12, 13]
    assert plain.ts.tolist() == [pd.Timestamp(1702293847, unit="s", tz="UTC"), pd.Timestamp(1702293852, unit="s", tz="UTC")]
    headed = cl.read_connection_counts(io.BytesIO(b"timestamp,clients\n2023-12-11 10:30:47,5\nbroken\n17022938"))
    assert headed.clients.tolist() == [5]
    assert headed.attrs["provenance"].skipped == {"header": 1}
    assert rejects(headed).reason.tolist() == ["bad-row", "truncated"]


def test_app_counts() -> None:
    data = b"      2 name=\n     75 name=leaky-app\n      1 web\n  x name=bad\n"
    src = io.BytesIO(data)
    src.name = "connections_by_app_1795642130.txt"
    df = cl.read_app_counts(src)
    assert df[["field", "value", "clients"]].values.tolist() == [
        ["name", "", 2], ["name", "leaky-app", 75], ["", "web", 1]
    ]  # fmt: skip
    assert df.snapshot_ts.iloc[0] == pd.Timestamp(1795642130, unit="s", tz="UTC")
    assert rejects(df).line.tolist() == [4]


@pytest.mark.parametrize(
    ("head", "name", "kind"),
    [
        (b"OK\n1700000000.000001 [0 127.0.0.1:5] \"get\" \"k\"\n", "m.txt", "monitor"),
        (b"1339518083.107412 \"keys\" \"*\"\n", "old.txt", "monitor"),
        (b"# 1700000000.5\n" + V5 + b"\n", "clients.log", "clients"),
        (V72 + b"\n", "x", "clients"),
        (b"1702293847,12\n", "x", "connections"),
        (b"timestamp,clients\n1702293847,12\n", "x", "connections"),
        (b"     12 name=web\n", "x", "app-counts"),
        (b"", "connections_by_app_1702293847.txt", "app-counts"),
        (b"hello world\n", "notes.txt", None),
    ],
)
def test_detect_kind(head: bytes, name: str, kind: str | None) -> None:
    assert kind_of(head, name) == kind


def test_detect_kind_of_a_gzip_input() -> None:
    from monitorlens.read.files import detect_kind, open_binary

    with open_binary(io.BytesIO(gzip.compress(b"# 1700000000.5\n" + V5 + b"\n"))) as f:
        assert detect_kind(f) == "clients"


# ------------------------------------------------------- recorded and live data


def test_grammar_sample_client_list() -> None:
    """sample_captures/grammar/clients.log: one snapshot of the clients its README lists."""
    df = cl.read_client_list(SAMPLES / "grammar" / "clients.log", errors="raise")
    by_name = df.set_index("name")
    assert df.snapshot.nunique() == 1 and len(df) == 12
    assert by_name.loc["ipv6-client", "addr_kind"] == "tcp6"
    assert by_name.loc["ipv6-client", "monitor_source"].startswith("[::1]:")
    assert by_name.loc["unix-client", "addr_kind"] == "unix"
    assert by_name.loc["unix-client", "monitor_source"].startswith("unix:/")
    assert by_name.loc["db3-client", "db"] == 3
    assert by_name.loc["blocked-forever", "flag_blocked"] and by_name.loc["blocked-forever", "cmd"] == "blpop"
    assert by_name.loc["grammar-subscriber", "client_type"] == "pubsub"
    assert (df.client_type == "monitor").sum() == 1


@pytest.mark.parametrize("scenario", ["incident", "calm", "surge"])
def test_recorded_snapshots_match_facts(scenario: str) -> None:
    facts = json.loads((SAMPLES / scenario / "facts.json").read_text())
    df = cl.read_client_list(SAMPLES / scenario / "clients.log.gz", errors="raise")
    assert df.snapshot.nunique() == facts["clients_log_snapshots"]
    last = df[df.snapshot == df.snapshot.max()]
    names = last.name.replace("", "(unnamed)").value_counts().to_dict()
    # The facts count at the window's end; leaky-app adds one connection a second (README),
    # so the last snapshot lacks those opened after it.
    window_end = facts["window_start"] + facts["window_seconds"]
    lag = window_end - last.snapshot_ts.iloc[0].timestamp()
    leaked = facts["clients_at_end_by_name"].get("leaky-app", 0)
    assert leaked - lag - 1 <= names.get("leaky-app", 0) <= leaked
    for name in ("web-1", "worker"):
        assert names[name] == facts["clients_at_end_by_name"][name]
    counts = cl.read_connection_counts(SAMPLES / scenario / "connections.csv", errors="raise")
    assert len(counts) == facts["connections_csv_rows"]
    assert [counts.clients.min(), counts.clients.max()] == facts["connections_csv_min_max"]


def test_incident_app_counts() -> None:
    facts = json.loads((SAMPLES / "incident" / "facts.json").read_text())
    df = cl.read_app_counts(SAMPLES / "incident" / facts["connections_by_app_file"], errors="raise")
    counts = dict(zip(df.value, df.clients))
    assert counts["leaky-app"] == facts["counts"]["leaked"]
    assert counts["worker"] == 1
    assert df.snapshot_ts.notna().all()


def _read_monitor_line(conn: object) -> str:
    reply = conn.read_response(timeout=5)  # type: ignore[attr-defined]
    return reply.decode() if isinstance(reply, bytes) else str(reply)


@pytest.mark.skipif(redis_server_path() is None, reason="needs redis-server")
def test_live_addresses_match_monitor_sources() -> None:
    """On a real server, CLIENT LIST's address of each client (tcp, tcp6, unix) turns into
    exactly the source MONITOR prints for it."""
    pytest.importorskip("redis")
    from monitorlens.live import client_list_bytes

    with RedisServer() as server:
        vias = ["tcp", "unix"] + (["tcp6"] if server.ipv6 else [])
        clients = {via: server.client(via=via, client_name=f"c-{via}") for via in vias}
        for c in clients.values():
            c.ping()
        monitor = server.client().connection_pool.get_connection()
        monitor.send_command("MONITOR")
        assert _read_monitor_line(monitor) == "OK"
        sources = {}
        for via, c in clients.items():
            c.get(f"key-{via}")
            parsed = parse_line(_read_monitor_line(monitor).encode())
            assert not isinstance(parsed, Rejected)
            assert parsed.argv == (b"get", f"key-{via}".encode()) or parsed.argv[0].upper() == b"GET"
            sources[via] = parsed.source
        df = read(b"# 1700000000\n" + client_list_bytes(server.client()))
        monitor.disconnect()
    listed = df.set_index("name").monitor_source
    for via in vias:
        assert listed[f"c-{via}"] == sources[via], via
    if "tcp6" in vias:
        assert sources["tcp6"].startswith("[::1]:")


@pytest.mark.parametrize("path", ["grammar/clients.log", "incident/clients.log.gz"])
def test_fast_path_agrees_with_the_reference_parser(path: str) -> None:
    """Every row of the vectorized reader equals parse_client_line and addr_parts of its line."""
    df = cl.read_client_list(SAMPLES / path, errors="raise")
    raw = (SAMPLES / path).read_bytes()
    lines = (gzip.decompress(raw) if path.endswith(".gz") else raw).split(b"\n")
    for row in df.itertuples(index=False):
        parsed = cl.parse_client_line(lines[row.line - 1])
        assert isinstance(parsed, dict)
        for key, value in parsed.items():
            assert getattr(row, cl.column_name(key)) == value, (row.line, key)
        kind, host, port, source = cl.addr_parts(row.addr, "U" in row.flags)
        assert (row.addr_kind, row.host, row.port, row.monitor_source) == (kind, host, port, source)


def test_mixed_layouts_and_odd_lines_in_one_file() -> None:
    """Two server versions' layouts, a unix path with spaces and a bad number in one file."""
    bad = V72.replace(b"id=4", b"id=8").replace(b"omem=2048", b"omem=lots")
    df = read(V5 + b"\n" + V72 + b"\n" + VALKEY81 + b"\n" + bad + b"\n" + V5.replace(b"id=3", b"id=9") + b"\n")
    assert df.id.tolist() == [3, 4, 5, 9]
    assert df.line.tolist() == [1, 2, 3, 5]
    assert rejects(df).values.tolist() == [[4, "bad-value", bad.decode()]]
