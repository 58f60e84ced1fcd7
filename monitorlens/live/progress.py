"""A one-line progress display on a terminal (stderr), and nothing when it is not one."""

from __future__ import annotations

from typing import IO, Any, Callable

__all__ = ["capture_progress"]


def capture_progress(stream: IO[str]) -> Callable[[dict[str, Any]], None] | None:
    """A ``progress`` callback for :func:`~monitorlens.live.capture.capture` writing to
    ``stream`` when it is a terminal, else None (logs and pipes stay clean)."""
    if not stream.isatty():
        return None

    def show(s: dict[str, Any]) -> None:
        ops = f"{s['ops_per_sec']:,.0f}/s" if s.get("ops_per_sec") is not None else "-"
        base = f" (baseline {s['baseline']:,.0f}/s)" if s.get("baseline") is not None else ""
        omem = f", MONITOR buffer {s['omem'] / 1024:,.0f} KiB" if s.get("omem") is not None else ""
        stream.write(f"\r{s['seconds']:6.1f} s  {s['lines']:,} lines  {s['bytes'] / (1 << 20):,.1f} MiB  "
                     f"{s['snapshots']} snapshots  server {ops}{base}{omem}\x1b[K")  # fmt: skip
        stream.flush()

    return show
