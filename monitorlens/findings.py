"""Findings: what a post-mortem should look at, as data.

A :class:`Finding` is a frozen value; rules build them and templates render
them. Rules for MONITOR captures live here; rules for CLIENT LIST snapshots
live in :mod:`monitorlens.clients` and return the same type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER: Mapping[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Sample:
    """One source line that shows a finding: its line number and its text."""

    line: int
    text: str


@dataclass(frozen=True)
class Evidence:
    """What a finding rests on. Every field is optional; empty means unknown."""

    count: int = 0
    first: str | None = None  # ISO 8601 UTC
    last: str | None = None
    commands: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    samples: tuple[Sample, ...] = ()
    # Named numbers (slope_per_min, share, bytes...) and a small table of rows.
    metrics: Mapping[str, float] = field(default_factory=dict)
    rows: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Finding:
    """One thing worth a responder's attention, with its evidence and the fix."""

    code: str
    severity: Severity
    title: str
    explanation: str
    action: str
    evidence: Evidence = Evidence()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        ev = self.evidence
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "action": self.action,
            "evidence": {
                "count": ev.count,
                "first": ev.first,
                "last": ev.last,
                "commands": list(ev.commands),
                "clients": list(ev.clients),
                "keys": list(ev.keys),
                "samples": [{"line": s.line, "text": s.text} for s in ev.samples],
                "metrics": dict(ev.metrics),
                "rows": [dict(r) for r in ev.rows],
            },
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by code, stable otherwise."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code))


# ============================================================================== rules
#
# Each rule is a function ``(events, thresholds) -> list[Finding]`` over MONITOR events
# (see monitorlens.schema). Rules look only at the rows of the commands they judge, so
# their cost follows those rows, and they never mutate the events.

import math  # noqa: E402
import re  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402 - rules need pandas; the types above do not

from .breakdowns import client_names, exploded_keys, script_callers  # noqa: E402
from .commands import hidden_from_monitor, lookup  # noqa: E402
from .grammar import escape  # noqa: E402


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
    reject_warning_share: float = 0.01
    """Rejected lines above this share of the lines make the capture-quality finding a warning."""
    samples: int = 3
    """Sample lines kept per finding."""
    rows: int = 10
    """Rows of evidence (per client, pattern, argument shape) kept per finding."""
    sample_arg_bytes: int = 80
    """Arguments are cut to this many bytes in sample lines (the length is said)."""


# -------------------------------------------------------------------- terminal-safe text

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (C0, DEL, C1) and bidi overrides escaped.

    >>> printable("a\\x1b[31mred\\u202e")
    'a\\\\x1b[31mred\\\\u202e'
    """
    return _UNSAFE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def _arg_text(arg: bytes, limit: int) -> str:
    """One argument as MONITOR quotes it, cut to ``limit`` bytes with its length said."""
    if len(arg) <= limit:
        return escape(arg).decode("ascii")
    return escape(arg[:limit]).decode("ascii")[:-1] + f'..." ({len(arg):,} bytes)'


def line_text(ts: pd.Timestamp, db: Any, client: str, command: str, args: Iterable[bytes], limit: int = 80) -> str:
    """A MONITOR line re-rendered from an event (command upper-cased, long arguments cut).

    >>> line_text(pd.Timestamp(1.5e15, unit="us", tz="UTC"), 0, "lua", "GET", [b"k"])
    '1500000000.000000 [0 lua] "GET" "k"'
    """
    us = pd.Timestamp(ts).value // 1000  # .value is nanoseconds whatever the unit
    head = f"{us // 1_000_000}.{us % 1_000_000:06d}"
    head += f" [{db} {printable(client)}]" if not pd.isna(db) else ""
    parts = [_arg_text(command.encode(), limit)] + [_arg_text(bytes(a), limit) for a in args]
    return f"{head} {' '.join(parts)}"


# ---------------------------------------------------------------------------- evidence


def client_labels(events: pd.DataFrame) -> dict[str, str]:
    """``client -> "client (name)"`` for clients whose name is known, else the address.

    >>> client_labels(events)["127.0.0.1:52872"]  # doctest: +SKIP
    '127.0.0.1:52872 (leaky-app)'
    """
    names = client_names(events)
    return {c: (f"{c} ({printable(n)})" if isinstance(n, str) and n else c) for c, n in names.items()}


@dataclass(frozen=True)
class Context:
    """What evidence needs from the whole capture: each row's client with ``lua`` lines
    credited to their script's caller, and display labels with names."""

    callers: pd.Series
    labels: Mapping[str, str]

    @classmethod
    def of(cls, events: pd.DataFrame) -> "Context":
        """The context of a capture (one pass over the rows)."""
        return cls(callers=script_callers(events), labels=client_labels(events))

    def who(self, rows: pd.DataFrame) -> pd.Series:
        """The labelled (credited) client of each of ``rows`` (a subset of the events)."""
        callers = self.callers.reindex(rows.index)
        return callers.map(lambda c: self.labels.get(c, c)) if len(rows) else callers


def _iso(ts: Any) -> str | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).isoformat()


def _samples(rows: pd.DataFrame, t: Thresholds) -> tuple[Sample, ...]:
    head = rows.head(t.samples)
    return tuple(
        Sample(int(line), line_text(ts, db, str(client), str(cmd), args, t.sample_arg_bytes))
        for line, ts, db, client, cmd, args in zip(head["line"], head["ts"], head["db"], head["client"],
                                                    head["command"], head["args"])
    )


def _cell(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def evidence(
    rows: pd.DataFrame,
    ctx: Context,
    t: Thresholds,
    *,
    shape: pd.Series | None = None,
    metrics: Mapping[str, float] | None = None,
) -> Evidence:
    """Evidence from the events a finding rests on: counts, span, commands, clients, keys,
    sample lines, and one row per (client, ``shape``) with count, first and last.

    ``shape`` (aligned with ``rows``) is what tells calls apart, e.g. ``"LRANGE feed 0 -1"``.
    ``clients`` credits ``lua`` lines to their script's caller.

    >>> evidence(events[events.command == "KEYS"], Context.of(events), Thresholds())  # doctest: +SKIP
    """
    callers = ctx.who(rows)
    keys = exploded_keys(rows)["key"].value_counts()
    table: tuple[Mapping[str, Any], ...] = ()
    if shape is not None and len(rows):
        g = rows["ts"].groupby([callers.to_numpy(), shape.to_numpy()], sort=False)
        grouped = pd.DataFrame({"count": g.size(), "first": g.min(), "last": g.max()})
        grouped = grouped.sort_values("count", ascending=False, kind="stable").head(t.rows)
        table = tuple(
            {"client": c, "call": printable(str(s)), "count": int(n), "first": _iso(f), "last": _iso(l)}
            for (c, s), n, f, l in zip(grouped.index, grouped["count"], grouped["first"], grouped["last"])
        )
    return Evidence(
        count=len(rows),
        first=_iso(rows["ts"].min()) if len(rows) else None,
        last=_iso(rows["ts"].max()) if len(rows) else None,
        commands=tuple(dict.fromkeys(rows["command"].astype("str"))),
        clients=tuple(callers.value_counts().index[: t.rows]),
        keys=tuple(printable(k) for k in keys.index[: t.rows]),
        samples=_samples(rows, t),
        metrics={k: _cell(v) for k, v in (metrics or {}).items()},
        rows=table,
    )


def _args(rows: pd.DataFrame) -> list[list[bytes]]:
    """The arguments of a few rows as Python lists of bytes."""
    return [list(a) for a in rows["args"]]


def _shapes(rows: pd.DataFrame, limit: int = 40) -> pd.Series:
    """``COMMAND "arg" ...`` per row, arguments cut short: tells calls apart in evidence rows."""
    text = [
        " ".join([c] + [_arg_text(bytes(a), limit) for a in args])
        for c, args in zip(rows["command"].astype("str"), rows["args"])
    ]
    return pd.Series(text, index=rows.index, dtype="str")


def _calls(n: int) -> str:
    return f"{n:,} call" + ("" if n == 1 else "s")


def _rows_of(events: pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    return events[events["command"].isin(list(names))]


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


def rule_keys(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """KEYS: who sent which pattern, when. Critical when a pattern matches everything."""
    rows = _rows_of(events, ["KEYS"])
    if rows.empty:
        return []
    patterns = [a[0] if a else b"" for a in _args(rows)]
    scope = pd.Series([keys_scope(p) for p in patterns], index=rows.index)
    shape = pd.Series([f"KEYS {_arg_text(p, 60)} ({s})" for p, s in zip(patterns, scope)], index=rows.index)
    wide = bool(scope.isin(["all", "broad"]).any())
    counts = scope.value_counts()
    ev = evidence(rows, Context.of(events), t, shape=shape, metrics={f"calls_{k}": v for k, v in counts.items()})
    who = ", ".join(ev.clients[:3])
    return [Finding(
        code="keys",
        severity="critical" if wide else "warning",
        title=f"KEYS: {_calls(len(rows))}" + (" with a match-everything pattern" if wide else "") + f" by {who}",
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
    )]


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
    sub = rows["subcommand"].astype("str")
    cmd = rows["command"].astype("str")
    return cmd.where(sub.isna(), cmd + " " + sub)


def rule_dangerous(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """FLUSHALL, FLUSHDB, SCRIPT FLUSH, SWAPDB, DEBUG, SHUTDOWN...: one finding per command seen."""
    heads = {n.split(" ")[0] for n in DANGEROUS}
    rows = _rows_of(events, heads)
    if rows.empty:
        return []
    names = _full_names(rows)
    ctx = Context.of(events)
    found = []
    for name in dict.fromkeys(names):
        if name not in DANGEROUS:
            continue
        severity, does = DANGEROUS[name]
        mine = rows[names == name]
        ev = evidence(mine, ctx, t, shape=_shapes(mine))
        hidden = hidden_from_monitor(*name.split(" ", 1))
        found.append(Finding(
            code="flush" if name in _FLUSH else "dangerous-command",
            severity=severity,
            title=f"{name}: {_calls(len(mine))} by {', '.join(ev.clients[:3])}",
            explanation=f"{name} {does}." + (
                " Redis normally hides this admin command from MONITOR, so this capture comes from a "
                "server that shows it, and other admin commands may be missing." if hidden else ""),
            action=(f"Find who sent {name} at {ev.first} and why; rename or deny it with an ACL "
                    f"(-{name.split(' ')[0].lower()}) for application users."),
            evidence=ev,
        ))
    return found


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
    if _has(args, b"BYSCORE") or _has(args, b"BYLEX"):
        bounds = {args[1].lower(), args[2].lower()}
        if bounds <= _INFINITE and not _has(args, b"LIMIT"):
            return "reads every member (unbounded, no LIMIT)"
        return None
    return _range_full(args, t)


def _by_score_full(args: Sequence[bytes], t: Thresholds) -> str | None:
    if len(args) >= 3 and {args[1].lower(), args[2].lower()} <= _INFINITE and not _has(args, b"LIMIT"):
        return "reads every member (unbounded, no LIMIT)"
    return None


def _xrange_full(args: Sequence[bytes], t: Thresholds) -> str | None:
    if len(args) >= 3 and {args[1], args[2]} <= {b"-", b"+"} and not _has(args, b"COUNT"):
        return "reads the whole stream (- +, no COUNT)"
    return None


def _always(what: str) -> Callable[[Sequence[bytes], Thresholds], str | None]:
    return lambda args, t: what


def _no_limit(args: Sequence[bytes], t: Thresholds) -> str | None:
    return None if _has(args, b"LIMIT") else "has no LIMIT"


def _many_keys(pairs: int) -> Callable[[Sequence[bytes], Thresholds], str | None]:
    def check(args: Sequence[bytes], t: Thresholds) -> str | None:
        n = len(args) // pairs
        return f"names {n:,} keys in one call" if n >= t.multi_key_count else None
    return check


# command -> (is this call a full read?, what to use instead)
FULL_READS: Mapping[str, tuple[Callable[[Sequence[bytes], Thresholds], str | None], str]] = {
    "HGETALL": (_always("reads every field and value of the hash"),
                "HSCAN key 0 COUNT 100 in a loop, or HMGET/HGET the fields you need"),
    "HKEYS": (_always("reads every field of the hash"), "HSCAN key 0 COUNT 100 in a loop"),
    "HVALS": (_always("reads every value of the hash"), "HSCAN key 0 COUNT 100 in a loop"),
    "SMEMBERS": (_always("reads every member of the set"),
                 "SSCAN key 0 COUNT 100 in a loop, or SISMEMBER/SMISMEMBER for membership"),
    "LRANGE": (_range_full, "LRANGE key start start+99 page by page, or LTRIM the list to a bound"),
    "ZRANGE": (_zrange_full, "ZSCAN, or ZRANGE ... with a bounded range or LIMIT offset count"),
    "ZREVRANGE": (_range_full, "a bounded range, or ZRANGE ... REV LIMIT offset count"),
    "ZRANGEBYSCORE": (_by_score_full, "add LIMIT offset count, or ZSCAN"),
    "ZREVRANGEBYSCORE": (_by_score_full, "add LIMIT offset count, or ZSCAN"),
    "ZRANGEBYLEX": (_by_score_full, "add LIMIT offset count, or ZSCAN"),
    "ZREVRANGEBYLEX": (_by_score_full, "add LIMIT offset count, or ZSCAN"),
    "SORT": (_no_limit, "SORT ... LIMIT offset count, or keep the order in a sorted set"),
    "SORT_RO": (_no_limit, "SORT_RO ... LIMIT offset count, or keep the order in a sorted set"),
    "SUNION": (_always("reads every member of every set"), "SSCAN the sets, or maintain the result as writes happen"),
    "SINTER": (_always("reads the members of every set"), "SINTERCARD ... LIMIT, or maintain the result"),
    "SDIFF": (_always("reads the members of every set"), "SSCAN the sets, or maintain the result"),
    "SUNIONSTORE": (_always("reads every member of every set"), "maintain the result as writes happen"),
    "SINTERSTORE": (_always("reads the members of every set"), "maintain the result as writes happen"),
    "SDIFFSTORE": (_always("reads the members of every set"), "maintain the result as writes happen"),
    "ZUNIONSTORE": (_always("reads every member of every sorted set"), "maintain the result as writes happen"),
    "ZINTERSTORE": (_always("reads the members of every sorted set"), "maintain the result as writes happen"),
    "XRANGE": (_xrange_full, "XRANGE key - + COUNT 100, continuing from the last id"),
    "XREVRANGE": (_xrange_full, "XREVRANGE key + - COUNT 100, continuing from the last id"),
    "MGET": (_many_keys(1), "batches of ~100 keys (pipelined), so other clients get their turn"),
    "MSET": (_many_keys(2), "batches of ~100 keys (pipelined), so other clients get their turn"),
    "MSETNX": (_many_keys(2), "batches of ~100 keys, if the all-or-nothing rule allows"),
    "DEL": (_many_keys(1), "UNLINK in batches of ~100 keys (frees memory in the background)"),
    "UNLINK": (_many_keys(1), "batches of ~100 keys"),
    "EXISTS": (_many_keys(1), "batches of ~100 keys"),
    "TOUCH": (_many_keys(1), "batches of ~100 keys"),
}


def _judge(rows: pd.DataFrame, check: Callable[[Sequence[bytes], Thresholds], str | None],
           t: Thresholds) -> pd.Series:
    """``check`` once per distinct argument tail (the args after the first), spread over rows."""
    tails: dict[tuple[bytes, ...], str | None] = {}
    out = []
    for args in _args(rows):
        tail = tuple(args[1:]) if len(args) < 64 else None
        if tail is None:
            out.append(check(args, t))
            continue
        if tail not in tails:
            tails[tail] = check(args, t)
        out.append(tails[tail])
    return pd.Series(out, index=rows.index, dtype="object")


def rule_full_reads(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """O(N) commands read with their arguments: one finding per command with full reads."""
    rows = _rows_of(events, FULL_READS)
    if rows.empty:
        return []
    ctx = Context.of(events)
    found = []
    commands = rows["command"].astype("str")
    for name in commands.value_counts().index:
        check, instead = FULL_READS[name]
        mine = rows[commands == name]
        why = _judge(mine, check, t)
        hit = mine[why.notna()]
        if hit.empty:
            continue
        info = lookup(name)
        shape = _shapes(hit)
        ev = evidence(hit, ctx, t, shape=shape, metrics={"calls": len(hit), "calls_of_command": len(mine)})
        reasons = why[why.notna()].value_counts()
        found.append(Finding(
            code="full-read",
            severity="warning",
            title=f"{name} {reasons.index[0]}: {_calls(len(hit))}"
                  + (f" on {ev.keys[0]}" if ev.keys else "") + f" by {', '.join(ev.clients[:2])}",
            explanation=(
                f"{name} is {(info.complexity if info else 'O(N)').rstrip('.')}. Here it "
                f"{'; '.join(reasons.index[:3])}. On a big structure each call blocks the server and "
                "builds a large reply. MONITOR shows the arguments but not the sizes; check them with "
                "HLEN/SCARD/LLEN/ZCARD/XLEN or MEMORY USAGE."
            ),
            action=f"Instead: {instead}.",
            evidence=ev,
        ))
    return found


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


def rule_blocking_forever(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """BLPOP ... 0, XREAD BLOCK 0, WAIT n 0: calls that wait with no timeout."""
    rows = _rows_of(events, BLOCKING_TIMEOUT)
    if rows.empty:
        return []
    forever = [blocks_forever(c, a) for c, a in zip(rows["command"].astype("str"), _args(rows))]
    hit = rows[np.array(forever, dtype=bool)]
    if hit.empty:
        return []
    ev = evidence(hit, Context.of(events), t, shape=_shapes(hit))
    return [Finding(
        code="blocking-forever",
        severity="warning",
        title=f"Blocking with timeout 0 (waits forever): {_calls(len(hit))} by {', '.join(ev.clients[:3])}",
        explanation=(
            "A blocking call with timeout 0 holds its connection until data arrives, however long. "
            "If the connection dies silently (a proxy, NAT or failover drops it) the client waits "
            "forever and stops consuming; such clients also pile up as blocked in CLIENT LIST."
        ),
        action=("Give the call a finite timeout (e.g. BLPOP key 5) and loop, so the client notices a "
                "dead connection; set a socket timeout/keepalive longer than the call's timeout."),
        evidence=ev,
    )]


def rule_select_churn(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """Clients switching databases with SELECT again and again on one connection."""
    rows = _rows_of(events, ["SELECT"])
    if rows.empty:
        return []
    per = rows["client"].astype("str").value_counts()
    busy = per[per >= t.select_churn]
    if busy.empty:
        return []
    hit = rows[rows["client"].astype("str").isin(busy.index)]
    ev = evidence(hit, Context.of(events), t, shape=_shapes(hit),
                  metrics={"clients": len(busy), "selects": len(hit)})
    return [Finding(
        code="select-churn",
        severity="warning",
        title=f"{len(hit):,} SELECTs by {len(busy)} client(s) switching databases",
        explanation=(
            "A client that SELECTs before many commands shares one connection between databases: "
            "every switch is a round trip, and a pooled connection returned in the wrong database "
            "makes commands land in the wrong keyspace."
        ),
        action="Use one connection (pool) per database, or key prefixes in one database.",
        evidence=ev,
    )]


def rule_huge_arguments(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """Arguments of at least ``huge_argument_bytes`` (big values sent to the server)."""
    rows = events[events["arg_bytes"] >= t.huge_argument_bytes]
    if rows.empty:
        return []
    biggest = pd.Series([max((len(a) for a in args), default=0) for args in rows["args"]], index=rows.index)
    hit = rows[biggest >= t.huge_argument_bytes]
    if hit.empty:
        return []
    sizes = biggest[hit.index]
    ev = evidence(hit, Context.of(events), t, shape=_shapes(hit, limit=20),
                  metrics={"largest_bytes": int(sizes.max()), "total_bytes": int(hit["arg_bytes"].sum())})
    return [Finding(
        code="huge-argument",
        severity="warning",
        title=f"Arguments of {t.huge_argument_bytes:,}+ bytes: {_calls(len(hit))} "
              f"(largest {int(sizes.max()):,} bytes) by {', '.join(ev.clients[:2])}",
        explanation=(
            "Big values cost network, memory and time on every read and write, block the server "
            "while they are copied, and replicate in full; a big key read often is a hot spot."
        ),
        action="Split big values (a hash or several keys), compress them, or keep blobs out of Redis.",
        evidence=ev,
    )]


# ----------------------------------------------------------------------------- clients


def rule_dominant_client(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """One client (its scripts' lua lines included) sending more than ``client_share`` of all."""
    from .filters import applied_filters

    # A slice chosen by client says nothing about that client's share of the traffic.
    if len(events) < t.client_share_min_events or "client" in applied_filters(events):
        return []
    ctx = Context.of(events)
    shares = ctx.callers.value_counts(normalize=True)
    top = shares[shares > t.client_share]
    labels = ctx.labels
    found = []
    for client, share in top.items():
        rows = events[(ctx.callers == client).to_numpy()]
        ev = evidence(rows, ctx, t, metrics={"share": float(share), "events": len(rows)})
        mix = rows["command"].astype("str").value_counts().head(3)
        found.append(Finding(
            code="dominant-client",
            severity="warning",
            title=f"{labels.get(client, client)} sent {share:.0%} of all commands",
            explanation=(f"One client made most of the load ({', '.join(f'{c} {n:,}' for c, n in mix.items())})."
                         " A loop, a retry storm or a missing cache in that application is the usual cause."),
            action="Look at what that application did at that time; rate-limit or cache on its side.",
            evidence=ev,
        ))
    return found


def rule_unnamed_clients(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """Clients with no known name: no CLIENT SETNAME seen and none from CLIENT LIST."""
    callers = _text_clients(events)
    real = callers[~events["client_kind"].astype("str").isin(["lua", "module"]).to_numpy()]
    if real.empty:
        return []
    names = client_names(events)
    unnamed = [c for c in real.unique() if not (isinstance(names.get(c), str) and names.get(c))]
    if not unnamed:
        return []
    listed = "name" in events.columns
    rows = events[callers.isin(unnamed).to_numpy()]
    counts = rows["client"].astype("str").value_counts()
    ev = evidence(rows, Context.of(events), t, metrics={"clients": len(unnamed), "events": len(rows)})
    ev = Evidence(**{**ev.__dict__, "clients": tuple(counts.index[: t.rows]),
                     "rows": tuple({"client": c, "count": int(n)} for c, n in counts.head(t.rows).items())})
    return [Finding(
        code="unnamed-clients",
        severity="warning" if listed else "info",
        title=f"{len(unnamed):,} of {real.nunique():,} clients have no known name ({len(rows):,} events)",
        explanation=(
            "These addresses have no name in the CLIENT LIST snapshots given: the applications never "
            "call CLIENT SETNAME." if listed else
            "No CLIENT SETNAME from these addresses is in the capture, and no CLIENT LIST was given. "
            "They may have named themselves before the capture began (MONITOR shows only what "
            "happens while it runs); only a CLIENT LIST taken at the same time says who they are."
        ),
        action=("Give `--clients FILE` (CLIENT LIST snapshots from the same time) to name them; make "
                "every application call CLIENT SETNAME (most client libraries have a setting for it)."),
        evidence=ev,
    )]


def _text_clients(events: pd.DataFrame) -> pd.Series:
    return events["client"].astype("str")


# ---------------------------------------------------------------------------- coverage

REDACTED = b"(redacted)"


def rule_coverage(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """What MONITOR cannot show, said once per capture (info)."""
    if events.empty:
        return []
    auth = _rows_of(events, ["AUTH", "HELLO", "MIGRATE"])
    redacted = sum(sum(1 for a in args if bytes(a) == REDACTED) for args in auth["args"])
    hidden = sorted(n for n in _all_names() if hidden_from_monitor(*n.split(" ", 1)))
    seen_hidden = sorted(set(_full_names(_rows_of(events, {n.split(" ")[0] for n in hidden}))) & set(hidden))
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
    return [Finding(
        code="coverage",
        severity="info",
        title="What this capture cannot show: admin commands, durations, replies",
        explanation=text,
        action="Read SLOWLOG GET, LATENCY LATEST, INFO commandstats and CLIENT LIST from the same time.",
        evidence=Evidence(count=redacted, metrics=metrics, commands=tuple(hidden)),
    )]


def _all_names() -> list[str]:
    from .commands import all_commands

    return list(all_commands())


# --------------------------------------------------------------------- capture quality


def rule_capture_quality(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    """Rejected lines, a truncated end, silences, and a capture too short or too long."""
    from .schema import provenance, rejects

    prov = provenance(events)
    found = []
    if prov.rejected:
        rej = rejects(events)
        by = dict(prov.rejects_by_reason)
        share = prov.rejected / prov.lines if prov.lines else 1.0
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
                count=prov.rejected, metrics={"share": share, **{f"rejected_{k}": v for k, v in by.items()}},
                samples=tuple(Sample(int(l), printable(str(x))[:200])
                              for l, x in zip(rej["line"].head(t.samples), rej["text"].head(t.samples))),
                rows=tuple({"reason": r, "count": n} for r, n in by.items()),
            ),
        ))
    if prov.input_truncated:
        found.append(Finding(
            code="capture-truncated", severity="info",
            title="The capture ends in the middle of a line",
            explanation="The last line has no end: the capture was cut (redis-cli killed, disk "
                        "full, file copied while written). The partial line is rejected.",
            action="Nothing to do if this is the end of the capture; otherwise copy the file again.",
            evidence=Evidence(count=1, last=prov.last_ts),
        ))
    if events.empty:
        found.append(Finding(
            code="capture-empty", severity="warning", title="No events to analyse",
            explanation="The capture (or the filters) left no MONITOR event.",
            action="Check the file and the filters (--since/--until/--command/--client/--db).",
        ))
        return found
    # Filtered rows leave holes that are not silences, and their span is not the capture's.
    whole = prov.events in (0, len(events))
    if whole:
        found.extend(_silences(events, t))
    found.extend(_length(events, prov if not whole else None, t))
    return found


def _silences(events: pd.DataFrame, t: Thresholds) -> list[Finding]:
    from .breakdowns import gaps

    long = gaps(events, top=None, min_gap_us=int(t.silence_s * 1e6))
    if long.empty:
        return []
    return [Finding(
        code="capture-gaps",
        severity="info",
        title=f"{len(long):,} silences of {t.silence_s:g} s or more (longest {long['gap_us'].iat[0] / 1e6:,.1f} s)",
        explanation=("No line at all arrived during these gaps: the server was idle, blocked (a slow "
                     "command, a fork, a save), unreachable, or the capture was interrupted. A gap is "
                     "not the duration of the command before it."),
        action="Compare the times with SLOWLOG, LATENCY and the server's log.",
        evidence=Evidence(
            count=len(long), first=_iso(long["start"].min()), last=_iso(long["end"].max()),
            metrics={"longest_gap_us": int(long["gap_us"].iat[0]), "total_gap_us": int(long["gap_us"].sum())},
            rows=tuple({k: _cell(v) for k, v in r.items()} for r in long.head(t.rows).to_dict("records")),
        ),
    )]


def _length(events: pd.DataFrame, prov: Any, t: Thresholds) -> list[Finding]:
    """Too short or too long: the capture's own span (from provenance when events are filtered)."""
    first, last = (prov.first_ts, prov.last_ts) if prov is not None and prov.first_ts else (
        _iso(events["ts"].min()), _iso(events["ts"].max()))
    seconds = (pd.Timestamp(last) - pd.Timestamp(first)).total_seconds()
    ev = Evidence(count=prov.events if prov is not None else len(events), first=first, last=last,
                  metrics={"duration_s": seconds})
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


RULES: tuple[Callable[[pd.DataFrame, Thresholds], list[Finding]], ...] = (
    rule_keys, rule_dangerous, rule_full_reads, rule_blocking_forever, rule_select_churn,
    rule_huge_arguments, rule_dominant_client, rule_unnamed_clients, rule_coverage, rule_capture_quality,
)
"""Every MONITOR rule, in the order :func:`find_all` runs them."""


def find_all(events: pd.DataFrame, thresholds: Thresholds = Thresholds()) -> list[Finding]:
    """Every MONITOR rule's findings for these events, most severe first.

    >>> [f.code for f in find_all(read_monitor("sample_captures/incident/monitor.txt.gz"))]  # doctest: +SKIP
    ['keys', 'blocking-forever', 'full-read', ...]
    """
    found: list[Finding] = []
    for rule in RULES:
        found.extend(rule(events, thresholds))
    return sort_findings(found)
