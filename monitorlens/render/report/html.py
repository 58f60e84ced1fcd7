"""The report's renderings: HTML (one offline page), Markdown (a ticket comment) and JSON.

Pure functions of a :class:`~monitorlens.render.report.model.Report`; everything that came
from a capture is escaped (jinja2 autoescape for HTML, :func:`md_text`/:func:`md_code` for
Markdown, :func:`~monitorlens.analysis.findings.printable` for both).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..._human import bytes_text, duration_text, minutes_text, time_text
from ..words import count_text, metric_label, metric_text, row_label, yes_no
from ...analysis.findings import printable
from ...analysis.records import finite

if TYPE_CHECKING:
    from .model import Report

__all__ = ["FORMATS", "EVIDENCE_SHOWN", "fmt", "md_text", "md_code", "md_fence", "render_html",
           "render_markdown", "render_json", "row_kind", "more"]

FORMATS = ("html", "md", "json")
EVIDENCE_SHOWN = 10  # clients, keys and rows of a finding's evidence shown in HTML/Markdown (JSON: all)


_ROW_KINDS = {
    **dict.fromkeys(("first", "last", "last_seen", "first_seen", "snapshot_ts", "start", "end"), "time"),
    **dict.fromkeys(("count", "calls", "id", "age", "idle", "events", "clients", "keys"), "int"),
    **dict.fromkeys(("omem", "qbuf", "tot_mem", "bytes", "arg_bytes", "growth_bytes_per_min"), "bytes"),
    **dict.fromkeys(("share", "blocked_share"), "pct"),
    **dict.fromkeys(("oll",), "int"),
    **dict.fromkeys(("call", "client", "addr", "command", "key", "name", "cmd"), "code"),
}


def row_kind(key: str, value: Any = None) -> str:
    """How to show a finding's evidence row cell ``key`` (the rows are free-form dicts).

    >>> row_kind("first"), row_kind("count", 3), row_kind("reason", "x"), row_kind("kill", True)
    ('time', 'int', 'text', 'yesno')
    """
    if isinstance(value, bool):
        return "yesno"
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


def fmt(value: Any, kind: str = "text", day: str = "") -> str:
    """One cell as text, by column kind (see :class:`Column`); null is ``–``. A time is
    ``YYYY-MM-DD HH:MM:SS.mmm``, or only its clock when it falls on ``day`` (see :func:`clock_day`).

    >>> fmt(0.1234, "pct"), fmt(54156, "us"), fmt(1234567, "int"), fmt(None, "int"), fmt(4.0, "num")
    ('12.3%', '54.2 ms', '1,234,567', '–', '4')
    >>> fmt(True, "yesno"), fmt(75.3, "minutes"), fmt("2026-11-25T21:25:04+00:00", "time", "2026-11-25")
    ('yes', '75 min', '21:25:04.000')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "–"
    if kind == "yesno":
        return yes_no(value)
    if kind == "minutes":
        return minutes_text(float(value))
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
        return bytes_text(float(value))
    if kind == "time":
        stamp = pd.Timestamp(value)
        clock = f"{stamp:%H:%M:%S}.{stamp.microsecond // 1000:03d}"
        return clock if day and f"{stamp:%Y-%m-%d}" == day else f"{stamp:%Y-%m-%d} {clock}"
    return printable(str(value))


def clock_day(rows: Sequence[Any], keys: Sequence[str] | None = None) -> str:
    """The date every time of a table falls on (``YYYY-MM-DD``), or ``""`` when they span
    days: then all its times are written with their date. One format per table. ``keys``:
    the table's time columns (default: the evidence row keys :func:`row_kind` calls times).

    >>> clock_day([{"first": "2026-11-25T21:25:04+00:00"}, {"first": "2026-11-25T23:59:59.5+00:00"}])
    '2026-11-25'
    """
    days = set()
    for row in rows:
        for key in keys if keys is not None else [k for k in row if row_kind(k) == "time"]:
            value = row.get(key)
            if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
                continue
            try:
                days.add(f"{pd.Timestamp(value):%Y-%m-%d}")
            except (ValueError, TypeError):
                return ""
    return days.pop() if len(days) == 1 else ""


_ADDRESS = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d+")


def addresses(text: Any) -> Any:
    """HTML of ``text`` (escaped) with each ``ip:port`` in a span that never breaks inside.

    >>> str(addresses("id=7 127.0.0.1:5 <b>"))
    'id=7 <span class="addr">127.0.0.1:5</span> &lt;b&gt;'
    """
    import markupsafe

    escaped = str(markupsafe.escape(str(text)))
    return markupsafe.Markup(_ADDRESS.sub(lambda m: f'<span class="addr">{m[0]}</span>', escaped))


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
        loader=jinja2.PackageLoader("monitorlens.render.report", "templates"),
        bytecode_cache=_bytecode_cache(),
        autoescape=kind == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.filters["addr"] = addresses
    env.globals["row_kind"] = row_kind
    env.globals["row_label"] = row_label
    env.globals["clock_day"] = clock_day
    env.globals["metric_label"] = metric_label
    env.globals["metric_text"] = metric_text
    env.globals["count_text"] = count_text
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
    return json.dumps(finite(report.to_dict()), indent=2, sort_keys=True, ensure_ascii=False,
                      allow_nan=False) + "\n"
