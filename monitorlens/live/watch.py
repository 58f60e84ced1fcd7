"""``watch``: CLIENT LIST every N seconds, a terminal view, alerts, gauges. Read-only.

Each snapshot is parsed with :func:`monitorlens.read.clientlist.read_client_list` and the
last ``window`` snapshots are analysed by
:func:`monitorlens.analysis.clientlist_analysis.analyze_clientlist` with the same
:class:`~monitorlens.analysis.clientlist.ClientThresholds` as a report, so an alert here is
a finding there and the plan is the report's. A finding that appears (or gets more severe)
prints an ``ALERT`` line; one that goes away prints ``CLEARED``. The CLIENT KILL plan is
printed for review and never sent: the only commands sent are CLIENT LIST, CLIENT SETNAME, INFO.

Memory: the last ``window`` snapshots (rows = clients × window), nothing that grows with time.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, Any

import pandas as pd

from ..analysis.clientlist import DEFAULTS, ClientThresholds
from ..analysis.clientlist_analysis import analyze_clientlist
from ..analysis.findings import SEVERITY_ORDER, Finding
from ..errors import InputError
from ..read.clientlist import read_client_list
from .connection import Target
from .gauges import GaugeCollector, client_gauges, registry_of, serve, write_textfile
from .info import parse_info
from .signals import catch_stop_signals
from .snapshots import SnapshotLog, raw_reply
from .view import render_view

__all__ = ["WatchOptions", "WatchResult", "Alerts", "watch", "WATCH_NAME"]

WATCH_NAME = "monitorlens-watch"
RECENT_ALERTS = 8


@dataclass(frozen=True)
class WatchOptions:
    """What ``watch`` does; every field has a default.

    >>> WatchOptions(every=1, count=3).every
    1
    """

    every: float = 5.0
    #: Stop after this many snapshots / seconds (None: until Ctrl-C or SIGTERM).
    count: int | None = None
    duration: float | None = None
    #: Append snapshots to this file (clients.log format) and counts to this CSV.
    log: str | None = None
    csv: str | None = None
    #: Serve gauges on this port (Prometheus text format) at ``prometheus_host``.
    prometheus_port: int | None = None
    prometheus_host: str = "127.0.0.1"
    #: Write gauges to this file for node_exporter's textfile collector.
    textfile: str | None = None
    #: Overrides ``thresholds.idle_seconds`` when given.
    idle_seconds: float | None = None
    thresholds: ClientThresholds = DEFAULTS
    #: Snapshots judged together (trends need several).
    window: int = 60
    #: Print the one-screen view after each snapshot (alerts are printed either way).
    screen: bool = True

    def limits(self) -> ClientThresholds:
        t = self.thresholds
        return replace(t, idle_seconds=self.idle_seconds) if self.idle_seconds is not None else t


@dataclass
class WatchResult:
    """How a watch ended."""

    snapshots: int = 0
    alerts: int = 0
    reason: str = "count"
    detail: str = ""
    seconds: float = 0.0
    active: list[str] = field(default_factory=list)

    def text(self) -> str:
        """One line for the terminal."""
        return (f"{self.snapshots} CLIENT LIST snapshots in {self.seconds:.1f} s, {self.alerts} alerts; "
                f"stopped: {self.reason}" + (f" ({self.detail})" if self.detail else ""))  # fmt: skip


class Alerts:
    """Which findings are active; ``update`` returns the ALERT/CLEARED lines of a change."""

    def __init__(self) -> None:
        self.active: dict[str, Finding] = {}

    def update(self, findings: list[Finding], when: str) -> list[str]:
        now = {f.code: f for f in findings}
        out = []
        for code, f in now.items():
            old = self.active.get(code)
            if old is None or SEVERITY_ORDER[f.severity] < SEVERITY_ORDER[old.severity]:
                out.append(f"ALERT {when} {f.severity} {code}: {f.title}")
        for code in self.active.keys() - now.keys():
            out.append(f"CLEARED {when} {code}")
        self.active = now
        return out


def _maxclients(client: Any) -> int | None:
    value = parse_info(raw_reply(client, "INFO", "clients")).get("clients", {}).get("maxclients")
    return value if isinstance(value, int) else None


def parse_snapshot(ts: float, raw: bytes, number: int) -> pd.DataFrame:
    """One CLIENT LIST reply as ``read_client_list`` rows, numbered ``number``."""
    df = read_client_list(io.BytesIO(f"# {ts:.6f}\n".encode() + raw))
    df["snapshot"] = number
    return df


def watch(target: Target, opts: WatchOptions = WatchOptions(), *, out: IO[str] | None = None,
          stop: threading.Event | None = None,
          progress: Callable[[int, int | None], None] | None = None) -> WatchResult:  # fmt: skip
    """Take CLIENT LIST snapshots every ``opts.every`` s until ``count``/``duration``, a
    signal or ``stop``; print the view and alerts to ``out``; serve/write the gauges.
    ``progress(snapshots taken, count)`` is called after each snapshot.

    >>> watch(Target(port=6379), WatchOptions(every=1, count=3, screen=False))  # doctest: +SKIP
    """
    import redis

    out = out or sys.stdout
    stop = stop or threading.Event()
    thresholds = opts.limits()
    result = WatchResult()
    try:
        client = target.redis(WATCH_NAME)
        maxclients = _maxclients(client)
    except redis.AuthenticationError as e:
        raise InputError(f"{target.display()}: authentication failed ({e})") from None
    except (redis.RedisError, OSError) as e:
        raise InputError(f"{target.display()}: {e}") from None
    collector = GaugeCollector(target.display())
    registry = registry_of(collector) if (opts.prometheus_port is not None or opts.textfile) else None
    http = serve(registry, opts.prometheus_port, opts.prometheus_host) if opts.prometheus_port is not None else None
    log = open(opts.log, "ab") if opts.log else None
    csv = open(opts.csv, "a", encoding="ascii") if opts.csv else None
    signals: list[str] = []
    restore = catch_stop_signals(stop, signals)
    window: deque[pd.DataFrame] = deque(maxlen=max(1, opts.window))
    alerts, snapshots = Alerts(), SnapshotLog(log, csv)
    recent: deque[str] = deque(maxlen=RECENT_ALERTS)  # shown in the view, which a terminal redraws
    shown_plan = ""
    start = time.monotonic()
    try:
        while True:
            if opts.count is not None and result.snapshots >= opts.count:
                result.reason = "count"
                break
            if opts.duration is not None and time.monotonic() - start >= opts.duration:
                result.reason = "duration"
                break
            try:
                ts, raw = snapshots.take(client)
            except (redis.RedisError, OSError) as e:
                result.reason, result.detail = "server-lost", f"{type(e).__name__}: {e}"
                break
            window.append(parse_snapshot(ts, raw, result.snapshots))
            result.snapshots += 1
            if progress is not None:
                progress(result.snapshots, opts.count)
            latest = window[-1]
            snaps = pd.concat(list(window), ignore_index=True) if len(window) > 1 else latest
            part = analyze_clientlist(snaps, thresholds=thresholds, maxclients=maxclients).snapshots
            assert part is not None  # snapshots given: their part is there
            findings = list(part.findings)
            gauges = client_gauges(latest, ts, thresholds.idle_seconds)
            collector.update(gauges)
            if opts.textfile:
                write_textfile(registry, opts.textfile)
            when = pd.Timestamp(ts, unit="s", tz="UTC").isoformat(timespec="seconds")
            lines = alerts.update(findings, when)
            result.alerts += sum(line.startswith("ALERT") for line in lines)
            text = part.plan_text
            recent.extend(lines)
            if opts.screen and out.isatty():
                view = render_view(target.display(), part, gauges, maxclients=maxclients, alerts=list(recent))
                out.write("\x1b[H\x1b[2J" + view)
            elif opts.screen:
                view = render_view(target.display(), part, gauges, maxclients=maxclients)
                out.write(view + "".join(line + "\n" for line in lines) + "\n")
            else:
                out.write("".join(line + "\n" for line in lines))
                if text and text != shown_plan:
                    out.write("CLIENT KILL plan, to review (nothing is sent):\n" + text)
            shown_plan = text
            out.flush()
            if opts.count is not None and result.snapshots >= opts.count:
                continue
            wait = start + result.snapshots * opts.every - time.monotonic()
            if opts.duration is not None:
                wait = min(wait, start + opts.duration - time.monotonic())
            if stop.wait(max(0.0, wait)):
                result.reason = "signal" if signals else "stopped"
                result.detail = f"{signals[0]} received" if signals else ""
                break
    finally:
        restore()
        result.seconds = time.monotonic() - start
        result.active = sorted(alerts.active)
        for f in (log, csv):
            if f is not None:
                f.close()
        if http is not None:
            http.shutdown()
            http.server_close()
        try:
            client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass
    return result

