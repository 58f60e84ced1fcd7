"""What real servers and people's pastes print: raw RESP lines, old dialects, indentation, prompts, cut starts."""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import pytest

import monitorlens
from monitorlens.read import grammar
from monitorlens.read.files import detect_kind, open_binary
from monitorlens.testing import RedisServer

ROOT = Path(__file__).resolve().parents[1]
PASTES = ROOT.parent / "shared" / "wild-pastes"
GRAMMAR = ROOT / "sample_captures" / "grammar" / "monitor.txt"
needs_pastes = pytest.mark.skipif(not PASTES.is_dir(), reason="shared/wild-pastes is not beside the repo")


def raw_monitor(server: RedisServer, commands: list[tuple[str, ...]], timeout: float = 10.0) -> bytes:
    """What `nc 127.0.0.1 PORT` (or telnet) shows after typing MONITOR: the server's own RESP bytes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(b"MONITOR\r\n")
        buf = s.recv(64)
        assert buf == b"+OK\r\n"
        client = server.client(protocol=2)
        for cmd in commands:
            client.execute_command(*cmd)
        client.close()
        deadline = time.monotonic() + timeout
        while buf.count(b"\r\n") < len(commands) + 1 and time.monotonic() < deadline:
            buf += s.recv(1 << 16)
    return buf


def test_a_telnet_capture_of_a_real_server_is_read() -> None:
    commands = [("PING",), ("SET", "k:1", 'v "q"'), ("GET", "k:1"), ("HSET", "h", "f", "caf\u00e9")]
    with RedisServer() as server:
        data = raw_monitor(server, commands)
    assert data.startswith(b"+OK\r\n+") and data.count(b"\r\n+") == len(commands)
    with open_binary(io.BytesIO(data)) as f:
        assert detect_kind(f) == "monitor"
    df = monitorlens.read_monitor(io.BytesIO(data))
    prov = monitorlens.provenance(df)
    assert df.command.tolist() == ["PING", "SET", "GET", "HSET"]
    assert df["args"].iloc[1] == [b"k:1", b'v "q"'] and df["args"].iloc[3][2] == "café".encode()
    assert prov.rejected == 0 and prov.skipped == {"cli-ok": 1}
    assert prov.dialects == {"2.6+ (RESP +)": 4}
    assert (df.client_kind == "tcp").all() and df.db.eq(0).all()


@needs_pastes
def test_redis_2_4_raw_lines_with_and_without_db() -> None:
    # Redis 2.0-2.4 wrote "(db N)" only when N was not 0; this paste is raw RESP ('+').
    df = monitorlens.read_monitor(PASTES / "monitor" / "09-redis-2.4-raw-db-paren.txt", errors="raise")
    assert df.db.tolist() == [1, 0]
    assert df.command.tolist() == ["EXPIRE", "MONITOR"]
    assert monitorlens.provenance(df).dialects == {"db-paren (RESP +)": 1, "no-db (RESP +)": 1}


@needs_pastes
def test_an_indented_paste_is_read_and_provenance_says_so() -> None:
    path = PASTES / "monitor" / "43-chinese-notes-auth-redacted-indented.txt"
    df = monitorlens.read_monitor(path)
    prov = monitorlens.provenance(df)
    assert df.command.str.upper().tolist() == ["AUTH", "DBSIZE", "KEYS"]
    assert prov.dialects == {"2.6+ (indented)": 3}
    assert prov.rejected == 0 and prov.skipped == {"cli-ok": 1, "cli-prompt": 1}


@needs_pastes
@pytest.mark.parametrize("name", sorted(p.name for p in (PASTES / "monitor").glob("*.txt")) if PASTES.is_dir() else [])
def test_every_monitor_paste_reads_without_error(name: str) -> None:
    """Each paste: every line is an event or a counted reject or skip; none is an event of 1970."""
    path = PASTES / "monitor" / name
    df = monitorlens.read_monitor(path)
    prov = monitorlens.provenance(df)
    assert prov.lines == len(df) + prov.rejected + sum(prov.skipped.values())
    assert (df.ts.dt.year >= 2009).all()


def cut_starts(data: bytes) -> list[bytes]:
    """The capture as `tail -c` leaves it, cut at each byte of its first event line."""
    start = data.index(b"\n") + 1  # after redis-cli's OK
    end = data.index(b"\n", start)
    return [data[at:] for at in range(start + 1, end)]


def test_a_first_line_cut_mid_timestamp_is_truncated_not_1970() -> None:
    data = GRAMMAR.read_bytes()  # recorded from a real server
    whole = monitorlens.read_monitor(io.BytesIO(data))
    for cut in cut_starts(data):
        df = monitorlens.read_monitor(io.BytesIO(cut))
        prov = monitorlens.provenance(df)
        assert prov.rejects_by_reason == {"truncated": 1}, cut[:40]
        assert prov.rejects[0][0] == 1
        assert len(df) == len(whole) - 1 and (df.ts.dt.year >= 2009).all()
    # A whole first line is not cut; nor is a single line of an odd clock (a board without RTC).
    assert monitorlens.provenance(monitorlens.read_monitor(io.BytesIO(data[3:]))).rejected == 0
    odd = monitorlens.read_monitor([b'86400.000001 [0 127.0.0.1:5] "GET" "k"'])
    assert len(odd) == 1
    no_rtc = monitorlens.read_monitor([b'5.000001 [0 127.0.0.1:5] "GET" "k"', b'86400.000001 [0 127.0.0.1:5] "GET" "k"'])
    assert len(no_rtc) == 2


def test_out_of_range_fields_reject_their_line_only() -> None:
    lines = [
        b'1700000000.000001 [0 127.0.0.1:5] "GET" "a"',
        b'1700000000.000002 [0 127.0.0.1:99999999999] "GET" "b"',  # port above 2^31
        b'1700000000.000003 [0 [::1]:65536] "GET" "c"',
        b'253402300800.000004 [0 127.0.0.1:5] "GET" "d"',  # the year 10000
        b'253402300799.999999 [0 127.0.0.1:65535] "GET" "e"',  # the last second of 9999, the last port
        b'1700000000.000006 [0 127.0.0.1:5] "GET" "f"',
    ]
    df = monitorlens.read_monitor(lines)
    prov = monitorlens.provenance(df)
    assert df.key.tolist() == ["a", "e", "f"]
    assert [(n, r) for n, r, _ in prov.rejects] == [(2, "out-of-range"), (3, "out-of-range"), (4, "out-of-range")]
    assert prov.last_ts.startswith("9999-12-31T23:59:59.999999")
    for line in lines[1:4]:
        assert isinstance(grammar.parse_line(line), grammar.Rejected)


def test_out_of_range_lines_do_not_stop_the_commands(tmp_path: Path) -> None:
    from monitorlens.cli import main

    capture = tmp_path / "c.txt"
    capture.write_bytes(b'1700000000.000001 [0 127.0.0.1:5] "GET" "a"\n'
                        b'1700000000.000002 [0 127.0.0.1:99999999999] "GET" "b"\n'
                        b'253402300800.000004 [0 127.0.0.1:5] "GET" "d"\n')
    assert main(["summary", str(capture)]) == 0
    assert main(["ingest", str(capture), "-o", str(tmp_path / "c.parquet")]) == 0
    assert len(monitorlens.load(tmp_path / "c.parquet")) == 1
