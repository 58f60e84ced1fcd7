"""Breakdowns of MONITOR events: DataFrame -> DataFrame, by command, client, key, db and time.

Every function takes the events of :func:`monitorlens.read_monitor` (or a filtered
slice of them), never mutates them, and returns a new DataFrame named for what it
holds, most frequent first. Rates are per second of the events' own span (first to
last line); a span of zero gives a null rate, never a division by zero. Times are
``datetime64[us, UTC]``.

Example::

    >>> events = read_monitor("sample_captures/incident/monitor.txt.gz")  # doctest: +SKIP
    >>> by_command(events).head(3)  # doctest: +SKIP
      command  count     share  rate_per_s                            first ...

# Strategy: a capture has a million rows but few distinct commands, clients and
# keys. Everything here works on integer codes (the categorical columns' codes,
# Arrow dictionary indices for keys) with bincount/groupby, and does Python work
# only per distinct value (a name, a fingerprint, a "GET 60%" text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..commands import lookup
from ..errors import InputError
from .patterns import DEFAULT_RULES, PatternRules, key_patterns

SCRIPT_CALLS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})
"""Commands whose script's own commands follow them as ``lua`` lines."""

LUA = "lua"
MODULE_SOURCES = ("?:0", "")  # what MONITOR prints for a module's own calls: up to 7.0, from 7.2
OTHER = "(other)"
NO_CLIENT = "(none)"  # MONITOR lines of Redis 2.4 and the "(db N)" dialect name no client
MIX_TOP = 3  # entries in a "command mix" text: "GET 60%, HGET 30%, SET 10%"


# ------------------------------------------------------------------------ coded columns


def codes_of(series: pd.Series, null: str | None = None) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and the values they stand for (categorical codes when it is one).

    Nulls get -1, or, with ``null``, a value of their own named ``null``.

    >>> codes_of(pd.Series(["a", None, "a"]))[0].tolist(), codes_of(pd.Series(["a", None]), "?")[1].tolist()
    ([0, -1, 0], ['a', '?'])
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, labels = series.cat.codes.to_numpy().astype(np.int64), series.cat.categories
    else:
        found, uniques = pd.factorize(series, use_na_sentinel=True)
        codes, labels = found.astype(np.int64), pd.Index(uniques)
    if null is not None and (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels = pd.Index([*labels.astype("str"), null], dtype="str")
    return codes, labels


def ts_us(events: pd.DataFrame) -> np.ndarray:
    """The ``ts`` column as int64 microseconds since the epoch (no copy when already in us)."""
    ts = events["ts"]
    return cast(np.ndarray, ts.dt.as_unit("us").array.asi8 if ts.dt.unit != "us" else ts.array.asi8)


def _times(us: np.ndarray | pd.Series) -> pd.Series | pd.DatetimeIndex:
    return pd.to_datetime(us, unit="us", utc=True).as_unit("us")


def arrow_column(events: pd.DataFrame, column: str) -> pa.ChunkedArray:
    """An Arrow-backed column (``args``, ``keys``) as a ChunkedArray, without a copy."""
    array = events[column].array.__arrow_array__()
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def take_rows(array: pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """``array[positions]`` as one Array, taking from each chunk (no concatenation of the
    whole column: fast for a few rows of a big capture).

    >>> take_rows(pa.chunked_array([[1, 2], [3]]), np.array([2, 0])).to_pylist()
    [3, 1]
    """
    positions = np.asarray(positions, dtype=np.int64)
    if array.num_chunks == 1:
        return array.chunk(0).take(pa.array(positions))
    starts = np.cumsum([0] + [len(c) for c in array.chunks])
    chunk = np.searchsorted(starts, positions, side="right") - 1
    order = np.argsort(chunk, kind="stable")
    parts = [array.chunk(int(c)).take(pa.array(positions[order][chunk[order] == c] - starts[c]))
             for c in np.unique(chunk)]
    if not parts:
        return pa.array([], array.type)
    return pa.concat_arrays(parts).take(pa.array(np.argsort(order, kind="stable")))


def span_seconds(events: pd.DataFrame) -> float:
    """Seconds from the first to the last event (0.0 for fewer than two).

    >>> span_seconds(read_monitor(['1.000000 [0 lua] "GET" "k"', '3.500000 [0 lua] "GET" "k"']))  # doctest: +SKIP
    2.5
    """
    if len(events) < 2:
        return 0.0
    us = ts_us(events)
    return float(us.max() - us.min()) / 1e6


def _rate(count: pd.Series, seconds: float) -> pd.Series:
    return count / seconds if seconds > 0 else count * np.nan


DENSE_PAIRS = 1 << 24  # count pairs with bincount below this many possible pairs, else by hashing


def _dense_factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` for non-negative ints of a small range (codes in value order), by bincount."""
    present = np.flatnonzero(np.bincount(values)) if len(values) else np.array([], np.int64)
    lookup = np.full(int(values.max()) + 1 if len(values) else 0, -1, dtype=np.int64)
    lookup[present] = np.arange(len(present))
    return lookup[values], present


def _pair_codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """One code ``a * width + b`` per pair of codes (pairs with a null, -1, dropped), the
    width, and whether every possible pair fits a bincount (:data:`DENSE_PAIRS`)."""
    if len(a) and (a.min() < 0 or b.min() < 0):
        ok = (a >= 0) & (b >= 0)
        a, b = a[ok], b[ok]
    width = int(b.max()) + 1 if len(b) else 1
    dense = bool(len(a)) and (int(a.max()) + 1) * width <= DENSE_PAIRS
    return a * width + b, width, dense


def first_rows(codes: np.ndarray, n: int) -> np.ndarray:
    """For each code in 0..n-1, the position of its first row (``len(codes)`` if it has none).

    >>> first_rows(np.array([2, 0, 2]), 4).tolist()
    [1, 3, 0, 3]
    """
    first = np.full(n, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    return first


def _pair_counts(a: np.ndarray, b: np.ndarray) -> pd.Series:
    """Counts of each (a, b) code pair present, as a Series with a 2-level index, biggest first
    (ties: the pair seen first comes first, whatever the order of the categories)."""
    pair, width, dense_pairs = _pair_codes(a, b)
    if dense_pairs:
        dense = np.bincount(pair)
        seen = first_rows(pair, len(dense))
        present = np.flatnonzero(dense)
        keys = present[np.lexsort((seen[present], -dense[present]))]
        counts = dense[keys]
    else:
        found = pd.Series(pair).value_counts(sort=False)  # in order of first appearance
        found = found.iloc[np.argsort(-found.to_numpy(), kind="stable")]
        keys, counts = found.index.to_numpy(), found.to_numpy()
    index = pd.MultiIndex.from_arrays([keys // width, keys % width])
    return pd.Series(counts, index=index)


def _distinct(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """For each group code of ``a`` in 0..n-1, the number of distinct ``b`` codes."""
    pair, width, dense = _pair_codes(a, b)
    if not len(pair):
        return np.zeros(n, dtype=np.int64)
    present = np.flatnonzero(np.bincount(pair)) if dense else pd.unique(pair)
    return np.bincount(present // width, minlength=n)


def _joined(groups: np.ndarray, texts: Sequence[str], sep: str, top: int | None = None) -> pd.Series:
    """The ``texts`` of each group joined with ``sep`` (the first ``top`` of each), in the order
    given; a Series indexed by group code, groups in order of first appearance. A loop over
    the (few) pairs: pandas' groupby-join calls Python per group, and costs more."""
    parts: dict[int, list[str]] = {}
    for g, text in zip(groups.tolist(), texts):
        mine = parts.setdefault(g, [])
        if top is None or len(mine) < top:
            mine.append(text)
    return pd.Series([sep.join(p) for p in parts.values()], index=list(parts), dtype="str")


def _mix_text(pairs: pd.Series, labels: pd.Index, top: int = MIX_TOP) -> pd.Series:
    """``"GET 60%, HGET 30%"`` per group from (group, value) pair counts (biggest first)."""
    if pairs.empty:
        return pd.Series(dtype="str")
    g, v = pairs.index.get_level_values(0).to_numpy(), pairs.index.get_level_values(1).to_numpy()
    counts = pairs.to_numpy()
    pct = np.rint(100 * counts / np.bincount(g, weights=counts)[g]).astype(int)
    names = labels.astype("str").tolist()
    return _joined(g, [f"{names[x]} {p}%" for x, p in zip(v.tolist(), pct.tolist())], ", ", top)


def mix(frame: pd.DataFrame, by: str, of: str, top: int = MIX_TOP) -> pd.Series:
    """Per value of ``by``, the text ``"GET 60%, HGET 30%"`` of its top ``of`` values.

    >>> mix(pd.DataFrame({"c": ["a", "a", "b"], "cmd": ["GET", "SET", "GET"]}), "c", "cmd").to_dict()
    {'a': 'GET 50%, SET 50%', 'b': 'GET 100%'}
    """
    g, glabels = codes_of(frame[by])
    v, vlabels = codes_of(frame[of])
    text = _mix_text(_pair_counts(g, v), vlabels, top)
    return pd.Series(text.to_numpy(), index=glabels[text.index.to_numpy()], name=f"{of}_mix", dtype="str")


@dataclass(frozen=True)
class _Grouped:
    """count/first/last per group code, for groups that have rows."""

    codes: np.ndarray  # the group codes present
    count: np.ndarray
    first: np.ndarray  # int64 us
    last: np.ndarray


def _group(codes: np.ndarray, us: np.ndarray) -> _Grouped:
    ok = codes >= 0
    if not ok.all():
        codes, us = codes[ok], us[ok]
    n = int(codes.max()) + 1 if len(codes) else 0
    count = np.bincount(codes, minlength=n)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, codes, us)
    np.maximum.at(last, codes, us)
    present = np.flatnonzero(count)
    return _Grouped(present, count[present], first[present], last[present])


def _table(label: str, labels: Any, g: _Grouped, total: int, seconds: float, **more: Any) -> pd.DataFrame:
    """The common columns (label, count, share, rate_per_s, first, last) plus ``more``, sorted."""
    count = pd.Series(g.count, dtype="int64")
    table = pd.DataFrame({
        label: labels, "count": count, "share": count / total if total else np.nan,
        "rate_per_s": _rate(count.astype("float64"), seconds),
        "first": _times(g.first), "last": _times(g.last), **more,
    })
    table = table.sort_values(["count", "first"], ascending=[False, True], kind="stable")
    return table.reset_index(drop=True)


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


# ------------------------------------------------------------------ commands and clients


def _command_codes(events: pd.DataFrame, subcommands: bool) -> tuple[np.ndarray, pd.Index]:
    cmd, cmds = codes_of(events["command"])
    if not subcommands:
        return cmd, cmds
    sub, subs = codes_of(events["subcommand"])
    pair = cmd * (len(subs) + 1) + (sub + 1)
    if len(cmds) * (len(subs) + 1) <= DENSE_PAIRS:
        codes, uniques = _dense_factorize(pair)
    else:
        codes, uniques = pd.factorize(pair)
    pairs = [divmod(int(u), len(subs) + 1) for u in uniques]
    names = [f"{cmds[c]} {subs[s - 1]}" if s > 0 else str(cmds[c]) for c, s in pairs]
    # two pairs cannot give one name: subcommands have no spaces
    return codes.astype(np.int64), pd.Index(names, dtype="str")


def command_names(events: pd.DataFrame) -> pd.Series:
    """``COMMAND`` or ``COMMAND SUBCOMMAND`` for every event, as a categorical Series ``name``.

    >>> command_names(events).value_counts().head(2)  # doctest: +SKIP
    """
    codes, names = _command_codes(events, True)
    cat = pd.Categorical.from_codes(codes, categories=names) if len(names) else pd.Categorical([])
    return pd.Series(cat, index=events.index, name="name")


def script_callers(events: pd.DataFrame) -> pd.Series:
    """For each ``lua`` line, the client whose EVAL/EVALSHA/FCALL came just before it; for each
    line a module ran (source ``?:0`` or empty), the client whose module command ran it.

    A script's commands reach MONITOR right after the call that ran it, so a
    ``lua`` line belongs to the nearest preceding non-``lua`` line (in line
    order) when that line is a script call; otherwise (the capture began
    mid-script) it stays ``lua``. A module's calls come right after its command
    (RediSearch's FT.SEARCH on Redis 7.0) or right before it (FT.DROP: the server
    writes a command's line once it has run): a module line belongs to the nearest
    non-module line before it when that is a module command (a name with a dot),
    else to the nearest after it when that is one; else it stays as it is. Other
    lines keep their own client. Returns a categorical Series ``client`` aligned
    with ``events``.

    >>> script_callers(events)[events.client == "lua"].value_counts()  # doctest: +SKIP
    """
    codes, clients = codes_of(events["client"], NO_CLIENT)
    cats = pd.Index(clients.astype("str"))
    modules = [cats.get_loc(m) for m in MODULE_SOURCES if m in cats]
    if LUA not in cats and not modules:
        return pd.Series(pd.Categorical.from_codes(codes, categories=cats), index=events.index, name="client")
    line = events["line"].to_numpy()
    order = None if len(line) < 2 or (np.diff(line) > 0).all() else np.argsort(line, kind="stable")
    c = codes if order is None else codes[order]
    cmd, cmds = codes_of(events["command"])
    cmd = cmd if order is None else cmd[order]
    credited = c
    if LUA in cats:
        calls = [i for i, name in enumerate(cmds) if name in SCRIPT_CALLS]
        credited = _credit(credited, c == cats.get_loc(LUA), np.isin(cmd, calls), after=False)
    if modules:
        calls = [i for i, name in enumerate(cmds) if "." in str(name)]
        credited = _credit(credited, np.isin(c, modules), np.isin(cmd, calls), after=True)
    if order is not None:
        out = np.empty_like(credited)
        out[order] = credited
        credited = out
    return pd.Series(pd.Categorical.from_codes(credited, categories=cats), index=events.index, name="client")


def _credit(c: np.ndarray, ran: np.ndarray, is_call: np.ndarray, *, after: bool) -> np.ndarray:
    """Client codes ``c`` (in line order) with each ``ran`` row given the client of the nearest
    non-``ran`` row before it when that row ``is_call`` (and, with ``after``, else of the
    nearest after it when that one is); other rows, and ``ran`` rows with no such call, keep theirs."""
    n = len(c)
    # Calls name their caller; other rows break the chain (-2); ran rows look around.
    source = np.where(is_call & ~ran, c, -2)
    last = np.maximum.accumulate(np.where(ran, -1, np.arange(n)))
    found = np.where(last >= 0, source[np.maximum(last, 0)], -2)
    if after:
        following = np.minimum.accumulate(np.where(ran, n, np.arange(n))[::-1])[::-1]
        later = np.where(following < n, source[np.minimum(following, n - 1)], -2)
        found = np.where(found >= 0, found, later)
    return np.where(ran & (found >= 0), found, c)


def by_command(events: pd.DataFrame, subcommands: bool = False) -> pd.DataFrame:
    """Events per command: count, share, rate_per_s, first, last, clients, arg_bytes.

    With ``subcommands=True`` the rows are per ``CLIENT SETNAME``-style name (column
    ``command`` holds the full name). Most frequent first.

    >>> by_command(events)[["command", "count"]].head(2)  # doctest: +SKIP
    """
    columns = ["command", "count", "share", "rate_per_s", "first", "last", "clients", "arg_bytes"]
    if events.empty:
        return _empty(columns)
    codes, names = _command_codes(events, subcommands)
    g = _group(codes, ts_us(events))
    clients = _distinct(codes, codes_of(events["client"])[0], len(names))[g.codes]
    arg_bytes = np.bincount(codes, weights=events["arg_bytes"].to_numpy(), minlength=len(names))[g.codes]
    return _table("command", names[g.codes].astype("str"), g, len(events), span_seconds(events),
                  clients=clients, arg_bytes=arg_bytes.astype("int64"))[columns]


@dataclass(frozen=True, eq=False)
class ClientNames:
    """The names clients gave themselves in a whole capture (``table``: client, name, ts; see
    :func:`setname_names`), taken before a filter drops the CLIENT SETNAME lines, so that the
    filtered events still show who is who.

    >>> names = ClientNames.of(events); analyze(filter_events(events, command="GET"), names=names)  # doctest: +SKIP
    """

    table: pd.DataFrame

    @classmethod
    def of(cls, events: pd.DataFrame) -> "ClientNames":
        """The names set in ``events``."""
        return cls(setname_names(events))


def setname_names(events: pd.DataFrame) -> pd.DataFrame:
    """Names clients gave themselves in the capture: ``CLIENT SETNAME n`` or ``HELLO ... SETNAME n``.

    One row per client: client, name (the last one set; ``""`` clears it), ts (when).

    >>> setname_names(events).head()  # doctest: +SKIP
    """
    return setname_calls(events).drop_duplicates("client", keep="last").reset_index(drop=True)


def setname_calls(events: pd.DataFrame) -> pd.DataFrame:
    """Every ``CLIENT SETNAME n`` and ``HELLO ... SETNAME n`` of the capture, in time order:
    client, name (``""`` clears it), ts. Only the rows of those two commands are looked at.

    >>> setname_calls(events).name.tolist()  # doctest: +SKIP
    ['checkout', 'checkout-v2']
    """
    command = events["command"]
    sets = np.flatnonzero(((command == "CLIENT") & (events["subcommand"] == "SETNAME")).to_numpy())
    hello = np.flatnonzero(((command == "HELLO") & (events["nargs"] >= 2)).to_numpy())
    if not len(sets) and not len(hello):  # most blocks: no frame to build and sort (ms each)
        return _NO_SETNAMES.copy()
    rows = []
    for pos, start in ((sets, 1), (hello, 0)):
        if len(pos) == 0:
            continue
        args = take_rows(arrow_column(events, "args"), pos).to_pylist()
        for client, ts, argv in zip(labels_at(events["client"], pos), _times(ts_us(events)[pos]), args):
            name = _setname_arg(argv, start)
            if name is not None:
                rows.append((client, name, ts))
    table = pd.DataFrame(rows, columns=["client", "name", "ts"]).astype({"client": "str", "name": "str"})
    return table.sort_values("ts", kind="stable").reset_index(drop=True)


_NO_SETNAMES = pd.DataFrame({"client": pd.Series([], dtype="str"), "name": pd.Series([], dtype="str"),
                             "ts": pd.Series([], dtype="datetime64[us, UTC]")})


def _setname_arg(args: list[bytes], start: int) -> str | None:
    """The name in CLIENT SETNAME args (``start=1``) or after HELLO's SETNAME (``start=0``)."""
    if start == 1:
        return args[1].decode("utf-8", "backslashreplace") if len(args) > 1 else None
    for i, arg in enumerate(args[:-1]):
        if arg.upper() == b"SETNAME":
            return args[i + 1].decode("utf-8", "backslashreplace")
    return None


def client_name_table(events: pd.DataFrame, names: ClientNames | None = None) -> pd.DataFrame:
    """name and name_source (``client-list`` or ``setname``) per client that has a name.

    A CLIENT LIST name attached as a ``name`` column (``monitorlens.analysis.clientlist.attach_names``)
    wins over the last ``CLIENT SETNAME`` / ``HELLO ... SETNAME`` seen in the capture (in
    ``names`` when given: those of the whole capture, the events being a filtered part).

    >>> client_name_table(events).head()  # doctest: +SKIP
    """
    seen = (names.table if names is not None else setname_names(events)).set_index("client")["name"]
    out = pd.DataFrame({"name": seen.astype("str"), "name_source": "setname"})
    if "name" in events.columns:
        last = last_known(events, "name")
        listed = pd.DataFrame({"name": last, "name_source": "client-list"})
        out = pd.concat([out[~out.index.isin(listed.index)], listed])
    return out.rename_axis("client")


ATTACHED = ("user", "lib_name")  # CLIENT LIST fields by_client shows when the events carry them


def last_known(events: pd.DataFrame, column: str) -> pd.Series:
    """The last non-empty value of ``column`` per client (index: client as str).

    >>> last_known(events.assign(user="app"), "user").head()  # doctest: +SKIP
    """
    values = events[column].astype("str")
    known = (values.notna() & (values != "")).to_numpy()
    codes, clients = codes_of(events["client"], NO_CLIENT)
    picked = pd.Series(values.to_numpy()[known]).groupby(codes[known], sort=True).last()
    return pd.Series(picked.to_numpy(), index=pd.Index(clients.astype("str"))[picked.index], dtype="str")


def client_names(events: pd.DataFrame, names: ClientNames | None = None) -> pd.Series:
    """The known name per client (index: client); clients with no known name are absent.

    >>> client_names(events).head()  # doctest: +SKIP
    """
    return client_name_table(events, names)["name"]


def by_client(events: pd.DataFrame, credit_lua: bool = True, *, names: ClientNames | None = None) -> pd.DataFrame:
    """Events per client: count, share, rate_per_s, first, last, name, command mix, dbs.

    ``count`` is what the client sent itself plus, with ``credit_lua=True``, the
    ``lua`` lines of its scripts (``lua_count``); ``own_count`` is its lines as
    printed. With ``credit_lua=False`` ``lua`` is a client of its own. ``name`` is
    the CLIENT LIST name when the events carry a ``name`` column (see
    ``monitorlens.analysis.clientlist.attach_names``), else the last ``CLIENT SETNAME`` /
    ``HELLO ... SETNAME`` seen in the capture, else null; ``name_source`` says which.
    ``user`` and ``lib_name`` columns of the events are shown too when present.

    >>> by_client(events)[["client", "name", "count", "lua_count"]].head()  # doctest: +SKIP
    """
    columns = ["client", "name", "name_source", "client_kind", "count", "own_count", "lua_count",
               "share", "rate_per_s", "first", "last", "dbs", "command_mix"]
    if events.empty:
        return _empty(columns)
    own, clients = codes_of(events["client"], NO_CLIENT)
    codes = codes_of(script_callers(events))[0] if credit_lua else own
    n = len(clients)
    g = _group(codes, ts_us(events))
    own_count = np.bincount(own, minlength=n)[g.codes]
    cmd, cmds = codes_of(events["command"])
    mix_text = _mix_text(_pair_counts(codes, cmd), cmds.astype("str")).reindex(g.codes)
    db = events["db"].to_numpy(dtype="float64", na_value=np.nan)
    dbs = _pair_counts(codes, np.where(np.isnan(db), -1, db).astype(np.int64)).sort_index()
    db_text = _joined(dbs.index.get_level_values(0).to_numpy(),
                      dbs.index.get_level_values(1).astype(str).tolist(), ",").reindex(g.codes)
    kind, kinds = codes_of(events["client_kind"], NO_CLIENT)
    first_row = first_rows(own, n)
    seen = np.flatnonzero(first_row < len(own))
    client_kind = pd.Series(kinds.astype("str")[kind[first_row[seen]]], index=seen)
    labels = pd.Index(clients.astype("str"))[g.codes]
    known = client_name_table(events, names).reindex(labels)
    table = _table(
        "client", labels, g, len(events), span_seconds(events),
        name=known["name"].to_numpy(), name_source=known["name_source"].to_numpy(),
        client_kind=client_kind.reindex(g.codes).to_numpy(), own_count=own_count,
        lua_count=g.count - own_count, dbs=db_text.to_numpy(), command_mix=mix_text.to_numpy(),
    )
    for col in ("name", "name_source", "client_kind", "dbs", "command_mix"):
        table[col] = table[col].astype("str")
    extra = [c for c in ATTACHED if c in events.columns]
    for col in extra:
        table[col] = last_known(events, col).reindex(table["client"]).to_numpy()
    return table[columns + extra]


def by_db(events: pd.DataFrame) -> pd.DataFrame:
    """Events per database: count, share, rate_per_s, first, last, clients (null db: 2.4 lines).

    >>> by_db(events)  # doctest: +SKIP
    """
    columns = ["db", "count", "share", "rate_per_s", "first", "last", "clients"]
    if events.empty:
        return _empty(columns)
    db = events["db"].to_numpy(dtype="float64", na_value=np.nan)
    codes = np.where(np.isnan(db), 0, db + 1).astype(np.int64)  # 0 = no db printed
    g = _group(codes, ts_us(events))
    clients = _distinct(codes, codes_of(events["client"])[0], int(codes.max()) + 1)[g.codes]
    labels = pd.array(np.where(g.codes == 0, 0, g.codes - 1), dtype="Int64")
    labels[g.codes == 0] = pd.NA
    return _table("db", labels, g, len(events), span_seconds(events), clients=clients)[columns]


# ------------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class FlatKeys:
    """Every key reference of some events: ``row`` (event position) and ``key`` (index into
    ``keys``, the distinct keys in order of first reference)."""

    row: np.ndarray
    key: np.ndarray
    keys: pa.Array


def flat_keys(events: pd.DataFrame) -> FlatKeys:
    """The :class:`FlatKeys` of events (the ``keys`` lists flattened and dictionary-encoded).

    >>> fk = flat_keys(events); len(fk.row), len(fk.keys)  # doctest: +SKIP
    """
    return flatten_keys(keys_column(events))


def keys_column(events: pd.DataFrame) -> pa.Array | pa.ChunkedArray:
    """The events' ``keys`` column as Arrow (zero copy)."""
    return events["keys"].array.__arrow_array__() if not events.empty else pa.array([], pa.list_(pa.string()))


def flatten_keys(keys: pa.Array | pa.ChunkedArray) -> FlatKeys:
    """The :class:`FlatKeys` of the Arrow ``keys`` column: Arrow only, so it may run on another
    thread while pandas works (dictionary-encoding a million keys takes a quarter second)."""
    if len(keys) == 0:
        return FlatKeys(np.array([], np.int64), np.array([], np.int64), pa.array([], pa.string()))
    arr = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    flat = arr.flatten()
    rows = pc.list_parent_indices(arr).to_numpy() if len(flat) else np.array([], np.int64)
    encoded = flat.dictionary_encode()
    return FlatKeys(rows.astype(np.int64), encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
                 encoded.dictionary)


def _accesscodes_of(commands: pd.Index) -> np.ndarray:
    """0 read, 1 write, 2 other for each command name, from the command table."""
    def kind(name: str) -> int:
        info = lookup(name)
        if info is None:
            return 2
        return 1 if "write" in info.flags else 0 if "readonly" in info.flags else 2

    return np.array([kind(str(c)) for c in commands] + [2], dtype=np.int64)  # -1 (null) -> other


# Strategy: most keys are words and plain numbers ("user:1234:profile"). For the default
# rules such a key's fingerprint is the key with each all-digit segment -> {int}, unless
# the segment could be a date (8 digits) or an epoch (10 or 13): those, keys with any
# other character class, and user rules go through patterns.fingerprint, per distinct key.
_WORD = r"[^0-9:{}\[\]]{1,15}"  # no digit, shorter than hex_min_len: never an id
_NUMBER = r"-?(?:[0-9]{1,7}|[0-9]{9}|[0-9]{11,12}|[0-9]{14,})"
_PLAIN_KEY = rf"^(?:{_WORD}|{_NUMBER})(?::(?:{_WORD}|{_NUMBER})){{0,5}}$"  # < 7 colons: no IPv6


def _fingerprints(keys: pa.Array, rules: PatternRules) -> tuple[np.ndarray, pd.Index]:
    """The pattern of each distinct key, factorized: a code per key (numbered in the order
    the patterns first appear) and the patterns. Plain keys stay in Arrow throughout; only
    the others become Python strings."""
    n = len(keys)
    plain = np.zeros(n, dtype=bool)
    parts: list[pa.Array] = []
    if rules == DEFAULT_RULES and n:
        plain = np.asarray(pc.match_substring_regex(keys, _PLAIN_KEY).to_numpy(zero_copy_only=False), dtype=bool)
        parts.append(pc.replace_substring_regex(keys.filter(pa.array(plain)), r"-?[0-9]+", "{int}"))
    rest = np.flatnonzero(~plain)
    if len(rest):
        slow = key_patterns(pd.Series(keys.take(pa.array(rest)).to_pandas(), dtype="str"), rules)
        parts.append(pa.array(slow.to_numpy(dtype=object), pa.string()))
    if not n:
        return np.array([], np.int64), pd.Index([], dtype=object)
    encoded = pa.concat_arrays([p.cast(pa.string()) for p in parts]).dictionary_encode()
    codes = np.empty(n, dtype=np.int64)
    codes[np.concatenate([np.flatnonzero(plain), rest])] = encoded.indices.to_numpy(zero_copy_only=False)
    # renumber in order of first appearance, as pd.factorize numbers them
    first = np.full(len(encoded.dictionary), n, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(n))
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[codes], pd.Index(np.asarray(encoded.dictionary.to_pylist(), dtype=object)[order], dtype=object)


@dataclass(frozen=True)
class KeyTable:
    """Every key reference of the events with its pattern, command, client and time, as codes.

    Built once by :func:`key_table` and shared by :func:`by_key_pattern` and
    :func:`hot_keys` (``analyze`` does this), so keys are flattened and
    fingerprinted once.
    """

    flat: FlatKeys
    pattern_of_key: np.ndarray  # pattern code per distinct key
    patterns: pd.Index
    command: np.ndarray  # per reference
    commands: pd.Index
    client: np.ndarray  # per reference, lua credited
    us: np.ndarray  # per reference
    seconds: float

    @property
    def pattern(self) -> np.ndarray:
        """Pattern code per key reference."""
        return cast(np.ndarray, self.pattern_of_key[self.flat.key])


def key_table(events: pd.DataFrame, rules: PatternRules = DEFAULT_RULES, flat: FlatKeys | None = None,
              *, guessed_keys: bool = False) -> KeyTable:
    """The :class:`KeyTable` of the events (keys flattened and fingerprinted once); ``flat``
    is their :func:`flatten_keys` when already computed.

    Keys of commands monitorlens does not know (``key_rule`` ``first-arg``: the first
    argument, a guess; ``RG.TRIGGER RateLimiter`` made ``RateLimiter`` a hot key) are left
    out unless ``guessed_keys``.

    >>> kt = key_table(events); by_key_pattern(kt), hot_keys(kt)  # doctest: +SKIP
    """
    flat = flat if flat is not None else flat_keys(events)
    if not guessed_keys:
        flat = _without_guesses(flat, events)
    codes, patterns = _fingerprints(flat.keys, rules)
    cmd, cmds = codes_of(events["command"])
    client = codes_of(script_callers(events))[0] if len(events) else np.array([], np.int64)
    return KeyTable(
        flat=flat, pattern_of_key=codes.astype(np.int64), patterns=pd.Index(patterns, dtype="str"),
        command=cmd[flat.row], commands=pd.Index(cmds.astype("str")), client=client[flat.row],
        us=ts_us(events)[flat.row] if len(events) else np.array([], np.int64),
        seconds=span_seconds(events),
    )


def _without_guesses(flat: FlatKeys, events: pd.DataFrame) -> FlatKeys:
    """``flat`` without the references of rows whose key is a guess (key_rule first-arg)."""
    if "key_rule" not in events.columns or not len(flat.row):
        return flat
    guessed = (events["key_rule"] == "first-arg").to_numpy(dtype=bool, na_value=False)
    if not guessed.any():
        return flat
    keep = ~guessed[flat.row]
    codes, distinct = pd.factorize(flat.key[keep])  # renumbered in order of first reference
    return FlatKeys(flat.row[keep], codes.astype(np.int64), flat.keys.take(pa.array(distinct)))


def _access_columns(group: np.ndarray, kt: KeyTable, n: int, present: np.ndarray) -> dict[str, np.ndarray]:
    access = _accesscodes_of(kt.commands)[kt.command]
    counts = np.bincount(group * 3 + access, minlength=3 * n).reshape(n, 3)[present]
    total = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"reads": counts[:, 0], "writes": counts[:, 1],
                "read_share": np.where(total > 0, counts[:, 0] / np.maximum(total, 1), np.nan),
                "write_share": np.where(total > 0, counts[:, 1] / np.maximum(total, 1), np.nan)}


def _events_or_table(events: pd.DataFrame | KeyTable, rules: PatternRules) -> KeyTable:
    return events if isinstance(events, KeyTable) else key_table(events, rules)


def by_key_pattern(events: pd.DataFrame | KeyTable, rules: PatternRules = DEFAULT_RULES) -> pd.DataFrame:
    """Key references per fingerprint: count, share, distinct keys, reads/writes, command mix.

    Every key of every event counts (``DEL a b`` counts ``a`` and ``b``); ``share``
    is of all key references; ``read_share`` of the references by read commands
    (the rest are writes and others, e.g. EVAL). ``example`` is the pattern's most
    used key. Accepts the events or their :func:`key_table`.

    >>> by_key_pattern(events)[["pattern", "count", "keys"]].head()  # doctest: +SKIP
    """
    columns = ["pattern", "count", "share", "rate_per_s", "keys", "reads", "writes", "read_share",
               "write_share", "first", "last", "command_mix", "example"]
    kt = _events_or_table(events, rules)
    if len(kt.flat.key) == 0:
        return _empty(columns)
    n = len(kt.patterns)
    pattern = kt.pattern
    g = _group(pattern, kt.us)
    key_counts = np.bincount(kt.flat.key, minlength=len(kt.flat.keys))
    order = np.lexsort((-key_counts, kt.pattern_of_key))
    first_of = np.r_[True, np.diff(kt.pattern_of_key[order]) != 0]
    example = pd.Series(order[first_of], index=kt.pattern_of_key[order][first_of]).reindex(g.codes)
    mix_text = _mix_text(_pair_counts(pattern, kt.command), kt.commands).reindex(g.codes)
    return _table(
        "pattern", kt.patterns[g.codes], g, len(pattern), kt.seconds,
        keys=np.bincount(kt.pattern_of_key, minlength=n)[g.codes],
        **_access_columns(pattern, kt, n, g.codes), command_mix=mix_text.to_numpy(),
        example=np.asarray(kt.flat.keys.take(pa.array(example.to_numpy())).to_pylist(), dtype=object),
    )[columns]


def hot_keys(events: pd.DataFrame | KeyTable, top: int | None = None,
             rules: PatternRules = DEFAULT_RULES) -> pd.DataFrame:
    """Key references per key (the ``top`` most referenced): count, share, pattern, clients,
    reads/writes, command mix. Accepts the events or their :func:`key_table`.

    >>> hot_keys(events, top=5)[["key", "count"]]  # doctest: +SKIP
    """
    columns = ["key", "pattern", "count", "share", "rate_per_s", "clients", "reads", "writes",
               "read_share", "write_share", "first", "last", "command_mix"]
    kt = _events_or_table(events, rules)
    if len(kt.flat.key) == 0:
        return _empty(columns)
    key = kt.flat.key
    counts = np.bincount(key, minlength=len(kt.flat.keys))
    chosen = np.argsort(-counts, kind="stable")[: top if top is not None else len(counts)]
    # Renumber the chosen keys 0..k-1 and drop the other references.
    rank = np.full(len(counts), -1, dtype=np.int64)
    rank[chosen] = np.arange(len(chosen))
    mine = rank[key]
    keep = mine >= 0
    sub = KeyTable(FlatKeys(kt.flat.row[keep], mine[keep], kt.flat.keys.take(pa.array(chosen))),
                   kt.pattern_of_key[chosen], kt.patterns, kt.command[keep], kt.commands,
                   kt.client[keep], kt.us[keep], kt.seconds)
    k = len(chosen)
    g = _group(sub.flat.key, sub.us)
    mix_text = _mix_text(_pair_counts(sub.flat.key, sub.command), kt.commands).reindex(g.codes)
    names = np.asarray(sub.flat.keys.to_pylist(), dtype=object)
    return _table(
        "key", names[g.codes], g, len(key), kt.seconds,
        pattern=kt.patterns[sub.pattern_of_key[g.codes]],
        clients=_distinct(sub.flat.key, sub.client, k)[g.codes],
        **_access_columns(sub.flat.key, sub, k, g.codes), command_mix=mix_text.to_numpy(),
    )[columns]


# --------------------------------------------------------------------------------- time


def _step_us(freq: str) -> int:
    try:
        step = pd.to_timedelta(freq)
    except (ValueError, TypeError):
        step = None
    if step is None or step <= pd.Timedelta(0):
        raise InputError(f"bucket {freq!r}: give a fixed duration such as '100ms', '1s', '10s' or '1min'")
    return max(int(step / pd.Timedelta(microseconds=1)), 1)


MAX_BUCKETS = 10_000
"""Most buckets a timeline has: past it the bucket doubles (1 s, 2 s, 4 s...), so a capture
spanning a year costs what one spanning three hours does."""


def bucket_step(freq: str, first_us: int, last_us: int, max_buckets: int = MAX_BUCKETS) -> int:
    """The bucket length (us) for events from ``first_us`` to ``last_us``: ``freq``, doubled
    until the buckets from first to last are at most ``max_buckets``. Buckets start at
    multiples of the step since the epoch, so doubling merges neighbours exactly.

    >>> bucket_step("1s", 0, 5_000_000), bucket_step("1s", 0, 86_400_000_000, 10_000)
    (1000000, 16000000)
    """
    step = _step_us(freq)
    while last_us // step - first_us // step + 1 > max_buckets:
        step *= 2
    return step


def _buckets(events: pd.DataFrame, freq: str) -> tuple[np.ndarray, int, int]:
    """Bucket number of each event, the first bucket's start (us) and the bucket length (us)."""
    us = ts_us(events)
    step = bucket_step(freq, int(us.min()), int(us.max()))
    origin = (int(us.min()) // step) * step
    return (us - origin) // step, origin, step


def timeline(
    events: pd.DataFrame,
    freq: str = "1s",
    by: Literal["command", "client"] | None = "command",
    top: int = 8,
) -> pd.DataFrame:
    """Events per time bucket, WIDE: index ``ts`` (bucket start, every bucket from first to
    last, empty ones 0), one int column per top-``top`` value of ``by`` (most frequent first)
    and ``(other)`` for the rest when there is a rest; ``by=None`` gives one column ``events``.

    Counts are per bucket; divide by the bucket's seconds for a rate (``freq``, doubled
    as often as needed to keep at most :data:`MAX_BUCKETS` buckets). For a long
    table use ``timeline(...).stack()``. ``by="client"`` credits ``lua`` lines to
    the script's caller.

    >>> timeline(events, "1s", by="command", top=3).head(2)  # doctest: +SKIP
    """
    if events.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="ts").as_unit("us"))
    bucket, origin, step = _buckets(events, freq)
    nb = int(bucket.max()) + 1
    index = pd.date_range(_times(np.array([origin]))[0], periods=nb, freq=pd.Timedelta(microseconds=step),
                          name="ts", unit="us")
    if by is None:
        return pd.DataFrame({"events": np.bincount(bucket, minlength=nb)}, index=index)
    if by not in ("command", "client"):
        raise InputError(f"timeline by={by!r}: choose 'command', 'client' or None")
    codes, labels = codes_of(script_callers(events) if by == "client" else events["command"])
    totals = np.bincount(codes, minlength=len(labels))
    keep = np.argsort(-totals, kind="stable")[: min(top, int((totals > 0).sum()))]
    lane = np.full(len(labels), len(keep), dtype=np.int64)
    lane[keep] = np.arange(len(keep))
    k = len(keep) + 1
    wide = np.bincount(bucket * k + lane[codes], minlength=nb * k).reshape(nb, k)
    names = [str(x) for x in labels[keep]]
    if wide[:, -1].any():
        names.append(OTHER)
    else:
        wide = wide[:, :-1]
    return pd.DataFrame(wide, index=index, columns=pd.Index(names, name=by))


def bucket_seconds(timeline: pd.DataFrame, first: Any, last: Any) -> pd.Series:
    """Seconds of each bucket of a :func:`timeline` that the capture covers (from its
    ``first`` to its ``last`` event): the bucket's length, less for the first and last.

    A capture ends mid-bucket: its last bucket of 1 s may hold 0.04 s of traffic, and
    drawn as a full second it shows a fake drop at the end. Divide by these seconds for
    a rate, or leave out buckets that are mostly outside the capture.

    >>> tl = pd.DataFrame({"events": [5, 9]}, index=pd.to_datetime([0, 1], unit="s", utc=True))
    >>> bucket_seconds(tl, pd.Timestamp(0.5, unit="s", tz="UTC"), pd.Timestamp(1.25, unit="s", tz="UTC")).tolist()
    [0.5, 0.25]
    """
    index = pd.DatetimeIndex(timeline.index)
    if len(index) == 0:
        return pd.Series([], index=index, dtype="float64")
    freq = pd.Timedelta(index.freq) if index.freq is not None else None
    step = freq if freq is not None else (index[1] - index[0]) if len(index) > 1 else pd.Timedelta(seconds=1)
    ns = index.as_unit("ns")
    lo = np.maximum(ns.asi8, pd.Timestamp(first).value)
    hi = np.minimum((ns + step).asi8, pd.Timestamp(last).value)
    return pd.Series(np.clip(hi - lo, 0, None) / 1e9, index=index, dtype="float64")


def coarser(timeline: pd.DataFrame, max_buckets: int) -> pd.DataFrame:
    """A wide timeline with neighbouring buckets summed (2, 4, 8... at a time) until it has at
    most ``max_buckets`` rows: what a chart of a few hundred pixels can show.

    >>> t = timeline(events, "1s"); len(coarser(t, 100)) <= 100  # doctest: +SKIP
    True
    """
    n = len(timeline)
    if n <= max_buckets or n < 2:
        return timeline
    factor = 1
    while -(-n // factor) > max_buckets:
        factor *= 2
    us = pd.DatetimeIndex(timeline.index).as_unit("us").asi8
    width_us = int(us[1] - us[0]) * factor
    origin = (int(us[0]) // width_us) * width_us  # buckets of the wider step start at its multiples
    group = (us - origin) // width_us
    summed = timeline.groupby(group).sum()
    full = np.arange(int(group.max()) + 1)
    summed = summed.reindex(full, fill_value=0)
    summed.index = pd.date_range(_times(np.array([origin]))[0], periods=len(full),
                                 freq=pd.Timedelta(microseconds=width_us), name=timeline.index.name, unit="us")
    return summed


def bursts(
    events: pd.DataFrame,
    freq: str = "1s",
    factor: float = 3.0,
    min_events: int = 50,
) -> pd.DataFrame:
    """Runs of buckets with at least ``factor`` x the median bucket and ``min_events`` events.

    Columns: start, end (end of the last bucket), buckets, events, peak (events in the
    busiest bucket), baseline (median events per bucket), ratio (peak / baseline),
    top_command, top_client (the most frequent in the burst, lua credited). Biggest first.

    >>> bursts(events, "1s", factor=3)  # doctest: +SKIP
    """
    columns = ["start", "end", "buckets", "events", "peak", "baseline", "ratio", "top_command", "top_client"]
    if events.empty:
        return _empty(columns)
    bucket, origin, step = _buckets(events, freq)
    counts = np.bincount(bucket)
    baseline = float(np.median(counts))
    hot = counts >= max(factor * baseline, min_events)
    if not hot.any():
        return _empty(columns)
    run = np.cumsum(np.r_[True, hot[1:] != hot[:-1]])
    cmd, cmds = codes_of(events["command"])
    who, clients = codes_of(script_callers(events))
    rows = []
    for r in np.unique(run[hot]):  # per burst, not per row
        span = np.flatnonzero(run == r)
        inside = (bucket >= span[0]) & (bucket <= span[-1])
        peak = int(counts[span].max())
        rows.append({
            "start": _times(origin + step * int(span[0])), "end": _times(origin + step * (int(span[-1]) + 1)),
            "buckets": len(span), "events": int(counts[span].sum()), "peak": peak, "baseline": baseline,
            "ratio": peak / baseline if baseline else np.inf,
            "top_command": str(cmds[np.bincount(cmd[inside], minlength=len(cmds)).argmax()]),
            "top_client": str(clients[np.bincount(who[inside], minlength=len(clients)).argmax()]),
        })
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["events", "start"], ascending=[False, True]).reset_index(drop=True)


def _line_order(events: pd.DataFrame) -> np.ndarray | None:
    line = events["line"].to_numpy()
    return None if len(line) < 2 or (np.diff(line) > 0).all() else np.argsort(line, kind="stable")


def _gap_us(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The gap after each line but the last, in line order, and the row positions in that order."""
    order = _line_order(events)
    positions = np.arange(len(events)) if order is None else order
    us = ts_us(events)[positions]
    return np.diff(us), positions


def gaps(events: pd.DataFrame, top: int | None = 10, min_gap_us: int = 0) -> pd.DataFrame:
    """The longest silences between consecutive lines (in line order), longest first.

    Columns: ``gap_us`` (microseconds from one line to the next; a silence, not a
    command's duration: MONITOR does not time commands), start, end (the two
    lines' times), line_before, line_after, client_before, command_before.

    >>> gaps(events, top=3)[["gap_us", "start"]]  # doctest: +SKIP
    """
    columns = ["gap_us", "start", "end", "line_before", "line_after", "client_before", "command_before"]
    if len(events) < 2:
        return _empty(columns)
    gap, positions = _gap_us(events)
    chosen = np.flatnonzero(gap >= min_gap_us) if min_gap_us > 0 else np.arange(len(gap))
    if top is not None and len(chosen) > top:
        # the top gaps, plus every gap tied with the smallest of them, then ordered exactly
        cut = -np.partition(-gap[chosen], top - 1)[top - 1]
        chosen = chosen[gap[chosen] >= cut]
    # longest first, ties in line order
    chosen = chosen[np.lexsort((chosen, -gap[chosen]))][:top]
    before, after = positions[chosen], positions[chosen + 1]
    us = ts_us(events)
    return pd.DataFrame({
        "gap_us": gap[chosen].astype("int64"),
        "start": _times(us[before]), "end": _times(us[after]),
        "line_before": events["line"].to_numpy()[before], "line_after": events["line"].to_numpy()[after],
        "client_before": labels_at(events["client"], before),
        "command_before": labels_at(events["command"], before),
    }, columns=columns)


def labels_at(series: pd.Series, positions: np.ndarray) -> pd.Series:
    """The values of a (categorical) column at a few positions, as str (nulls stay null).

    >>> labels_at(pd.Series(["a", "b"], dtype="category"), np.array([1])).tolist()
    ['b']
    """
    codes, labels = codes_of(series)
    picked = codes[positions]
    return pd.Series(np.where(picked >= 0, np.asarray(labels, dtype=object)[np.maximum(picked, 0)], None)
                     if len(labels) else [None] * len(picked), dtype="str")


def gap_after_by_command(events: pd.DataFrame) -> pd.DataFrame:
    """Sum, mean and max of ``gap_after_us`` (time until the next line) per command.

    This is what some tools call "heaviest commands". It is NOT time spent in
    the command: MONITOR gives no duration (from Redis 6.2.4 a line's time is when its command
    completed, before 6.2.4 when it was received);
    a long gap after a command means nothing arrived, for whatever reason.

    >>> gap_after_by_command(events).head()  # doctest: +SKIP
    """
    columns = ["command", "count", "gap_after_us_sum", "gap_after_us_mean", "gap_after_us_max"]
    if len(events) < 2:
        return _empty(columns)
    gap, positions = _gap_us(events)
    cmd, cmds = codes_of(events["command"])
    g = pd.Series(gap).groupby(cmd[positions[:-1]]).agg(["size", "sum", "mean", "max"])
    out = pd.DataFrame({"command": cmds[g.index].astype("str"), "count": g["size"].to_numpy(),
                        "gap_after_us_sum": g["sum"].to_numpy(), "gap_after_us_mean": g["mean"].to_numpy(),
                        "gap_after_us_max": g["max"].to_numpy()})
    return out.sort_values("gap_after_us_sum", ascending=False, kind="stable").reset_index(drop=True)[columns]
