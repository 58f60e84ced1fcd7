"""The evidence of a finding, gathered from MONITOR events: who, when, which calls, sample lines.

:class:`Context` holds what every rule reads of the events (rows by command, client
labels with names, argument lists, key references), computed once per analysis;
:func:`evidence` builds an :class:`~monitorlens.analysis.findings.Evidence` from the rows a rule
picked, with terminal-safe sample lines (:func:`line_text`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..read.grammar import format_head
from .breakdowns import (
    ClientNames,
    FlatKeys,
    arrow_column,
    client_names,
    codes_of,
    flat_keys,
    labels_at,
    script_callers,
    take_rows,
    ts_us,
)
from .filters import Filters
from .findings import Call, Evidence, Row, Sample, clip, printable, quoted

if TYPE_CHECKING:
    from .rules import Thresholds

# -------------------------------------------------------------------- terminal-safe text



def arg_text(arg: bytes, limit: int) -> str:
    """One argument as MONITOR quotes it, cut to ``limit`` bytes with its length said."""
    return quoted(arg, len(arg), limit)


def line_head(ts: Any, db: Any, client: str | None) -> str:
    """The head of a MONITOR line re-rendered from an event: time, and ``[db source]`` (or
    ``(db N)`` for the old dialects, which name no source).

    >>> line_head(pd.Timestamp(1.5e15, unit="us", tz="UTC"), 0, "lua"), line_head(pd.Timestamp(1.5e15, unit="us", tz="UTC"), 2, None)
    ('1500000000.000000 [0 lua]', '1500000000.000000 (db 2)')
    """
    us = pd.Timestamp(ts).value // 1000  # .value is nanoseconds whatever the unit
    no_db = db is None or pd.isna(db)
    no_source = client is None or (not isinstance(client, str) and pd.isna(client))
    source = None if no_source or client is None else printable(client)
    return format_head(us, None if no_db else int(db), source).decode()


def line_text(ts: pd.Timestamp, db: Any, client: str, command: str, args: Iterable[bytes], limit: int = 80) -> str:
    """A MONITOR line re-rendered from an event (command upper-cased, long arguments cut).

    >>> line_text(pd.Timestamp(1.5e15, unit="us", tz="UTC"), 0, "lua", "GET", [b"k"])
    '1500000000.000000 [0 lua] "GET" "k"'
    """
    parts = [arg_text(command.encode(), limit)] + [arg_text(bytes(a), limit) for a in args]
    return f"{line_head(ts, db, client)} {' '.join(parts)}"


# ---------------------------------------------------------------------------- evidence


def client_labels(events: pd.DataFrame, names: ClientNames | None = None) -> dict[str, str]:
    """``client -> "client (name)"`` for clients whose name is known.

    >>> client_labels(events)["127.0.0.1:52872"]  # doctest: +SKIP
    '127.0.0.1:52872 (leaky-app)'
    """
    known = client_names(events, names)
    return {c: f"{c} ({printable(n)})" for c, n in known.items() if isinstance(n, str) and n}


@dataclass(frozen=True, eq=False)
class Context:
    """What the rules share about one capture, computed once by :meth:`of`: each row's client
    with ``lua`` lines credited to their script's caller (as codes), display labels with
    names, command codes, and (on first use) every key reference.

    Rules select rows as POSITIONS into ``events`` and build evidence from them, so
    a rule that matches a million rows costs array operations, not Python per row.
    """

    events: pd.DataFrame
    callers: np.ndarray
    clients: pd.Index
    labels: Mapping[str, str]
    command: np.ndarray
    commands: pd.Index
    keys: FlatKeys | None = None
    filters: Filters = Filters()

    @classmethod
    def of(cls, events: pd.DataFrame, keys: FlatKeys | None = None, *, filters: Filters = Filters(),
           names: ClientNames | None = None) -> "Context":
        """The context of a capture; ``keys`` reuses an already flattened :class:`FlatKeys`;
        ``filters`` made the events out of a capture whose names are ``names``."""
        callers, clients = codes_of(script_callers(events))
        command, commands = codes_of(events["command"])
        return cls(events, callers, pd.Index(clients.astype("str")), client_labels(events, names),
                   command, pd.Index(commands.astype("str")), keys, filters)

    @cached_property
    def flat(self) -> FlatKeys:
        """Every key reference of the events (row position, key index)."""
        return self.keys if self.keys is not None else flat_keys(self.events)

    def where(self, commands: Iterable[str]) -> np.ndarray:
        """Positions of the rows of these commands."""
        wanted = [i for i, c in enumerate(self.commands) if c in set(commands)]
        return np.flatnonzero(np.isin(self.command, wanted))

    def rows(self, pos: np.ndarray) -> pd.DataFrame:
        """The events at these positions."""
        return self.events.iloc[pos]

    @cached_property
    def arrow_args(self) -> pa.ChunkedArray:
        """The ``args`` column as Arrow (no copy)."""
        return arrow_column(self.events, "args")

    def args(self, pos: Sequence[int] | np.ndarray) -> list[list[bytes]]:
        """The arguments of a few rows, as lists of bytes."""
        return take_rows(self.arrow_args, np.asarray(pos, dtype=np.int64)).to_pylist()

    def label(self, client: str) -> str:
        """``client (name)`` when the name is known, else the client."""
        return self.labels.get(client, client)


@dataclass(frozen=True)
class Shapes:
    """What tells calls apart in evidence rows: a code per selected row and the call of a code."""

    codes: np.ndarray
    call: Callable[[int], Call]


def iso(ts: Any) -> str | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).isoformat()


def _iso_us(us: int) -> str:
    return pd.Timestamp(int(us), unit="us", tz="UTC").isoformat()


def _samples(ctx: Context, pos: np.ndarray, t: Thresholds, node: str = "") -> tuple[Sample, ...]:
    head = pos[: t.samples]
    events = ctx.events
    db = events["db"].to_numpy(dtype="float64", na_value=np.nan)[head]
    samples = []
    for line, us, d, client, cmd, args in zip(
            events["line"].to_numpy()[head], ts_us(events)[head], db, labels_at(events["client"], head),
            ctx.command[head], ctx.args(head)):
        ts, db_, command = pd.Timestamp(int(us), unit="us", tz="UTC"), None if np.isnan(d) else int(d), \
            str(ctx.commands[cmd])
        argv = [bytes(a) for a in args]
        samples.append(Sample(
            int(line), line_text(ts, db_, client, command, argv, t.sample_arg_bytes), time=ts.isoformat(),
            db=db_, source=str(client), command=command,
            # kept cut: a sample never holds more than arg_limit + 1 bytes of an argument
            args=tuple(a[: t.sample_arg_bytes + 1] for a in argv), sizes=tuple(len(a) for a in argv),
            arg_limit=t.sample_arg_bytes, node=node))
    return tuple(samples)


def cell(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def top_codes(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` most frequent codes (ties: smallest code first) and their counts."""
    counts = np.bincount(codes) if len(codes) else np.array([], np.int64)
    order = np.argsort(-counts, kind="stable")[:n]
    order = order[counts[order] > 0]
    return order, counts[order]


def _shape_rows(ctx: Context, pos: np.ndarray, us: np.ndarray, shapes: Shapes, t: Thresholds
                ) -> tuple[Row, ...]:
    """One row per (client, shape): count, first, last, the most frequent first."""
    width = int(shapes.codes.max()) + 1
    pair = ctx.callers[pos] * width + shapes.codes
    g = pd.Series(us).groupby(pair).agg(["size", "min", "max"])
    g = g.sort_values("size", ascending=False, kind="stable").head(t.rows)
    return tuple(
        Row.of({"client": ctx.label(ctx.clients[p // width]), "call": shapes.call(int(p % width)),
                "count": int(n), "first": _iso_us(lo), "last": _iso_us(hi)})
        for p, n, lo, hi in zip(g.index, g["size"], g["min"], g["max"])
    )


def evidence(
    ctx: Context,
    pos: np.ndarray,
    t: Thresholds,
    *,
    shapes: Shapes | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> Evidence:
    """Evidence from the rows at positions ``pos``: count, first/last, commands, clients
    (labelled, lua credited), keys, sample lines, and with ``shapes`` one row per
    (client, shape) with its count, first and last. Cost: array work on ``pos``.

    >>> evidence(ctx, ctx.where(["KEYS"]), Thresholds())  # doctest: +SKIP
    """
    pos = np.asarray(pos, dtype=np.int64)
    us = ts_us(ctx.events)[pos]
    selected = np.zeros(len(ctx.events), dtype=bool)
    selected[pos] = True
    refs = ctx.flat.key[selected[ctx.flat.row]]
    key_codes, _ = top_codes(refs, t.rows)
    who, _ = top_codes(ctx.callers[pos], t.rows)
    return Evidence(
        count=len(pos),
        first=_iso_us(us.min()) if len(pos) else None,
        last=_iso_us(us.max()) if len(pos) else None,
        commands=tuple(ctx.commands[pd.unique(ctx.command[pos])]),
        clients=tuple(ctx.label(ctx.clients[c]) for c in who),
        keys=tuple(printable(clip(str(k))) for k in ctx.flat.keys.take(pa.array(key_codes, pa.int64())).to_pylist()),
        samples=_samples(ctx, pos, t),
        metrics={k: cell(v) for k, v in (metrics or {}).items()},
        rows=_shape_rows(ctx, pos, us, shapes, t) if shapes is not None and len(pos) else (),
    )


def signatures(ctx: Context, pos: np.ndarray, skip: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows with the same arguments (from ``args[skip]`` on) get the same code.

    Returns (a code per position, the first position of each code). Exact: arguments
    are escaped before they are joined, and the count of arguments is part of the code.

    >>> codes, first = signatures(ctx, ctx.where(["LRANGE"]), skip=1)  # doctest: +SKIP
    """
    if len(pos) == 0:
        return np.array([], np.int64), np.array([], np.int64)
    args = take_rows(ctx.arrow_args, pos)
    tail = pc.list_slice(args, skip) if skip else args
    values = tail.values
    if pc.any(pc.match_substring(values, b"\x00")).as_py():  # else joining on NUL is already exact
        values = pc.replace_substring(pc.replace_substring(values, b"\\", b"\\\\"), b"\x00", b"\\0")
    joined = pc.binary_join(pa.ListArray.from_arrays(tail.offsets, values), b"\x00")
    n = pc.list_value_length(tail).to_numpy(zero_copy_only=False)
    text = joined.dictionary_encode().indices.to_numpy(zero_copy_only=False).astype(np.int64)
    codes, _ = pd.factorize(text * (int(n.max()) + 1) + n)
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    return codes.astype(np.int64), pos[first]


def call_shapes(ctx: Context, pos: np.ndarray, limit: int = 40) -> Shapes:
    """:class:`Shapes` of whole calls: ``COMMAND "arg" ...`` (arguments cut to ``limit`` bytes)."""
    codes, first = signatures(ctx, pos)
    cmd = ctx.command[pos]
    pair, uniques = pd.factorize(codes * (len(ctx.commands) + 1) + cmd)
    firsts = pd.Series(np.arange(len(pair))).groupby(pair).first().to_numpy()
    reps = pos[firsts]

    def call(code: int) -> Call:
        row = int(reps[code])
        return Call.of(str(ctx.commands[ctx.command[row]]), ctx.args([row])[0], limit)

    return Shapes(pair.astype(np.int64), call)


def calls_text(n: int) -> str:
    return f"{n:,} call" + ("" if n == 1 else "s")
