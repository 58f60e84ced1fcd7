"""Two captures side by side (before/after a deploy): what changed in commands, clients, key patterns.

Captures differ in length, so rows are compared by rate (per second of each
capture's own span), not by raw counts. Clients are matched by who they are
(their name when known, else their host), since ports change with every
connection.

Example::

    >>> c = compare(analyze(load("before.parquet")), analyze(load("after.parquet")))  # doctest: +SKIP
    >>> c.commands.head()  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .analyze import Analysis, analyze
from .records import records
from ..read.grammar import classify_source

COLUMNS = ["before_count", "after_count", "before_rate", "after_rate", "rate_change", "change"]


@dataclass(frozen=True, eq=False)
class Comparison:
    """What changed between ``before`` and ``after``.

    Each table has one row per command / client / key pattern seen in either
    capture, with ``before_count``, ``after_count``, ``before_rate``,
    ``after_rate`` (per second), ``rate_change`` (after / before; inf for new
    rows) and ``change`` (``new``, ``gone``, ``up``, ``down``, ``same``), ordered by
    the size of the change in rate. ``findings`` lists finding codes and titles
    with ``status`` ``new``, ``resolved`` or ``still`` (or ``no CLIENT LIST on one side``
    for a CLIENT LIST finding when only one capture came with snapshots).
    """

    before: Analysis
    after: Analysis
    commands: pd.DataFrame
    clients: pd.DataFrame
    key_patterns: pd.DataFrame
    findings: pd.DataFrame

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """JSON-ready: both overviews and the top rows of each table."""
        cols = {c: c for c in COLUMNS}
        return {
            "before": self.before.overview.to_dict(),
            "after": self.after.overview.to_dict(),
            "commands": records(self.commands, {"command": "command", **cols}, top),
            "clients": records(self.clients, {"who": "who", **cols}, top),
            "key_patterns": records(self.key_patterns, {"pattern": "pattern", **cols}, top),
            "findings": records(self.findings, {"code": "code", "severity": "severity",
                                                "title": "title", "status": "status"}),
        }


def who(clients: pd.DataFrame) -> pd.Series:
    """The name of each client row when known, else its host (or its kind: lua, unix, module)."""

    def fallback(source: str) -> str:
        kind, host, _ = classify_source(source)
        return host if host else kind

    names = clients["name"].astype("str") if "name" in clients else pd.Series(pd.NA, index=clients.index)
    hosts = clients["client"].astype("str").map(fallback)
    return names.where(names.notna() & (names != ""), hosts).rename("who")


def _side_by_side(before: pd.Series, after: pd.Series, b_seconds: float, a_seconds: float) -> pd.DataFrame:
    table = pd.DataFrame({"before_count": before, "after_count": after}).fillna(0).astype("int64")
    table["before_rate"] = table["before_count"] / b_seconds if b_seconds > 0 else np.nan
    table["after_rate"] = table["after_count"] / a_seconds if a_seconds > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        table["rate_change"] = table["after_rate"] / table["before_rate"]
    table["change"] = np.select(
        [table["before_count"] == 0, table["after_count"] == 0,
         table["rate_change"] > 1.1, table["rate_change"] < 1 / 1.1],
        ["new", "gone", "up", "down"], default="same",
    )
    order = (table["after_rate"] - table["before_rate"]).abs().fillna(0)
    return table.assign(_order=order).sort_values("_order", ascending=False, kind="stable").drop(columns="_order")


def _counts(table: pd.DataFrame, key: pd.Series | str) -> pd.Series:
    keys = table[key] if isinstance(key, str) else key
    return table["count"].groupby(keys.astype("str").to_numpy()).sum()


def _findings(before: Analysis, after: Analysis) -> pd.DataFrame:
    """Findings matched by code, commands and keys (titles name addresses, which change)."""

    def index(a: Analysis) -> dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any]:
        return {(f.code, f.evidence.commands, f.evidence.keys): f for f in a.findings}

    def listed(x: Analysis) -> set[int]:
        return {id(f) for f in x.clientlist.findings} if x.clientlist is not None else set()

    b, a = index(before), index(after)
    # A CLIENT LIST finding on one side only says nothing when the other had no CLIENT LIST.
    blind = listed(after) | listed(before) if (before.clientlist is None) != (after.clientlist is None) else set()
    rows = []
    for k in sorted(set(b) | set(a), key=lambda k: (k[0], k[1], k[2])):
        f = a.get(k) or b[k]
        status = "still" if k in a and k in b else ("new" if k in a else "resolved")
        if status != "still" and id(f) in blind:
            status = "no CLIENT LIST on one side"
        rows.append({"code": f.code, "title": f.title, "severity": f.severity, "status": status})
    return pd.DataFrame(rows, columns=["code", "title", "severity", "status"])


def compare(before: Analysis | pd.DataFrame, after: Analysis | pd.DataFrame) -> Comparison:
    """Compare two captures (their :class:`Analysis`, or their events, analysed here).

    >>> compare(load("before.txt.gz"), load("after.txt.gz")).commands.head()  # doctest: +SKIP
    """
    b = before if isinstance(before, Analysis) else analyze(before)
    a = after if isinstance(after, Analysis) else analyze(after)
    bs, as_ = b.overview.duration_s, a.overview.duration_s

    def table(bt: pd.Series, at: pd.Series, name: str) -> pd.DataFrame:
        return _side_by_side(bt, at, bs, as_).rename_axis(name).reset_index()

    return Comparison(
        before=b,
        after=a,
        commands=table(_counts(b.commands, "command"), _counts(a.commands, "command"), "command"),
        clients=table(_counts(b.clients, who(b.clients)), _counts(a.clients, who(a.clients)), "who"),
        key_patterns=table(_counts(b.key_patterns, "pattern"), _counts(a.key_patterns, "pattern"), "pattern"),
        findings=_findings(b, a),
    )
