"""CLIENT LIST and connection-log analysis: counts, leaks, churn, findings, a kill plan.

Every function takes the DataFrames of :mod:`monitorlens.read.clientlist` and returns a new
DataFrame (or a list of :class:`~monitorlens.analysis.findings.Finding`); none mutates its input.

A client is followed across snapshots by its ``id`` (Redis never reuses one). Trends
are fitted in clients per minute with the Theil–Sen estimator (the median of the
slopes between every pair of snapshots), which a few odd snapshots cannot drag.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import AbstractSet, Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .._human import minutes_text, plural
from .findings import SEVERITY_ORDER, Evidence, Finding, Row, Severity
from .breakdowns import setname_calls

MiB = 1 << 20


@dataclass(frozen=True)
class ClientThresholds:
    """What counts as a problem in CLIENT LIST snapshots. Every number has a default.

    >>> ClientThresholds(idle_seconds=600).omem_warning_bytes
    1048576
    """

    #: A normal client idle this long (seconds) is reported, and proposed for CLIENT KILL.
    idle_seconds: float = 3600.0
    #: Output buffer (``omem``) of one client: warning and critical sizes, in bytes.
    omem_warning_bytes: int = 1 * MiB
    omem_critical_bytes: int = 10 * MiB
    #: Query buffer (``qbuf``) of one client: warning and critical sizes, in bytes.
    qbuf_warning_bytes: int = 1 * MiB
    qbuf_critical_bytes: int = 32 * MiB
    #: More MONITOR clients than this at once, or one older than ``monitor_age_seconds``,
    #: is a forgotten MONITOR (each one halves what the server can serve).
    max_monitor_clients: int = 1
    monitor_age_seconds: float = 600.0
    #: A blocked client waiting this long (its ``idle``, seconds) is a warning, not info.
    blocked_idle_seconds: float = 300.0
    #: A connection leak: a Theil–Sen slope of at least this many clients per minute,
    #: over at least ``leak_min_snapshots`` snapshots and ``leak_min_span_seconds``, with
    #: at least ``leak_min_steadiness`` of the steps non-decreasing and a fitted growth of
    #: at least ``leak_min_growth`` clients.
    leak_slope_per_min: float = 0.1
    leak_min_snapshots: int = 5
    leak_min_span_seconds: float = 60.0
    leak_min_steadiness: float = 0.8
    leak_min_growth: float = 3.0
    #: A leaking app's connections idle this long (seconds) are proposed for CLIENT KILL.
    leak_kill_idle_seconds: float = 60.0
    #: A connection surge: a rise of at least ``surge_min_growth`` clients within
    #: ``surge_window_seconds``, at a Theil–Sen slope of at least ``surge_slope_per_min``
    #: over at least ``surge_min_snapshots`` snapshots, in a series too short or too
    #: unsteady to be a leak (a leak is sustained growth; a surge is a steep burst).
    surge_min_growth: float = 20.0
    surge_window_seconds: float = 60.0
    surge_slope_per_min: float = 20.0
    surge_min_snapshots: int = 3
    #: The server's ``maxclients`` (CONFIG GET maxclients), when known: growth findings
    #: then say when it is reached, and severity rises as it nears.
    maxclients: int | None = None
    #: Less time than this (minutes) to ``maxclients`` at the fitted growth is critical.
    maxclients_critical_minutes: float = 60.0
    #: Connected clients at this share of ``maxclients`` is a warning, and at the critical
    #: share critical (new connections are refused at 100%).
    maxclients_warning_share: float = 0.8
    maxclients_critical_share: float = 0.95
    #: Connections opened and closed between snapshots, per minute, reported as churn.
    churn_per_min: float = 60.0


DEFAULTS = ClientThresholds()
COUNT_BY = ("client_type", "name", "user", "lib_name", "host")
UNNAMED = "(unnamed)"


# ------------------------------------------------------------------- counting


def client_counts(snapshots: pd.DataFrame, by: str = "client_type") -> pd.DataFrame:
    """Clients per snapshot and per value of ``by`` (type, name, user, lib_name, host...).

    Tidy: columns snapshot, snapshot_ts, ``by``, clients; a value absent from a snapshot
    counts 0 there (a disappearing app is a drop to 0, not a gap). Missing values are "".

    >>> client_counts(df, by="name").query("name == 'leaky-app'").clients.tolist()  # doctest: +SKIP
    [0, 3, 7, 11, ...]
    """
    if by not in snapshots.columns:
        raise KeyError(f"client_counts: no column {by!r}; try one of {COUNT_BY}")
    keys = snapshots[["snapshot", "snapshot_ts"]].drop_duplicates("snapshot").set_index("snapshot")
    values = snapshots[by].astype("str").fillna("")
    wide = pd.crosstab(snapshots["snapshot"], values).reindex(keys.index, fill_value=0)
    wide.columns.name = by
    tidy = wide.stack().rename("clients").reset_index()
    tidy.insert(1, "snapshot_ts", keys["snapshot_ts"].reindex(tidy["snapshot"]).to_numpy())
    tidy["clients"] = tidy["clients"].astype("int64")
    return tidy.sort_values(["snapshot", by], kind="stable").reset_index(drop=True)


def theil_sen(x: np.ndarray, y: np.ndarray, max_points: int = 1500) -> tuple[float, float]:
    """``(slope, intercept)`` of the Theil–Sen line through the points (NaN if < 2 x values).

    Beyond ``max_points`` points an evenly spaced subset is used (the pairs grow as n²).

    >>> theil_sen(np.array([0., 1, 2, 3, 4]), np.array([0., 1, 2, 30, 4]))
    (1.0, 0.0)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) > max_points:
        keep = np.linspace(0, len(x) - 1, max_points).round().astype(int)
        x, y = x[keep], y[keep]
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return math.nan, math.nan
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok]))
    return slope, float(np.median(y - slope * x))


def steepest_rise(seconds: np.ndarray, y: np.ndarray, window: float) -> tuple[float, int, int]:
    """``(rise, i, j)``: the largest ``y[j] - y[i]`` with ``i <= j`` and ``seconds[j] - seconds[i] <= window``.

    One pass with a queue of the window's minima (the points are sorted by time).

    >>> steepest_rise(np.array([0., 10, 20, 90]), np.array([5., 1, 9, 30]), 30)
    (8.0, 1, 2)
    """
    best, where = 0.0, (0, 0)
    low: deque[int] = deque()
    for j in range(len(y)):
        while low and y[low[-1]] >= y[j]:
            low.pop()
        low.append(j)
        while seconds[j] - seconds[low[0]] > window:
            low.popleft()
        rise = float(y[j] - y[low[0]])
        if rise > best:
            best, where = rise, (low[0], j)
    return best, where[0], where[1]


def _trend_row(ts: pd.Series, clients: pd.Series, t: ClientThresholds, headroom: float | None) -> dict[str, Any]:
    """The trend of one series of counts (sorted by time): the sustained line and the steepest burst."""
    minutes = (ts - ts.iloc[0]).dt.total_seconds().to_numpy() / 60.0
    y = clients.to_numpy(dtype=float)
    slope, intercept = theil_sen(minutes, y) if len(y) > 1 else (math.nan, math.nan)
    steps = np.diff(y)
    fitted = intercept + slope * minutes
    ss_tot = float(((y - y.mean()) ** 2).sum())
    span = float(minutes[-1] * 60) if len(y) else 0.0
    growth = slope * span / 60 if not math.isnan(slope) else math.nan
    rise, i, j = steepest_rise(minutes * 60, y, t.surge_window_seconds)
    surge_slope = theil_sen(minutes[i : j + 1], y[i : j + 1])[0] if j > i else math.nan
    row = {
        "snapshots": len(y),
        "first_ts": ts.iloc[0],
        "last_ts": ts.iloc[-1],
        "span_s": span,
        "first_clients": int(y[0]),
        "last_clients": int(y[-1]),
        "max_clients": int(y.max()),
        "slope_per_min": slope,
        "intercept": intercept,
        "steadiness": float((steps >= 0).mean()) if len(steps) else math.nan,
        "r2": 1 - float(((y - fitted) ** 2).sum()) / ss_tot if ss_tot > 0 else math.nan,
        "growth": growth,
        "minutes_to_maxclients": _minutes_to(headroom, slope),
        "surge_from_ts": ts.iloc[i],
        "surge_to_ts": ts.iloc[j],
        "surge_from_clients": int(y[i]),
        "surge_to_clients": int(y[j]),
        "surge_slope_per_min": surge_slope,
        "surge_minutes_to_maxclients": _minutes_to(headroom, surge_slope),
    }
    row["leaking"] = bool(
        slope >= t.leak_slope_per_min
        and len(y) >= t.leak_min_snapshots
        and span >= t.leak_min_span_seconds
        and row["steadiness"] >= t.leak_min_steadiness
        and growth >= t.leak_min_growth
    )
    row["surging"] = bool(
        not row["leaking"]
        and rise >= t.surge_min_growth
        and j - i + 1 >= t.surge_min_snapshots
        and surge_slope >= t.surge_slope_per_min
    )
    return row


def _minutes_to(headroom: float | None, slope: float) -> float:
    """Minutes until ``headroom`` more clients at ``slope`` per minute (0 when none is left)."""
    if headroom is None or not slope > 0:
        return math.nan
    return max(headroom, 0.0) / slope


def growth_trends(
    counts: pd.DataFrame,
    by: str | None,
    *,
    ts: str = "snapshot_ts",
    thresholds: ClientThresholds = DEFAULTS,
    maxclients: int | None = None,
) -> pd.DataFrame:
    """One trend row per value of ``by`` (or one for all) from tidy counts (ts, by, clients).

    Columns: ``by``, snapshots, first_ts, last_ts, span_s, first_clients, last_clients,
    max_clients, slope_per_min (Theil–Sen) and intercept (the fitted count at first_ts),
    steadiness (share of steps that do not go down), r2 (of that line), growth (fitted
    clients over the span), minutes_to_maxclients (how long, at this group's slope, until
    the server's total reaches ``maxclients``: the argument, else ``thresholds.maxclients``),
    leaking (the leak thresholds all met); the steepest rise within the surge window:
    surge_from_ts, surge_to_ts, surge_from_clients, surge_to_clients, surge_slope_per_min
    (Theil–Sen over it), surge_minutes_to_maxclients, surging (the surge thresholds met and
    not leaking). Rows without a time are left out; a value missing at a time counts 0
    there. For ``uniq -c`` files (:func:`read_app_counts`, combined) use
    ``growth_trends(counts, "value")``.

    >>> growth_trends(read_connection_counts("connections.csv"), None, ts="ts")  # doctest: +SKIP
    """
    counts = counts.dropna(subset=[ts]).sort_values(ts, kind="stable")
    if by:  # a value missing at a time counts 0 there (files of `uniq -c` list only those present)
        wide = counts.pivot_table(index=ts, columns=by, values="clients", aggfunc="sum", fill_value=0)
        counts = wide.stack().rename("clients").reset_index()
    total = counts.groupby(ts)["clients"].sum()
    maxclients = thresholds.maxclients if maxclients is None else maxclients
    headroom = float(maxclients - total.iloc[-1]) if maxclients is not None and len(total) else None
    groups = counts.groupby(by, sort=True) if by else [("all", counts)]
    rows = [
        {by or "group": key} | _trend_row(g[ts], g["clients"], thresholds, headroom)
        for key, g in groups
        if len(g)
    ]
    columns = [by or "group", *_trend_row(pd.Series(pd.to_datetime([0], utc=True)), pd.Series([0]), thresholds, None)]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values("slope_per_min", ascending=False, kind="stable").reset_index(drop=True)


def connection_trends(
    snapshots: pd.DataFrame,
    by: str = "name",
    *,
    thresholds: ClientThresholds = DEFAULTS,
    maxclients: int | None = None,
) -> pd.DataFrame:
    """Growth of connections per name (or host, user...) across snapshots: see :func:`growth_trends`.

    >>> connection_trends(df, "name").query("leaking")[["name", "slope_per_min"]]  # doctest: +SKIP
    """
    return growth_trends(client_counts(snapshots, by), by, thresholds=thresholds, maxclients=maxclients)


def count_trend(
    connections: pd.DataFrame, *, thresholds: ClientThresholds = DEFAULTS, maxclients: int | None = None
) -> pd.DataFrame:
    """The trend of a plain ``<time>,<clients>`` log (:func:`read_connection_counts`): one row.

    >>> count_trend(read_connection_counts("connections.csv")).slope_per_min  # doctest: +SKIP
    """
    return growth_trends(connections, None, ts="ts", thresholds=thresholds, maxclients=maxclients)


def client_churn(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Connections opened and closed between consecutive snapshots, from the client ids.

    Redis gives each connection the next ``id``, so ids between the newest of one
    snapshot and the newest of the next that neither lists are connections that opened
    and closed unseen (``short_lived``). Columns: snapshot, snapshot_ts, interval_s,
    opened (new ids listed), closed (ids no longer listed), short_lived, and the two per
    minute: opened_per_min (opened + short_lived), short_lived_per_min.

    >>> client_churn(df).short_lived.sum()  # doctest: +SKIP
    """
    ids = snapshots.dropna(subset=["id"]).groupby("snapshot")
    rows = []
    prev: tuple[pd.Timestamp, set[int], int] | None = None
    for number, g in ids:
        now = (g["snapshot_ts"].iloc[0], set(g["id"].astype("int64")), int(g["id"].max()))
        if prev is not None:
            seen_new = sum(1 for i in now[1] if i > prev[2])
            opened = len(now[1] - prev[1])
            short = max(0, now[2] - prev[2] - seen_new)
            interval = (now[0] - prev[0]).total_seconds() if pd.notna(now[0]) and pd.notna(prev[0]) else math.nan
            minutes = interval / 60 if interval and interval > 0 else math.nan
            rows.append(
                {
                    "snapshot": number,
                    "snapshot_ts": now[0],
                    "interval_s": interval,
                    "opened": opened,
                    "closed": len(prev[1] - now[1]),
                    "short_lived": short,
                    "opened_per_min": (opened + short) / minutes,
                    "short_lived_per_min": short / minutes,
                }
            )
        prev = now
    columns = ["snapshot", "snapshot_ts", "interval_s", "opened", "closed", "short_lived",
               "opened_per_min", "short_lived_per_min"]  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    return out.astype({"snapshot": "int64", "opened": "int64", "closed": "int64", "short_lived": "int64"})


# ------------------------------------------------------------------- findings


def last_rows(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Each client's row in the last snapshot that lists it, with first_seen, last_seen and
    ``connected`` (listed in the file's last snapshot: still there when the log ended).

    >>> last_rows(df).query("connected").name.value_counts()  # doctest: +SKIP
    """
    key = _client_key(snapshots)
    ordered = snapshots.assign(_key=key).sort_values(["snapshot", "line"], kind="stable")
    grouped = ordered.groupby("_key", sort=False)
    out = grouped.tail(1).copy()
    out["first_seen"] = grouped["snapshot_ts"].transform("min").loc[out.index]
    out["last_seen"] = out["snapshot_ts"]
    out["connected"] = out["snapshot"] == snapshots["snapshot"].max()
    return out.drop(columns="_key").sort_values(["snapshot", "line"]).reset_index(drop=True)


def _client_key(snapshots: pd.DataFrame) -> pd.Series:
    """A client's identity: its id, or its address on servers older than 2.8.12 (no id)."""
    return snapshots["id"].astype("str").where(snapshots["id"].notna(), "addr:" + snapshots["addr"].fillna(""))


EVIDENCE_COLUMNS = ("id", "addr", "name", "user", "age", "idle", "flags", "cmd", "omem", "qbuf", "tot_mem")


def _rows(clients: pd.DataFrame, extra: Iterable[str] = (), kill: pd.Series | bool = False) -> tuple[Row, ...]:
    """Evidence rows: plain Python values (JSON-ready), NA as None, times as ISO text."""
    cols = [c for c in (*EVIDENCE_COLUMNS, "last_seen", *extra) if c in clients.columns]
    kills = kill if isinstance(kill, pd.Series) else pd.Series(kill, index=clients.index)
    out = []
    for (_, row), k in zip(clients[cols].iterrows(), kills):
        out.append(Row.of({c: _plain(row[c]) for c in cols} | {"kill": bool(k)}))
    return tuple(out)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value


def _span(df: pd.DataFrame, column: str = "snapshot_ts") -> tuple[str | None, str | None]:
    ts = df[column].dropna()
    return (ts.min().isoformat(), ts.max().isoformat()) if len(ts) else (None, None)


def _who(row: pd.Series) -> str:
    name = row.get("name")
    return f"id={_plain(row.get('id'))} {row.get('addr')}" + (f" ({name})" if isinstance(name, str) and name else "")


def _finding(
    code: str, severity: Severity, title: str, explanation: str, action: str, clients: pd.DataFrame,
    *, rows: tuple[Row, ...], metrics: dict[str, float] | None = None,
    span: tuple[str | None, str | None] | None = None,
) -> Finding:  # fmt: skip
    first, last = span if span is not None else _span(clients, "last_seen" if "last_seen" in clients else "snapshot_ts")
    return Finding(
        code=code,
        severity=severity,
        title=title,
        explanation=explanation,
        action=action,
        evidence=Evidence(
            count=len(rows),
            unit="clients",
            first=first,
            last=last,
            clients=tuple(dict.fromkeys(clients["addr"].dropna().astype(str))),
            rows=rows,
            metrics={k: float(v) for k, v in (metrics or {}).items()},
        ),
    )


def _monitor_finding(snapshots: pd.DataFrame, latest: pd.DataFrame, t: ClientThresholds) -> list[Finding]:
    monitors = snapshots[snapshots["client_type"] == "monitor"]
    if monitors.empty:
        return []
    # In a snapshot with too many MONITORs, all but the youngest are suspects: the
    # youngest is most likely the capture being taken for this very investigation.
    ranked = monitors.assign(_rank=monitors.groupby("snapshot")["age"].rank(method="first", ascending=True))
    extra = ranked[ranked["_rank"] > t.max_monitor_clients]
    old = monitors[monitors["age"] >= t.monitor_age_seconds]
    suspects = set(extra["id"].dropna()) | set(old["id"].dropna())
    if not suspects:
        return []
    rows = latest[latest["client_type"] == "monitor"]
    kill = rows["id"].isin(suspects) & rows["connected"]
    most = int(monitors.groupby("snapshot").size().max())
    oldest = int(rows["age"].max())
    return [
        _finding(
            "monitor-clients", "warning",
            f"{plural(len(suspects), 'MONITOR client')} left running (up to {most} at once, oldest {oldest} s)",
            "Every MONITOR client gets a copy of every command the server runs; each one costs "
            "the server a large share of its throughput and grows output buffers under load. "
            "More than one at a time, or one running for long, is usually forgotten.",
            "Stop the forgotten `redis-cli MONITOR` (CLIENT KILL ID in the plan); keep captures short "
            "(`timeout 30 redis-cli MONITOR`).",
            rows, rows=_rows(rows, ("first_seen", "connected"), kill),
            metrics={"monitor_clients_max": most, "oldest_age_s": oldest},
        )
    ]  # fmt: skip


def _blocked_finding(snapshots: pd.DataFrame, latest: pd.DataFrame, t: ClientThresholds) -> list[Finding]:
    blocked = snapshots[snapshots["flag_blocked"].fillna(False).astype(bool)]
    if blocked.empty:
        return []
    key = _client_key(blocked)
    per = blocked.assign(_key=key).groupby("_key")
    worst = blocked.loc[per["idle"].idxmax()].copy()
    shares = per.size() / _client_key(snapshots).value_counts()
    worst["blocked_share"] = shares.reindex(_client_key(worst)).to_numpy()
    worst["last_seen"] = worst["snapshot_ts"]
    long_wait = worst["idle"] >= t.blocked_idle_seconds
    severity: Severity = "warning" if long_wait.any() else "info"
    on = ", ".join(f"{c} ({n})" for c, n in worst["cmd"].fillna("?").value_counts().items())
    return [
        _finding(
            "blocked-clients", severity,
            f"{plural(len(worst), 'client')} blocked, on {on}",
            "Flag b: the client waits in a blocking command (BLPOP, BRPOP, XREAD BLOCK, WAIT...). "
            "Workers waiting for jobs are normal; a long wait means nothing feeds that key.",
            "Check the producers of the keys these clients wait on; a client blocked for good can be "
            "released with CLIENT UNBLOCK <id>.",
            worst, rows=_rows(worst, ("blocked_share",)),
            metrics={"longest_wait_s": int(worst["idle"].max()), "clients": len(worst)},
        )
    ]  # fmt: skip


def _idle_finding(latest: pd.DataFrame, t: ClientThresholds, leaked: AbstractSet[Any] = frozenset()) -> list[Finding]:
    # Subscribers, MONITORs, replication links and blocked clients stay idle by design.
    normal = latest[(latest["client_type"] == "normal") & ~latest["flag_blocked"].fillna(False).astype(bool)]
    idle = normal[normal["idle"] >= t.idle_seconds].sort_values("idle", ascending=False)
    in_leak = idle["id"].isin(leaked)
    idle = idle[~in_leak]
    if idle.empty:
        return []
    names = ", ".join(f"{n or UNNAMED} ({c})" for n, c in idle["name"].fillna("").value_counts().head(5).items())
    also = f" (and {int(in_leak.sum())} of a leaking application: see its leak finding)" if in_leak.any() else ""
    return [
        _finding(
            "idle-clients", "warning",
            f"{plural(len(idle), 'client')} idle for over {t.idle_seconds:g} s: {names}{also}",
            "Connections that sent nothing for this long hold a file descriptor, memory and a "
            "slot of maxclients; many of them point at a pool that never closes or a leak.",
            "Set `timeout` in redis.conf (or CONFIG SET timeout) so the server drops idle "
            "clients, and fix the client's pool; the plan lists CLIENT KILL for those still connected.",
            idle, rows=_rows(idle, ("connected",), idle["connected"]),
            metrics={"longest_idle_s": int(idle["idle"].max()), "clients": len(idle)},
        )
    ]  # fmt: skip


def _buffer_finding(
    snapshots: pd.DataFrame, column: str, warn: int, crit: int, code: str, what: str, action: str
) -> list[Finding]:
    big = snapshots[snapshots[column].fillna(0) >= warn]
    if big.empty:
        return []
    key = _client_key(big)
    peak = big.loc[big.assign(_key=key).groupby("_key")[column].idxmax()].copy()
    peak["last_seen"] = peak["snapshot_ts"]
    history = snapshots[_client_key(snapshots).isin(set(key))].dropna(subset=["snapshot_ts"])
    slopes = {
        k: theil_sen(((g["snapshot_ts"] - g["snapshot_ts"].iloc[0]).dt.total_seconds() / 60).to_numpy(),
                     g[column].to_numpy(dtype=float))[0]
        for k, g in history.assign(_key=_client_key(history)).groupby("_key")
    }  # fmt: skip
    peak["growth_bytes_per_min"] = [slopes.get(k, math.nan) for k in _client_key(peak)]
    peak = peak.sort_values(column, ascending=False)
    severity: Severity = "critical" if (peak[column] >= crit).any() else "warning"
    kinds = peak["client_type"].map({"pubsub": "pub/sub backlog", "replica": "replica link"}).fillna("slow consumer")
    top = peak.iloc[0]
    return [
        _finding(
            code, severity,
            f"{what} of {plural(len(peak), 'client')} up to {int(top[column]) / MiB:.1f} MiB "
            f"({kinds.iloc[0]}: {_who(top)})",
            f"{what} of a client over {warn / MiB:g} MiB: "
            + ("the server queues replies faster than the client reads them (a slow consumer, "
               "or a subscriber that does not keep up with its channels)." if column == "omem"
               else "the client sends more than the server has parsed (a huge pipeline or argument)."),
            action,
            peak, rows=_rows(peak, ("oll", "growth_bytes_per_min")),
            metrics={f"peak_{column}_bytes": int(top[column]), "clients": len(peak)},
        )
    ]  # fmt: skip


def _close_asap_finding(latest: pd.DataFrame, snapshots: pd.DataFrame) -> list[Finding]:
    closing = snapshots[snapshots["flag_close_asap"].fillna(False).astype(bool)]
    if closing.empty:
        return []
    closing = closing.assign(last_seen=closing["snapshot_ts"]).drop_duplicates(subset=["id"], keep="last")
    return [
        _finding(
            "closing-clients", "warning",
            f"{plural(len(closing), 'client')} being closed by the server (flag A)",
            "Flag A: the server closes the connection as soon as it can, most often because its "
            "output buffer passed client-output-buffer-limit (or CLIENT KILL was sent).",
            "Look at the output buffers of these clients before the close; raise the limit only "
            "if the client is known to catch up.",
            closing, rows=_rows(closing, ("oll",)),
        )
    ]  # fmt: skip


def _unnamed_finding(latest: pd.DataFrame) -> list[Finding]:
    last = latest[latest["connected"]]
    cmd = last["cmd"].fillna("")
    # Not counted: MONITORs (their own finding), replication links (unnamed by design) and
    # the connection that took the snapshot (its last command is CLIENT LIST).
    unnamed = last[
        (last["name"].fillna("") == "") & (last["client_type"].isin(["normal", "pubsub"]))
        & ~cmd.isin(["client|list", "client"])
    ]  # fmt: skip
    if unnamed.empty:
        return []
    return [
        _finding(
            "unnamed-connections", "info",
            f"{plural(len(unnamed), 'client')} without a name",
            "Unnamed connections cannot be told apart by application in CLIENT LIST or in the "
            "names monitorlens gives MONITOR addresses.",
            "Have every application call CLIENT SETNAME (most client libraries take a client_name option).",
            unnamed, rows=_rows(unnamed),
            metrics={"clients": len(unnamed), "hosts": unnamed["host"].nunique()},
        )
    ]  # fmt: skip


# Growth findings. One problem, one finding: a leak (or surge) is reported at the most
# specific level that explains it: an application name; else a host, for what the names
# flagged do not explain (unnamed clients, many small apps); else the whole server. The
# wider levels go into the evidence of the specific one ("all of host 10.0.0.5's growth").
LEVELS = {
    "name": ("connection-leak", "connection-surge"),
    "host": ("connection-leak-by-host", "connection-surge-by-host"),
    "all": ("connection-growth", "connection-surge-all"),
}
_EXPLAINED = "\x00explained"  # the group of rows a more specific finding already covers


def _level_values(snapshots: pd.DataFrame, by: str) -> pd.Series:
    if by == "all":
        return pd.Series("all", index=snapshots.index, dtype="str")
    return snapshots[by].astype("str").fillna("")


@dataclass(frozen=True)
class _Level:
    """Counts per snapshot for one level (name, host, all), rows already explained set apart."""

    by: str
    wide: pd.DataFrame  # index snapshot_ts, one column per value (and _EXPLAINED)
    trends: pd.DataFrame  # growth_trends, one row per value (without _EXPLAINED), column "group"

    @classmethod
    def of(cls, snapshots: pd.DataFrame, by: str, explained: pd.Series, t: ClientThresholds,
           maxclients: int | None) -> "_Level":  # fmt: skip
        values = _level_values(snapshots, by).where(~explained, _EXPLAINED)
        counts = client_counts(snapshots.assign(group=values), "group")
        wide = counts.pivot_table(index="snapshot_ts", columns="group", values="clients", aggfunc="sum", fill_value=0)
        trends = growth_trends(counts, "group", thresholds=t, maxclients=maxclients)
        return cls(by, wide, trends[trends["group"] != _EXPLAINED].reset_index(drop=True))

    def flagged(self) -> pd.DataFrame:
        return self.trends[self.trends["leaking"] | self.trends["surging"]]

    def change(self, value: str, start: pd.Timestamp, end: pd.Timestamp) -> int:
        """Clients of ``value`` at ``end`` minus at ``start`` (every group, explained or not)."""
        if value not in self.wide.columns:
            return 0
        return int(self.wide.at[end, value] - self.wide.at[start, value])


def _growth_findings(
    snapshots: pd.DataFrame, latest: pd.DataFrame, t: ClientThresholds, maxclients: int | None,
    connections: pd.DataFrame | None,
) -> list[Finding]:  # fmt: skip
    maxclients = t.maxclients if maxclients is None else maxclients
    name = snapshots["name"].astype("str").fillna("")
    host = snapshots["host"].astype("str").fillna("")
    nobody = pd.Series(False, index=snapshots.index)
    names = _Level.of(snapshots, "name", name == "", t, maxclients)
    by_name = names.flagged()["group"].tolist()
    hosts = _Level.of(snapshots, "host", name.isin(by_name) & (name != ""), t, maxclients)
    by_host = hosts.flagged()["group"].tolist()
    rest = _Level.of(snapshots, "all", (name.isin(by_name) & (name != "")) | host.isin(by_host), t, maxclients)
    wider = {"host": _Level.of(snapshots, "host", nobody, t, maxclients),
             "all": _Level.of(snapshots, "all", nobody, t, maxclients)}
    used = _used(snapshots, maxclients)
    out = []
    for level in (names, hosts, rest):
        for trend in level.flagged().itertuples(index=False):
            value = str(trend.group)
            mine = latest[latest["connected"]]
            if level.by != "all":
                mine = mine[_level_values(mine, level.by) == value]
            if level.by == "host":
                mine = mine[~mine["name"].fillna("").isin(by_name) | (mine["name"].fillna("") == "")]
            wide = _wider_view(level.by, value, trend, mine, wider)
            out.append(_growth_finding(level.by, value, trend, mine, t, wide, used))
    if connections is not None:
        logged = connection_count_findings(connections, thresholds=t, maxclients=maxclients)
        if out:  # the log is one more, wider view of what the snapshots already pinned down
            out = [_with_log(f, logged) for f in out]
        else:
            out = logged
    return out


def _wider_view(by: str, value: str, trend: Any, mine: pd.DataFrame, wider: dict[str, _Level]) -> tuple[str, dict[str, float]]:
    """The share of its host's and of the server's growth a finding explains: text and metrics."""
    if by == "all":
        return "", {}
    surge = bool(trend.surging)
    start, end = (trend.surge_from_ts, trend.surge_to_ts) if surge else (trend.first_ts, trend.last_ts)
    own = (trend.surge_to_clients - trend.surge_from_clients) if surge else (trend.last_clients - trend.first_clients)
    parts: list[str] = []
    metrics: dict[str, float] = {}
    if by == "name" and len(mine):
        main = mine["host"].astype("str").fillna("").mode().iloc[0]
        host_change = wider["host"].change(main, start, end)
        parts.append(_share_text(own, host_change, f"host {main}'s"))
        metrics |= {"host_growth": host_change, "share_of_host_growth": _share(own, host_change)}
    server = wider["all"].change("all", start, end)
    parts.append(_share_text(own, server, "the server's"))
    metrics |= {"server_growth": server, "share_of_server_growth": _share(own, server)}
    return f"This is {' and '.join(parts)} over the same snapshots.", metrics


def _used(snapshots: pd.DataFrame, maxclients: int | None) -> float | None:
    """The share of ``maxclients`` in use in the last snapshot, when maxclients is known."""
    if not maxclients:
        return None
    return int((snapshots["snapshot"] == snapshots["snapshot"].max()).sum()) / maxclients


def _maxclients_finding(clients: int, maxclients: int | None, at: str | None, t: ClientThresholds) -> list[Finding]:
    """Connected clients near ``maxclients``, whatever their trend."""
    if not maxclients or clients < t.maxclients_warning_share * maxclients:
        return []
    severity: Severity = "critical" if clients >= t.maxclients_critical_share * maxclients else "warning"
    return [
        Finding(
            "near-maxclients", severity,
            f"{clients:,} clients connected: {clients / maxclients:.0%} of maxclients ({maxclients:,})",
            "At maxclients the server refuses every new connection (ERR max number of clients reached): "
            "new application instances, failovers and redis-cli itself are locked out.",
            "Close what should not be connected (the plan below), or raise maxclients with CONFIG SET "
            "maxclients if the file descriptor limit (ulimit -n) allows.",
            Evidence(count=clients, unit="clients", first=at, last=at,
                     metrics={"clients": clients, "maxclients": maxclients, "share_of_maxclients": clients / maxclients}),
        )
    ]  # fmt: skip


def _share(part: float, whole: float) -> float:
    return min(part / whole, 1.0) if whole > 0 and part > 0 else math.nan


def _share_text(part: float, whole: float, of: str) -> str:
    """``"all of host 10.0.0.5's growth (+72)"`` or ``"90% of the server's growth (+72 of +80)"``."""
    share = _share(part, whole)
    if share != share:
        return f"none of {of} growth ({whole:+d})" if whole <= 0 else f"{of} growth ({whole:+d})"
    if share >= 0.995:
        return f"all of {of} growth ({whole:+d})"
    return f"{share:.0%} of {of} growth ({part:+d} of {whole:+d})"


def _severity(minutes: float, used: float | None, t: ClientThresholds) -> Severity:
    """Warning, or critical when maxclients is near in time or already nearly used up."""
    if minutes == minutes and minutes < t.maxclients_critical_minutes:
        return "critical"
    if used is not None and used >= t.maxclients_critical_share:
        return "critical"
    return "warning"


def _growth_finding(
    by: str, value: str, trend: Any, clients: pd.DataFrame, t: ClientThresholds, wider: tuple[str, dict[str, float]],
    used: float | None,
) -> Finding:  # fmt: skip
    surge = bool(trend.surging)
    code = LEVELS[by][1 if surge else 0]
    to_max = trend.surge_minutes_to_maxclients if surge else trend.minutes_to_maxclients
    label = {"name": f"named {value or UNNAMED}", "host": f"from host {value}"}.get(by, "(all clients)")
    when = f"; maxclients in {minutes_text(to_max)} at this rate" if to_max == to_max else ""
    if used is not None and used >= t.maxclients_warning_share:
        when += f" ({used:.0%} of it in use)"
    action = {
        "name": "Find where this application opens connections without closing them (a pool created per "
                "request, a missing close()); the plan lists CLIENT KILL for its connections idle over "
                f"{t.leak_kill_idle_seconds:g} s, which relieves the server until the fix ships.",
        "host": "Look at the names and processes behind this host's connections (CLIENT LIST, ss -tp on the "
                "host), and have them call CLIENT SETNAME so the next report names the application.",
        "all": "No one name or host explains it: compare CLIENT LIST snapshots by name and host "
               "(monitorlens sample) to find which clients grow.",
    }[by]
    text, shares = wider
    if len(clients):  # the longest idle, those the plan kills, first
        clients = clients.sort_values(["idle", "id"], ascending=[False, True], kind="stable")
    kill = (clients["idle"] >= t.leak_kill_idle_seconds) & (by == "name") & (not surge)
    if surge:
        rise = trend.surge_to_clients - trend.surge_from_clients
        seconds = (trend.surge_to_ts - trend.surge_from_ts).total_seconds()
        title = (f"Connections {label} surge {rise:+d} in {seconds:.0f} s, {trend.surge_slope_per_min:.1f}/min "
                 f"({trend.surge_from_clients} → {trend.surge_to_clients}){when}")
        explanation = (
            f"A steep rise ({rise} connections within {seconds:.0f} s, Theil–Sen slope over those "
            f"snapshots) too short to call a leak, which needs {t.leak_min_span_seconds:g} s of steady "
            "growth. A deploy or restart filling its pools, a retry storm after a failover, or the "
            "start of a leak look like this; if it does not level off it ends at maxclients. "
            + text).strip()
        action = (f"Check what started at {trend.surge_from_ts:%H:%M:%S} UTC (deploys, restarts, failovers), "
                  "and keep sampling CLIENT LIST to see whether it levels off (a pool filling) or keeps "
                  "climbing (a leak). " + ("If it climbs, find where this application opens connections "
                                           "without closing them (a pool created per request, a missing close())."
                                           if by == "name" else action))
        metrics = {"slope_per_min": trend.surge_slope_per_min, "rise": rise, "span_s": seconds,
                   "first_clients": trend.surge_from_clients, "last_clients": trend.surge_to_clients}
        span = (trend.surge_from_ts.isoformat(), trend.surge_to_ts.isoformat())
    else:
        title = (f"Connections {label} grow {trend.slope_per_min:.1f}/min "
                 f"({trend.first_clients} → {trend.last_clients} over {trend.span_s / 60:.1f} min){when}")
        explanation = (
            f"A steady rise ({trend.steadiness:.0%} of the steps up or flat, Theil–Sen slope over "
            f"{trend.snapshots} snapshots) that does not come back down is a connection leak; "
            "left alone it ends at maxclients, when new connections are refused. " + text).strip()
        metrics = {"slope_per_min": trend.slope_per_min, "steadiness": trend.steadiness, "r2": trend.r2,
                   "span_s": trend.span_s, "first_clients": trend.first_clients,
                   "last_clients": trend.last_clients}
        span = (trend.first_ts.isoformat(), trend.last_ts.isoformat())
    return _finding(
        code, _severity(to_max, used, t), title, explanation, action,
        clients, rows=_rows(clients, ("connected",), kill),
        metrics={**metrics, "minutes_to_maxclients": to_max, **shares},
        span=span,
    )


def _with_log(finding: Finding, logged: list[Finding]) -> Finding:
    """The finding, with what the connection-count log says of the whole server in its evidence."""
    from dataclasses import replace

    if not logged:
        return finding
    log = logged[0].evidence.metrics
    note = (f" The connection-count log shows the whole server growing {log['slope_per_min']:.1f}/min "
            f"({log['first_clients']:.0f} → {log['last_clients']:.0f}).")
    metrics = {**finding.evidence.metrics, "server_log_slope_per_min": log["slope_per_min"]}
    return replace(finding, explanation=finding.explanation + note,
                   evidence=replace(finding.evidence, metrics=metrics))


def _churn_finding(snapshots: pd.DataFrame, t: ClientThresholds) -> list[Finding]:
    churn = client_churn(snapshots).dropna(subset=["interval_s"])
    minutes = churn["interval_s"].sum() / 60
    if churn.empty or minutes <= 0:
        return []
    rate = churn["short_lived"].sum() / minutes
    if rate < t.churn_per_min:
        return []
    return [
        Finding(
            "connection-churn", "warning",
            f"About {rate:.0f} short-lived connections a minute",
            "Client ids grow by one per connection; the ids no snapshot lists are connections "
            "opened and closed between snapshots. Each costs a TCP handshake, AUTH/HELLO and "
            "server work; a client without a pool connects per request.",
            "Use a connection pool in the applications that connect per request; INFO stats "
            "total_connections_received confirms the rate.",
            Evidence(
                count=int(churn["short_lived"].sum()), unit="short-lived connections", first=_span(churn)[0], last=_span(churn)[1],
                metrics={"short_lived_per_min": rate, "opened_per_min": (churn["opened"].sum() + churn["short_lived"].sum()) / minutes},
            ),
        )
    ]  # fmt: skip


def client_findings(
    snapshots: pd.DataFrame,
    *,
    thresholds: ClientThresholds = DEFAULTS,
    maxclients: int | None = None,
    connections: pd.DataFrame | None = None,
) -> list[Finding]:
    """Every CLIENT LIST finding, most severe first: forgotten MONITORs, blocked, idle,
    output and query buffers, clients being closed, unnamed clients, leaks and surges,
    clients near maxclients, churn.

    Growth is reported once, at the most specific level that explains it (an application
    name, else a host, else the whole server), with the wider levels' share in its
    evidence. A ``connections`` count log (:func:`read_connection_counts`) adds its view of
    the whole server to that evidence, or, when the snapshots show no growth, gives the
    findings of :func:`connection_count_findings`. ``maxclients`` (else
    ``thresholds.maxclients``) gives the time to reach it and escalates severity.

    Evidence rows name each client (id, addr, name, age, idle...); a row with
    ``kill: True`` is one the finding proposes to disconnect (see :func:`remediation_plan`).

    >>> [f.code for f in client_findings(df, thresholds=ClientThresholds(idle_seconds=600))]  # doctest: +SKIP
    ['connection-leak', 'monitor-clients', 'output-buffers', 'idle-clients', 'blocked-clients']
    """
    if snapshots.empty:
        return connection_count_findings(connections, thresholds=thresholds, maxclients=maxclients) if connections is not None else []
    t = thresholds
    limit = t.maxclients if maxclients is None else maxclients
    latest = last_rows(snapshots)
    last = snapshots[snapshots["snapshot"] == snapshots["snapshot"].max()]
    at = last["snapshot_ts"].dropna()
    growth = _growth_findings(snapshots, latest, t, limit, connections)
    # A leak's idle connections are its evidence (and in the plan), not a second finding.
    leaked = {r["id"] for f in growth if f.code == "connection-leak" for r in f.evidence.rows}
    found = [
        *_monitor_finding(snapshots, latest, t),
        *_blocked_finding(snapshots, latest, t),
        *_idle_finding(latest, t, leaked),
        *_buffer_finding(
            snapshots, "omem", t.omem_warning_bytes, t.omem_critical_bytes, "output-buffers", "Output buffer",
            "Find why the client reads slowly (a subscriber doing work per message, a saturated "
            "network); set client-output-buffer-limit for its class so the server drops it "
            "before memory runs out.",
        ),
        *_buffer_finding(
            snapshots, "qbuf", t.qbuf_warning_bytes, t.qbuf_critical_bytes, "query-buffers", "Query buffer",
            "Split huge pipelines and values; client-query-buffer-limit bounds a single client.",
        ),
        *_close_asap_finding(latest, snapshots),
        *_unnamed_finding(latest),
        *(growth or _maxclients_finding(len(last), limit, at.iloc[0].isoformat() if len(at) else None, t)),
        *_churn_finding(snapshots, t),
    ]  # fmt: skip
    return sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])


def connection_count_findings(
    connections: pd.DataFrame, *, thresholds: ClientThresholds = DEFAULTS, maxclients: int | None = None
) -> list[Finding]:
    """Growth (leak or surge) and nearness to maxclients of the whole server, from a plain
    ``<time>,<clients>`` log, when that is all there is (with snapshots, pass the log to
    :func:`client_findings` instead: it is then evidence, not a finding of its own).

    >>> connection_count_findings(read_connection_counts("connections.csv"))  # doctest: +SKIP
    """
    limit = thresholds.maxclients if maxclients is None else maxclients
    trend = count_trend(connections, thresholds=thresholds, maxclients=limit)
    if trend.empty:
        return []
    row = next(trend.itertuples(index=False))
    last = connections.dropna(subset=["ts"]).sort_values("ts", kind="stable").tail(1)
    clients = int(last["clients"].iloc[0]) if len(last) else 0
    at = last["ts"].iloc[0].isoformat() if len(last) else None
    if row.leaking or row.surging:
        empty = pd.DataFrame({"addr": pd.Series([], dtype="str"), "idle": pd.Series([], dtype="Int64")})
        used = clients / limit if limit else None
        return [_growth_finding("all", "all", row, empty, thresholds, ("", {}), used)]
    return _maxclients_finding(clients, limit, at, thresholds)


# ------------------------------------------------------------------ remediation

PLAN_COLUMNS = ("id", "addr", "name", "command", "reason", "finding", "last_seen")


def remediation_plan(snapshots: pd.DataFrame, findings: Iterable[Finding]) -> pd.DataFrame:
    """``CLIENT KILL ID n`` lines for the clients the findings propose (rows with ``kill``).

    Only clients still listed in the last snapshot, never a master or replica link (flags
    M/S), one line per client with every reason. Text to read and paste; nothing here
    talks to a server.

    >>> print(plan_text(remediation_plan(df, client_findings(df))))  # doctest: +SKIP
    """
    latest = last_rows(snapshots)
    latest = latest.set_index(_client_key(latest))
    wanted: dict[str, list[tuple[str, str]]] = {}
    for finding in sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity]):
        for row in finding.evidence.rows:
            if row.get("kill") and row.get("id") is not None:
                reason = _reason(finding.code, row)
                wanted.setdefault(str(row["id"]), []).append((finding.code, reason))
    out = []
    for key, reasons in wanted.items():
        if key not in latest.index:
            continue
        client = latest.loc[key]
        flags = str(client.get("flags") or "")
        if not client["connected"] or "M" in flags or "S" in flags:
            continue
        out.append(
            {
                "id": int(client["id"]),
                "addr": client["addr"],
                "name": client["name"],
                "command": f"CLIENT KILL ID {int(client['id'])}",
                "reason": "; ".join(dict.fromkeys(r for _, r in reasons)),
                "finding": ", ".join(dict.fromkeys(c for c, _ in reasons)),
                "last_seen": client["snapshot_ts"],
            }
        )
    plan = pd.DataFrame(out, columns=list(PLAN_COLUMNS))
    return plan.astype({"id": "int64"}).reset_index(drop=True)


def _reason(code: str, row: Mapping[str, Any]) -> str:
    name = row.get("name") or UNNAMED
    if code == "monitor-clients":
        return f"forgotten MONITOR, running {row.get('age')} s"
    if code == "idle-clients":
        return f"{name} idle {row.get('idle')} s"
    if code.startswith("connection-leak"):
        return f"leaked connection of {name} (idle {row.get('idle')} s)"
    return f"{code}: {name}"


def plan_text(plan: pd.DataFrame) -> str:
    """The plan as lines to paste into ``redis-cli``, each after a ``#`` line saying why.

    >>> plan_text(pd.DataFrame({"id": [7], "addr": ["127.0.0.1:5"], "name": [""],
    ...     "command": ["CLIENT KILL ID 7"], "reason": ["forgotten MONITOR"]}))
    '# 127.0.0.1:5 (unnamed): forgotten MONITOR\\nCLIENT KILL ID 7\\n'
    """
    return "".join(
        f"# {r.addr} {r.name or UNNAMED}: {r.reason}\n{r.command}\n" for r in plan.itertuples(index=False)
    )


# ------------------------------------------------------- names for MONITOR addresses

NAME_COLUMNS = ("name", "user", "lib_name")


def attach_names(
    events: pd.DataFrame, snapshots: pd.DataFrame, *, tolerance: str | pd.Timedelta = "60s"
) -> pd.DataFrame:
    """MONITOR events with the ``name``, ``user``, ``lib_name`` and ``client_id`` of their client.

    The rule (addresses are reused, so time decides):

    1. CLIENT LIST: an event at time t from address a belongs to the client listed at a
       in the first snapshot at or after t when that client was already connected at t
       (snapshot time − age − 1 s ≤ t; age is whole seconds); else to the client listed
       at a in the last snapshot before t, if the next snapshot does not show it gone
       (or, after the last snapshot, if t is within ``tolerance`` of it).
    2. ``CLIENT SETNAME n`` / ``HELLO ... SETNAME n`` in the capture: from its time on,
       the address is named n, unless rule 1 found a client that connected after it.
       A later SETNAME wins over an older CLIENT LIST name of the same connection.
    3. Unix sockets: MONITOR shows every unix client as the same ``unix:<path>``, so a
       unix event is named only when every unix client of the matched snapshot has the
       same name, and never from SETNAME. ``lua`` and module sources stay unnamed.

    Adds name, user, lib_name (str, null when unknown), client_id (Int64) and
    name_source (``client-list``, ``setname`` or null). Returns a new DataFrame.

    >>> named = attach_names(read_monitor("monitor.txt.gz"), read_client_list("clients.log.gz"))  # doctest: +SKIP
    >>> named.groupby("name").size()  # doctest: +SKIP
    """
    return name_events(events, address_rows(snapshots), setname_rows(events), tolerance=tolerance)


def name_events(events: pd.DataFrame, rows: pd.DataFrame, sets: pd.DataFrame, *,
                tolerance: str | pd.Timedelta = "60s") -> pd.DataFrame:
    """:func:`attach_names` from its two inputs made ahead: the snapshots' :func:`address_rows`
    and the capture's :func:`setname_rows`: so that each block of a streamed capture is named
    as the whole capture would be (``sets`` holding the SETNAMEs of the whole capture).

    >>> name_events(block, address_rows(snapshots), setname_rows(whole))  # doctest: +SKIP
    """
    tol = pd.Timedelta(tolerance)
    out = events.copy(deep=False)  # columns are added, none changed
    src = out["client"].astype("str").fillna("")
    left = pd.DataFrame({"ts": out["ts"], "src": src, "_pos": np.arange(len(out))})
    left = left.sort_values("ts", kind="stable")
    left = left[left["ts"].notna()]
    matched = _match_listed(left, rows, tol)
    named = _apply_setnames(matched, sets)
    result = named.set_index("_pos").reindex(np.arange(len(out)))
    for column, dtype in (*((c, "str") for c in NAME_COLUMNS), ("client_id", "Int64"), ("name_source", "str")):
        out[column] = result[column].astype(dtype).set_axis(out.index)
    return out


def address_rows(snapshots: pd.DataFrame) -> pd.DataFrame:
    """One row per (snapshot, MONITOR address): who was there, since when, and until when
    (what rule 1 of :func:`attach_names` looks events up in)."""
    snaps = snapshots.dropna(subset=["snapshot_ts", "monitor_source"])
    times = snaps.drop_duplicates("snapshot").set_index("snapshot")["snapshot_ts"].sort_index()
    next_ts = times.shift(-1)
    key = _client_key(snaps)
    last_snapshot = snaps.groupby(key)["snapshot"].transform("max")
    base = pd.DataFrame(
        {
            "snapshot": snaps["snapshot"],
            "snapshot_ts": snaps["snapshot_ts"],
            "src": snaps["monitor_source"].astype("str"),
            "name": snaps["name"],
            "user": snaps["user"],
            "lib_name": snaps["lib_name"],
            "client_id": snaps["id"],
            "connected_at": snaps["snapshot_ts"] - pd.to_timedelta(snaps["age"].fillna(0).astype("int64") + 1, unit="s"),
            # The first snapshot that no longer lists the client: it was gone by then.
            "gone_by": next_ts.reindex(last_snapshot.to_numpy()).set_axis(snaps.index),
        }
    )
    grouped = base.groupby(["snapshot", "src"], sort=False)
    # Several clients at one address in one snapshot: only unix sockets. Keep a value
    # only where they all agree.
    agreed = {c: grouped[c].first().where(grouped[c].nunique(dropna=False) == 1) for c in NAME_COLUMNS}
    out = pd.DataFrame(
        {
            "snapshot_ts": grouped["snapshot_ts"].first(),
            **agreed,
            "client_id": grouped["client_id"].first().where(grouped.size() == 1),
            "connected_at": grouped["connected_at"].min(),
            "gone_by": grouped["gone_by"].max(),
        }
    ).reset_index()
    return out.sort_values("snapshot_ts", kind="stable").reset_index(drop=True)


def _match_listed(left: pd.DataFrame, rows: pd.DataFrame, tol: pd.Timedelta) -> pd.DataFrame:
    """Rule 1 of :func:`attach_names`: the listed client at each event's address and time."""
    right = rows
    fwd = pd.merge_asof(left, right, left_on="ts", right_on="snapshot_ts", by="src", direction="forward")
    bwd = pd.merge_asof(left, right, left_on="ts", right_on="snapshot_ts", by="src", direction="backward")
    fwd_ok = fwd["connected_at"].notna() & (fwd["connected_at"] <= fwd["ts"])
    within = bwd["gone_by"].isna() & ((bwd["ts"] - bwd["snapshot_ts"]) <= tol)
    bwd_ok = bwd["snapshot_ts"].notna() & ((bwd["ts"] < bwd["gone_by"]) | within)
    out = left.reset_index(drop=True)
    for column in (*NAME_COLUMNS, "client_id", "connected_at"):
        out[column] = fwd[column].where(fwd_ok, bwd[column].where(bwd_ok))
    out["name_source"] = pd.Series("client-list", index=out.index, dtype="str").where(fwd_ok | bwd_ok)
    return out


def setname_rows(events: pd.DataFrame) -> pd.DataFrame:
    """``(ts, src, set_name)`` of every CLIENT SETNAME / HELLO ... SETNAME in the capture but
    those of unix sockets, scripts and modules (rule 3 of :func:`attach_names`): rule 2's input."""
    calls = setname_calls(events)
    src = calls["client"].fillna("")
    keep = ~src.str.startswith("unix:") & ~src.isin(["lua", "", "?:0"])
    return pd.DataFrame({"ts": calls["ts"][keep].astype(events["ts"].dtype), "src": src[keep],
                         "set_name": calls["name"][keep]})


def _apply_setnames(matched: pd.DataFrame, sets: pd.DataFrame) -> pd.DataFrame:
    """Rule 2 of :func:`attach_names`."""
    if sets.empty:
        return matched
    sets = sets.rename(columns={"ts": "set_ts"})
    merged = pd.merge_asof(matched, sets, left_on="ts", right_on="set_ts", by="src", direction="backward")
    newer = merged["set_name"].notna() & (
        merged["connected_at"].isna() | (merged["set_ts"] >= merged["connected_at"])
    )
    newer &= merged["set_name"].ne(merged["name"]).fillna(True)  # same name: keep the CLIENT LIST source
    out = matched.copy()
    out.loc[newer.to_numpy(), "name"] = merged.loc[newer, "set_name"].to_numpy()
    out.loc[newer.to_numpy(), "name_source"] = "setname"
    # A SETNAME of a connection rule 1 did not see says nothing of its user or library.
    unseen = newer & merged["connected_at"].isna()
    out.loc[unseen.to_numpy(), ["user", "lib_name"]] = None
    return out
