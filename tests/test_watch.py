"""`watch` against a real throwaway redis-server: the view, alerts, the kill plan (never
sent), the log, and the Prometheus gauges scraped over HTTP on 127.0.0.1. Bounded loops."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

redis = pytest.importorskip("redis")
prometheus_client = pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from monitorlens.cli import main  # noqa: E402
from monitorlens.live import Target, client_list_bytes  # noqa: E402
from monitorlens.live.resp import encode  # noqa: E402
from monitorlens.live.watch import WatchOptions, watch  # noqa: E402
from monitorlens.read.clientlist import read_client_list  # noqa: E402
from monitorlens.testing import RedisServer, free_port, redis_server_path  # noqa: E402

pytestmark = pytest.mark.skipif(redis_server_path() is None, reason="needs redis-server (apt-get install redis-server)")


def raw_monitor(server: RedisServer) -> socket.socket:
    """A MONITOR connection, as a forgotten `redis-cli MONITOR` would hold."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(encode("MONITOR"))
    assert sock.recv(5) == b"+OK\r\n"
    return sock


def gauges(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "server"))
            out[(sample.name, labels)] = sample.value
    return out


@pytest.fixture()
def scene():
    """A server with: 3 clients named web (one idle), a blocked worker, two MONITORs."""
    with RedisServer() as s:
        webs = [s.client(client_name="web", single_connection_client=True, protocol=2) for _ in range(3)]
        for w in webs:
            w.ping()
        worker = s.client(client_name="worker", single_connection_client=True, protocol=2, socket_timeout=10)
        blocked = threading.Thread(target=lambda: worker.blpop(["jobs"], timeout=8), daemon=True)
        blocked.start()
        mons = [raw_monitor(s), raw_monitor(s)]
        admin = s.client(single_connection_client=True, protocol=2)
        deadline = time.monotonic() + 5
        while b"flags=b" not in client_list_bytes(admin) and time.monotonic() < deadline:
            time.sleep(0.02)
        admin.close()
        time.sleep(2.1)  # idle >= 2 s for everyone but the last to speak
        webs[0].ping()
        yield s, mons
        for m in mons:
            m.close()
        s.client(protocol=2).rpush("jobs", "done")  # releases the worker
        blocked.join(8)


def test_prometheus_endpoint_serves_the_gauges(scene) -> None:
    s, mons = scene
    port = free_port()
    stop = threading.Event()
    out = io.StringIO()
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(r=watch(
        Target(port=s.port), WatchOptions(every=0.2, duration=10, idle_seconds=2, prometheus_port=port),
        out=out, stop=stop)))  # fmt: skip
    t.start()
    try:
        text = ""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "monitorlens_clients{" not in text:
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                time.sleep(0.05)
    finally:
        stop.set()
        t.join(10)
    g = gauges(text)
    assert g[("monitorlens_clients", (("type", "normal"),))] == 5  # 3 web, worker, the watcher
    assert g[("monitorlens_clients", (("type", "monitor"),))] == 2
    assert g[("monitorlens_monitor_clients", ())] == 2
    assert g[("monitorlens_blocked_clients", ())] == 1
    assert g[("monitorlens_clients_by_name", (("name", "web"),))] == 3
    assert g[("monitorlens_clients_by_name", (("name", "(unnamed)"),))] == 2
    assert g[("monitorlens_idle_clients", ())] == 2  # two web clients idle >= 2 s
    assert g[("monitorlens_idle_threshold_seconds", ())] == 2
    assert g[("monitorlens_max_output_buffer_bytes", ())] >= 0
    assert abs(g[("monitorlens_snapshot_timestamp_seconds", ())] - time.time()) < 30
    assert 'server="redis://127.0.0.1:%d/0"' % s.port in text
    assert result["r"].reason == "stopped"
    with pytest.raises(OSError):  # the endpoint is closed with the watch
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1)


def test_alerts_and_plan_are_printed_and_nothing_is_killed(scene, tmp_path: Path) -> None:
    s, mons = scene
    prom = tmp_path / "redis.prom"
    out = io.StringIO()
    res = watch(Target(port=s.port), WatchOptions(every=0.1, count=3, idle_seconds=2, textfile=str(prom),
                                                 log=str(tmp_path / "clients.log")), out=out)  # fmt: skip
    text = out.getvalue()
    assert res.snapshots == 3 and res.reason == "count"
    # The younger MONITOR may be this very investigation's; the older one is "left running".
    assert re.search(r"^ALERT \S+ warning monitor-clients: 1 MONITOR client left running \(up to 2 at once",
                     text, re.M)  # fmt: skip
    assert re.search(r"^ALERT \S+ warning idle-clients: 2 clients idle for over 2 s: web \(2\)", text, re.M)
    assert re.search(r"^ALERT \S+ info blocked-clients: 1 client blocked, on blpop", text, re.M)
    assert text.count("ALERT ") == res.alerts == len(set(re.findall(r"^ALERT \S+ \w+ (\S+):", text, re.M)))
    assert "CLIENT KILL plan, to review (nothing is sent):" in text
    plan_ids = set(re.findall(r"CLIENT KILL ID (\d+)", text))
    listed = client_list_bytes(s.client(protocol=2))
    assert plan_ids and all(re.search(rb"^id=%s " % i.encode(), listed, re.M) for i in plan_ids)  # still there
    assert listed.count(b"flags=O") == 2
    assert "most idle:" in text and "blocked:" in text and "on blpop" in text and "MONITOR" in text
    g = gauges(prom.read_text())
    assert g[("monitorlens_monitor_clients", ())] == 2
    assert not list(tmp_path.glob("redis.prom.*"))  # the temporary file was renamed
    snaps = read_client_list(tmp_path / "clients.log")
    assert snaps["snapshot"].nunique() == 3 and (snaps.groupby("snapshot").size() == 7).all()


def test_watch_and_sample_commands(tmp_path: Path, capsys) -> None:
    with RedisServer(requirepass="watch-secret") as s:
        url = f"redis://:watch-secret@127.0.0.1:{s.port}/0"
        log, csv = tmp_path / "c.log", tmp_path / "c.csv"
        assert main(["watch", url, "--every", "0.1", "--count", "2", "--log", str(log), "--csv", str(csv)]) == 0
        captured = capsys.readouterr()
        assert captured.out.count("monitorlens watch redis://127.0.0.1:") == 2
        assert "watch-secret" not in captured.out + captured.err
        assert read_client_list(log)["snapshot"].nunique() == 2 and len(csv.read_text().splitlines()) == 2
        assert main(["watch", "-p", str(s.port), "--pass", "wrong", "--count", "1"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and "authentication failed" in err and "wrong" not in err.split("(")[0]
        assert main(["watch", "-p", str(s.port), "--pass", "watch-secret", "--duration", "0.3", "--every", "0.1",
                     "--quiet"]) == 0  # fmt: skip
        assert "monitorlens watch" not in capsys.readouterr().out
