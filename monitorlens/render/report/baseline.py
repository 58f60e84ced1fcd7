"""The report's "Compared with the baseline" section, from a :class:`~monitorlens.analysis.comparison.Comparison`.

:func:`baseline_section` lays out what :func:`~monitorlens.analysis.comparison.compare` found between a
baseline capture (a calm day, before a deploy) and the reported capture: commands, clients
and key patterns by rate, and the findings that are new, resolved or still there. It
computes nothing itself; finding titles are redacted like the report's findings.

Example::

    >>> c = compare(analyze(load("calm/monitor.txt.gz")), analysis)  # doctest: +SKIP
    >>> baseline_section(c, top=5).tables[0].rows[0]["change"]  # doctest: +SKIP
    'new'
"""

from __future__ import annotations

from dataclasses import replace

from ..._human import seconds_text
from ...analysis.comparison import Comparison
from ..redact import redact_finding
from .model import Column, Section, SourceInfo, table_of

__all__ = ["baseline_section"]

RATE_COLUMNS = (("before_count", "Baseline", "int"), ("after_count", "This capture", "int"),
                ("before_rate", "Baseline rate", "rate"), ("after_rate", "Rate", "rate"),
                ("rate_change", "× rate", "float"), ("change", "Change", "text"))
FINDING_COLUMNS = (("status", "Status", "text"), ("severity", "Severity", "text"), ("code", "Finding", "code"),
                   ("title", "Title", "text"))


def _columns(key: str, label: str) -> tuple[Column, ...]:
    return (Column(key, label, "code"), *(Column(k, lab, kind) for k, lab, kind in RATE_COLUMNS))


def baseline_section(comparison: Comparison, *, top: int = 10, show_values: bool = False) -> Section:
    """The section comparing the report's capture (``comparison.after``) with its baseline.

    Rows are ordered by how far their rate moved, the ``top`` first; ``change`` is ``new``,
    ``gone``, ``up``, ``down`` (more than 10% by rate) or ``same``.

    >>> baseline_section(compare(before, after), top=5).id  # doctest: +SKIP
    'baseline'
    """
    c = comparison
    before, after = c.before.overview, c.after.overview
    titles = {f.title: redact_finding(f, show_values).title for f in (*c.before.findings, *c.after.findings)}
    findings = c.findings.assign(title=c.findings["title"].map(lambda t: titles.get(t, t)))
    intro = (
        f"Baseline: {before.source} ({before.events:,} events over {seconds_text(before.duration_s)}). "
        "Counts are compared by rate, per second of each capture's own span; clients by name when "
        "known, else by host. Filters apply to this capture only; the baseline is read whole."
    )
    return Section(
        "baseline", "Compared with the baseline", intro, (),
        (
            table_of("Commands", c.commands, _columns("command", "Command"), top),
            table_of("Clients", c.clients, _columns("who", "Client"), top),
            table_of("Key patterns", c.key_patterns, _columns("pattern", "Key pattern"), top),
            table_of("Findings: new, resolved, still there", findings,
                     tuple(Column(k, lab, kind) for k, lab, kind in FINDING_COLUMNS), None),
        ),
        notes=(f"This capture: {after.events:,} events over {seconds_text(after.duration_s)}.",),
    )


def baseline_part(
    comparison: Comparison | None, *, top: int = 10, show_values: bool = False
) -> tuple[tuple[Section, ...], tuple[SourceInfo, ...]]:
    """The report's baseline section and the baseline's file for the header (both empty without one).

    >>> baseline_part(None)
    ((), ())
    """
    if comparison is None:
        return (), ()
    source = replace(SourceInfo.of(comparison.before.provenance), kind="baseline")
    return (baseline_section(comparison, top=top, show_values=show_values),), (source,)
