"""monitorlens: the post-mortem of a Redis incident.

Read MONITOR captures and CLIENT LIST logs into pandas DataFrames, store them
as Parquet, find what made the load, and write a self-contained report::

    import monitorlens as ml
    events = ml.read_monitor("capture.txt.gz")
    ml.write_parquet(events, "capture.parquet")

Names are imported on first use (PEP 562), so ``python -m monitorlens ingest``
streams a capture to Parquet without paying for pandas. To export a name, add
it to ``_EXPORTS`` with the module that defines it.
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
    "Finding": "findings",
    "Evidence": "findings",
    "Sample": "findings",
    # reading and storing
    "MonitorStream": "ingest",
    "read_monitor": "ingest",
    "Provenance": "schema",
    "provenance": "schema",
    "rejects": "schema",
    "convert": "store",
    "load": "store",
    "read_parquet": "store",
    "write_parquet": "store",
    # comparing two captures
    "compare": "comparison",
    "Comparison": "comparison",
    # key patterns
    "PatternRules": "patterns",
    "fingerprint": "patterns",
    "key_patterns": "patterns",
    # analysis: breakdowns, findings, filters, the summary
    "Analysis": "analysis",
    "Overview": "analysis",
    "analyze": "analysis",
    "by_command": "breakdowns",
    "by_client": "breakdowns",
    "by_key_pattern": "breakdowns",
    "hot_keys": "breakdowns",
    "by_db": "breakdowns",
    "timeline": "breakdowns",
    "bursts": "breakdowns",
    "gaps": "breakdowns",
    "script_callers": "breakdowns",
    "Thresholds": "rules",
    "find_all": "rules",
    "filter_events": "filters",
    "render_text": "summary",
    # CLIENT LIST snapshots and connection counts: reading, leaks, findings, names for MONITOR
    "read_client_list": "clientlist",
    "read_connection_counts": "clientlist",
    "read_app_counts": "clientlist",
    "ClientThresholds": "clients",
    "attach_names": "clients",
    "client_counts": "clients",
    "connection_trends": "clients",
    "count_trend": "clients",
    "client_findings": "clients",
    "connection_count_findings": "clients",
    "remediation_plan": "clients",
    "plan_text": "clients",
    # the report: one model, HTML/Markdown/JSON, charts for tickets, redaction
    "Report": "report",
    "build_report": "report",
    "make_report": "report",
    "make_chart": "report",
    "redact_line": "redact",
    # charts: Plots (SVG in a notebook, as in the report) and matplotlib Figures / Axes
    "plot_of": "plots",
    "client_plot": "plots",
    "to_svg": "plots",
    "chart": "plots",
    "figure_bytes": "plots",
    "client_chart": "plots",
    "plot_connection_growth": "plots",
    "plot_connected_clients": "plots",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'monitorlens' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .analysis import Analysis, Overview, analyze
    from .breakdowns import by_client, by_command, by_db, by_key_pattern, bursts, gaps, hot_keys, script_callers, timeline
    from .clientlist import read_app_counts, read_client_list, read_connection_counts
    from .clients import (
        ClientThresholds,
        attach_names,
        client_counts,
        client_findings,
        connection_count_findings,
        connection_trends,
        count_trend,
        plan_text,
        remediation_plan,
    )
    from .comparison import Comparison, compare
    from .errors import InputError, MonitorlensError, ParseError
    from .filters import filter_events
    from .findings import Evidence, Finding, Sample
    from .rules import Thresholds, find_all
    from .ingest import MonitorStream, read_monitor
    from .patterns import PatternRules, fingerprint, key_patterns
    from .plots import client_chart, plot_connected_clients, plot_connection_growth
    from .plots import chart, client_plot, figure_bytes, plot_of, to_svg
    from .schema import Provenance, provenance, rejects
    from .store import convert, load, read_parquet, write_parquet
    from .summary import render_text
