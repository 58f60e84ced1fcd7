"""Collecting from a live server: ``capture`` (a bounded MONITOR bundle) and ``watch``
(CLIENT LIST every N seconds, alerts, Prometheus gauges). Read-only except for MONITOR itself.

    from monitorlens.live import Target, capture, CaptureLimits
    capture(Target(port=6379), "incident/", CaptureLimits(duration=30))

Needs redis-py (extra ``live``); ``prometheus_client`` for ``watch --prometheus``.
"""

from __future__ import annotations

from .capture import CaptureLimits, CaptureResult, capture
from .connection import Target
from .snapshots import SnapshotLog, capture_monitor, client_list_bytes, sample_clients

__all__ = [
    "CaptureLimits",
    "CaptureResult",
    "SnapshotLog",
    "Target",
    "capture",
    "capture_monitor",
    "client_list_bytes",
    "sample_clients",
]
