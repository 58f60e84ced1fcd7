"""Rules for MONITOR captures: each a function ``(events, thresholds) -> list[Finding]``.

Rules look only at the rows of the commands they judge, so their cost follows those
rows, and they never mutate the events. Every number they compare against is a field
of :class:`Thresholds`, with its default and the reason for it; :func:`find_all` runs
every rule of :data:`RULES` and sorts the findings, most severe first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Mapping, cast

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from .filters import Filters
from .breakdowns import (
    ClientNames,
    _gap_us,
    codes_of,
    command_names,
    gaps,
    take_rows,
    ts_us,
)
from .._human import plural
from ..commands import all_commands, hidden_from_monitor, lookup
from ..read.schema import provenance
from .findings import Call, Evidence, Finding, Row, Sample, Severity, printable, sort_findings
from .evidence import (
    Context,
    Shapes,
    call_shapes,
    calls_text,
    cell,
    evidence,
    iso,
    signatures,
    top_codes,
)


@dataclass(frozen=True)
class Thresholds:
    """Every number the MONITOR rules compare against, with its default and the reason for it.

    >>> Thresholds(client_share=0.3).client_share
    0.3
    """

    range_items: int = 1000
    """LRANGE/ZRANGE spanning this many items (or running to the end: ``0 -1``) is a full read."""
    multi_key_count: int = 100
    """MGET/MSET/DEL/UNLINK/EXISTS/TOUCH naming this many keys in one call is a large batch."""
    huge_argument_bytes: int = 100_000
    """One argument this long (a value, usually) is a big value sent over the wire."""
    select_churn: int = 10
    """A client sending this many SELECTs switches databases on a shared connection."""
    client_share: float = 0.5
    """One client (its scripts' lua lines included) above this share of all events."""
    client_share_min_events: int = 200
    """...judged only in captures of at least this many events (tiny ones are lopsided)."""
    silence_s: float = 5.0
    """A gap with no line at all this long (seconds) is a hole in the capture or an outage."""
    short_capture_s: float = 10.0
    """A capture shorter than this (seconds) may miss periodic jobs."""
    long_capture_s: float = 3600.0
    """A capture longer than this ran MONITOR (which costs the server) for a long time."""
    clock_jump_s: float = 3600.0
    """A silence this long between two lines is reported as a clock jump (a clock step, or
    captures of different times joined): the timeline then widens its buckets to span it."""
    reject_warning_share: float = 0.01
    """Rejected lines above this share of the lines make the capture-quality finding a warning."""
    samples: int = 3
    """Sample lines kept per finding."""
    rows: int = 10
    """Rows of evidence (per client, pattern, argument shape) kept per finding."""
    sample_arg_bytes: int = 80
    """Arguments are cut to this many bytes in sample lines (the length is said)."""


# ------------------------------------------------------------------- dangerous commands

_ALL_GLOB = re.compile(rb"[*?]*\*[*?]*")


def keys_scope(pattern: bytes) -> str:
    """How much a KEYS pattern matches: ``all`` (``*``), ``broad`` (starts with a wildcard),
    ``prefix`` (``user:*``) or ``exact`` (no wildcard). Every one of them scans every key.

    >>> [keys_scope(p) for p in (b"*", b"*:x", b"user:*", b"user:42")]
    ['all', 'broad', 'prefix', 'exact']
    """
    if _ALL_GLOB.fullmatch(pattern):
        return "all"
    if pattern[:1] in (b"*", b"?", b"["):
        return "broad"
    return "prefix" if re.search(rb"[*?\[]", pattern) else "exact"


def rule_keys(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """KEYS: who sent which pattern, when. Critical when a pattern matches everything."""
    ctx = ctx or Context.of(events)
    pos = ctx.where(["KEYS"])
    if len(pos) == 0:
        return []
    codes, first = signatures(ctx, pos)
    patterns = [a[0] if a else b"" for a in ctx.args(first)]
    scopes = np.array([keys_scope(p) for p in patterns])
    scope = scopes[codes]
    n_wide = int(np.isin(scope, ["all", "broad"]).sum())
    shapes = Shapes(codes, lambda c: Call.of("KEYS", [patterns[c]], 60, f"({scopes[c]})"))
    counts = pd.Series(scope).value_counts()
    ev = evidence(ctx, pos, t, shapes=shapes, metrics={f"calls_{k}": v for k, v in counts.items()})
    return [keys_finding(ev, n_wide)]


def keys_finding(ev: Evidence, n_wide: int) -> Finding:
    """The ``keys`` finding: ``ev`` of every KEYS call, ``n_wide`` of them matching everything."""
    wide, n = n_wide > 0, ev.count
    return Finding(
        code="keys",
        severity="critical" if wide else "warning",
        title=f"KEYS: {calls_text(n)}"
        + (f" ({n_wide:,} matching everything)" if 0 < n_wide < n else " matching everything" if wide else "")
        + f" by {', '.join(ev.clients[:3])}",
        explanation=(
            "KEYS walks every key of the database in one go, whatever the pattern, and blocks the "
            "server meanwhile (O(N) in the keyspace). A pattern such as `*` also builds a reply "
            "holding every key name. `KEYS user:42` costs the same scan but returns little."
        ),
        action=(
            "Replace KEYS with SCAN 0 MATCH <pattern> COUNT 1000 iterated by the client, or keep an "
            "index (a set of the keys) when the keys are needed often; restrict KEYS with an ACL "
            "(-keys) so it cannot come back."
        ),
        evidence=ev,
    )


# name -> (severity, what it does)
DANGEROUS: Mapping[str, tuple[Severity, str]] = {
    "FLUSHALL": ("critical", "deletes every key of every database"),
    "FLUSHDB": ("critical", "deletes every key of the selected database"),
    "SWAPDB": ("warning", "swaps two databases under every client's feet"),
    "SCRIPT FLUSH": ("warning", "drops every cached script: EVALSHA calls then fail with NOSCRIPT"),
    "FUNCTION FLUSH": ("warning", "deletes every function library"),
    "FUNCTION DELETE": ("warning", "deletes a function library"),
    "FUNCTION RESTORE": ("warning", "replaces function libraries"),
    "MIGRATE": ("warning", "moves keys to another server, blocking both while they transfer"),
    "RESTORE": ("info", "writes a serialized value (restores or copies keys)"),
    # Admin commands Redis hides from MONITOR: seen only from servers or forks that show them.
    "DEBUG": ("critical", "can block, crash or change the server (DEBUG SLEEP, SEGFAULT, RELOAD)"),
    "SHUTDOWN": ("critical", "stops the server"),
    "CONFIG SET": ("warning", "changes the server's configuration at run time"),
    "REPLICAOF": ("critical", "makes the server a replica, or promotes it"),
    "SLAVEOF": ("critical", "makes the server a replica, or promotes it"),
    "FAILOVER": ("critical", "hands the master role to a replica"),
    "CLIENT KILL": ("warning", "disconnects clients"),
    "CLIENT PAUSE": ("critical", "stops serving clients for a while"),
    "SAVE": ("critical", "writes the RDB in the foreground, blocking every client"),
    "BGSAVE": ("info", "forks to write the RDB (memory and latency spike on big datasets)"),
    "BGREWRITEAOF": ("info", "forks to rewrite the AOF"),
    "MONITOR": ("warning", "streams every command to a client (costs throughput while it runs)"),
}
_FLUSH = ("FLUSHALL", "FLUSHDB")


def _full_names(rows: pd.DataFrame) -> pd.Series:
    return command_names(rows).astype("str")


def rule_dangerous(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """FLUSHALL, FLUSHDB, SCRIPT FLUSH, SWAPDB, DEBUG, SHUTDOWN...: one finding per command seen."""
    ctx = ctx or Context.of(events)
    pos = ctx.where({n.split(" ")[0] for n in DANGEROUS})
    if len(pos) == 0:
        return []
    names = _full_names(ctx.rows(pos)).to_numpy()
    found = []
    for name in pd.unique(names):
        if name not in DANGEROUS:
            continue
        mine = pos[names == name]
        found.append(dangerous_finding(name, evidence(ctx, mine, t, shapes=call_shapes(ctx, mine))))
    return found


def dangerous_finding(name: str, ev: Evidence) -> Finding:
    """The finding of a command of :data:`DANGEROUS` (``ev`` of its calls)."""
    severity, does = DANGEROUS[name]
    hidden = hidden_from_monitor(*name.split(" ", 1))
    return Finding(
        code="flush" if name in _FLUSH else "dangerous-command",
        severity=severity,
        title=f"{name}: {calls_text(ev.count)} by {', '.join(ev.clients[:3])}",
        explanation=f"{name} {does}." + (
            " Redis normally hides this admin command from MONITOR, so this capture comes from a "
            "server that shows it, and other admin commands may be missing." if hidden else ""),
        action=(f"Find who sent {name} at {ev.first} and why; rename or deny it with an ACL "
                f"(-{name.split(' ')[0].lower()}) for application users."),
        evidence=ev,
    )


# ------------------------------------------------------------------------ O(N) reads

_INFINITE = {b"-inf", b"+inf", b"-", b"+", b"inf"}


def _int(arg: bytes) -> int | None:
    try:
        return int(arg)
    except ValueError:
        return None


def index_span(start: bytes, stop: bytes) -> float:
    """Items an index range ``start stop`` (LRANGE/ZRANGE) can return; ``inf`` if it runs to
    the end of a structure of unknown length (``0 -1``).

    >>> index_span(b"0", b"-1"), index_span(b"0", b"9"), index_span(b"-10", b"-1")
    (inf, 10, 10)
    """
    a, b = _int(start), _int(stop)
    if a is None or b is None:
        return 0
    if a >= 0 and b < 0:
        return math.inf
    if a < 0 and b >= 0:
        return b + 1
    return max(b - a + 1, 0)


def _has(args: Sequence[bytes], word: bytes) -> bool:
    return any(a.upper() == word for a in args)


def _range_full(args: Sequence[bytes], t: Thresholds) -> str | None:
    if len(args) < 3:
        return None
    span = index_span(args[1], args[2])
    if span == math.inf:
        return f"runs {args[1].decode(errors='replace')} {args[2].decode(errors='replace')} (to the end)"
    return f"spans {span:,} items" if span >= t.range_items else None


def _zrange_full(args: Sequence[bytes], t: Thresholds) -> str | None:
    if len(args) < 3:
        return None
    if _has(args[3:], b"BYSCORE") or _has(args[3:], b"BYLEX"):
        bounds = {args[1].lower(), args[2].lower()}
        if bounds <= _INFINITE and not _has(args[3:], b"LIMIT"):
            return "reads every member (unbounded, no LIMIT)"
        return None
    return _range_full(args, t)


def _by_score_full(args: Sequence[bytes], t: Thresholds) -> str | None:
    if len(args) >= 3 and {args[1].lower(), args[2].lower()} <= _INFINITE and not _has(args[3:], b"LIMIT"):
        return "reads every member (unbounded, no LIMIT)"
    return None


def _xrange_full(args: Sequence[bytes], t: Thresholds) -> str | None:
    if len(args) >= 3 and {args[1], args[2]} <= {b"-", b"+"} and not _has(args[3:], b"COUNT"):
        return "reads the whole stream (- +, no COUNT)"
    return None


def _no_limit(args: Sequence[bytes], t: Thresholds) -> str | None:
    return None if _has(args[1:], b"LIMIT") else "has no LIMIT"


# A judge returns, for rows at positions ``pos``, why each is a full read (or None).
Judge = Callable[["Context", np.ndarray, Thresholds], np.ndarray]


def _each(check: Callable[[Sequence[bytes], Thresholds], str | None]) -> Judge:
    """A judge calling ``check(args, t)`` once per distinct argument list after the key
    (``check`` must not look at ``args[0]``)."""
    def judge(ctx: Context, pos: np.ndarray, t: Thresholds) -> np.ndarray:
        codes, first = signatures(ctx, pos, skip=1)
        verdicts = np.empty(len(first), dtype=object)
        verdicts[:] = [check(args, t) for args in ctx.args(first)]
        return cast(np.ndarray, verdicts[codes])
    return judge


def _always(what: str) -> Judge:
    def judge(ctx: Context, pos: np.ndarray, t: Thresholds) -> np.ndarray:
        return np.full(len(pos), what, dtype=object)
    return judge


def _many_keys(pairs: int) -> Judge:
    """Calls naming ``multi_key_count`` keys or more (``pairs`` arguments per key), from ``nargs``."""
    def judge(ctx: Context, pos: np.ndarray, t: Thresholds) -> np.ndarray:
        n = ctx.events["nargs"].to_numpy()[pos] // pairs
        out = np.full(len(pos), None, dtype=object)
        big = n >= t.multi_key_count
        out[big] = [f"names {k:,} keys in one call" for k in n[big]]
        return out
    return judge


# command -> (why a call is a full read, what to use instead)
FULL_READS: Mapping[str, tuple[Judge, str]] = {
    "HGETALL": (_always("reads every field and value of the hash"),
                "HSCAN key 0 COUNT 100 in a loop, or HMGET/HGET the fields you need"),
    "HKEYS": (_always("reads every field of the hash"), "HSCAN key 0 COUNT 100 in a loop"),
    "HVALS": (_always("reads every value of the hash"), "HSCAN key 0 COUNT 100 in a loop"),
    "SMEMBERS": (_always("reads every member of the set"),
                 "SSCAN key 0 COUNT 100 in a loop, or SISMEMBER/SMISMEMBER for membership"),
    "LRANGE": (_each(_range_full), "LRANGE key start start+99 page by page, or LTRIM the list to a bound"),
    "ZRANGE": (_each(_zrange_full), "ZSCAN, or ZRANGE ... with a bounded range or LIMIT offset count"),
    "ZREVRANGE": (_each(_range_full), "a bounded range, or ZRANGE ... REV LIMIT offset count"),
    "ZRANGEBYSCORE": (_each(_by_score_full), "add LIMIT offset count, or ZSCAN"),
    "ZREVRANGEBYSCORE": (_each(_by_score_full), "add LIMIT offset count, or ZSCAN"),
    "ZRANGEBYLEX": (_each(_by_score_full), "add LIMIT offset count, or ZSCAN"),
    "ZREVRANGEBYLEX": (_each(_by_score_full), "add LIMIT offset count, or ZSCAN"),
    "SORT": (_each(_no_limit), "SORT ... LIMIT offset count, or keep the order in a sorted set"),
    "SORT_RO": (_each(_no_limit), "SORT_RO ... LIMIT offset count, or keep the order in a sorted set"),
    "SUNION": (_always("reads every member of every set"), "SSCAN the sets, or maintain the result as writes happen"),
    "SINTER": (_always("reads the members of every set"), "SINTERCARD ... LIMIT, or maintain the result"),
    "SDIFF": (_always("reads the members of every set"), "SSCAN the sets, or maintain the result"),
    "SUNIONSTORE": (_always("reads every member of every set"), "maintain the result as writes happen"),
    "SINTERSTORE": (_always("reads the members of every set"), "maintain the result as writes happen"),
    "SDIFFSTORE": (_always("reads the members of every set"), "maintain the result as writes happen"),
    "ZUNIONSTORE": (_always("reads every member of every sorted set"), "maintain the result as writes happen"),
    "ZINTERSTORE": (_always("reads the members of every sorted set"), "maintain the result as writes happen"),
    "XRANGE": (_each(_xrange_full), "XRANGE key - + COUNT 100, continuing from the last id"),
    "XREVRANGE": (_each(_xrange_full), "XREVRANGE key + - COUNT 100, continuing from the last id"),
    "MGET": (_many_keys(1), "batches of ~100 keys (pipelined), so other clients get their turn"),
    "MSET": (_many_keys(2), "batches of ~100 keys (pipelined), so other clients get their turn"),
    "MSETNX": (_many_keys(2), "batches of ~100 keys, if the all-or-nothing rule allows"),
    "DEL": (_many_keys(1), "UNLINK in batches of ~100 keys (frees memory in the background)"),
    "UNLINK": (_many_keys(1), "batches of ~100 keys"),
    "EXISTS": (_many_keys(1), "batches of ~100 keys"),
    "TOUCH": (_many_keys(1), "batches of ~100 keys"),
}


def rule_full_reads(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """O(N) commands read with their arguments: one finding per command with full reads."""
    ctx = ctx or Context.of(events)
    pos = ctx.where(FULL_READS)
    if len(pos) == 0:
        return []
    found = []
    commands = ctx.commands[ctx.command[pos]]
    for name in pd.Series(commands).value_counts().index:
        judge, _ = FULL_READS[name]
        mine = pos[commands == name]
        why = judge(ctx, mine, t)
        hit = mine[pd.notna(why)]
        if len(hit) == 0:
            continue
        ev = evidence(ctx, hit, t, shapes=call_shapes(ctx, hit),
                      metrics={"calls": len(hit), "calls_of_command": len(mine)})
        found.append(full_read_finding(name, pd.Series(why[pd.notna(why)]).value_counts(), ev))
    return found


def full_read_finding(name: str, reasons: pd.Series, ev: Evidence) -> Finding:
    """The ``full-read`` finding of one command: ``reasons`` counts why calls were full reads."""
    info = lookup(name)
    return Finding(
        code="full-read",
        severity="warning",
        title=f"{name} {reasons.index[0]}: {calls_text(ev.count)}"
              + (f" on {ev.keys[0]}" if ev.keys else "") + f" by {', '.join(ev.clients[:2])}",
        explanation=(
            f"{name} is {(info.complexity if info else 'O(N)').rstrip('.')}. Here it "
            f"{'; '.join(reasons.index[:3])}. On a big structure each call blocks the server and "
            "builds a large reply. MONITOR shows the arguments but not the sizes; check them with "
            "HLEN/SCARD/LLEN/ZCARD/XLEN or MEMORY USAGE."
        ),
        action=f"Instead: {FULL_READS[name][1]}.",
        evidence=ev,
    )


# -------------------------------------------------------- blocking, SELECT, big arguments

# command -> where its timeout is: an args index (negative from the end) or a keyword before it
BLOCKING_TIMEOUT: Mapping[str, int | bytes] = {
    "BLPOP": -1, "BRPOP": -1, "BRPOPLPUSH": -1, "BLMOVE": -1, "BZPOPMIN": -1, "BZPOPMAX": -1,
    "BLMPOP": 0, "BZMPOP": 0, "XREAD": b"BLOCK", "XREADGROUP": b"BLOCK", "WAIT": 1, "WAITAOF": 2,
}


def blocks_forever(command: str, args: Sequence[bytes]) -> bool:
    """Whether a blocking call has timeout 0 (waits forever).

    >>> blocks_forever("BLPOP", [b"jobs", b"0"]), blocks_forever("BLPOP", [b"jobs", b"0.1"])
    (True, False)
    """
    where = BLOCKING_TIMEOUT.get(command)
    value: bytes | None = None
    if isinstance(where, bytes):
        upper = [a.upper() for a in args]
        if where in upper and upper.index(where) + 1 < len(args):
            value = args[upper.index(where) + 1]
    elif where is not None and -len(args) <= where < len(args):
        value = args[where]
    try:
        return value is not None and float(value) == 0
    except ValueError:
        return False


def rule_blocking_forever(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """BLPOP ... 0, XREAD BLOCK 0, WAIT n 0: calls that wait with no timeout."""
    ctx = ctx or Context.of(events)
    pos = ctx.where(BLOCKING_TIMEOUT)
    if len(pos) == 0:
        return []
    shapes = call_shapes(ctx, pos)
    first = pd.Series(pos).groupby(shapes.codes).first().to_numpy()
    verdict = np.array([blocks_forever(str(ctx.commands[ctx.command[r]]), a)
                        for r, a in zip(first, ctx.args(first))], dtype=bool)
    hit = pos[verdict[shapes.codes]]
    if len(hit) == 0:
        return []
    return [blocking_finding(evidence(ctx, hit, t, shapes=Shapes(shapes.codes[verdict[shapes.codes]], shapes.call)))]


def blocking_finding(ev: Evidence) -> Finding:
    """The ``blocking-forever`` finding (``ev`` of the calls with timeout 0)."""
    return Finding(
        code="blocking-forever",
        severity="warning",
        title=f"Blocking with timeout 0 (waits forever): {calls_text(ev.count)} by {', '.join(ev.clients[:3])}",
        explanation=(
            "A blocking call with timeout 0 holds its connection until data arrives, however long. "
            "If the connection dies silently (a proxy, NAT or failover drops it) the client waits "
            "forever and stops consuming; such clients also pile up as blocked in CLIENT LIST."
        ),
        action=("Give the call a finite timeout (e.g. BLPOP key 5) and loop, so the client notices a "
                "dead connection; set a socket timeout/keepalive longer than the call's timeout."),
        evidence=ev,
    )


def rule_select_churn(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """Clients switching databases with SELECT again and again on one connection."""
    ctx = ctx or Context.of(events)
    pos = ctx.where(["SELECT"])
    if len(pos) == 0:
        return []
    per = np.bincount(ctx.callers[pos])
    busy = np.flatnonzero(per >= t.select_churn)
    if len(busy) == 0:
        return []
    hit = pos[np.isin(ctx.callers[pos], busy)]
    ev = evidence(ctx, hit, t, shapes=call_shapes(ctx, hit), metrics={"clients": len(busy), "selects": len(hit)})
    return [select_churn_finding(ev, len(busy))]


def select_churn_finding(ev: Evidence, clients: int) -> Finding:
    """The ``select-churn`` finding: ``ev`` of the SELECTs of the ``clients`` that churn."""
    return Finding(
        code="select-churn",
        severity="warning",
        title=f"{ev.count:,} SELECTs by {plural(clients, 'client')} switching databases",
        explanation=(
            "A client that SELECTs before many commands shares one connection between databases: "
            "every switch is a round trip, and a pooled connection returned in the wrong database "
            "makes commands land in the wrong keyspace."
        ),
        action="Use one connection (pool) per database, or key prefixes in one database.",
        evidence=ev,
    )


def rule_huge_arguments(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """Arguments of at least ``huge_argument_bytes`` (big values sent to the server)."""
    ctx = ctx or Context.of(events)
    pos = np.flatnonzero(events["arg_bytes"].to_numpy() >= t.huge_argument_bytes)
    if len(pos) == 0:
        return []
    args = take_rows(ctx.arrow_args, pos)
    lengths = pc.binary_length(args.flatten()).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(args).to_numpy(zero_copy_only=False)
    biggest = np.zeros(len(pos), dtype=np.int64)
    np.maximum.at(biggest, parents, lengths)
    hit = pos[biggest >= t.huge_argument_bytes]
    if len(hit) == 0:
        return []
    sizes = biggest[biggest >= t.huge_argument_bytes]
    ev = evidence(ctx, hit, t, shapes=call_shapes(ctx, hit, limit=20),
                  metrics={"largest_bytes": int(sizes.max()),
                           "total_bytes": int(events["arg_bytes"].to_numpy()[hit].sum())})
    return [huge_argument_finding(ev, t)]


def huge_argument_finding(ev: Evidence, t: Thresholds) -> Finding:
    """The ``huge-argument`` finding (``ev`` with the metric ``largest_bytes``)."""
    return Finding(
        code="huge-argument",
        severity="warning",
        title=f"Arguments of {t.huge_argument_bytes:,}+ bytes: {calls_text(ev.count)} "
              f"(largest {int(ev.metrics['largest_bytes']):,} bytes) by {', '.join(ev.clients[:2])}",
        explanation=(
            "Big values cost network, memory and time on every read and write, block the server "
            "while they are copied, and replicate in full; a big key read often is a hot spot."
        ),
        action="Split big values (a hash or several keys), compress them, or keep blobs out of Redis.",
        evidence=ev,
    )


# ----------------------------------------------------------------------------- clients


def rule_dominant_client(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """One client (its scripts' lua lines included) sending more than ``client_share`` of all."""
    # A slice chosen by client says nothing about that client's share of the traffic.
    ctx = ctx or Context.of(events)
    if len(events) < t.client_share_min_events or ctx.filters.client:
        return []
    shares = np.bincount(ctx.callers) / len(events)
    found = []
    for code in np.flatnonzero(shares > t.client_share):
        share = float(shares[code])
        pos = np.flatnonzero(ctx.callers == code)
        ev = evidence(ctx, pos, t, metrics={"share": share, "events": len(pos)})
        top, counts = top_codes(ctx.command[pos], 3)
        found.append(dominant_client_finding(ctx.label(ctx.clients[code]), share,
                                             dict(zip(ctx.commands[top], counts)), ev))
    return found


def dominant_client_finding(label: str, share: float, mix: Mapping[str, int], ev: Evidence) -> Finding:
    """The ``dominant-client`` finding of one client: its ``share`` and top commands ``mix``."""
    return Finding(
        code="dominant-client",
        severity="warning",
        title=f"{label} sent {share:.0%} of all commands",
        explanation=(f"One client made most of the load ({', '.join(f'{c} {n:,}' for c, n in mix.items())})."
                     " A loop, a retry storm or a missing cache in that application is the usual cause."),
        action="Look at what that application did at that time; rate-limit or cache on its side.",
        evidence=ev,
    )


def rule_unnamed_clients(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """Clients with no known name: no CLIENT SETNAME seen and none from CLIENT LIST."""
    ctx = ctx or Context.of(events)
    kind, kinds = codes_of(events["client_kind"])
    real = ~np.isin(kind, [i for i, k in enumerate(kinds) if k in ("lua", "module")])
    present = np.flatnonzero(np.bincount(ctx.callers[real], minlength=len(ctx.clients)))
    if len(present) == 0:
        return []
    unnamed = np.array([c for c in present if ctx.clients[c] not in ctx.labels], dtype=np.int64)
    if len(unnamed) == 0:
        return []
    listed = "name" in events.columns
    pos = np.flatnonzero(real & np.isin(ctx.callers, unnamed))
    ev = evidence(ctx, pos, t, metrics={"clients": len(unnamed), "events": len(pos)})
    top, counts = top_codes(ctx.callers[pos], t.rows)
    ev = replace(ev, rows=tuple(Row.of({"client": ctx.clients[c], "count": int(n)}) for c, n in zip(top, counts)))
    return [unnamed_clients_finding(ev, len(unnamed), len(present), listed)]


def unnamed_clients_finding(ev: Evidence, unnamed: int, present: int, listed: bool) -> Finding:
    """The ``unnamed-clients`` finding: ``unnamed`` of ``present`` clients (``ev`` of their events);
    ``listed`` when CLIENT LIST names were given."""
    return Finding(
        code="unnamed-clients",
        severity="warning" if listed else "info",
        title=f"{unnamed:,} of {present:,} clients have no known name ({ev.count:,} events)",
        explanation=(
            "These addresses have no name in the CLIENT LIST snapshots given: the applications never "
            "call CLIENT SETNAME." if listed else
            "No CLIENT SETNAME from these addresses is in the capture, and no CLIENT LIST was given. "
            "They may have named themselves before the capture began (MONITOR shows only what "
            "happens while it runs); only a CLIENT LIST taken at the same time says who they are."
        ),
        action=(
            "Make every application call CLIENT SETNAME (most client libraries have a setting for it); "
            "CLIENT LIST snapshots taken more often also name connections that come and go between them."
            if listed else
            "Give `--clients FILE` (CLIENT LIST snapshots from the same time) to name them; make "
            "every application call CLIENT SETNAME (most client libraries have a setting for it)."
        ),
        evidence=ev,
    )


# ---------------------------------------------------------------------------- coverage

REDACTED = b"(redacted)"


def rule_coverage(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """What MONITOR cannot show, said once per capture (info)."""
    if events.empty:
        return []
    ctx = ctx or Context.of(events)
    redacted = sum(sum(1 for a in args if bytes(a) == REDACTED) for args in ctx.args(ctx.where(["AUTH", "HELLO", "MIGRATE"])))
    hidden = hidden_commands()
    seen = _full_names(ctx.rows(ctx.where({n.split(" ")[0] for n in hidden})))
    return [coverage_finding(redacted, sorted(set(seen) & set(hidden)))]


def hidden_commands() -> list[str]:
    """Every command name (``CONFIG SET``...) Redis hides from MONITOR, sorted."""
    return sorted(n for n in _all_names() if hidden_from_monitor(*n.split(" ", 1)))


def coverage_finding(redacted: int, seen_hidden: Sequence[str]) -> Finding:
    """The ``coverage`` finding: ``redacted`` AUTH/HELLO arguments, hidden commands seen anyway."""
    hidden = hidden_commands()
    metrics = {"redacted_arguments": redacted, "hidden_commands": len(hidden)}
    text = (
        "MONITOR never shows admin commands (CONFIG, CLIENT LIST/KILL/PAUSE, DEBUG, SHUTDOWN, SAVE, "
        f"SLOWLOG, ACL, REPLICAOF, MONITOR itself... {len(hidden)} in Redis 7.0): their absence here "
        "says nothing about whether they were sent. It shows no durations (the gaps between lines "
        "are not command times: use SLOWLOG and LATENCY), no replies, no sizes of what was read, "
        "and nothing from before or after the capture. Commands run by scripts appear as `lua` "
        "lines after their EVAL/FCALL."
    )
    if redacted:
        text += f" {redacted:,} AUTH/HELLO arguments are `(redacted)` by Redis: passwords are not in the capture."
    if seen_hidden:
        text += f" This capture nevertheless shows {', '.join(seen_hidden)}: it may come from a server that shows them."
    return Finding(
        code="coverage",
        severity="info",
        title="What this capture cannot show: admin commands, durations, replies",
        explanation=text,
        action="Read SLOWLOG GET, LATENCY LATEST, INFO commandstats and CLIENT LIST from the same time.",
        evidence=Evidence(count=redacted, unit="redacted arguments", metrics=metrics,
                          rows=tuple(Row.of({"hidden_from_monitor": n}) for n in hidden)),
    )


def _all_names() -> list[str]:
    return list(all_commands())


# --------------------------------------------------------------------- capture quality


def rule_capture_quality(events: pd.DataFrame, t: Thresholds, ctx: Context | None = None) -> list[Finding]:
    """Rejected lines, a truncated end, silences, clock steps, and a capture too short or too long."""
    prov = provenance(events)
    found = source_findings(prov, t)
    if events.empty:
        return found + [empty_finding()]
    # Filtered rows leave holes that are not silences, and their span is not the capture's.
    whole = prov.events in (0, len(events))
    if whole:
        found.extend(_silences(events, t))
        found.extend(_clock(events, t))
    if whole or not prov.first_ts:
        first, last, count = iso(events["ts"].min()), iso(events["ts"].max()), len(events)
    else:
        first, last, count = prov.first_ts, prov.last_ts, prov.events
    found.extend(length_findings(first, last, count, t))
    return found


def source_findings(prov: Any, t: Thresholds) -> list[Finding]:
    """What the reading of the source says (a :class:`~monitorlens.read.schema.Provenance`):
    rejected lines, a compressed capture cut short."""
    found = []
    if prov.rejected:
        by = dict(prov.rejects_by_reason)
        share = prov.rejected / prov.lines if prov.lines else 1.0
        kept = list(prov.rejects)[: t.samples]
        found.append(Finding(
            code="capture-rejects",
            severity="warning" if share > t.reject_warning_share else "info",
            title=f"{prov.rejected:,} lines rejected ({share:.1%}): "
                  + ", ".join(f"{n:,} {r}" for r, n in by.items()),
            explanation="These lines are not MONITOR events; they are counted, kept and left out of "
                        "every number here.",
            action="Look at the samples: a cut last line or redis-cli messages are harmless; "
                   "many bad lines mean a damaged or mixed file.",
            evidence=Evidence(
                count=prov.rejected, unit="lines", metrics={"share": share, **{f"rejected_{k}": v for k, v in by.items()}},
                samples=tuple(Sample(int(line), printable(str(text))[:200]) for line, _, text in kept),
                rows=tuple(Row.of({"reason": r, "count": n}) for r, n in by.items()),
            ),
        ))
    if prov.input_truncated:
        found.append(Finding(
            code="capture-truncated", severity="warning",
            title="The compressed capture ends early: what followed the cut is lost",
            explanation="The gzip stream stops before its end (a copy or download cut short, a disk "
                        "full while compressing). Every line before the cut is read; the rest is not "
                        "in this analysis. (A single cut last line is counted among the rejects.)",
            action="Copy the capture again if the end matters.",
            evidence=Evidence(count=1, unit="cuts", last=prov.last_ts),
        ))
    return found


def empty_finding() -> Finding:
    """``capture-empty``: no event to analyse."""
    return Finding(
        code="capture-empty", severity="warning", title="No events to analyse",
        explanation="The capture (or the filters) left no MONITOR event.",
        action="Check the file and the filters (--since/--until/--command/--client/--db).",
    )


def _silences(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    long = gaps(events, top=None, min_gap_us=int(t.silence_s * 1e6))
    if long.empty:
        return []
    rows = tuple(Row.of({k: cell(v) for k, v in r.items()}) for r in long.head(t.rows).to_dict("records"))
    return [silences_finding(len(long), int(long["gap_us"].iat[0]), int(long["gap_us"].sum()),
                             iso(long["start"].min()), iso(long["end"].max()), rows, t)]


def silences_finding(count: int, longest_us: int, total_us: int, first: str | None, last: str | None,
                     rows: tuple[Row, ...], t: Thresholds) -> Finding:
    """``capture-gaps``: ``count`` silences of ``silence_s`` or more (``rows``: the longest)."""
    return Finding(
        code="capture-gaps",
        severity="info",
        title=f"{count:,} silences of {t.silence_s:g} s or more (longest {longest_us / 1e6:,.1f} s)",
        explanation=("No line at all arrived during these gaps: the server was idle, blocked (a slow "
                     "command, a fork, a save), unreachable, or the capture was interrupted. A gap is "
                     "not the duration of the command before it."),
        action="Compare the times with SLOWLOG, LATENCY and the server's log.",
        evidence=Evidence(count=count, unit="silences", first=first, last=last,
                          metrics={"longest_gap_us": longest_us, "total_gap_us": total_us}, rows=rows),
    )


def _clock(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    gap, positions = _gap_us(events)
    back, jump = gap < 0, gap >= int(t.clock_jump_s * 1e6)
    if not back.any() and not jump.any():
        return []
    line, us = events["line"].to_numpy(), ts_us(events)

    def first(mask: np.ndarray) -> tuple[int, str, str] | None:
        if not mask.any():
            return None
        i = int(np.flatnonzero(mask)[0])
        return int(line[positions[i + 1]]), _iso(us[positions[i]]), _iso(us[positions[i + 1]])

    return [clock_finding(int(back.sum()), int(-gap[back].min()) if back.any() else 0, first(back),
                          int(jump.sum()), int(gap[jump].max()) if jump.any() else 0, first(jump), t)]


def _iso(us: int) -> str:
    return str(pd.Timestamp(int(us), unit="us", tz="UTC").isoformat())


def clock_finding(backwards: int, back_us: int, first_back: tuple[int, str, str] | None,
                  jumps: int, jump_us: int, first_jump: tuple[int, str, str] | None, t: Thresholds) -> Finding:
    """``capture-clock``: the time printed steps back ``backwards`` times (the largest by
    ``back_us``) or jumps ahead by ``clock_jump_s`` or more ``jumps`` times; ``first_*`` are
    (line, time before, time after) of the first of each."""
    parts = []
    if backwards:
        parts.append(f"steps back {plural(backwards, 'time')} (by up to {back_us / 1e6:,.3f} s)")
    if jumps:
        parts.append(f"jumps ahead {plural(jumps, 'time')} (by up to {duration(jump_us / 1e6)})")
    rows = tuple(Row.of({"kind": kind, "line": x[0], "before": x[1], "after": x[2]})
                 for kind, x in (("back", first_back), ("jump", first_jump)) if x is not None)
    first = first_back or first_jump  # the first row's
    return Finding(
        code="capture-clock",
        severity="warning",
        title="The capture's clock " + " and ".join(parts),
        explanation=("MONITOR prints the server's clock as each command arrives: it only moves forward. "
                     "A step back means the clock was set back (NTP, a VM migration) or captures were "
                     "joined out of order; a jump means a clock step, or captures of different times "
                     "joined into one file. Rates and the timeline around these lines are wrong, and the "
                     "timeline's buckets widen to cover the whole span."),
        action="Check the server's clock and how the capture was made; analyse each part separately "
               "with --since/--until.",
        evidence=Evidence(count=backwards + jumps, unit="clock steps", first=first[1] if first else None,
                          metrics={"steps_back": backwards, "largest_step_back_us": back_us,
                                   "jumps": jumps, "largest_jump_us": jump_us}, rows=rows),
    )


def duration(seconds: float) -> str:
    """Seconds, hours or days, whichever reads best.

    >>> duration(30), duration(7200), duration(3 * 86400)
    ('30.0 s', '2.0 h', '3.0 days')
    """
    if seconds < 7200:
        return f"{seconds:,.1f} s"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} days"


def length_findings(first: str | None, last: str | None, count: int, t: Thresholds) -> list[Finding]:
    """Too short or too long: a capture from ``first`` to ``last`` (ISO) of ``count`` events."""
    seconds = (pd.Timestamp(last) - pd.Timestamp(first)).total_seconds()
    ev = Evidence(count=count, first=first, last=last, metrics={"duration_s": seconds})
    if seconds < t.short_capture_s:
        code, title = "capture-short", f"A short capture: {seconds:,.1f} s"
        why = ("Rates from a few seconds are noisy, and periodic jobs (crons, dashboards, reports) "
               "may not have run inside it.")
        action = "Capture at least a minute around the problem when you can."
    elif seconds > t.long_capture_s:
        code, title = "capture-long", f"A long capture: {seconds / 3600:,.1f} h"
        why = ("MONITOR costs the server throughput for as long as it runs; a long capture may itself "
               "have added load. Averages over hours hide short incidents.")
        action = "Narrow the analysis with --since/--until to the incident's minutes."
    else:
        return []
    return [Finding(code=code, severity="info", title=title, explanation=why, action=action, evidence=ev)]


FindingRule = Callable[[pd.DataFrame, Thresholds, "Context | None"], list[Finding]]

RULES: tuple[FindingRule, ...] = (
    rule_keys, rule_dangerous, rule_full_reads, rule_blocking_forever, rule_select_churn,
    rule_huge_arguments, rule_dominant_client, rule_unnamed_clients, rule_coverage, rule_capture_quality,
)
"""Every MONITOR rule, in the order :func:`find_all` runs them: ``rule(events, thresholds,
ctx=None) -> list[Finding]``; ``ctx`` (a :class:`Context`) is built when not given."""


def find_all(events: pd.DataFrame, *, thresholds: Thresholds = Thresholds(),
             context: Context | None = None, filters: Filters = Filters(),
             names: ClientNames | None = None) -> list[Finding]:
    """Every MONITOR rule's findings for these events, most severe first.

    ``context`` lets a caller that already flattened the keys share them
    (``Context.of(events, keys=...)``); it is built once otherwise, from ``filters`` (what
    made these events out of a capture) and that capture's ``names``.

    >>> [f.code for f in find_all(read_monitor("sample_captures/incident/monitor.txt.gz"))]  # doctest: +SKIP
    ['keys', 'blocking-forever', 'full-read', ...]
    """
    ctx = context or Context.of(events, filters=filters, names=names)
    found: list[Finding] = []
    for rule in RULES:
        found.extend(rule(events, thresholds, ctx))
    return sort_findings(found)
