"""The command table and key extraction, checked against a live redis-server's own answers."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitorlens.commands import (
    TABLE_VERSION,
    CommandInfo,
    SimpleRange,
    all_commands,
    hidden_from_monitor,
    is_container,
    key_positions,
    keyless,
    lookup,
    simple_range,
)
from monitorlens.testing import RedisServer, redis_server_path

# The commands the server of the table answered for (module commands come from elsewhere:
# scripts/build_command_table.py), and the module commands.
TABLE = {name: info for name, info in all_commands().items() if info.group != "module"}
MODULES = {name: info for name, info in all_commands().items() if info.group == "module"}
NAMES = sorted(TABLE)
LEAVES = [name for name in NAMES if not TABLE[name].container]
needs_server = pytest.mark.skipif(redis_server_path() is None, reason="redis-server not installed")


def split(argv: str) -> tuple[str, list[bytes]]:
    """'GET k' -> ('GET', [b'k']); '""' is an empty argument."""
    words = [b"" if w == '""' else w.encode() for w in argv.split()]
    return words[0].decode(), words[1:]


def named(argv: str) -> list[str]:
    """The keys key_positions finds in a literal argv, by value (easier to read than indices)."""
    command, args = split(argv)
    return [args[i].decode() for i in key_positions(command, args)[0]]


# ------------------------------------------------------------------------------- table


def test_table_is_the_recorded_server() -> None:
    raw = json.loads((Path(__file__).parent.parent / "monitorlens/data/commands.json").read_text())
    assert TABLE_VERSION == f"redis {raw['server_version']}"
    assert len(TABLE) + len(MODULES) == len(raw["commands"]) > 300
    assert list(raw["commands"]) == sorted(raw["commands"])  # deterministic order
    assert "redis/docs" in raw["modules_from"]


@pytest.mark.parametrize("argv, keys, rule", [
    # Redis 8 data types, with the key specs their servers report (COMMAND DOCS).
    ("JSON.SET doc:1 $ {}", ["doc:1"], "spec"),
    ("JSON.GET doc:1 $.a", ["doc:1"], "spec"),
    ("JSON.MSET a $ 1 b $ 2", ["a", "b"], "spec"),
    ("TS.ADD temp:1 * 20", ["temp:1"], "spec"),
    ("TS.MADD a 1 2 b 1 2", ["a", "b"], "spec"),
    ("TS.CREATERULE src dst AGGREGATION avg 60000", ["src", "dst"], "spec"),
    ("TS.MRANGE - + FILTER area=1", [], "none"),
    ("FT.SEARCH idx hello", [], "none"),  # an index name is no key
    ("FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA t TEXT", [], "none"),
    ("BF.ADD seen:urls u1", ["seen:urls"], "spec"),
    ("CF.ADD cf x", ["cf"], "spec"),
    ("CMS.INCRBY cms a 1", ["cms"], "spec"),
    ("TOPK.ADD top a b", ["top"], "spec"),
    ("TDIGEST.ADD td 1.5", ["td"], "spec"),
    # RedisGears: RG.* registered without keys; TFCALL finds them like FCALL.
    ("RG.TRIGGER RateLimiter rl_localhost:47 20 59", [], "none"),
    ("TFCALL lib.fn 2 k1 k2 arg", ["k1", "k2"], "spec"),
    # A command nobody here knows: the first argument, marked as a guess.
    ("MYMOD.DO thing 1", ["thing"], "first-arg"),
])
def test_module_commands_take_their_keys_from_their_specs(argv: str, keys: list[str], rule: str) -> None:
    command, args = split(argv)
    positions, got_rule = key_positions(command, args)
    assert ([args[i].decode() for i in positions], got_rule) == (keys, rule)
    assert (rule == "first-arg") == (lookup(command) is None)


def test_module_commands_are_kept_apart_from_the_servers() -> None:
    assert {"JSON.SET", "FT.SEARCH", "TS.ADD", "BF.ADD", "RG.TRIGGER", "TFCALL"} <= set(MODULES)
    assert all("." in name.split()[0] or name.startswith("TFCALL") for name in MODULES)
    assert not set(MODULES) & set(TABLE)


def test_lookup_commands_and_subcommands() -> None:
    get = lookup("get")
    assert isinstance(get, CommandInfo) and get.name == "GET"
    assert get.arity == 2 and {"readonly", "fast"} <= get.flags and "@read" in get.acl_categories
    assert get.group == "string" and get.since == "1.0.0" and get.complexity == "O(1)"
    assert get.key_specs[0].begin == "index" and get.key_specs[0].index == 1
    assert {"RO", "ACCESS"} <= set(get.key_specs[0].flags)
    assert lookup("Client", "SetName").name == "CLIENT SETNAME"
    assert lookup(b"OBJECT", b"encoding").name == "OBJECT ENCODING"
    assert lookup("CLIENT", "NO-SUCH-SUB").name == "CLIENT"  # falls back to the container
    assert lookup("GET", "ignored").name == "GET"
    assert lookup("NO-SUCH-COMMAND") is None
    assert "@dangerous" in lookup("FLUSHALL").acl_categories
    assert "@slow" in lookup("KEYS").acl_categories and "O(N)" in lookup("KEYS").complexity
    assert "blocking" in lookup("BLPOP").flags and "pubsub" in lookup("PUBLISH").flags
    assert is_container("client") and is_container("CONFIG") and not is_container("GET")
    assert not is_container("NO-SUCH-COMMAND")
    for name in ("CLIENT", "CONFIG", "OBJECT", "XINFO"):
        assert TABLE[name].container and any(n.startswith(name + " ") for n in TABLE)


def test_range_specs_fit_the_arity() -> None:
    # Why clipping a range past the end is safe: no fixed range spec reaches beyond the
    # arguments the arity guarantees, so clipping only matters for input the server rejects.
    for info in TABLE.values():
        for spec in info.key_specs:
            if spec.begin == "index" and spec.find == "range" and spec.lastkey >= 0:
                assert spec.index + spec.lastkey < abs(info.arity), info.name


def test_incomplete_specs_use_the_redis_procedure() -> None:
    # Redis falls back to a command's getkeys procedure when a spec is 'unknown' or INCOMPLETE;
    # key_positions must do the same (SORT_RO's unknown spec only covers BY/GET patterns).
    for info in TABLE.values():
        if any(s.begin == "unknown" or "INCOMPLETE" in s.flags for s in info.key_specs):
            command, args, _ = _args_for(info.name, [b"k", b"STORE", b"d"])
            assert key_positions(command, args)[1] == "proc" or info.name == "SORT_RO", info.name


def test_docstring_examples() -> None:
    import doctest

    import monitorlens.commands

    failed, tried = doctest.testmod(monitorlens.commands)
    assert failed == 0 and tried > 10


# ---------------------------------------------------------------------- key positions

CASES = [
    ("GET k", ["k"], "spec"),
    ("get k", ["k"], "spec"),
    ("MSET k1 v1 k2 v2", ["k1", "k2"], "spec"),
    ("MSET k1 v1 k2", ["k1", "k2"], "spec"),  # odd count: Redis steps through the range anyway
    ('EVAL s 2 a b x', ["a", "b"], "spec"),
    ("EVAL s 0", [], "spec"),
    ("EVAL s 3 a b", [], "spec"),  # count beyond the args: EVAL refuses, no key touched
    ("EVAL s x a", [], "spec"),  # malformed count: no keys, no exception
    ("EVALSHA 0123abcd 1 a x", ["a"], "spec"),
    ("FCALL f 1 k a", ["k"], "spec"),
    ("BLPOP a b 0", ["a", "b"], "spec"),
    ("BLMPOP 0 2 a b LEFT", ["a", "b"], "spec"),
    ("XREAD COUNT 2 STREAMS s1 s2 0 0", ["s1", "s2"], "spec"),
    ("xread streams s1 s2 s3 0 0 0", ["s1", "s2", "s3"], "spec"),
    ("XREADGROUP GROUP g c STREAMS s 0", ["s"], "spec"),
    ("ZUNIONSTORE dest 2 a b WEIGHTS 1 2", ["dest", "a", "b"], "spec"),
    ("SORT k STORE dst", ["k", "dst"], "proc"),
    ("SORT k BY STORE GET x STORE d LIMIT 0 1", ["k", "d"], "proc"),  # BY's pattern is "STORE"
    ("SORT_RO k BY w_* GET h_*", ["k"], "spec"),
    ("OBJECT ENCODING k", ["k"], "spec"),
    ("object encoding k", ["k"], "spec"),
    ("MEMORY USAGE k SAMPLES 5", ["k"], "spec"),
    ('MIGRATE h 6379 "" 0 1000 COPY AUTH pw KEYS a b', ["a", "b"], "proc"),
    ("MIGRATE h 6379 k 0 1000 REPLACE", ["k"], "proc"),
    ("GEORADIUS g 1 2 3 m WITHDIST STORE x", ["g", "x"], "spec"),
    ("GEORADIUS g 1 2 3 m STOREDIST x", ["g", "x"], "spec"),
    ("SMOVE a b m", ["a", "b"], "spec"),
    ("RENAME a b", ["a", "b"], "spec"),
    ("LMOVE a b LEFT RIGHT", ["a", "b"], "spec"),
    ("BITOP AND d a b c", ["d", "a", "b", "c"], "spec"),
    ("LCS a b", ["a", "b"], "spec"),
    ("CLIENT SETNAME x", [], "none"),
    ("CLIENT", [], "none"),
    ("SPUBLISH ch m", [], "none"),  # a NOT_KEY spec: a shard channel, not a key
    ("PING", [], "none"),
    ("MYMODULE.GET k x", ["k"], "first-arg"),
    ("MYMODULE.PING", [], "first-arg"),
]


@pytest.mark.parametrize("argv, keys, rule", CASES)
def test_key_positions_table(argv: str, keys: list[str], rule: str) -> None:
    command, args = split(argv)
    assert named(argv) == keys
    assert key_positions(command, args)[1] == rule


def test_key_positions_are_indices_into_args_after_the_command() -> None:
    assert key_positions("OBJECT", [b"ENCODING", b"k"]) == ([1], "spec")
    assert key_positions("ZUNIONSTORE", [b"d", b"2", b"a", b"b"]) == ([0, 2, 3], "spec")
    assert key_positions("GET", []) == ([], "spec")


def test_simple_range_examples() -> None:
    assert simple_range("GET") == SimpleRange(0, 0, 1)
    assert simple_range("MSET") == SimpleRange(0, -1, 2)
    assert simple_range("BLPOP") == SimpleRange(0, -2, 1)
    for name in ("SMOVE", "RENAME", "LMOVE"):  # consecutive single-key specs merged
        assert simple_range(name) == SimpleRange(0, 1, 1), name
    assert simple_range("BITOP") == SimpleRange(1, -1, 1)  # destination, then the sources
    assert simple_range("object", "ENCODING") == SimpleRange(1, 1, 1)
    assert simple_range("NO-SUCH-COMMAND") == SimpleRange(0, 0, 1)  # the first-arg rule
    for name in ("EVAL", "XREAD", "ZUNIONSTORE", "GEORADIUS", "SORT", "MIGRATE", "PING", "CLIENT"):
        assert simple_range(name) is None, name
    assert simple_range("CLIENT", "SETNAME") is None and keyless("CLIENT", "SETNAME")
    assert keyless("PING") and not keyless("GET") and not keyless("SORT")


ARG = st.one_of(
    st.binary(max_size=6),
    st.sampled_from([b"0", b"1", b"2", b"3", b"-1", b"01", b"99999999999999999999", b"STREAMS",
                     b"streams", b"KEYS", b"STORE", b"STOREDIST", b"LIMIT", b"BY", b"GET", b"AUTH2"]),
)


def _args_for(name: str, args: list[bytes]) -> tuple[str, list[bytes], bytes | None]:
    """A table name as (command, args, subcommand): 'CLIENT SETNAME' puts SETNAME in args."""
    command, _, sub = name.partition(" ")
    if sub:
        return command, [sub.lower().encode(), *args], sub.encode()
    return command, args, None


@settings(max_examples=1000, deadline=None)
@given(name=st.sampled_from(NAMES + ["NO-SUCH-COMMAND"]), args=st.lists(ARG, max_size=12))
def test_fuzz_never_raises_and_agrees_with_simple_range(name: str, args: list[bytes]) -> None:
    command, args, sub = _args_for(name, args)
    positions, rule = key_positions(command, args)
    assert rule in {"spec", "proc", "none", "first-arg"}
    assert all(0 <= i < len(args) for i in positions)
    if rule == "none":
        assert positions == [] and keyless(command, sub)
    fast = simple_range(command, sub)
    if fast is not None:
        assert positions == list(fast.indices(len(args))), (name, args, fast)


def test_simple_range_agrees_for_every_command_on_every_length() -> None:
    rng = random.Random(11)
    checked = 0
    for name in NAMES:
        command, _, sub = name.partition(" ")
        fast = simple_range(command, sub or None)
        if fast is None:
            continue
        for n in range(12):
            _, args, _ = _args_for(name, [rng.choice([b"k", b"1", b"STORE"]) for _ in range(n)])
            assert key_positions(command, args)[0] == list(fast.indices(len(args))), name
            checked += 1
    assert checked > 150 * 12  # most of the table is expressible as one range


# ------------------------------------------------------------ against a live server

VOCAB = [b"k1", b"k2", b"k3", b"k4", b"0", b"1", b"2", b"3", b"x", b"STREAMS", b"KEYS", b"STORE",
         b"STOREDIST", b"GET", b"BY", b"LIMIT", b"AUTH", b"COPY", b"WEIGHTS"]


def generated_argv(rng: random.Random, info: CommandInfo) -> list[bytes]:
    """An argv of a length the arity allows, keynum counts made to fit, keywords placed."""
    words = [w.encode() for w in info.name.split(" ")]
    size = info.arity if info.arity > 0 else -info.arity + rng.randrange(0, 7)
    argv = words + [rng.choice(VOCAB) for _ in range(size - len(words))]
    for spec in info.key_specs:
        where = spec.index + spec.keynumidx
        if spec.begin == "index" and spec.find == "keynum" and where < len(argv):
            room = len(argv) - spec.index - spec.firstkey
            argv[where] = str(rng.randrange(0, max(room, 0) + 2)).encode()  # sometimes too big
        if spec.begin == "keyword" and rng.random() < 0.8:
            lo = spec.startfrom if spec.startfrom > 0 else len(argv) + spec.startfrom - 2
            if len(words) <= lo < len(argv) - 1:
                argv[rng.randrange(lo, len(argv) - 1)] = spec.keyword.encode()
    return argv


def getkeys(client, argv: list[bytes]) -> list[bytes] | str:
    """COMMAND GETKEYS, or the error text."""
    import redis

    try:
        return [bytes(k) for k in client.execute_command("COMMAND", "GETKEYS", *argv)]
    except redis.ResponseError as exc:
        return str(exc)


# Commands with several key specs where COMMAND GETKEYS answers "Invalid arguments" as soon as
# ONE spec does not fit (say, a keynum count beyond the arguments), while key_positions keeps
# the keys of the specs that do fit. PFMERGE dest (no source) is even a valid, running command.
PARTIAL_KEYS = {"PFMERGE", "ZDIFFSTORE", "ZINTERSTORE", "ZUNIONSTORE"}


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    if redis_server_path() is None:
        pytest.skip("redis-server not installed")
    with RedisServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def raw_client(server: RedisServer):
    client = server.client(protocol=2, socket_timeout=5)
    client.set_response_callback("COMMAND", lambda reply, **_: reply)
    yield client
    client.close()


def test_table_matches_the_live_server(server: RedisServer, raw_client) -> None:
    assert TABLE_VERSION == f"redis {server.version}"
    assert raw_client.execute_command("COMMAND", "COUNT") == sum(" " not in n for n in TABLE)


@pytest.mark.parametrize("argv, keys, rule", [c for c in CASES if not c[0].startswith("MYMODULE")])
def test_table_cases_match_command_getkeys(raw_client, argv: str, keys: list[str], rule: str) -> None:
    command, args = split(argv)
    answer = getkeys(raw_client, [command.encode(), *args])
    if isinstance(answer, list):
        assert [k.decode() for k in answer] == keys
    elif "no key arguments" in answer or "wrong number of arguments" in answer:
        assert keys == [] and rule == "none"
    else:  # "Invalid arguments": the command itself refuses these arguments
        assert "Invalid arguments" in answer and keys == []


def test_command_getkeys_quirks(raw_client) -> None:
    # A count with a leading zero: EVAL itself refuses it (string2ll), so no key is touched and
    # key_positions gives none; GETKEYS falls back to evalGetKeys, which reads it with atoi.
    assert getkeys(raw_client, [b"EVAL", b"s", b"01", b"a"]) == [b"a"]
    assert named("EVAL s 01 a") == []
    # PFMERGE with no source key runs fine, but GETKEYS rejects its unfilled source spec.
    assert "Invalid arguments" in getkeys(raw_client, [b"PFMERGE", b"d"])
    assert named("PFMERGE d") == ["d"]


def test_generated_argv_match_command_getkeys(raw_client) -> None:
    rng = random.Random(2024)
    deadline, compared, with_keys = time.monotonic() + 20, 0, 0
    for name in LEAVES:
        info = TABLE[name]
        for _ in range(2 if info.key_specs else 1):
            assert time.monotonic() < deadline, "GETKEYS loop took too long"
            argv = generated_argv(rng, info)
            if len(argv) < 2:
                continue
            answer = getkeys(raw_client, argv)
            positions, rule = key_positions(argv[0].decode(), argv[1:])
            mine = [argv[1 + i] for i in positions]
            compared += 1
            if isinstance(answer, list):
                assert mine == answer, (argv, answer, mine, rule)
                with_keys += bool(answer)
            elif "no key arguments" in answer:
                assert mine == [] and rule == "none", (argv, mine)
            else:
                assert "Invalid arguments" in answer, (argv, answer)
                assert mine == [] or info.name in PARTIAL_KEYS, (argv, mine)
    assert compared > 300 and with_keys > 200, (compared, with_keys)


# ------------------------------------------------------------------ MONITOR visibility


def test_hidden_from_monitor_rule() -> None:
    assert hidden_from_monitor("CONFIG", "GET") and hidden_from_monitor("config", "set")
    assert hidden_from_monitor("CLIENT", "LIST") and hidden_from_monitor("SHUTDOWN")
    assert not hidden_from_monitor("CLIENT", "SETNAME") and not hidden_from_monitor("GET")
    assert not hidden_from_monitor("EVAL") and not hidden_from_monitor("FCALL")  # fed by hand
    assert not hidden_from_monitor("NO-SUCH-COMMAND") and not hidden_from_monitor("CLIENT")


MONITOR_PROBES = [
    ["CONFIG", "GET", "maxmemory"], ["CONFIG", "RESETSTAT"], ["CLIENT", "LIST"],
    ["CLIENT", "SETNAME", "probe"], ["CLIENT", "GETNAME"], ["CLIENT", "ID"], ["SLOWLOG", "LEN"],
    ["SLOWLOG", "GET", "1"], ["LATENCY", "LATEST"], ["ACL", "WHOAMI"], ["ACL", "LIST"],
    ["ACL", "CAT"], ["MODULE", "LIST"], ["MEMORY", "USAGE", "k"], ["OBJECT", "ENCODING", "k"],
    ["INFO", "server"], ["DBSIZE"], ["GET", "k"], ["PING"], ["COMMAND", "COUNT"],
    ["EVAL", "return 1", "0"], ["ECHO", "x"],
]


def monitor_lines(server: RedisServer, commands: list[list[str]]) -> list[str]:
    """The MONITOR lines seen while ``commands`` run, read until a sentinel (bounded)."""
    sentinel = "monitorlens-sentinel"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as mon:
        mon.sendall(b"MONITOR\r\n")
        buf = b""
        while b"+OK\r\n" not in buf:
            buf += mon.recv(4096) or b"x"
        client = server.client(socket_timeout=5)
        client.set_response_callback("COMMAND", lambda reply, **_: reply)
        client.set("k", "v")
        for argv in commands:
            client.execute_command(*argv)
        client.execute_command("ECHO", sentinel)
        client.close()
        deadline = time.monotonic() + 5
        while sentinel.encode() not in buf and time.monotonic() < deadline:
            buf += mon.recv(65536)
    return buf.decode("utf-8", "replace").splitlines()


@needs_server
def test_hidden_from_monitor_against_a_live_monitor(server: RedisServer) -> None:
    lines = monitor_lines(server, MONITOR_PROBES)
    shown = {" ".join(p[:2]).upper() for p in MONITOR_PROBES
             if any(" ".join(f'"{a}"' for a in p) in line for line in lines)}
    for probe in MONITOR_PROBES:
        sub = probe[1] if is_container(probe[0]) else None
        seen = " ".join(probe[:2]).upper() in shown
        assert seen != hidden_from_monitor(probe[0], sub), (probe, seen)
    assert "CLIENT SETNAME" in shown and "CONFIG GET" not in shown and "CLIENT LIST" not in shown
