"""What ``capture`` says on its progress line (:class:`monitorlens.progress.Progress` writes it)."""

from __future__ import annotations

from typing import Any

__all__ = ["capture_status"]


def capture_status(s: dict[str, Any]) -> str:
    """The counters :func:`~monitorlens.live.capture.capture` reports about once a second, as one line.

    >>> capture_status({"seconds": 2.0, "lines": 12345, "bytes": 3 << 20, "snapshots": 1, "ops_per_sec": 900.0})
    '   2.0 s  12,345 lines  3.0 MiB  1 snapshots  server 900/s'
    """
    ops = f"{s['ops_per_sec']:,.0f}/s" if s.get("ops_per_sec") is not None else "-"
    base = f" (baseline {s['baseline']:,.0f}/s)" if s.get("baseline") is not None else ""
    omem = f", MONITOR buffer {s['omem'] / 1024:,.0f} KiB" if s.get("omem") is not None else ""
    return (f"{s['seconds']:6.1f} s  {s['lines']:,} lines  {s['bytes'] / (1 << 20):,.1f} MiB  "
            f"{s['snapshots']} snapshots  server {ops}{base}{omem}")  # fmt: skip
