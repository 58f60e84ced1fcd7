"""The report's client sections, from CLIENT LIST snapshots and connection-count logs.

:func:`client_part` lays out what :mod:`monitorlens.analysis.clientlist` found: connected clients over
time by name, leak trends, idle/blocked/MONITOR clients, output buffers and the remediation
plan, plus the client findings and the files' provenance. It computes nothing the clients
module already does; it picks rows and columns and adds the charts of
:mod:`monitorlens.render.plots`.

Example::

    >>> part = client_part(read_client_list("clients.log.gz"), None)  # doctest: +SKIP
    >>> [s.id for s in part.sections]  # doctest: +SKIP
    ['connections', 'idle-blocked-monitor', 'output-buffers', 'remediation']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ..analysis.clientlist import (
    DEFAULTS,
    ClientThresholds,
    client_findings,
    connection_count_findings,
    connection_trends,
    count_trend,
    last_rows,
    plan_text,
    remediation_plan,
)
from ..read.schema import provenance

if TYPE_CHECKING:
    from ..analysis.findings import Finding
    from .report import Chart, Column, Section, SourceInfo, Table

__all__ = ["ClientPart", "client_part"]


@dataclass(frozen=True)
class ClientPart:
    """The client sections of a report, the findings behind them, and the files read."""

    sections: tuple[Section, ...]
    findings: tuple[Finding, ...]
    sources: tuple[SourceInfo, ...]


def _source(frame: pd.DataFrame) -> SourceInfo:
    from .report import SourceInfo

    return SourceInfo.of(provenance(frame))


def _columns(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    from .report import Column

    return tuple(Column(key, label, kind) for key, label, kind in spec)


TREND_COLUMNS = (("name", "Name", "code"), ("first_clients", "First", "int"), ("last_clients", "Last", "int"),
                 ("max_clients", "Max", "int"), ("slope_per_min", "Clients/min (Theil–Sen)", "float"),
                 ("steadiness", "Steps not down", "pct"), ("minutes_to_maxclients", "Min to maxclients", "float"),
                 ("leaking", "Leaking", "text"))
CLIENT_COLUMNS = (("id", "Id", "int"), ("addr", "Address", "code"), ("name", "Name", "code"),
                  ("user", "User", "code"), ("client_type", "Type", "text"), ("flags", "Flags", "code"),
                  ("age", "Age (s)", "int"), ("idle", "Idle (s)", "int"), ("cmd", "Last command", "code"),
                  ("last_seen", "Last seen", "time"))
BUFFER_COLUMNS = (("id", "Id", "int"), ("addr", "Address", "code"), ("name", "Name", "code"),
                  ("flags", "Flags", "code"), ("omem", "Output buffer", "bytes"), ("oll", "Reply list", "int"),
                  ("qbuf", "Query buffer", "bytes"), ("tot_mem", "Total memory", "bytes"),
                  ("cmd", "Last command", "code"), ("last_seen", "Last seen", "time"))
PLAN_COLUMNS = (("command", "Command", "code"), ("addr", "Address", "code"), ("name", "Name", "code"),
                ("reason", "Why", "text"), ("finding", "Finding", "code"), ("last_seen", "Last seen", "time"))


def _table(title: str, frame: pd.DataFrame, spec: tuple[tuple[str, str, str], ...], top: int | None,
           note: str = "") -> Table:
    from .report import table_of

    return table_of(title, frame, _columns(*spec), top, note)


ChartMaker = Callable[[str], "tuple[Chart, ...]"]


def client_part(
    snapshots: pd.DataFrame | None,
    connections: pd.DataFrame | None,
    *,
    top: int = 10,
    charts: ChartMaker = lambda kind: (),
    thresholds: ClientThresholds = DEFAULTS,
    maxclients: int | None = None,
) -> ClientPart:
    """The client sections for CLIENT LIST ``snapshots`` and/or a ``connections`` count log.

    ``charts(kind)`` draws a chart of :data:`monitorlens.render.plots.CLIENT_CHARTS` (or nothing).

    >>> client_part(read_client_list("clients.log.gz"), None, top=5).findings[0].code  # doctest: +SKIP
    'connection-leak'
    """
    from .report import Section

    sections: list[Section] = []
    findings: list[Finding] = []
    sources: list[SourceInfo] = []
    if snapshots is not None:
        sources.append(_source(snapshots))
        found = client_findings(snapshots, thresholds, maxclients=maxclients)
        findings += found
        sections += _snapshot_sections(snapshots, found, top, charts, thresholds, maxclients)
    if connections is not None:
        sources.append(_source(connections))
        findings += connection_count_findings(connections, thresholds, maxclients=maxclients)
        trend = count_trend(connections, thresholds=thresholds, maxclients=maxclients).rename(columns={"group": "name"})
        sections.append(Section(
            "connection-counts", "Connection counts over time",
            f"{len(connections):,} counts from {provenance(connections).source}; the counting redis-cli's own "
            "connection is included.",
            (), (_table("Trend of all connections", trend, TREND_COLUMNS, top),),
        ))
    return ClientPart(tuple(sections), tuple(findings), tuple(sources))


def _snapshot_sections(
    snapshots: pd.DataFrame, found: list[Finding], top: int, charts: ChartMaker,
    thresholds: ClientThresholds, maxclients: int | None,
) -> list[Section]:
    from .report import Section, time_text

    latest = last_rows(snapshots)
    now = latest[latest["connected"]]
    span = provenance(snapshots)
    trends = connection_trends(snapshots, "name", thresholds=thresholds, maxclients=maxclients)
    trends["name"] = trends["name"].replace("", "(unnamed)")
    watch = latest[latest["flag_monitor"].fillna(False) | latest["flag_blocked"].fillna(False)
                   | (latest["idle"].fillna(0) >= thresholds.idle_seconds)]
    idle = now.sort_values(["idle", "id"], ascending=[False, True], kind="stable")
    buffers = latest[(latest["omem"].fillna(0) > 0) | (latest["qbuf"].fillna(0) > 0)]
    buffers = buffers.sort_values(["omem", "qbuf", "id"], ascending=[False, False, True], kind="stable")
    plan = remediation_plan(snapshots, found)
    by_type = now["client_type"].value_counts().sort_index()
    types = ", ".join(f"{n:,} {t}" for t, n in by_type.items()) or "none"
    return [
        Section(
            "connections", "Connected clients over time",
            f"{snapshots['snapshot'].nunique():,} CLIENT LIST snapshots from {time_text(str(span.first_ts))} to "
            f"{time_text(str(span.last_ts))} UTC; "
            f"{len(now):,} clients in the last ({types}). Growth is the Theil–Sen slope of each name's count; "
            f"a leak grows at least {thresholds.leak_slope_per_min} client/min, steadily.",
            (*charts("connections"), *charts("growth")),
            (_table("Connections by name, with their trend", trends, TREND_COLUMNS, top),),
        ),
        Section(
            "idle-blocked-monitor", "Idle, blocked and MONITOR clients",
            f"Clients flagged O (MONITOR) or b (blocked), or idle {thresholds.idle_seconds:,.0f} s or more, "
            "as last listed; then every client of the last snapshot, longest idle first.",
            charts("idle-age"),
            (_table("MONITOR, blocked and long-idle clients", watch, CLIENT_COLUMNS, top),
             _table("Longest idle clients (last snapshot)", idle, CLIENT_COLUMNS, top)),
        ),
        Section(
            "output-buffers", "Output and query buffers",
            f"Clients with an output (omem) or query (qbuf) buffer, as last listed, largest first. Warning at "
            f"{thresholds.omem_warning_bytes:,} bytes of omem, critical at {thresholds.omem_critical_bytes:,}.",
            charts("output-buffers"),
            (_table("Buffers", buffers, BUFFER_COLUMNS, top),),
        ),
        Section(
            "remediation", "Remediation plan",
            "CLIENT KILL lines for the clients the findings name (never a master or replica link). "
            "monitorlens never runs them: review each line, then paste it into redis-cli.",
            (), (_table("Plan", plan, PLAN_COLUMNS, None),),
            code=plan_text(plan) if len(plan) else "",
        ),
    ]
