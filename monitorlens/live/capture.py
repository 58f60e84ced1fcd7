"""``capture``: a bounded MONITOR capture of a live server, saved as one bundle folder.

The folder (read back by :mod:`monitorlens.read.bundle`):

- ``monitor.txt.gz``: the MONITOR lines exactly as ``redis-cli MONITOR`` prints them
  (``OK`` first, then each ``+`` reply without its ``+``, ending in ``\\n``);
- ``clients.log.gz`` and ``connections.csv``: CLIENT LIST every ``every`` seconds
  (the format of :class:`~monitorlens.live.snapshots.SnapshotLog`);
- ``server.json``: INFO server/clients/stats/commandstats/errorstats before and after,
  ``maxclients``, the version, the capture's own connections, limits, commands and why
  it stopped (:data:`FORMAT`).

# Strategy: exact before/after counts.
The "before" INFO is sent on the MONITOR connection in the same write as MONITOR, and the
"after" INFO on that connection while it still monitors. Redis runs the commands of one
connection's buffer back to back, so no other client's command runs between the INFO and
the start of MONITOR; at the end, every command counted by the "after" INFO was fed to
MONITOR before the reply. So ``after - before`` in commandstats is exactly what ran while
the file was written, and the capture's own commands in between are counted in
``own_commands``. Closing the connection ends MONITOR (on every way out: the limits, a
guard, Ctrl-C, SIGTERM, a lost server, an error).

Safety: a guard samples ``INFO stats`` on a second connection every ``guard_every``
seconds and stops when the commands per second fall more than ``max_drop`` below the
rate measured just before MONITOR started, or when the MONITOR connection's output
buffer (``omem`` in ``CLIENT LIST ID``) passes ``max_omem``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..commands import is_container
from ..errors import InputError
from ..read.bundle import BUNDLE_FILES, FORMAT
from .connection import Target
from .info import SECTIONS, parse_info
from .resp import ConnectionLost, RespReader, encode
from .signals import catch_stop_signals
from .snapshots import ByteSink, SnapshotLog, client_list_bytes, raw_reply

__all__ = ["CaptureLimits", "CaptureResult", "capture", "CAPTURE_NAME", "STOP_REASONS"]

CAPTURE_NAME = "monitorlens-capture"  # the MONITOR connection
CONTROL_NAME = "monitorlens-capture-control"  # INFO, CLIENT LIST: the guard and the snapshots
# The bundle's files, as its reader looks for them first.
MONITOR_FILE, CLIENTS_FILE, CONNECTIONS_FILE, SERVER_FILE = (BUNDLE_FILES[k][0] for k in BUNDLE_FILES)

#: Why a capture stopped (``server.json`` ``capture.stop.reason``).
STOP_REASONS = {
    "duration": "the duration was reached",
    "max-lines": "the line limit was reached",
    "max-bytes": "the byte limit was reached",
    "throughput-drop": "the server's throughput fell below the guard's share of the baseline",
    "output-buffer": "the MONITOR connection's output buffer passed its limit",
    "server-lost": "the connection to the server was lost",
    "signal": "a signal (Ctrl-C, SIGTERM, SIGHUP) asked to stop",
    "stopped": "the caller asked to stop",
    "error": "an error",
}
GOOD_STOPS = frozenset({"duration", "max-lines", "max-bytes", "throughput-drop", "output-buffer", "signal", "stopped"})


@dataclass(frozen=True)
class CaptureLimits:
    """How long and how much a capture may take, and when its guard stops it.

    >>> CaptureLimits(duration=10).max_drop
    0.3
    """

    #: Seconds of MONITOR at most.
    duration: float = 30.0
    #: MONITOR lines and uncompressed bytes written at most.
    max_lines: int = 1_000_000
    max_bytes: int = 256 << 20
    #: Stop when commands/s fall by more than this share of the baseline (1 disables it).
    max_drop: float = 0.3
    #: Seconds of INFO stats sampling before MONITOR starts, to measure the baseline.
    baseline: float = 2.0
    #: A baseline under this many commands/s is too small to judge a drop by.
    min_baseline_ops: float = 20.0
    #: Stop when the MONITOR connection's own output buffer passes this many bytes.
    max_omem: int = 32 << 20
    #: Seconds between guard samples, and between CLIENT LIST snapshots.
    guard_every: float = 1.0
    every: float = 5.0
    #: Seconds to wait for the last lines and the closing INFO once stopping.
    drain_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in ("duration", "guard_every", "every", "baseline", "drain_timeout"):
            if not getattr(self, name) >= 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.duration <= 0 or self.max_lines <= 0 or self.max_bytes <= 0:
            raise InputError("the duration and the line and byte limits must be positive")
        if not 0 < self.max_drop <= 1:
            raise InputError(f"max_drop must be a share in (0, 1], got {self.max_drop}")
        if self.guard_every <= 0 or self.every <= 0:
            raise InputError("guard_every and every must be positive")


@dataclass
class CaptureResult:
    """What a capture wrote and why it stopped (also in ``server.json``)."""

    folder: Path
    lines: int = 0
    bytes: int = 0
    snapshots: int = 0
    reason: str = "error"
    detail: str = ""
    exact: bool = False
    seconds: float = 0.0
    monitor_left: bool | None = None

    @property
    def ok(self) -> bool:
        """Whether the capture ended by a limit, a guard or a request (not a lost server or an error)."""
        return self.reason in GOOD_STOPS

    def text(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.folder}: {self.lines:,} MONITOR lines ({self.bytes / (1 << 20):.1f} MiB) in {self.seconds:.1f} s, "
            f"{self.snapshots} CLIENT LIST snapshots; stopped: {self.reason} ({self.detail})"
        )


_HEAD = re.compile(rb'\] "((?:[^"\\]|\\.)*)"(?: "((?:[^"\\]|\\.)*)")?')


def command_key(line: bytes) -> str:
    """The commandstats name of a MONITOR line's command: ``get``, ``client|setname``.

    >>> command_key(b'1.000001 [0 127.0.0.1:5] "CLIENT" "SETNAME" "x"')
    'client|setname'
    """
    m = _HEAD.search(line)
    if m is None:
        return "?"
    name = m.group(1).decode("ascii", "replace").lower()
    if m.group(2) is not None and is_container(name):
        return f"{name}|{m.group(2).decode('ascii', 'replace').lower()}"
    return name


class _Stop(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class _Session:
    """One capture's state; :func:`capture` drives it."""

    def __init__(self, target: Target, folder: Path, limits: CaptureLimits,
                 progress: Callable[[dict[str, Any]], None] | None, stop: threading.Event) -> None:  # fmt: skip
        self.target, self.folder, self.limits, self.progress, self.stop = target, folder, limits, progress, stop
        self.result = CaptureResult(folder)
        self.own: Counter[str] = Counter()  # commands this capture ran between the two INFOs
        self.unwritten: Counter[str] = Counter()  # lines shown after a limit, counted not kept
        self.guard: dict[str, Any] = {"samples": []}
        self.server: dict[str, Any] = {"format": FORMAT, "target": target.display()}
        self.control: Any = None
        self.sock: Any = None
        self.reader: RespReader | None = None  # from start_monitor on
        self.out: ByteSink  # set by capture() once the bundle's files are open
        self.snapshots: SnapshotLog  # likewise
        self.monitor_id: int | None = None
        self.control_id: int | None = None
        self.started: float | None = None  # epoch seconds MONITOR was sent
        self.t0 = time.monotonic()  # when MONITOR started (the guard's samples count from it)
        self.status: dict[str, Any] = {}  # the guard's latest reading, for progress
        self.writing = True
        self.signals: list[str] = []

    # ---------------------------------------------------------------- control connection
    def info(self, *sections: str) -> dict[str, Any]:
        self.own["info"] += 1
        return parse_info(raw_reply(self.control, "INFO", *sections))

    def open(self) -> None:
        import redis

        try:
            self.control = self.target.redis(CONTROL_NAME)
            first = parse_info(raw_reply(self.control, "INFO", "server"))
            clients = parse_info(raw_reply(self.control, "INFO", "clients"))
        except redis.AuthenticationError as e:
            raise InputError(f"{self.target.display()}: authentication failed ({e})") from None
        except (redis.RedisError, OSError) as e:
            raise InputError(f"{self.target.display()}: {e}") from None
        server = first.get("server", {})
        self.version = str(server.get("redis_version", "0"))
        self.server["version"] = self.version
        maxclients = clients.get("clients", {}).get("maxclients")
        if maxclients is None:  # before 6.2 INFO does not say; CONFIG may be refused by ACL
            try:
                maxclients = int(self.control.config_get("maxclients").get("maxclients"))
            except (redis.RedisError, TypeError, ValueError):
                maxclients = None
        self.server["maxclients"] = maxclients
        self.control_id = int(self.control.execute_command("CLIENT", "ID"))

    def _version(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version)[:3])

    def info_command(self) -> tuple[str, ...]:
        # Several sections in one INFO from 7.0 on; before, "all" holds them.
        return ("INFO", *SECTIONS) if self._version() >= (7,) else ("INFO", "all")

    def baseline(self) -> None:
        t0, s0 = time.monotonic(), self.info("stats")["stats"]["total_commands_processed"]
        if self.stop.wait(self.limits.baseline):
            raise _Stop(*self._stop_requested())
        t1, s1 = time.monotonic(), self.info("stats")["stats"]["total_commands_processed"]
        rate = max(0, s1 - s0 - 1) / max(t1 - t0, 1e-6)  # minus the first INFO itself
        self.guard.update(baseline_ops_per_sec=round(rate, 1), baseline_seconds=round(t1 - t0, 3),
                          judged=rate >= self.limits.min_baseline_ops)  # fmt: skip
        self.own.clear()

    # ---------------------------------------------------------------- MONITOR connection
    def start_monitor(self) -> None:
        t = self.target
        try:
            self.sock = t.open_socket()
        except OSError as e:
            raise InputError(f"{t.display()}: cannot connect ({e.strerror or e})") from None
        reader = self.reader = RespReader(self.sock)
        setup: list[tuple[str, bytes]] = []
        if t.password is not None:
            setup.append(("auth", encode("AUTH", *([t.user] if t.user else []), t.password)))
        setup += [("name", encode("CLIENT", "SETNAME", CAPTURE_NAME)), ("id", encode("CLIENT", "ID"))]
        for what, cmd in setup:
            self.sock.sendall(cmd)
            kind, payload = reader.reply(t.timeout)
            if kind == b"-":
                msg = payload.decode("utf-8", "replace")
                if what == "auth" or msg.startswith("NOAUTH"):
                    raise InputError(f"{t.display()}: authentication failed ({msg})")
                raise InputError(f"{t.display()}: {msg}")
            if what == "id":
                self.monitor_id = int(payload)
        self.sock.sendall(encode(*self.info_command()) + encode("MONITOR"))
        self.started = time.time()
        kind, before = reader.reply(t.timeout)
        if kind != b"$":
            raise InputError(f"{t.display()}: INFO refused ({before.decode('utf-8', 'replace')})")
        self.server["before"] = _sections(parse_info(before))
        kind, ok = reader.reply(t.timeout)
        if kind != b"+":
            raise InputError(f"{t.display()}: MONITOR refused ({ok.decode('utf-8', 'replace')})")
        self.own.update({"info": 1, "monitor": 1})
        self.out.write(ok + b"\n")  # redis-cli prints MONITOR's "OK" first
        self.guard["last"] = (time.monotonic(), self.server["before"].get("stats", {}).get("total_commands_processed"))
        # Own commands counted by the first guard reading: the INFO and MONITOR above, the
        # snapshots, but not that reading's own INFO, which is counted from the next one on.
        self.guard["own_seen"] = 1

    def take_lines(self) -> tuple[bytes, bytes] | None:
        """Write the MONITOR lines in the buffer; return the first other reply (an INFO's,
        an error) or None once the buffer is used up. Raises :class:`_Stop` at a limit."""
        lim, res, reader = self.limits, self.result, self.reader
        assert reader is not None  # start_monitor ran
        while True:
            room = lim.max_lines - res.lines
            batch = reader.status_lines(max(1, min(room, 4096)) if self.writing else 4096)
            if not batch:
                return reader.pop()
            if not self.writing:
                self.unwritten.update(command_key(line) for line in batch)
                continue
            data = b"\n".join(batch) + b"\n"
            if res.bytes + len(data) > lim.max_bytes:
                keep, size = 0, res.bytes
                for line in batch:
                    if size + len(line) + 1 > lim.max_bytes:
                        break
                    size += len(line) + 1
                    keep += 1
                self._write(batch[:keep])
                self.unwritten.update(command_key(line) for line in batch[keep:])
                self.writing = False
                raise _Stop("max-bytes", f"{lim.max_bytes:,} bytes written")
            self._write(batch)
            if res.lines >= lim.max_lines:
                self.writing = False
                raise _Stop("max-lines", f"{lim.max_lines:,} lines written")

    def _write(self, lines: list[bytes]) -> None:
        if lines:
            data = b"\n".join(lines) + b"\n"
            self.out.write(data)
            self.result.lines += len(lines)
            self.result.bytes += len(data)

    # ---------------------------------------------------------------- the guard
    def check_guard(self) -> None:
        lim = self.limits
        now = time.monotonic()
        stats = self.info("stats")["stats"]
        t_prev, c_prev = self.guard["last"]
        own_since = self.own["info"] + self.own["client|list"] + self.own["monitor"]
        own_delta = own_since - self.guard.get("own_seen", 0)
        self.guard["own_seen"] = own_since
        self.guard["last"] = (now, stats["total_commands_processed"])
        rate = max(0, stats["total_commands_processed"] - (c_prev or 0) - own_delta) / max(now - t_prev, 1e-6)
        omem = self.monitor_omem()
        sample = {"t": round(now - self.t0, 3), "ops_per_sec": round(rate, 1), "omem": omem}
        self.guard["samples"].append(sample)
        self.status.update(ops_per_sec=rate, omem=omem)
        base = self.guard.get("baseline_ops_per_sec", 0)
        if omem is not None and omem > lim.max_omem:
            raise _Stop("output-buffer", f"MONITOR output buffer {omem:,} bytes > {lim.max_omem:,}")
        if self.guard.get("judged") and lim.max_drop < 1 and rate < base * (1 - lim.max_drop):
            raise _Stop("throughput-drop", f"{rate:,.0f} commands/s, {1 - rate / base:.0%} below the baseline "
                                           f"{base:,.0f}/s (limit {lim.max_drop:.0%})")  # fmt: skip

    def monitor_omem(self) -> int | None:
        assert self.monitor_id is not None  # start_monitor ran
        self.own["client|list"] += 1
        # CLIENT LIST ID exists from 6.2; before, the whole list is searched for the id.
        ids = ("ID", self.monitor_id) if self._version() >= (6, 2) else ()
        raw = raw_reply(self.control, "CLIENT", "LIST", *ids)
        m = re.search(rb"^id=%d .*?\bomem=(\d+)" % self.monitor_id, raw, re.M)
        if m is None:
            raise _Stop("server-lost", "the MONITOR connection is no longer listed by the server")
        return int(m.group(1))

    def snapshot(self) -> None:
        self.own["client|list"] += 1
        self.snapshots.take(self.control)
        self.result.snapshots += 1

    # ---------------------------------------------------------------- stopping
    def _stop_requested(self) -> tuple[str, str]:
        if self.signals:
            return "signal", f"{self.signals[0]} received"
        return "stopped", "stop requested"

    def finish_exact(self) -> bool:
        """Send the closing INFO on the MONITOR connection and read up to its reply."""
        reader = self.reader
        assert reader is not None  # start_monitor ran
        try:
            self.sock.sendall(encode(*self.info_command()))
            deadline = time.monotonic() + self.limits.drain_timeout
            while time.monotonic() < deadline:
                item = self._drain_lines()
                if item is not None:
                    kind, payload = item
                    if kind == b"$":
                        self.server["after"] = _sections(parse_info(payload))
                        return True
                    return False
                reader.wait(min(0.2, deadline - time.monotonic()))
        except (ConnectionLost, OSError):
            return False
        return False

    def _drain_lines(self) -> tuple[bytes, bytes] | None:
        while True:
            try:
                return self.take_lines()
            except _Stop as s:  # a limit reached while draining: the rest is counted, not kept
                if self.result.reason not in ("max-lines", "max-bytes"):
                    self.result.detail += f"; then {s.detail}"

    def close_monitor(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def check_left(self) -> None:
        """Whether the server still lists the MONITOR connection (it should not, once closed)."""
        if self.control is None or self.monitor_id is None:
            return
        try:
            for _ in range(50):  # the server sees the close on its next event loop turn
                raw = client_list_bytes(self.control)
                if not re.search(rb"^id=%d " % self.monitor_id, raw, re.M):
                    self.result.monitor_left = False
                    return
                time.sleep(0.02)
            self.result.monitor_left = True
        except Exception:  # noqa: BLE001 - a lost server cannot be asked; it dropped the client anyway
            self.result.monitor_left = None


def _sections(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info.get(k, {}) for k in SECTIONS}


def capture(
    target: Target,
    folder: str | os.PathLike[str],
    limits: CaptureLimits = CaptureLimits(),
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
    stop: threading.Event | None = None,
) -> CaptureResult:
    """Capture MONITOR into a new bundle ``folder`` within ``limits``; return what happened.

    Stops at the first of: ``limits.duration``, ``max_lines``/``max_bytes``, the guard
    (throughput drop, MONITOR output buffer), ``stop`` being set, SIGINT/SIGTERM/SIGHUP
    (when called from the main thread), a lost server, an error. Every way out closes the
    MONITOR connection and the files and writes ``server.json`` with the reason.
    ``progress`` is called about once a second with the counters.

    >>> capture(Target(port=6379), "incident/", CaptureLimits(duration=10)).reason  # doctest: +SKIP
    'duration'
    """
    folder = Path(folder)
    if (folder / MONITOR_FILE).exists() or (folder / SERVER_FILE).exists():
        raise InputError(f"{folder}: already holds a capture; name a new folder")
    s = _Session(target, folder, limits, progress, stop or threading.Event())
    s.open()
    folder.mkdir(parents=True, exist_ok=True)
    restore = catch_stop_signals(s.stop, s.signals)
    t_start = time.monotonic()
    try:
        with gzip.open(folder / MONITOR_FILE, "wb", compresslevel=1) as out, \
                gzip.open(folder / CLIENTS_FILE, "wb", compresslevel=6) as log, \
                open(folder / CONNECTIONS_FILE, "w", encoding="ascii") as csv:  # fmt: skip
            s.out, s.snapshots = out, SnapshotLog(log, csv)
            try:
                _run(s)
            finally:
                s.close_monitor()
                s.check_left()
    finally:
        restore()
        s.result.seconds = time.monotonic() - t_start
        _write_server_json(s)
        if s.control is not None:
            try:
                s.control.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
    return s.result


def _run(s: _Session) -> None:
    res, lim = s.result, s.limits
    s.status = {"lines": 0, "bytes": 0, "ops_per_sec": None, "omem": None}
    try:
        s.t0 = time.monotonic()
        s.baseline()
        s.start_monitor()
        reader = s.reader
        assert reader is not None
        s.t0 = time.monotonic()
        deadline = s.t0 + lim.duration
        next_guard, next_snap, next_tick = s.t0 + lim.guard_every, s.t0, s.t0 + 1.0
        while True:
            now = time.monotonic()
            if s.stop.is_set():
                raise _Stop(*s._stop_requested())
            if now >= deadline:
                raise _Stop("duration", f"{lim.duration:g} s")
            if now >= next_snap:
                s.snapshot()
                next_snap += lim.every
            if now >= next_guard:
                s.check_guard()
                next_guard = max(next_guard + lim.guard_every, now)
            if now >= next_tick:
                s.out.flush()  # a sync flush: the file reads up to here even if the process is killed
                next_tick = now + 1.0
                if s.progress:
                    s.progress({**s.status, "lines": res.lines, "bytes": res.bytes, "seconds": now - s.t0,
                                "snapshots": res.snapshots, "baseline": s.guard.get("baseline_ops_per_sec")})  # fmt: skip
            if reader.wait(min(0.2, max(0.0, min(deadline, next_snap, next_guard, next_tick) - time.monotonic()))):
                item = s.take_lines()
                if item is not None:
                    text = item[1][:200].decode("utf-8", "replace")
                    raise _Stop("error", f"the server sent {item[0].decode()}{text} on the MONITOR connection")
    except _Stop as stop:
        res.reason, res.detail = stop.reason, stop.detail
    except ConnectionLost as e:
        res.reason, res.detail = "server-lost", str(e)
    except InputError as e:  # refused at the start (MONITOR or INFO not allowed): said, and saved
        res.reason, res.detail = "error", str(e)
        raise
    except Exception as e:  # noqa: BLE001 - any failure still ends MONITOR and keeps the files
        import redis

        if isinstance(e, (redis.ConnectionError, redis.TimeoutError, OSError)):
            res.reason, res.detail = "server-lost", f"{type(e).__name__}: {e}"
        else:
            res.reason, res.detail = "error", f"{type(e).__name__}: {e}"
    if s.sock is not None and s.reader is not None and res.reason not in ("server-lost", "output-buffer", "error"):
        try:
            res.exact = s.finish_exact()
        except _Stop as stop:
            res.detail += f"; while stopping: {stop.detail}"
    if not res.exact and res.reason not in ("server-lost",) and s.sock is not None:
        s.close_monitor()  # end MONITOR first: the "after" INFO below is then not exact, but safe
        try:
            s.server["after"] = _sections(s.info(*s.info_command()[1:]))
        except Exception:  # noqa: BLE001 - the server may be gone
            pass


def _write_server_json(s: _Session) -> None:
    res = s.result
    s.server["capture"] = {
        "client_name": CAPTURE_NAME,
        "client_id": s.monitor_id,
        "control_client_name": CONTROL_NAME,
        "control_client_id": s.control_id,
        "started": _iso(s.started),
        "ended": _iso(time.time()),
        "seconds": round(res.seconds, 3),
        "limits": asdict(s.limits),
        "lines": res.lines,
        "bytes": res.bytes,
        "snapshots": res.snapshots,
        "stop": {"reason": res.reason, "detail": res.detail, "meaning": STOP_REASONS.get(res.reason, "")},
        "exact": res.exact,
        "own_commands": dict(sorted(s.own.items())),
        # Of those, what MONITOR does not show: the INFO sent with MONITOR, MONITOR itself,
        # CLIENT LIST (admin). The guard's INFO stats ran on the control connection: shown.
        "own_unseen": {k: v for k, v in (("client|list", s.own["client|list"]), ("info", min(1, s.own["info"])),
                                         ("monitor", s.own["monitor"])) if v},
        "unwritten_by_command": dict(sorted(s.unwritten.items())),
        "monitor_left": res.monitor_left,
    }
    guard = {k: v for k, v in s.guard.items() if k not in ("last", "own_seen")}
    s.server["guard"] = guard
    s.server.setdefault("before", None)
    s.server.setdefault("after", None)
    tmp = s.folder / (SERVER_FILE + ".tmp")
    tmp.write_text(json.dumps(s.server, indent=1, sort_keys=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, s.folder / SERVER_FILE)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="microseconds")
