"""Breakdowns of MONITOR events: DataFrame -> DataFrame, by command, client, key, db and time.

Every function takes the events of :func:`monitorlens.read_monitor` (or a filtered
slice of them), never mutates them, and returns a new DataFrame named for what it
holds. Rates are per second of the events' own span (first to last line); a span of
zero gives a null rate, never a division by zero. Times are ``datetime64[us, UTC]``.

Example::

    >>> events = read_monitor("sample_captures/incident/monitor.txt.gz")  # doctest: +SKIP
    >>> by_command(events).head(3)  # doctest: +SKIP
      command  count     share  rate_per_s                            first ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from .commands import lookup
from .patterns import DEFAULT_RULES, PatternRules, key_patterns

SCRIPT_CALLS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})
"""Commands whose script's own commands follow them as ``lua`` lines."""

LUA = "lua"
SETNAMES_ATTR = "setname_names"  # events.attrs key: (client, name, ts) tuples of rows filtered out
OTHER = "(other)"
MIX_TOP = 3  # entries in a "command mix" text: "GET 60%, HGET 30%, SET 10%"


# ----------------------------------------------------------------------------- helpers


def span_seconds(events: pd.DataFrame) -> float:
    """Seconds from the first to the last event (0.0 for fewer than two).

    >>> span_seconds(read_monitor(["1.0 [0 lua] \\"GET\\" \\"k\\"", "3.5 [0 lua] \\"GET\\" \\"k\\""]))  # doctest: +SKIP
    2.5
    """
    if len(events) < 2:
        return 0.0
    ts = events["ts"]
    return (ts.max() - ts.min()).total_seconds()


def _rate(count: pd.Series | int, seconds: float) -> pd.Series | float:
    if seconds <= 0:
        return count * np.nan
    return count / seconds


def _text(series: pd.Series) -> pd.Series:
    """A categorical or string column as plain ``str`` (nulls kept)."""
    return series.astype("str")


def command_names(events: pd.DataFrame) -> pd.Series:
    """``COMMAND`` or ``COMMAND SUBCOMMAND`` for every event, as a categorical Series ``name``.

    Work is per distinct (command, subcommand) pair, not per row.

    >>> command_names(events).value_counts().head(2)  # doctest: +SKIP
    """
    pairs = events[["command", "subcommand"]].astype("object")
    codes, uniques = pd.MultiIndex.from_frame(pairs).factorize()
    names = np.array([c if not isinstance(s, str) else f"{c} {s}" for c, s in uniques] + [None], dtype=object)
    return pd.Series(names[codes], index=events.index, name="name", dtype="category")


def setname_names(events: pd.DataFrame) -> pd.DataFrame:
    """Names clients gave themselves in the capture: ``CLIENT SETNAME n`` or ``HELLO ... SETNAME n``.

    One row per client: client, name (the last one set; ``""`` clears it), ts (when).
    Only the rows of those two commands are looked at, plus the names
    :func:`monitorlens.filters.filter_events` kept from rows it filtered out.

    >>> setname_names(events).head()  # doctest: +SKIP
    """
    sets = events[(events["command"] == "CLIENT") & (events["subcommand"] == "SETNAME")]
    hello = events[(events["command"] == "HELLO") & (events["nargs"] >= 2)]
    rows = []
    for frame, start in ((sets, 1), (hello, 0)):
        for client, ts, args in zip(_text(frame["client"]), frame["ts"], frame["args"]):
            name = _setname_arg(list(args), start)
            if name is not None:
                rows.append((client, name, ts))
    # Names seen before rows were filtered out (kept by monitorlens.filters.filter_events).
    rows = list(events.attrs.get(SETNAMES_ATTR, ())) + rows
    table = pd.DataFrame(rows, columns=["client", "name", "ts"]).astype({"client": "str", "name": "str"})
    table = table.sort_values("ts", kind="stable").drop_duplicates("client", keep="last")
    return table.reset_index(drop=True)


def _setname_arg(args: list[bytes], start: int) -> str | None:
    """The name in CLIENT SETNAME args (``start=1``) or after HELLO's SETNAME (``start=0``)."""
    if start == 1:
        return args[1].decode("utf-8", "backslashreplace") if len(args) > 1 else None
    for i, arg in enumerate(args[:-1]):
        if arg.upper() == b"SETNAME":
            return args[i + 1].decode("utf-8", "backslashreplace")
    return None


def script_callers(events: pd.DataFrame) -> pd.Series:
    """For each ``lua`` line, the client whose EVAL/EVALSHA/FCALL came just before it.

    A script's commands reach MONITOR right after the call that ran it, so a
    ``lua`` line belongs to the nearest preceding non-``lua`` line when that line
    is a script call; otherwise (the capture began mid-script) it stays
    ``"lua"``. Other lines keep their own client. Returns a ``str`` Series
    ``client`` aligned with ``events``.

    >>> script_callers(events)[events.client == "lua"].value_counts()  # doctest: +SKIP
    """
    client = _text(events["client"]).to_numpy(dtype=object)
    is_lua = client == LUA
    if not is_lua.any():
        return pd.Series(client, index=events.index, name="client", dtype="str")
    ordered = np.argsort(events["line"].to_numpy(), kind="stable")
    is_call = events["command"].isin(SCRIPT_CALLS).to_numpy()
    # Script calls name the caller; other non-lua lines break the chain (""); lua rows fill.
    caller = np.where(is_lua, None, np.where(is_call, client, ""))[ordered]
    filled = pd.Series(caller, dtype=object).ffill().to_numpy()
    out = np.empty(len(client), dtype=object)
    out[ordered] = filled
    credited = np.where(is_lua & (out != "") & pd.notna(out), out, client)
    return pd.Series(credited, index=events.index, name="client", dtype="str")


def per_distinct(values: pd.Series, fn: Callable[[Any], Any]) -> pd.Series:
    """``fn`` applied once per distinct non-null value, spread back over the Series (nulls stay null).

    >>> per_distinct(pd.Series(["GET", "GET", None]), str.lower).tolist()  # doctest: +SKIP
    ['get', 'get', None]
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    found = np.array([fn(v) for v in uniques] + [None], dtype=object)
    return pd.Series(found[codes], index=values.index, name=values.name)


def mix(frame: pd.DataFrame, by: str, of: str, top: int = MIX_TOP) -> pd.Series:
    """Per value of ``by``, the text ``"GET 60%, HGET 30%"`` of its top ``of`` values.

    >>> mix(events, "client", "command")  # doctest: +SKIP
    """
    counts = frame.groupby([by, of], observed=True, sort=False).size()
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    totals = counts.groupby(level=0, observed=True, sort=False).transform("sum")
    head = counts.groupby(level=0, observed=True, sort=False).head(top)
    share = (100 * head / totals.loc[head.index]).round().astype(int)
    parts = [f"{v} {p}%" for v, p in zip(head.index.get_level_values(1), share)]
    text = pd.Series(parts, index=head.index.get_level_values(0)).groupby(level=0, sort=False).agg(", ".join)
    return text.rename(f"{of}_mix")


def _finish(table: pd.DataFrame, total: int, seconds: float) -> pd.DataFrame:
    """Add share and rate, sort by count (ties by first seen), reset the index."""
    table["share"] = table["count"] / total if total else np.nan
    table["rate_per_s"] = _rate(table["count"], seconds)
    table = table.sort_values(["count", "first"], ascending=[False, True], kind="stable")
    return table.reset_index(drop=True)


def _grouped(events: pd.DataFrame, key: pd.Series | list[pd.Series]) -> pd.DataFrame:
    """count, first, last per group of ``key``."""
    g = events["ts"].groupby(key, observed=True, sort=False)
    return pd.DataFrame({"count": g.size(), "first": g.min(), "last": g.max()})


# -------------------------------------------------------------------------- breakdowns


def by_command(events: pd.DataFrame, subcommands: bool = False) -> pd.DataFrame:
    """Events per command: count, share, rate_per_s, first, last, clients, arg_bytes.

    With ``subcommands=True`` the rows are per ``CLIENT SETNAME``-style name (column
    ``command`` holds the full name). Most frequent first.

    >>> by_command(events)[["command", "count"]].head(2)  # doctest: +SKIP
    """
    columns = ["command", "count", "share", "rate_per_s", "first", "last", "clients", "arg_bytes"]
    if events.empty:
        return _empty(columns)
    key = command_names(events).rename("command") if subcommands else _text(events["command"])
    table = _grouped(events, key)
    table["clients"] = events["client"].groupby(key, observed=True, sort=False).nunique()
    table["arg_bytes"] = events["arg_bytes"].groupby(key, observed=True, sort=False).sum()
    table = table.rename_axis("command").reset_index()
    return _finish(table, len(events), span_seconds(events))[columns]


def client_names(events: pd.DataFrame) -> pd.Series:
    """The known name per client (index: client; nulls dropped), and where it came from.

    A CLIENT LIST name attached as a ``name`` column (``monitorlens.clients.attach_names``)
    wins over the last ``CLIENT SETNAME`` / ``HELLO ... SETNAME`` seen in the capture.
    The Series ``name`` has attribute-free values; see :func:`client_name_table` for the source.

    >>> client_names(events).head()  # doctest: +SKIP
    """
    table = client_name_table(events)
    return table["name"].dropna()


def client_name_table(events: pd.DataFrame) -> pd.DataFrame:
    """name and name_source (``client-list`` or ``setname``) per client that has a name."""
    seen = setname_names(events).set_index("client")["name"]
    out = pd.DataFrame({"name": seen.astype("str"), "name_source": "setname"})
    if "name" in events.columns:
        attached = events["name"].astype("str")
        known = attached.notna() & (attached != "")
        last = attached[known].groupby(_text(events["client"])[known], sort=False).last()
        listed = pd.DataFrame({"name": last.astype("str"), "name_source": "client-list"})
        out = pd.concat([out[~out.index.isin(listed.index)], listed])
    return out.rename_axis("client")


def by_client(events: pd.DataFrame, credit_lua: bool = True) -> pd.DataFrame:
    """Events per client: count, share, rate_per_s, first, last, name, command mix, dbs.

    ``count`` is what the client sent itself plus, with ``credit_lua=True``, the
    ``lua`` lines of its scripts (``lua_count``); ``own_count`` is its lines as
    printed. With ``credit_lua=False`` ``lua`` is a client of its own. ``name`` is
    the CLIENT LIST name when the events carry a ``name`` column (see
    ``monitorlens.clients.attach_names``), else the last ``CLIENT SETNAME`` /
    ``HELLO ... SETNAME`` seen in the capture, else null; ``name_source`` says which.

    >>> by_client(events)[["client", "name", "count", "lua_count"]].head()  # doctest: +SKIP
    """
    columns = ["client", "name", "name_source", "client_kind", "count", "own_count", "lua_count",
               "share", "rate_per_s", "first", "last", "dbs", "command_mix"]
    if events.empty:
        return _empty(columns)
    own = _text(events["client"])
    key = script_callers(events) if credit_lua else own
    table = _grouped(events, key)
    table["own_count"] = own.value_counts().reindex(table.index, fill_value=0)
    table["lua_count"] = table["count"] - table["own_count"]
    frame = pd.DataFrame({"client": key, "command": _text(events["command"]), "db": events["db"]})
    table["command_mix"] = mix(frame, "client", "command").reindex(table.index)
    dbs = frame.dropna(subset=["db"]).groupby("client", sort=False)["db"].unique()
    table["dbs"] = dbs.map(lambda d: ",".join(str(x) for x in sorted(d))).reindex(table.index)
    kinds = pd.Series(_text(events["client_kind"]).to_numpy(), index=own).groupby(level=0).first()
    table["client_kind"] = kinds.reindex(table.index)
    table = table.join(client_name_table(events))
    table = table.rename_axis("client").reset_index()
    return _finish(table, len(events), span_seconds(events))[columns]


def exploded_keys(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (event, key) for every key of every event: ``row`` (position in events), ``key``.

    >>> exploded_keys(events).key.nunique()  # doctest: +SKIP
    """
    keys = pa.array(events["keys"].array) if len(events) else pa.array([], pa.list_(pa.string()))
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    flat = keys.flatten()
    rows = keys.value_parent_indices().to_numpy() if len(flat) else np.array([], dtype=np.int64)
    return pd.DataFrame({"row": rows, "key": flat.to_pandas(types_mapper=None).astype("str")})


def _access_kind(commands: pd.Series) -> pd.Series:
    """``read``, ``write`` or ``other`` per command, from the command table (per distinct name)."""
    def kind(name: str) -> str:
        info = lookup(name)
        if info is None:
            return "other"
        if "write" in info.flags:
            return "write"
        return "read" if "readonly" in info.flags else "other"

    return per_distinct(commands, kind)


def _keyed(events: pd.DataFrame, rules: PatternRules) -> pd.DataFrame:
    """Exploded keys with their event's ts, command, client, access kind and pattern."""
    flat = exploded_keys(events)
    rows = flat["row"].to_numpy()
    command = _text(events["command"]).to_numpy(dtype=object)[rows]
    flat["ts"] = events["ts"].to_numpy()[rows]
    flat["command"] = pd.Categorical(command)
    flat["client"] = pd.Categorical(_text(events["client"]).to_numpy(dtype=object)[rows])
    flat["access"] = _access_kind(flat["command"])
    flat["key"] = flat["key"].astype("category")
    flat["pattern"] = key_patterns(flat["key"].cat.categories.to_series(), rules).to_numpy()[
        flat["key"].cat.codes.to_numpy()]
    return flat


def _access_shares(flat: pd.DataFrame, by: str, index: pd.Index) -> pd.DataFrame:
    counts = pd.crosstab(flat[by], flat["access"]).reindex(index, fill_value=0)
    total = counts.sum(axis=1).replace(0, np.nan)
    return pd.DataFrame({
        "reads": counts.get("read", 0), "writes": counts.get("write", 0),
        "read_share": counts.get("read", 0) / total, "write_share": counts.get("write", 0) / total,
    }, index=index)


def by_key_pattern(events: pd.DataFrame, rules: PatternRules = DEFAULT_RULES) -> pd.DataFrame:
    """Key references per fingerprint: count, share, distinct keys, reads/writes, command mix.

    Every key of every event counts (``DEL a b`` counts ``a`` and ``b``); ``share``
    is of all key references. ``example`` is the pattern's most used key.

    >>> by_key_pattern(events)[["pattern", "count", "keys"]].head()  # doctest: +SKIP
    """
    columns = ["pattern", "count", "share", "rate_per_s", "keys", "reads", "writes", "read_share",
               "write_share", "first", "last", "command_mix", "example"]
    flat = _keyed(events, rules)
    if flat.empty:
        return _empty(columns)
    table = _grouped(flat, flat["pattern"])
    table["keys"] = flat.groupby("pattern", sort=False)["key"].nunique()
    table = table.join(_access_shares(flat, "pattern", table.index))
    table["command_mix"] = mix(flat, "pattern", "command").reindex(table.index)
    top_key = flat.groupby(["pattern", "key"], observed=True, sort=False).size().sort_values(ascending=False)
    table["example"] = top_key.reset_index().drop_duplicates("pattern").set_index("pattern")["key"].astype("str")
    table = table.rename_axis("pattern").reset_index()
    return _finish(table, len(flat), span_seconds(events))[columns]


def hot_keys(events: pd.DataFrame, top: int | None = None, rules: PatternRules = DEFAULT_RULES) -> pd.DataFrame:
    """Key references per key: count, share, pattern, clients, reads/writes, command mix.

    >>> hot_keys(events, top=5)[["key", "count"]]  # doctest: +SKIP
    """
    columns = ["key", "pattern", "count", "share", "rate_per_s", "clients", "reads", "writes",
               "read_share", "write_share", "first", "last", "command_mix"]
    flat = _keyed(events, rules)
    if flat.empty:
        return _empty(columns)
    total = len(flat)
    counts = flat["key"].value_counts(sort=True)
    if top is not None:
        flat = flat[flat["key"].isin(counts.index[:top])]
    flat = flat.assign(key=flat["key"].astype("str"))
    table = _grouped(flat, flat["key"])
    first = flat.drop_duplicates("key").set_index("key")
    table["pattern"] = first["pattern"]
    table["clients"] = flat.groupby("key", sort=False)["client"].nunique()
    table = table.join(_access_shares(flat, "key", table.index))
    table["command_mix"] = mix(flat, "key", "command").reindex(table.index)
    table = table.rename_axis("key").reset_index()
    return _finish(table, total, span_seconds(events))[columns]


def by_db(events: pd.DataFrame) -> pd.DataFrame:
    """Events per database: count, share, rate_per_s, first, last, clients (null db: 2.4 lines).

    >>> by_db(events)  # doctest: +SKIP
    """
    columns = ["db", "count", "share", "rate_per_s", "first", "last", "clients"]
    if events.empty:
        return _empty(columns)
    db = events["db"].astype("Int64")
    table = _grouped(events, db.fillna(-1))
    table["clients"] = events["client"].groupby(db.fillna(-1), observed=True, sort=False).nunique()
    table = table.rename_axis("db").reset_index()
    table["db"] = table["db"].astype("Int64").mask(table["db"] == -1)
    return _finish(table, len(events), span_seconds(events))[columns]


# --------------------------------------------------------------------------------- time


def _bucket(events: pd.DataFrame, freq: str) -> pd.Series:
    return events["ts"].dt.floor(freq)


def timeline(
    events: pd.DataFrame,
    freq: str = "1s",
    by: Literal["command", "client"] | None = "command",
    top: int = 8,
) -> pd.DataFrame:
    """Events per time bucket, WIDE: index ``ts`` (bucket start, every bucket from first to
    last, empty ones 0), one int column per top-``top`` value of ``by`` (most frequent first)
    and ``(other)`` for the rest when there is a rest; ``by=None`` gives one column ``events``.

    Counts are per bucket; divide by the bucket's seconds for a rate. For a long
    table use ``timeline(...).stack()``. ``by="client"`` credits ``lua`` lines to
    the script's caller.

    >>> timeline(events, "1s", by="command", top=3).head(2)  # doctest: +SKIP
    """
    if events.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="ts"))
    bucket = _bucket(events, freq)
    full = pd.date_range(bucket.min(), bucket.max(), freq=freq, name="ts")
    if by is None:
        counts = bucket.value_counts().reindex(full, fill_value=0)
        return counts.rename("events").to_frame().rename_axis("ts")
    values = script_callers(events) if by == "client" else _text(events[by])
    order = values.value_counts()
    keep = order.index[:top]
    label = values.where(values.isin(keep), OTHER)
    wide = pd.crosstab(bucket.to_numpy(), label.to_numpy())
    columns = list(keep) + ([OTHER] if OTHER in wide.columns else [])
    wide = wide.reindex(index=full, columns=columns, fill_value=0)
    wide.columns.name = by
    return wide.rename_axis("ts")


def bursts(
    events: pd.DataFrame,
    freq: str = "1s",
    factor: float = 3.0,
    min_events: int = 50,
) -> pd.DataFrame:
    """Runs of buckets with at least ``factor`` x the median bucket and ``min_events`` events.

    Columns: start, end (end of the last bucket), buckets, events, peak (events in the
    busiest bucket), baseline (median events per bucket), ratio (peak / baseline),
    top_command, top_client (the most frequent in the burst). Biggest first.

    >>> bursts(events, "1s", factor=3)  # doctest: +SKIP
    """
    columns = ["start", "end", "buckets", "events", "peak", "baseline", "ratio", "top_command", "top_client"]
    per = timeline(events, freq, by=None)
    if per.empty:
        return _empty(columns)
    counts = per["events"]
    baseline = float(counts.median())
    hot = (counts >= max(factor * baseline, min_events)).to_numpy()
    if not hot.any():
        return _empty(columns)
    run = np.cumsum(np.r_[True, hot[1:] != hot[:-1]])
    step = pd.tseries.frequencies.to_offset(freq)
    bucket = _bucket(events, freq)
    callers = script_callers(events)
    rows = []
    for r in np.unique(run[hot]):  # per burst, not per row
        span = counts.index[run == r]
        inside = (bucket >= span[0]) & (bucket <= span[-1])
        rows.append({
            "start": span[0], "end": span[-1] + step, "buckets": len(span),
            "events": int(counts[span].sum()), "peak": int(counts[span].max()), "baseline": baseline,
            "ratio": counts[span].max() / baseline if baseline else np.inf,
            "top_command": _text(events["command"][inside]).mode().iat[0],
            "top_client": callers[inside].mode().iat[0],
        })
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["events", "start"], ascending=[False, True]).reset_index(drop=True)


def gaps(events: pd.DataFrame, top: int | None = 10, min_gap_us: int = 0) -> pd.DataFrame:
    """The longest silences between consecutive lines (in line order), longest first.

    Columns: ``gap_us`` (microseconds from one line to the next; a silence, not a
    command's duration: MONITOR does not time commands), start, end (the two
    lines' times), line_before, line_after, client_before, command_before.

    >>> gaps(events, top=3)[["gap_us", "start"]]  # doctest: +SKIP
    """
    columns = ["gap_us", "start", "end", "line_before", "line_after", "client_before", "command_before"]
    table = _gap_table(events)
    table = table[table["gap_us"] >= min_gap_us]
    table = table.sort_values(["gap_us", "line_before"], ascending=[False, True], kind="stable")
    if top is not None:
        table = table.head(top)
    return table.reset_index(drop=True)[columns]


def _gap_table(events: pd.DataFrame) -> pd.DataFrame:
    """Every inter-arrival gap: the line before it, the line after it, ``gap_us``."""
    ordered = events.sort_values("line", kind="stable") if not events["line"].is_monotonic_increasing else events
    ts = ordered["ts"].to_numpy()
    us = (ts[1:] - ts[:-1]).astype("timedelta64[us]").astype(np.int64)
    return pd.DataFrame({
        "gap_us": us,
        "start": ordered["ts"].iloc[:-1].to_numpy(),
        "end": ordered["ts"].iloc[1:].to_numpy(),
        "line_before": ordered["line"].iloc[:-1].to_numpy(),
        "line_after": ordered["line"].iloc[1:].to_numpy(),
        "client_before": _text(ordered["client"].iloc[:-1]).to_numpy(),
        "command_before": _text(ordered["command"].iloc[:-1]).to_numpy(),
    }).astype({"start": "datetime64[us, UTC]", "end": "datetime64[us, UTC]"})


def gap_after_by_command(events: pd.DataFrame) -> pd.DataFrame:
    """Sum and mean of ``gap_after_us`` (time until the next line) per command.

    This is what some tools call "heaviest commands". It is NOT time spent in
    the command: MONITOR prints a command before it runs and gives no duration;
    a long gap after a command means nothing arrived, for whatever reason.

    >>> gap_after_by_command(events).head()  # doctest: +SKIP
    """
    columns = ["command", "count", "gap_after_us_sum", "gap_after_us_mean", "gap_after_us_max"]
    table = _gap_table(events)
    if table.empty:
        return _empty(columns)
    g = table.groupby("command_before", sort=False)["gap_us"]
    out = pd.DataFrame({"count": g.size(), "gap_after_us_sum": g.sum(),
                        "gap_after_us_mean": g.mean(), "gap_after_us_max": g.max()})
    out = out.rename_axis("command").reset_index()
    return out.sort_values("gap_after_us_sum", ascending=False, kind="stable").reset_index(drop=True)[columns]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
