"""`capture` against real throwaway redis-servers: the bundle, each stop rule, MONITOR always
ended, counts reconciled with commandstats, no password anywhere. Every loop is bounded."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

redis = pytest.importorskip("redis")

from monitorlens.analysis.reconcile import reconcile  # noqa: E402
from monitorlens.cli import main  # noqa: E402
from monitorlens.errors import InputError  # noqa: E402
from monitorlens.live import CaptureLimits, Target, capture, capture_monitor, client_list_bytes  # noqa: E402
from monitorlens.read.bundle import open_bundle  # noqa: E402
from monitorlens.read.clientlist import read_client_list, read_connection_counts  # noqa: E402
from monitorlens.read.ingest import read_monitor  # noqa: E402
from monitorlens.testing import RedisServer, free_port, redis_server_path  # noqa: E402

pytestmark = pytest.mark.skipif(redis_server_path() is None, reason="needs redis-server (apt-get install redis-server)")

PASSWORD = "capture-secret-7f3a"
ACL_PASSWORD = "acl-secret-91bd"
ACL = {"user": f"alice on >{ACL_PASSWORD} ~* &* +@all"}
FAST = dict(baseline=0.3, guard_every=0.25, every=0.4)
LINE = re.compile(rb'^\d+\.\d{6} \[\d+ [^\]]*\] "')


def wait_for(check, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def monitors(server: RedisServer) -> list[bytes]:
    """CLIENT LIST lines of MONITOR clients (flag O), from a fresh connection."""
    r = server.client(single_connection_client=True, protocol=2)
    try:
        return [line for line in client_list_bytes(r).splitlines() if re.search(rb" flags=\w*O", line)]
    finally:
        r.close()


class Traffic:
    """A client sending a paced mix of commands until stopped (at most ``limit`` seconds)."""

    def __init__(self, server: RedisServer, *, mix: bool = False, per_tick: int = 20, limit: float = 20.0,
                 value: bytes = b"v") -> None:  # fmt: skip
        self.server, self.mix, self.per_tick, self.limit, self.value = server, mix, per_tick, limit, value
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Traffic":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        try:
            r = self.server.client(single_connection_client=True, protocol=2, client_name="app", socket_timeout=10)
            while not self.stop.is_set() and time.monotonic() < deadline:
                p = r.pipeline(transaction=False)
                for i in range(self.per_tick):
                    p.set(f"k{i}", self.value)
                    p.get(f"k{i}")
                p.execute()
                if self.mix:
                    self._mix(r)
                time.sleep(0.01)
        except redis.ConnectionError:
            pass  # the server was killed on purpose
        except BaseException as e:  # noqa: BLE001
            self.error = e

    def _mix(self, r) -> None:  # type: ignore[no-untyped-def]
        r.config_get("maxclients")
        r.execute_command("CLIENT", "LIST")
        for bad in (("GET",), ("NOSUCHCOMMAND", "x")):
            with pytest.raises(redis.ResponseError):
                r.execute_command(*bad)
        r.set("str", "x")
        with pytest.raises(redis.ResponseError):
            r.incr("str")
        r.eval("redis.call('set', 'e', 1) return redis.call('get', 'e')", 0)
        with r.pipeline(transaction=True) as p:
            p.incr("c").get("c").execute()
        # A new connection that authenticates: MONITOR shows its AUTH/HELLO, redacted.
        fresh = self.server.client(single_connection_client=True, protocol=2, username="alice",
                                   password=ACL_PASSWORD, client_name="fresh")  # fmt: skip
        fresh.ping()
        fresh.close()


@pytest.fixture(scope="module")
def secured():
    with RedisServer(requirepass=PASSWORD, config=ACL) as s:
        yield s


def test_bundle_files_reconcile_exactly_and_no_password_anywhere(secured: RedisServer, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "incident"
    env = {**os.environ, "REDISCLI_AUTH": ACL_PASSWORD}
    with Traffic(secured, mix=True) as traffic:
        wait_for(lambda: b"name=app " in client_list_bytes(secured.client(protocol=2)), "the traffic")
        proc = subprocess.run(
            [sys.executable, "-m", "monitorlens", "capture", "-s", secured.unix_path, "--user", "alice",
             "-o", str(folder), "--duration", "1.5", "--baseline", "0.3", "--guard-every", "0.25", "--every", "0.4",
             "--max-drop", "100%"],
            capture_output=True, env=env, timeout=60,
        )  # fmt: skip
    assert traffic.error is None
    assert proc.returncode == 0, proc.stderr
    assert b"stopped: duration" in proc.stdout
    assert b"Traceback" not in proc.stderr and b"\r" not in proc.stderr  # no progress when not a tty

    assert sorted(p.name for p in folder.iterdir()) == ["clients.log.gz", "connections.csv", "monitor.txt.gz", "server.json"]
    monitor = gzip.open(folder / "monitor.txt.gz").read()
    assert monitor.startswith(b"OK\n") and monitor.endswith(b"\n")
    lines = monitor.split(b"\n")[1:-1]
    assert len(lines) > 500 and all(LINE.match(line) for line in lines)
    assert any(b'"AUTH" "(redacted)" "(redacted)"' in line for line in lines)  # the fresh connections' AUTH

    server = json.loads((folder / "server.json").read_text())
    cap = server["capture"]
    assert cap["stop"]["reason"] == "duration" and cap["exact"] is True and cap["monitor_left"] is False
    assert cap["lines"] == len(lines) and cap["client_name"] == "monitorlens-capture"
    assert server["version"] == secured.version and server["maxclients"] == 10000
    assert server["target"] == f"unix://alice@{secured.unix_path}?db=0"
    for when in ("before", "after"):
        assert {"server", "clients", "stats", "commandstats"} <= server[when].keys()

    snaps = read_client_list(folder / "clients.log.gz")
    assert snaps["snapshot"].nunique() == cap["snapshots"] >= 3
    mine = snaps[snaps["id"] == cap["client_id"]]
    assert len(mine) == cap["snapshots"] and set(mine["name"]) == {"monitorlens-capture"}
    assert mine["flag_monitor"].all()
    counts = read_connection_counts(folder / "connections.csv")
    assert counts["clients"].tolist() == snaps.groupby("snapshot").size().tolist()

    # Every command MONITOR can show: shown == run; the rest is accounted for exactly.
    rec = reconcile(read_monitor(folder / "monitor.txt.gz"), open_bundle(folder).server)
    assert rec is not None and rec.exact
    t = rec.table.set_index("command")
    assert rec.mismatched.empty, rec.table
    assert t.loc["get", "shown"] == t.loc["get", "run"] > 100
    assert t.loc["eval", "shown"] == t.loc["eval", "run"] > 0
    assert t.loc["config|get", "shown"] == 0 and t.loc["config|get", "unseen"] == t.loc["config|get", "run"] > 0
    own_lists = cap["own_unseen"]["client|list"]
    assert own_lists >= cap["snapshots"] + 1  # the snapshots and the guard's buffer checks
    assert t.loc["client|list", "unseen"] == t.loc["client|list", "run"] - own_lists > 0  # the app's
    assert t.loc["get", "rejected"] > 0 and t.loc["incrby", "failed"] > 0
    assert t.loc["monitor", "run"] == 1 and t.loc["monitor", "unseen"] == 0
    assert rec.errors.get("ERR", 0) > 0
    assert rec.headline().startswith(f"MONITOR showed {len(lines):,} of the {int(t['others'].sum()):,} commands "
                                     "the server ran (exact); unseen: ")  # fmt: skip
    assert "CONFIG GET" in rec.headline() and "GET 0" not in rec.headline()
    get_line = next(line for line in rec.lines() if line.startswith("GET: "))
    n = f"{t.loc['get', 'run']:,}"
    assert get_line == f"GET: {n} shown, {n} run"

    # summary and report take the folder as it is: the reconciliation, the CLIENT LIST part, maxclients.
    assert main(["summary", str(folder), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["reconciliation"] == rec.to_dict() and summary["clientlist"]["maxclients"] == 10000
    assert main(["summary", str(folder)]) == 0
    text = capsys.readouterr().out
    assert rec.headline().split(";")[0] in text.replace("\n    ", " ") and get_line in text
    assert main(["report", str(folder), "-o", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    coverage = next(s for s in report["sections"] if s["id"] == "coverage")
    table = next(t for t in coverage["tables"] if t["title"].startswith("MONITOR against what the server ran"))
    rows = {r["command"]: r for r in table["rows"]}
    assert rows["GET"]["shown"] == rows["GET"]["others"] == t.loc["get", "run"]
    assert rows["CONFIG GET"]["unseen"] == t.loc["config|get", "run"]
    assert main(["report", str(folder), "-o", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "<caption>MONITOR against what the server ran (server.json)</caption>" in html
    assert '<td class="code">CONFIG GET</td>' in html
    assert main(["plot", "connections", str(folder), "-o", str(tmp_path / "c.svg")]) == 0  # the bundle's CLIENT LIST
    assert (tmp_path / "c.svg").read_text().startswith("<svg")
    capsys.readouterr()

    # The capture's connections are gone, and no password is in any file or output.
    assert monitors(secured) == []
    blobs = [proc.stdout, proc.stderr, monitor, html.encode(), json.dumps(report).encode(), gzip.open(folder / "clients.log.gz").read(),
             (folder / "connections.csv").read_bytes(), (folder / "server.json").read_bytes()]  # fmt: skip
    for blob in blobs:
        assert PASSWORD.encode() not in blob and ACL_PASSWORD.encode() not in blob


def test_line_cap_stops_and_keeps_the_count_exact(secured: RedisServer, tmp_path: Path) -> None:
    target = Target(unix_socket=secured.unix_path, password=PASSWORD)
    with Traffic(secured, per_tick=50):
        res = capture(target, tmp_path / "b", CaptureLimits(duration=20, max_lines=700, max_drop=1, **FAST))
    assert res.reason == "max-lines" and res.lines == 700 and res.exact and res.ok
    assert res.seconds < 10
    data = gzip.open(tmp_path / "b" / "monitor.txt.gz").read()
    assert data.count(b"\n") == 701  # OK and the 700 lines
    b = open_bundle(tmp_path / "b")
    rec = reconcile(read_monitor(b.monitor), b.server)
    assert rec.mismatched.empty, rec.table  # lines past the cap are counted as unkept
    assert rec.table["shown"].sum() == 700
    assert monitors(secured) == []


def test_byte_cap(secured: RedisServer, tmp_path: Path) -> None:
    target = Target(unix_socket=secured.unix_path, password=PASSWORD)
    with Traffic(secured, per_tick=50):
        res = capture(target, tmp_path / "b", CaptureLimits(duration=20, max_bytes=20_000, max_drop=1, **FAST))
    assert res.reason == "max-bytes" and 19_000 < res.bytes <= 20_000
    assert len(gzip.open(tmp_path / "b" / "monitor.txt.gz").read()) == res.bytes + 3  # with "OK\n"


def test_duration_on_an_idle_server_and_wrong_password(tmp_path: Path) -> None:
    with RedisServer(requirepass=PASSWORD) as s:
        t0 = time.monotonic()
        res = capture(Target(port=s.port, password=PASSWORD), tmp_path / "b", CaptureLimits(duration=0.8, **FAST))
        assert res.reason == "duration" and res.ok and 0.8 <= time.monotonic() - t0 < 5
        assert gzip.open(tmp_path / "b" / "monitor.txt.gz").read().startswith(b"OK\n")
        with pytest.raises(InputError, match="authentication failed") as e:
            capture(Target(port=s.port, password="not-the-password"), tmp_path / "c", CaptureLimits(duration=1))
        assert "not-the-password" not in str(e.value)
        with pytest.raises(InputError, match="already holds a capture"):
            capture(Target(port=s.port, password=PASSWORD), tmp_path / "b", CaptureLimits(duration=1))
        assert monitors(s) == []


def test_throughput_drop_from_a_real_slowdown_stops_the_capture(tmp_path: Path) -> None:
    with RedisServer(config={"enable-debug-command": "yes"}) as s:
        target = Target(port=s.port)
        result: dict = {}
        with Traffic(s, per_tick=10):
            t = threading.Thread(target=lambda: result.update(r=capture(
                target, tmp_path / "b", CaptureLimits(duration=15, max_drop=0.3, **FAST))))  # fmt: skip
            t.start()
            wait_for(lambda: monitors(s), "MONITOR to start")
            time.sleep(0.6)  # a few guard samples at the normal rate
            s.client(protocol=2, socket_timeout=10).execute_command("DEBUG", "SLEEP", "1.2")
            t.join(20)
        res = result["r"]
        assert res.reason == "throughput-drop", res.text()
        assert "below the baseline" in res.detail and res.seconds < 10
        guard = json.loads((tmp_path / "b" / "server.json").read_text())["guard"]
        assert guard["judged"] and guard["baseline_ops_per_sec"] > 200
        assert guard["samples"][-1]["ops_per_sec"] < 0.7 * guard["baseline_ops_per_sec"]
        assert monitors(s) == []


def test_server_killed_mid_capture_keeps_a_readable_bundle(tmp_path: Path) -> None:
    s = RedisServer()
    s.start()
    try:
        result: dict = {}
        with Traffic(s, per_tick=5):
            t = threading.Thread(target=lambda: result.update(r=capture(
                Target(port=s.port), tmp_path / "b", CaptureLimits(duration=15, max_drop=1, **FAST))))  # fmt: skip
            t.start()
            wait_for(lambda: monitors(s), "MONITOR to start")
            time.sleep(0.3)
            s.proc.kill()
            t.join(20)
    finally:
        s.stop()
    res = result["r"]
    assert res.reason == "server-lost" and not res.ok and res.lines > 0
    data = gzip.open(tmp_path / "b" / "monitor.txt.gz").read()  # a complete gzip stream
    assert data.count(b"\n") == res.lines + 1
    server = json.loads((tmp_path / "b" / "server.json").read_text())
    assert server["capture"]["stop"]["reason"] == "server-lost" and server["after"] is None
    assert read_client_list(tmp_path / "b" / "clients.log.gz")["snapshot"].nunique() >= 1


def capture_process(server: RedisServer, folder: Path) -> subprocess.Popen:
    """``python -m monitorlens capture`` for 30 s in its own process, once its MONITOR runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitorlens", "capture", f"redis://127.0.0.1:{server.port}/0", "-o", str(folder),
         "--duration", "30", "--baseline", "0.3", "--max-drop", "100%"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: monitors(server), "MONITOR to start", timeout=15)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    return proc


def test_sigterm_ends_monitor_and_closes_the_files(tmp_path: Path) -> None:
    with RedisServer() as s, Traffic(s, per_tick=5):
        proc = capture_process(s, tmp_path / "b")
        try:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        assert b"stopped: signal (SIGTERM received)" in out
        assert monitors(s) == []
    server = json.loads((tmp_path / "b" / "server.json").read_text())
    assert server["capture"]["stop"]["reason"] == "signal" and server["capture"]["exact"] is True
    assert gzip.open(tmp_path / "b" / "monitor.txt.gz").read().startswith(b"OK\n")


def test_output_buffer_guard_stops_a_capture_that_falls_behind(tmp_path: Path) -> None:
    with RedisServer() as s, Traffic(s, per_tick=20, value=b"x" * 20_000):
        stall = threading.Event()

        def slow_reader(status: dict) -> None:  # the capture stops reading for a while
            if not stall.is_set():
                stall.set()
                time.sleep(1.5)

        # Over the unix socket: its small kernel buffers fill first, then the server's output buffer.
        res = capture(Target(unix_socket=s.unix_path), tmp_path / "b",
                      CaptureLimits(duration=10, max_omem=256 * 1024, max_drop=1, **FAST), progress=slow_reader)  # fmt: skip
        assert res.reason == "output-buffer", res.text()
        assert monitors(s) == []


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="needs redis-cli")
def test_lines_are_byte_for_byte_what_redis_cli_monitor_prints(tmp_path: Path) -> None:
    with RedisServer() as s:
        cli_out: dict = {}
        cli = threading.Thread(target=lambda: cli_out.update(
            p=capture_monitor(s.cli_args(), tmp_path / "cli.txt", seconds=3.5)))  # fmt: skip
        ours: dict = {}
        mine = threading.Thread(target=lambda: ours.update(r=capture(
            Target(port=s.port), tmp_path / "b", CaptureLimits(duration=2.5, max_drop=1, **FAST))))  # fmt: skip
        cli.start()
        mine.start()
        wait_for(lambda: len(monitors(s)) == 2, "both MONITORs")
        app = s.client(single_connection_client=True, protocol=2, client_name="odd")
        odd = [b'a "quoted" value', b"line\nbreak\r\t\x07\x08", "café ☕".encode(), bytes(range(256)), b"\\", b" "]
        for i, value in enumerate(odd):
            app.set(f"k:{i}", value)
            app.hset("h", value, value)
        app.eval("return redis.call('get', KEYS[1])", 1, "k:0")
        addr = re.search(rb"addr=(\S+) .* name=odd ", client_list_bytes(s.client(protocol=2))).group(1)
        mine.join(20)
        cli.join(20)
    theirs = (tmp_path / "cli.txt").read_bytes()
    kept = gzip.open(tmp_path / "b" / "monitor.txt.gz").read()
    assert theirs.startswith(b"OK\n") and kept.startswith(b"OK\n")

    def app_lines(data: bytes) -> list[bytes]:
        return [line for line in data.split(b"\n") if b" " + addr + b"] " in line or b" lua] " in line]

    assert len(app_lines(kept)) == 2 * len(odd) + 1 + 1 + 1  # SET/HSET each, CLIENT SETNAME, EVAL, its GET
    assert app_lines(kept) == app_lines(theirs)


def test_a_killed_capture_leaves_a_readable_file_and_no_monitor(tmp_path: Path) -> None:
    with RedisServer() as s, Traffic(s, per_tick=5):
        proc = capture_process(s, tmp_path / "b")
        try:
            time.sleep(1.6)  # past a flush, which runs every second
        finally:
            proc.kill()
            proc.wait(10)
        wait_for(lambda: not monitors(s), "the server to drop the killed MONITOR")
    events = read_monitor(tmp_path / "b" / "monitor.txt.gz")  # cut short, but readable up to the last flush
    assert len(events) > 50
    assert not (tmp_path / "b" / "server.json").exists()  # SIGKILL leaves no time to write it


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_capture_over_tls_verifies_the_server(tmp_path: Path) -> None:
    ca_key, ca, key, csr, cert = (tmp_path / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for cmd in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=test-ca"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "1",
         "-extfile", ext],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, cmd)], check=True, capture_output=True, timeout=60)
    tls_port = free_port()
    config = {"tls-port": str(tls_port), "tls-cert-file": str(cert), "tls-key-file": str(key),
              "tls-ca-cert-file": str(ca), "tls-auth-clients": "no"}  # fmt: skip
    with RedisServer(config=config) as s, Traffic(s, per_tick=5):
        url = f"rediss://127.0.0.1:{tls_port}/0"
        res = capture(parse_target(url, "--cacert", str(ca)), tmp_path / "b",
                      CaptureLimits(duration=0.8, max_drop=1, **FAST))  # fmt: skip
        assert res.reason == "duration" and res.exact and res.lines > 50
        assert json.loads((tmp_path / "b" / "server.json").read_text())["target"] == url
        with pytest.raises(InputError, match="certificate verify failed"):  # no CA: the server is not trusted
            capture(parse_target(url), tmp_path / "c", CaptureLimits(duration=0.5))
        assert monitors(s) == []


def parse_target(*argv: str) -> Target:
    import argparse

    from monitorlens.live.connection import add_target_arguments, target_from_args

    p = argparse.ArgumentParser(add_help=False)
    add_target_arguments(p)
    return target_from_args(p.parse_args(list(argv)), {})


def test_a_user_without_monitor_permission_gets_a_clear_error(secured: RedisServer, tmp_path: Path) -> None:
    admin = secured.client(protocol=2)
    admin.execute_command("ACL", "SETUSER", "bob", "on", ">bob-secret", "~*", "&*", "+@all", "-monitor")
    with pytest.raises(InputError, match="MONITOR refused .*NOPERM") as e:
        capture(Target(unix_socket=secured.unix_path, user="bob", password="bob-secret"), tmp_path / "b",
                CaptureLimits(duration=1, **FAST))  # fmt: skip
    assert "bob-secret" not in str(e.value)
    server = json.loads((tmp_path / "b" / "server.json").read_text())
    assert server["capture"]["stop"]["reason"] == "error" and "NOPERM" in server["capture"]["stop"]["detail"]
    assert monitors(secured) == []
