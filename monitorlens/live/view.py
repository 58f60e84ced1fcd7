"""The one-screen text view of ``watch``: one CLIENT LIST snapshot at a glance."""

from __future__ import annotations

import pandas as pd

from ..analysis.clientlist import UNNAMED
from ..analysis.findings import Finding
from .gauges import ClientGauges

__all__ = ["render_view"]

ROWS = 5  # clients listed per part


def _who(r: pd.Series) -> str:
    name = r.get("name")
    name = name if isinstance(name, str) and name else UNNAMED
    return f"id={r.get('id')} {r.get('addr')} {name}"


def _mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def _part(title: str, rows: pd.DataFrame, detail) -> list[str]:  # type: ignore[no-untyped-def]
    if rows.empty:
        return []
    more = f" (+{len(rows) - ROWS} more)" if len(rows) > ROWS else ""
    return [f"{title}{more}:"] + [f"  {_who(r)}  {detail(r)}" for _, r in rows.head(ROWS).iterrows()]


def render_view(server: str, snapshot: pd.DataFrame, g: ClientGauges, findings: list[Finding], plan: str,
                *, maxclients: int | None = None, alerts: list[str] | None = None) -> str:  # fmt: skip
    """The view as text: totals, clients by type and name, the most idle, blocked clients,
    the largest output buffers, MONITORs, active findings, the CLIENT KILL plan and, for a
    terminal that redraws it, the last ``alerts`` lines."""
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
    if not snapshot.empty:
        normal = snapshot[(snapshot["client_type"] == "normal") & ~snapshot["flag_blocked"].fillna(False).astype(bool)]
        lines += _part("most idle", normal.sort_values("idle", ascending=False),
                       lambda r: f"idle {r['idle']} s, last {r.get('cmd')}")
        blocked = snapshot[snapshot["flag_blocked"].fillna(False).astype(bool)].sort_values("idle", ascending=False)
        lines += _part("blocked", blocked, lambda r: f"on {r.get('cmd')} for {r['idle']} s")
        buffers = snapshot[snapshot["omem"].fillna(0) > 0].sort_values("omem", ascending=False)
        lines += _part("output buffers", buffers, lambda r: f"omem {_mib(r['omem'])}, {r.get('oll')} blocks")
        monitors = snapshot[snapshot["client_type"] == "monitor"].sort_values("age", ascending=False)
        lines += _part("MONITOR", monitors, lambda r: f"running {r['age']} s")  # fmt: skip
    if findings:
        lines.append("findings:")
        lines += [f"  [{f.severity}] {f.code}: {f.title}" for f in findings]
    if plan:
        lines.append("CLIENT KILL plan, to review (nothing is sent):")
        lines += ["  " + line for line in plan.splitlines()]
    if alerts:
        lines.append("recent alerts:")
        lines += ["  " + line for line in alerts]
    return "\n".join(lines) + "\n"
