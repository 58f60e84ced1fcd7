"""The CLIENT LIST part of an analysis: :func:`analyze_clientlist` -> :class:`ClientlistAnalysis`.

Everything the views show about CLIENT LIST snapshots and connection-count logs is
computed here once: counts by name and their trends, the clients to watch (MONITOR,
blocked, long idle), buffers, the findings and the remediation plan.
:func:`monitorlens.analysis.analyze.analyze` calls it when given ``snapshots`` or
``connections``; ``summary``, ``report`` and the notebooks only read the result.

Example::

    >>> part = analyze_clientlist(read_client_list("clients.log.gz"))  # doctest: +SKIP
    >>> [f.code for f in part.findings]  # doctest: +SKIP
    ['connection-leak', 'monitor-clients', ...]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from ..read.schema import Provenance, provenance
from .clientlist import (
    DEFAULTS,
    ClientThresholds,
    client_counts,
    client_findings,
    connection_count_findings,
    count_trend,
    growth_trends,
    last_rows,
    plan_text,
    remediation_plan,
)
from .findings import Finding, sort_findings
from .records import records

__all__ = ["ClientlistAnalysis", "SnapshotsPart", "ConnectionsPart", "analyze_clientlist", "with_clientlist"]


@dataclass(frozen=True, eq=False)
class SnapshotsPart:
    """What CLIENT LIST snapshots say; the DataFrames are whole (views take the top rows).

    ``trends``: connections by name with their growth (:func:`~monitorlens.analysis.clientlist.connection_trends`,
    unnamed clients as ``(unnamed)``); ``watch``: MONITOR, blocked and long-idle clients as
    last listed; ``idle``: the last snapshot's connected clients, longest idle first;
    ``buffers``: clients with an output or query buffer, largest first; ``plan``: the
    CLIENT KILL lines the findings propose, ``plan_text`` the same to paste.
    ``snapshots`` is the input table itself. For the charts: ``counts``, connected clients
    per snapshot by each of :data:`CHART_GROUPS` (:func:`~monitorlens.analysis.clientlist.client_counts`);
    ``growth``, their trends as ``trends`` but with unnamed clients as ""; ``peaks``, each
    client's row at its largest output buffer, largest first.
    """

    provenance: Provenance
    snapshots: pd.DataFrame
    count: int
    connected: int
    client_types: dict[str, int]
    trends: pd.DataFrame
    watch: pd.DataFrame
    idle: pd.DataFrame
    buffers: pd.DataFrame
    plan: pd.DataFrame
    plan_text: str
    findings: tuple[Finding, ...]
    counts: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    growth: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    peaks: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class ConnectionsPart:
    """What a ``<time>,<clients>`` log says: its one-row trend and the leak finding;
    ``log`` is the input table itself (the chart draws from it)."""

    provenance: Provenance
    rows: int
    trend: pd.DataFrame
    findings: tuple[Finding, ...]
    log: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class ClientlistAnalysis:
    """The CLIENT LIST part of an :class:`~monitorlens.analysis.analyze.Analysis`.

    ``findings`` are those of both inputs, most severe first.
    """

    snapshots: SnapshotsPart | None
    connections: ConnectionsPart | None
    thresholds: ClientThresholds = DEFAULTS
    maxclients: int | None = None
    findings: tuple[Finding, ...] = field(default=())

    @property
    def sources(self) -> tuple[Provenance, ...]:
        """The provenance of each file read, snapshots first."""
        return tuple(p.provenance for p in (self.snapshots, self.connections) if p is not None)

    def to_dict(self, top: int) -> dict[str, Any]:
        """The ``clientlist`` object of ``summary --json``."""
        out: dict[str, Any] = {"maxclients": self.maxclients}
        if self.snapshots is not None:
            s = self.snapshots
            out["snapshots"] = {
                "source": s.provenance.source, "count": s.count, "first": s.provenance.first_ts,
                "last": s.provenance.last_ts, "connected": s.connected, "client_types": dict(s.client_types),
                "trends": records(s.trends, {c: c for c in TREND_FIELDS}, top),
                "kill_plan": s.plan_text,
            }
        if self.connections is not None:
            c = self.connections
            out["connections"] = {"source": c.provenance.source, "rows": c.rows,
                                  "trend": records(c.trend, {k: k for k in TREND_FIELDS}, None)}
        return out


CHART_GROUPS = ("name", "client_type", "host")
"""The columns the charts count connected clients by; the growth charts use name and host."""

TREND_FIELDS = ("name", "first_clients", "last_clients", "max_clients", "slope_per_min", "steadiness",
                "minutes_to_maxclients", "leaking", "surging", "surge_slope_per_min")


def _snapshots_part(snapshots: pd.DataFrame, t: ClientThresholds, maxclients: int | None,
                    connections: pd.DataFrame | None) -> SnapshotsPart:  # fmt: skip
    # The count log is one more, wider view of the growth the snapshots pin on a name.
    found = tuple(client_findings(snapshots, thresholds=t, maxclients=maxclients, connections=connections))
    latest = last_rows(snapshots)
    now = latest[latest["connected"]]
    counts = {by: client_counts(snapshots, by) for by in CHART_GROUPS}
    growth = {by: growth_trends(counts[by], by, thresholds=t, maxclients=maxclients) for by in ("name", "host")}
    trends = growth["name"].copy()
    trends["name"] = trends["name"].replace("", "(unnamed)")
    watch = latest[latest["flag_monitor"].fillna(False) | latest["flag_blocked"].fillna(False)
                   | (latest["idle"].fillna(0) >= t.idle_seconds)]
    idle = now.sort_values(["idle", "id"], ascending=[False, True], kind="stable")
    buffers = latest[(latest["omem"].fillna(0) > 0) | (latest["qbuf"].fillna(0) > 0)]
    buffers = buffers.sort_values(["omem", "qbuf", "id"], ascending=[False, False, True], kind="stable")
    plan = remediation_plan(snapshots, found)
    by_type = now["client_type"].value_counts().sort_index()
    return SnapshotsPart(
        provenance=provenance(snapshots), snapshots=snapshots, count=int(snapshots["snapshot"].nunique()),
        connected=len(now), client_types={str(k): int(v) for k, v in by_type.items()}, trends=trends,
        watch=watch, idle=idle, buffers=buffers, plan=plan, plan_text=plan_text(plan) if len(plan) else "",
        findings=found, counts=counts, growth=growth, peaks=_peaks(snapshots),
    )


def _peaks(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Each client's row at its largest output buffer (omem above 0), largest first."""
    rows = snapshots.dropna(subset=["omem"])
    rows = rows[rows["omem"] > 0]
    if rows.empty:
        return rows
    peak = rows.loc[rows.groupby("id" if rows["id"].notna().all() else "addr")["omem"].idxmax()]
    return peak.sort_values("omem", ascending=False, kind="stable")


def _connections_part(connections: pd.DataFrame, t: ClientThresholds, maxclients: int | None,
                      alone: bool) -> ConnectionsPart:  # fmt: skip
    trend = count_trend(connections, thresholds=t, maxclients=maxclients).rename(columns={"group": "name"})
    # With snapshots, the log's view is in their findings' evidence (one problem, one finding).
    found = tuple(connection_count_findings(connections, thresholds=t, maxclients=maxclients)) if alone else ()
    return ConnectionsPart(provenance(connections), len(connections), trend, found, connections)


def analyze_clientlist(
    snapshots: pd.DataFrame | None = None,
    connections: pd.DataFrame | None = None,
    *,
    thresholds: ClientThresholds = DEFAULTS,
    maxclients: int | None = None,
) -> ClientlistAnalysis:
    """Analyse CLIENT LIST ``snapshots`` and/or a ``connections`` count log.

    >>> analyze_clientlist(read_client_list("clients.log.gz")).findings[0].code  # doctest: +SKIP
    'connection-leak'
    """
    snap = _snapshots_part(snapshots, thresholds, maxclients, connections) if snapshots is not None else None
    conn = (_connections_part(connections, thresholds, maxclients, alone=snapshots is None)
            if connections is not None else None)
    found = [f for part in (snap, conn) if part is not None for f in part.findings]
    return ClientlistAnalysis(snap, conn, thresholds, maxclients, tuple(sort_findings(found)))


def with_clientlist(monitor: list[Finding], clientlist: tuple[Finding, ...]) -> list[Finding]:
    """The findings of both inputs, one problem one finding, most severe first.

    Clients without a name are one problem seen twice: the capture's ``unnamed-clients``
    (the unnamed addresses that sent commands, with their events) is the more specific and
    stays; CLIENT LIST's ``unnamed-connections`` (every unnamed connection listed) goes into
    its evidence: a sentence and the metrics ``listed_unnamed_clients`` and
    ``listed_unnamed_hosts``.
    """
    seen = next((f for f in monitor if f.code == "unnamed-clients"), None)
    listed = next((f for f in clientlist if f.code == "unnamed-connections"), None)
    if seen is None or listed is None:
        return sort_findings([*monitor, *clientlist])
    n, hosts = int(listed.evidence.metrics["clients"]), int(listed.evidence.metrics["hosts"])
    note = (f" The last CLIENT LIST snapshot lists {n:,} unnamed connection{'s' * (n != 1)} "
            f"from {hosts:,} host{'s' * (hosts != 1)}.")
    metrics = {**seen.evidence.metrics, "listed_unnamed_clients": n, "listed_unnamed_hosts": hosts}
    merged = replace(seen, explanation=seen.explanation + note, evidence=replace(seen.evidence, metrics=metrics))
    return sort_findings([*(merged if f is seen else f for f in monitor), *(f for f in clientlist if f is not listed)])
