"""Row filters shared by every command: time range, command, client, database.

:func:`filter_events` is the library call; the command line's
``--since/--until/--command/--client/--db`` flags (:func:`monitorlens.cli.add_filter_arguments`)
are its arguments.

Example::

    >>> busy = filter_events(events, since="2026-11-25T21:25:10Z", command=["keys", "client setname"])  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from .breakdowns import SETNAMES_ATTR, client_names, command_names, script_callers, setname_names
from ..errors import InputError

TimeLike = str | float | int | datetime | pd.Timestamp
Many = str | Iterable[str] | None

_NUMBER = re.compile(r"[+-]?\d+(?:\.\d*)?")


def utc_timestamp(value: TimeLike) -> pd.Timestamp:
    """A UTC timestamp from epoch seconds (number or numeric text) or ISO 8601 text.

    ISO text without a zone is taken as UTC, like every time MONITOR prints.

    >>> utc_timestamp("1795641904.5"), utc_timestamp("2026-11-25 21:25:04")
    (Timestamp('2026-11-25 21:25:04.500000+0000', tz='UTC'), Timestamp('2026-11-25 21:25:04+0000', tz='UTC'))
    """
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
            return pd.Timestamp(round(float(value) * 1_000_000), unit="us", tz="UTC")
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as e:
        raise InputError(
            f"not a time: {value!r} ({e}); give epoch seconds (1795641904.5) or ISO 8601 "
            "(2026-11-25T21:25:04Z; no zone means UTC)"
        ) from None
    if pd.isna(ts):
        raise InputError(f"not a time: {value!r}; give epoch seconds or ISO 8601")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _many(value: Many) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def filter_events(
    events: pd.DataFrame,
    since: TimeLike | None = None,
    until: TimeLike | None = None,
    command: Many = None,
    client: Many = None,
    db: int | Iterable[int] | None = None,
) -> pd.DataFrame:
    """The events matching every filter given (a new DataFrame; provenance kept).

    - ``since`` (inclusive) / ``until`` (exclusive): epoch seconds or ISO 8601.
    - ``command``: names, case-insensitive; ``"CLIENT SETNAME"`` matches a subcommand,
      ``"CLIENT"`` all of them.
    - ``client``: an address as printed (``127.0.0.1:6000``, ``lua``), a host
      (``10.0.0.5``: every port), or a name (CLIENT SETNAME seen, or a ``name``
      column from CLIENT LIST). A client's scripts' ``lua`` lines come along.
    - ``db``: database numbers.

    >>> filter_events(events, command="keys", client="legacy-reports")  # doctest: +SKIP
    """
    keep = pd.Series(True, index=events.index)
    if since is not None:
        keep &= events["ts"] >= utc_timestamp(since)
    if until is not None:
        keep &= events["ts"] < utc_timestamp(until)
    commands = [c.upper().strip() for c in _many(command)]
    if commands:
        keep &= events["command"].astype("str").isin(commands) | command_names(events).astype("str").isin(commands)
    clients = _many(client)
    if clients:
        keep &= _client_mask(events, clients)
    if db is not None:
        dbs = [int(db)] if isinstance(db, (int, str)) else [int(d) for d in db]
        keep &= events["db"].isin(dbs).fillna(False).astype(bool)
    everything = bool(keep.all())
    out = events.copy(deep=False) if everything else events[keep.to_numpy()]  # no copy of what all pass
    out.attrs = dict(events.attrs)
    given = {"since": since, "until": until, "command": commands or None, "client": clients or None, "db": db}
    out.attrs[FILTERS_ATTR] = {**events.attrs.get(FILTERS_ATTR, {}),
                               **{k: _describe(v) for k, v in given.items() if v is not None}}
    if not everything:
        # Keep who named themselves, so the filtered rows still show names.
        named = setname_names(events)
        out.attrs[SETNAMES_ATTR] = tuple(zip(named["client"], named["name"], named["ts"]))
    return out


FILTERS_ATTR = "filters"  # events.attrs key: {filter name: what was asked}, for headers and rules


def applied_filters(events: pd.DataFrame) -> dict[str, str]:
    """The filters :func:`filter_events` applied to these events (``{}`` for none).

    >>> applied_filters(filter_events(events, command=["get", "set"]))  # doctest: +SKIP
    {'command': 'GET, SET'}
    """
    return dict(events.attrs.get(FILTERS_ATTR, {}))


def _describe(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _client_mask(events: pd.DataFrame, wanted: list[str]) -> pd.Series:
    names = client_names(events)
    addresses = set(wanted) | {c for c, n in names.items() if n in wanted}
    mask = events["client"].astype("str").isin(addresses) | events["host"].astype("str").isin(wanted)
    if "name" in events.columns:
        mask |= events["name"].astype("str").isin(wanted)
    chosen = set(events["client"].astype("str")[mask])
    # lua lines follow their caller
    return mask | script_callers(events).isin(chosen)
