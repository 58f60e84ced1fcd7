"""The report: one model built from an :class:`~monitorlens.analysis.analyze.Analysis`, three renderings.

:func:`build_report` turns an analysis (and optionally the CLIENT LIST analysis) into a
:class:`Report`: a header with provenance, the findings (values redacted), sections of
tables and charts, and a coverage section. Nothing is computed here that the analysis
already computed; the report only picks, redacts, formats and lays out.

:meth:`Report.to_html` (one offline file: inline CSS, inline SVG charts, no script, no
request to any address), :meth:`Report.to_markdown` (for a ticket comment) and
:meth:`Report.to_json` (for automation) are pure functions of the model, and
``_repr_html_`` (a notebook) is the same code as the file. Everything that came from a
capture is escaped (jinja2 autoescape); argument values are redacted unless
``show_values=True`` (see :mod:`monitorlens.render.redact`).

The report is deterministic: the same input gives the same bytes. The generation time
and the time taken are only written when asked for (``stamp=Stamp(...)``, the command
line's ``--timestamp``).

Example::

    >>> rep = make_report("sample_captures/incident/monitor.txt.gz")  # doctest: +SKIP
    >>> rep.write("report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..analysis.analyze import Analysis, Overview, analyze, records
from ..analysis.analyze import duration_text as analysis_duration
from ..commands import all_commands, hidden_from_monitor
from ..analysis.comparison import Comparison
from ..errors import InputError
from ..analysis.findings import Finding, Sample, printable, sort_findings
from .redact import hidden_values, redact_call, redact_line, redact_text
from ..read.schema import Provenance

__all__ = [
    "Column",
    "Table",
    "Chart",
    "Section",
    "Header",
    "Stamp",
    "Report",
    "build_report",
    "make_report",
    "make_chart",
    "render_html",
    "render_markdown",
    "render_json",
    "FORMATS",
    "format_for",
]

FORMATS = ("html", "md", "json")
TOP = 10  # rows per table unless asked otherwise
SAMPLES_SHOWN = 5  # sample lines per finding
REJECTS_SHOWN = 10  # rejected lines shown in the coverage section
EVIDENCE_SHOWN = 10  # clients, keys and rows of a finding's evidence shown in HTML/Markdown (JSON: all)


# ------------------------------------------------------------------------------ model


@dataclass(frozen=True)
class Column:
    """A table column: ``key`` in each row, its ``label``, and how to show it.

    Kinds: ``text`` (prose), ``code`` (capture text: keys, clients, commands; monospace),
    ``int``, ``float``, ``pct`` (a share 0..1), ``rate`` (per second), ``time`` (ISO
    8601), ``us`` (microseconds, shown in ms), ``bytes``.
    """

    key: str
    label: str
    kind: str = "text"


@dataclass(frozen=True)
class Table:
    """Rows (JSON-ready dicts keyed by column key) under a title; ``total`` rows in full."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...]
    total: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "title": self.title,
            "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
            "rows": [dict(r) for r in self.rows],
            "total": self.total,
            "note": self.note,
        }


@dataclass(frozen=True)
class Chart:
    """A chart of kind ``kind`` (the ``plot`` command's KIND) as sanitized inline SVG."""

    kind: str
    title: str
    svg: str = ""
    clients: bool = False  # drawn from CLIENT LIST snapshots (plot needs --clients)

    @property
    def command(self) -> str:
        """The command line that draws this chart alone, for a ticket."""
        clients = " --clients CLIENTS" if self.clients else ""
        return f"python -m monitorlens plot {self.kind} CAPTURE{clients} -o {self.kind}.png"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the SVG."""
        return {"kind": self.kind, "title": self.title, "command": self.command}


@dataclass(frozen=True)
class Section:
    """One part of the report: an intro, notes, charts and tables."""

    id: str
    title: str
    intro: str = ""
    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()
    code: str = ""  # text to copy as is (the remediation plan's commands)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "title": self.title,
            "intro": self.intro,
            "notes": list(self.notes),
            "code": self.code,
            "charts": [c.to_dict() for c in self.charts],
            "tables": [t.to_dict() for t in self.tables],
        }


@dataclass(frozen=True)
class Stamp:
    """When the report was made and how long it took: only written when asked for."""

    generated_at: str  # ISO 8601 UTC
    elapsed_s: float

    @classmethod
    def now(cls, started: float) -> "Stamp":
        """A stamp for a report whose work began at ``time.perf_counter() == started``."""
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        return cls(now.isoformat(), round(time.perf_counter() - started, 3))


@dataclass(frozen=True)
class SourceInfo:
    """One file that was read: its path, kind and counts."""

    path: str
    kind: str
    lines: int
    rows: int
    rejected: int
    rejects_by_reason: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, prov: Provenance) -> "SourceInfo":
        """What a table's provenance says about its file."""
        return cls(prov.source, prov.kind, prov.lines, prov.events, prov.rejected, dict(prov.rejects_by_reason))


@dataclass(frozen=True)
class Header:
    """What was read and when it happened: the provenance of the report."""

    title: str
    sources: tuple[SourceInfo, ...]
    overview: Overview  # lines, events, rejects, time range and rate of the analysed events
    dialects: Mapping[str, int]
    input_truncated: bool
    show_values: bool
    monitorlens_version: str = __version__
    stamp: Stamp | None = None
    filters: Mapping[str, str] = field(default_factory=dict)  # what was asked: {"command": "KEYS"}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        ov = self.overview
        return {
            "title": self.title,
            "sources": [
                {"path": s.path, "kind": s.kind, "lines": s.lines, "rows": s.rows, "rejected": s.rejected,
                 "rejects_by_reason": dict(s.rejects_by_reason)}
                for s in self.sources
            ],
            "lines": ov.lines,
            "events": ov.events,
            "rejected": ov.rejected,
            "skipped": ov.skipped,
            "time_range": {"first": ov.first, "last": ov.last, "duration_s": ov.duration_s},
            "rate_per_s": ov.rate_per_s,
            "dialects": dict(self.dialects),
            "input_truncated": self.input_truncated,
            "filtered": ov.filtered,
            "filters": dict(self.filters),
            "values": "shown" if self.show_values else "redacted",
            "monitorlens_version": self.monitorlens_version,
            "generated_at": self.stamp.generated_at if self.stamp else None,
            "elapsed_s": self.stamp.elapsed_s if self.stamp else None,
        }


@dataclass(frozen=True)
class Report:
    """A rendered-to-be post-mortem: header, findings (redacted), sections.

    >>> rep = build_report(analyze(load("capture.txt")))  # doctest: +SKIP
    >>> rep.write("report.html"); rep.to_dict()["findings"][0]["code"]  # doctest: +SKIP
    """

    header: Header
    findings: tuple[Finding, ...]
    sections: tuple[Section, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON model (charts by kind and title, without their SVG)."""
        return {
            "report": "monitorlens",
            "header": self.header.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "sections": [s.to_dict() for s in self.sections],
        }

    def to_html(self) -> str:
        """One self-contained HTML file (see :func:`render_html`)."""
        return render_html(self)

    def to_markdown(self) -> str:
        """Markdown for a ticket comment (see :func:`render_markdown`)."""
        return render_markdown(self)

    def to_json(self) -> str:
        """The JSON model as text (see :func:`render_json`)."""
        return render_json(self)

    def render(self, fmt: str) -> str:
        """The report in ``fmt``: ``html``, ``md`` or ``json``."""
        renderers: dict[str, Callable[[Report], str]] = {
            "html": render_html, "md": render_markdown, "json": render_json,
        }
        if fmt not in renderers:
            raise InputError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
        return renderers[fmt](self)

    def write(self, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
        """Write the report to ``path`` in ``fmt`` (default: from the suffix, else html)."""
        out = Path(path)
        out.write_text(self.render(fmt or format_for(out)), encoding="utf-8")
        return out

    def _repr_html_(self) -> str:
        return render_html(self)


def format_for(path: str | os.PathLike[str], default: str = "html") -> str:
    """The format a file name asks for: ``.html``/``.htm`` html, ``.md`` md, ``.json`` json.

    >>> format_for("incident.md"), format_for("report.htm"), format_for("out")
    ('md', 'html', 'html')
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"htm": "html", "html": "html", "md": "md", "markdown": "md", "json": "json"}.get(suffix, default)


# ------------------------------------------------------------------------------ building


def table_of(
    title: str, frame: pd.DataFrame, columns: Sequence[Column], top: int | None, note: str = ""
) -> Table:
    """The top ``top`` rows of ``frame`` (all for None) as a :class:`Table` of ``columns``."""
    rows = records(frame, {c.key: c.key for c in columns}, top)
    return Table(title, tuple(columns), tuple(rows), total=len(frame), note=note)


def _header(a: Analysis, title: str, show_values: bool, stamp: Stamp | None,
            extra_sources: Sequence[SourceInfo], filters: Mapping[str, str]) -> Header:
    ov, prov = a.overview, a.provenance
    capture = SourceInfo.of(prov)
    return Header(
        title=title, sources=(capture, *extra_sources), overview=ov, dialects=dict(prov.dialects),
        input_truncated=prov.input_truncated, show_values=show_values,
        monitorlens_version=__version__, stamp=stamp, filters=dict(filters),
    )


def redact_finding(f: Finding, show_values: bool = False) -> Finding:
    """A finding with the values in its sample lines and quoted calls redacted, and any of
    those values quoted in its text scrubbed.

    >>> redact_finding(f).evidence.samples[0].text  # doctest: +SKIP
    '1795641904.0 [0 127.0.0.1:5] "SET" "k" ‹5 bytes›'
    """
    if show_values:
        return f
    ev = f.evidence
    calls = [str(row["call"]) for row in ev.rows if "call" in row]
    values = hidden_values([s.text for s in ev.samples] + calls)

    def scrub(value: Any) -> Any:
        return redact_text(value, values) if isinstance(value, str) else value

    evidence = replace(
        ev,
        samples=tuple(Sample(s.line, redact_line(s.text)) for s in ev.samples),
        rows=tuple({k: redact_call(v) if k == "call" and isinstance(v, str) else scrub(v)
                    for k, v in row.items()} for row in ev.rows),
    )
    return replace(f, title=scrub(f.title), explanation=scrub(f.explanation), action=scrub(f.action),
                   evidence=evidence)


COMMAND_COLUMNS = (
    Column("command", "Command", "code"), Column("count", "Events", "int"), Column("share", "Share", "pct"),
    Column("rate_per_s", "Rate", "rate"), Column("clients", "Clients", "int"),
    Column("arg_bytes", "Argument bytes", "bytes"), Column("first", "First", "time"), Column("last", "Last", "time"),
)
CLIENT_COLUMNS = (
    Column("client", "Client", "code"), Column("name", "Name", "code"), Column("client_kind", "Kind"),
    Column("count", "Events", "int"), Column("share", "Share", "pct"), Column("rate_per_s", "Rate", "rate"),
    Column("lua_count", "Of which lua", "int"), Column("command_mix", "Command mix", "code"),
    Column("dbs", "DBs"), Column("first", "First", "time"), Column("last", "Last", "time"),
)
PATTERN_COLUMNS = (
    Column("pattern", "Key pattern", "code"), Column("count", "Key references", "int"),
    Column("share", "Share", "pct"), Column("keys", "Distinct keys", "int"),
    Column("read_share", "Reads", "pct"), Column("write_share", "Writes", "pct"),
    Column("command_mix", "Command mix", "code"), Column("example", "Example key", "code"),
)
HOT_KEY_COLUMNS = (
    Column("key", "Key", "code"), Column("pattern", "Pattern", "code"), Column("count", "References", "int"),
    Column("share", "Share", "pct"), Column("clients", "Clients", "int"),
    Column("command_mix", "Command mix", "code"),
)
DB_COLUMNS = (
    Column("db", "DB", "int"), Column("count", "Events", "int"), Column("share", "Share", "pct"),
    Column("rate_per_s", "Rate", "rate"), Column("clients", "Clients", "int"),
    Column("first", "First", "time"), Column("last", "Last", "time"),
)
GAP_COLUMNS = (
    Column("gap_us", "Silence", "us"), Column("start", "From", "time"), Column("end", "To", "time"),
    Column("line_before", "Line before", "int"), Column("line_after", "Line after", "int"),
    Column("client_before", "Client before", "code"), Column("command_before", "Command before", "code"),
)
BURST_COLUMNS = (
    Column("start", "From", "time"), Column("end", "To", "time"), Column("events", "Events", "int"),
    Column("peak", "Peak events/bucket", "int"), Column("baseline", "Median events/bucket", "float"),
    Column("ratio", "Peak / median", "float"), Column("top_command", "Top command", "code"),
    Column("top_client", "Top client", "code"),
)
REJECT_COLUMNS = (Column("line", "Line", "int"), Column("reason", "Reason"), Column("text", "Text", "code"))


def _traffic(a: Analysis, top: int, charts: ChartMaker) -> Section:
    peak = int(a.timeline.sum(axis=1).max()) if len(a.timeline) else 0
    intro = (f"{a.overview.events:,} events over {duration_text(a.overview.duration_s)}"
             + (f", {a.overview.rate_per_s:,.1f} commands/s on average, at most {peak:,} in one second."
                if a.overview.rate_per_s else "."))
    tables = (table_of("Bursts", a.bursts, BURST_COLUMNS, top),) if len(a.bursts) else ()
    notes = () if len(a.bursts) else ("No burst: no second with 3x the median rate and at least 50 events.",)
    return Section("traffic", "Traffic over time", intro, charts("traffic"), tables, notes)


def _commands(a: Analysis, top: int, charts: ChartMaker) -> Section:
    return Section(
        "commands", "Top commands", f"{len(a.subcommands):,} distinct commands.", charts("commands"),
        (table_of("Commands (with subcommands)", a.subcommands, COMMAND_COLUMNS, top),),
    )


def _clients(a: Analysis, top: int, charts: ChartMaker) -> Section:
    named = int(a.clients["name"].notna().sum()) if "name" in a.clients else 0
    intro = (f"{len(a.clients):,} clients, {named:,} of them with a name. Events of `lua` lines are "
             "credited to the client whose EVAL/EVALSHA/FCALL ran the script.")
    return Section("clients", "Top clients", intro, charts("clients"),
                   (table_of("Clients", a.clients, CLIENT_COLUMNS, top),))


def _keys(a: Analysis, top: int, charts: ChartMaker) -> Section:
    return Section(
        "keys", "Key patterns and hot keys",
        f"{len(a.key_patterns):,} key patterns. Reads and writes follow the command table.",
        charts("key-patterns"),
        (table_of("Key patterns", a.key_patterns, PATTERN_COLUMNS, top),
         table_of("Hot keys", a.hot_keys, HOT_KEY_COLUMNS, top)),
    )


def _dbs(a: Analysis, top: int, charts: ChartMaker) -> Section:
    return Section("dbs", "Databases", "", (), (table_of("Databases", a.dbs, DB_COLUMNS, top),))


def _gaps(a: Analysis, top: int, charts: ChartMaker) -> Section:
    intro = ("The longest silences between consecutive lines: nothing arrived in MONITOR for that long. "
             "They are not command durations (MONITOR prints a command before it runs).")
    return Section("gaps", "Gaps", intro, charts("gaps"), (table_of("Longest gaps", a.gaps, GAP_COLUMNS, top),))


@cache
def _invisible_commands() -> tuple[str, ...]:
    return tuple(sorted(name for name in all_commands() if hidden_from_monitor(*name.split(" ", 1))))


def _coverage(a: Analysis, show_values: bool) -> Section:
    prov, ov = a.provenance, a.overview
    invisible = _invisible_commands()
    commands = {str(c): int(n) for c, n in zip(a.subcommands["command"], a.subcommands["count"])}
    auth = sum(commands.get(c, 0) for c in ("AUTH", "HELLO"))
    notes = [
        f"MONITOR never shows admin commands ({len(invisible)} in Redis 7.0: "
        + ", ".join(c for c in invisible if c.split()[0] in {"CONFIG", "CLIENT", "DEBUG", "SLOWLOG", "ACL"}
                    and len(c.split()) < 3)[:400]
        + ", ...): this capture cannot tell whether any was run.",
        "Commands are printed before they run: no durations, no replies, no errors; "
        "a rejected command (wrong arity, ACL) may still appear.",
        f"Passwords of AUTH and HELLO ... AUTH are printed as (redacted) by Redis ({auth:,} such commands here).",
        "Argument values are " + ("shown (--show-values)." if show_values else
                                  "redacted in this report: keys, commands and sizes are shown, values "
                                  "as ‹N bytes› (see monitorlens.render.redact)."),
        f"{ov.lines:,} lines read: {ov.events:,} events, {ov.rejected:,} rejected, {ov.skipped:,} skipped "
        "(redis-cli's OK and blank lines)." + (" Filters were applied." if ov.filtered else ""),
    ]
    if prov.input_truncated or prov.rejects_by_reason.get("truncated"):
        notes.append("The capture ends in a cut line (the capture was stopped mid-line): it is counted as rejected.")
    if len(a.gaps):
        longest = int(a.gaps["gap_us"].iloc[0])
        notes.append(f"The longest silence between two lines is {longest / 1000:,.1f} ms (see Gaps).")
    reasons = Table(
        "Rejected lines by reason",
        (Column("reason", "Reason"), Column("count", "Lines", "int")),
        tuple({"reason": r, "count": int(n)} for r, n in sorted(prov.rejects_by_reason.items())),
        total=len(prov.rejects_by_reason),
    )
    shown = tuple(
        {"line": int(l), "reason": r, "text": redact_line(t, show_values=show_values)}
        for l, r, t in prov.rejects[:REJECTS_SHOWN]
    )
    sample = Table("Rejected lines (first ones)", REJECT_COLUMNS, shown, total=int(prov.rejected))
    tables = (reasons, sample) if prov.rejected else ()
    return Section("coverage", "Coverage: what this capture can and cannot show", "", (), tables, tuple(notes))


ChartMaker = Callable[[str], tuple[Chart, ...]]


def _inline(kind: str, title: str, make: Callable[[], Any] | None, clients: bool = False) -> Chart:
    """A chart for the model: its SVG drawn when ``make`` (which returns the chart's
    :class:`~monitorlens.render.plots.model.Plot`) is given, else only its kind and title
    (Markdown and JSON name the charts; ``plot`` draws them)."""
    from .plots.style import inline_svg
    from .plots.svg import to_svg

    svg = inline_svg(to_svg(make()), prefix=f"{kind}-") if make is not None else ""
    return Chart(kind, title, svg, clients)


def chart_of(kind: str, analysis: Analysis, draw: bool = True) -> Chart:
    """The chart ``kind`` of an analysis as inline SVG (the ``plot`` command draws the same)."""
    from .plots.monitor import KINDS, plot_of

    return _inline(kind, KINDS[kind].title, (lambda: plot_of(kind, analysis)) if draw else None)


def client_chart_of(kind: str, snapshots: pd.DataFrame, draw: bool = True) -> Chart:
    """The chart ``kind`` of CLIENT LIST snapshots as inline SVG."""
    from .plots.clientlist import CLIENT_CHARTS, client_plot

    return _inline(kind, CLIENT_CHARTS[kind].title, (lambda: client_plot(kind, snapshots)) if draw else None,
                   clients=True)


MONITOR_SECTIONS = (_traffic, _commands, _clients, _keys, _dbs, _gaps)


def build_report(
    analysis: Analysis,
    *,
    snapshots: pd.DataFrame | None = None,
    connections: pd.DataFrame | None = None,
    title: str | None = None,
    top: int | None = None,
    show_values: bool = False,
    charts: bool = True,
    stamp: Stamp | None = None,
    filters: Mapping[str, str] | None = None,
    baseline: Comparison | None = None,
) -> Report:
    """The report of an analysis; findings first (most severe first), values redacted.

    With CLIENT LIST ``snapshots`` (:func:`~monitorlens.read.clientlist.read_client_list`; attach
    their names to the events before the analysis) and/or ``connections`` counts, the report
    has the client sections and findings too. ``charts=False`` leaves the charts' SVG out
    (faster; JSON and Markdown only name the charts, with the ``plot`` command that draws each). ``stamp`` writes the generation time and the
    time taken (off by default: the report is deterministic). ``filters`` says which filters
    made the events (:func:`monitorlens.analysis.filters.applied_filters`), for the header.
    ``baseline`` (``compare(analyze(baseline_events), analysis)``) adds the section
    "Compared with the baseline" and names the baseline's file in the header.

    >>> build_report(analyze(load("capture.txt")), top=5).to_dict()["header"]["events"]  # doctest: +SKIP
    """
    from .report_baseline import baseline_part
    from .report_clientlist import client_part

    top = analysis.top if top is None else top
    title = title or f"Redis MONITOR report: {Path(analysis.provenance.source).name}"

    def monitor_charts(kind: str) -> tuple[Chart, ...]:
        return (chart_of(kind, analysis, draw=charts),)

    def client_charts(kind: str) -> tuple[Chart, ...]:
        return (client_chart_of(kind, snapshots, draw=charts),) if snapshots is not None else ()

    part = client_part(snapshots, connections, top=top, charts=client_charts)
    findings = sort_findings([redact_finding(f, show_values) for f in (*analysis.findings, *part.findings)])
    sections = tuple(make(analysis, top, monitor_charts) for make in MONITOR_SECTIONS)
    compared, baseline_sources = baseline_part(baseline, top=top, show_values=show_values)
    return Report(
        header=_header(analysis, title, show_values, stamp, (*part.sources, *baseline_sources), filters or {}),
        findings=tuple(findings),
        sections=(*sections, *compared, *part.sections, _coverage(analysis, show_values)),
    )


EventsFilter = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class Inputs:
    """What a report reads: the (filtered) events, with names when CLIENT LIST is given."""

    events: pd.DataFrame
    snapshots: pd.DataFrame | None = None
    connections: pd.DataFrame | None = None


def read_inputs(
    capture: str | os.PathLike[str],
    clients: str | os.PathLike[str] | None = None,
    connections: str | os.PathLike[str] | None = None,
    events_filter: EventsFilter | None = None,
) -> Inputs:
    """Read a capture (text, .gz, Parquet) and the optional CLIENT LIST / connection logs;
    name the events' clients from the snapshots; apply ``events_filter``."""
    from ..store import load

    events = load(capture)
    snapshots = counts = None
    if clients is not None:
        from ..read.clientlist import read_client_list
        from ..analysis.clientlist import attach_names

        snapshots = read_client_list(clients)
        events = attach_names(events, snapshots)
    if connections is not None:
        from ..read.clientlist import read_connection_counts

        counts = read_connection_counts(connections)
    if events_filter is not None:
        events = events_filter(events)
    return Inputs(events, snapshots, counts)


def make_report(
    capture: str | os.PathLike[str],
    *,
    clients: str | os.PathLike[str] | None = None,
    connections: str | os.PathLike[str] | None = None,
    top: int = TOP,
    show_values: bool = False,
    charts: bool = True,
    timestamp: bool = False,
    events_filter: EventsFilter | None = None,
    baseline: str | os.PathLike[str] | None = None,
    baseline_clients: str | os.PathLike[str] | None = None,
) -> Report:
    """Read a capture (text, .gz or Parquet) and optional CLIENT LIST (``clients``) and
    connection-count logs, analyse them and build the report: the ``report`` command.

    ``events_filter`` narrows the events before the analysis (the CLI's shared filters);
    ``timestamp`` writes the generation time and the time taken into the header. A
    ``baseline`` capture (read whole, unfiltered; names from ``baseline_clients``) adds the
    section "Compared with the baseline".

    >>> make_report("incident/monitor.txt.gz", clients="incident/clients.log.gz").write("incident.html")  # doctest: +SKIP
    """
    from ..analysis.comparison import compare
    from ..analysis.filters import applied_filters

    if baseline_clients is not None and baseline is None:
        raise InputError("--baseline-clients names the clients of a --baseline capture: give the capture too")
    started = time.perf_counter()
    before = read_inputs(baseline, baseline_clients).events if baseline is not None else None
    inputs = read_inputs(capture, clients, connections, events_filter)
    analysis = analyze(inputs.events, top=top)
    comparison = compare(analyze(before, top=top), analysis) if before is not None else None
    report = build_report(analysis, snapshots=inputs.snapshots, connections=inputs.connections, top=top,
                          show_values=show_values, charts=charts, filters=applied_filters(inputs.events),
                          baseline=comparison)
    if timestamp:
        report = replace(report, header=replace(report.header, stamp=Stamp.now(started)))
    return report


def make_chart(
    kind: str,
    capture: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    clients: str | os.PathLike[str] | None = None,
    top: int = TOP,
    events_filter: EventsFilter | None = None,
) -> Path:
    """Draw chart ``kind`` of a capture's report into ``output`` (.png or .svg): the ``plot``
    command. Client charts (connections, growth, idle-age, output-buffers...) need ``clients``.

    >>> make_chart("traffic", "capture.txt.gz", "traffic.png")  # doctest: +SKIP
    """
    from .plots import (
        CLIENT_CHARTS,
        KINDS,
        client_plot,
        figure,
        figure_bytes,
        plot_of,
        to_svg,
    )

    out = Path(output)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise InputError(f"{out}: name the chart .png or .svg")
    if kind not in KINDS and kind not in CLIENT_CHARTS:
        raise InputError(f"unknown chart {kind!r}: use one of {', '.join([*KINDS, *CLIENT_CHARTS])}")
    if kind in CLIENT_CHARTS and clients is None:
        raise InputError(f"chart {kind!r} is drawn from CLIENT LIST snapshots: give them with --clients FILE")
    inputs = read_inputs(capture, clients, None, events_filter)
    if kind in CLIENT_CHARTS:
        plot = client_plot(kind, inputs.snapshots)
    else:
        plot = plot_of(kind, analyze(inputs.events, top=top))
    # SVG is written directly (the report's charts); PNG is drawn by matplotlib
    out.write_bytes(to_svg(plot).encode() if fmt == "svg" else figure_bytes(figure(plot), "png"))
    return out


def default_output(capture: str, fmt: str) -> str:
    """``incident/monitor.txt.gz`` -> ``monitor-report.html`` (in the current directory).

    >>> default_output("incident/monitor.txt.gz", "md")
    'monitor-report.md'
    """
    if capture == "-":
        return f"report.{fmt}"
    name = Path(capture).name
    for suffix in (".gz", ".txt", ".log", ".parquet"):
        name = name.removesuffix(suffix)
    return f"{name}-report.{fmt}"


def report_command(ns: Any) -> str:
    """What ``python -m monitorlens report`` does for parsed arguments ``ns``: write the report,
    and return the line to print about it.

    >>> report_command(parser.parse_args(["report", "capture.txt", "-o", "r.md"]))  # doctest: +SKIP
    'r.md: markdown report, 3 findings (1 critical), values redacted'
    """
    from ..analysis.filters import apply_filters

    out = ns.output
    fmt = ns.format or (format_for(out) if out and out != "-" else "html")
    out = out or default_output(ns.capture, fmt)
    report = make_report(
        ns.capture, clients=ns.clients, connections=ns.connections, top=ns.top, show_values=ns.show_values, charts=fmt == "html" and not ns.no_charts,
        timestamp=ns.timestamp, events_filter=lambda events: apply_filters(events, ns),
        baseline=getattr(ns, "baseline", None), baseline_clients=getattr(ns, "baseline_clients", None),
    )
    if out == "-":
        sys.stdout.write(report.render(fmt))
    else:
        report.write(out, fmt)
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in ("critical", "warning", "info")}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    values = "values SHOWN" if ns.show_values else "values redacted"
    return f"{out}: {fmt} report, {len(report.findings)} findings ({shown}), {values}"


def plot_command(ns: Any) -> str:
    """What ``python -m monitorlens plot KIND CAPTURE -o FILE`` does: draw, and say where.

    >>> plot_command(parser.parse_args(["plot", "traffic", "capture.txt", "-o", "t.png"]))  # doctest: +SKIP
    't.png: traffic chart'
    """
    from ..analysis.filters import apply_filters

    out = make_chart(ns.kind, ns.capture, ns.output, clients=ns.clients, top=ns.top,
                     events_filter=lambda events: apply_filters(events, ns))
    return f"{out}: {ns.kind} chart"


# ------------------------------------------------------------------------------ rendering


def duration_text(seconds: float) -> str:
    """A span for a reader: :func:`monitorlens.analysis.analyze.duration_text`, and milliseconds
    under a second (a capture of a few lines).

    >>> duration_text(0.0065), duration_text(30.0)
    ('6.5 ms', '30.0 s')
    """
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else analysis_duration(seconds)


def _bytes(n: float) -> str:
    """Bytes in binary units, as CLIENT LIST thresholds are (``1 MiB`` = 1,048,576).

    >>> _bytes(512), _bytes(7524968)
    ('512 B', '7.2 MiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"  # pragma: no cover


def time_text(iso: str) -> str:
    """``2026-11-25T21:25:04.031511+00:00`` -> ``2026-11-25 21:25:04.031511``."""
    return iso.replace("T", " ").removesuffix("+00:00")


_ROW_KINDS = {
    **dict.fromkeys(("first", "last", "last_seen", "snapshot_ts", "start", "end"), "time"),
    **dict.fromkeys(("count", "calls", "id", "age", "idle", "events", "clients", "keys"), "int"),
    **dict.fromkeys(("omem", "qbuf", "tot_mem", "bytes", "arg_bytes"), "bytes"),
    **dict.fromkeys(("share",), "pct"),
    **dict.fromkeys(("call", "client", "addr", "command", "key", "name", "cmd"), "code"),
}


def row_kind(key: str, value: Any = None) -> str:
    """How to show a finding's evidence row cell ``key`` (the rows are free-form dicts).

    >>> row_kind("first"), row_kind("count", 3), row_kind("reason", "x")
    ('time', 'int', 'text')
    """
    kind = _ROW_KINDS.get(key, "text")
    if kind in ("int", "bytes", "pct") and not isinstance(value, (int, float)):
        return "text"
    return kind


def more(items: Sequence[Any], shown: int = EVIDENCE_SHOWN) -> str:
    """``" and 62 more"`` after the first ``shown`` of ``items``, or nothing.

    >>> more(range(72)), more(range(3))
    (' and 62 more', '')
    """
    return f" and {len(items) - shown:,} more" if len(items) > shown else ""


def fmt(value: Any, kind: str = "text") -> str:
    """One cell as text, by column kind (see :class:`Column`); null is ``–``.

    >>> fmt(0.1234, "pct"), fmt(54156, "us"), fmt(1234567, "int"), fmt(None, "int"), fmt(4.0, "num")
    ('12.3%', '54.2 ms', '1,234,567', '–', '4')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "float":
        return "∞" if math.isinf(value) else f"{value:,.1f}"
    if kind == "num":  # a metric: as an integer when it is one
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return printable(str(value))
        return "∞" if math.isinf(value) else f"{value:,.3f}".rstrip("0").rstrip(".")
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "rate":
        return f"{value:,.1f}/s"
    if kind == "us":
        return f"{value / 1000:,.1f} ms"
    if kind == "bytes":
        return _bytes(float(value))
    if kind == "time":
        return time_text(str(value))
    return printable(str(value))


def _context(report: Report) -> dict[str, Any]:
    h = report.header
    return {"r": report, "h": h, "duration": duration_text(h.overview.duration_s),
            "time": time_text, "counts": {s: sum(1 for f in report.findings if f.severity == s)
                                      for s in ("critical", "warning", "info")}}


def _bytecode_cache() -> Any:
    """Jinja's cache of compiled templates, in its private per-user temporary directory
    (compiling the two templates took 0.19 s of every report); none if it cannot be made."""
    import jinja2

    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


@cache
def _environment(kind: str) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitorlens.render", "templates"),
        bytecode_cache=_bytecode_cache(),
        autoescape=kind == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.globals["row_kind"] = row_kind
    env.globals["shown"] = EVIDENCE_SHOWN
    env.globals["more"] = more
    env.filters["visible"] = printable
    env.filters["md"] = md_text
    env.filters["mdcode"] = md_code
    env.filters["fence"] = md_fence
    env.filters["svg"] = _svg_markup
    return env


def _svg_markup(svg: str) -> Any:
    """A chart's SVG for the HTML page: written by :mod:`monitorlens.render.plots.svg` (every text
    escaped) and passed through :func:`monitorlens.render.plots.style.inline_svg`."""
    import markupsafe

    return markupsafe.Markup(svg)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (no script; CSP forbids any request).

    >>> "<script" in render_html(rep)  # doctest: +SKIP
    False
    """
    return _environment("html").get_template("report.html.j2").render(_context(report))


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|&~"})
_MD_LINE_START = re.compile(r"^(?:([#+=>-])|(\d+)([.)]))")


def md_text(text: Any) -> str:
    """Plain text for Markdown, one line: Markdown and HTML specials escaped.

    >>> print(md_text("<b>*x*</b> 2.6+"), md_text("2.6+"), md_text("# x"))
    \\<b\\>\\*x\\*\\</b\\> 2.6+ 2\\.6+ \\# x
    """
    escaped = printable(str(text)).translate(_MD_SPECIAL)
    return _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", escaped)


def md_code(text: Any) -> str:
    """Capture text as a Markdown code span (safe in table cells: ``|`` escaped).

    >>> print(md_code("a`b|c"))
    ``a`b\\|c``
    """
    s = printable(str(text)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def md_fence(texts: Any) -> str:
    """A code fence longer than any run of backticks in ``texts``.

    >>> md_fence(["a ```` b"])
    '`````'
    """
    longest = max((len(run) for t in texts for run in re.findall(r"`+", printable(str(t)))), default=0)
    return "`" * max(3, longest + 1)


def render_markdown(report: Report) -> str:
    """The report as Markdown for a ticket comment (tables, no charts; run ``plot`` for images).

    >>> render_markdown(rep).splitlines()[0]  # doctest: +SKIP
    '# Redis MONITOR report: monitor.txt.gz'
    """
    return _environment("md").get_template("report.md.j2").render(_context(report))


def render_json(report: Report) -> str:
    """The report model as JSON text (sorted keys, two-space indent, UTF-8 kept; inf/NaN as null).

    >>> json.loads(render_json(rep))["header"]["events"]  # doctest: +SKIP
    """
    return json.dumps(_finite(report.to_dict()), indent=2, sort_keys=True, ensure_ascii=False,
                      allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (a ratio over a zero baseline) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
