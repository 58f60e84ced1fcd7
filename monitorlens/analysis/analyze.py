"""One call from events to every answer of a post-mortem: :func:`analyze` -> :class:`Analysis`.

The :class:`Analysis` holds the provenance, an overview, the breakdown
DataFrames, the timeline, the gaps and the findings. Renderers (``summary``,
``report``) read it and compute nothing themselves; :meth:`Analysis.to_dict`
is the ``summary --json`` object (see ``docs/summary-json.md``).

Example::

    >>> a = analyze(load("sample_captures/incident/monitor.txt.gz"))  # doctest: +SKIP
    >>> a.overview.events, [f.code for f in a.findings][:2]  # doctest: +SKIP
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import pandas as pd

from . import breakdowns as bd
from .breakdowns import ClientNames
from .filters import Filters
from .evidence import Context
from .applications import APPLICATION_COLUMNS, by_application
from .clientlist import DEFAULTS as CLIENT_DEFAULTS, ClientThresholds
from .clientlist_analysis import ClientlistAnalysis, analyze_clientlist, with_clientlist
from .reconcile import Reconciliation
from .findings import Finding
from .records import finite, records
from .rules import Thresholds, find_all
from .patterns import DEFAULT_RULES, PatternRules
from ..read.schema import Provenance
from ..read.schema import provenance as provenance_of

TIMELINE_TOP = 8  # series in the timeline before the rest is "(other)"


@dataclass(frozen=True)
class Overview:
    """What the analysed events are: counts, time range, rate.

    ``events`` are the rows analysed (after filters); ``lines``, ``rejected`` and
    ``skipped`` describe the whole source as read. ``duration_s`` is from the
    first to the last event; ``rate_per_s`` is null when it is 0. ``clients`` counts the
    sources (in :func:`analyze`, the rows of its clients table: ``lua`` lines belong to the
    client whose script ran them).
    """

    source: str
    lines: int
    events: int
    rejected: int
    skipped: int
    first: str | None
    last: str | None
    duration_s: float
    rate_per_s: float | None
    clients: int
    commands: int
    dbs: tuple[int, ...]
    filtered: bool = False
    filters: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "source": self.source, "lines": self.lines, "events": self.events,
            "rejected": self.rejected, "skipped": self.skipped, "first": self.first,
            "last": self.last, "duration_s": self.duration_s, "rate_per_s": self.rate_per_s,
            "clients": self.clients, "commands": self.commands, "dbs": list(self.dbs),
            "filtered": self.filtered, "filters": dict(self.filters),
        }


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything :func:`analyze` found; DataFrames are full tables (renderers take the top).

    Tables (see :mod:`monitorlens.analysis.breakdowns` for their columns): ``commands``
    (:func:`~monitorlens.analysis.breakdowns.by_command`), ``subcommands`` (by command +
    subcommand), ``clients`` (:func:`~monitorlens.analysis.breakdowns.by_client`, lua
    credited), ``key_patterns``, ``hot_keys`` (the ``top`` hottest), ``dbs``,
    ``timeline`` (wide, 1 s buckets, by command; wider past ``MAX_BUCKETS``),
    ``timeline_clients`` (same, by client), ``bursts``, ``gaps`` (the longest silences).
    Past the key cap of :func:`~monitorlens.analysis.stream.analyze_stream`, ``hot_keys``
    counts are estimates: ``count_error`` bounds each.

    ``applications`` (:func:`~monitorlens.analysis.applications.by_application`) groups
    the clients by name (unnamed ones by host), with CLIENT LIST counts when snapshots were
    given; ``applications.named.any()`` says whether any name is known.

    ``clientlist`` is the CLIENT LIST part (:class:`~monitorlens.analysis.clientlist_analysis.ClientlistAnalysis`)
    when snapshots or connection counts were given; ``findings`` holds the findings of
    both parts, most severe first, so every view lists the same ones. ``reconciliation``
    compares a capture bundle's MONITOR lines with the server's commandstats
    (:func:`~monitorlens.analysis.reconcile.reconcile`) when the input was a bundle.
    ``nodes`` (events per node: node, count, share, first, last) and ``slots`` (key
    references per Redis Cluster hash slot: slot, count, share) when several captures were
    analysed as one (:func:`~monitorlens.analysis.stream.analyze_stream`).
    """

    provenance: Provenance
    overview: Overview
    commands: pd.DataFrame
    subcommands: pd.DataFrame
    clients: pd.DataFrame
    key_patterns: pd.DataFrame
    hot_keys: pd.DataFrame
    dbs: pd.DataFrame
    timeline: pd.DataFrame
    timeline_clients: pd.DataFrame
    bursts: pd.DataFrame
    gaps: pd.DataFrame
    findings: tuple[Finding, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    top: int = 10
    clientlist: ClientlistAnalysis | None = None
    reconciliation: Reconciliation | None = None
    applications: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=APPLICATION_COLUMNS))
    nodes: pd.DataFrame | None = None
    slots: pd.DataFrame | None = None

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """The ``summary --json`` object (documented in ``docs/summary-json.md``)."""
        return _as_dict(self, self.top if top is None else top)


def overview(events: pd.DataFrame, prov: Provenance | None = None, filters: Filters = Filters()) -> Overview:
    """The :class:`Overview` of events (and of the source their provenance describes),
    made by ``filters``.

    >>> overview(events).rate_per_s  # doctest: +SKIP
    """
    prov = prov if prov is not None else provenance_of(events)
    seconds = bd.span_seconds(events)
    first = events["ts"].min().isoformat() if len(events) else None
    last = events["ts"].max().isoformat() if len(events) else None
    dbs = tuple(int(d) for d in sorted(events["db"].dropna().unique()))
    return Overview(
        source=prov.source, lines=prov.lines, events=len(events), rejected=prov.rejected,
        skipped=sum(prov.skipped.values()), first=first, last=last, duration_s=seconds,
        rate_per_s=len(events) / seconds if seconds > 0 else None,
        clients=int(events["client"].nunique()), commands=int(events["command"].nunique()), dbs=dbs,
        filtered=len(events) != prov.events or bool(filters), filters=filters.describe(),
    )


def analyze(
    events: pd.DataFrame,
    *,
    top: int = 10,
    thresholds: Thresholds = Thresholds(),
    pattern_rules: PatternRules = DEFAULT_RULES,
    freq: str = "1s",
    snapshots: pd.DataFrame | None = None,
    connections: pd.DataFrame | None = None,
    maxclients: int | None = None,
    client_thresholds: ClientThresholds = CLIENT_DEFAULTS,
    filters: Filters = Filters(),
    names: ClientNames | None = None,
    provenance: Provenance | None = None,
    reconciliation: Reconciliation | None = None,
) -> Analysis:
    """Analyse events (from :func:`monitorlens.load`, possibly filtered): breakdowns and findings.

    ``top`` limits the hot keys kept and is the default of :meth:`Analysis.to_dict`;
    ``freq`` is the timeline's bucket. CLIENT LIST ``snapshots``
    (:func:`~monitorlens.read.clientlist.read_client_list`; attach their names to the events
    first) and/or a ``connections`` count log add the CLIENT LIST part
    (:attr:`Analysis.clientlist`, judged with ``client_thresholds`` and ``maxclients``).
    ``reconciliation`` (of the whole capture, made before any filter) is kept as is.

    Nothing is read from ``events.attrs`` but the provenance the readers put there, and
    ``provenance`` given here wins: when the events are a filtered part of a capture, give
    the ``filters`` that made them (:class:`~monitorlens.analysis.filters.Filters`: reported,
    and a client filter turns off the dominant-client rule) and the capture's ``names``
    (:class:`~monitorlens.analysis.breakdowns.ClientNames`, taken before the filter).

    >>> a = analyze(read_monitor("sample_captures/incident/monitor.txt.gz"))  # doctest: +SKIP
    >>> a.commands.head(3)  # doctest: +SKIP
    """
    prov = provenance if provenance is not None else provenance_of(events)
    # Strategy: one worker thread does the key work, mostly Arrow kernels that release the
    # GIL: it flattens and dictionary-encodes the keys while pandas counts the breakdowns
    # here, then fingerprints them and builds the key tables while the rules run here (the
    # rules need the flattened keys, not their patterns).
    with ThreadPoolExecutor(1) as pool:
        flat = pool.submit(bd.flatten_keys, bd.keys_column(events))
        keyed = pool.submit(_key_tables, events, flat, pattern_rules, top)  # runs after flat
        counted = dict(
            overview=overview(events, prov, filters),
            commands=bd.by_command(events),
            subcommands=bd.by_command(events, subcommands=True),
            clients=bd.by_client(events, credit_lua=True, names=names),
            applications=by_application(events, snapshots, names=names),
            dbs=bd.by_db(events),
            timeline=bd.timeline(events, freq, by="command", top=TIMELINE_TOP),
            timeline_clients=bd.timeline(events, freq, by="client", top=TIMELINE_TOP),
            bursts=bd.bursts(events, freq),
            gaps=bd.gaps(events, top=top),
        )
        # The header's count is the clients table's: lua lines are their callers' (39 vs 38 before).
        counted["overview"] = replace(counted["overview"], clients=len(counted["clients"]))
        findings = find_all(events, thresholds=thresholds, context=Context.of(events, keys=flat.result(), filters=filters, names=names))
        clientlist = None
        if snapshots is not None or connections is not None:
            clientlist = analyze_clientlist(snapshots, connections, thresholds=client_thresholds,
                                            maxclients=maxclients)
            findings = with_clientlist(findings, clientlist.findings)
        key_patterns, hot_keys = keyed.result()
    return Analysis(provenance=prov, **counted, key_patterns=key_patterns, hot_keys=hot_keys,
                    findings=tuple(findings), thresholds=thresholds, top=top, clientlist=clientlist,
                    reconciliation=reconciliation)


def _key_tables(events: pd.DataFrame, flat: Future[bd.FlatKeys], rules: PatternRules, top: int
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Key patterns and hot keys, from the keys flattened once (shared with the rules)."""
    table = bd.key_table(events, rules, flat.result())
    return bd.by_key_pattern(table), bd.hot_keys(table, top=top)


# ------------------------------------------------------------------------------ JSON


CLIENT_FIELDS = {"client": "client", "name": "name", "name_source": "name_source", "client_kind": "kind",
                 "count": "events", "own_count": "own_events", "lua_count": "lua_events", "share": "share",
                 "rate_per_s": "rate_per_s", "first": "first", "last": "last", "dbs": "dbs",
                 "command_mix": "command_mix", "user": "user", "lib_name": "lib_name"}
APPLICATION_FIELDS = {c: c for c in (*APPLICATION_COLUMNS, "connections_listed", "connected_at_end")}
PATTERN_FIELDS = {"pattern": "pattern", "count": "count", "share": "share", "keys": "keys",
                  "reads": "reads", "writes": "writes", "read_share": "read_share",
                  "write_share": "write_share", "command_mix": "command_mix", "example": "example",
                  "first": "first", "last": "last"}
KEY_FIELDS = {"key": "key", "pattern": "pattern", "count": "count", "share": "share", "clients": "clients",
              "read_share": "read_share", "write_share": "write_share", "command_mix": "command_mix",
              "count_error": "count_error"}
BURST_FIELDS = {c: c for c in ("start", "end", "buckets", "events", "peak", "baseline", "ratio",
                               "top_command", "top_client")}
NODE_FIELDS = {c: c for c in ("node", "count", "share", "first", "last")}
SLOT_FIELDS = {c: c for c in ("slot", "count", "share")}
GAP_FIELDS = {c: c for c in ("gap_us", "start", "end", "line_before", "line_after", "client_before",
                             "command_before")}


def _counts(table: pd.DataFrame, key: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in zip(table[key], table["count"])} if len(table) else {}


def _as_dict(a: Analysis, top: int) -> dict[str, Any]:
    ov, prov = a.overview, a.provenance
    return {
        "monitorlens_version": prov.monitorlens_version or None,
        "source": ov.source,
        "lines": ov.lines,
        "events": ov.events,
        "rejected": ov.rejected,
        "rejects_by_reason": dict(prov.rejects_by_reason),
        "skipped": ov.skipped,
        "input_truncated": prov.input_truncated,
        "filtered": ov.filtered,
        "filters": dict(ov.filters),
        "time_range": {"first": ov.first, "last": ov.last, "duration_s": ov.duration_s},
        "rate_per_s": ov.rate_per_s,
        "commands": _counts(a.commands, "command"),
        "subcommands": _counts(a.subcommands, "command"),
        "dbs": {("null" if pd.isna(d) else str(int(d))): int(c) for d, c in zip(a.dbs["db"], a.dbs["count"])},
        "applications_total": len(a.applications),
        "applications": records(a.applications, APPLICATION_FIELDS, top),
        "clients_total": len(a.clients),
        "clients": records(a.clients, CLIENT_FIELDS, top),
        "key_patterns_total": len(a.key_patterns),
        "key_patterns": records(a.key_patterns, PATTERN_FIELDS, top),
        "hot_keys": records(a.hot_keys, KEY_FIELDS, top),
        "bursts": records(a.bursts, BURST_FIELDS, top),
        "gaps": records(a.gaps, GAP_FIELDS, top),
        "findings": [finite(f.to_dict()) for f in a.findings],
        **({"clientlist": a.clientlist.to_dict(top)} if a.clientlist is not None else {}),
        **({"reconciliation": a.reconciliation.to_dict()} if a.reconciliation is not None else {}),
        **({"nodes": records(a.nodes, NODE_FIELDS)} if a.nodes is not None else {}),
        **({"slots": records(a.slots, SLOT_FIELDS, top)} if a.slots is not None else {}),
    }
