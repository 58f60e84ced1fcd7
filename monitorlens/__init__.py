"""monitorlens: the post-mortem of a Redis incident.

Read MONITOR captures and CLIENT LIST logs into pandas DataFrames, store them
as Parquet, find what made the load, and write a self-contained report::

    import monitorlens as ml
    events = ml.read_monitor("capture.txt.gz")
    ml.write_parquet(events, "capture.parquet")

One verb per stage: ``read_*`` (and ``load``) reads, ``analyze`` analyses, ``find_*``
finds problems, ``plot_*``/``chart_*`` draw, ``make_*`` goes from paths to one result
(``make_report``, ``make_summary``, ``make_chart``).

Names are imported on first use (PEP 562), so ``python -m monitorlens ingest``
streams a capture to Parquet without paying for pandas. To export a name, add
it to ``_EXPORTS`` with the module that defines it (``module:attribute`` where the
module's name for it differs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # errors and findings
    "MonitorlensError": "errors",
    "InputError": "errors",
    "ParseError": "errors",
    "Finding": "analysis.findings",
    "Evidence": "analysis.findings",
    "Sample": "analysis.findings",
    # reading and storing
    "MonitorStream": "read.ingest",
    "read_monitor": "read.ingest",
    "Provenance": "read.schema",
    "provenance": "read.schema",
    "rejects": "read.schema",
    "convert": "store",
    "ingest_dataset": "store",
    "load": "store",
    "read_parquet": "store",
    "write_parquet": "store",
    # comparing two captures
    "compare": "analysis.comparison",
    "Comparison": "analysis.comparison",
    # key patterns
    "PatternRules": "analysis.patterns",
    "fingerprint": "analysis.patterns",
    "key_patterns": "analysis.patterns",
    # analysis: breakdowns, findings, filters, the summary
    "Analysis": "analysis.analyze",
    "Overview": "analysis.analyze",
    "analyze": "analysis.analyze",
    "analyze_stream": "analysis.stream",  # any size: blocks into partials, in workers or on Dask
    "aggregate": "analysis.stream",
    "Aggregate": "analysis.stream",
    "by_command": "analysis.breakdowns",
    "by_client": "analysis.breakdowns",
    "by_application": "analysis.applications",
    "by_key_pattern": "analysis.breakdowns",
    "hot_keys": "analysis.breakdowns",
    "by_db": "analysis.breakdowns",
    "timeline": "analysis.breakdowns",
    "bursts": "analysis.breakdowns",
    "gaps": "analysis.breakdowns",
    "script_callers": "analysis.breakdowns",
    "Thresholds": "analysis.rules",
    "find_all": "analysis.rules",
    "filter_events": "analysis.filters",
    "Filters": "analysis.filters",
    "ClientNames": "analysis.breakdowns",
    "render_text": "render.summary",
    # CLIENT LIST snapshots and connection counts: reading, leaks, findings, names for MONITOR
    "read_client_list": "read.clientlist",
    "read_connection_counts": "read.clientlist",
    "read_app_counts": "read.clientlist",
    "ClientThresholds": "analysis.clientlist",
    "attach_names": "analysis.clientlist",
    "client_counts": "analysis.clientlist",
    "connection_trends": "analysis.clientlist",
    "count_trend": "analysis.clientlist",
    "find_in_clientlist": "analysis.clientlist:client_findings",
    "find_in_connection_counts": "analysis.clientlist:connection_count_findings",
    "remediation_plan": "analysis.clientlist",
    "plan_text": "analysis.clientlist",
    # a capture bundle: its files, and MONITOR against what the server ran
    "Bundle": "read.bundle",
    "open_bundle": "read.bundle",
    "Reconciliation": "analysis.reconcile",
    "reconcile": "analysis.reconcile",
    # the report: one model, HTML/Markdown/JSON, charts for tickets, redaction
    "Report": "render.report",
    "build_report": "workflows",  # render.report.build_report, plus the old snapshots=/connections=
    "make_report": "workflows",
    "make_chart": "workflows",
    "make_summary": "workflows:summarize",
    "analyze_files": "workflows",
    "ClientlistAnalysis": "analysis.clientlist_analysis",
    "analyze_clientlist": "analysis.clientlist_analysis",
    "redact_line": "render.redact",
    # charts: Plots (SVG in a notebook, as in the report) and matplotlib Figures / Axes
    "plot_of": "render.plots",
    "plot_clientlist": "render.plots:clientlist_plot",
    "to_svg": "render.plots",
    "chart": "render.plots",
    "figure_bytes": "render.plots",
    "chart_clientlist": "render.plots:clientlist_chart",
    "plot_connection_growth": "render.plots",
    "plot_connected_clients": "render.plots",
}

# Old names, kept for one release (see CHANGELOG): old name -> the name it became.
_ALIASES: dict[str, str] = {
    "client_plot": "plot_clientlist",
    "client_chart": "chart_clientlist",
    "clientlist_plot": "plot_clientlist",
    "clientlist_chart": "chart_clientlist",
    "client_findings": "find_in_clientlist",
    "connection_count_findings": "find_in_connection_counts",
    "summarize": "make_summary",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    current = _ALIASES.get(name, name)
    where = _EXPORTS.get(current)
    if where is None:
        raise AttributeError(f"module 'monitorlens' has no attribute {name!r}")
    module, _, attribute = where.partition(":")
    value = getattr(importlib.import_module(f".{module}", __name__), attribute or current)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .analysis.analyze import Analysis, Overview, analyze
    from .analysis.applications import by_application
    from .analysis.breakdowns import by_client, by_command, by_db, by_key_pattern, bursts, gaps, hot_keys, script_callers, timeline
    from .read.clientlist import read_app_counts, read_client_list, read_connection_counts
    from .read.bundle import Bundle, open_bundle
    from .analysis.reconcile import Reconciliation, reconcile
    from .analysis.clientlist import (
        ClientThresholds,
        attach_names,
        client_counts,
        client_findings,
        client_findings as find_in_clientlist,
        connection_count_findings,
        connection_count_findings as find_in_connection_counts,
        connection_trends,
        count_trend,
        plan_text,
        remediation_plan,
    )
    from .analysis.comparison import Comparison, compare
    from .errors import InputError, MonitorlensError, ParseError
    from .analysis.filters import Filters, filter_events
    from .analysis.breakdowns import ClientNames
    from .analysis.findings import Evidence, Finding, Sample
    from .analysis.rules import Thresholds, find_all
    from .read.ingest import MonitorStream, read_monitor
    from .analysis.patterns import PatternRules, fingerprint, key_patterns
    from .render.plots import clientlist_chart, plot_connected_clients, plot_connection_growth
    from .render.plots import chart, clientlist_plot, figure_bytes, plot_of, to_svg
    from .render.plots import clientlist_chart as chart_clientlist, clientlist_plot as plot_clientlist
    from .render.plots import clientlist_chart as client_chart, clientlist_plot as client_plot
    from .read.schema import Provenance, provenance, rejects
    from .store import convert, ingest_dataset, load, read_parquet, write_parquet
    from .analysis.stream import Aggregate, aggregate, analyze_stream
    from .render.summary import render_text
    from .analysis.clientlist_analysis import ClientlistAnalysis, analyze_clientlist
    from .render.report import Report
    from .render.redact import redact_line
    from .workflows import analyze_files, build_report, make_chart, make_report, summarize
    from .workflows import summarize as make_summary
