"""Building the report: :func:`build_report` turns an :class:`~monitorlens.analysis.analyze.Analysis` into a :class:`~monitorlens.render.report.model.Report`.

Nothing is computed here that the analysis already computed; the builder picks rows,
redacts findings (:mod:`monitorlens.render.redact`), formats and lays out: the MONITOR
sections, the CLIENT LIST sections (:mod:`.clientlist`), the baseline (:mod:`.baseline`)
and the coverage section.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any


from ... import __version__
from ..._human import duration_text
from ...analysis.analyze import Analysis
from ...analysis.comparison import Comparison
from ...analysis.findings import sort_findings
from ...analysis.reconcile import Reconciliation
from ...commands import all_commands, hidden_from_monitor
from ..plots.clientlist import CLIENTLIST_CHARTS, clientlist_plot
from ..plots.monitor import MONITOR_CHARTS, plot_of
from ..plots.style import inline_svg
from ..plots.svg import to_svg
from ..redact import redact_finding, redact_line
from .baseline import baseline_part
from .clientlist import clientlist_part
from .model import Chart, ChartMaker, Column, Header, Report, Section, SourceInfo, Stamp, Table, table_of

__all__ = ["build_report", "chart_of", "clientlist_chart_of", "TOP"]

TOP = 10  # rows per table unless asked otherwise
REJECTS_SHOWN = 10  # rejected lines shown in the coverage section


def _header(a: Analysis, title: str, show_values: bool, stamp: Stamp | None,
            extra_sources: Sequence[SourceInfo], filters: Mapping[str, str]) -> Header:
    ov, prov = a.overview, a.provenance
    capture = SourceInfo.of(prov)
    return Header(
        title=title, sources=(capture, *extra_sources), overview=ov, dialects=dict(prov.dialects),
        input_truncated=prov.input_truncated, show_values=show_values,
        monitorlens_version=__version__, stamp=stamp, filters=dict(filters),
    )


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


APPLICATION_TABLE_COLUMNS = (
    Column("application", "Application", "code"), Column("connections", "Connections", "int"),
    Column("connected_at_end", "Connected at end", "int"), Column("events", "Events", "int"),
    Column("share", "Share", "pct"), Column("rate_per_s", "Rate", "rate"), Column("command_mix", "Command mix", "code"),
    Column("dbs", "DBs"), Column("first", "First", "time"), Column("last", "Last", "time"),
)


def _applications(a: Analysis, top: int, charts: ChartMaker) -> Section | None:
    """Traffic by application, when any client has a name (else it would repeat the clients)."""
    apps = a.applications
    if apps.empty or not apps["named"].astype(bool).any():
        return None
    listed = "connected_at_end" in apps.columns
    columns = tuple(c for c in APPLICATION_TABLE_COLUMNS if listed or c.key != "connected_at_end")
    intro = (f"{len(apps):,} applications: the clients grouped by name (from "
             + ("CLIENT LIST and " if listed else "") + "CLIENT SETNAME), clients without one by host. "
             "Connections are the addresses seen in the capture"
             + ("; connected at end, those the last CLIENT LIST snapshot lists." if listed else "."))
    return Section("applications", "Applications", intro, charts("applications"),
                   (table_of("Applications", apps, columns, top),))


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
             "They are not command durations: MONITOR gives none (from Redis 6.2.4 a line's time is when its "
             "command completed, before 6.2.4 when it was received).")
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
        + (", ...): the table of the server's counts says which ran." if a.reconciliation is not None
           else ", ...): this capture cannot tell whether any was run."),
        "No durations, no replies, no errors: from Redis 6.2.4 a line is written when its command has "
        "completed (its time is the completion time), before 6.2.4 when the command was received; "
        "commands refused before running (unknown, wrong arity, NOAUTH, ACL denial, OOM) never appear.",
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
        {"line": int(line), "reason": r, "text": redact_line(t, show_values=show_values)}
        for line, r, t in prov.rejects[:REJECTS_SHOWN]
    )
    sample = Table("Rejected lines (first ones)", REJECT_COLUMNS, shown, total=int(prov.rejected))
    tables = (reasons, sample) if prov.rejected else ()
    if a.reconciliation is not None:
        table, more = _reconciliation(a.reconciliation)
        tables, notes = (table, *tables), [*more, *notes]
    return Section("coverage", "Coverage: what this capture can and cannot show", "", (), tables, tuple(notes))


RECONCILE_REPORT_COLUMNS = (
    Column("command", "Command", "code"), Column("shown", "Shown by MONITOR", "int"),
    Column("others", "Run (commandstats)", "int"), Column("unseen", "Run unseen", "int"),
    Column("unkept", "Shown after the limit, not kept", "int"), Column("failed", "Failed", "int"),
    Column("rejected", "Refused before running", "int"),
)


def _reconciliation(rec: Reconciliation) -> tuple[Table, list[str]]:
    """The coverage table of a bundle's MONITOR lines against the server's commandstats, and its notes."""
    rows = tuple(
        {"command": r["command"].upper().replace("|", " "), **{c.key: int(r[c.key]) for c in RECONCILE_REPORT_COLUMNS[1:]}}
        for r in rec.table.to_dict("records") if r["shown"] or r["others"] or r["failed"] or r["rejected"]
    )  # fmt: skip
    table = Table("MONITOR against what the server ran (server.json)", RECONCILE_REPORT_COLUMNS, rows, total=len(rows))
    notes = [rec.headline() + "."]
    notes.append("The counts are exact: INFO was read on the MONITOR connection right before MONITOR started and "
                 "while it still ran, so nothing else ran in between; the capture's own INFO, MONITOR and CLIENT "
                 "LIST are left out." if rec.exact else
                 "The counts are approximate: the capture did not end on its MONITOR connection, so commands "
                 "run just before or after MONITOR may be counted.")  # fmt: skip
    if rec.stop_reason:
        notes.append(f"The capture stopped: {rec.stop_reason} ({rec.stop_detail}).")
    if rec.errors:
        notes.append("Error replies while capturing (INFO errorstats): "
                     + ", ".join(f"{k} {v:,}" for k, v in rec.errors.items()) + ".")
    return table, notes




def _inline(kind: str, title: str, make: Callable[[], Any] | None, clients: bool = False) -> Chart:
    """A chart for the model: its SVG drawn when ``make`` (which returns the chart's
    :class:`~monitorlens.render.plots.model.Plot`) is given, else only its kind and title
    (Markdown and JSON name the charts; ``plot`` draws them)."""
    svg = inline_svg(to_svg(make())) if make is not None else ""
    return Chart(kind, title, svg, clients)


def chart_of(kind: str, analysis: Analysis, draw: bool = True) -> Chart:
    """The chart ``kind`` of an analysis as inline SVG (the ``plot`` command draws the same)."""
    return _inline(kind, MONITOR_CHARTS[kind].title, (lambda: plot_of(kind, analysis)) if draw else None)


def clientlist_chart_of(kind: str, analysis: Analysis, draw: bool = True) -> Chart:
    """The chart ``kind`` of an analysis' CLIENT LIST snapshots as inline SVG (``plot`` draws the same)."""
    return _inline(kind, CLIENTLIST_CHARTS[kind].title, (lambda: clientlist_plot(kind, analysis)) if draw else None,
                   clients=True)


MONITOR_SECTIONS = (_traffic, _applications, _commands, _clients, _keys, _dbs, _gaps)


def build_report(
    analysis: Analysis,
    *,
    title: str | None = None,
    top: int | None = None,
    show_values: bool = False,
    charts: bool = True,
    stamp: Stamp | None = None,
    filters: Mapping[str, str] | None = None,
    baseline: Comparison | None = None,
) -> Report:
    """The report of an analysis; findings first (most severe first), values redacted.

    An analysis with a CLIENT LIST part (``analyze(events, snapshots=..., connections=...)``)
    gives the client sections too; its findings are already among ``analysis.findings``.
    ``charts=False`` leaves the charts' SVG out (faster; JSON and Markdown only name the
    charts, with the ``plot`` command that draws each). ``stamp`` writes the generation time
    and the time taken (off by default: the report is deterministic). ``filters`` says which
    filters made the events, for the header. ``baseline``
    (``compare(analyze(baseline_events), analysis)``) adds the section "Compared with the
    baseline" and names the baseline's file in the header.

    >>> build_report(analyze(load("capture.txt")), top=5).to_dict()["header"]["events"]  # doctest: +SKIP
    """
    top = analysis.top if top is None else top
    title = title or f"Redis MONITOR report: {Path(analysis.provenance.source).name}"
    clientlist = analysis.clientlist
    has_snapshots = clientlist is not None and clientlist.snapshots is not None

    def monitor_charts(kind: str) -> tuple[Chart, ...]:
        return (chart_of(kind, analysis, draw=charts),)

    def client_charts(kind: str) -> tuple[Chart, ...]:
        return (clientlist_chart_of(kind, analysis, draw=charts),) if has_snapshots else ()

    part = clientlist_part(clientlist, top=top, charts=client_charts) if clientlist is not None else None
    findings = sort_findings([redact_finding(f, show_values) for f in analysis.findings])
    sections = tuple(s for s in (make(analysis, top, monitor_charts) for make in MONITOR_SECTIONS) if s is not None)
    compared, baseline_sources = baseline_part(baseline, top=top, show_values=show_values)
    client_sources = part.sources if part is not None else ()
    client_sections = part.sections if part is not None else ()
    return Report(
        header=_header(analysis, title, show_values, stamp, (*client_sources, *baseline_sources), filters or {}),
        findings=tuple(findings),
        # What changed against the baseline comes right after the findings: it is the answer.
        sections=(*compared, *sections, *client_sections, _coverage(analysis, show_values)),
    )


