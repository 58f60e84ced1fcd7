"""Findings: what a post-mortem should look at, as data.

A :class:`Finding` is a frozen value; rules build them and templates render
them. The rules for MONITOR captures live in :mod:`monitorlens.analysis.rules` (their
evidence is gathered by :mod:`monitorlens.analysis.evidence`); the rules for CLIENT LIST
snapshots live in :mod:`monitorlens.analysis.clientlist` and return the same type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

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


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (C0, DEL, C1) and bidi overrides escaped.

    >>> printable("a\\x1b[31mred\\u202e")
    'a\\\\x1b[31mred\\\\u202e'
    """
    return _UNSAFE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)
