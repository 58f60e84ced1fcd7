"""Mergeable partial aggregates of MONITOR events: one block -> a :class:`Partial`; two -> one.

A :class:`Partial` holds what the analysis needs of some events in memory that grows
with the distinct commands, clients, databases, key patterns and keys (the keys up to
a cap, then sketches), never with the events: counts, first/last seen and time series
per command, subcommand, client, db, key pattern and key; the longest gaps; and for
each finding its counts, first and last sample lines and top clients and calls.
:func:`finalize` turns one into the tables of :class:`~monitorlens.analysis.analyze.Analysis`.

Merging (:func:`merge`) is exact and associative. It is order-independent except for
two things MONITOR ties to line order. The ``lua`` lines a script runs are credited to
the client whose EVAL came just before them, and a block may begin with such lines:
they are held as the pseudo-client :data:`PENDING` until the block before them in the
same source is merged on their left. A module's own lines go to the module command just
before them, else just after: those at a block's edges wait as :data:`MODULE_HEAD`,
``MODULE_TAIL`` or ``MODULE_ALONE`` until the partial beside them is merged
(:func:`_module_edges`). ``merge(left, right)`` therefore wants ``left`` to come before
``right`` when both hold lines of one source (partials of different sources merge in any
order).

Example::

    >>> parts = [block_partial(t, source=0) for t in blocks]  # doctest: +SKIP
    >>> tables = finalize(functools.reduce(merge, parts), provenance)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import breakdowns as bd
from ..commands import hidden_from_monitor
from .evidence import Context, Shapes, _samples, call_shapes, signatures
from .filters import Filters
from .findings import Call, Sample
from .patterns import DEFAULT_RULES, PatternRules
from .rules import BLOCKING_TIMEOUT, DANGEROUS, FULL_READS, REDACTED, Thresholds, blocks_forever, keys_scope
from .sketches import HyperLogLog, keep_top, missing_bump
from .slots import SLOTS, key_slots

PENDING = "\x00pending-lua"
"""The caller of ``lua`` lines that begin a block, until the block before is merged."""
OPEN = "\x00open"  # tail state: every line so far is a pending lua line
MODULE_HEAD, MODULE_TAIL, MODULE_ALONE = "\x00module-head:", "\x00module-tail:", "\x00module-alone:"
MODULE_WAITS = (MODULE_HEAD, MODULE_TAIL, MODULE_ALONE)
"""Pseudo-clients (+ the module lines' own label) of a module's lines at a partial's edge,
until the lines around are known (:func:`_module_edges`): before its first other line
(head), after its last other line when that is no module command (tail), or in a partial
of module lines only (alone)."""
LINE_BITS, CHUNK_BITS = 39, 12
"""A position is ``source << 51 | chunk << 39 | line``: one int64 orders the lines of 4,096
sources, each read in up to 4,096 chunks of up to 5.5e11 lines."""
NO_POS = 1 << 62  # "never": exact as a float64 too (pandas joins turn ints into floats)
KEY_CAP = 1_000_000
"""Distinct keys counted exactly (per analysis) before the hot keys become a Space-Saving sketch."""
HLL_PRECISION = 14
PATTERN_HLL_PRECISION = 10  # per pattern, once keys are sketched: 1 KiB, 3.3 % error
CLIENT_PAIRS = 500_000
"""(key, client) pairs kept for the hot keys' distinct clients: past it, only the pairs of the
most referenced keys (connection churn makes new pairs with every new connection)."""
CAPPED = 200  # entries kept in the small counters of findings (keys, calls) after a merge


@dataclass(frozen=True)
class Settings:
    """What a partial aggregation depends on (every partial merged must share them)."""

    freq: str = "1s"
    max_buckets: int = bd.MAX_BUCKETS
    key_cap: int = KEY_CAP
    top: int = 10
    slots: bool = False  # Redis Cluster hash slot of each key reference (for several nodes)
    filters: Filters = Filters()  # applied to every block
    thresholds: Thresholds = Thresholds()
    pattern_rules: PatternRules = DEFAULT_RULES
    # Names by time from CLIENT LIST (a :class:`~monitorlens.analysis.naming.Naming`): each
    # block is named before the filters; not compared (it holds DataFrames).
    naming: Any = field(default=None, compare=False)
    shown: bool = False  # count each block's commands before the filters (a bundle's reconciliation)
    choice: Any = field(default=None, compare=False)  # a client filter's ClientChoice (whole capture)

    @property
    def base_step(self) -> int:
        return bd._step_us(self.freq)


# ------------------------------------------------------------------------ small tables


def _present(tables: Iterable[Any]) -> tuple[list[Any], Any]:
    """The tables (frames, indexes, series) that have rows, and what an empty result is:
    the first that is not None."""
    tables = list(tables)
    return [t for t in tables if t is not None and len(t)], next((t for t in tables if t is not None), None)


def _folded(tables: Iterable[Any], join: Callable[[list[Any]], Any]) -> Any:
    """``join`` of the tables that have rows when there are several; else the one, or the
    empty result (:func:`_present`)."""
    present, empty = _present(tables)
    if len(present) < 2:
        return present[0] if present else empty
    return join(present)


def _combine(frames: Iterable[pd.DataFrame | None], agg: Mapping[str, str],
             order: str | None = None) -> pd.DataFrame | None:
    """Rows of all, one per index value: columns combined by ``agg`` (sum/min/max/first);
    ``order`` sorts first so ``first`` takes the row with the smallest ``order``."""
    present, empty = _present(frames)
    if not present:
        return empty
    return _regroup(pd.concat(present) if len(present) > 1 else present[0], agg, order)


def _regroup(frame: pd.DataFrame, agg: Mapping[str, str], order: str | None = None) -> pd.DataFrame:
    """One row per index value (numpy on factorized codes: pandas' groupby costs ms per call)."""
    if frame.index.is_unique:
        return frame
    if order is not None:
        frame = frame.iloc[np.argsort(frame[order].to_numpy(), kind="stable")]
    codes, uniques = frame.index.factorize()
    n = len(uniques)
    out = {}
    for col, how in agg.items():
        values = frame[col].to_numpy()
        if how == "sum":
            acc = np.zeros(n, dtype=values.dtype)
            np.add.at(acc, codes, values)
        elif how in ("min", "max"):
            acc = np.full(n, NO_POS if how == "min" else -NO_POS, dtype=np.int64)
            (np.minimum if how == "min" else np.maximum).at(acc, codes, values)
        else:  # first
            firsts = np.full(n, len(codes), dtype=np.int64)
            np.minimum.at(firsts, codes, np.arange(len(codes)))
            acc = values[firsts]
        out[col] = acc
    if isinstance(uniques, pd.MultiIndex):
        uniques = uniques.set_names(frame.index.names)
    else:
        uniques = pd.Index(uniques, name=frame.index.name, dtype=object)
    return pd.DataFrame(out, index=uniques)


def _union(indexes: Iterable[pd.Index | None]) -> pd.Index | None:
    return _folded(indexes, lambda present: present[0].append(present[1:]).unique())


STATS = {"count": "sum", "first": "min", "last": "max", "pos": "min"}
PAIRS = {"count": "sum", "pos": "min"}


def _labels(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _stats(codes: np.ndarray, labels: Any, us: np.ndarray, pos: np.ndarray, name: str,
           **sums: np.ndarray) -> pd.DataFrame:
    """count, first, last, pos (smallest) and sums of ``sums`` per code (-1 dropped), by label."""
    if len(codes) and codes.min() < 0:
        ok = codes >= 0
        codes, us, pos, sums = codes[ok], us[ok], pos[ok], {k: v[ok] for k, v in sums.items()}
    n = int(codes.max()) + 1 if len(codes) else 0
    count = np.bincount(codes, minlength=n)
    present = np.flatnonzero(count)
    first, last, where = np.full(n, NO_POS), np.full(n, -NO_POS), np.full(n, NO_POS)
    np.minimum.at(first, codes, us)
    np.maximum.at(last, codes, us)
    np.minimum.at(where, codes, pos)
    columns = {"count": count[present], "first": first[present], "last": last[present], "pos": where[present]}
    for k, v in sums.items():
        columns[k] = np.bincount(codes, weights=v, minlength=n)[present].astype(np.int64)
    return pd.DataFrame(columns, index=pd.Index(_labels(labels)[present], name=name, dtype=object))


def _unique_pairs(a: np.ndarray, b: np.ndarray, pos: np.ndarray | None = None, weights: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The distinct (a, b) code pairs (a -1 in either dropped), with counts (rows, or the sum
    of ``weights``) and first positions when ``pos`` is given."""
    if len(a) and (a.min() < 0 or b.min() < 0):
        ok = (a >= 0) & (b >= 0)
        a, b = a[ok], b[ok]
        pos = pos[ok] if pos is not None else None
        weights = weights[ok] if weights is not None else None
    width = int(b.max()) + 1 if len(b) else 1
    pair = a * width + b
    span = (int(a.max()) + 1) * width if len(a) else 0
    if span <= 4 * len(pair) + (1 << 16):  # few possible pairs (commands, dbs): count them all
        rows = np.bincount(pair, minlength=span)
        found = np.flatnonzero(rows)
        if pos is None:
            return found // width, found % width, None, None
        counts = rows if weights is None else np.bincount(pair, weights=weights, minlength=span)
        first = np.full(span, NO_POS, dtype=np.int64)
        np.minimum.at(first, pair, pos)
        return found // width, found % width, counts[found].astype(np.int64), first[found]
    inverse, found = pd.factorize(pair)  # a hash table: faster than np.unique's sort here
    if pos is None:
        return found // width, found % width, None, None
    counts = np.bincount(inverse, weights=weights, minlength=len(found))
    first = np.full(len(found), NO_POS, dtype=np.int64)
    np.minimum.at(first, inverse, pos)
    return found // width, found % width, counts.astype(np.int64), first


def _multi(ia: np.ndarray, alabels: Any, ib: np.ndarray, blabels: Any, names: Sequence[str]) -> pd.MultiIndex:
    """The MultiIndex of (label a, label b) pairs given by codes into distinct labels (built
    from the codes: from_arrays would hash every label again)."""
    levels = [pd.Index(_labels(x), dtype=object) for x in (alabels, blabels)]
    if not all(level.is_unique for level in levels):
        return pd.MultiIndex.from_arrays([levels[0].to_numpy()[ia], levels[1].to_numpy()[ib]], names=names)
    return pd.MultiIndex(levels=levels, codes=[ia, ib], names=names, verify_integrity=False).remove_unused_levels()


def _pairs(a: np.ndarray, alabels: Any, b: np.ndarray, blabels: Any, pos: np.ndarray,
           names: tuple[str, str], weights: np.ndarray | None = None) -> pd.DataFrame:
    """count (rows, or the sum of ``weights``) and first position per (a, b) pair of codes
    (pairs with a -1 dropped)."""
    ia, ib, counts, first = _unique_pairs(a, b, pos, weights)
    return pd.DataFrame({"count": counts, "pos": first}, index=_multi(ia, alabels, ib, blabels, names))


def _presence(a: np.ndarray, alabels: Any, b: np.ndarray, blabels: Any, names: tuple[str, str]) -> pd.Index:
    ia, ib, _, _ = _unique_pairs(a, b)
    return _multi(ia, alabels, ib, blabels, names)


def _relabel(index: pd.Index, level: int, old: str, new: str) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        if old not in index.levels[level]:
            return index
        arrays = [index.get_level_values(i).to_numpy(dtype=object) for i in range(index.nlevels)]
        arrays[level] = np.where(arrays[level] == old, new, arrays[level])
        return pd.MultiIndex.from_arrays(arrays, names=index.names)
    if old not in index:
        return index
    return pd.Index(np.where(index.to_numpy(dtype=object) == old, new, index.to_numpy(dtype=object)),
                    name=index.name, dtype=object)


def _renamed(frame: Any, level: int, old: str, new: str) -> Any:
    if frame is None or not len(frame):
        return frame
    if isinstance(frame, pd.Index):
        return _relabel(frame, level, old, new)
    out = frame.copy(deep=False)
    out.index = _relabel(frame.index, level, old, new)
    return out


# ---------------------------------------------------------------------------- findings


@dataclass
class Hits:
    """What a finding keeps of the rows it matched: counts, times, who, top calls, samples."""

    count: int = 0
    first: int = NO_POS  # us
    last: int = -NO_POS
    commands: dict[str, int] = field(default_factory=dict)  # name -> first position
    clients: Counter = field(default_factory=Counter)  # credited client -> rows
    keys: dict[str, list[int]] = field(default_factory=dict)  # key -> [references, first position]
    head: list[tuple[int, Sample]] = field(default_factory=list)  # first samples (position, sample)
    tail: list[tuple[int, Sample]] = field(default_factory=list)
    shapes: dict[tuple[str, Call], list[int]] = field(default_factory=dict)  # (client, call) -> [n, first, last, pos]
    sums: Counter = field(default_factory=Counter)
    maxima: dict[str, float] = field(default_factory=dict)
    reasons: Counter = field(default_factory=Counter)

    def merged(self, other: "Hits", samples: int) -> "Hits":
        shapes = {k: list(v) for k, v in self.shapes.items()}
        for k, (n, lo, hi, p) in other.shapes.items():
            mine = shapes.get(k)
            shapes[k] = [n, lo, hi, p] if mine is None else [mine[0] + n, min(mine[1], lo), max(mine[2], hi),
                                                             min(mine[3], p)]
        if len(shapes) > CAPPED:
            shapes = dict(sorted(shapes.items(), key=lambda kv: (-kv[1][0], kv[1][3]))[:CAPPED])
        commands = dict(self.commands)
        for c, p in other.commands.items():
            commands[c] = min(p, commands.get(c, NO_POS))
        return Hits(
            count=self.count + other.count, first=min(self.first, other.first), last=max(self.last, other.last),
            commands=commands, clients=self.clients + other.clients,
            keys=_top_keys(self.keys, other.keys),
            head=sorted(self.head + other.head)[:samples], tail=sorted(self.tail + other.tail)[-samples:],
            shapes=shapes, sums=self.sums + other.sums,
            maxima={k: max(self.maxima.get(k, -math.inf), other.maxima.get(k, -math.inf))
                    for k in set(self.maxima) | set(other.maxima)},
            reasons=self.reasons + other.reasons,
        )

    def renamed(self, old: str, new: str) -> "Hits":
        if old not in self.clients and not any(c == old for c, _ in self.shapes):
            return self
        clients = Counter({(new if c == old else c): 0 for c in self.clients})
        for c, n in self.clients.items():
            clients[new if c == old else c] += n
        shapes: dict[tuple[str, Call], list[int]] = {}
        for (c, call), v in self.shapes.items():
            k = (new if c == old else c, call)
            mine = shapes.get(k)
            shapes[k] = list(v) if mine is None else [mine[0] + v[0], min(mine[1], v[1]), max(mine[2], v[2]),
                                                      min(mine[3], v[3])]
        return replace(self, clients=clients, shapes=shapes)


def _top_keys(a: dict[str, list[int]], b: dict[str, list[int]]) -> dict[str, list[int]]:
    out = {k: list(v) for k, v in a.items()}
    for k, (n, p) in b.items():
        mine = out.get(k)
        out[k] = [n, p] if mine is None else [mine[0] + n, min(mine[1], p)]
    if len(out) > CAPPED:
        out = dict(sorted(out.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[:CAPPED])
    return out


@dataclass
class _Block:
    """One block's events with what every part of the block partial shares."""

    events: pd.DataFrame
    pos: np.ndarray
    us: np.ndarray
    ctx: Context
    flat: bd.FlatKeys
    t: Thresholds
    node: str = ""


def _hits(b: _Block, rows: np.ndarray, shapes: Shapes | None = None) -> Hits:
    """The :class:`Hits` of the rows at positions ``rows`` of a block."""
    ctx, t = b.ctx, b.t
    us, pos = b.us[rows], b.pos[rows]
    codes, firsts = np.unique(ctx.command[rows], return_index=True)
    commands = {str(ctx.commands[c]): int(pos[i]) for c, i in zip(codes.tolist(), firsts.tolist())}
    callers = ctx.callers[rows]
    counted = np.bincount(callers, minlength=len(ctx.clients))
    clients = Counter({str(ctx.clients[c]): int(counted[c]) for c in np.flatnonzero(counted)})
    selected = np.zeros(len(b.events), dtype=bool)
    selected[rows] = True
    mine = selected[b.flat.row]
    refs = b.flat.key[mine]
    keys: dict[str, list[int]] = {}
    if len(refs):
        kc = np.bincount(refs)
        first = np.full(len(kc), NO_POS, dtype=np.int64)
        np.minimum.at(first, refs, b.pos[b.flat.row[mine]])
        top = np.lexsort((first, -kc))[:CAPPED]
        top = top[kc[top] > 0]
        names = b.flat.keys.take(top).to_pylist()
        keys = {str(k): [int(kc[c]), int(first[c])] for k, c in zip(names, top)}
    k = t.samples
    head = list(zip(pos[:k].tolist(), _samples(ctx, rows[:k], t, b.node)))
    tail = head if len(rows) <= k else list(zip(pos[-k:].tolist(), _samples(ctx, rows[-k:], t, b.node)))
    shaped: dict[tuple[str, Call], list[int]] = {}
    if shapes is not None and len(rows):
        width = int(shapes.codes.max()) + 1
        pair = callers * width + shapes.codes
        g = pd.DataFrame({"p": pair, "us": us, "pos": pos}).groupby("p", sort=False).agg(
            n=("us", "size"), lo=("us", "min"), hi=("us", "max"), first=("pos", "min"))
        g = g.sort_values(["n", "first"], ascending=[False, True]).head(CAPPED)
        for p, n, lo, hi, first in zip(g.index.tolist(), g["n"].tolist(), g["lo"].tolist(), g["hi"].tolist(),
                                       g["first"].tolist()):
            key = (str(ctx.clients[p // width]), shapes.call(int(p % width)))
            mine = shaped.get(key)
            shaped[key] = [n, lo, hi, first] if mine is None else [mine[0] + n, min(mine[1], lo),
                                                                   max(mine[2], hi), min(mine[3], first)]
    return Hits(count=len(rows), first=int(us.min()), last=int(us.max()), commands=commands,
                clients=clients, keys=keys, head=head, tail=tail, shapes=shaped)


def _rule_hits(b: _Block) -> dict[tuple[str, ...], Hits]:
    """Per finding (code and what tells its findings apart), the Hits of this block."""
    ctx, t, events = b.ctx, b.t, b.events
    out: dict[tuple[str, ...], Hits] = {}
    pos = ctx.where(["KEYS"])
    if len(pos):
        codes, first = signatures(ctx, pos)
        patterns = [a[0] if a else b"" for a in ctx.args(first)]
        scopes = np.array([keys_scope(p) for p in patterns])
        h = _hits(b, pos, Shapes(codes, lambda c: Call.of("KEYS", [patterns[c]], 60, f"({scopes[c]})")))
        h.sums.update({f"calls_{k}": int(v) for k, v in zip(*np.unique(scopes[codes], return_counts=True))})
        out[("keys",)] = h
    pos = ctx.where({n.split(" ")[0] for n in DANGEROUS})
    if len(pos):
        names = bd.command_names(ctx.rows(pos)).astype("str").to_numpy()
        for name in pd.unique(names):
            if name in DANGEROUS:
                mine = pos[names == name]
                out[("dangerous", name)] = _hits(b, mine, call_shapes(ctx, mine))
    pos = ctx.where(FULL_READS)
    if len(pos):
        codes = ctx.command[pos]
        for code in pd.unique(codes):  # codes, not names: hashing strings cost a quarter of the rules
            name = ctx.commands[code]
            judge, _ = FULL_READS[name]
            mine = pos[codes == code]
            why = judge(ctx, mine, t)
            hit = mine[pd.notna(why)]
            if len(hit):
                h = _hits(b, hit, call_shapes(ctx, hit))
                h.reasons.update(Counter(why[pd.notna(why)].tolist()))
                out[("full-read", str(name))] = h
    pos = ctx.where(BLOCKING_TIMEOUT)
    if len(pos):
        shapes = call_shapes(ctx, pos)
        first = pd.Series(pos).groupby(shapes.codes).first().to_numpy()
        verdict = np.array([blocks_forever(str(ctx.commands[ctx.command[r]]), a)
                            for r, a in zip(first, ctx.args(first))], dtype=bool)
        keep = verdict[shapes.codes]
        if keep.any():
            out[("blocking-forever",)] = _hits(b, pos[keep], Shapes(shapes.codes[keep], shapes.call))
    pos = ctx.where(["SELECT"])
    if len(pos):
        for c in np.unique(ctx.callers[pos]):
            mine = pos[ctx.callers[pos] == c]
            out[("select", str(ctx.clients[c]))] = _hits(b, mine, call_shapes(ctx, mine))
    arg_bytes = events["arg_bytes"].to_numpy()
    pos = np.flatnonzero(arg_bytes >= t.huge_argument_bytes)
    if len(pos):
        args = bd.take_rows(ctx.arrow_args, pos)
        lengths = pc.binary_length(args.flatten()).to_numpy(zero_copy_only=False)
        parents = pc.list_parent_indices(args).to_numpy(zero_copy_only=False)
        biggest = np.zeros(len(pos), dtype=np.int64)
        np.maximum.at(biggest, parents, lengths)
        big = biggest >= t.huge_argument_bytes
        if big.any():
            hit = pos[big]
            h = _hits(b, hit, call_shapes(ctx, hit, limit=20))
            h.maxima["largest_bytes"] = int(biggest[big].max())
            h.sums["total_bytes"] = int(arg_bytes[hit].sum())
            out[("huge-argument",)] = h
    # A client above client_share of all events is above it in at least one block: the sample
    # lines of a dominant client come from such blocks (at most one client per block).
    share = np.bincount(ctx.callers, minlength=len(ctx.clients)) / len(events)
    for c in np.flatnonzero(share > t.client_share):
        out[("client", str(ctx.clients[c]))] = _hits(b, np.flatnonzero(ctx.callers == c))
    pos = ctx.where(["AUTH", "HELLO", "MIGRATE"])
    redacted = sum(sum(1 for a in args if bytes(a) == REDACTED) for args in ctx.args(pos)) if len(pos) else 0
    if redacted:
        out[("coverage",)] = Hits(sums=Counter({"redacted_arguments": redacted}))
    return out


# ------------------------------------------------------------------------------- gaps


@dataclass(frozen=True)
class Edge:
    """A block's first or last line: where gaps across blocks start and end."""

    source: int
    us: int
    line: int
    pos: int
    client: str | None
    command: str | None


@dataclass
class Gaps:
    """The longest gaps (in line order) and what the capture-quality findings count of them."""

    top: list[tuple[int, int, int, int, int, int, Any, Any]] = field(default_factory=list)
    # (-gap, pos_before, start_us, end_us, line_before, line_after, client_before, command_before)
    silences: int = 0
    silence_total: int = 0
    silence_first: int = NO_POS
    silence_last: int = -NO_POS
    backwards: int = 0
    backwards_max: int = 0  # the largest step back (us, positive)
    backwards_first: Any = None  # (pos, line, from_us, to_us)
    jumps: int = 0
    jump_max: int = 0
    jump_first: Any = None

    def merged(self, other: "Gaps", keep: int) -> "Gaps":
        first = min((x for x in (self.backwards_first, other.backwards_first) if x is not None), default=None)
        jump = min((x for x in (self.jump_first, other.jump_first) if x is not None), default=None)
        return Gaps(
            top=sorted(self.top + other.top)[:keep], silences=self.silences + other.silences,
            silence_total=self.silence_total + other.silence_total,
            silence_first=min(self.silence_first, other.silence_first),
            silence_last=max(self.silence_last, other.silence_last),
            backwards=self.backwards + other.backwards, backwards_max=max(self.backwards_max, other.backwards_max),
            backwards_first=first, jumps=self.jumps + other.jumps, jump_max=max(self.jump_max, other.jump_max),
            jump_first=jump,
        )


def _gaps(gap: np.ndarray, before: Mapping[str, Any], after: Mapping[str, Any], s: Settings) -> Gaps:
    """Gaps from arrays: ``gap`` (us), and for each the row data of the lines around it
    (``before``/``after``: dicts of arrays pos, us, line, client, command)."""
    t = s.thresholds
    keep = max(s.top, t.rows)
    out = Gaps()
    if not len(gap):
        return out
    candidates = np.arange(len(gap))
    if len(gap) > keep:  # the longest ``keep`` (and ties with the last of them), then in order
        candidates = np.flatnonzero(gap >= np.partition(gap, len(gap) - keep)[len(gap) - keep])
    order = candidates[np.lexsort((before["pos"][candidates], -gap[candidates]))][:keep]
    out.top = [(-int(gap[i]), int(before["pos"][i]), int(before["us"][i]), int(after["us"][i]),
                int(before["line"][i]), int(after["line"][i]), before["client"][i], before["command"][i])
               for i in order.tolist()]
    silent = gap >= int(t.silence_s * 1e6)
    if silent.any():
        out.silences = int(silent.sum())
        out.silence_total = int(gap[silent].sum())
        out.silence_first = int(before["us"][silent].min())
        out.silence_last = int(after["us"][silent].max())
    back = gap < 0
    if back.any():
        i = int(np.flatnonzero(back)[0])
        out.backwards, out.backwards_max = int(back.sum()), int(-gap[back].min())
        out.backwards_first = (int(before["pos"][i]), int(after["line"][i]), int(before["us"][i]), int(after["us"][i]))
    jump = gap >= int(t.clock_jump_s * 1e6)
    if jump.any():
        i = int(np.flatnonzero(jump)[0])
        out.jumps, out.jump_max = int(jump.sum()), int(gap[jump].max())
        out.jump_first = (int(before["pos"][i]), int(after["line"][i]), int(before["us"][i]), int(after["us"][i]))
    return out


def _edge_gaps(left: Edge, right: Edge, s: Settings) -> Gaps:
    one = lambda e: {"pos": np.array([e.pos]), "us": np.array([e.us]), "line": np.array([e.line]),  # noqa: E731
                     "client": [e.client], "command": [e.command]}
    return _gaps(np.array([right.us - left.us]), one(left), one(right), s)


# -------------------------------------------------------------------------------- keys


@dataclass
class Vocab:
    """A few distinct strings (commands, clients, patterns) and their ids."""

    names: list[str] = field(default_factory=list)

    def ids(self, names: Iterable[str]) -> tuple["Vocab", np.ndarray]:
        """This vocabulary extended with ``names``, and the id of each of them in it."""
        index = {n: i for i, n in enumerate(self.names)}
        out = list(self.names)
        ids = []
        for n in names:
            if n not in index:
                index[n] = len(out)
                out.append(n)
            ids.append(index[n])
        return Vocab(out), np.asarray(ids, dtype=np.int64)


_OTHER = 32  # a pair's code: key id << 32 | other id


def _taken(values: np.ndarray | None, order: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[order]


@dataclass
class PairCounts:
    """(key id, other id) pairs, with a count and first position each (or neither).

    The pairs are distinct, one int64 code each (``key << 32 | other``), sorted once merged:
    a merge looks the other side's pairs up by binary search and inserts the new ones, a
    copy of these arrays instead of hashing every pair of both sides again. A block's stay
    as first seen (most are merged in a batch, whose pairs are hashed together anyway).
    """

    code: np.ndarray = field(default_factory=lambda: np.array([], np.int64))
    count: np.ndarray | None = None
    pos: np.ndarray | None = None

    @property
    def key(self) -> np.ndarray:
        return self.code >> _OTHER

    @property
    def other(self) -> np.ndarray:
        return self.code & ((1 << _OTHER) - 1)

    def __len__(self) -> int:
        return len(self.code)

    @classmethod
    def of(cls, key: np.ndarray, other: np.ndarray, count: np.ndarray | None = None,
           pos: np.ndarray | None = None) -> "PairCounts":
        """Pairs in any order, perhaps repeated, as a :class:`PairCounts`; pairs with an id
        -1 are left out; ``count`` and ``pos`` are per pair given, summed and least (counted
        in a table of every possible pair when there are few, else hashed)."""
        ia, ib, counts, first = _unique_pairs(key, other, pos, count)
        code = (ia.astype(np.int64) << _OTHER) | ib
        if count is None or pos is None:
            return cls(code)
        return cls(code, counts, first)

    @classmethod
    def distinct(cls, key: np.ndarray, other: np.ndarray, count: np.ndarray | None = None,
                 pos: np.ndarray | None = None) -> "PairCounts":
        """Distinct pairs in any order (a merge's renumbered side): no sums to take."""
        return cls((key.astype(np.int64) << _OTHER) | other, count, pos)

    def in_order(self) -> "PairCounts":
        """These pairs sorted by code."""
        code = self.code
        if len(code) < 2 or (code[1:] > code[:-1]).all():
            return self
        order = np.argsort(code)
        return PairCounts(code[order], _taken(self.count, order), _taken(self.pos, order))

    def combined(self, other: "PairCounts") -> "PairCounts":
        """Both sets of pairs, one row per pair (ids already in the same numbering): the
        other side's are looked up by binary search, in order (faster than unsorted)."""
        if not len(self.code):
            return other.in_order()
        if not len(other.code):
            return self.in_order()
        self, other = self.in_order(), other.in_order()
        mine, theirs = self.code, other.code
        at = np.searchsorted(mine, theirs)
        found = at < len(mine)
        found[found] = mine[at[found]] == theirs[found]
        new = np.flatnonzero(~found)
        dest = at[new] + np.arange(len(new))  # where the new pairs go in the result
        held = np.ones(len(mine) + len(new), dtype=bool)
        held[dest] = False

        def spliced(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out = np.empty(len(held), dtype=a.dtype)
            out[held], out[dest] = a, b[new]
            return out

        if self.count is None or self.pos is None or other.count is None or other.pos is None:
            return PairCounts(spliced(mine, theirs))
        count, pos = self.count.copy(), self.pos.copy()
        hit = at[found]  # distinct: both sides' pairs are
        count[hit] += other.count[found]
        pos[hit] = np.minimum(pos[hit], other.pos[found])
        return PairCounts(spliced(mine, theirs), spliced(count, other.count), spliced(pos, other.pos))

    def taken(self, keep: np.ndarray, new_id: np.ndarray) -> "PairCounts":
        """Only the pairs of keys where ``keep``, keys renumbered by ``new_id`` (which keeps
        the kept keys' order, so sorted pairs stay sorted)."""
        mine = keep[self.key]
        code = (new_id[self.key[mine]].astype(np.int64) << _OTHER) | self.other[mine]
        return PairCounts(code, None if self.count is None else self.count[mine],
                          None if self.pos is None else self.pos[mine])


KEY_COLUMNS = ("count", "first", "last", "pos", "reads", "writes", "error")
KEY_COMBINE = {"count": np.add, "first": np.minimum, "last": np.maximum, "pos": np.minimum, "reads": np.add,
               "writes": np.add, "error": np.add}
KEY_EMPTY = {"count": 0, "first": NO_POS, "last": -NO_POS, "pos": NO_POS, "reads": 0, "writes": 0, "error": 0}


@dataclass
class Keys:
    """Key references: per key exactly up to the cap (then a Space-Saving sketch of the hot
    keys and a HyperLogLog of the distinct ones), per pattern always exactly.

    Keys are an Arrow string array (``names``) with numpy columns aligned to it; pairs
    refer to keys by position. Merging numbers the names of every part at once (Arrow's
    ``dictionary_encode``; sketched keys: ``index_in``) and does the rest on integers.

    While every key is held, the patterns are not: a pattern's counts are its keys' sums,
    derived once (:func:`with_patterns`) by ``finalize``, instead of in every block and
    merge. Sketched keys (past the cap) hold them (``patterns`` is not None), as the keys
    dropped no longer tell them; a block merged into sketched keys derives its own first.
    """

    refs: int = 0
    names: pa.Array | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # KEY_COLUMNS, aligned with names
    pattern: np.ndarray = field(default_factory=lambda: np.array([], np.int64))  # id in patterns_vocab
    patterns_vocab: Vocab = field(default_factory=Vocab)
    commands_vocab: Vocab = field(default_factory=Vocab)
    clients_vocab: Vocab = field(default_factory=Vocab)
    key_commands: PairCounts = field(default_factory=PairCounts)
    key_clients: PairCounts = field(default_factory=PairCounts)
    patterns: pd.DataFrame | None = None  # index pattern: count, first, last, pos, reads, writes
    pattern_commands: pd.DataFrame | None = None
    floor: int = 0  # past the cap: a key not held was referenced at most this often
    distinct: HyperLogLog | None = None  # past the cap
    pattern_distinct: dict[str, HyperLogLog] | None = None
    clients_capped: bool = False  # key_clients kept for the most referenced keys only

    @property
    def sketched(self) -> bool:
        return self.distinct is not None

    def __len__(self) -> int:
        return 0 if self.names is None else len(self.names)


PATTERN_AGG = {"count": "sum", "first": "min", "last": "max", "pos": "min", "reads": "sum", "writes": "sum"}


def _block_keys(b: _Block, callers: np.ndarray, caller_labels: np.ndarray, s: Settings
                ) -> tuple[Keys, np.ndarray | None]:
    """The block's :class:`Keys`, and its key references per hash slot (with ``s.slots``:
    :data:`~monitorlens.analysis.slots.SLOTS` counts). Guessed keys (``key_rule``
    ``first-arg``) stay out, as in ``key_table``."""
    flat, ctx = bd._without_guesses(b.flat, b.events), b.ctx
    if not len(flat.key):
        return Keys(), None
    names = flat.keys.cast(pa.string())
    access = bd._accesscodes_of(ctx.commands)[ctx.command[flat.row]]
    us, pos = b.us[flat.row], b.pos[flat.row]
    reads, writes = (access == 0).astype(np.int64), (access == 1).astype(np.int64)
    n = len(names)
    first, last, where = np.full(n, NO_POS), np.full(n, -NO_POS), np.full(n, NO_POS)
    np.minimum.at(first, flat.key, us)
    np.maximum.at(last, flat.key, us)
    np.minimum.at(where, flat.key, pos)
    columns = {
        "count": np.bincount(flat.key, minlength=n).astype(np.int64), "first": first, "last": last, "pos": where,
        "reads": np.bincount(flat.key, weights=reads, minlength=n).astype(np.int64),
        "writes": np.bincount(flat.key, weights=writes, minlength=n).astype(np.int64),
        "error": np.zeros(n, dtype=np.int64),
    }
    command = ctx.command[flat.row]
    out = Keys(
        refs=len(flat.key), names=names, columns=columns, commands_vocab=Vocab([str(x) for x in ctx.commands]),
        clients_vocab=Vocab([str(x) for x in caller_labels]),
        key_commands=PairCounts.of(flat.key, command, np.ones(len(command), np.int64), pos),
        key_clients=PairCounts.of(flat.key, callers[flat.row]),
    )
    if not s.slots:
        return out, None
    return out, np.bincount(key_slots(flat.keys), weights=columns["count"], minlength=SLOTS).astype(np.int64)


def _key_strings(k: Keys) -> np.ndarray:
    return np.asarray(k.names.to_pylist(), dtype=object) if k.names is not None else np.array([], object)


def with_patterns(k: Keys, rules: PatternRules) -> Keys:
    """``k`` with its key patterns: each key's, and per pattern the sums of its keys'
    columns and (command) pairs. Exact while ``k`` holds every key it counted."""
    if k.names is None or k.patterns is not None:
        return k
    codes, patterns = bd._fingerprints(k.names, rules)
    codes = codes.astype(np.int64)
    c, n = k.columns, len(patterns)
    first, last, where = np.full(n, NO_POS), np.full(n, -NO_POS), np.full(n, NO_POS)
    np.minimum.at(first, codes, c["first"])
    np.maximum.at(last, codes, c["last"])
    np.minimum.at(where, codes, c["pos"])
    frame = pd.DataFrame({"count": _sums(codes, c["count"], n), "first": first, "last": last, "pos": where,
                          "reads": _sums(codes, c["reads"], n), "writes": _sums(codes, c["writes"], n)},
                         index=pd.Index(_labels(patterns), name="pattern", dtype=object))
    kc = k.key_commands
    assert kc.pos is not None and kc.count is not None  # key_commands has both
    pairs = _pairs(codes[kc.key], patterns, kc.other, k.commands_vocab.names, kc.pos, ("pattern", "command"),
                   weights=kc.count)
    return replace(k, pattern=codes, patterns_vocab=Vocab([str(x) for x in patterns]), patterns=frame,
                   pattern_commands=pairs)


def _sums(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=n).astype(np.int64)


def _sketch_start(k: Keys, rules: PatternRules) -> Keys:
    """The distinct-key sketches of an exact :class:`Keys`, with its patterns (it stays
    exact otherwise)."""
    if k.sketched or k.names is None:
        return k
    k = with_patterns(k, rules)
    keys = _key_strings(k)
    per = {k.patterns_vocab.names[p]: HyperLogLog(PATTERN_HLL_PRECISION).add(keys[k.pattern == p])
           for p in np.unique(k.pattern)}
    return replace(k, distinct=HyperLogLog(HLL_PRECISION).add(keys), pattern_distinct=per)


def _positions_in(names: pa.Array, of: pa.Array) -> np.ndarray:
    """The position of each of ``names`` in ``of`` (both distinct), or -1: Arrow hashes the
    smaller side (an accumulated partial's keys are many, a block's fewer)."""
    if len(names) >= len(of):
        return pc.fill_null(pc.index_in(names, value_set=of), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    where = pc.fill_null(pc.index_in(of, value_set=names), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    out = np.full(len(names), -1, dtype=np.int64)
    held = where >= 0
    out[where[held]] = np.flatnonzero(held)
    return out


def _merge_keys(parts: Sequence[Keys], s: Settings) -> Keys:
    """The keys of ``parts`` (in order) in one :class:`Keys`. Exact ones at once: every name
    hashed once, each column and pair table combined once (the first part, a running
    total, is copied once, not once a part). Once sketched, two by two (:func:`_merge_key_pair`:
    each side's floor bounds what it may have missed)."""
    held = [k for k in parts if k.names is not None]
    if len(held) < 2:
        return held[0] if held else Keys()
    if any(k.sketched for k in held):
        return functools.reduce(lambda a, b: _merge_key_pair(a, b, s), held)
    first = held[0]
    assert first.names is not None  # held
    encoded = pc.dictionary_encode(pa.concat_arrays([k.names for k in held]))
    ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    na, n = len(first), len(encoded.dictionary)  # the first part's names are distinct: ids 0..na-1
    columns = {}
    for name in KEY_COLUMNS:
        col = np.full(n, KEY_EMPTY[name], dtype=np.int64)
        col[:na] = first.columns[name]
        columns[name] = col
    commands, clients = first.commands_vocab, first.clients_vocab
    pairs: dict[str, list[np.ndarray]] = {c: [] for c in ("ck", "cc", "count", "pos", "lk", "lc")}
    start = na
    for k in held[1:]:
        kid = ids[start:start + len(k)]
        start += len(k)
        for name, col in columns.items():  # a part's ids are distinct: no ufunc.at (10x slower)
            col[kid] = KEY_COMBINE[name](col[kid], k.columns[name])
        commands, cmap = commands.ids(k.commands_vocab.names)
        clients, clmap = clients.ids(k.clients_vocab.names)
        kc, kl = k.key_commands, k.key_clients
        assert kc.count is not None and kc.pos is not None  # key_commands has both
        for c, v in zip(pairs, (kid[kc.key], cmap[kc.other], kc.count, kc.pos, kid[kl.key], clmap[kl.other])):
            pairs[c].append(v)
    joined = {c: np.concatenate(v) for c, v in pairs.items()}
    new = PairCounts.distinct if len(held) == 2 else PairCounts.of  # one part's pairs are distinct: no hashing
    out = Keys(
        refs=sum(k.refs for k in held), names=encoded.dictionary, columns=columns,
        commands_vocab=commands, clients_vocab=clients,
        key_commands=first.key_commands.combined(new(joined["ck"], joined["cc"], joined["count"], joined["pos"])),
        key_clients=first.key_clients.combined(new(joined["lk"], joined["lc"])),
        clients_capped=any(k.clients_capped for k in held),
    )
    return _capped(out, s)


def _capped(k: Keys, s: Settings) -> Keys:
    """Past the key cap, the hot keys' sketch; past CLIENT_PAIRS, the clients of the most
    referenced keys only."""
    if len(k) > s.key_cap:
        k = _truncate(_sketch_start(k, s.pattern_rules), s.key_cap)
    if len(k.key_clients) > CLIENT_PAIRS:
        k = _cap_client_pairs(k, CLIENT_PAIRS // 2)
    return k


def _merge_key_pair(a: Keys, b: Keys, s: Settings) -> Keys:
    """Two :class:`Keys`, one of them sketched or both (the other's sketches start)."""
    a, b = _sketch_start(a, s.pattern_rules), _sketch_start(b, s.pattern_rules)
    assert a.names is not None and b.names is not None  # held; _sketch_start keeps them
    found = _positions_in(b.names, a.names)
    missing = found < 0
    na = len(a.names)
    b_id = np.where(missing, na + np.cumsum(missing) - 1, found)
    names = pa.concat_arrays([a.names, b.names.filter(pa.array(missing))])
    n = len(names)
    columns = {}
    for name in KEY_COLUMNS:
        col = np.full(n, KEY_EMPTY[name], dtype=np.int64)
        col[:na] = a.columns[name]
        col[b_id] = KEY_COMBINE[name](col[b_id], b.columns[name])  # b's ids are distinct
        columns[name] = col
    # Space-Saving: a key one side lacks may have had up to that side's floor there
    in_b = np.zeros(n, dtype=bool)
    in_b[b_id] = True
    bump = missing_bump(np.arange(n) < na, in_b, a.floor, b.floor)
    columns["count"] = columns["count"] + bump
    columns["error"] = columns["error"] + bump
    patterns, pmap = a.patterns_vocab.ids(b.patterns_vocab.names)
    pattern = np.empty(n, dtype=np.int64)
    pattern[:na] = a.pattern
    pattern[b_id] = pmap[b.pattern]
    commands, cmap = a.commands_vocab.ids(b.commands_vocab.names)
    clients, clmap = a.clients_vocab.ids(b.clients_vocab.names)
    bc, bk = b.key_commands, b.key_clients
    assert a.distinct is not None and b.distinct is not None  # sketched
    out = Keys(
        refs=a.refs + b.refs, names=names, columns=columns, pattern=pattern, patterns_vocab=patterns,
        commands_vocab=commands, clients_vocab=clients,
        key_commands=a.key_commands.combined(PairCounts.distinct(b_id[bc.key], cmap[bc.other], bc.count, bc.pos)),
        key_clients=a.key_clients.combined(PairCounts.distinct(b_id[bk.key], clmap[bk.other])),
        patterns=_combine([a.patterns, b.patterns], PATTERN_AGG),
        pattern_commands=_combine([a.pattern_commands, b.pattern_commands], PAIRS),
        floor=a.floor + b.floor, distinct=a.distinct.merged(b.distinct),
        pattern_distinct=_merge_hlls(a.pattern_distinct, b.pattern_distinct),
        clients_capped=a.clients_capped or b.clients_capped,
    )
    return _capped(out, s)


def _cap_client_pairs(k: Keys, limit: int) -> Keys:
    """Only the (key, client) pairs of the most referenced keys, at most ``limit`` of them."""
    per_key = np.bincount(k.key_clients.key, minlength=len(k))
    ranked = np.lexsort((k.columns["pos"], -k.columns["count"]))
    held = ranked[: max(1, int(np.searchsorted(np.cumsum(per_key[ranked]), limit, side="right")))]
    keep = np.zeros(len(k), dtype=bool)
    keep[held] = True
    return replace(k, key_clients=k.key_clients.taken(keep, np.arange(len(k))), clients_capped=True)


def _merge_hlls(a: dict[str, HyperLogLog] | None, b: dict[str, HyperLogLog] | None) -> dict[str, HyperLogLog]:
    out = dict(a or {})
    for p, h in (b or {}).items():
        out[p] = out[p].merged(h) if p in out else h
    return out


def _truncate(k: Keys, cap: int) -> Keys:
    """The ``cap`` keys counted most (Space-Saving): the floor rises to the largest dropped."""
    kept, floor = keep_top(k.columns["count"], k.columns["pos"], cap, k.floor)
    keep = np.zeros(len(k), dtype=bool)
    keep[kept] = True
    new_id = np.cumsum(keep) - 1
    return replace(
        k, names=k.names.take(pa.array(kept)), columns={c: v[kept] for c, v in k.columns.items()},  # type: ignore
        pattern=k.pattern[kept], floor=floor,
        key_commands=k.key_commands.taken(keep, new_id), key_clients=k.key_clients.taken(keep, new_id),
    )


def _rename_client(k: Keys, old: str, new: str) -> Keys:
    """Keys whose client pairs name ``old`` name ``new`` instead."""
    if old not in k.clients_vocab.names:
        return k
    names = list(k.clients_vocab.names)
    i = names.index(old)
    if new in names:
        j = names.index(new)
        other = np.where(k.key_clients.other == i, j, k.key_clients.other)
        pairs = PairCounts.of(k.key_clients.key, other)
        return replace(k, key_clients=pairs)
    names[i] = new
    return replace(k, clients_vocab=Vocab(names))


# ------------------------------------------------------------------------------ partial


@dataclass
class Partial:
    """The mergeable aggregate of some events (see the module's docstring)."""

    events: int = 0
    head_source: int | None = None  # the source of the first line (whose PENDING lua lines wait)
    tail_source: int | None = None
    tail_caller: str | None = None  # the script caller lua lines after the last line credit; OPEN
    module_first: str | None = OPEN  # the first line not a module's own: its client if a module
    module_last: str | None = OPEN  # command, else None; OPEN: none (see _module_edges)
    module_waiting: tuple[str, ...] = ()  # the module pseudo-clients some rows wait as
    first_edge: Edge | None = None
    last_edge: Edge | None = None
    level: int = 0  # timeline buckets are base_step * 2 ** level
    commands: pd.DataFrame | None = None
    subcommands: pd.DataFrame | None = None
    command_clients: pd.Index | None = None
    subcommand_clients: pd.Index | None = None
    clients: pd.DataFrame | None = None  # credited: count, first, last; own, own_pos, kind, host
    client_commands: pd.DataFrame | None = None
    client_dbs: pd.Index | None = None
    setnames: pd.DataFrame | None = None  # index client: name, ts, pos
    dbs: pd.DataFrame | None = None
    db_clients: pd.Index | None = None
    timeline: pd.Series | None = None  # (bucket, command) -> events
    timeline_clients: pd.Series | None = None
    gaps: Gaps = field(default_factory=Gaps)
    keys: Keys = field(default_factory=Keys)
    hits: dict[tuple[str, ...], Hits] = field(default_factory=dict)
    hidden_seen: frozenset[str] = frozenset()
    nodes: pd.DataFrame | None = None  # index node: count, first, last, pos
    slots: np.ndarray | None = None  # key references in each hash slot (SLOTS counts, 128 KiB)
    seen: pd.DataFrame | None = None  # index (kind, label): pos, where filters were given: first
    # line of each command and client before filtering (pandas orders ties by that: categories)
    # With names from CLIENT LIST (the events have a ``name`` column): see :func:`_named`.
    listed: pd.DataFrame | None = None  # index client: the last name, user, lib_name known, each with its pos
    apps: pd.DataFrame | None = None  # index (name, credited client): count, first, last, lua, pos
    app_commands: pd.DataFrame | None = None  # index (name, client, command): count, pos
    app_dbs: pd.Index | None = None  # (name, client, db) seen
    tail_name: str | None = None  # the name of the last line that is not lua (None: every line is)
    shown: Counter | None = None  # (command, subcommand) -> lines before the filters (Settings.shown)
    chosen: "Chosen | None" = None  # under a client filter: the lua lines that wait for their caller


CLIENT_AGG = {"count": "sum", "first": "min", "last": "max", "lua": "sum", "own": "sum", "own_pos": "min",
              "kind": "first", "host": "first"}
DB_AGG = STATS


def _callers(events: pd.DataFrame, own: np.ndarray, labels: np.ndarray, cmd: np.ndarray,
             cmds: pd.Index) -> tuple[np.ndarray, np.ndarray, str | None, str | None, str | None, tuple[str, ...]]:
    """Each row's credited client code (lua lines -> their script's caller; lua lines that
    begin the block -> :data:`PENDING`; a module's lines -> its command's client, those at
    the block's edges -> :data:`MODULE_HEAD` ...), the labels, the block's tail caller state,
    the module states of its first and last lines that are not a module's own
    (:func:`_module_edges`), and the module pseudo-clients its rows wait as."""
    labels = np.append(labels, PENDING)
    pending = len(labels) - 1
    if bd.LUA not in set(labels[:-1]):
        lua = -5
    else:
        lua = int(np.flatnonzero(labels[:-1] == bd.LUA)[0])
    is_lua = own == lua
    calls = [i for i, name in enumerate(cmds) if name in bd.SCRIPT_CALLS]
    is_call = np.isin(cmd, calls)
    source = np.where(is_call, own, -2)
    last = np.maximum.accumulate(np.where(is_lua, -1, np.arange(len(own)))) if len(own) else own
    found = np.where(last >= 0, source[np.maximum(last, 0)], -3)
    credited = np.where(is_lua & (found >= 0), found, np.where(is_lua & (found == -3), pending, own))
    modules = [i for i, name in enumerate(labels[:-1]) if name in bd.MODULE_SOURCES]
    ran = np.isin(own, modules)
    module_call, others, head, tail_rows = _module_lines(ran, cmd, cmds)
    # The module states of the first and last other lines: the client of a module command,
    # None for any other line, OPEN when every line is a module's.
    state = lambda i: str(labels[credited[i]]) if module_call[i] else None  # noqa: E731
    module_first, module_last = (state(int(others[0])), state(int(others[-1]))) if len(others) else (OPEN, OPEN)
    waiting: tuple[str, ...] = ()
    if modules:  # a module's lines go to its command (before them, else after): within the block
        credited = bd._credit(credited, ran, module_call, after=True)
        edges = [(MODULE_HEAD, head), (MODULE_TAIL, tail_rows)] if len(others) else [(MODULE_ALONE, head)]
        for prefix, at_edge in edges:
            for m in modules:
                rows = at_edge & (own == m)
                if rows.any():
                    waiting += (prefix + str(labels[m]),)
                    labels = np.append(labels, waiting[-1])
                    credited = np.where(rows, len(labels) - 1, credited)
    nonlua = np.flatnonzero(~is_lua)
    if not len(nonlua):
        tail: str | None = OPEN
    else:
        i = int(nonlua[-1])
        tail = str(labels[own[i]]) if is_call[i] else None
    return credited.astype(np.int64), labels, tail, module_first, module_last, waiting


def _module_lines(ran: np.ndarray, cmd: np.ndarray, cmds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Of a block's rows, ``ran`` those a module ran (its own source): which are module
    commands (a name with a dot), the positions of the rows that are not a module's, and
    the module's rows at the block's edges, whose credit the blocks beside decide: before
    the first other row (all of them when there is none), and after the last other row
    when that is no module command (else it takes them)."""
    dotted = np.array(["." in str(c) for c in cmds] + [False])  # code -1 (no command) -> False
    module_call = dotted[cmd] & ~ran
    others = np.flatnonzero(~ran)
    if not len(others):
        return module_call, others, ran, np.zeros_like(ran)
    row = np.arange(len(ran))
    tail = ran & (row > others[-1]) if not module_call[others[-1]] else np.zeros_like(ran)
    return module_call, others, ran & (row < others[0]), tail


def position(source: int, chunk: int, line: np.ndarray) -> np.ndarray:
    """The position of lines (numbered from 1 in their chunk) of a chunk of a source."""
    return (np.int64(source) << np.int64(LINE_BITS + CHUNK_BITS)) | (np.int64(chunk) << np.int64(LINE_BITS)) | line


def first_seen(events: pd.DataFrame, source: int = 0, chunk: int = 0) -> pd.DataFrame:
    """The first position of each command and client of a block (before filters drop rows)."""
    if events.empty:
        return pd.DataFrame({"pos": pd.Series(dtype=np.int64)})
    pos = position(source, chunk, events["line"].to_numpy().astype(np.int64))
    parts = []
    for kind, null in (("command", None), ("client", bd.NO_CLIENT)):
        codes, labels = bd.codes_of(events[kind], null)
        frame = _stats(codes, labels, pos, pos, "label")[["pos"]]
        frame.index = pd.MultiIndex.from_arrays([np.full(len(frame), kind, dtype=object),
                                                 frame.index.to_numpy(dtype=object)], names=["kind", "label"])
        parts.append(frame)
    return pd.concat(parts)


def block_partial(events: pd.DataFrame, *, source: int = 0, chunk: int = 0, node: str = "",
                  settings: Settings = Settings(), seen: pd.DataFrame | None = None,
                  names: pd.DataFrame | None = None, shown: Counter | None = None) -> Partial:
    """The :class:`Partial` of one block of events (in line order) of source number ``source``
    (lines numbered from 1 in its ``chunk``: :func:`shift_lines` renumbers them later).

    >>> block_partial(read_monitor("sample_captures/grammar/monitor.txt")).events  # doctest: +SKIP
    """
    s = settings
    n = len(events)
    if n == 0:  # filtered out: only the names clients gave themselves, and first lines, remain
        return Partial(setnames=_setnames(names, NO_POS) if names is not None and len(names) else None,
                       seen=seen, shown=shown)
    line = events["line"].to_numpy().astype(np.int64)
    if n > 1 and not (np.diff(line) > 0).all():
        events = events.iloc[np.argsort(line, kind="stable")]
        line = events["line"].to_numpy().astype(np.int64)
    pos = position(source, chunk, line)
    us = bd.ts_us(events)
    own, own_labels = bd.codes_of(events["client"], bd.NO_CLIENT)
    own_labels = _labels(own_labels)
    cmd, cmds = bd.codes_of(events["command"])
    cmds = pd.Index(_labels(cmds))
    callers, caller_labels, tail, module_first, module_last, waiting = _callers(events, own, own_labels, cmd, cmds)
    flat = bd.flatten_keys(bd.keys_column(events))
    ctx = Context(events, callers, pd.Index(caller_labels), {}, cmd, cmds, flat)
    b = _Block(events, pos, us, ctx, flat, s.thresholds, node)

    sub, subs = bd._command_codes(events, True)
    real_own, real_labels = bd.codes_of(events["client"])  # nulls (no client) not counted as clients
    arg_bytes = events["arg_bytes"].to_numpy().astype(np.int64)
    db = events["db"].to_numpy(dtype="float64", na_value=np.nan)
    db_code = np.where(np.isnan(db), -1, db).astype(np.int64)
    db_labels = np.arange(int(db_code.max()) + 2) - 1  # code + 1 -> label (-1: no db printed)
    kind, kinds = bd.codes_of(events["client_kind"], bd.NO_CLIENT)

    lua_code = np.flatnonzero(own_labels == bd.LUA)  # a script's lines (not a module's)
    lua_rows = (own == lua_code[0]).astype(np.int64) if len(lua_code) else np.zeros(n, dtype=np.int64)
    credited = _stats(callers, caller_labels, us, pos, "client", lua=lua_rows)
    own_count = np.bincount(own, minlength=len(own_labels))
    seen_own = np.flatnonzero(own_count)
    first_row = np.full(len(own_labels), n, dtype=np.int64)
    np.minimum.at(first_row, own, np.arange(n))  # rows are in line order: the first is the smallest pos
    first_row = first_row[seen_own]
    host = events["host"].iloc[first_row].astype(object).to_numpy()
    own_frame = pd.DataFrame({"own": own_count[seen_own], "own_pos": pos[first_row],
                              "kind": _labels(kinds)[kind[first_row]], "host": host},
                             index=pd.Index(own_labels[seen_own], name="client"))
    clients = credited[["count", "first", "last", "lua"]].join(own_frame, how="outer")
    clients["own"] = clients["own"].fillna(0).astype(np.int64)
    clients["own_pos"] = clients["own_pos"].fillna(NO_POS).astype(np.int64)
    for c, empty in (("count", 0), ("first", NO_POS), ("last", -NO_POS), ("lua", 0)):
        clients[c] = clients[c].fillna(empty).astype(np.int64)

    step = s.base_step
    level = 0
    while int(us.max()) // (step << level) - int(us.min()) // (step << level) + 1 > s.max_buckets:
        level += 1
    bucket = us // (step << level)

    setnames = _setnames(names if names is not None else bd.setname_names(events), int(pos[-1]))

    edge = lambda i: Edge(source, int(us[i]), int(line[i]), int(pos[i]), str(own_labels[own[i]]),  # noqa: E731
                          str(cmds[cmd[i]]))
    gap = np.diff(us)
    rows = {"pos": pos[:-1], "us": us[:-1], "line": line[:-1], "client": _Labelled(own_labels, own),
            "command": _Labelled(np.asarray(cmds, dtype=object), cmd)}
    after = {"us": us[1:], "line": line[1:]}
    keys, slots = _block_keys(b, callers, caller_labels, s)
    present = np.flatnonzero(np.bincount(sub[sub >= 0], minlength=len(subs)))
    hidden_names = {name for name in map(str, np.asarray(subs, dtype=object)[present]) if _hidden(name)}
    node_frame = pd.DataFrame({"count": [n], "first": [int(us.min())], "last": [int(us.max())],
                               "pos": [int(pos[0])]}, index=pd.Index([node], name="node"))
    return Partial(
        events=n, head_source=source, tail_source=source, tail_caller=tail, module_first=module_first,
        module_last=module_last, module_waiting=waiting,
        first_edge=edge(0), last_edge=edge(n - 1), level=level,
        commands=_stats(cmd, cmds, us, pos, "command", arg_bytes=arg_bytes),
        subcommands=_stats(sub, subs, us, pos, "command", arg_bytes=arg_bytes),
        command_clients=_presence(cmd, cmds, real_own, real_labels, ("command", "client")),
        subcommand_clients=_presence(sub, subs, real_own, real_labels, ("command", "client")),
        clients=clients,
        client_commands=_pairs(callers, caller_labels, cmd, cmds, pos, ("client", "command")),
        client_dbs=_presence(callers, caller_labels, db_code + 1, db_labels, ("client", "db")),
        setnames=setnames,
        dbs=_stats(db_code + 1, db_labels, us, pos, "db"),
        db_clients=_presence(db_code + 1, db_labels, real_own, real_labels, ("db", "client")),
        timeline=_series(bucket, cmd, cmds),
        timeline_clients=_series(bucket, callers, caller_labels),
        gaps=_gaps(gap, rows, after, s),
        keys=keys, hits=_rule_hits(b), hidden_seen=frozenset(hidden_names),
        nodes=node_frame,
        slots=slots,
        seen=seen, shown=shown,
        **(_named(events, own, own_labels, callers, caller_labels, cmd, cmds, us, pos, db_code)
           if "name" in events.columns else {}),
    )


def _setnames(named: pd.DataFrame, pos: int) -> pd.DataFrame:
    """A :func:`~monitorlens.analysis.breakdowns.setname_names` table, as partials keep it."""
    return pd.DataFrame({"name": named["name"].astype(object).to_numpy(),
                         "ts": bd.ts_us(named) if len(named) else np.array([], np.int64), "pos": pos},
                        index=pd.Index(named["client"].astype(object), name="client"))


def _hidden(name: str) -> bool:
    return bool(hidden_from_monitor(*name.split(" ", 1)))


class _Labelled:
    """``labels[codes[i]]`` for the few rows asked (the lines before the longest gaps), not
    an array of every row's label."""

    def __init__(self, labels: np.ndarray, codes: np.ndarray) -> None:
        self.labels, self.codes = labels, codes

    def __getitem__(self, i: int) -> Any:
        return self.labels[self.codes[i]]


def _series(bucket: np.ndarray, codes: np.ndarray, labels: Any) -> pd.Series:
    """Events per (bucket, label)."""
    low = int(bucket.min()) if len(bucket) else 0
    b, c, counts, _ = _unique_pairs(bucket - low, codes, np.zeros(len(codes), dtype=np.int64))
    names = pd.Index(_labels(labels), dtype=object)
    if not names.is_unique or not len(b):
        index = pd.MultiIndex.from_arrays([b + low, names.to_numpy()[c]], names=["bucket", "label"])
    else:  # from the codes: from_arrays would hash every label again
        buckets = pd.Index(np.arange(int(b.max()) + 1, dtype=np.int64) + low)
        index = pd.MultiIndex(levels=[buckets, names], codes=[b, c], names=["bucket", "label"],
                              verify_integrity=False).remove_unused_levels()
    return pd.Series(counts, index=index)


def _coarsen(series: pd.Series | None, by: int) -> pd.Series | None:
    """A timeline at a bucket ``2 ** by`` times wider (neighbours summed)."""
    if series is None or by == 0 or not len(series):
        return series
    b = series.index.get_level_values(0).to_numpy() >> by
    index = pd.MultiIndex.from_arrays([b, series.index.get_level_values(1)], names=series.index.names)
    return pd.Series(series.to_numpy(), index=index).groupby(level=[0, 1], sort=False).sum()


def _add_series(series: Iterable[pd.Series | None]) -> pd.Series | None:
    return _folded(series, lambda present: pd.concat(present).groupby(level=[0, 1], sort=False).sum())


def _span_level(p: Partial, s: Settings, level: int) -> int:
    """The smallest level >= ``level`` whose buckets from first to last fit ``max_buckets``."""
    if p.clients is None or not len(p.clients):
        return level
    lo, hi = int(p.clients["first"].min()), int(p.clients["last"].max())
    while hi // (s.base_step << level) - lo // (s.base_step << level) + 1 > s.max_buckets:
        level += 1
    return level


def _rename_all(p: Partial, old: str, new: str, name: str | None = None) -> Partial:
    """Every credited-client table of ``p`` with ``old`` relabelled ``new`` (rows then merge);
    ``name``: the name the renamed rows take in the applications tables (None: theirs)."""
    clients = None
    if p.clients is not None and old in p.clients.index:
        clients = _regroup(_renamed(p.clients, 0, old, new), CLIENT_AGG, order="own_pos")
    hits: dict[tuple[str, ...], Hits] = {}
    for key, h in p.hits.items():
        key = (key[0], new) if key[0] in ("select", "client") and key[1] == old else key
        h = h.renamed(old, new)
        hits[key] = h if key not in hits else hits[key].merged(h, 10 ** 9)
    keys = _rename_client(p.keys, old, new)
    timeline_clients = p.timeline_clients
    if timeline_clients is not None and len(timeline_clients):
        timeline_clients = _renamed(timeline_clients, 1, old, new).groupby(level=[0, 1], sort=False).sum()
    return replace(
        p, clients=clients if clients is not None else p.clients,
        client_commands=_regroup(_renamed(p.client_commands, 0, old, new), PAIRS) if p.client_commands is not None else None,
        client_dbs=_renamed(p.client_dbs, 0, old, new).unique() if p.client_dbs is not None else None,
        timeline_clients=timeline_clients, hits=hits, keys=keys,
        **(_rename_apps(p, old, new, name) if p.apps is not None else {}),
    )


def _has_pending(p: Partial) -> bool:
    """Whether lua lines at the start of ``p`` wait for their caller (every credited table
    has a PENDING row then: the clients table says it for all)."""
    return p.clients is not None and PENDING in p.clients.index


def merge(left: Partial, right: Partial, settings: Settings = Settings()) -> Partial:
    """One :class:`Partial` of the events of both (``left``'s lines first when they share a source).

    >>> merge(block_partial(a), block_partial(b)).events  # doctest: +SKIP
    """
    return merge_all([left, right], settings)


def merge_all(parts: Iterable[Partial], settings: Settings = Settings()) -> Partial:
    """One :class:`Partial` of partials given in order: what merging them two by two, left
    to right, makes, at once. The edges between neighbours are settled in order (lua lines
    waiting for their caller, module lines at the edges: a few rows renamed), then every
    table is combined once; two by two, each merge would copy the running total's keys and
    tables again (a worker's merges, in batches of 500,000 events: 0.34 -> 0.21-0.26 us of CPU
    an event at 4.2M lines).

    >>> finalize(merge_all(block_partial(t) for t in blocks), provenance)  # doctest: +SKIP
    """
    s = settings
    parts = list(parts)
    if any(p.chosen is not None for p in parts):
        return functools.reduce(lambda a, b: _merge_chosen(a, b, s), parts)
    # Empty partials (blocks the filters emptied) say only names, first lines and counts
    # before the filters; the edges are those of the partials with events.
    told: dict[str, Any] = dict(setnames=_last_names(p.setnames for p in parts), seen=_combine((p.seen for p in parts), {"pos": "min"}),
                shown=_add_shown(p.shown for p in parts))
    full = [p for p in parts if p.events]
    if not full:
        return replace(parts[-1], **told) if parts else Partial()
    done = [full[0]]
    first = full[0]
    tail_source, tail_caller, tail_name, last_edge = first.tail_source, first.tail_caller, first.tail_name, first.last_edge
    module_first, module_last = first.module_first, first.module_last
    keep = max(s.top, s.thresholds.rows)
    gaps = first.gaps
    for right in full[1:]:
        same = tail_source == right.head_source
        target = (PENDING if tail_caller == OPEN else (tail_caller or bd.LUA)) if same else bd.LUA
        if target != PENDING and _has_pending(right):
            right = _rename_all(right, PENDING, target, None if target == bd.LUA else tail_name)
        if right.tail_caller == OPEN:
            tail = OPEN if target == PENDING else (None if target == bd.LUA else target)
        else:
            tail = right.tail_caller
        if target != PENDING:  # the module states name the lua lines' caller now, as their rows do
            right = replace(right, module_first=target if right.module_first == PENDING else right.module_first,
                            module_last=target if right.module_last == PENDING else right.module_last)
        left_ops, right_ops, module_first, module_last = _module_edges(
            module_first, module_last, right.module_first, right.module_last, same)
        if left_ops:
            done = [_resolved(p, left_ops) for p in done]
        right = _resolved(right, right_ops)
        gaps = gaps.merged(right.gaps, keep)
        if same:
            gaps = gaps.merged(_edge_gaps(last_edge, right.first_edge, s), keep)  # type: ignore[arg-type]
        tail_name = tail_name if same and right.tail_caller == OPEN else right.tail_name
        tail_source, tail_caller, last_edge = right.tail_source, tail, right.last_edge
        done.append(right)
    if len(done) == 1:
        return replace(done[0], **told)
    level = max(p.level for p in done)
    hits = dict(done[0].hits)  # once the edges are settled: they rename the clients hits name
    for p in done[1:]:
        for key, h in p.hits.items():
            hits[key] = hits[key].merged(h, s.thresholds.samples) if key in hits else h
    out = Partial(
        events=sum(p.events for p in done),
        head_source=first.head_source, tail_source=tail_source, tail_caller=tail_caller,
        module_first=module_first, module_last=module_last,
        module_waiting=tuple(dict.fromkeys(w for p in done for w in p.module_waiting)),
        first_edge=first.first_edge, last_edge=last_edge, level=level,
        commands=_combine((p.commands for p in done), {**STATS, "arg_bytes": "sum"}),
        subcommands=_combine((p.subcommands for p in done), {**STATS, "arg_bytes": "sum"}),
        command_clients=_union(p.command_clients for p in done),
        subcommand_clients=_union(p.subcommand_clients for p in done),
        clients=_combine((p.clients for p in done), CLIENT_AGG, order="own_pos"),
        client_commands=_combine((p.client_commands for p in done), PAIRS),
        client_dbs=_union(p.client_dbs for p in done),
        dbs=_combine((p.dbs for p in done), DB_AGG),
        db_clients=_union(p.db_clients for p in done),
        timeline=_add_series(_coarsen(p.timeline, level - p.level) for p in done),
        timeline_clients=_add_series(_coarsen(p.timeline_clients, level - p.level) for p in done),
        gaps=gaps, keys=_merge_keys([p.keys for p in done], s), hits=hits,
        hidden_seen=frozenset().union(*(p.hidden_seen for p in done)),
        nodes=_combine((p.nodes for p in done), STATS),
        slots=_add_slots(p.slots for p in done),
        **told, **_merge_named(done, tail_name),
    )
    wanted = _span_level(out, s, level)
    if wanted > level:
        out = replace(out, level=wanted, timeline=_coarsen(out.timeline, wanted - level),
                      timeline_clients=_coarsen(out.timeline_clients, wanted - level))
    return out


def _add_slots(slots: Iterable[np.ndarray | None]) -> np.ndarray | None:
    return _folded(slots, lambda present: np.sum(present, axis=0))


def _last_names(tables: Iterable[pd.DataFrame | None]) -> pd.DataFrame | None:
    return _folded(tables, _latest_names)


def _latest_names(tables: list[pd.DataFrame]) -> pd.DataFrame:
    both = pd.concat(tables).sort_values(["ts", "pos"], kind="stable")
    return both[~both.index.duplicated(keep="last")]


def shift_lines(p: Partial, offset: int) -> Partial:
    """``p`` with every line number it reports ``offset`` later (a chunk read on its own numbers
    its lines from 1; positions, which only order lines, stay)."""
    c = p.chosen
    if c is not None and offset:
        waiting = {"lead": c.lead, "module_head": c.module_head, "module_tail": c.module_tail}
        shifted: dict[str, Any] = {k: shift_lines(w, offset) for k, w in waiting.items() if w is not None}
        p = replace(p, chosen=replace(c, **shifted))
    if not offset or not p.events:
        return p
    edge = lambda e: replace(e, line=e.line + offset) if e is not None else None  # noqa: E731
    first = lambda x: (x[0], x[1] + offset, x[2], x[3]) if x is not None else None  # noqa: E731
    g = p.gaps
    gaps = replace(g, top=[(a, b, c, d, e + offset, f + offset, h, i) for a, b, c, d, e, f, h, i in g.top],
                   backwards_first=first(g.backwards_first), jump_first=first(g.jump_first))
    moved = lambda samples: [(q, replace(x, line=x.line + offset)) for q, x in samples]  # noqa: E731
    hits = {k: replace(h, head=moved(h.head), tail=moved(h.tail)) for k, h in p.hits.items()}
    return replace(p, first_edge=edge(p.first_edge), last_edge=edge(p.last_edge), gaps=gaps, hits=hits)


# --------------------------------------------------------------- names from CLIENT LIST

LISTED = ("name", "user", "lib_name")
"""The CLIENT LIST fields a named block keeps per client: the last one known (``last_known``)."""
APP_AGG = {"count": "sum", "first": "min", "last": "max", "lua": "sum", "pos": "min"}


def _named(events: pd.DataFrame, own: np.ndarray, own_labels: np.ndarray, callers: np.ndarray,
           caller_labels: np.ndarray, cmd: np.ndarray, cmds: pd.Index, us: np.ndarray, pos: np.ndarray,
           db_code: np.ndarray) -> dict[str, Any]:
    """What a block named by time (``name``, ``user``, ``lib_name`` columns: ``attach_names``)
    adds to its partial: per client its last known fields (``listed``), and the rows
    ``by_application`` groups: per (name at the line, credited client) counts and times, with
    their commands and databases. A script's lua lines take the name of the line before them
    (their call's) as ``by_application`` does; those that begin the block wait as
    :data:`PENDING` and take the name of the block before (``tail_name``) when merged."""
    n = len(events)
    frames = []
    for col in LISTED:
        codes, values = pd.factorize(events[col], use_na_sentinel=True)
        values = np.array([str(v) for v in values] + [""], dtype=object)  # code -1 -> ""
        known = np.flatnonzero(values[codes] != "")
        last = np.full(len(own_labels), -1, dtype=np.int64)
        np.maximum.at(last, own[known], known)
        has = np.flatnonzero(last >= 0)
        frames.append(pd.DataFrame({col: values[codes[last[has]]], f"{col}_pos": pos[last[has]]},
                                   index=pd.Index(own_labels[has], name="client", dtype=object)))
    listed = pd.concat(frames, axis=1)
    for col in LISTED:
        listed[f"{col}_pos"] = listed[f"{col}_pos"].fillna(-1).astype(np.int64)
    codes, values = pd.factorize(events["name"], use_na_sentinel=True)
    codes = codes.astype(np.int64)
    names = np.array([str(v) for v in values] + [""], dtype=object)  # code -1 -> ""
    codes[names[codes] == ""] = -1
    is_lua = own_labels[own] == bd.LUA
    last = np.maximum.accumulate(np.where(is_lua, -1, np.arange(n)))
    from_call = np.where(last >= 0, codes[np.maximum(last, 0)], -1)
    lua = np.flatnonzero(caller_labels == bd.LUA)
    credited = callers != (int(lua[0]) if len(lua) else -5)
    codes = np.where(is_lua & credited, from_call, codes)
    nonlua = np.flatnonzero(~is_lua)
    tail_name = str(names[codes[nonlua[-1]]]) if len(nonlua) else None
    app, pairs = pd.factorize((codes + 1) * len(caller_labels) + callers)
    app_name = names[pairs // len(caller_labels) - 1]
    app_client = np.asarray(caller_labels, dtype=object)[pairs % len(caller_labels)]
    apps = _stats(app, np.arange(len(pairs)), us, pos, "app", lua=is_lua.astype(np.int64))
    at = apps.index.to_numpy(np.int64)
    apps.index = pd.MultiIndex.from_arrays([app_name[at], app_client[at]], names=["name", "client"])
    ia, ic, counts, first = _unique_pairs(app, cmd, pos)
    commands = np.asarray(cmds, dtype=object)
    app_commands = pd.DataFrame({"count": counts, "pos": first}, index=pd.MultiIndex.from_arrays(
        [app_name[ia], app_client[ia], commands[ic]], names=["name", "client", "command"]))
    ia, idb, _, _ = _unique_pairs(app, db_code + 1)
    app_dbs = pd.MultiIndex.from_arrays([app_name[ia], app_client[ia], idb - 1], names=["name", "client", "db"])
    return {"listed": listed, "apps": apps, "app_commands": app_commands, "app_dbs": app_dbs,
            "tail_name": tail_name}


def _merge_listed(tables: Iterable[pd.DataFrame | None]) -> pd.DataFrame | None:
    """Per client, each field's value of the latest position."""
    return _folded(tables, _latest_listed)


def _latest_listed(tables: list[pd.DataFrame]) -> pd.DataFrame:
    both = pd.concat(tables)
    out = {}
    for col in LISTED:
        part = both[[col, f"{col}_pos"]].sort_values(f"{col}_pos", kind="stable")
        grouped = part.groupby(level=0, sort=False)
        out[col], out[f"{col}_pos"] = grouped[col].last(), grouped[f"{col}_pos"].max()
    return pd.DataFrame(out).rename_axis("client")


def _merge_named(parts: Sequence[Partial], tail_name: str | None) -> dict[str, Any]:
    """The named parts of :func:`merge_all` of ``parts`` (edges settled), whose last line
    not lua is named ``tail_name``."""
    if all(p.apps is None for p in parts):
        return {}
    return {
        "listed": _merge_listed(p.listed for p in parts),
        "apps": _combine((p.apps for p in parts), APP_AGG),
        "app_commands": _combine((p.app_commands for p in parts), PAIRS),
        "app_dbs": _union(p.app_dbs for p in parts),
        "tail_name": tail_name,
    }


def _rename_apps(p: Partial, old: str, new: str, name: str | None) -> dict[str, Any]:
    """The applications tables of ``p`` with client ``old`` now ``new`` (and named ``name``)."""
    def moved(index: pd.Index) -> pd.Index:
        names, clients = (index.get_level_values(i).to_numpy(dtype=object) for i in (0, 1))
        mine = clients == old
        if not mine.any():
            return index
        names, clients = names.copy(), clients.copy()
        clients[mine] = new
        if name is not None:
            names[mine] = name
        rest = [index.get_level_values(i) for i in range(2, index.nlevels)]
        return pd.MultiIndex.from_arrays([names, clients, *rest], names=index.names)

    def frame(f: pd.DataFrame | None, agg: Mapping[str, str]) -> pd.DataFrame | None:
        if f is None or not len(f):
            return f
        out = f.copy(deep=False)
        out.index = moved(f.index)
        return _regroup(out, agg)

    dbs = p.app_dbs
    return {"apps": frame(p.apps, APP_AGG), "app_commands": frame(p.app_commands, PAIRS),
            "app_dbs": moved(dbs).unique() if dbs is not None and len(dbs) else dbs}


def _resolve(p: Partial, prefix: str, to: str | None) -> Partial:
    """``p`` with its module lines waiting as ``prefix`` credited to ``to`` (a client, or
    another prefix + their label; None: their own label)."""
    for old in [w for w in p.module_waiting if w.startswith(prefix)]:
        label = old[len(prefix):]
        new = label if to is None else to + label if to in MODULE_WAITS else to
        waiting = tuple(w for w in p.module_waiting if w != old) + ((new,) if new.startswith(MODULE_WAITS) else ())
        p = replace(_rename_all(p, old, new), module_waiting=tuple(dict.fromkeys(waiting)))
    return p


Resolves = list[tuple[str, "str | None"]]  # (prefix, to) for _resolve, in order


def _resolved(p: Partial, resolves: Resolves) -> Partial:
    for prefix, to in resolves:
        p = _resolve(p, prefix, to)
    return p


def _module_edges(lf: str | None, ll: str | None, rf: str | None, rl: str | None, same: bool
                  ) -> tuple[Resolves, Resolves, str | None, str | None]:
    """Credit the module lines at the edges that meet (as ``script_callers`` does: a module's
    line goes to the nearest other line before it when that is a module command, else to the
    nearest after it when that is one, else keeps its label): what to resolve on the left
    and on the right (:func:`_resolved`), and the merged states.

    A partial's states (``module_first``, ``module_last``; left ``lf``, ``ll``, right ``rf``,
    ``rl``) tell its first and last lines that are not a module's own: the client when a
    module command, None when not, OPEN when there is none. Between two sources there is no
    line before nor after."""
    if not same:
        return ([(MODULE_TAIL, None), (MODULE_ALONE, MODULE_HEAD)],
                [(MODULE_HEAD, rf if rf != OPEN else None), (MODULE_ALONE, MODULE_TAIL)],
                lf if lf != OPEN else None, rl if rl != OPEN else None)
    left: Resolves = [(MODULE_TAIL, rf), (MODULE_ALONE, MODULE_HEAD)] if rf != OPEN else []
    right: Resolves = [(MODULE_HEAD, ll if ll is not None else rf),
                       (MODULE_ALONE, ll if ll is not None else MODULE_TAIL)] if ll != OPEN else []
    return left, right, lf if lf != OPEN else rf, rl if rl != OPEN else ll


def finish_modules(p: Partial) -> Partial:
    """The module lines still waiting at the capture's edges, credited (nothing before the
    first line, nothing after the last)."""
    first = p.module_first if p.module_first not in (OPEN, PENDING) else None
    return _resolve(_resolve(_resolve(p, MODULE_HEAD, first), MODULE_TAIL, None), MODULE_ALONE, None)


def _add_shown(counts: Iterable[Counter | None]) -> Counter | None:
    present = [c for c in counts if c is not None]
    return sum(present[1:], present[0].copy()) if len(present) > 1 else (present[0] if present else None)


# ------------------------------------------------------------------ a client filter's lua lines


@dataclass(frozen=True)
class Chosen:
    """Under a client filter, the lines a block cannot choose alone wait here (as partials of
    those that pass the other filters) until the partial beside them is merged.

    - ``lead``: lua lines before the first other line follow the client whose script ran
      them, which only the block before says: kept when its last line other than lua
      (``state``) was a script call of a chosen client (True), dropped when not (False);
      :data:`OPEN` when every line of the blocks merged so far was lua.
    - ``module_head``: a module's lines before the first line that is not a module's go to
      the line before them when that is a module command (kept with it), else to that first
      line: kept when it is a chosen module command (``module_first`` True).
    - ``module_tail``: a module's lines after the last other line, when that is no module
      command, go to the line after them when that is one (``module_first`` of the partial
      merged after), else are dropped.

    ``module_first``/``module_last``: the first and last lines that are not a module's own:
    True/False for a module command the filter keeps or not, None for another line,
    :data:`OPEN` when there is none. A lua line and a module's can't both begin a partial,
    so ``lead`` and ``module_head`` never both wait. ``head``/``tail``: the sources of the
    first and last lines."""

    head: int
    tail: int
    state: Any
    lead: Partial | None = None
    module_first: Any = OPEN
    module_last: Any = OPEN
    module_head: Partial | None = None
    module_tail: Partial | None = None


def _merge_chosen(left: Partial, right: Partial, s: Settings) -> Partial:
    """:func:`merge` of partials made under a client filter (see :class:`Chosen`)."""
    def core(*parts: Partial | None) -> Partial:
        return merge_all([replace(p, chosen=None) for p in parts if p is not None], s)

    lc, rc = left.chosen, right.chosen
    if lc is None or rc is None:  # an empty partial on one side: nothing was read there
        return replace(core(left, right), chosen=lc or rc)
    same = lc.tail == rc.head
    head, lead = lc.lead, rc.lead
    if lead is not None and same and lc.state == OPEN:  # still waiting, with the lines before them
        head, lead = (lead if head is None else core(head, lead)), None
    lead = lead if lead is not None and same and lc.state is True else None
    # A module's lines: the left's tail by the right's first line, the right's head by the
    # left's last line (else the right's first); those still undecided keep waiting.
    ll, rf = (lc.module_last, rc.module_first) if same else (None, None)
    tail = lc.module_tail if rf is True else None
    waiting_tail = lc.module_tail if rf == OPEN and same else None
    module_head = None
    joined_head = lc.module_head
    if rc.module_head is not None:
        if ll == OPEN:  # the left holds a module's lines only: both wait for the line before
            joined_head = rc.module_head if joined_head is None else core(joined_head, rc.module_head)
        elif ll is None and rc.module_first == OPEN:  # the right holds a module's lines only
            waiting_tail = rc.module_head if waiting_tail is None else core(waiting_tail, rc.module_head)
        elif ll is True or (ll is None and rc.module_first is True):
            module_head = rc.module_head
    if rc.module_first != OPEN:
        waiting_tail = rc.module_tail
    out = core(left, tail, lead, module_head, right)
    state = lc.state if same and rc.state == OPEN else rc.state
    return replace(out, chosen=Chosen(
        lc.head, rc.tail, state, head,
        module_first=lc.module_first if lc.module_first != OPEN else rc.module_first,
        module_last=rc.module_last if rc.module_last != OPEN else lc.module_last,
        module_head=joined_head, module_tail=waiting_tail))


def finish_chosen(p: Partial, settings: Settings = Settings()) -> Partial:
    """A client filter's lines still waiting at the capture's edges, decided: lua lines with
    no call before them and a module's lines after its last other line are dropped; a
    module's lines before the first other line follow it (kept when a chosen module command)."""
    c = p.chosen
    if c is None:
        return p
    p = replace(p, chosen=None)
    if c.module_head is not None and c.module_first is True:
        p = merge_all([c.module_head, p], settings)
    return p


def chosen_block(events: pd.DataFrame, others: np.ndarray, client: np.ndarray, picks: np.ndarray,
                 source: int) -> tuple[np.ndarray, dict[str, np.ndarray], Chosen]:
    """For one block (in line order) under a client filter: the rows kept now, the rows that
    wait for the block beside (``lead``: lua lines before the first other line;
    ``module_head``/``module_tail``: a module's lines at the block's edges; each passing the
    other filters), and the block's :class:`Chosen` (without their partials). ``picks``:
    whether each row's client is chosen in the whole capture (a module's line whose own
    label is chosen is kept wherever it is)."""
    own = events["client"].astype("str").to_numpy(dtype=object)
    n = len(own)
    is_lua = own == bd.LUA
    first = int(np.argmin(is_lua)) if not is_lua.all() else n
    lead = np.zeros(n, dtype=bool)
    lead[:first] = others[:first] & ~client[:first]
    if first == n:
        state: Any = OPEN
    else:
        last = int(np.flatnonzero(~is_lua)[-1])
        state = bool(str(events["command"].iloc[last]) in bd.SCRIPT_CALLS and picks[last])
    ran = np.isin(own, list(bd.MODULE_SOURCES))
    cmd, cmds = bd.codes_of(events["command"])
    module_call, other, at_head, at_tail = _module_lines(ran, cmd, cmds)
    at = lambda i: bool(client[i]) if module_call[i] else None  # noqa: E731  (see Chosen)
    module_first, module_last = (at(int(other[0])), at(int(other[-1]))) if len(other) else (OPEN, OPEN)
    movable = others & ~picks  # a module's lines whose own label is chosen are kept wherever they are
    head, tail = at_head & movable, at_tail & movable
    waits = {"lead": lead, "module_head": head, "module_tail": tail}
    return others & client & ~head & ~tail, waits, Chosen(source, source, state, module_first=module_first,
                                                           module_last=module_last)
