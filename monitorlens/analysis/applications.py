"""Traffic by application: every connection of one client name as one row.

A responder thinks in applications ("leaky-app opened 60 connections"), MONITOR prints
addresses (60 rows of one event each). :func:`by_application` groups the events by the
name of their client, from CLIENT LIST snapshots (``attach_names``) or from the
``CLIENT SETNAME`` / ``HELLO ... SETNAME`` of the capture; clients without a name are
grouped by host (``(unnamed) 10.0.0.5``), unix clients together (``(unnamed) unix socket``).

Example::

    >>> events = attach_names(load("incident/monitor.txt.gz"), read_client_list("incident/clients.log.gz"))  # doctest: +SKIP
    >>> by_application(events)[["application", "connections", "events"]].head(3)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import breakdowns as bd
from .clientlist import UNNAMED

UNIX = "unix socket"

APPLICATION_COLUMNS = ["application", "named", "connections", "events", "share", "rate_per_s", "lua_events",
           "command_mix", "dbs", "first", "last"]
_LISTED = ["connections_listed", "connected_at_end"]


def unnamed_label(kind: str, host: str | None) -> str:
    """The application label of a client without a name: its host, or the unix socket.

    >>> unnamed_label("tcp", "10.0.0.5"), unnamed_label("unix", "/run/redis.sock"), unnamed_label("lua", None)
    ('(unnamed) 10.0.0.5', '(unnamed) unix socket', 'lua')
    """
    if kind == "unix":
        return f"{UNNAMED} {UNIX}"
    if kind in ("tcp", "tcp6") and host:
        return f"{UNNAMED} {host}"
    return bd.LUA if kind == "lua" else f"{UNNAMED} {kind or 'module'}"


def _name_codes(events: pd.DataFrame, credited: np.ndarray, lua: int | None,
                names: bd.ClientNames | None) -> tuple[np.ndarray, list[str]]:
    """The name of each event's client at that event, as codes into a list of names (-1:
    unknown or empty).

    With a ``name`` column (``attach_names``) a script's ``lua`` lines take the name of the
    call that ran them; otherwise the client's last SETNAME name applies to all its events.
    """
    if "name" not in events.columns:
        known = bd.client_names(events, names)
        clients = bd.codes_of(events["client"], bd.NO_CLIENT)[1].astype("str")
        per_client = known.reindex(clients)
        found, values = pd.factorize(per_client.where(per_client != ""), use_na_sentinel=True)
        return found.astype(np.int64)[credited], [str(v) for v in values]
    codes, values = pd.factorize(events["name"], use_na_sentinel=True)
    codes = codes.astype(np.int64)
    values = [str(v) for v in values]
    if "" in values:  # listed without a name: unnamed
        codes[codes == values.index("")] = -1
    if lua is None:
        return codes, values
    # A script's lines follow its call: take the name of the last line that is not lua.
    own = bd.codes_of(events["client"], bd.NO_CLIENT)[0]
    line = events["line"].to_numpy()
    order = np.argsort(line, kind="stable")
    is_lua = own[order] == lua
    last = np.maximum.accumulate(np.where(is_lua, -1, np.arange(len(order))))
    ordered = codes[order]
    from_call = np.where(last >= 0, ordered[np.maximum(last, 0)], -1)
    ordered = np.where(is_lua & (credited[order] != lua), from_call, ordered)
    out = np.empty_like(ordered)
    out[order] = ordered
    return out, values


def _labels(events: pd.DataFrame, names: bd.ClientNames | None) -> tuple[pd.Categorical, pd.Series]:
    """Per event: the application label and the credited client (both categorical).

    Strategy: integer codes throughout; Python runs once per distinct name and client."""
    callers = bd.script_callers(events)
    credited = callers.cat.codes.to_numpy().astype(np.int64)
    cats = callers.cat.categories
    lua = cats.get_loc(bd.LUA) if bd.LUA in cats else None
    name_codes, name_values = _name_codes(events, credited, lua, names)
    # Unnamed: one label per client, from its own first row's kind and host (a module's line
    # credited to the client before its command's line is not its own: "module", no host);
    # a client with no line of its own (lua) from the first line credited to it.
    own = bd.codes_of(events["client"], bd.NO_CLIENT)[0]  # codes in the same categories
    first = bd.first_rows(own, len(cats))
    first = np.where(first < len(events), first, bd.first_rows(credited, len(cats)))
    rows = np.minimum(first, len(events) - 1)  # a client with no row gets a label it never uses
    kinds = events["client_kind"].iloc[rows].astype("str").tolist()
    hosts = events["host"].iloc[rows].astype("str").tolist()
    by_client = [unnamed_label(k if isinstance(k, str) else "", h if isinstance(h, str) else None)
                 for k, h in zip(kinds, hosts)]
    combined = np.where(name_codes >= 0, name_codes, len(name_values) + credited)
    labels, inverse = np.unique(np.array([*name_values, *by_client], dtype=object).astype(str), return_inverse=True)
    return pd.Categorical.from_codes(inverse[combined], categories=labels), callers


def by_application(
    events: pd.DataFrame, snapshots: pd.DataFrame | None = None, *, names: bd.ClientNames | None = None
) -> pd.DataFrame:
    """Events per application: connections, events, share, rate, command mix, databases, first/last.

    ``application`` is the client's name; clients without one are grouped by host
    (:func:`unnamed_label`); ``named`` says which rows are names. ``connections`` counts
    the distinct client addresses in the capture; ``lua_events`` the script lines credited
    to the application's calls (included in ``events``). With CLIENT LIST ``snapshots``
    (read by ``read_client_list``), ``connections_listed`` counts the distinct clients the
    snapshots list under the same label and ``connected_at_end`` those in the last one;
    applications only CLIENT LIST saw get a row with 0 events. Most events first. ``names``:
    the SETNAME names of the whole capture when ``events`` are a filtered part of it.

    >>> by_application(events).query("application == 'leaky-app'").connections  # doctest: +SKIP
    """
    if events.empty:
        table = pd.DataFrame({c: pd.Series(dtype="object") for c in APPLICATION_COLUMNS})
    else:
        label, callers = _labels(events, names)
        own, clients = bd.codes_of(events["client"], bd.NO_CLIENT)
        frame = pd.DataFrame({
            "application": label, "client": callers, "command": events["command"],
            "db": events["db"], "ts": events["ts"],
            "lua": own == (clients.get_loc(bd.LUA) if bd.LUA in clients else -2),
        })
        g = frame.groupby("application", observed=True, sort=False)
        seconds = bd.span_seconds(events)
        dbs = (frame.dropna(subset=["db"]).groupby("application", observed=True)["db"]
               .agg(lambda d: ",".join(str(int(x)) for x in sorted(d.unique()))))
        table = pd.DataFrame({
            "connections": g["client"].nunique(),
            "events": g.size(),
            "lua_events": g["lua"].sum(),
            "first": g["ts"].min(),
            "last": g["ts"].max(),
        })
        table["share"] = table["events"] / len(events)
        table["rate_per_s"] = table["events"] / seconds if seconds > 0 else np.nan
        table["command_mix"] = bd.mix(frame, "application", "command").reindex(table.index)
        table["dbs"] = dbs.reindex(table.index).fillna("")
        table = table.rename_axis("application").reset_index()
        table["application"] = table["application"].astype("str")
        table["named"] = ~table["application"].str.startswith(UNNAMED) & (table["application"] != bd.LUA)
        table = table[APPLICATION_COLUMNS]
    return with_listed(table, snapshots) if snapshots is not None else _sorted(table)


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    """Most events first, then most connections, then by name."""
    table = table.sort_values(["events", "connections", "application"], ascending=[False, False, True],
                              kind="stable")
    return table.reset_index(drop=True).astype({"events": "int64", "connections": "int64", "lua_events": "int64"})


def snapshot_labels(snapshots: pd.DataFrame) -> pd.Series:
    """The application label of each CLIENT LIST row: its name, else :func:`unnamed_label`."""
    name = snapshots["name"].astype("str").fillna("")
    kind = snapshots["addr_kind"].astype("str").fillna("") if "addr_kind" in snapshots else pd.Series("tcp", index=snapshots.index)
    host = snapshots["host"].astype("str")
    unnamed = [unnamed_label(k, h if isinstance(h, str) else None) for k, h in zip(kind, host)]
    return name.where(name != "", pd.Series(unnamed, index=snapshots.index, dtype="str"))


def with_listed(table: pd.DataFrame, snapshots: pd.DataFrame) -> pd.DataFrame:
    """An applications table with what CLIENT LIST ``snapshots`` say of each application:
    connections_listed and connected_at_end (and a row for each application only listed).

    >>> with_listed(by_application(events), read_client_list("clients.log")).connected_at_end  # doctest: +SKIP
    """
    if "connections_listed" in table.columns:
        table = table.drop(columns=_LISTED)
        table = table[table["events"] > 0]
    if snapshots.empty:
        return _sorted(table.assign(connections_listed=0, connected_at_end=0))
    label = snapshot_labels(snapshots)
    key = snapshots["id"].astype("str").where(snapshots["id"].notna(), "addr:" + snapshots["addr"].fillna(""))
    listed = key.groupby(label).nunique()
    last = snapshots["snapshot"] == snapshots["snapshot"].max()
    at_end = label[last].value_counts()
    out = table.set_index("application")
    missing = listed.index.difference(out.index)
    if len(missing):
        extra = pd.DataFrame(index=missing.rename("application"))
        extra = extra.assign(named=[not m.startswith(UNNAMED) for m in missing], connections=0, events=0,
                             share=np.nan, rate_per_s=np.nan, lua_events=0, command_mix="", dbs="",
                             first=pd.NaT, last=pd.NaT)
        out = pd.concat([out, extra]) if len(out) else extra
    out["connections_listed"] = listed.reindex(out.index).fillna(0).astype("int64")
    out["connected_at_end"] = at_end.reindex(out.index).fillna(0).astype("int64")
    return _sorted(out.rename_axis("application").reset_index()[[*APPLICATION_COLUMNS, *_LISTED]])
