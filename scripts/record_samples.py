#!/usr/bin/env python3
"""Record the sample captures in sample_captures/ from a real redis-server.

    python scripts/record_samples.py [--out sample_captures] [--only grammar|incident|calm|surge]

Each scenario runs on a fresh throwaway server (monitorlens.testing.RedisServer, with
``requirepass``), drives it with real redis-py clients, captures with the real
``redis-cli MONITOR`` and samples with monitorlens.live.sample_clients. Traffic is seeded;
every loop is bounded in count and time; every process and connection is closed at the end.
Each scenario folder gets a ``facts.json`` (what the recorder did and what it found in the
files it wrote), and ``README.md`` is rewritten from all of them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from monitorlens.live import capture_monitor, client_list_bytes, sample_clients  # noqa: E402
from monitorlens.testing import RedisServer  # noqa: E402

PASSWORD = "sample-pass"  # a throwaway server's password; the captures show it as (redacted)
CONTAINERS = {"client", "config", "function", "object", "script", "xinfo", "memory", "acl"}
HEAD = re.compile(rb'^(\d+)\.(\d{6}) \[(\d+) (.*?)\] "([^"\\]*)"(?: "([^"\\]*)")?')


# ---------------------------------------------------------------- helpers


def connect(server: RedisServer, name: str | None = None, **kw: Any) -> redis.Redis:
    """One redis-py client on one connection (so one CLIENT LIST line per client)."""
    kw.setdefault("socket_timeout", 20)
    return server.client(client_name=name, single_connection_client=True, **kw)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def client_table(admin: redis.Redis) -> list[dict[str, str]]:
    """CLIENT LIST as dicts (enough for the recorder's own bookkeeping)."""
    rows = []
    for line in client_list_bytes(admin).decode().splitlines():
        rows.append(dict(tok.split("=", 1) for tok in line.split(" ") if "=" in tok))
    return rows


def monitor_ids(admin: redis.Redis) -> list[int]:
    return [int(c["id"]) for c in client_table(admin) if "O" in c["flags"]]


def start_monitor_thread(cli: list[str], path: Path, seconds: float) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        result["proc"] = capture_monitor(cli, path, seconds=seconds)

    t = threading.Thread(target=run, name="capture", daemon=True)
    t.start()
    return t, result


def command_name(m: re.Match[bytes]) -> str:
    """``get``, or ``client|setname`` for container commands, as INFO commandstats names them."""
    name = m.group(5).decode().lower()
    if name in CONTAINERS and m.group(6) is not None:
        return f"{name}|{m.group(6).decode().lower()}"
    return name


def capture_lines(data: bytes) -> list[re.Match[bytes]]:
    """The event lines of a capture (the leading OK is not one); every other line is an error."""
    lines = data.split(b"\n")
    assert lines[0] == b"OK", lines[0][:80]
    assert lines[-1] == b"", "capture does not end in a newline"
    out = []
    for i, line in enumerate(lines[1:-1], start=2):
        m = HEAD.match(line)
        if m is None:
            raise RuntimeError(f"capture line {i} does not match the MONITOR grammar: {line[:120]!r}")
        out.append(m)
    return out


def capture_facts(data: bytes, names_by_addr: dict[str, str]) -> dict[str, Any]:
    """Counts a reader can check against the capture by grep."""
    events = capture_lines(data)
    by_source = Counter(m.group(4).decode() for m in events)
    by_client: Counter[str] = Counter()
    for src, n in by_source.items():
        by_client[names_by_addr.get(src, "lua" if src == "lua" else f"(closed) {src}")] += n
    return {
        "event_lines": len(events),
        "first_ts": float(events[0].group(1) + b"." + events[0].group(2)),
        "last_ts": float(events[-1].group(1) + b"." + events[-1].group(2)),
        "lua_lines": by_source.get("lua", 0),
        "commands": dict(sorted(Counter(command_name(m) for m in events).items())),
        "lines_by_client_name": dict(sorted(by_client.items())),
        "dbs": sorted({int(m.group(3)) for m in events}),
    }


def names_by_addr(table: list[dict[str, str]], server: RedisServer) -> dict[str, str]:
    """MONITOR source -> client name (``(unnamed)`` when none); unix clients share one source."""
    out = {}
    for c in table:
        src = f"unix:{server.unix_path}" if c["addr"].startswith(server.unix_path) else c["addr"]
        out[src] = c.get("name") or "(unnamed)"
    return out


def gzip_file(path: Path) -> Path:
    """path -> path.gz (no name or time in the header, so reruns differ only by content)."""
    target = path.with_name(path.name + ".gz")
    with open(path, "rb") as src, open(target, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as dst:
            shutil.copyfileobj(src, dst)
    path.unlink()
    return target


def snapshots_in(log: bytes) -> int:
    return sum(1 for line in log.split(b"\n") if line.startswith(b"# "))


# ---------------------------------------------------------------- grammar

FUNCTION_LIB = """#!lua name=grammarlib
redis.register_function('touch', function(keys, args)
  redis.call('INCR', keys[1])
  return redis.call('GET', keys[1])
end)"""
EVAL_SCRIPT = "redis.call('SET', KEYS[1], ARGV[1])\nreturn redis.call('GET', KEYS[1])"
EVALSHA_SCRIPT = "return redis.call('HGETALL', KEYS[1])"
WEIRD_VALUES: list[tuple[str, bytes]] = [
    ("bin:all-bytes", bytes(range(256))),
    ("utf8:cafe", "café".encode()),
    ("utf8:emoji", "launch 🚀 ok ✓".encode()),
    ("clé:é", b"utf-8 key"),
    ("quote:double", b'say "hi"'),
    ("quote:single", b"it's"),
    ("path:windows", b"C:\\Users\\redis\\dump.rdb"),
    ("text:whitespace", b"line1\nline2\r\n\tindented\x07bell\x08back"),
    ("quote:trailing", b'ends with quote"'),
    ("space: inside key", b"value with spaces"),
    ("empty:value", b""),
    ("", b"the empty key"),
]
HUGE_ARGUMENT_BYTES = 100_000
GRAMMAR_CAPTURE_SECONDS = 8.0
BLOCK_WAIT = 0.3  # seconds for a sent BLPOP to block on an idle local server


def grammar_traffic(server: RedisServer) -> dict[str, Any]:
    """Every construct the MONITOR grammar has, in a known order; returns what was done.

    Nothing here may run a command that MONITOR hides (CLIENT LIST...), so that the capture
    and INFO commandstats count the same commands; waits for a BLPOP to block are sleeps.
    """
    done: dict[str, Any] = {}
    app = connect(server)  # named below with an explicit CLIENT SETNAME
    app.client_setname("grammar-app")
    anon = connect(server, protocol=2)  # AUTH <password>, never named
    user_auth = connect(server, "auth-user", protocol=2, username="default")  # AUTH <user> <password>
    ipv6 = connect(server, "ipv6-client", via="tcp6")
    unix = connect(server, "unix-client", via="unix")
    db3 = connect(server, "db3-client")

    for key, value in WEIRD_VALUES:
        app.set(key, value)
    app.set('a\\"', 'b" "c')  # an argument ending in \" followed by another argument
    app.get("bin:all-bytes")
    app.get("")
    app.execute_command("set", "lower:case", "command name sent in lower case")
    app.set("huge:blob", b"x" * HUGE_ARGUMENT_BYTES)
    anon.set("anon:counter", 1)
    anon.incr("anon:counter")  # redis-py sends INCRBY key 1
    anon.execute_command("INCR", "anon:counter")
    user_auth.get("anon:counter")
    ipv6.set("ipv6:key", "over ::1")
    ipv6.get("ipv6:key")
    unix.set("unix:key", "over the socket")
    unix.get("unix:key")

    db3.execute_command("SELECT", 3)
    db3.set("db3:key", "in database 3")
    db3.get("db3:key")
    db3.dbsize()

    piper = server.client(client_name="pipeline-client")  # a pool: pipelines take its one connection
    with piper.pipeline(transaction=True) as tx:
        tx.execute_command("INCR", "tx:counter").lpush("tx:list", "a", "b", "c").expire("tx:counter", 100)
        tx.execute()
    with piper.pipeline(transaction=False) as pipe:
        for i in range(5):
            pipe.set(f"pipe:{i}", i)
        pipe.execute()

    app.mset({"m:1": "v1", "m:2": "v2", "m:3": "v3"})
    app.mget("m:1", "m:2", "m:3", "m:missing")
    app.delete("m:1", "m:2", "m:3")

    app.hset("hash:user", mapping={"name": "Ada", "lang": "en"})
    app.eval(EVAL_SCRIPT, 1, "eval:key", "set by a script")
    sha = app.script_load(EVALSHA_SCRIPT)
    app.evalsha(sha, 1, "hash:user")
    app.function_load(FUNCTION_LIB)
    app.fcall("touch", 1, "fn:counter")

    app.xadd("stream:events", {"type": "login", "user": "42"})
    app.xadd("stream:events", {"type": "logout", "user": "42"})
    app.xread({"stream:events": "0"}, count=10)
    app.zadd("zs:a", {"x": 1, "y": 2})
    app.zadd("zs:b", {"y": 3, "z": 4})
    app.zunionstore("zs:union", {"zs:a": 1, "zs:b": 2})
    app.rpush("nums", 3, 1, 2)
    app.sort("nums", store="nums:sorted")
    app.object("ENCODING", "nums")
    app.sadd("set:tags", "a", "b", "c")
    app.smembers("set:tags")
    app.hgetall("hash:user")
    app.lrange("tx:list", 0, -1)
    app.keys("*")
    app.keys("pipe:*")

    # Blocking: one BLPOP served by an LPUSH, one that times out, one left blocked.
    served = connect(server, "blpop-served")
    got: dict[str, Any] = {}
    t = threading.Thread(target=lambda: got.update(v=served.blpop(["queue:served"], timeout=5)))
    t.start()
    time.sleep(BLOCK_WAIT)
    app.lpush("queue:served", "job-1")
    t.join(10)
    done["blpop_served_value"] = got["v"][1].decode()
    app.blpop(["queue:empty"], timeout=0.1)

    subscriber = server.client(client_name="grammar-subscriber")  # a pool: only the pubsub connects
    pubsub = subscriber.pubsub()
    pubsub.subscribe("chan:grammar")
    app.publish("chan:grammar", "hello subscribers")

    blocked = connect(server, "blocked-forever", socket_timeout=None)
    bt = threading.Thread(target=lambda: blocked.blpop(["queue:never"], timeout=0), daemon=True)
    bt.start()
    time.sleep(BLOCK_WAIT)
    done["kept_open"] = [app, anon, user_auth, ipv6, unix, db3, piper, served, pubsub, subscriber, blocked]
    done["blocked_thread"] = bt
    return done


def record_grammar(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    with RedisServer(requirepass=PASSWORD) as server:
        admin = connect(server, "recorder")
        admin.ping()
        t0 = time.monotonic()
        cap, result = start_monitor_thread(server.cli_args(), out / "monitor.txt", GRAMMAR_CAPTURE_SECONDS)
        wait_for(lambda: len(monitor_ids(admin)) == 1, "redis-cli MONITOR to connect")
        admin.config_resetstat()  # opens the window: CONFIG is hidden from MONITOR
        done = grammar_traffic(server)
        stats = admin.info("commandstats")  # closes the window: shown by MONITOR, not in its own counts
        elapsed = time.monotonic() - t0
        if elapsed > GRAMMAR_CAPTURE_SECONDS - 1.5:
            raise RuntimeError(f"grammar traffic took {elapsed:.1f}s, too close to the capture's end")
        (out / "clients.log").unlink(missing_ok=True)
        sample_clients(admin, out / "clients.log", interval=0, count=1)
        table = client_table(admin)
        blocked = next(c for c in table if c.get("name") == "blocked-forever")
        if "b" not in blocked["flags"] or blocked["cmd"] != "blpop":
            raise RuntimeError(f"blocked-forever is not blocked in BLPOP: {blocked}")
        blocked_id = blocked["id"]
        admin.client_unblock(int(blocked_id))  # hidden by MONITOR, after the window
        done["blocked_thread"].join(5)
        cap.join(GRAMMAR_CAPTURE_SECONDS + 10)
        for c in done.pop("kept_open"):
            c.close()
        admin.close()
        version = server.version
        addr_names = names_by_addr(table, server)
        unix_path = server.unix_path

    calls = {name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()}
    calls = dict(sorted(calls.items()))
    (out / "commandstats.json").write_text(json.dumps(calls, indent=2) + "\n")
    data = (out / "monitor.txt").read_bytes()
    facts = capture_facts(data, addr_names)
    seen = Counter(facts["commands"])
    diff = {k: calls.get(k, 0) - seen.get(k, 0) for k in set(calls) | set(seen)}
    diff = {k: v for k, v in diff.items() if v}
    expected_diff = {"config|resetstat": 1, "info": -1}
    if diff != expected_diff:
        raise RuntimeError(f"commandstats minus capture counts is {diff}, expected {expected_diff}")
    checks = grammar_checks(data)
    facts.update(
        server_version=version,
        capture_returncode=result["proc"].returncode,
        unix_socket_source=f"unix:{unix_path}",
        clients=sorted(addr_names.values()),
        commandstats_minus_capture=expected_diff,
        greps=checks,
        blpop_served_value=done["blpop_served_value"],
        huge_argument_bytes=HUGE_ARGUMENT_BYTES,
        clients_log_snapshots=snapshots_in((out / "clients.log").read_bytes()),
    )
    return facts


def grammar_checks(data: bytes) -> dict[str, int]:
    """Counts of the tricky constructs; each must be present."""
    greps = {
        "lua source lines": rb"\[\d+ lua\]",
        "IPv6 source [::1]": rb"\[\d+ \[::1\]:\d+\]",
        "unix socket source": rb"\[\d+ unix:",
        "db 3 lines": rb"^\d+\.\d{6} \[3 ",
        '"(redacted)" arguments': rb'"\(redacted\)"',
        'HELLO 3 AUTH': rb'"HELLO" "3" "AUTH" "\(redacted\)" "\(redacted\)"',
        r'an argument ending in \" then a space': rb'\\"" "',
        "\\xHH escapes": rb"\\x[0-9a-f]{2}",
        "lower-case command name": rb'\] "set" ',
        "empty-string arguments": rb' ""(?: |$)',
    }
    out = {}
    for label, pattern in greps.items():
        n = len(re.findall(pattern, data, flags=re.M))
        if n == 0:
            raise RuntimeError(f"the grammar capture lacks {label}")
        out[label] = n
    return out


# ---------------------------------------------------------------- web traffic (incident, calm)

USERS = 5000
PRODUCTS = 20000
RATE_LIMIT_LUA = (
    "local n = redis.call('INCR', KEYS[1])\n"
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\n"
    "return n"
)
WEB_CLIENTS = 4
WEB_MAX_REQUESTS = 20_000


def load_dataset(server: RedisServer, *, big: bool) -> dict[str, int]:
    """The keyspace the apps use; ``big`` adds the large hash/set/list the dashboard reads."""
    loader = connect(server)
    rng = random.Random(7)
    sizes = {}
    with loader.pipeline(transaction=False) as p:
        for uid in range(1, USERS + 1):
            p.hset(f"user:{uid}:profile", mapping={"name": f"user{uid}", "plan": rng.choice(["free", "pro"])})
        for sku in range(PRODUCTS):
            p.set(f"product:{sku}:stock", rng.randint(0, 500))
        p.set("config:feature-flags", '{"new_checkout": true}')
        if big:
            p.hset("catalog:products", mapping={f"sku:{i}": f"Product {i}" for i in range(5000)})
            p.sadd("online:users", *range(1, 10_001))
            p.rpush("feed:global", *(f"post:{i}" for i in range(5000)))
            p.rpush("leaderboard:ids", *(rng.randint(1, 10**6) for _ in range(2000)))
            sizes = {"catalog:products": 5000, "online:users": 10_000, "feed:global": 5000, "leaderboard:ids": 2000}
        p.execute()
    loader.close()
    return sizes


def web_request(r: redis.Redis, rng: random.Random, sessions: list[str], n: int) -> None:
    uid = rng.randint(1, USERS)
    sid = rng.choice(sessions)
    ip = f"198.51.100.{rng.randint(1, 254)}"
    x = rng.random()
    if x < 0.45:  # page view
        r.get(f"session:{sid}")
        r.hget(f"user:{uid}:profile", "name")
    elif x < 0.65:  # login
        r.set(f"session:{sid}", uid, ex=1800)
        r.hset(f"user:{uid}:profile", "last_seen", n)
    elif x < 0.80:  # add to cart
        r.hincrby(f"cart:{uid}", f"sku:{rng.randrange(PRODUCTS)}", 1)
        r.expire(f"cart:{uid}", 3600)
    elif x < 0.95:  # API call behind a rate limit
        r.execute_command("INCR", f"rate:{ip}")  # redis-py's incr() would send INCRBY
        r.expire(f"rate:{ip}", 60)
    else:  # checkout: scripted rate limit, then a job for the worker
        r.eval(RATE_LIMIT_LUA, 1, f"rate:checkout:{ip}", 60)
        r.get(f"product:{rng.randrange(PRODUCTS)}:stock")
        r.lpush("jobs", json.dumps({"type": "receipt", "user": uid, "n": n}))


def web_client(server: RedisServer, name: str, seed: int, stop: threading.Event, counts: Counter[str]) -> None:
    rng = random.Random(seed)
    sessions = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(200)]
    r = connect(server, name)
    n = 0
    while not stop.is_set() and n < WEB_MAX_REQUESTS:
        web_request(r, rng, sessions, n)
        n += 1
        stop.wait(rng.uniform(0.02, 0.08))
    counts[name] = n
    r.close()


def worker(server: RedisServer, stop: threading.Event, counts: Counter[str]) -> None:
    r = connect(server, "worker", socket_timeout=None)
    n = 0
    while n < WEB_MAX_REQUESTS:
        _, job = r.blpop(["jobs"], timeout=0)
        if job == b"stop":
            break
        r.incr("stats:jobs_done")
        n += 1
    counts["worker jobs"] = n
    r.close()


def every(period: float, stop: threading.Event, limit: int, action: Callable[[int], None]) -> int:
    """Call action(i) every ``period`` s, at most ``limit`` times, until ``stop``; return calls."""
    start = time.monotonic()
    i = 0
    while i < limit and not stop.is_set():
        action(i)
        i += 1
        stop.wait(max(0.0, start + i * period - time.monotonic()))
    return i


class Scenario:
    """A fresh server and the threads, processes and clients of one traffic scenario.

    ``with Scenario() as scn:`` stops all of them on the way out, also after an error.
    """

    def __init__(self) -> None:
        self.server = RedisServer(requirepass=PASSWORD)
        self.closed = False
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.clients: list[Any] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.counts: Counter[str] = Counter()

    def thread(self, name: str, fn: Callable[[], Any]) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def web(self, seed: int) -> None:
        for i in range(1, WEB_CLIENTS + 1):
            name = f"web-{i}"
            self.thread(name, lambda name=name, i=i: web_client(self.server, name, seed + i, self.stop, self.counts))
        self.thread("worker", lambda: worker(self.server, self.stop, self.counts))

    def __enter__(self) -> "Scenario":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if not self.closed:
                self.close()
        finally:
            self.server.stop()

    def close(self) -> None:
        """Stop every thread (the worker by a ``stop`` job), client and process; idempotent."""
        self.closed = True
        self.stop.set()
        if any(t.name == "worker" for t in self.threads):
            with connect(self.server, "recorder-stop") as r:
                r.lpush("jobs", "stop")
        for t in self.threads:
            t.join(15)
        alive = [t.name for t in self.threads if t.is_alive()]
        for c in self.clients:
            c.close()
        for p in self.procs:
            p.terminate()
            p.wait(10)
        if alive:
            raise RuntimeError(f"threads still running at the end: {alive}")


def sample_both(scn: Scenario, out: Path, window: float) -> None:
    """clients.log every 4 s and connections.csv every 1.5 s, over the window."""
    for f in ("clients.log", "connections.csv"):
        (out / f).unlink(missing_ok=True)
    slow = connect(scn.server, "monitorlens-sampler")
    fast = connect(scn.server, "monitorlens-sampler")
    scn.clients += [slow, fast]
    scn.thread("clients.log", lambda: scn.counts.update(
        {"snapshots": sample_clients(slow, out / "clients.log", interval=4, count=int(window // 4) + 1, stop=scn.stop)}))
    scn.thread("connections.csv", lambda: scn.counts.update(
        {"csv rows": sample_clients(fast, "/dev/null", interval=1.5, count=int(window // 1.5) + 1,
                                    connections_csv=out / "connections.csv", stop=scn.stop)}))


def capture_in_window(scn: Scenario, out: Path, start: float, seconds: float) -> tuple[threading.Thread, dict]:
    """redis-cli MONITOR from ``start`` s after now, for ``seconds``."""
    (out / "monitor.txt.gz").unlink(missing_ok=True)
    time.sleep(start)
    return start_monitor_thread(scn.server.cli_args(), out / "monitor.txt", seconds)


def finish_traffic_files(out: Path, cap: threading.Thread, result: dict, seconds: float,
                         table: list[dict[str, str]], server: RedisServer) -> dict[str, Any]:
    cap.join(seconds + 10)
    data = (out / "monitor.txt").read_bytes()
    facts = capture_facts(data, names_by_addr(table, server))
    facts["capture_returncode"] = result["proc"].returncode
    facts["capture_bytes_uncompressed"] = len(data)
    gzip_file(out / "monitor.txt")
    log = (out / "clients.log").read_bytes()
    facts["clients_log_snapshots"] = snapshots_in(log)
    gzip_file(out / "clients.log")
    rows = (out / "connections.csv").read_text().splitlines()
    facts["connections_csv_rows"] = len(rows)
    counts = [int(r.split(",")[1]) for r in rows]
    facts["connections_csv_min_max"] = [min(counts), max(counts)]
    return facts


def connections_never_closed(scn: Scenario, name: str, period: float, window: float, counter: str) -> None:
    """A thread opening a connection named ``name`` every ``period`` s (HELLO, CLIENT SETNAME,
    one GET), never closing any, until the window ends; counted as ``counter``."""

    def one(i: int) -> None:
        c = connect(scn.server, name)
        c.get("config:feature-flags")
        scn.clients.append(c)

    scn.thread(name, lambda: scn.counts.update({counter: every(period, scn.stop, int(window / period), one)}))


def names_count(table: list[dict[str, str]]) -> dict[str, int]:
    return dict(sorted(Counter(c.get("name") or "(unnamed)" for c in table).items()))


# ---------------------------------------------------------------- incident

INCIDENT_WINDOW = 75.0
INCIDENT_CAPTURE_START = 15.0
INCIDENT_CAPTURE_SECONDS = 30.0
KEYS_SCHEDULE = [(20.0, "*"), (27.0, "user:*"), (34.0, "*"), (41.0, "user:*"), (58.0, "*")]
CHANNEL = "news:firehose"
MESSAGE_BYTES = 16_000
PUBLISH_PERIOD = 0.1
LEAK_PERIOD = 1.0
DASHBOARD_PERIOD = 3.0


def firehose_message(i: int) -> str:
    body = ("Breaking: cache stampede reported in region eu-west; engineers investigating. " * 220)[:MESSAGE_BYTES - 60]
    return json.dumps({"seq": i, "body": body})[:MESSAGE_BYTES].ljust(MESSAGE_BYTES)


def record_incident(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("connections_by_app_*.txt"):
        old.unlink()
    with Scenario() as scn:
        server = scn.server
        sizes = load_dataset(server, big=True)
        admin = connect(server, "recorder")
        forgotten = subprocess.Popen([*server.cli_args(), "MONITOR"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        scn.procs.append(forgotten)
        wait_for(lambda: len(monitor_ids(admin)) == 1, "the forgotten MONITOR to connect")
        forgotten_id = monitor_ids(admin)[0]
        t_zero = time.time()
        sample_both(scn, out, INCIDENT_WINDOW)
        scn.web(seed=1000)

        idle = connect(server, "nightly-export")
        idle.get("config:feature-flags")
        scn.clients.append(idle)

        sub = server.client(client_name="slow-subscriber", socket_timeout=20)  # a pool: only the pubsub connects
        pubsub = sub.pubsub()
        pubsub.subscribe(CHANNEL)  # and never read again
        scn.clients += [pubsub, sub]
        publisher = connect(server, "news-publisher")
        scn.clients.append(publisher)
        scn.thread("publisher", lambda: scn.counts.update({"published": every(
            PUBLISH_PERIOD, scn.stop, int(INCIDENT_WINDOW / PUBLISH_PERIOD),
            lambda i: publisher.publish(CHANNEL, firehose_message(i)))}))

        connections_never_closed(scn, "leaky-app", LEAK_PERIOD, INCIDENT_WINDOW, "leaked")

        dash = connect(server, "admin-dashboard")
        scn.clients.append(dash)

        def dashboard(i: int) -> None:
            dash.hgetall("catalog:products")
            dash.smembers("online:users")
            dash.lrange("feed:global", 0, -1)
            dash.sort("leaderboard:ids")

        scn.thread("admin-dashboard", lambda: scn.counts.update({"dashboard rounds": every(
            DASHBOARD_PERIOD, scn.stop, int(INCIDENT_WINDOW / DASHBOARD_PERIOD), dashboard)}))

        legacy = connect(server, "legacy-reports")
        scn.clients.append(legacy)
        keys_sent: list[dict[str, Any]] = []

        def legacy_reports() -> None:
            for at, pattern in KEYS_SCHEDULE:
                if scn.stop.wait(max(0.0, t_zero + at - time.time())):
                    return
                sent = time.time()
                n = len(legacy.keys(pattern))
                keys_sent.append({"pattern": pattern, "sent_at": round(sent, 6), "keys_returned": n})

        scn.thread("legacy-reports", legacy_reports)

        cap, result = capture_in_window(scn, out, INCIDENT_CAPTURE_START, INCIDENT_CAPTURE_SECONDS)
        time.sleep(max(0.0, t_zero + INCIDENT_WINDOW - time.time()))
        table = client_table(admin)
        by_app = subprocess.run(
            ["bash", "-c", f"{shlex.join(server.cli_args())} CLIENT LIST | grep -o 'name=[^ ]*' | sort | uniq -c"
                           " > connections_by_app_$(date +%s).txt"], cwd=out, timeout=30, check=True)
        sub_row = next(c for c in table if c.get("name") == "slow-subscriber")
        scn.close()
        admin.close()
        version = server.version
        facts = finish_traffic_files(out, cap, result, INCIDENT_CAPTURE_SECONDS, table, server)

    by_app_files = sorted(p.name for p in out.glob("connections_by_app_*.txt"))
    in_capture = [k for k in keys_sent if facts["first_ts"] <= k["sent_at"] <= facts["last_ts"]]
    facts.update(
        server_version=version,
        window_start=round(t_zero, 6),
        window_seconds=INCIDENT_WINDOW,
        dataset_sizes=sizes,
        keys_calls=keys_sent,
        keys_calls_in_capture=len(in_capture),
        forgotten_monitor_id=forgotten_id,
        subscriber={"name": "slow-subscriber", "channel": CHANNEL, "message_bytes": MESSAGE_BYTES,
                    "omem_at_end": int(sub_row["omem"]), "oll_at_end": int(sub_row["oll"])},
        counts=dict(sorted(scn.counts.items())),
        clients_at_end_by_name=names_count(table),
        connections_by_app_file=by_app_files[-1],
        by_app_returncode=by_app.returncode,
    )
    return facts


# ---------------------------------------------------------------- calm

CALM_WINDOW = 30.0
CALM_CAPTURE_START = 3.0
CALM_CAPTURE_SECONDS = 25.0


def record_web(out: Path, window: float, capture_start: float, capture_seconds: float, seed: int,
               more: Callable[[Scenario], None] = lambda scn: None) -> dict[str, Any]:
    """The web traffic (and whatever ``more`` starts) over ``window`` s, captured for part of it."""
    out.mkdir(parents=True, exist_ok=True)
    with Scenario() as scn:
        server = scn.server
        load_dataset(server, big=False)
        admin = connect(server, "recorder")
        t_zero = time.time()
        sample_both(scn, out, window)
        scn.web(seed=seed)
        more(scn)
        cap, result = capture_in_window(scn, out, capture_start, capture_seconds)
        time.sleep(max(0.0, t_zero + window - time.time()))
        table = client_table(admin)
        scn.close()
        admin.close()
        version = server.version
        facts = finish_traffic_files(out, cap, result, capture_seconds, table, server)
    facts.update(server_version=version, window_start=round(t_zero, 6), window_seconds=window,
                 counts=dict(sorted(scn.counts.items())), clients_at_end_by_name=names_count(table))
    return facts


def record_calm(out: Path) -> dict[str, Any]:
    return record_web(out, CALM_WINDOW, CALM_CAPTURE_START, CALM_CAPTURE_SECONDS, seed=2000)


# ---------------------------------------------------------------- surge

SURGE_WINDOW = 30.0
SURGE_CAPTURE_START = 1.0
SURGE_CAPTURE_SECONDS = 28.0
SURGE_PERIOD = 0.5  # a new connection every 0.5 s: 120 a minute, 60 in the window
UNNAMED_PERIOD = 1.0


def surge_traffic(scn: Scenario) -> None:
    """surge-app opening a connection every SURGE_PERIOD s, and two unnamed pollers."""
    server = scn.server
    connections_never_closed(scn, "surge-app", SURGE_PERIOD, SURGE_WINDOW, "surge connections")
    # Two unnamed clients on other hosts/sockets: a cron job over ::1 (or 127.0.0.1
    # without IPv6) and a sidecar over the unix socket, each polling once a second.
    cron = connect(server, None, via="tcp6" if server.ipv6 else "tcp")
    sidecar = connect(server, None, via="unix")
    scn.clients += [cron, sidecar]

    def unnamed(i: int) -> None:
        cron.get("stats:jobs_done")
        sidecar.exists("config:feature-flags")

    scn.thread("unnamed", lambda: scn.counts.update({"unnamed polls": every(
        UNNAMED_PERIOD, scn.stop, int(SURGE_WINDOW / UNNAMED_PERIOD), unnamed)}))


def record_surge(out: Path) -> dict[str, Any]:
    facts = record_web(out, SURGE_WINDOW, SURGE_CAPTURE_START, SURGE_CAPTURE_SECONDS, seed=3000, more=surge_traffic)
    return facts | {"surge_period_s": SURGE_PERIOD}


# ---------------------------------------------------------------- README

README_HEAD = """# Sample captures

Recorded from a real redis-server by `python scripts/record_samples.py` (never typed by hand;
`--only grammar|incident|calm|surge` re-records one folder, and this file is rewritten from the
`facts.json` of every folder). Each scenario runs on its own fresh server: Debian's
redis-server {version}, started by `monitorlens.testing.RedisServer` with `requirepass
{password}`, listening on 127.0.0.1, `::1` and a unix socket in a temporary directory.

- Clients are redis-py {redis_py} (RESP3: they connect with `HELLO 3 AUTH`, then
  `CLIENT SETNAME` when named; redis-py's `CLIENT SETINFO` is refused by 7.0 as an unknown
  subcommand, so neither MONITOR nor INFO commandstats shows it). redis-py's `incr()` sends
  `INCRBY key 1`; where a capture shows `INCR`, the recorder sent `INCR` on purpose.
- `monitor.txt` / `monitor.txt.gz`: `monitorlens.live.capture_monitor`, i.e. the real
  `redis-cli -h 127.0.0.1 -p PORT --no-auth-warning -a {password} MONITOR > monitor.txt`,
  ended by SIGTERM like `timeout` (exit status -15). redis-cli's output as is: `OK` first.
- `clients.log(.gz)`: `monitorlens.live.sample_clients`: `# <epoch, 6 decimals>` then the
  raw `CLIENT LIST` reply, one block per snapshot.
- `connections.csv`: `sample_clients(..., connections_csv=...)`: `<epoch>,<clients>` rows, no
  header, like `echo "$(date +%s),$(redis-cli CLIENT LIST | wc -l)"` (the sampler's own
  connection is counted, as redis-cli's is).
- `facts.json`: the numbers below, machine-readable: what the recorder sent and what it
  counted in the files it wrote. Capture counts use argv[0] lower-cased, and
  `name|subcommand` for CLIENT, CONFIG, FUNCTION, OBJECT and SCRIPT, as INFO commandstats
  names them; lines from scripts (`[0 lua]`) count under their own command.

Timestamps, ports, ids and the temporary socket path change on every run; the traffic is
seeded, so key names and the order of each client's requests repeat, but the counts of the
timed scenarios (incident, calm) vary by a few percent.
"""


def grammar_section(f: dict[str, Any]) -> str:
    greps = "\n".join(f"| {k} | {v} |" for k, v in f["greps"].items())
    by_client = ", ".join(f"{k} {v}" for k, v in f["lines_by_client_name"].items())
    return f"""
## grammar/ - every construct of the MONITOR grammar, and commandstats to reconcile

Files: `monitor.txt` (plain: `OK` + {f["event_lines"]} event lines, {f["lua_lines"]} of them `[0 lua]`),
`commandstats.json` (INFO commandstats `calls` per command for exactly the capture's span),
`clients.log` ({f["clients_log_snapshots"]} CLIENT LIST snapshot taken just after the window, while every
client below is still connected: flags `O` monitor, `P` subscriber, `b` blocked, `U` unix, db=3,
resp=2 and 3), `facts.json`.

Clients (one connection each): `grammar-app` (names itself with an explicit `CLIENT SETNAME`),
an unnamed RESP2 client (`AUTH <pass>`: `"AUTH" "(redacted)"`), `auth-user` (RESP2,
`AUTH default <pass>`: two `(redacted)`), `ipv6-client` (`[::1]:port`), `unix-client`
(source `unix:<socket path>`, the same for every unix client), `db3-client` (`SELECT 3`, then
SET/GET/DBSIZE in db 3), `pipeline-client` (a MULTI/EXEC transaction and a 5-command
pipeline), `blpop-served`, `grammar-subscriber`, `blocked-forever`, the recorder, and the
unnamed redis-cli MONITOR. Lines per client: {by_client}.

In order: SET of all 256 byte values, `café`, an emoji, a UTF-8 key, double and single quotes,
backslashes, `\\n \\r \\t \\a \\b`, a value ending in `"`, a key with spaces, an empty value and
an empty key, then `SET 'a\\\\"' 'b" "c'` (captured as `"SET" "a\\\\\\"" "b\\" \\"c"`), GET of
binary and empty keys, a lower-case `set`, a {f["huge_argument_bytes"]:,}-byte argument
(`SET huge:blob x...`); INCRBY and INCR; MULTI/INCR/LPUSH/EXPIRE/EXEC; a pipeline of 5 SETs;
MSET/MGET/DEL of 3 keys; EVAL (2 lua lines), SCRIPT LOAD + EVALSHA (1 lua line),
FUNCTION LOAD of `#!lua name=grammarlib` + FCALL touch (2 lua lines); XADD x2, XREAD STREAMS;
ZADD x2, ZUNIONSTORE ... WEIGHTS; RPUSH, SORT ... STORE, OBJECT ENCODING, SADD, SMEMBERS, HSET,
HGETALL, LRANGE 0 -1, KEYS `*`, KEYS `pipe:*`; BLPOP served by an LPUSH 0.3 s later (it got
`{f["blpop_served_value"]}`), `BLPOP queue:empty 0.1` timing out; SUBSCRIBE + PUBLISH; and
`BLPOP queue:never 0`, still blocked when the window closes. Each BLPOP is one line.

Checks (regex over the file, counts of matches):

| construct | matches |
|---|---|
{greps}

### The commandstats window, exactly
1. Outside, before: the recorder connects (`HELLO 3 AUTH`, `CLIENT SETNAME recorder`, PING),
   redis-cli connects (`AUTH`, `MONITOR`), the recorder polls `CLIENT LIST` until the monitor
   client (flag `O`) is listed.
2. Opens: `CONFIG RESETSTAT` by the recorder. MONITOR hides CONFIG; commandstats counts it
   after the reset, so `config|resetstat` is 1.
3. Inside: every line of the capture but the last, including the handshakes of the clients
   connecting in the window and the lua lines. Nothing in the window is hidden from MONITOR
   (the waits for BLPOP to block are sleeps, not CLIENT LIST).
4. Closes: `INFO commandstats` by the recorder, the capture's last line; INFO's reply does not
   count the INFO that produced it.
5. Outside, after: `CLIENT LIST` (clients.log), `CLIENT UNBLOCK` of blocked-forever (both hidden
   by MONITOR), closing connections, then SIGTERM to redis-cli.

So commandstats.json minus the capture's counts is exactly
`{json.dumps(f["commandstats_minus_capture"])}`; every other command has the same count in both (the recorder
checks this and fails otherwise).
"""


def traffic_section(f: dict[str, Any], title: str, intro: str) -> str:
    cmds = ", ".join(f"{k} {v}" for k, v in f["commands"].items())
    by_client = ", ".join(f"{k} {v}" for k, v in f["lines_by_client_name"].items())
    at_end = ", ".join(f"{k} {v}" for k, v in f["clients_at_end_by_name"].items())
    counts = ", ".join(f"{k} {v}" for k, v in f["counts"].items())
    cap_start = f["first_ts"] - f["window_start"]
    return f"""
## {title}

{intro}

Files: `monitor.txt.gz` ({f["event_lines"]} event lines, {f["capture_bytes_uncompressed"]:,} bytes unpacked,
first line {f["first_ts"]:.6f} = window start + {cap_start:.1f} s, last {f["last_ts"]:.6f};
{f["lua_lines"]} lua lines), `clients.log.gz` ({f["clients_log_snapshots"]} snapshots, every 4 s from the window
start {f["window_start"]:.6f}), `connections.csv` ({f["connections_csv_rows"]} rows, every 1.5 s; clients from
{f["connections_csv_min_max"][0]} to {f["connections_csv_min_max"][1]}), `facts.json`.

- Commands in the capture: {cmds}.
- Capture lines by client name (source address mapped through CLIENT LIST at the window's end): {by_client}.
- Done by the recorder over the whole window: {counts}.
- Connections by name at the window's end: {at_end}.
"""


INCIDENT_INTRO = """A {window:.0f} s incident. From the window start: 4 web clients `web-1`..`web-4` (page views
GET `session:{{uuid}}` + HGET `user:{{id}}:profile`; logins SET session EX 1800 + HSET profile;
carts HINCRBY `cart:{{id}}` + EXPIRE; API calls INCR + EXPIRE `rate:{{ip}}`; 5% checkouts with an
EVAL rate-limit script on `rate:checkout:{{ip}}` (INCR, EXPIRE as lua lines), a GET and an LPUSH
to `jobs`), 20-80 ms apart each; `worker` on `BLPOP jobs 0` (INCRBY `stats:jobs_done` per job);
`admin-dashboard` every 3 s: HGETALL `catalog:products` ({catalog} fields), SMEMBERS `online:users`
({online} members), LRANGE `feed:global` 0 -1 ({feed} items), SORT `leaderboard:ids` ({board}
items, no LIMIT); `legacy-reports` KEYS at window start + {schedule} s; `slow-subscriber` SUBSCRIBEs
to `{channel}` and never reads while `news-publisher` PUBLISHes {msg:,}-byte messages every
{period} s (its omem in CLIENT LIST: 0 until the kernel buffers (~4 MB) fill, then growing, {omem:,}
bytes with oll={oll} at the window's end); `leaky-app` opens a new connection named `leaky-app`
every {leak} s (HELLO, CLIENT SETNAME, GET `config:feature-flags`) and never closes any
({leaked} at the end); `nightly-export` connects, GETs once and stays idle; a forgotten
`redis-cli MONITOR > /dev/null` (client id {forgotten}, unnamed, flag `O`) connected just before
the window and running through it. The capture is a second MONITOR (also flag `O` in the
snapshots it overlaps). Two `monitorlens-sampler` connections take the snapshots and the CSV.
Keyspace loaded before the window: {users} `user:{{id}}:profile` hashes, {products}
`product:{{sku}}:stock` strings.

KEYS calls (pattern, sent at, keys returned, in the capture?): {keys}.
{keys_in} of them are in the capture. `{by_app_file}` was made at the window's end with
`redis-cli ... CLIENT LIST | grep -o 'name=[^ ]*' | sort | uniq -c > connections_by_app_$(date +%s).txt`
(its unnamed entries are the forgotten MONITOR and that redis-cli itself):

```
{by_app}```"""

CALM_INTRO = """The same web traffic (`web-1`..`web-4` and `worker`, seeded differently) for {window:.0f} s, with
nothing else: no KEYS, no O(N) reads, no subscriber, no leak, no idle client, no forgotten MONITOR."""

SURGE_INTRO = """The calm web traffic (`web-1`..`web-4`, `worker`) for {window:.0f} s, while `surge-app` opens a new
connection named `surge-app` every {period} s ({per_min:.0f} a minute; HELLO, CLIENT SETNAME, GET
`config:feature-flags`) and never closes any ({opened} opened): too short for a leak (under 60 s of
snapshots), steep enough for a surge. Two unnamed clients poll once a second: a cron job over
`::1` (GET `stats:jobs_done`) and a sidecar over the unix socket (EXISTS `config:feature-flags`)."""


def write_readme(out: Path) -> None:
    facts = {n: json.loads((out / n / "facts.json").read_text())
             for n in SCENARIOS if (out / n / "facts.json").exists()}
    version = next(iter(facts.values()))["server_version"] if facts else "unknown"
    text = README_HEAD.format(version=version, password=PASSWORD, redis_py=redis.__version__)
    if "grammar" in facts:
        text += grammar_section(facts["grammar"])
    if "incident" in facts:
        f = facts["incident"]
        keys = "; ".join(
            f"`KEYS {k['pattern']}` +{k['sent_at'] - f['window_start']:.0f} s, {k['keys_returned']} keys, "
            + ("yes" if f["first_ts"] <= k["sent_at"] <= f["last_ts"] else "no") for k in f["keys_calls"])
        intro = INCIDENT_INTRO.format(
            window=f["window_seconds"], catalog=f["dataset_sizes"]["catalog:products"],
            online=f["dataset_sizes"]["online:users"], feed=f["dataset_sizes"]["feed:global"],
            board=f["dataset_sizes"]["leaderboard:ids"],
            schedule=", ".join(f"{at:.0f}" for at, _ in KEYS_SCHEDULE), channel=f["subscriber"]["channel"],
            msg=f["subscriber"]["message_bytes"], period=PUBLISH_PERIOD, omem=f["subscriber"]["omem_at_end"],
            oll=f["subscriber"]["oll_at_end"], leak=LEAK_PERIOD, leaked=f["counts"]["leaked"],
            forgotten=f["forgotten_monitor_id"], users=USERS, products=PRODUCTS, keys=keys,
            keys_in=f["keys_calls_in_capture"], by_app_file=f["connections_by_app_file"],
            by_app=(out / "incident" / f["connections_by_app_file"]).read_text())
        text += traffic_section(f, "incident/ - what made the load", intro)
    if "calm" in facts:
        f = facts["calm"]
        text += traffic_section(f, "calm/ - a normal day, for comparison", CALM_INTRO.format(window=f["window_seconds"]))
    if "surge" in facts:
        f = facts["surge"]
        intro = SURGE_INTRO.format(window=f["window_seconds"], period=f["surge_period_s"],
                                   per_min=60 / f["surge_period_s"], opened=f["counts"]["surge connections"])
        text += traffic_section(f, "surge/ - a steep, short burst of connections", intro)
    (out / "README.md").write_text(text)


# ---------------------------------------------------------------- main

SCENARIOS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "grammar": record_grammar,
    "incident": record_incident,
    "calm": record_calm,
    "surge": record_surge,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "sample_captures")
    ap.add_argument("--only", choices=sorted(SCENARIOS))
    args = ap.parse_args(argv)
    names = [args.only] if args.only else list(SCENARIOS)
    for name in names:
        t = time.monotonic()
        facts = SCENARIOS[name](args.out / name)
        facts["recorded_in_seconds"] = round(time.monotonic() - t, 1)
        (args.out / name / "facts.json").write_text(json.dumps(facts, indent=2, ensure_ascii=False) + "\n")
        print(f"{name}: {facts['event_lines']} capture lines in {facts['recorded_in_seconds']}s")
    write_readme(args.out)
    for path in sorted(args.out.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size:>9}  {path.relative_to(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
