"""The live sampler against a real throwaway redis-server (no mocks); every wait is bounded."""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path

import pytest

redis = pytest.importorskip("redis")

from monitorlens.live import capture_monitor, client_list_bytes, sample_clients  # noqa: E402
from monitorlens.testing import RedisServer, free_port, redis_server_path  # noqa: E402

pytestmark = pytest.mark.skipif(
    redis_server_path() is None or shutil.which("redis-cli") is None,
    reason="needs redis-server and redis-cli (apt-get install redis-server)",
)

STAMP = re.compile(rb"^# (\d+)\.(\d{6})$")


@pytest.fixture(scope="module")
def server():
    with RedisServer(requirepass="test-pass") as s:
        yield s


def snapshots(log: bytes) -> list[tuple[float, list[bytes]]]:
    """Split a clients.log into (timestamp, client lines); fails on a line before the first stamp."""
    out: list[tuple[float, list[bytes]]] = []
    for line in log.split(b"\n")[:-1]:
        m = STAMP.match(line)
        if m:
            out.append((float(line[2:]), []))
        else:
            out[-1][1].append(line)
    return out


def test_sample_clients_writes_count_snapshots_and_csv_rows(server, tmp_path: Path) -> None:
    r = server.client(client_name="sampler", single_connection_client=True)
    others = [server.client(client_name=f"app-{i}", single_connection_client=True) for i in range(2)]
    for o in others:
        o.ping()  # connect, so CLIENT LIST has 3 lines: the sampler and app-0, app-1
    log, csv = tmp_path / "clients.log", tmp_path / "connections.csv"
    t0 = time.monotonic()
    assert sample_clients(r, log, interval=0.1, count=3, connections_csv=csv) == 3
    assert time.monotonic() - t0 >= 0.2  # two waits of 0.1 s between three snapshots

    data = log.read_bytes()
    assert data.endswith(b"\n") and b"\r" not in data
    snaps = snapshots(data)
    assert len(snaps) == 3
    stamps = [t for t, _ in snaps]
    assert stamps == sorted(stamps) and stamps[-1] - stamps[0] >= 0.19
    for _, lines in snaps:
        assert len(lines) == 3 and all(line.startswith(b"id=") for line in lines)
        names = {re.search(rb" name=(\S*) ", line).group(1) for line in lines}
        assert names == {b"sampler", b"app-0", b"app-1"}

    rows = csv.read_text().splitlines()
    assert rows == [f"{int(t)},3" for t in stamps]  # same instant as the stamp, clients counted

    calls: list[tuple[int, int]] = []
    assert sample_clients(r, log, interval=0, count=1, connections_csv=csv, progress=lambda *a: calls.append(a)) == 1  # appends
    assert calls == [(1, 1)]
    assert len(snapshots(log.read_bytes())) == 4 and len(csv.read_text().splitlines()) == 4
    for c in (r, *others):
        c.close()


def test_sample_clients_stops_on_event(server, tmp_path: Path) -> None:
    r = server.client(single_connection_client=True)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.monotonic()
    taken = sample_clients(r, tmp_path / "c.log", interval=0.1, count=1000, stop=stop)
    assert time.monotonic() - t0 < 5
    assert 1 <= taken < 1000
    assert len(snapshots((tmp_path / "c.log").read_bytes())) == taken
    r.close()


def test_raw_reply_is_bytes_even_from_a_decoding_client(server) -> None:
    r = server.client(decode_responses=True, client_name="decoder", single_connection_client=True)
    raw = client_list_bytes(r)
    assert isinstance(raw, bytes) and raw.endswith(b"\n")
    assert b"name=decoder " in raw and b"cmd=client|list" in raw
    r.close()


def test_sample_clients_rejects_negative_interval(server, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interval"):
        sample_clients(server.client(), tmp_path / "c.log", interval=-1, count=1)


def test_capture_monitor_captures_a_command_sent_during_the_window(server, tmp_path: Path) -> None:
    out = tmp_path / "monitor.txt"
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(p=capture_monitor(server.cli_args(), out, seconds=3)))
    t.start()
    admin = server.client(single_connection_client=True)
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and b"flags=O" not in client_list_bytes(admin):
        time.sleep(0.02)
    admin.set("probe:key", 'a "quoted" value')
    t.join(15)
    assert not t.is_alive()
    data = out.read_bytes()
    assert data.startswith(b"OK\n")
    assert re.search(rb'^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "probe:key" "a \\"quoted\\" value"$', data, re.M)
    assert result["p"].args[-1] == "MONITOR"
    assert result["p"].returncode == -15  # ended by SIGTERM when the time was up
    admin.close()


def test_capture_monitor_reports_an_unreachable_server(tmp_path: Path) -> None:
    t0 = time.monotonic()
    res = capture_monitor(["redis-cli", "-h", "127.0.0.1", "-p", str(free_port())], tmp_path / "m.txt", seconds=5)
    assert time.monotonic() - t0 < 5  # redis-cli gave up on its own
    assert res.returncode != 0
    assert b"connect" in (res.stderr + (tmp_path / "m.txt").read_bytes()).lower()
