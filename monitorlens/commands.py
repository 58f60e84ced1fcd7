"""The Redis command table as data: flags, ACL categories, complexity and where the keys are.

The table (``monitorlens/data/commands.json``) is recorded from a real server's ``COMMAND INFO``
and ``COMMAND DOCS`` by ``scripts/build_command_table.py``; :data:`TABLE_VERSION` says which.
Everything here is pure and the table is loaded once.

Positions: Redis key specs count ``argv[0]`` = the command name (and, for a subcommand,
``argv[1]`` = the subcommand name). The functions here take ``args`` = everything AFTER the
command name, so a spec position ``p`` is the ``args`` index ``p - 1``::

    >>> key_positions("OBJECT", [b"ENCODING", b"k"])
    ([1], 'spec')
    >>> key_positions("MSET", [b"k1", b"v1", b"k2", b"v2"])
    ([0, 2], 'spec')
    >>> lookup("client", "setname").name
    'CLIENT SETNAME'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "CommandInfo",
    "KeySpec",
    "SimpleRange",
    "TABLE_VERSION",
    "all_commands",
    "hidden_from_monitor",
    "is_container",
    "key_positions",
    "keyless",
    "lookup",
    "simple_range",
]


@dataclass(frozen=True)
class KeySpec:
    """One key specification of a command, as ``COMMAND INFO`` gives it.

    ``begin`` is ``"index"`` (keys start at argv position ``index``), ``"keyword"`` (they start
    after ``keyword``, searched from ``startfrom``; a negative ``startfrom`` searches backwards
    from the end) or ``"unknown"``. ``find`` is ``"range"`` (``lastkey``, ``keystep``,
    ``limit``), ``"keynum"`` (``keynumidx``, ``firstkey``, ``keystep``) or ``"unknown"``.
    Positions count argv[0] = the command name. ``flags`` are upper case: RO, RW, OW, RM,
    ACCESS, UPDATE, INSERT, DELETE, NOT_KEY, INCOMPLETE, VARIABLE_FLAGS.
    """

    begin: str
    find: str
    flags: tuple[str, ...] = ()
    index: int = 0
    keyword: str = ""
    startfrom: int = 0
    lastkey: int = 0
    keystep: int = 1
    limit: int = 0
    keynumidx: int = 0
    firstkey: int = 0
    notes: str = ""


@dataclass(frozen=True)
class CommandInfo:
    """One command or subcommand (``name`` like ``"GET"`` or ``"CLIENT SETNAME"``).

    >>> info = lookup("CONFIG", "GET")
    >>> info.arity, "admin" in info.flags, "@dangerous" in info.acl_categories
    (-3, True, True)
    """

    name: str
    arity: int
    flags: frozenset[str]
    acl_categories: frozenset[str]
    key_specs: tuple[KeySpec, ...]
    complexity: str
    group: str
    since: str
    container: bool
    summary: str = ""
    tips: tuple[str, ...] = ()
    doc_flags: frozenset[str] = frozenset()
    deprecated_since: str = ""
    replaced_by: str = ""


@dataclass(frozen=True)
class SimpleRange:
    """Keys at ``args[start], args[start + step], ...`` up to ``last``, clipped to the args.

    ``start`` is a 0-based index into args (after the command name); ``last`` an index into
    args when >= 0, else relative to the end (-1 = the last arg, -2 = all but the last);
    ``step`` the key step. :meth:`indices` is the one definition both the vectorized fast
    path and :func:`key_positions` use.

    >>> SimpleRange(0, -1, 2).indices(4)     # MSET k1 v1 k2 v2
    range(0, 4, 2)
    """

    start: int
    last: int
    step: int

    def indices(self, n: int) -> range:
        """The key indices for an argument list of length ``n``."""
        hi = self.last if self.last >= 0 else n + self.last
        return range(self.start, min(hi, n - 1) + 1, self.step)


# ---------------------------------------------------------------------------- the table

_DATA = "commands.json"


def _spec(raw: dict[str, Any]) -> KeySpec:
    begin, find = raw["begin_search"], raw["find_keys"]
    fields = {k: v for k, v in {**begin, **find}.items() if k != "type"}
    return KeySpec(begin=begin["type"], find=find["type"], flags=tuple(raw.get("flags", ())),
                   notes=raw.get("notes", ""), **fields)


def _info(name: str, raw: dict[str, Any]) -> CommandInfo:
    return CommandInfo(
        name=name,
        arity=raw["arity"],
        flags=frozenset(raw["flags"]),
        acl_categories=frozenset(raw["acl_categories"]),
        key_specs=tuple(_spec(s) for s in raw["key_specs"]),
        complexity=raw["complexity"],
        group=raw["group"],
        since=raw["since"],
        container=raw["container"],
        summary=raw.get("summary", ""),
        tips=tuple(raw.get("tips", ())),
        doc_flags=frozenset(raw.get("doc_flags", ())),
        deprecated_since=raw.get("deprecated_since", ""),
        replaced_by=raw.get("replaced_by", ""),
    )


@cache
def _table() -> tuple[str, dict[str, CommandInfo]]:
    # Beside this module (importlib.resources would add 15 ms to every command's start).
    raw = json.loads((Path(__file__).parent / "data" / _DATA).read_text("utf-8"))
    version = f"{raw.get('server', 'redis')} {raw['server_version']}"
    return version, {name: _info(name, entry) for name, entry in raw["commands"].items()}


TABLE_VERSION: str = _table()[0]
"""The server the table was recorded from, e.g. ``"redis 7.0.15"``."""


def all_commands() -> dict[str, CommandInfo]:
    """Every command and subcommand in the table, by name (``"GET"``, ``"CLIENT SETNAME"``)."""
    return dict(_table()[1])


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)


def lookup(command: str | bytes, subcommand: str | bytes | None = None) -> CommandInfo | None:
    """The table entry for a command (and subcommand), case-insensitive, or None if unknown.

    An unknown (or missing) subcommand of a container gives the container's entry; a
    subcommand given for a command that has none is ignored.

    >>> lookup("object", "encoding").key_specs[0].index
    2
    >>> lookup("CLIENT", "NO-SUCH").name
    'CLIENT'
    """
    table = _table()[1]
    info = table.get(_text(command).upper())
    if info is None or not info.container or subcommand is None:
        return info
    return table.get(f"{info.name} {_text(subcommand).upper()}", info)


def is_container(command: str | bytes) -> bool:
    """Whether the command has subcommands (CLIENT, CONFIG, OBJECT...).

    >>> is_container("client"), is_container("GET")
    (True, False)
    """
    info = lookup(command)
    return info is not None and info.container


# ------------------------------------------------------------------ MONITOR visibility

# call() skips replicationFeedMonitors for CMD_SKIP_MONITOR|CMD_ADMIN (Redis 7.0 server.c).
# These skip_monitor commands feed MONITOR themselves, before running, so that the commands
# their script runs appear after them (evalCommand, evalShaCommand, fcallCommand...).
_SELF_FEEDING = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})


def hidden_from_monitor(command: str | bytes, subcommand: str | bytes | None = None) -> bool:
    """Whether MONITOR never shows this command (Redis 7.0 rule: ``admin`` or ``skip_monitor``).

    From 7.0 the rule applies per subcommand. Unknown commands give False (they are in the
    capture, so they were shown).

    >>> hidden_from_monitor("CONFIG", "GET"), hidden_from_monitor("CLIENT", "SETNAME")
    (True, False)
    """
    info = lookup(command, subcommand)
    if info is None or info.name in _SELF_FEEDING:
        return False
    return bool(info.flags & {"admin", "skip_monitor"})


# ------------------------------------------------------------------------ key positions

# string2ll (util.c): no sign but '-', no leading zeros, no spaces, fits a long long.
_STRING2LL = re.compile(rb"0|-?[1-9][0-9]{0,18}")


def _bytes(arg: bytes | str) -> bytes:
    return arg if isinstance(arg, bytes) else _text(arg).encode("latin-1", "replace")


def _int_arg(arg: bytes | str) -> int | None:
    arg = _bytes(arg)
    if _STRING2LL.fullmatch(arg) is None:
        return None
    value = int(arg)
    return value if -(2**63) <= value < 2**63 else None


def _same_word(arg: bytes | str, word: bytes) -> bool:
    return _bytes(arg).lower() == word  # strcasecmp: ASCII-only case folding, like bytes.lower()


def _begin(spec: KeySpec, argv: Sequence[bytes]) -> int | None:
    """The argv position where the spec's keys start, or None (keyword absent)."""
    if spec.begin == "index":
        return spec.index
    argc, word = len(argv), spec.keyword.lower().encode()
    # Like getKeysUsingKeySpecs: forwards from startfrom up to argc-2, or backwards from
    # argc+startfrom down to 1; the key follows the keyword.
    if spec.startfrom > 0:
        candidates = range(spec.startfrom, argc - 1)
    else:
        candidates = range(argc + spec.startfrom, 0, -1) if spec.startfrom < 0 else range(0)
    for i in candidates:
        if _same_word(argv[i], word):
            return i + 1
    return None


def _spec_range(spec: KeySpec, first: int, argc: int) -> SimpleRange:
    """A range spec as a SimpleRange over args (argv position - 1) for this begin position."""
    start = first - 1
    if spec.lastkey >= 0:
        return SimpleRange(start, start + spec.lastkey, spec.keystep)
    if spec.limit > 1:  # e.g. XREAD STREAMS k1 k2 id1 id2: the first 1/limit of the rest
        return SimpleRange(start, start + (argc - first) // spec.limit + spec.lastkey, spec.keystep)
    return SimpleRange(start, spec.lastkey, spec.keystep)


def _spec_keys(spec: KeySpec, argv: Sequence[bytes]) -> range:
    """The args indices one spec finds; an empty range when it finds none."""
    argc = len(argv)
    first = _begin(spec, argv)
    if first is None or spec.find not in ("range", "keynum"):
        return range(0)
    if spec.find == "range":
        return _spec_range(spec, first, argc).indices(argc - 1)
    if first + spec.keynumidx >= argc:
        return range(0)
    numkeys = _int_arg(argv[first + spec.keynumidx])
    if numkeys is None or numkeys < 0:
        return range(0)
    start = first + spec.firstkey
    last = start + numkeys - 1
    if last >= argc or last < start:  # a count beyond the arguments: all or nothing, like Redis
        return range(0)
    return range(start - 1, last, spec.keystep)


def _sort_keys(argv: Sequence[bytes]) -> list[int]:
    """sortGetKeys (Redis sort.c): the sorted key, and the last STORE destination."""
    keys, store, i = [1], None, 2
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    while i < len(argv):
        word = _bytes(argv[i]).lower()
        if word in skip:
            i += skip[word]
        elif word == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    return [p - 1 for p in keys + ([store] if store is not None else []) if p < len(argv)]


def _migrate_keys(argv: Sequence[bytes]) -> list[int]:
    """migrateGetKeys (Redis cluster.c): argv[3], or everything after KEYS when argv[3] is ""."""
    first, count = 3, 1
    skip = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    i = 6
    while i < len(argv):
        word = _bytes(argv[i]).lower()
        if word == b"keys":
            if argv[3]:
                return []  # MIGRATE refuses KEYS with a non-empty key argument
            first, count = i + 1, len(argv) - i - 1
            break
        i += skip.get(word, 0) + 1
    return [p - 1 for p in range(first, first + count) if p < len(argv)]


# Where a key spec is 'unknown' or INCOMPLETE, Redis (getKeysFromCommandWithSpecs) falls back
# to the command's own getkeys procedure; these are those procedures, reimplemented. SORT's
# STORE may appear anywhere; MIGRATE's argv[3] is an empty placeholder when KEYS is used.
# (SORT_RO's 'unknown' spec is only BY/GET patterns: its procedure gives just the key.)
_PROCS: dict[str, Callable[[Sequence[bytes]], list[int]]] = {
    "SORT": _sort_keys,
    "MIGRATE": _migrate_keys,
}


@cache
def _key_specs(name: str) -> tuple[KeySpec, ...]:
    """The specs of a table entry that name keys (NOT_KEY specs name shard channels)."""
    return tuple(s for s in _table()[1][name].key_specs if "NOT_KEY" not in s.flags)


def key_positions(command: str | bytes, args: Sequence[bytes]) -> tuple[list[int], str]:
    """The 0-based indices into ``args`` (after the command name) of every key, and the rule.

    Rules: ``"spec"`` found with the key specs; ``"proc"`` found with Redis' own getkeys
    procedure where the specs cannot describe the keys (SORT ... STORE, MIGRATE ... KEYS);
    ``"none"`` the command (or a container without a known subcommand) takes no keys;
    ``"first-arg"`` an unknown command, whose first argument (if any) is taken as the key.

    Differences from ``COMMAND GETKEYS`` are deliberate and only on input the server would
    reject: a spec whose count or range does not fit gives no keys for that spec only, and a
    range that runs past the end is clipped (never raises on any ``args``).

    >>> key_positions("EVAL", [b"return 1", b"2", b"a", b"b", b"x"])
    ([2, 3], 'spec')
    >>> key_positions("PING", [])
    ([], 'none')
    >>> key_positions("MYMODULE.GET", [b"k", b"x"])
    ([0], 'first-arg')
    """
    info = lookup(command, args[0] if args else None)
    # argv[0] (the command name) is never inspected; positions just count it.
    argv = [b"", *args]
    if info is None:
        return ([0] if args else []), "first-arg"
    proc = _PROCS.get(info.name)
    if proc is not None:
        return proc(argv), "proc"
    specs = _key_specs(info.name)
    if not specs:
        return [], "none"
    return [i for spec in specs for i in _spec_keys(spec, argv)], "spec"


def keyless(command: str | bytes, subcommand: str | bytes | None = None) -> bool:
    """Whether :func:`key_positions` gives rule ``"none"`` (no keys, whatever the args).

    >>> keyless("PING"), keyless("GET"), keyless("CLIENT", "SETNAME"), keyless("NOSUCH")
    (True, False, True, False)
    """
    info = lookup(command, subcommand)
    if info is None:
        return False
    return info.name not in _PROCS and not _key_specs(info.name)


def _merge(a: SimpleRange, b: SimpleRange) -> SimpleRange | None:
    """One range equal to ``a`` then ``b`` for every argument count, or None.

    Sound because ``a`` is fixed (absolute last) and clipped: while ``b`` is empty the merged
    range is exactly ``a``; ``b`` must continue ``a``'s stride and end absolute or at -1.
    """
    if a.last < 0 or not (b.last >= 0 or b.last == -1):
        return None
    b_single = b.last == b.start
    step = b.step if a.last == a.start and not b_single else a.step
    if b.start != a.last + step or (not b_single and b.step != step):
        return None
    return SimpleRange(a.start, b.last, step)


@cache
def _simple_range(name: str) -> SimpleRange | None:
    info = _table()[1][name]
    if info.name in _PROCS or info.container:  # a container here: no known subcommand
        return None
    ranges = []
    for spec in _key_specs(info.name):
        if spec.begin != "index" or spec.find != "range" or (spec.lastkey < 0 and spec.limit > 1):
            return None
        ranges.append(_spec_range(spec, spec.index, 0))
    if not ranges:
        return None
    merged: SimpleRange | None = ranges[0]
    for nxt in ranges[1:]:
        merged = _merge(merged, nxt) if merged is not None else None
    return merged


def simple_range(command: str | bytes, subcommand: str | bytes | None = None) -> SimpleRange | None:
    """The keys as ONE range over args, when that describes them fully; else None.

    It agrees with :func:`key_positions` on every argument list: ``key_positions(c, args)[0]
    == list(simple_range(c, sub).indices(len(args)))`` where ``sub`` is ``args[0]`` for a
    container. None for keyword/keynum specs, SORT, MIGRATE, keyless commands, and a container
    without a known subcommand. An unknown command gives the first-arg rule ``(0, 0, 1)``.

    >>> simple_range("SMOVE"), simple_range("OBJECT", "encoding"), simple_range("EVAL")
    (SimpleRange(start=0, last=1, step=1), SimpleRange(start=1, last=1, step=1), None)
    """
    info = lookup(command, subcommand)
    if info is None:
        return SimpleRange(0, 0, 1)
    return _simple_range(info.name)
