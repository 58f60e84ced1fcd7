"""What MONITOR showed against what the server ran: a capture bundle's commandstats deltas.

``server.json`` of a bundle holds ``INFO commandstats`` just before MONITOR started and just
after it ended (taken on the MONITOR connection itself, so nothing else runs in between:
``capture.exact``). For each command (``get``, ``client|setname`` from Redis 7.0):

- ``run``: the ``calls`` delta; ``failed``/``rejected``: the ``failed_calls`` (ran and
  failed) and ``rejected_calls`` (refused before running, never shown) deltas;
- ``shown``: the MONITOR lines in the capture, ``unkept``: lines the server sent after a
  line or byte limit, counted but not kept;
- ``own_unseen``: the capture's own commands MONITOR cannot show (the INFO sent with
  MONITOR, MONITOR, its CLIENT LIST snapshots);
- ``others = run - own_unseen``: what ran, the capture's hidden commands left out;
- ``unseen = others - shown - unkept``: what others ran that MONITOR did not show
  (admin commands such as CONFIG, CLIENT LIST). On an exact capture it is 0 for every
  command MONITOR shows.

Memory: one row per distinct command.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..commands import hidden_from_monitor

__all__ = ["Reconciliation", "reconcile", "reconcile_shown", "shown_counts", "shown_pairs", "RECONCILE_COLUMNS"]

RECONCILE_COLUMNS = ("command", "shown", "unkept", "run", "own_unseen", "others", "unseen", "failed", "rejected",
                     "hidden")  # fmt: skip


@dataclass(frozen=True)
class Reconciliation:
    """The comparison of one bundle; ``table`` has one row per command (:data:`RECONCILE_COLUMNS`).

    >>> print(reconcile(events, bundle.server).lines()[0])  # doctest: +SKIP
    GET: 1,605 shown, 1,605 run
    """

    table: pd.DataFrame
    exact: bool
    version: str | None = None
    maxclients: int | None = None
    stop_reason: str | None = None
    stop_detail: str = ""
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def shown_total(self) -> int:
        """MONITOR lines compared (kept in the file)."""
        return int(self.table["shown"].sum())

    @property
    def run_total(self) -> int:
        """Commands the server ran in the window (commandstats calls)."""
        return int(self.table["run"].sum())

    def headline(self) -> str:
        """One line: how much of what the server ran MONITOR showed, and whether exactly.

        >>> rec.headline()  # doctest: +SKIP
        'MONITOR showed 8,706 of the 8,948 commands the server ran (exact); unseen: CONFIG GET 121, CLIENT LIST 121'
        """
        t = self.table
        others = int(t["others"].sum())
        how = "exact" if self.exact else "approximate: the capture did not end cleanly"
        unseen = self.unseen
        names = ", ".join(f"{c.upper().replace('|', ' ')} {n:,}" for c, n in zip(unseen["command"], unseen["unseen"]))
        return (f"MONITOR showed {self.shown_total:,} of the {others:,} commands the server ran ({how})"
                + (f"; unseen: {names}" if names else ""))

    @property
    def unseen(self) -> pd.DataFrame:
        """Rows of commands others ran that MONITOR did not show (``unseen > 0``)."""
        return self.table[self.table["unseen"] > 0]

    @property
    def mismatched(self) -> pd.DataFrame:
        """Rows of commands MONITOR shows whose counts still differ (should be empty when exact)."""
        return self.table[~self.table["hidden"] & (self.table["unseen"] != 0)]

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain JSON values (``summary --json``, the report's JSON)."""
        return {
            "exact": self.exact, "version": self.version, "maxclients": self.maxclients,
            "stop_reason": self.stop_reason, "stop_detail": self.stop_detail,
            "shown": self.shown_total, "run": self.run_total, "errors": dict(self.errors),
            "commands": [{k: (bool(v) if k == "hidden" else v if k == "command" else int(v)) for k, v in row.items()}
                         for row in self.table.to_dict("records")],
        }  # fmt: skip

    def lines(self) -> list[str]:
        """One line per command, ``GET: 1,605 shown, 1,605 run``, most run first, then
        what ran unseen, refusals and errors."""
        out = []
        for r in self.table.itertuples(index=False):
            if r.shown or r.others > 0:
                label = r.command.upper().replace("|", " ")
                extra = f" ({r.unkept:,} more after the limit, not kept)" if r.unkept else ""
                hidden = " (MONITOR never shows it)" if r.hidden else ""
                out.append(f"{label}: {r.shown:,} shown, {r.others:,} run{extra}{hidden}")
        failed = self.table[self.table["failed"] > 0]
        if len(failed):
            out.append("failed while running: " + ", ".join(f"{c.upper()} {n:,}" for c, n in zip(failed["command"], failed["failed"])))
        refused = self.table[self.table["rejected"] > 0]
        if len(refused):
            out.append("refused before running (never shown): "
                       + ", ".join(f"{c.upper()} {n:,}" for c, n in zip(refused["command"], refused["rejected"])))  # fmt: skip
        if self.errors:
            out.append("error replies: " + ", ".join(f"{k} {v:,}" for k, v in self.errors.items()))
        return out


def command_keys(events: pd.DataFrame, split_subcommands: bool = True) -> pd.Series:
    """The commandstats name of each event: ``get``, ``client|setname`` (7.0+), ``client`` before."""
    cmd = events["command"].astype("str").str.lower()
    if not split_subcommands or "subcommand" not in events:
        return cmd
    sub = events["subcommand"].astype("str").str.lower()
    has = events["subcommand"].notna().to_numpy()
    return cmd.where(~has, cmd + "|" + sub)


def shown_counts(events: pd.DataFrame, split_subcommands: bool = True) -> dict[str, int]:
    """MONITOR events per commandstats name."""
    if events.empty:
        return {}
    return {k: int(v) for k, v in command_keys(events, split_subcommands).value_counts().items()}


def shown_pairs(events: pd.DataFrame) -> Counter[tuple[str, str | None]]:
    """MONITOR events per (command, subcommand or None) as printed: what :func:`reconcile_shown`
    takes, and what adds up block by block (one entry per distinct pair).

    >>> shown_pairs(events)[("GET", None)]  # doctest: +SKIP
    1605
    """
    if events.empty:
        return Counter()
    counts = events.groupby(["command", "subcommand"], observed=True, dropna=False, sort=False).size()
    return Counter({(str(c), None if pd.isna(s) else str(s)): int(n) for (c, s), n in counts.items() if n})


def _keyed(pairs: Mapping[tuple[str, str | None], int], split_subcommands: bool) -> dict[str, int]:
    """:func:`shown_pairs` per commandstats name (``get``, ``client|setname`` from 7.0)."""
    out: Counter[str] = Counter()
    for (c, s), n in pairs.items():
        out[c.lower() + (f"|{s.lower()}" if split_subcommands and s is not None else "")] += n
    return dict(out)


def _version_tuple(version: str | None) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version or "")[:3])


def _cmdstats(info: Mapping[str, Any] | None) -> dict[str, dict[str, int]]:
    stats = (info or {}).get("commandstats") or {}
    return {k.removeprefix("cmdstat_"): v for k, v in stats.items() if isinstance(v, dict)}


def _delta(now: Mapping[str, Any], then: Mapping[str, Any], field: str) -> int:
    return int(now.get(field, 0)) - int(then.get(field, 0))


def _errors(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, int]:
    b = (before or {}).get("errorstats") or {}
    a = (after or {}).get("errorstats") or {}
    out = {}
    for key, value in a.items():
        n = int(value.get("count", 0)) - int((b.get(key) or {}).get("count", 0))
        if n > 0:
            out[key.removeprefix("errorstat_")] = n
    return out


def reconcile(events: pd.DataFrame, server: Mapping[str, Any]) -> Reconciliation | None:
    """Compare a bundle's MONITOR events with its ``server.json``; None without before/after.

    ``events`` are the capture's events as read (unfiltered: a filtered capture would
    show fewer lines than the server ran).
    """
    return reconcile_shown(shown_pairs(events), server)


def reconcile_shown(pairs: Mapping[tuple[str, str | None], int], server: Mapping[str, Any]) -> Reconciliation | None:
    """:func:`reconcile` from the capture's :func:`shown_pairs` (summed over its blocks when
    it was streamed), not its events."""
    before, after = server.get("before"), server.get("after")
    if not before or not after:
        return None
    version = server.get("version")
    split = _version_tuple(version) >= (7,)
    shown = _keyed(pairs, split)
    cap = server.get("capture") or {}
    unkept = {k: int(v) for k, v in (cap.get("unwritten_by_command") or {}).items()}
    own = {k: int(v) for k, v in (cap.get("own_unseen") or {}).items()}
    b, a = _cmdstats(before), _cmdstats(after)
    rows = []
    for name in sorted(set(a) | set(shown) | set(unkept)):
        now, then = a.get(name, {}), b.get(name, {})
        run, failed, rejected = (_delta(now, then, f) for f in ("calls", "failed_calls", "rejected_calls"))
        s, u, o = shown.get(name, 0), unkept.get(name, 0), own.get(name, 0)
        if not (run or s or u or failed or rejected):
            continue
        cmd, _, sub = name.partition("|")
        rows.append({
            "command": name, "shown": s, "unkept": u, "run": run, "own_unseen": o, "others": run - o,
            "unseen": run - s - u - o, "failed": failed, "rejected": rejected,
            "hidden": hidden_from_monitor(cmd, sub or None),
        })  # fmt: skip
    table = pd.DataFrame(rows, columns=list(RECONCILE_COLUMNS))
    table = table.astype({c: "int64" for c in RECONCILE_COLUMNS[1:-1]} | {"hidden": "bool"})
    table = table.sort_values(["run", "command"], ascending=[False, True], kind="stable").reset_index(drop=True)
    stop = cap.get("stop") or {}
    maxclients = server.get("maxclients")
    return Reconciliation(
        table=table,
        exact=bool(cap.get("exact")),
        version=version,
        maxclients=int(maxclients) if isinstance(maxclients, int) else None,
        stop_reason=stop.get("reason"),
        stop_detail=stop.get("detail", ""),
        errors=_errors(before, after),
    )
