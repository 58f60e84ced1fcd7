"""The report's client sections, from the CLIENT LIST part of an analysis.

:func:`clientlist_part` lays out what :mod:`monitorlens.analysis.clientlist_analysis` found: connected clients over
time by name, leak trends, idle/blocked/MONITOR clients, output buffers and the remediation
plan, plus the client findings and the files' provenance. It computes nothing the clients
module already does; it picks rows and columns and adds the charts of
:mod:`monitorlens.render.plots` (drawn by the builder).

Example::

    >>> part = clientlist_part(analyze(events, snapshots=read_client_list("clients.log.gz")).clientlist)  # doctest: +SKIP
    >>> [s.id for s in part.sections]  # doctest: +SKIP
    ['connections', 'idle-blocked-monitor', 'output-buffers', 'remediation']
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..._human import time_text
from ...analysis.clientlist import ClientThresholds
from ...analysis.clientlist_analysis import ClientlistAnalysis, SnapshotsPart
from ...analysis.findings import Finding
from ...read.schema import Provenance
from .model import ChartMaker, Column, Section, SourceInfo, Table, table_of

__all__ = ["ClientlistPart", "clientlist_part"]


@dataclass(frozen=True)
class ClientlistPart:
    """The client sections of a report, the findings behind them, and the files read."""

    sections: tuple[Section, ...]
    findings: tuple[Finding, ...]
    sources: tuple[SourceInfo, ...]


def _source(prov: Provenance) -> SourceInfo:
    return SourceInfo.of(prov)


def _columns(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(key, label, kind) for key, label, kind in spec)


TREND_COLUMNS = (("name", "Name", "code"), ("first_clients", "First", "int"), ("last_clients", "Last", "int"),
                 ("max_clients", "Max", "int"), ("slope_per_min", "Growth (connections/min, Theil–Sen)", "float"),
                 ("steadiness", "Steps up or flat", "pct"), ("minutes_to_maxclients", "Time to maxclients", "minutes"),
                 ("leaking", "Leaking", "yesno"), ("surging", "Surging", "yesno"))
CLIENTLIST_COLUMNS = (("id", "Id", "int"), ("addr", "Address", "code"), ("name", "Name", "code"),
                  ("user", "User", "code"), ("client_type", "Type", "text"), ("flags", "Flags", "code"),
                  ("age", "Age (s)", "int"), ("idle", "Idle (s)", "int"), ("cmd", "Last command", "code"),
                  ("last_seen", "Last seen", "time"))
BUFFER_COLUMNS = (("id", "Id", "int"), ("addr", "Address", "code"), ("name", "Name", "code"),
                  ("flags", "Flags", "code"), ("omem", "Output buffer", "bytes"), ("oll", "Reply list", "int"),
                  ("qbuf", "Query buffer", "bytes"), ("tot_mem", "Total memory", "bytes"),
                  ("cmd", "Last command", "code"), ("last_seen", "Last seen", "time"))
PLAN_TABLE_COLUMNS = (("command", "Command", "code"), ("addr", "Address", "code"), ("name", "Name", "code"),
                ("reason", "Why", "text"), ("finding", "Finding", "code"), ("last_seen", "Last seen", "time"))


def _table(title: str, frame: pd.DataFrame, spec: tuple[tuple[str, str, str], ...], top: int | None,
           note: str = "") -> Table:
    return table_of(title, frame, _columns(*spec), top, note)




def clientlist_part(part: ClientlistAnalysis, *, top: int = 10, charts: ChartMaker = lambda kind: ()) -> ClientlistPart:
    """The client sections of the CLIENT LIST part of an analysis (:attr:`Analysis.clientlist`).

    ``charts(kind)`` draws a chart of :data:`monitorlens.render.plots.CLIENTLIST_CHARTS` (or nothing).

    >>> clientlist_part(analyze(events, snapshots=snapshots).clientlist, top=5).sections[0].id  # doctest: +SKIP
    'connections'
    """
    sections: list[Section] = []
    if part.snapshots is not None:
        sections += _snapshot_sections(part.snapshots, top, charts, part.thresholds)
    if part.connections is not None:
        c = part.connections
        sections.append(Section(
            "connection-counts", "Connection counts over time",
            f"{c.rows:,} counts from {c.provenance.source}; the counting redis-cli's own "
            "connection is included.",
            (), (_table("Trend of all connections", c.trend, TREND_COLUMNS, top),),
        ))
    return ClientlistPart(tuple(sections), part.findings, tuple(_source(p) for p in part.sources))


def _snapshot_sections(s: SnapshotsPart, top: int, charts: ChartMaker, thresholds: ClientThresholds) -> list[Section]:
    span = s.provenance
    types = ", ".join(f"{n:,} {t}" for t, n in s.client_types.items()) or "none"
    return [
        Section(
            "connections", "Connected clients over time",
            f"{s.count:,} CLIENT LIST snapshots from {time_text(str(span.first_ts))} to "
            f"{time_text(str(span.last_ts))} UTC; "
            f"{s.connected:,} clients in the last ({types}). Growth is the Theil–Sen slope of each name's count; "
            f"a leak grows at least {thresholds.leak_slope_per_min} client/min, steadily.",
            (*charts("connections"), *charts("growth")),
            (_table("Connections by name, with their trend", s.trends, TREND_COLUMNS, top),),
        ),
        Section(
            "idle-blocked-monitor", "Idle, blocked and MONITOR clients",
            f"Clients flagged O (MONITOR) or b (blocked), or idle {thresholds.idle_seconds:,.0f} s or more, "
            "as last listed; then every client of the last snapshot, longest idle first.",
            charts("idle-age"),
            (_table("MONITOR, blocked and long-idle clients", s.watch, CLIENTLIST_COLUMNS, top),
             _table("Longest idle clients (last snapshot)", s.idle, CLIENTLIST_COLUMNS, top)),
        ),
        Section(
            "output-buffers", "Output and query buffers",
            f"Clients with an output (omem) or query (qbuf) buffer, as last listed, largest first. Warning at "
            f"{thresholds.omem_warning_bytes:,} bytes of omem, critical at {thresholds.omem_critical_bytes:,}.",
            charts("output-buffers"),
            (_table("Buffers", s.buffers, BUFFER_COLUMNS, top),),
        ),
        Section(
            "remediation", "Remediation plan",
            "CLIENT KILL lines for the clients the findings name (never a master or replica link). "
            "monitorlens never runs them: review each line, then paste it into redis-cli.",
            (), (_table("Plan", s.plan, PLAN_TABLE_COLUMNS, None),),
            code=s.plan_text,
        ),
    ]
