"""The terminal view of an :class:`~monitorlens.analysis.analyze.Analysis`: plain text, 80 columns.

Pure: :func:`render_text` turns an Analysis into a string; it computes nothing
and escapes every text that came from the capture (keys, names, arguments), so
control bytes cannot reach the terminal.

Example::

    >>> print(render_text(analyze(load("sample_captures/incident/monitor.txt.gz"))))  # doctest: +SKIP
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._human import seconds_text
from ..analysis.analyze import Analysis
from ..analysis.clientlist_analysis import ClientlistAnalysis
from ..analysis.findings import Finding, printable
from ..analysis.reconcile import Reconciliation
from .words import count_text, yes_no

MIN_WIDTH = 60
ELLIPSIS = "~"  # ASCII, so a cut is visible in any terminal encoding


@dataclass(frozen=True)
class TextColumn:
    """One column of a text table: source column, heading, formatter, alignment, priority.

    Columns with ``flex=True`` take the width left over and are cut to fit.
    """

    name: str
    heading: str
    fmt: Callable[[Any], str] = str
    right: bool = False
    flex: bool = False


def _null(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda v: "-" if v is None or (not isinstance(v, str) and pd.isna(v)) else fmt(v)


COUNT = _null(lambda v: f"{int(v):,}")
SHARE = _null(lambda v: f"{100 * v:.1f}%")
RATE = _null(lambda v: f"{v:,.1f}")
TEXT = _null(lambda v: printable(str(v)))
CLOCK = _null(lambda v: pd.Timestamp(v).strftime("%H:%M:%S"))
YES_NO = _null(yes_no)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def table(frame: pd.DataFrame, columns: Sequence[TextColumn], width: int, top: int, indent: int = 2) -> list[str]:
    """Rows of ``frame`` (the first ``top``) as aligned text lines no wider than ``width``.

    >>> table(pd.DataFrame({"a": ["x"], "n": [3]}), [TextColumn("a", "A", flex=True), TextColumn("n", "N", right=True)], 20, 5)
    ['  A     N', '  x     3']
    """
    if frame.empty:
        return []
    head = frame.head(top)
    cells = [[c.fmt(v) for v in head[c.name]] if c.name in head.columns else ["-"] * len(head) for c in columns]
    widths = [max([len(c.heading), *map(len, col)]) for c, col in zip(columns, cells)]
    fixed = sum(w for c, w in zip(columns, widths) if not c.flex) + 2 * (len(columns) - 1) + indent
    flex = [i for i, c in enumerate(columns) if c.flex]
    if flex:
        room = max(width - fixed, 6 * len(flex))
        for i in flex:
            widths[i] = min(widths[i], max(room // len(flex), len(columns[i].heading)))
    lines = []
    for row in [[c.heading for c in columns], *zip(*cells)]:
        parts = [(_cut(v, w).rjust(w) if c.right else _cut(v, w).ljust(w)) for c, v, w in zip(columns, row, widths)]
        lines.append((" " * indent + "  ".join(parts)).rstrip())
    return lines


def _section(title: str, body: list[str], total: int | None = None, shown: int | None = None) -> list[str]:
    more = f" (top {shown} of {total:,})" if total is not None and shown is not None and total > shown else ""
    return ["", f"{title}{more}", *(body or ["  (none)"])]


def _overview(a: Analysis, width: int) -> list[str]:
    ov = a.overview
    lines = [f"monitorlens summary of {printable(ov.source)}"]
    lines.append(f"  {ov.lines:,} lines read: {ov.events:,} events"
                 + (" after filters" if ov.filtered else "")
                 + f", {ov.rejected:,} rejected, {ov.skipped:,} skipped")
    if ov.filters:
        text = "; ".join(f"{k} {printable(v)}" for k, v in ov.filters.items())
        lines += textwrap.wrap(f"filters: {text}", width=width, initial_indent="  ", subsequent_indent="    ")
    if ov.first:
        first, last = pd.Timestamp(ov.first), pd.Timestamp(ov.last)
        end = last.strftime("%H:%M:%S.%f")[:-3] if first.date() == last.date() else last.strftime("%Y-%m-%d %H:%M:%S")
        rate = f", {ov.rate_per_s:,.1f} events/s" if ov.rate_per_s is not None else ""
        lines.append(f"  {first.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} .. {end} UTC"
                     f" ({seconds_text(ov.duration_s)}){rate}")
    dbs = ", ".join(map(str, ov.dbs)) or "-"
    lines.append(f"  {ov.clients:,} clients, {ov.commands:,} distinct commands, db {dbs}")
    counts = pd.Series([f.severity for f in a.findings], dtype="str").value_counts()
    tally = ", ".join(f"{counts[s]} {s}" for s in ("critical", "warning", "info") if s in counts)
    lines.append(f"  findings: {tally or 'none'} (below)")
    if a.provenance.rejects_by_reason:
        lines.append("  rejected: " + ", ".join(f"{n:,} {r}" for r, n in a.provenance.rejects_by_reason.items()))
    if a.reconciliation is not None:
        lines += textwrap.wrap(a.reconciliation.headline(), width=width, initial_indent="  ", subsequent_indent="    ")
    return lines


def _reconciliation(rec: Reconciliation, width: int) -> list[str]:
    """MONITOR against the server's commandstats, a line per command (most run first)."""
    stop = f"; the capture stopped: {rec.stop_reason} ({rec.stop_detail})" if rec.stop_reason else ""
    head = textwrap.wrap(f"{'Exact' if rec.exact else 'Approximate'} counts from server.json{stop}.", width=width,
                         initial_indent="  ", subsequent_indent="    ")  # fmt: skip
    body = [textwrap.shorten(line, width=width - 2, placeholder="...") for line in rec.lines()]
    return _section("MONITOR against what the server ran (commandstats)", head + ["  " + line for line in body])


COMMAND_TEXT_COLUMNS = (
    TextColumn("command", "command", TEXT, flex=True), TextColumn("count", "count", COUNT, right=True),
    TextColumn("share", "share", SHARE, right=True), TextColumn("rate_per_s", "/s", RATE, right=True),
    TextColumn("clients", "clients", COUNT, right=True), TextColumn("first", "first", CLOCK),
    TextColumn("last", "last", CLOCK),
)
CLIENT_TEXT_COLUMNS = (
    TextColumn("client", "client", TEXT, flex=True), TextColumn("name", "name", TEXT, flex=True),
    TextColumn("count", "events", COUNT, right=True), TextColumn("share", "share", SHARE, right=True),
    TextColumn("lua_count", "lua", COUNT, right=True), TextColumn("command_mix", "mix", TEXT, flex=True),
)
PATTERN_TEXT_COLUMNS = (
    TextColumn("pattern", "pattern", TEXT, flex=True), TextColumn("count", "refs", COUNT, right=True),
    TextColumn("share", "share", SHARE, right=True), TextColumn("keys", "keys", COUNT, right=True),
    TextColumn("read_share", "read", SHARE, right=True), TextColumn("command_mix", "mix", TEXT, flex=True),
)
HOT_KEY_TEXT_COLUMNS = (
    TextColumn("key", "key", TEXT, flex=True), TextColumn("count", "refs", COUNT, right=True),
    TextColumn("clients", "clients", COUNT, right=True), TextColumn("command_mix", "mix", TEXT, flex=True),
)
NODE_TEXT_COLUMNS = (
    TextColumn("node", "node", TEXT, flex=True), TextColumn("count", "events", COUNT, right=True),
    TextColumn("share", "share", SHARE, right=True), TextColumn("first", "first", CLOCK),
    TextColumn("last", "last", CLOCK),
)
SLOT_TEXT_COLUMNS = (
    TextColumn("slot", "slot", COUNT, right=True), TextColumn("count", "key refs", COUNT, right=True),
    TextColumn("share", "share", SHARE, right=True),
)


def _finding(f: Finding, width: int) -> list[str]:
    wrap = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="    ")
    lines = textwrap.wrap(printable(f.title), width=width, initial_indent=f"  [{f.severity}] ",
                          subsequent_indent=" " * (len(f.severity) + 5))
    ev = f.evidence
    if ev.first and ev.count:
        span = ev.first[11:23] + (f" .. {ev.last[11:23]}" if ev.last and ev.last != ev.first else "")
        lines += wrap.wrap(f"{count_text(ev.count, ev.unit)}, {span} UTC")
    lines += wrap.wrap(printable(f.explanation))
    lines += wrap.wrap("What to do: " + printable(f.action))
    for s in ev.samples:
        lines += textwrap.wrap(f"{printable(s.where)}: {printable(s.text)}", width=width, initial_indent="    ",
                               subsequent_indent="      ", break_on_hyphens=False)
    return lines


TREND_TEXT_COLUMNS = (
    TextColumn("name", "name", TEXT, flex=True), TextColumn("first_clients", "first", COUNT, right=True),
    TextColumn("last_clients", "last", COUNT, right=True), TextColumn("max_clients", "max", COUNT, right=True),
    TextColumn("slope_per_min", "per min", RATE, right=True), TextColumn("leaking", "leaking", YES_NO),
    TextColumn("surging", "surging", YES_NO),
)
APPLICATION_TEXT_COLUMNS = (
    TextColumn("application", "application", TEXT, flex=True),
    TextColumn("connections", "conns", COUNT, right=True),
    TextColumn("events", "events", COUNT, right=True), TextColumn("share", "share", SHARE, right=True),
    TextColumn("rate_per_s", "/s", RATE, right=True), TextColumn("command_mix", "mix", TEXT, flex=True),
)
LISTED_TEXT_COLUMN = TextColumn("connected_at_end", "at end", COUNT, right=True)


def _applications(a: Analysis, width: int, top: int) -> list[str]:
    """Traffic by application, when any client has a name (else it is the clients table again)."""
    apps = a.applications
    if apps.empty or not apps["named"].astype(bool).any():
        return []
    columns = list(APPLICATION_TEXT_COLUMNS)
    if "connected_at_end" in apps.columns:
        columns.insert(2, LISTED_TEXT_COLUMN)
    note = "conns: addresses in the capture" + (
        "; at end: connected in the last CLIENT LIST snapshot" if "connected_at_end" in apps.columns else "")
    body = [*textwrap.wrap(note, width=width, initial_indent="  ", subsequent_indent="  "),
            *table(apps, columns, width, top)]
    return _section("Applications (clients by name; unnamed ones by host)", body, len(apps), top)


def _clientlist(c: ClientlistAnalysis, width: int, top: int) -> list[str]:
    """The CLIENT LIST part: what was read, connections by name with their trend, the kill plan."""
    body: list[str] = []
    if c.snapshots is not None:
        s = c.snapshots
        types = ", ".join(f"{n:,} {t}" for t, n in s.client_types.items()) or "none"
        body += textwrap.wrap(f"{s.count:,} snapshots of {printable(s.provenance.source)}; "
                              f"{s.connected:,} clients in the last ({types})", width=width,
                              initial_indent="  ", subsequent_indent="    ")
        body += table(s.trends, TREND_TEXT_COLUMNS, width, top)
        if s.plan_text:
            lines = s.plan_text.splitlines()  # two per client: why, then the command
            more = f" (first {top} of {len(lines) // 2}; all in --json)" if len(lines) > 2 * top else ""
            body += [f"  kill plan{more}, to review before pasting:",
                     *(f"    {printable(line)}" for line in lines[: 2 * top])]
    if c.connections is not None:
        k = c.connections
        body.append(f"  {k.rows:,} connection counts of {printable(k.provenance.source)}")
        body += table(k.trend, TREND_TEXT_COLUMNS, width, top)
    return _section("Connections (CLIENT LIST)", body)


def render_text(analysis: Analysis, width: int = 80, top: int | None = None) -> str:
    """The summary as text lines of at most ``width`` characters (at least 60).

    Sections: overview, top commands, applications (when names are known), clients, key
    patterns, hot keys, nodes and hash slots when several captures were analysed as one, the
    CLIENT LIST part when the analysis has one, MONITOR against the server's counts for a
    capture bundle, findings.

    >>> print(render_text(analyze(read_monitor("capture.txt"))))  # doctest: +SKIP
    """
    a, width = analysis, max(width, MIN_WIDTH)
    top = a.top if top is None else top
    out = _overview(a, width)
    out += _section("Top commands", table(a.commands, COMMAND_TEXT_COLUMNS, width, top), len(a.commands), top)
    out += _applications(a, width, top)
    out += _section("Clients (lua lines credited to their script's caller)",
                    table(a.clients, CLIENT_TEXT_COLUMNS, width, top), len(a.clients), top)
    out += _section("Key patterns", table(a.key_patterns, PATTERN_TEXT_COLUMNS, width, top), len(a.key_patterns), top)
    out += _section("Hot keys", table(a.hot_keys, HOT_KEY_TEXT_COLUMNS, width, top))
    if a.nodes is not None:
        out += _section("Nodes (captures analysed as one)", table(a.nodes, NODE_TEXT_COLUMNS, width, len(a.nodes)))
    if a.slots is not None:
        out += _section("Busiest Redis Cluster hash slots", table(a.slots, SLOT_TEXT_COLUMNS, width, top),
                        len(a.slots), top)
    if a.clientlist is not None:
        out += _clientlist(a.clientlist, width, top)
    if a.reconciliation is not None:
        out += _reconciliation(a.reconciliation, width)
    body = [line for f in a.findings for line in ["", *_finding(f, width)]][1:]
    out += _section("Findings, most severe first", body)
    return "\n".join(line if len(line) <= width else _cut(line, width) for line in out) + "\n"
