"""Redaction of argument values, for reports that travel. No I/O.

Keys, command names and sizes are shown; the *values* a client sent (what it SET,
HSET fields and values, PUBLISH payloads, script bodies...) are replaced by their
length, ``‹42 bytes›``. What counts as what, for the arguments after the command name:

- **key**: every argument Redis's key specifications name as a key
  (:func:`monitorlens.commands.key_positions`); shown.
- **syntax keyword**: an argument equal (ASCII, any case) to a token of the Redis
  command syntax (:data:`SYNTAX_TOKENS`, from ``COMMAND DOCS`` of Redis 7.0: ``EX``,
  ``LIMIT``, ``STREAMS``, ``WITHSCORES``, ``*``, ``$``...), and the subcommand of a
  container command (``CLIENT SETNAME``); shown. A value that happens to spell ``EX``
  reveals only that.
- **syntax number**: a number where the syntax wants a range, count, timeout, TTL,
  cursor, db index or numkeys (:data:`NUMERIC_POSITIONS`, and the numbers after a
  keyword of :data:`AFTER_KEYWORD` in a command that has it: ``EX 1800``, ``LIMIT 0 10``, ``COUNT 100``); shown,
  so that ``LRANGE k 0 -1`` and ``BLPOP q 0`` stay readable. Numbers elsewhere (the
  value of ``SET k 42``, an ``INCRBY`` increment, a ZADD score) are values.
- **name**: channel names (PUBLISH, SUBSCRIBE...), KEYS and ``MATCH`` patterns, the
  name of ``CLIENT SETNAME`` / ``HELLO ... SETNAME`` and of an FCALL function; shown.
- ``(redacted)``: Redis's own redaction of AUTH/HELLO passwords; shown as is.
- **value**: everything else; replaced by ``‹N bytes›``.

``show_values=True`` everywhere turns redaction off.

>>> redact_args("SET", [b"user:1", b"secret", b"EX", b"60"])
['"user:1"', '‹6 bytes›', '"EX"', '"60"']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from ..commands import is_container, key_positions
from ..analysis.analyze import Analysis
from ..analysis.evidence import line_head
from ..analysis.findings import Call, Finding, Row, Sample, quoted
from ..read.grammar import CLI_MESSAGE, HEAD, IGNORABLE, Rejected, escape, parse_line, unescape

__all__ = [
    "SYNTAX_TOKENS",
    "NUMERIC_POSITIONS",
    "AFTER_KEYWORD",
    "redacted",
    "redact_args",
    "redact_line",
    "redact_call",
    "redact_sample",
    "credentials",
    "redact_finding",
    "redact_findings",
]

# Every "token" of every argument in COMMAND DOCS of Redis 7.0.15 (all commands and
# subcommands), recorded from a real server; they are the words of the syntax.
SYNTAX_TOKENS: frozenset[str] = frozenset(
    "$ * = ~ + - > ABORT ABSTTL ACLCAT ADDR AFTER AGGREGATE ALL ALPHA ANY APPEND ARGS ASC "
    "ASYNC AUTH AUTH2 BCAST BEFORE BIT BLOCK BY BYBOX BYLEX BYRADIUS BYSCORE BYTE CH CONFIG "
    "COPY COUNT DB DESC ENTRIESADDED ENTRIESREAD ERROR EX EXAT FAIL FILTERBY FLUSH FORCE FREQ "
    "FROMLONLAT FROMMEMBER FT FULL GET GROUP GT HARD ID IDLE IDLETIME IDX IMPORTING INCR "
    "INCRBY JUSTID KEEPTTL KEYS KM LADDR LASTID LEFT LEN LIBRARYNAME LIMIT LT M MASTER MATCH "
    "MAX MAXDELETEDID MAXLEN MI MIGRATING MIN MINID MINMATCHLEN MKSTREAM MODULE NO NOACK NODE "
    "NOLOOP NOMKSTREAM NORMAL NOSAVE NOW NX OFF ON ONE OPTIN OPTOUT OVERFLOW PATTERN PERSIST "
    "PREFIX PUBSUB PX PXAT RANK REDIRECT REPLACE REPLICA RESET RETRYCOUNT REV RIGHT SAMPLES "
    "SAT SAVE SCHEDULE SET SETNAME SKIP SKIPME SLAVE SOFT STABLE STORE STOREDIST STREAMS SUM "
    "SYNC TAKEOVER TIME TIMEOUT TO TYPE USER VERSION WEIGHTS WITHCODE WITHCOORD WITHDIST "
    "WITHHASH WITHMATCHLEN WITHSCORES WITHVALUES WRAP WRITE XX YES "
    # positional words of the syntax that COMMAND DOCS lists as one-of blocks, not tokens
    "BEFORE AFTER LEFT RIGHT SUM MIN MAX".split()
)

# Keywords followed by arguments of the syntax: how many numbers follow (0 = every number
# that follows; "name" = one name) and the commands whose syntax has that keyword (from
# COMMAND DOCS of Redis 7.0.15). Elsewhere the keyword exposes nothing: in ``HSET h TYPE x``
# "TYPE" is a field and "x" a value.
_AFTER: dict[str, tuple[int | str, str]] = {
    "BLOCK": (1, "XREAD XREADGROUP"),
    "BYBOX": (2, "GEOSEARCH GEOSEARCHSTORE"),
    "BYRADIUS": (1, "GEOSEARCH GEOSEARCHSTORE"),
    "COUNT": (1, "BLMPOP BZMPOP GEORADIUS GEORADIUSBYMEMBER GEORADIUSBYMEMBER_RO GEORADIUS_RO "
                 "GEOSEARCH GEOSEARCHSTORE HSCAN LMPOP LPOS SCAN SSCAN XAUTOCLAIM XRANGE XREAD "
                 "XREADGROUP XREVRANGE ZMPOP ZSCAN"),
    "DB": (1, "COPY"),
    "EX": (1, "GETEX SET"),
    "EXAT": (1, "GETEX SET"),
    "FREQ": (1, "RESTORE"),
    "FROMLONLAT": (2, "GEOSEARCH GEOSEARCHSTORE"),
    "IDLE": (1, "XCLAIM XPENDING"),
    "IDLETIME": (1, "RESTORE"),
    "LIMIT": (2, "SINTERCARD SORT SORT_RO XADD XTRIM ZINTERCARD ZRANGE ZRANGEBYLEX ZRANGEBYSCORE "
                 "ZRANGESTORE ZREVRANGEBYLEX ZREVRANGEBYSCORE"),
    "MAXLEN": (1, "LPOS XADD XTRIM"),
    "MINMATCHLEN": (1, "LCS"),
    "PX": (1, "GETEX SET"),
    "PXAT": (1, "GETEX SET"),
    "RANK": (1, "LPOS"),
    "RETRYCOUNT": (1, "XCLAIM"),
    "TIME": (1, "XCLAIM"),
    "WEIGHTS": (0, "ZINTER ZINTERSTORE ZUNION ZUNIONSTORE"),
    "MATCH": ("name", "HSCAN SCAN SSCAN ZSCAN"),
    "SETNAME": ("name", "HELLO"),
    "TYPE": ("name", "SCAN"),
}
AFTER_KEYWORD: dict[tuple[str, str], int | str] = {
    (command, word): what for word, (what, commands) in _AFTER.items() for command in commands.split()
}
"""``(command, keyword) -> what follows``: a count of numbers (0 = all) or ``"name"``."""

# Argument indices (after the command name; negative from the end) holding numbers of the
# syntax: ranges, counts, timeouts, TTLs, cursors, db indexes, numkeys.
NUMERIC_POSITIONS: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(
        "LRANGE LTRIM GETRANGE SUBSTR BITCOUNT BITPOS ZRANGE ZREVRANGE ZRANGEBYSCORE "
        "ZREVRANGEBYSCORE ZCOUNT ZREMRANGEBYRANK ZREMRANGEBYSCORE".split(),
        (1, 2, 3),
    ),
    **dict.fromkeys(
        "LINDEX LSET SETRANGE GETBIT SETBIT EXPIRE PEXPIRE EXPIREAT PEXPIREAT SETEX PSETEX "
        "MOVE SRANDMEMBER SPOP LPOP RPOP HRANDFIELD ZRANDMEMBER RESTORE HSCAN SSCAN ZSCAN "
        "EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO ZUNIONSTORE ZINTERSTORE ZDIFFSTORE".split(),
        (1,),
    ),
    **dict.fromkeys("BLPOP BRPOP BZPOPMIN BZPOPMAX BRPOPLPUSH BLMOVE".split(), (-1,)),
    **dict.fromkeys("SCAN SELECT LMPOP ZMPOP SINTERCARD ZINTERCARD ZUNION ZINTER ZDIFF".split(), (0,)),
    **dict.fromkeys("BLMPOP BZMPOP SWAPDB WAIT HELLO".split(), (0, 1)),
    "ZRANGESTORE": (2, 3),
    "MIGRATE": (1, 3, 4),
}

# Argument indices that are names, not data: channels, patterns, client and function names.
NAME_POSITIONS: dict[str, tuple[int, ...] | Literal["all"]] = {
    "PUBLISH": (0,),
    "SPUBLISH": (0,),
    "KEYS": (0,),
    "FCALL": (0,),
    "FCALL_RO": (0,),
    "CLIENT SETNAME": (1,),
    **dict.fromkeys("SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE".split(), "all"),
}

REDIS_REDACTED = b"(redacted)"
_NUMBER = re.compile(rb"[(\[]?[+-]?(?:\d{1,20}(?:\.\d{0,20})?|\.\d{1,20}|inf)", re.I)


def redacted(n: int) -> str:
    """What a value of ``n`` bytes is shown as.

    >>> redacted(1), redacted(42)
    ('‹1 byte›', '‹42 bytes›')
    """
    return f"‹{n:,} byte{'' if n == 1 else 's'}›"


def _shown(command: str, args: Sequence[bytes]) -> set[int]:
    """Indices of ``args`` that are keys, syntax or names (see the module docstring)."""
    shown = set(key_positions(command, args)[0])
    n = len(args)
    name = command
    if args and is_container(command):
        shown.add(0)
        name = f"{command} {args[0].decode('latin-1').upper()}"
    numeric = {i % n for i in NUMERIC_POSITIONS.get(command, ()) if -n <= i < n}
    names = NAME_POSITIONS.get(name, NAME_POSITIONS.get(command, ()))
    shown |= set(range(n)) if isinstance(names, str) else {i for i in names if i < n}  # str: "all"
    i = 0
    while i < n:
        arg = args[i]
        if arg == REDIS_REDACTED or (i in numeric and _NUMBER.fullmatch(arg)):
            shown.add(i)
        elif i not in shown and len(arg) <= 16 and arg.isascii():
            word = arg.decode("ascii").upper()
            if word in SYNTAX_TOKENS:
                shown.add(i)
            after = AFTER_KEYWORD.get((name, word), AFTER_KEYWORD.get((command, word)))
            if after == "name" and i + 1 < n:
                i += 1
                shown.add(i)
            elif isinstance(after, int):
                last = n - 1 if after == 0 else min(n - 1, i + after)
                while i < last and _NUMBER.fullmatch(args[i + 1]):
                    i += 1
                    shown.add(i)
        i += 1
    return shown


# Credentials never print, even with show_values: the arguments that are passwords.
CONFIG_SECRETS = frozenset({b"requirepass", b"masterauth", b"tls-key-file-pass", b"tls-client-key-file-pass"})
CREDENTIAL = "‹credential›"


def credentials(command: str, args: Sequence[bytes]) -> set[int]:
    """Indices of ``args`` that are passwords: AUTH and HELLO ... AUTH (unless Redis already
    printed ``(redacted)``), CONFIG SET requirepass/masterauth/TLS key passwords, MIGRATE ...
    AUTH/AUTH2, ACL SETUSER ``>password``/``<password``/``#hash``/``!hash``.

    >>> sorted(credentials("MIGRATE", [b"h", b"6379", b"", b"0", b"5000", b"AUTH2", b"u", b"pw", b"KEYS", b"k"]))
    [6, 7]
    >>> sorted(credentials("CONFIG", [b"SET", b"requirepass", b"s3cret", b"maxmemory", b"1gb"]))
    [2]
    """
    command, n = command.upper(), len(args)
    words = [a.upper() if len(a) <= 16 else b"" for a in args]
    found: set[int] = set()
    if command == "AUTH":
        found = set(range(n))
    elif command == "HELLO" and b"AUTH" in words:
        i = words.index(b"AUTH")
        found = {i + 1, i + 2} & set(range(n))
    elif command == "CONFIG" and n > 1 and words[0] == b"SET":
        found = {i + 1 for i in range(1, n - 1, 2) if args[i].lower() in CONFIG_SECRETS}
    elif command == "MIGRATE":
        for i, w in enumerate(words):
            if w == b"KEYS":
                break
            if w == b"AUTH":
                found |= {i + 1} & set(range(n))
            elif w == b"AUTH2":
                found |= {i + 1, i + 2} & set(range(n))
    elif command == "ACL" and n > 2 and words[0] == b"SETUSER":
        found = {i for i in range(2, n) if args[i][:1] in (b">", b"<", b"#", b"!")}
    return {i for i in found if args[i] != REDIS_REDACTED}


def _cells(command: str, args: Sequence[bytes], sizes: Sequence[int] | None, limit: int | None,
           show_values: bool) -> list[str]:
    """Each argument shown (quoted, cut to ``limit``) or hidden by its role; credentials always hidden."""
    sizes = [len(a) for a in args] if sizes is None else list(sizes)
    command = command.upper()
    secret = credentials(command, args)
    shown = set(range(len(args))) if show_values else _shown(command, args)
    cells = []
    for i, (a, n) in enumerate(zip(args, sizes)):
        if i in secret:
            cells.append(CREDENTIAL)
        elif i in shown:
            cells.append(quoted(a, n, limit) if limit is not None else escape(a).decode("ascii"))
        else:
            cells.append(redacted(n))
    return cells


def redact_args(command: str, args: Sequence[bytes], *, show_values: bool = False) -> list[str]:
    """Each argument as the report shows it: quoted as MONITOR quotes it, or ``‹N bytes›``;
    a credential is ``‹credential›`` even with ``show_values``.

    >>> redact_args("LRANGE", [b"feed", b"0", b"-1"])
    ['"feed"', '"0"', '"-1"']
    >>> redact_args("HSET", [b"user:1", b"email", b"a@b.c"])
    ['"user:1"', '‹5 bytes›', '‹5 bytes›']
    """
    return _cells(command, args, None, None, show_values)


def redact_call(call: Call, *, show_values: bool = False) -> str:
    """A call of a finding's evidence, each argument shown or hidden by its role.

    >>> redact_call(Call.of("SET", [b"user:1", b"hunter2"], note="(all)"))
    'SET "user:1" ‹7 bytes› (all)'
    """
    words = [call.command, *_cells(call.command, call.args, call.sizes, call.limit, show_values)]
    return " ".join(words) + (f" {call.note}" if call.note else "")


def redact_sample(sample: Sample, *, show_values: bool = False) -> Sample:
    """A sample whose text is its event rendered again, each argument shown or hidden by its
    role (credentials always hidden); a rejected line (no event) redacted from its text.

    >>> redact_sample(Sample(5, "", time="2026-11-25T21:25:04+00:00", db=0, source="127.0.0.1:5",
    ...                      command="SET", args=(b"k", b"v"), sizes=(1, 1))).text
    '1795641904.000000 [0 127.0.0.1:5] "SET" "k" ‹1 byte›'
    """
    if sample.command is None:
        return replace(sample, text=redact_line(sample.text, show_values=show_values))
    cells = _cells(sample.command, sample.args, sample.sizes or None, sample.arg_limit, show_values)
    head = line_head(sample.time, sample.db, sample.source or "")
    text = " ".join([head, quoted(sample.command.encode(), limit=sample.arg_limit), *cells])
    return replace(sample, text=text)


# A rejected line is input that did not parse: what of it can be shown is decided from its
# tokens. One argument as printed: quoted the way MONITOR quotes it, or cut by the end of a
# truncated line (no closing quote).
_TOKEN = re.compile(r'"(?P<body>(?:[^"\\]|\\.)*)(?:"|\Z)|(?P<word>\S+)', re.S)


def _unescape(body: str) -> bytes:
    raw = body.encode("utf-8", "surrogateescape")
    try:
        return unescape(raw) if b"\\" in raw else raw
    except (ValueError, UnicodeDecodeError):  # an escape cut in the middle
        return raw


def redact_line(text: str, *, show_values: bool = False) -> str:
    """A line of a capture (a rejected one: it is no event) with its values redacted.

    A line keeps its head, command name, and the keys and syntax of its complete arguments;
    the rest becomes its size; credentials are hidden even with ``show_values``. redis-cli's
    own lines (``OK``, ``Error: ...``) are kept.

    >>> redact_line('1700000000.000001 [0 127.0.0.1:5] "SET" "k" "v"')
    '1700000000.000001 [0 127.0.0.1:5] "SET" "k" ‹1 byte›'
    """
    raw = text.encode("utf-8", "surrogateescape")
    parsed = parse_line(raw)
    if isinstance(parsed, Rejected) and (parsed.reason in IGNORABLE or parsed.reason == CLI_MESSAGE):
        return text  # redis-cli's own words ("OK", "Error: Server closed the connection")
    match = HEAD.match(raw)
    head = match.group(0).decode("utf-8", "surrogateescape") if match else ""  # ends before a '"'
    rest = text[len(head):]
    tokens = list(_TOKEN.finditer(rest))
    if not tokens or tokens[0]["word"] is not None:
        return head + redacted(len(rest.encode("utf-8", "surrogateescape")))
    args: list[re.Match[str]] = []
    for t in tokens[1:]:
        if t["word"] is not None:
            break
        args.append(t)
    command = tokens[0]["body"]
    values = [_unescape(t["body"]) for t in args]
    cells = _cells(command, values, None, None, show_values)
    words = [tokens[0].group(0), *(t.group(0) if c.startswith('"') else c for t, c in zip(args, cells))]
    end = args[-1].end() if args else tokens[0].end()
    tail = rest[end:].strip()
    if tail:
        words.append(tail if show_values else redacted(len(tail.encode("utf-8", "surrogateescape"))))
    return head + " ".join(words)


def redact_finding(f: Finding, show_values: bool = False) -> Finding:
    """A finding as a view shows it: the arguments of its samples and calls shown or hidden by
    their role (credentials never shown); its prose is never touched.

    >>> redact_finding(f).evidence.samples[0].text  # doctest: +SKIP
    '1795641904.000000 [0 127.0.0.1:5] "SET" "k" ‹5 bytes›'
    """
    ev = f.evidence
    evidence = replace(
        ev,
        samples=tuple(redact_sample(s, show_values=show_values) for s in ev.samples),
        rows=tuple(Row.of({k: redact_call(v, show_values=show_values) if isinstance(v, Call) else v
                           for k, v in row.items()}) for row in ev.rows),
    )
    return replace(f, evidence=evidence)


def redact_findings(analysis: Analysis, *, show_values: bool = False) -> Analysis:
    """The analysis with its findings as views show them (:func:`redact_finding`).

    >>> redact_findings(analyze(events)).findings[0].evidence.samples  # doctest: +SKIP
    """
    return replace(analysis, findings=tuple(redact_finding(f, show_values) for f in analysis.findings))
