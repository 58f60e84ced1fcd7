"""The report: one model built from an :class:`~monitorlens.analysis.analyze.Analysis`, three renderings.

:func:`~.build.build_report` turns an analysis (with its CLIENT LIST part, when it has one)
into a :class:`~.model.Report`: a header with provenance, the findings (values redacted),
sections of tables and charts, and a coverage section. Nothing is computed here that the
analysis already computed; the report only picks, redacts, formats and lays out.

:meth:`Report.to_html` (one offline file: inline CSS, inline SVG charts, no script, no
request to any address), :meth:`Report.to_markdown` (for a ticket comment) and
:meth:`Report.to_json` (for automation) are pure functions of the model (:mod:`.html`), and
``_repr_html_`` (a notebook) is the same code as the file. Everything that came from a
capture is escaped (jinja2 autoescape); argument values are redacted unless
``show_values=True`` (see :mod:`monitorlens.render.redact`).

The report is deterministic: the same input gives the same bytes. The generation time
and the time taken are only written when asked for (``stamp=Stamp(...)``, the command
line's ``--timestamp``). Files are read and written by :mod:`monitorlens.workflows`.

Modules: :mod:`.model` (the frozen model), :mod:`.build` (the builder and the MONITOR
sections), :mod:`.clientlist` (the CLIENT LIST sections), :mod:`.baseline` ("Compared with
the baseline"), :mod:`.html` (HTML, Markdown, JSON; templates in ``templates/``).

Example::

    >>> rep = build_report(analyze(load("sample_captures/incident/monitor.txt.gz")))  # doctest: +SKIP
    >>> rep.to_html()[:15]  # doctest: +SKIP
    '<!DOCTYPE html>'
"""

from .build import TOP, build_report, chart_of, clientlist_chart_of
from .html import EVIDENCE_SHOWN, FORMATS, fmt, md_code, md_fence, md_text, render_html, render_json, render_markdown
from .model import Chart, Column, Header, Report, Section, SourceInfo, Stamp, Table, format_for, table_of

__all__ = [
    "Column", "Table", "Chart", "Section", "Header", "Stamp", "SourceInfo", "Report", "build_report",
    "chart_of", "clientlist_chart_of", "render_html", "render_markdown", "render_json", "FORMATS", "TOP",
    "EVIDENCE_SHOWN", "format_for", "table_of", "fmt", "md_text", "md_code", "md_fence",
]
