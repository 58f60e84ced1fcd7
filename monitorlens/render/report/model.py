"""The report's model: header, findings, sections of tables and charts; frozen values.

:class:`Report` renders itself with :mod:`monitorlens.render.report.html` (HTML, Markdown,
JSON); :func:`table_of` is how a DataFrame becomes a :class:`Table`.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ... import __version__
from ...analysis.analyze import Overview
from ...analysis.findings import Finding
from ...analysis.records import records
from ...errors import InputError
from ...outputs import output_file
from ...read.schema import Provenance
from .html import FORMATS, render_html, render_json, render_markdown

__all__ = ["Column", "Table", "Chart", "Section", "Header", "Stamp", "SourceInfo", "Report", "format_for",
           "table_of", "ChartMaker"]


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

    def write(self, path: str | os.PathLike[str], fmt: str | None = None, *, inputs: Iterable[object] = ()) -> Path:
        """Write the report to ``path`` in ``fmt`` (default: from the suffix, else html); ``-`` is
        stdout. Written whole or not at all, never over one of ``inputs``
        (:func:`monitorlens.outputs.output_file`)."""
        text = self.render(fmt or format_for(path))
        with output_file(path, binary=False, inputs=inputs) as f:
            f.write(text)
        return Path(path)

    def _repr_html_(self) -> str:
        return render_html(self)


def format_for(path: str | os.PathLike[str], default: str = "html") -> str:
    """The format a file name asks for: ``.html``/``.htm`` html, ``.md`` md, ``.json`` json.

    >>> format_for("incident.md"), format_for("report.htm"), format_for("out")
    ('md', 'html', 'html')
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"htm": "html", "html": "html", "md": "md", "markdown": "md", "json": "json"}.get(suffix, default)


def table_of(
    title: str, frame: pd.DataFrame, columns: Sequence[Column], top: int | None, note: str = ""
) -> Table:
    """The top ``top`` rows of ``frame`` (all for None) as a :class:`Table` of ``columns``."""
    rows = records(frame, {c.key: c.key for c in columns}, top)
    return Table(title, tuple(columns), tuple(rows), total=len(frame), note=note)


ChartMaker = Callable[[str], tuple[Chart, ...]]  # a chart kind -> its charts (none when not drawn)
