"""Gauges of one CLIENT LIST snapshot, served to Prometheus or written for node_exporter.

The gauges (each with a ``server`` label naming the watched server, password left out):

=============================================  =======================================
``monitorlens_clients{type}``                  clients by type (normal, pubsub, replica, master, monitor)
``monitorlens_clients_by_name{name}``          clients by CLIENT SETNAME name (``(unnamed)``)
``monitorlens_blocked_clients``                clients in a blocking command (flag b)
``monitorlens_idle_clients``                   normal clients idle at least the idle threshold
``monitorlens_idle_threshold_seconds``         that threshold
``monitorlens_max_output_buffer_bytes``        the largest ``omem`` of a client
``monitorlens_monitor_clients``                MONITOR clients (flag O)
``monitorlens_snapshot_timestamp_seconds``     when the snapshot was taken
=============================================  =======================================
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

import pandas as pd

from ..analysis.clientlist import UNNAMED
from ..errors import InputError
from ..read.clientlist import CLIENT_TYPES

__all__ = ["ClientGauges", "client_gauges", "GaugeCollector", "serve", "write_textfile"]


@dataclass(frozen=True)
class ClientGauges:
    """The numbers of one snapshot.

    >>> ClientGauges(ts=0.0, by_type={"normal": 2}).total
    2
    """

    ts: float
    by_type: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)
    blocked: int = 0
    idle: int = 0
    idle_threshold: float = 3600.0
    max_omem: int = 0
    monitors: int = 0

    @property
    def total(self) -> int:
        """Every client listed (the watcher's own connection included)."""
        return sum(self.by_type.values())


def client_gauges(snapshot: pd.DataFrame, ts: float, idle_seconds: float) -> ClientGauges:
    """The gauges of one snapshot's rows (``read_client_list`` columns)."""
    if snapshot.empty:
        return ClientGauges(ts=ts, by_type=dict.fromkeys(CLIENT_TYPES, 0), idle_threshold=idle_seconds)
    types = snapshot["client_type"].fillna("normal")
    blocked = snapshot["flag_blocked"].fillna(False).astype(bool)
    idle = (types == "normal") & ~blocked & (snapshot["idle"].fillna(0) >= idle_seconds)
    names = snapshot["name"].fillna("").replace("", UNNAMED)
    return ClientGauges(
        ts=ts,
        by_type={t: int((types == t).sum()) for t in CLIENT_TYPES},
        by_name={str(k): int(v) for k, v in names.value_counts().sort_index().items()},
        blocked=int(blocked.sum()),
        idle=int(idle.sum()),
        idle_threshold=idle_seconds,
        max_omem=int(snapshot["omem"].fillna(0).max()),
        monitors=int((types == "monitor").sum()),
    )


class GaugeCollector:
    """A ``prometheus_client`` collector serving the latest :class:`ClientGauges`."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.gauges: ClientGauges | None = None
        self.lock = threading.Lock()

    def update(self, gauges: ClientGauges) -> None:
        with self.lock:
            self.gauges = gauges

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        with self.lock:
            g = self.gauges
        if g is None:
            return
        s = self.server

        def one(name: str, doc: str, value: float) -> Any:
            m = GaugeMetricFamily(f"monitorlens_{name}", doc, labels=["server"])
            m.add_metric([s], value)
            return m

        by_type = GaugeMetricFamily("monitorlens_clients", "Connected clients by type (CLIENT LIST).",
                                    labels=["server", "type"])  # fmt: skip
        for t, n in g.by_type.items():
            by_type.add_metric([s, t], n)
        yield by_type
        by_name = GaugeMetricFamily("monitorlens_clients_by_name", "Connected clients by CLIENT SETNAME name.",
                                    labels=["server", "name"])  # fmt: skip
        for name, n in g.by_name.items():
            by_name.add_metric([s, name], n)
        yield by_name
        yield one("blocked_clients", "Clients in a blocking command (flag b).", g.blocked)
        yield one("idle_clients", "Normal clients idle at least monitorlens_idle_threshold_seconds.", g.idle)
        yield one("idle_threshold_seconds", "The idle threshold of monitorlens_idle_clients.", g.idle_threshold)
        yield one("max_output_buffer_bytes", "The largest output buffer (omem) of a client.", g.max_omem)
        yield one("monitor_clients", "MONITOR clients (flag O).", g.monitors)
        yield one("snapshot_timestamp_seconds", "When the CLIENT LIST snapshot was taken.", g.ts)


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise InputError("--prometheus and --textfile need prometheus_client: pip install 'monitorlens[live]'") from None
    return prometheus_client


def registry_of(collector: GaugeCollector) -> Any:
    """A fresh registry holding only ``collector`` (no process or platform metrics)."""
    registry = _prometheus().CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def serve(registry: Any, port: int, host: str = "127.0.0.1") -> Any:
    """Serve ``registry`` over HTTP at ``host:port``; returns the server (``.shutdown()`` it)."""
    try:
        server, _thread = _prometheus().start_http_server(port, addr=host, registry=registry)
    except OSError as e:
        raise InputError(f"cannot serve the gauges on {host}:{port} ({e.strerror or e})") from None
    return server


def write_textfile(registry: Any, path: str | os.PathLike[str]) -> None:
    """Write the gauges for node_exporter's textfile collector (a temporary file renamed over ``path``)."""
    _prometheus().write_to_textfile(str(path), registry)
