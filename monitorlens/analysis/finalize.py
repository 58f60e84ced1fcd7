"""A merged :class:`~monitorlens.analysis.partials.Partial` -> the tables and findings of an :class:`Analysis`.

The tables have the columns and order of :mod:`monitorlens.analysis.breakdowns`
(what :func:`~monitorlens.analysis.analyze.analyze` gives for the same events), so
renderers take either. Past the key cap, ``hot_keys`` counts are Space-Saving
estimates: the column ``count_error`` bounds each (true count in ``[count -
count_error, count]``) and ``key_patterns.attrs["keys_error"]`` the relative
standard error of the distinct-key counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import breakdowns as bd
from .analyze import TIMELINE_TOP, Analysis, Overview
from .applications import APPLICATION_COLUMNS, _sorted as sorted_applications, unnamed_label
from .breakdowns import ATTACHED
from .clientlist import UNNAMED
from .findings import Evidence, Finding, Row, clip, printable, sort_findings
from .partials import (
    NO_POS,
    PENDING,
    Hits,
    Partial,
    Settings,
    _has_pending,
    _rename_all,
    finish_chosen,
    finish_modules,
    with_patterns,
)
from .rules import (
    blocking_finding,
    clock_finding,
    coverage_finding,
    dangerous_finding,
    dominant_client_finding,
    empty_finding,
    full_read_finding,
    hidden_commands,
    huge_argument_finding,
    keys_finding,
    length_findings,
    select_churn_finding,
    silences_finding,
    source_findings,
    unnamed_clients_finding,
)
from ..read.schema import Provenance

HOT_SLOT_SHARE = 0.25  # one hash slot above this share of the key references of a cluster
HOT_NODE_FACTOR = 2.0  # one node with this many times the mean events of the nodes


def _iso(us: int) -> str:
    return pd.Timestamp(int(us), unit="us", tz="UTC").isoformat()


def _grouped(frame: pd.DataFrame) -> bd._Grouped:
    return bd._Grouped(np.arange(len(frame)), frame["count"].to_numpy(np.int64),
                       frame["first"].to_numpy(np.int64), frame["last"].to_numpy(np.int64))


def _mix(pairs: pd.DataFrame | None, groups: pd.Index, top: int = bd.MIX_TOP) -> np.ndarray:
    """``"GET 60%, SET 40%"`` per group from (group, value) -> count, pos (biggest first, ties
    by first seen), as breakdowns' ``_mix_text`` writes it."""
    if pairs is None or not len(pairs):
        return np.full(len(groups), None, dtype=object)
    frame = pairs.reset_index()
    g, v = frame.columns[0], frame.columns[1]
    frame = frame.sort_values(["count", "pos"], ascending=[False, True], kind="stable")
    codes, labels = pd.factorize(frame[g])
    counts = frame["count"].to_numpy()
    pct = np.rint(100 * counts / np.bincount(codes, weights=counts)[codes]).astype(int)
    text = bd._joined(codes, [f"{a} {p}%" for a, p in zip(frame[v].tolist(), pct.tolist())], ", ", top)
    return pd.Series(text.to_numpy(), index=labels[text.index.to_numpy()]).reindex(groups).to_numpy(dtype=object)


def _sorted(frame: pd.DataFrame, by: str = "pos") -> pd.DataFrame:
    return frame.sort_values(by, kind="stable")


def _order(p: Partial, kind: str, fallback: pd.Series) -> pd.Series:
    """Labels ranked as pandas ranks ties (category order: first line of the whole capture)."""
    if p.seen is None or kind not in p.seen.index.get_level_values(0):
        return fallback
    seen = p.seen.xs(kind, level=0)["pos"]
    return seen.reindex(fallback.index).fillna(fallback).astype(np.int64)


def _commands(stats: pd.DataFrame | None, pairs: pd.Index | None, total: int, seconds: float,
              order: pd.Series | None = None) -> pd.DataFrame:
    columns = ["command", "count", "share", "rate_per_s", "first", "last", "clients", "arg_bytes"]
    if stats is None or not len(stats):
        return bd._empty(columns)
    stats = _sorted(stats.assign(pos=order.reindex(stats.index).to_numpy()) if order is not None else stats)
    clients = pd.Series(1, index=pairs).groupby(level=0).size() if pairs is not None and len(pairs) else pd.Series(dtype=int)
    return bd._table("command", pd.Index(stats.index, dtype="str"), _grouped(stats), total, seconds,
                     clients=clients.reindex(stats.index).fillna(0).to_numpy(np.int64),
                     arg_bytes=stats["arg_bytes"].to_numpy(np.int64))[columns]


def _clients(p: Partial, total: int, seconds: float) -> pd.DataFrame:
    columns = ["client", "name", "name_source", "client_kind", "count", "own_count", "lua_count",
               "share", "rate_per_s", "first", "last", "dbs", "command_mix"]
    stats = p.clients
    if stats is None or not len(stats):
        return bd._empty(columns)
    stats = stats[stats["count"] > 0]
    stats = _sorted(stats.assign(own_pos=_order(p, "client", stats["own_pos"]).to_numpy()), "own_pos")
    labels = pd.Index(stats.index, dtype="str")
    names = _names(p).reindex(labels)
    dbs = None
    if p.client_dbs is not None and len(p.client_dbs):
        pairs = pd.DataFrame({"c": p.client_dbs.get_level_values(0), "d": p.client_dbs.get_level_values(1)})
        pairs = pairs.sort_values(["c", "d"], kind="stable")
        codes, clients = pd.factorize(pairs["c"])
        joined = bd._joined(codes, [str(int(x)) for x in pairs["d"].tolist()], ",")
        dbs = pd.Series(joined.to_numpy(), index=clients[joined.index.to_numpy()])
    table = bd._table(
        "client", labels, _grouped(stats), total, seconds,
        name=names["name"].to_numpy(), name_source=names["name_source"].to_numpy(),
        client_kind=stats["kind"].to_numpy(dtype=object), own_count=stats["own"].to_numpy(np.int64),
        lua_count=(stats["count"] - stats["own"]).to_numpy(np.int64),
        dbs=dbs.reindex(stats.index).to_numpy(dtype=object) if dbs is not None else None,
        command_mix=_mix(p.client_commands, stats.index),
    )
    for col in ("name", "name_source", "client_kind", "dbs", "command_mix"):
        table[col] = table[col].astype("str")
    extra = [c for c in ATTACHED if p.listed is not None]
    for col in extra:  # the last known per client, as by_client shows them
        table[col] = p.listed[col].astype("str").reindex(table["client"]).to_numpy()  # type: ignore[index]
    return table[columns + extra]


def _names(p: Partial) -> pd.DataFrame:
    """name and name_source per client that has a name: the last CLIENT LIST name its lines
    were given (``client-list``), else the last it set itself (CLIENT SETNAME / HELLO SETNAME)."""
    names = p.setnames
    if names is None or not len(names):
        out = pd.DataFrame({"name": pd.Series(dtype="str"), "name_source": pd.Series(dtype="str")})
    else:
        out = pd.DataFrame({"name": names["name"].astype("str").to_numpy(), "name_source": "setname"},
                           index=pd.Index(names.index, dtype="str"))
    if p.listed is None:
        return out
    known = p.listed["name"].dropna()
    listed = pd.DataFrame({"name": known.astype("str").to_numpy(), "name_source": "client-list"},
                          index=pd.Index(known.index, dtype="str"))
    return pd.concat([out[~out.index.isin(listed.index)], listed])


def _applications(p: Partial, total: int, seconds: float) -> pd.DataFrame:
    """:func:`~monitorlens.analysis.applications.by_application` from the partial's clients
    (a client's application is its last SETNAME name, else its host; names by time from
    CLIENT LIST: :func:`_named_applications`)."""
    stats = p.clients
    if stats is None or not total:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in APPLICATION_COLUMNS})
    if p.apps is not None:
        return _named_applications(p, total, seconds)
    stats = _sorted(stats[stats["count"] > 0], "own_pos")
    names = _names(p)["name"].reindex(stats.index)
    unnamed = [unnamed_label(k if isinstance(k, str) else "", h if isinstance(h, str) else None)
               for k, h in zip(stats["kind"], stats["host"])]
    label = pd.Series(np.where(names.notna() & (names != ""), names.to_numpy(dtype=object), unnamed),
                      index=stats.index, dtype=object)
    frame = pd.DataFrame({"application": label.to_numpy(), "events": stats["count"].to_numpy(),
                          "lua_events": stats["lua"].to_numpy(),
                          "first": stats["first"].to_numpy(), "last": stats["last"].to_numpy()})
    g = frame.groupby("application", sort=False)
    table = pd.DataFrame({"connections": g.size(), "events": g["events"].sum(), "lua_events": g["lua_events"].sum(),
                          "first": bd._times(g["first"].min().to_numpy()), "last": bd._times(g["last"].max().to_numpy())},
                         index=g.size().index)
    table["first"], table["last"] = bd._times(g["first"].min().to_numpy()), bd._times(g["last"].max().to_numpy())
    table["share"] = table["events"] / total
    table["rate_per_s"] = table["events"] / seconds if seconds > 0 else np.nan
    pairs = p.client_commands.reset_index()  # type: ignore[union-attr]
    pairs["client"] = label.reindex(pairs["client"]).to_numpy()
    pairs = pairs.dropna(subset=["client"]).groupby(["client", "command"], sort=False).agg(
        count=("count", "sum"), pos=("pos", "min"))
    db = pd.DataFrame({"c": p.client_dbs.get_level_values(0), "db": p.client_dbs.get_level_values(1)})  # type: ignore
    db["application"] = label.reindex(db["c"]).to_numpy()
    return _finished(table, pairs, db[db["application"].notna()])


def _finished(table: pd.DataFrame, pairs: pd.DataFrame, db: pd.DataFrame) -> pd.DataFrame:
    """An applications table (index application) with its command mix from ``pairs``
    ((application, command) -> count, pos) and databases from ``db`` (application, db:
    -1 for none), named and in order."""
    table["command_mix"] = pd.Series(_mix(pairs, table.index), index=table.index)
    db = db[db["db"].astype(np.int64) >= 0]
    dbs = db.groupby("application")["db"].agg(lambda d: ",".join(str(int(x)) for x in sorted(set(d))))
    table["dbs"] = dbs.reindex(table.index).fillna("")
    table = table.rename_axis("application").reset_index()
    table["application"] = table["application"].astype("str")
    table["named"] = ~table["application"].str.startswith(UNNAMED) & (table["application"] != bd.LUA)
    return sorted_applications(table[APPLICATION_COLUMNS])


def _named_applications(p: Partial, total: int, seconds: float) -> pd.DataFrame:
    """By application when each line has the name of its client at that time: the name,
    else the unnamed label of the (credited) client."""
    stats = p.clients
    apps = p.apps.reset_index()  # type: ignore[union-attr]
    unnamed = pd.Series([unnamed_label(k if isinstance(k, str) else "", h if isinstance(h, str) else None)
                         for k, h in zip(stats["kind"], stats["host"])], index=stats.index, dtype=object)  # type: ignore

    def label(frame: pd.DataFrame) -> np.ndarray:
        names = frame["name"].to_numpy(dtype=object)
        return np.where(names != "", names, unnamed.reindex(frame["client"]).to_numpy(dtype=object))

    apps["application"] = label(apps)
    g = apps.groupby("application", sort=False)
    table = pd.DataFrame({"connections": g["client"].nunique(), "events": g["count"].sum(),
                          "lua_events": g["lua"].sum(), "first": bd._times(g["first"].min().to_numpy()),
                          "last": bd._times(g["last"].max().to_numpy())})
    table["share"] = table["events"] / total
    table["rate_per_s"] = table["events"] / seconds if seconds > 0 else np.nan
    pairs = p.app_commands.reset_index()  # type: ignore[union-attr]
    pairs = pairs.assign(application=label(pairs)).groupby(["application", "command"], sort=False).agg(
        count=("count", "sum"), pos=("pos", "min"))
    db = p.app_dbs.to_frame(index=False)  # type: ignore[union-attr]
    return _finished(table, pairs, db.assign(application=label(db)))


def _dbs(p: Partial, total: int, seconds: float) -> pd.DataFrame:
    columns = ["db", "count", "share", "rate_per_s", "first", "last", "clients"]
    if p.dbs is None or not len(p.dbs):
        return bd._empty(columns)
    stats = p.dbs.copy()
    stats.index = stats.index.astype(np.int64)
    stats = stats.sort_index()
    clients = pd.Series(1, index=p.db_clients).groupby(level=0).size() if p.db_clients is not None and len(p.db_clients) else pd.Series(dtype=int)
    clients.index = clients.index.astype(np.int64)
    labels = pd.array(stats.index.to_numpy(), dtype="Int64")
    labels[stats.index.to_numpy() < 0] = pd.NA
    return bd._table("db", labels, _grouped(stats), total, seconds,
                     clients=clients.reindex(stats.index).fillna(0).to_numpy(np.int64))[columns]


def _key_patterns(p: Partial, seconds: float) -> pd.DataFrame:
    columns = ["pattern", "count", "share", "rate_per_s", "keys", "reads", "writes", "read_share",
               "write_share", "first", "last", "command_mix", "example"]
    k = p.keys
    if k.patterns is None or not len(k.patterns):
        return bd._empty(columns)
    stats = _sorted(k.patterns)
    c = k.columns
    order = np.lexsort((c["pos"], -c["count"], k.pattern))
    starts = order[np.r_[True, k.pattern[order][1:] != k.pattern[order][:-1]]] if len(order) else order
    vocab = np.asarray(k.patterns_vocab.names, dtype=object)
    example = pd.Series(np.asarray(k.names.take(pa.array(starts)).to_pylist(), dtype=object),  # type: ignore
                        index=vocab[k.pattern[starts]])
    if k.sketched:
        distinct = pd.Series({pat: round(h.estimate()) for pat, h in (k.pattern_distinct or {}).items()})
    else:
        distinct = pd.Series(np.bincount(k.pattern, minlength=len(vocab)), index=vocab)
    table = bd._table(
        "pattern", pd.Index(stats.index, dtype="str"), _grouped(stats), k.refs, seconds,
        keys=distinct.reindex(stats.index).fillna(0).to_numpy(np.int64),
        **_access(stats), command_mix=_mix(k.pattern_commands, stats.index),
        example=example.reindex(stats.index).to_numpy(dtype=object),
    )[columns]
    if k.sketched:
        table.attrs["keys_error"] = next(iter(k.pattern_distinct.values())).relative_error  # type: ignore[union-attr]
    return table


def _access(stats: pd.DataFrame) -> dict[str, np.ndarray]:
    count = stats["count"].to_numpy(np.float64)
    reads, writes = stats["reads"].to_numpy(np.int64), stats["writes"].to_numpy(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"reads": reads, "writes": writes,
                "read_share": np.where(count > 0, reads / np.maximum(count, 1), np.nan),
                "write_share": np.where(count > 0, writes / np.maximum(count, 1), np.nan)}


def _hot_keys(p: Partial, seconds: float, top: int) -> pd.DataFrame:
    columns = ["key", "pattern", "count", "share", "rate_per_s", "clients", "reads", "writes",
               "read_share", "write_share", "first", "last", "command_mix"]
    k = p.keys
    if not len(k):
        return bd._empty(columns)
    chosen = np.lexsort((k.columns["pos"], -k.columns["count"]))[:top]
    stats = pd.DataFrame({c: v[chosen] for c, v in k.columns.items()},
                         index=pd.Index(k.names.take(pa.array(chosen)).to_pylist(), dtype=object))  # type: ignore
    rank = np.full(len(k), -1, dtype=np.int64)
    rank[chosen] = np.arange(len(chosen))
    clients = np.bincount(rank[k.key_clients.key][rank[k.key_clients.key] >= 0], minlength=len(chosen))
    mine = rank[k.key_commands.key] >= 0
    commands = np.asarray(k.commands_vocab.names, dtype=object)
    pairs = pd.DataFrame({"count": k.key_commands.count[mine], "pos": k.key_commands.pos[mine]},  # type: ignore
                         index=pd.MultiIndex.from_arrays([stats.index.to_numpy()[rank[k.key_commands.key[mine]]],
                                                          commands[k.key_commands.other[mine]]]))
    table = bd._table(
        "key", stats.index.to_numpy(dtype=object), _grouped(stats), k.refs, seconds,
        pattern=pd.Index(np.asarray(k.patterns_vocab.names, dtype=object)[k.pattern[chosen]], dtype="str"),
        clients=clients.astype(np.int64), **_access(stats), command_mix=_mix(pairs, stats.index),
        count_error=stats["error"].to_numpy(np.int64),
    )
    table.attrs["clients_exact"] = not k.clients_capped  # else ``clients`` is a lower bound
    if not k.sketched:
        return table[columns]
    table.attrs.update(keys_exact=False, keys_floor=k.floor)
    return table[columns + ["count_error"]]


def _timeline(series: pd.Series | None, p: Partial, s: Settings, order: pd.Series, by: str) -> pd.DataFrame:
    """The wide timeline of ``series`` ((bucket, label) -> events) at the partial's level;
    ``order`` ranks labels for ties (first seen first)."""
    if series is None or not len(series):
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="ts").as_unit("us"))
    step = s.base_step << p.level
    bucket = series.index.get_level_values(0).to_numpy()
    labels = series.index.get_level_values(1)
    lo, nb = int(bucket.min()), int(bucket.max() - bucket.min()) + 1
    totals = series.groupby(level=1, sort=False).sum()
    rank = order.reindex(totals.index).fillna(NO_POS).to_numpy()
    ranked = totals.index[np.lexsort((rank, -totals.to_numpy()))]
    keep = list(ranked[: min(TIMELINE_TOP, int((totals > 0).sum()))])
    lane = pd.Series(np.arange(len(keep)), index=keep).reindex(labels).fillna(len(keep)).to_numpy(np.int64)
    k = len(keep) + 1
    wide = np.bincount((bucket - lo) * k + lane, weights=series.to_numpy(), minlength=nb * k).reshape(nb, k)
    wide = wide.astype(np.int64)
    names = [str(x) for x in keep]
    if wide[:, -1].any():
        names.append(bd.OTHER)
    else:
        wide = wide[:, :-1]
    index = pd.date_range(bd._times(np.array([lo * step]))[0], periods=nb, freq=pd.Timedelta(microseconds=step),
                          name="ts", unit="us")
    return pd.DataFrame(wide, index=index, columns=pd.Index(names, name=by))


def _bursts(p: Partial, s: Settings, cmd_order: pd.Series, client_order: pd.Series) -> pd.DataFrame:
    columns = ["start", "end", "buckets", "events", "peak", "baseline", "ratio", "top_command", "top_client"]
    t = p.timeline
    if t is None or not len(t):
        return bd._empty(columns)
    step = s.base_step << p.level
    per = t.groupby(level=0).sum()
    lo = int(per.index.min())
    counts = np.zeros(int(per.index.max()) - lo + 1, dtype=np.int64)
    counts[per.index.to_numpy() - lo] = per.to_numpy()
    baseline = float(np.median(counts))
    hot = counts >= max(3.0 * baseline, 50)
    if not hot.any():
        return bd._empty(columns)
    run = np.cumsum(np.r_[True, hot[1:] != hot[:-1]])
    rows = []
    for r in np.unique(run[hot]):
        span = np.flatnonzero(run == r)
        peak = int(counts[span].max())
        rows.append({
            "start": bd._times(np.array([(lo + int(span[0])) * step]))[0],
            "end": bd._times(np.array([(lo + int(span[-1]) + 1) * step]))[0],
            "buckets": len(span), "events": int(counts[span].sum()), "peak": peak, "baseline": baseline,
            "ratio": peak / baseline if baseline else np.inf,
            "top_command": _top_in(t, lo + span[0], lo + span[-1], cmd_order),
            "top_client": _top_in(p.timeline_clients, lo + span[0], lo + span[-1], client_order),
        })
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["events", "start"], ascending=[False, True]).reset_index(drop=True)


def _top_in(series: pd.Series | None, lo: int, hi: int, order: pd.Series) -> str:
    b = series.index.get_level_values(0)  # type: ignore[union-attr]
    inside = series[(b >= lo) & (b <= hi)].groupby(level=1).sum()  # type: ignore[index]
    rank = order.reindex(inside.index).fillna(NO_POS).to_numpy()
    return str(inside.index[np.lexsort((rank, -inside.to_numpy()))[0]])


def _gaps(p: Partial, top: int) -> pd.DataFrame:
    columns = ["gap_us", "start", "end", "line_before", "line_after", "client_before", "command_before"]
    rows = p.gaps.top[:top]
    if p.events < 2 or not rows:
        return bd._empty(columns)
    client = [None if c == bd.NO_CLIENT else c for c in (r[6] for r in rows)]
    return pd.DataFrame({
        "gap_us": np.array([-r[0] for r in rows], dtype=np.int64),
        "start": bd._times(np.array([r[2] for r in rows])), "end": bd._times(np.array([r[3] for r in rows])),
        "line_before": np.array([r[4] for r in rows], dtype=np.int64),
        "line_after": np.array([r[5] for r in rows], dtype=np.int64),
        "client_before": pd.Series(client, dtype="str"), "command_before": pd.Series([r[7] for r in rows], dtype="str"),
    }, columns=columns)


# ----------------------------------------------------------------------------- findings


def _positions(k: Any, wanted: set[str]) -> dict[str, int]:
    """key -> first position in the capture, for the few keys evidence shows."""
    if k.names is None or not wanted:
        return {}
    found = pc.fill_null(pc.index_in(pa.array(sorted(wanted), pa.string()), value_set=k.names), -1)
    ids = found.to_numpy(zero_copy_only=False)
    return {key: int(k.columns["pos"][i]) for key, i in zip(sorted(wanted), ids) if i >= 0}


@dataclass(frozen=True)
class _Labels:
    names: Mapping[str, str]

    def __call__(self, client: str) -> str:
        name = self.names.get(client)
        return f"{client} ({printable(name)})" if isinstance(name, str) and name else client


def _evidence(h: Hits, label: _Labels, rows: int, metrics: Mapping[str, Any] | None = None,
              shapes: bool = True, first_seen: Any = None) -> Evidence:
    """Evidence from :class:`Hits`; ``first_seen`` (key -> first position in the whole
    capture) orders keys referenced as often (as ``analyze`` does)."""
    who = sorted(h.clients.items(), key=lambda kv: -kv[1])[:rows]
    shape_rows = sorted(h.shapes.items(), key=lambda kv: (-kv[1][0], kv[1][3]))[:rows] if shapes else []
    return Evidence(
        count=h.count, first=_iso(h.first) if h.count else None, last=_iso(h.last) if h.count else None,
        commands=tuple(sorted(h.commands, key=h.commands.__getitem__)),
        clients=tuple(label(c) for c, _ in who),
        keys=tuple(printable(clip(k)) for k, _ in sorted(h.keys.items(), key=lambda kv: (-kv[1][0], (first_seen.get(kv[0], kv[1][1]) if first_seen is not None else kv[1][1])))[:rows]),
        samples=tuple(sample for _, sample in h.head),
        metrics={k: (v.item() if hasattr(v, "item") else v) for k, v in (metrics or {}).items()},
        rows=tuple(Row.of({"client": label(c), "call": call, "count": int(n), "first": _iso(lo),
                           "last": _iso(hi)}) for (c, call), (n, lo, hi, _) in shape_rows),
    )


def _findings(p: Partial, prov: Provenance, s: Settings, commands: pd.DataFrame, clients: pd.DataFrame,
              first: str | None, last: str | None) -> list[Finding]:
    t = s.thresholds
    label = _Labels(dict(zip(_names(p).index, _names(p)["name"])))
    hits = p.hits
    found: list[Finding] = []
    seen = _positions(p.keys, {k for h in hits.values() for k in h.keys})

    def evid(h: Hits, metrics: Mapping[str, Any] | None = None) -> Evidence:
        return _evidence(h, label, t.rows, metrics, first_seen=seen)

    by_pos = lambda key: min(hits[key].commands.values(), default=NO_POS)  # noqa: E731
    if ("keys",) in hits:
        h = hits[("keys",)]
        calls = {k[len("calls_"):]: v for k, v in h.sums.items()}
        counts = pd.Series(calls).sort_values(ascending=False, kind="stable")
        found.append(keys_finding(evid(h, {f"calls_{k}": v for k, v in counts.items()}),
                                  calls.get("all", 0) + calls.get("broad", 0)))
    for key in sorted((k for k in hits if k[0] == "dangerous"), key=by_pos):
        found.append(dangerous_finding(key[1], evid(hits[key])))
    of_command = dict(zip(commands["command"], commands["count"])) if len(commands) else {}
    reads = [k for k in hits if k[0] == "full-read"]
    for key in sorted(reads, key=lambda k: (-of_command.get(k[1], 0), by_pos(k))):
        h = hits[key]
        reasons = pd.Series(h.reasons).sort_values(ascending=False, kind="stable")
        found.append(full_read_finding(key[1], reasons, evid(
            h, {"calls": h.count, "calls_of_command": int(of_command.get(key[1], 0))})))
    if ("blocking-forever",) in hits:
        found.append(blocking_finding(evid(hits[("blocking-forever",)])))
    busy = [k for k in hits if k[0] == "select" and hits[k].count >= t.select_churn]
    if busy:
        h = Hits()
        for k in sorted(busy, key=by_pos):
            h = h.merged(hits[k], t.samples)
        found.append(select_churn_finding(evid(h, {"clients": len(busy), "selects": h.count}),
                                          len(busy)))
    if ("huge-argument",) in hits:
        h = hits[("huge-argument",)]
        found.append(huge_argument_finding(evid(h, {
            "largest_bytes": int(h.maxima["largest_bytes"]), "total_bytes": int(h.sums["total_bytes"])}), t))
    found.extend(_dominant(p, label, s, clients, evid))
    found.extend(_unnamed(p, label, s))
    if p.events:
        redacted = int(hits[("coverage",)].sums["redacted_arguments"]) if ("coverage",) in hits else 0
        found.append(coverage_finding(redacted, sorted(p.hidden_seen & set(hidden_commands()))))
    found.extend(source_findings(prov, t))
    if not p.events:
        found.append(empty_finding())
        return found
    # Filtered rows leave holes that are not silences, and their span is not the capture's.
    whole = prov.events in (0, p.events)
    g = p.gaps if whole else replace(p.gaps, silences=0, backwards=0, jumps=0)
    if not whole and prov.first_ts:
        first, last = prov.first_ts, prov.last_ts
    if g.silences:
        rows = tuple(Row.of({"gap_us": -r[0], "start": _iso(r[2]), "end": _iso(r[3]), "line_before": r[4],
                             "line_after": r[5], "client_before": None if r[6] == bd.NO_CLIENT else r[6],
                             "command_before": r[7]})
                     for r in g.top if -r[0] >= int(t.silence_s * 1e6))[: t.rows]
        found.append(silences_finding(g.silences, -g.top[0][0], g.silence_total, _iso(g.silence_first),
                                      _iso(g.silence_last), rows, t))
    if g.backwards or g.jumps:
        first_of = lambda x: None if x is None else (int(x[1]), _iso(x[2]), _iso(x[3]))  # noqa: E731
        found.append(clock_finding(g.backwards, g.backwards_max, first_of(g.backwards_first),
                                   g.jumps, g.jump_max, first_of(g.jump_first), t))
    found.extend(length_findings(first, last, p.events if whole else prov.events, t))
    found.extend(_cluster(p, s))
    return found


def _dominant(p: Partial, label: _Labels, s: Settings, clients: pd.DataFrame, evid: Any) -> list[Finding]:
    t = s.thresholds
    if p.events < t.client_share_min_events or not len(clients) or s.filters.client:
        return []
    found = []
    for row in clients.itertuples(index=False):
        share = row.count / p.events
        if share <= t.client_share:
            continue
        pairs = p.client_commands.xs(row.client, level=0)  # type: ignore[union-attr]
        pairs = pairs.sort_values(["count", "pos"], ascending=[False, True], kind="stable")
        seen = evid(p.hits.get(("client", row.client), Hits()))  # samples and keys of its busiest blocks
        ev = replace(seen, count=int(row.count), first=row.first.isoformat(), last=row.last.isoformat(),
                     commands=tuple(pairs.sort_values("pos").index.astype(str)), clients=(label(row.client),),
                     metrics={"share": float(share), "events": int(row.count)})
        found.append(dominant_client_finding(label(row.client), share,
                                             dict(zip(pairs.index[:3], pairs["count"].iloc[:3].astype(int))), ev))
    return found


def _unnamed(p: Partial, label: _Labels, s: Settings) -> list[Finding]:
    t = s.thresholds
    stats = p.clients
    if stats is None or not len(stats):
        return []
    real = stats[(stats["own"] > 0) & ~stats["kind"].isin(["lua", "module"])]
    if not len(real):
        return []
    unnamed = real[[label(c) == c for c in real.index]]
    if not len(unnamed):
        return []
    ranked = _sorted(unnamed, "own_pos")
    ranked = ranked.iloc[np.argsort(-ranked["own"].to_numpy(), kind="stable")]
    events = int(unnamed["own"].sum())
    ev = Evidence(count=events, first=_iso(int(unnamed["first"].min())), last=_iso(int(unnamed["last"].max())),
                  metrics={"clients": len(unnamed), "events": events},
                  rows=tuple(Row.of({"client": c, "count": int(n)}) for c, n in zip(ranked.index[: t.rows],
                                                                                  ranked["own"].iloc[: t.rows])))
    return [unnamed_clients_finding(ev, len(unnamed), len(real), p.listed is not None)]


def _cluster(p: Partial, s: Settings) -> list[Finding]:
    """Hot slot and hot node: only for captures of several nodes (a cluster)."""
    nodes = p.nodes
    if nodes is None or len(nodes) < 2:
        return []
    found = []
    mean = nodes["count"].mean()
    hot = nodes[nodes["count"] >= HOT_NODE_FACTOR * mean]
    for node, row in hot.iterrows():
        found.append(Finding(
            code="hot-node", severity="warning",
            title=f"Node {printable(str(node))} served {row['count'] / nodes['count'].sum():.0%} of all commands "
                  f"({row['count'] / mean:.1f}x the mean of {len(nodes)} nodes)",
            explanation="One node of the cluster takes much more traffic than the others: its hash slots "
                        "hold hot keys, or clients send it what could go elsewhere (reads to a master "
                        "that replicas could serve).",
            action="Look at the hot slots and keys of that node; spread hot keys (different hash tags), "
                   "move slots (redis-cli --cluster rebalance) or read from replicas.",
            evidence=Evidence(count=int(row["count"]), first=_iso(int(row["first"])), last=_iso(int(row["last"])),
                              metrics={"share": float(row["count"] / nodes["count"].sum()),
                                       "mean_events": float(mean)}),
        ))
    slots = _slot_counts(p)
    if len(slots) and slots.sum():
        share = slots / slots.sum()
        for slot, sh in share[share > HOT_SLOT_SHARE].sort_values(ascending=False).items():
            found.append(Finding(
                code="hot-slot", severity="warning",
                title=f"Hash slot {int(slot)} holds {sh:.0%} of all key references",
                explanation="A cluster spreads keys over 16,384 slots; one slot taking this much of the "
                            "load pins it to one node, however many nodes there are. A shared hash tag "
                            "({...}) or one very hot key is the usual cause.",
                action="Look at the hot keys of that slot; split them or drop the shared hash tag.",
                evidence=Evidence(count=int(slots[slot]), metrics={"share": float(sh), "slot": int(slot)}),
            ))
    return found


# ------------------------------------------------------------------------------ analysis


def _nodeless(h: Hits) -> Hits:
    strip = lambda samples: [(q, replace(x, node="")) for q, x in samples]  # noqa: E731
    return replace(h, head=strip(h.head), tail=strip(h.tail))


def finalize(p: Partial, prov: Provenance, settings: Settings = Settings()) -> Analysis:
    """The :class:`Analysis` of a merged partial (``prov``: what was read to make it).

    >>> finalize(merge_all(parts), provenance).commands  # doctest: +SKIP
    """
    s = settings
    p = finish_chosen(p, s)
    p = _rename_all(p, PENDING, bd.LUA) if _has_pending(p) else p
    p = finish_modules(p)
    p = replace(p, keys=with_patterns(p.keys, s.pattern_rules))
    if p.nodes is None or len(p.nodes) < 2:  # one capture: its lines need no node to be found
        p = replace(p, hits={k: _nodeless(h) for k, h in p.hits.items()})
    total = p.events
    if total:
        assert p.clients is not None and p.commands is not None  # a partial with events has both
        first_us, last_us = int(p.clients["first"].min()), int(p.clients["last"].max())
        cmd_order = _order(p, "command", p.commands["pos"])
        client_order = _order(p, "client", p.clients["own_pos"])
    else:
        first_us = last_us = 0
        cmd_order = client_order = pd.Series(dtype=np.int64)
    seconds = (last_us - first_us) / 1e6 if total >= 2 else 0.0
    commands = _commands(p.commands, p.command_clients, total, seconds, cmd_order if total else None)
    clients = _clients(p, total, seconds)
    first, last = (_iso(first_us), _iso(last_us)) if total else (None, None)
    dbs = _dbs(p, total, seconds)
    filters = s.filters.describe()
    overview = Overview(
        source=prov.source, lines=prov.lines, events=total, rejected=prov.rejected,
        skipped=sum(prov.skipped.values()), first=first, last=last, duration_s=seconds,
        rate_per_s=total / seconds if seconds > 0 else None,
        clients=len(clients), commands=len(commands),  # the clients table's: lua lines are their callers'
        dbs=tuple(sorted(int(d) for d in dbs["db"].dropna())) if len(dbs) else (),
        filtered=total != prov.events or bool(filters), filters=filters,
    )
    findings = sort_findings(_findings(p, prov, s, commands, clients, first, last))
    return Analysis(
        provenance=prov, overview=overview, commands=commands,
        subcommands=_commands(p.subcommands, p.subcommand_clients, total, seconds),
        clients=clients, key_patterns=_key_patterns(p, seconds), hot_keys=_hot_keys(p, seconds, s.top),
        dbs=dbs,
        timeline=_timeline(p.timeline, p, s, cmd_order, "command"),
        timeline_clients=_timeline(p.timeline_clients, p, s, client_order, "client"),
        bursts=_bursts(p, s, cmd_order, client_order), gaps=_gaps(p, s.top),
        findings=tuple(findings), thresholds=s.thresholds, top=s.top,
        applications=_applications(p, total, seconds),
        nodes=node_table(p) if p.nodes is not None and len(p.nodes) > 1 else None,
        slots=slot_table(p) if p.slots is not None and len(p.nodes) > 1 else None,  # type: ignore[arg-type]
    )


def node_table(p: Partial) -> pd.DataFrame:
    """Events per node (source): node, count, share, first, last."""
    if p.nodes is None or not len(p.nodes):
        return pd.DataFrame(columns=["node", "count", "share", "first", "last"])
    n = p.nodes.sort_values(["count", "pos"], ascending=[False, True])
    return pd.DataFrame({"node": n.index.astype(str), "count": n["count"].to_numpy(),
                         "share": n["count"].to_numpy() / n["count"].sum(),
                         "first": bd._times(n["first"].to_numpy()), "last": bd._times(n["last"].to_numpy())})


def _slot_counts(p: Partial) -> pd.Series:
    """Key references per hash slot referenced (index: slot, in slot order)."""
    if p.slots is None:
        return pd.Series([], dtype=np.int64)
    used = np.flatnonzero(p.slots)
    return pd.Series(p.slots[used], index=used)


def slot_table(p: Partial) -> pd.DataFrame:
    """Key references per Redis Cluster hash slot, busiest first (ties: lower slot first):
    slot, count, share."""
    s = _slot_counts(p)
    if not len(s):
        return pd.DataFrame(columns=["slot", "count", "share"])
    s = s.sort_values(ascending=False, kind="stable")
    return pd.DataFrame({"slot": s.index.to_numpy(np.int64), "count": s.to_numpy(np.int64),
                         "share": s.to_numpy() / s.sum()})
