"""Row filters shared by every command: time range, command, client, database.

:func:`filter_events` is the library call; the command line's
``--since/--until/--command/--client/--db`` flags (:func:`monitorlens.cli.add_filter_arguments`)
are its arguments.

Example::

    >>> busy = filter_events(events, since="2026-11-25T21:25:10Z", command=["keys", "client setname"])  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import pandas as pd

from .breakdowns import client_names, command_names, script_callers
from ..errors import InputError

TimeLike: TypeAlias = str | float | int | datetime | pd.Timestamp
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


def _many(value: Many) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


@dataclass(frozen=True)
class Filters:
    """Which events to keep: every filter given must match (see :func:`filter_events`).

    The same object narrows the events (:meth:`apply`) and travels with them into
    :func:`~monitorlens.analysis.analyze.analyze` (``filters=``), which reports it and lets
    it decide rules (a slice chosen by client says nothing about that client's share).

    >>> Filters.of(command=["get", "Set"]).describe()
    {'command': 'GET, SET'}
    """

    since: TimeLike | None = None
    until: TimeLike | None = None
    command: tuple[str, ...] = ()
    client: tuple[str, ...] = ()
    db: tuple[int, ...] | None = None

    @classmethod
    def of(cls, since: TimeLike | None = None, until: TimeLike | None = None, command: Many = None,
           client: Many = None, db: int | Iterable[int] | None = None) -> "Filters":
        """Filters from the loose forms :func:`filter_events` takes (a name or several...)."""
        dbs = None if db is None else (int(db),) if isinstance(db, (int, str)) else tuple(int(d) for d in db)
        return cls(since, until, tuple(c.upper().strip() for c in _many(command)), _many(client), dbs)

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and \
                utc_timestamp(self.since) >= utc_timestamp(self.until):
            raise InputError(f"--since {self.since} is not before --until {self.until}: no event could match; "
                             "--since keeps events at or after its time, --until those before its time")

    def __bool__(self) -> bool:
        return self != Filters()

    def describe(self) -> dict[str, str]:
        """What was asked, for headers: ``{"command": "GET, SET"}`` (only the filters given)."""
        given = {"since": self.since, "until": self.until, "command": self.command or None,
                 "client": self.client or None, "db": self.db}
        return {k: _describe(v) for k, v in given.items() if v is not None}

    def apply(self, events: pd.DataFrame) -> pd.DataFrame:
        """The events these filters keep (a new DataFrame)."""
        others, client = self.masks(events)
        keep = others & client if client is not None else others
        return events.copy(deep=False) if bool(keep.all()) else events[keep.to_numpy()]  # no copy of what all pass

    def masks(self, events: pd.DataFrame, choice: "ClientChoice | None" = None) -> tuple[pd.Series, pd.Series | None]:
        """The rows every filter but the client one keeps, and the rows the client filter
        keeps (None without one); ``choice``: what the whole capture says of its clients
        when ``events`` are a block of it."""
        keep = pd.Series(True, index=events.index)
        if self.since is not None:
            keep &= events["ts"] >= utc_timestamp(self.since)
        if self.until is not None:
            keep &= events["ts"] < utc_timestamp(self.until)
        if self.command:
            keep &= events["command"].astype("str").isin(self.command) | command_names(events).astype("str").isin(
                self.command)
        if self.db is not None:
            keep &= events["db"].isin(self.db).fillna(False).astype(bool)
        return keep, _client_mask(events, list(self.client), choice) if self.client else None


@dataclass(frozen=True)
class ClientChoice:
    """What a client filter chose in a whole capture, for each block of it to be filtered
    alone: ``addresses`` (those asked for, and those whose last name in the capture is
    asked for) and ``chosen`` (the clients with a matching line anywhere: their scripts'
    lua lines come along; a client whose host is asked for is chosen in any block)."""

    addresses: frozenset[str]
    chosen: frozenset[str]

    @classmethod
    def of(cls, wanted: Iterable[str], names: Mapping[str, str], named: Iterable[str] = ()) -> "ClientChoice":
        """From the names of the whole capture (``client_names``) and the clients that had a
        line ``named`` (from CLIENT LIST) as asked."""
        wanted = set(wanted)
        addresses = frozenset(wanted | {c for c, n in names.items() if n in wanted})
        return cls(addresses, addresses | frozenset(named))

    def picks(self, clients: pd.Series, hosts: pd.Series, wanted: Iterable[str]) -> pd.Series:
        """Whether each (client, host) is chosen."""
        return clients.astype("str").isin(self.chosen) | hosts.astype("str").isin(list(wanted))


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

    To analyse the result as a filtered part of a capture, give ``analyze`` the same
    :class:`Filters` and the capture's :class:`~monitorlens.analysis.breakdowns.ClientNames`.

    >>> filter_events(events, command="keys", client="legacy-reports")  # doctest: +SKIP
    """
    return Filters.of(since, until, command, client, db).apply(events)


def _describe(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _client_mask(events: pd.DataFrame, wanted: list[str], choice: ClientChoice | None = None) -> pd.Series:
    if choice is None:
        names = client_names(events)
        addresses = set(wanted) | {c for c, n in names.items() if n in wanted}
    else:
        addresses = set(choice.addresses)
    mask = events["client"].astype("str").isin(addresses) | events["host"].astype("str").isin(wanted)
    if "name" in events.columns:
        mask |= events["name"].astype("str").isin(wanted)
    chosen = set(events["client"].astype("str")[mask]) | (choice.chosen if choice is not None else set())
    # lua lines follow their caller
    return mask | script_callers(events).isin(chosen)
