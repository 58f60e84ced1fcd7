"""The one-screen text view of ``watch``: one CLIENT LIST snapshot at a glance."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ..analysis.clientlist import UNNAMED
from ..analysis.clientlist_analysis import SnapshotsPart
from .gauges import ClientGauges

__all__ = ["render_view"]

ROWS = 5  # clients listed per part


def _who(r: pd.Series) -> str:
    name = r.get("name")
    name = name if isinstance(name, str) and name else UNNAMED
    return f"id={r.get('id')} {r.get('addr')} {name}"


def _mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def _part(title: str, rows: pd.DataFrame, detail: Callable[[pd.Series], str]) -> list[str]:
    if rows.empty:
        return []
    more = f" (+{len(rows) - ROWS} more)" if len(rows) > ROWS else ""
    return [f"{title}{more}:"] + [f"  {_who(r)}  {detail(r)}" for _, r in rows.head(ROWS).iterrows()]


def render_view(server: str, part: SnapshotsPart, g: ClientGauges, *, maxclients: int | None = None,
                alerts: list[str] | None = None) -> str:  # fmt: skip
    """The view as text: totals, clients by type and name, the most idle, blocked clients,
    the largest output buffers, MONITORs (as listed now), the findings and the CLIENT KILL
    plan of the CLIENT LIST analysis, and for a terminal that redraws it, the last ``alerts``."""
    when = pd.Timestamp(g.ts, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC")
    of = f" of maxclients {maxclients:,}" if maxclients else ""
    types = ", ".join(f"{t} {n}" for t, n in g.by_type.items() if n)
    names = sorted(g.by_name.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{n} {c}" for n, c in names[:8]) + (f", +{len(names) - 8} names" if len(names) > 8 else "")
    lines = [
        f"monitorlens watch {server}   {when}",
        f"clients {g.total:,}{of}: {types}; blocked {g.blocked}, idle over {g.idle_threshold:g} s {g.idle}, "
        f"MONITOR {g.monitors}",
        f"by name: {shown}",
    ]
    idle, watch = part.idle, part.watch[part.watch["connected"]]
    blocked = idle["flag_blocked"].fillna(False).astype(bool)
    lines += _part("most idle", idle[(idle["client_type"] == "normal") & ~blocked],
                   lambda r: f"idle {r['idle']} s, last {r.get('cmd')}")
    lines += _part("blocked", watch[watch["flag_blocked"].fillna(False).astype(bool)].sort_values("idle", ascending=False),
                   lambda r: f"on {r.get('cmd')} for {r['idle']} s")
    lines += _part("output buffers", part.buffers[part.buffers["connected"] & (part.buffers["omem"].fillna(0) > 0)],
                   lambda r: f"omem {_mib(r['omem'])}, {r.get('oll')} blocks")
    lines += _part("MONITOR", watch[watch["client_type"] == "monitor"].sort_values("age", ascending=False),
                   lambda r: f"running {r['age']} s")  # fmt: skip
    if part.findings:
        lines.append("findings:")
        lines += [f"  [{f.severity}] {f.code}: {f.title}" for f in part.findings]
    if part.plan_text:
        lines.append("CLIENT KILL plan, to review (nothing is sent):")
        lines += ["  " + line for line in part.plan_text.splitlines()]
    if alerts:
        lines.append("recent alerts:")
        lines += ["  " + line for line in alerts]
    return "\n".join(lines) + "\n"
