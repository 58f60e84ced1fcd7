"""Findings: what a post-mortem should look at, as data.

A :class:`Finding` is a frozen value; rules build them and templates render
them. The rules for MONITOR captures live in :mod:`monitorlens.analysis.rules` (their
evidence is gathered by :mod:`monitorlens.analysis.evidence`); the rules for CLIENT LIST
snapshots live in :mod:`monitorlens.analysis.clientlist` and return the same type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Any, Literal, Mapping, Union

from ..read.grammar import escape

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER: Mapping[str, int] = {"critical": 0, "warning": 1, "info": 2}


def quoted(arg: bytes, size: int | None = None, limit: int = 80) -> str:
    """One argument as MONITOR quotes it, cut to ``limit`` bytes with its whole ``size`` said.

    >>> quoted(b"k"), quoted(b"x" * 5, limit=3)
    ('"k"', '"xxx..." (5 bytes)')
    """
    size = len(arg) if size is None else size
    if size <= limit and len(arg) <= limit:
        return escape(arg).decode("ascii")
    return escape(arg[:limit]).decode("ascii")[:-1] + f'..." ({size:,} bytes)'


@dataclass(frozen=True)
class Call:
    """A command as a finding's evidence quotes it: its name, its arguments (each cut to
    ``limit`` + 1 bytes, with its whole size) and a note such as ``(all)``.

    ``str()`` is the call with nothing hidden; views redact it by argument role
    (:func:`monitorlens.render.redact.redact_call`).
    """

    command: str
    args: tuple[bytes, ...] = ()
    sizes: tuple[int, ...] = ()
    limit: int = 40
    note: str = ""

    @classmethod
    def of(cls, command: str, args: Any, limit: int = 40, note: str = "") -> "Call":
        """A call from whole arguments (kept cut, with their sizes)."""
        argv = [bytes(a) for a in args]
        return cls(command, tuple(a[: limit + 1] for a in argv), tuple(len(a) for a in argv), limit, note)

    def __str__(self) -> str:
        words = [self.command, *(quoted(a, n, self.limit) for a, n in zip(self.args, self.sizes))]
        return " ".join(words) + (f" {self.note}" if self.note else "")


@dataclass(frozen=True)
class Sample:
    """One source line that shows a finding: its line number, its text and, for an event,
    what it is made of (time, database, source, command, argument bytes).

    ``text`` is the line re-rendered from the event with nothing hidden (long arguments cut
    to ``arg_limit`` bytes), or a rejected line as read. Views never print it as is: they
    render the event again with each argument shown or hidden by its role
    (:func:`monitorlens.render.redact.redact_sample`); only a rejected line, which has no
    structure, is redacted from its text.
    """

    line: int
    text: str
    time: str | None = None  # ISO 8601 UTC
    db: int | None = None
    source: str | None = None  # the client label: address as printed, and its name when known
    command: str | None = None  # None: not an event (a rejected line)
    args: tuple[bytes, ...] = ()  # each cut to arg_limit + 1 bytes (enough to know it was cut)
    sizes: tuple[int, ...] = ()  # each argument's whole size in bytes
    arg_limit: int = 80
    node: str = ""  # the capture (node) the line is in, when the analysis read several

    @property
    def where(self) -> str:
        """``line 12``, or ``node-a line 12`` when the analysis read several captures."""
        return f"{self.node} line {self.line}" if self.node else f"line {self.line}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: line, text, the time and source of an event (arguments are in the
        text), and its node when the analysis read several."""
        out: dict[str, Any] = {"line": self.line, "text": self.text}
        if self.command is not None:
            out |= {"time": self.time, "source": self.source}
        if self.node:
            out["node"] = self.node
        return out


Cell = Union[str, int, float, bool, None, Call]
"""What one cell of an evidence row may hold: JSON-ready values, or a :class:`Call` (views
redact it by argument role)."""

_CELL_TYPES = (str, int, float, bool, type(None), Call)


@dataclass(frozen=True, eq=False)
class Row(Mapping[str, Cell]):
    """One row of a finding's evidence table: typed cells by column key, in column order.

    Read it as a mapping (``row["id"]``, ``row.items()``): the templates and the JSON do.
    :meth:`of` refuses a cell that is not a :data:`Cell` (a numpy scalar, a Timestamp), so
    what reaches a view is always a plain value.

    >>> Row.of({"client": "127.0.0.1:5", "count": 3})["count"]
    3
    """

    cells: tuple[tuple[str, Cell], ...] = ()

    @classmethod
    def of(cls, cells: Mapping[str, Any]) -> "Row":
        """A row from column key -> value; TypeError on a value that is not a :data:`Cell`."""
        for key, value in cells.items():
            if not isinstance(value, _CELL_TYPES):
                raise TypeError(f"evidence cell {key!r}: {type(value).__name__} is not a plain value")
        return cls(tuple(cells.items()))

    def __getitem__(self, key: str) -> Cell:
        for k, v in self.cells:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.cells)

    def __len__(self) -> int:
        return len(self.cells)


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
    rows: tuple[Row, ...] = ()
    # What ``count`` counts, in the plural: events (MONITOR lines), clients, lines...
    unit: str = "events"

    def __post_init__(self) -> None:
        # A plain mapping (release 0.1's rows) becomes a Row: its cells are checked the same.
        if any(not isinstance(row, Row) for row in self.rows):
            object.__setattr__(self, "rows", tuple(r if isinstance(r, Row) else Row.of(r) for r in self.rows))


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
                "unit": ev.unit,
                "first": ev.first,
                "last": ev.last,
                "commands": list(ev.commands),
                "clients": list(ev.clients),
                "keys": list(ev.keys),
                "samples": [s.to_dict() for s in ev.samples],
                "metrics": dict(ev.metrics),
                "rows": [{k: str(v) if isinstance(v, Call) else v for k, v in r.items()} for r in ev.rows],
            },
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by code, stable otherwise."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code))


# C0, DEL, C1; soft hyphen; zero-width and bidi marks, embeddings, overrides and isolates;
# line/paragraph separators; word joiner and invisible operators; the BOM / zero-width no-break.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\xad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (C0, DEL, C1) and the characters that
    hide or reorder text (zero-width, bidi, BOM) escaped, so ``user:\\u200b1`` never looks
    like ``user:1``.

    >>> printable("a\\x1b[31mred\\u202e")
    'a\\\\x1b[31mred\\\\u202e'
    >>> printable("user:\\u200b1")
    'user:\\\\u200b1'
    """
    return _UNSAFE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


TEXT_LIMIT = 200  # characters of one key, name or value shown in any table or list


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """A long text (a 20 MB key) cut to ``limit`` characters, with its whole size said.

    >>> clip("k" * 5, 3), clip("short")
    ('kkk... (5 bytes)', 'short')
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text.encode('utf-8', 'surrogateescape')):,} bytes)"
