"""Findings: what a post-mortem should look at, as data.

A :class:`Finding` is a frozen value; rules build them and templates render
them. Rules for MONITOR captures live here; rules for CLIENT LIST snapshots
live in :mod:`monitorlens.clients` and return the same type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER: Mapping[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Sample:
    """One source line that shows a finding: its line number and its text."""

    line: int
    text: str


@dataclass(frozen=True)
class Evidence:
    """What a finding rests on. Every field is optional; empty means unknown."""

    count: int = 0
    first: str | None = None  # ISO 8601 UTC
    last: str | None = None
    commands: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    samples: tuple[Sample, ...] = ()
    # Named numbers (slope_per_min, share, bytes...) and a small table of rows.
    metrics: Mapping[str, float] = field(default_factory=dict)
    rows: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Finding:
    """One thing worth a responder's attention, with its evidence and the fix."""

    code: str
    severity: Severity
    title: str
    explanation: str
    action: str
    evidence: Evidence = Evidence()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        ev = self.evidence
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "action": self.action,
            "evidence": {
                "count": ev.count,
                "first": ev.first,
                "last": ev.last,
                "commands": list(ev.commands),
                "clients": list(ev.clients),
                "keys": list(ev.keys),
                "samples": [{"line": s.line, "text": s.text} for s in ev.samples],
                "metrics": dict(ev.metrics),
                "rows": [dict(r) for r in ev.rows],
            },
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by code, stable otherwise."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code))


# ------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Thresholds:
    """Every number the MONITOR rules compare against, with its default and why."""

    client_share: float = 0.5
    """One client sending more than this share of all events is a finding (warning)."""
    client_share_min_events: int = 200
    """...but only in captures of at least this many events (tiny captures are lopsided)."""


def find_all(events: "pd.DataFrame", thresholds: Thresholds = Thresholds()) -> list[Finding]:
    """Every MONITOR rule's findings for these events, most severe first.

    >>> [f.code for f in find_all(read_monitor("sample_captures/incident/monitor.txt.gz"))]  # doctest: +SKIP
    """
    found: list[Finding] = []
    for rule in RULES:
        found.extend(rule(events, thresholds))
    return sort_findings(found)


RULES: list = []
