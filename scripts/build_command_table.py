#!/usr/bin/env python3
"""Build monitorlens/data/commands.json from a real redis-server's COMMAND INFO and COMMAND DOCS.

    python scripts/build_command_table.py --module-docs commands_core.json [--out monitorlens/data/commands.json]

Starts a throwaway server (monitorlens.testing.RedisServer), asks it over RESP2 (flat arrays,
parsed here, not by redis-py's reply callbacks) for every command and subcommand, and writes
one JSON object: ``{"server_version": ..., "commands": {"GET": {...}, "CLIENT SETNAME": {...}}}``.
The output is deterministic: keys sorted, one command per line, so a rebuild against the same
server version gives the same bytes and a different version gives a readable diff.

Module commands. The server here (Debian's redis-server 7.0.15) loads no module that has
them, and Debian packages none of Redis 8's data types (``apt-cache search redis``: only
RediSearch 1.2.2, whose FT.* predate key specs). Their key specs are what a Redis 8 server
answers to COMMAND DOCS for its built-in data types (JSON.*, FT.*, TS.*, BF.*, CF.*, CMS.*,
TOPK.*, TDIGEST.*), as the Redis documentation publishes them: ``--module-docs`` takes that
file, ``data/commands_core.json`` of the public repository redis/docs (used: the version of
commit 97401143b, "docs for Redis 8.10"). Only the facts that find keys are taken from it
(arity, flags, ACL categories, key specs, group, since, complexity), no prose. Commands of
modules outside Redis 8 (RedisGears: RG.*, TFCALL) are :data:`HAND_ENTRIES`, written from
their sources (cited there). A command in neither is unknown: monitorlens guesses its first
argument as its key and marks the guess (key_rule ``first-arg``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitorlens.testing import RedisServer  # noqa: E402

DEFAULT_OUT = ROOT / "monitorlens" / "data" / "commands.json"


def text(value: Any) -> str:
    """A RESP bulk string (bytes) or simple value as str."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def flat_map(reply: Any) -> dict[str, Any]:
    """A RESP2 map (flat ``[k1, v1, k2, v2, ...]`` array) as a dict with str keys."""
    if isinstance(reply, dict):  # a RESP3 reply, should the client ever negotiate it
        return {text(k): v for k, v in reply.items()}
    items = list(reply)
    return {text(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def command_name(raw: Any) -> str:
    """``b'client|setname'`` -> ``'CLIENT SETNAME'``."""
    return " ".join(text(raw).upper().split("|"))


def normalize_key_spec(raw: Any) -> dict[str, Any]:
    """One key specification as ``{"begin_search": ..., "find_keys": ..., "flags": [...]}``."""
    spec = flat_map(raw)
    begin = flat_map(spec["begin_search"])
    find = flat_map(spec["find_keys"])
    begin_type, begin_args = text(begin["type"]), flat_map(begin.get("spec") or [])
    find_type, find_args = text(find["type"]), flat_map(find.get("spec") or [])
    begin_out: dict[str, Any] = {"type": begin_type}
    if begin_type == "index":
        begin_out["index"] = int(begin_args["index"])
    elif begin_type == "keyword":
        begin_out["keyword"] = text(begin_args["keyword"])
        begin_out["startfrom"] = int(begin_args["startfrom"])
    find_out: dict[str, Any] = {"type": find_type}
    if find_type == "range":
        for field in ("lastkey", "keystep", "limit"):
            find_out[field] = int(find_args[field])
    elif find_type == "keynum":
        for field in ("keynumidx", "firstkey", "keystep"):
            find_out[field] = int(find_args[field])
    out = {
        "begin_search": begin_out,
        "find_keys": find_out,
        "flags": [text(f).upper() for f in spec.get("flags", [])],
    }
    if "notes" in spec:
        out["notes"] = text(spec["notes"])
    return out


def info_entries(reply: Any, entries: dict[str, dict[str, Any]]) -> None:
    """Add one entry per command (and, recursively, subcommand) of a COMMAND INFO reply."""
    for item in reply:
        if not item:  # COMMAND INFO answers nil for an unknown name
            continue
        name, arity, flags, _first, _last, _step, acl, tips, specs, subs = item[:10]
        entries[command_name(name)] = {
            "arity": int(arity),
            "flags": sorted(text(f) for f in flags),
            "acl_categories": sorted(text(c) for c in acl),
            "tips": sorted(text(t) for t in tips),
            "key_specs": [normalize_key_spec(s) for s in specs],
            "container": bool(subs),
        }
        info_entries(subs, entries)


def docs_entries(reply: Any, entries: dict[str, dict[str, Any]]) -> None:
    """Merge COMMAND DOCS (group, since, complexity, summary, doc_flags...) into ``entries``."""
    for raw_name, raw_doc in flat_map(reply).items():
        doc = flat_map(raw_doc)
        entry = entries.get(command_name(raw_name))
        if entry is None:
            continue
        entry["group"] = text(doc.get("group", ""))
        entry["since"] = text(doc.get("since", ""))
        entry["complexity"] = text(doc.get("complexity", ""))
        entry["summary"] = text(doc.get("summary", ""))
        entry["doc_flags"] = sorted(text(f) for f in doc.get("doc_flags", []))
        if "deprecated_since" in doc:
            entry["deprecated_since"] = text(doc["deprecated_since"])
        if "replaced_by" in doc:
            entry["replaced_by"] = text(doc["replaced_by"])
        if "subcommands" in doc:
            docs_entries(doc["subcommands"], entries)


def fetch_table(server: RedisServer) -> dict[str, Any]:
    """The whole table from a running server."""
    client = server.client(protocol=2)
    # Strategy: disable redis-py's COMMAND reply parsing so we see the raw RESP2 arrays.
    client.set_response_callback("COMMAND", lambda reply, **_: reply)
    try:
        hello = flat_map(client.execute_command("HELLO"))
        entries: dict[str, dict[str, Any]] = {}
        info_entries(client.execute_command("COMMAND", "INFO"), entries)
        docs_entries(client.execute_command("COMMAND", "DOCS"), entries)
    finally:
        client.close()
    for name, entry in entries.items():
        for field in ("group", "since", "complexity", "summary"):
            entry.setdefault(field, "")
        entry.setdefault("doc_flags", [])
        if not entry["group"]:
            raise RuntimeError(f"COMMAND DOCS has no entry for {name}")
    return {"server": text(hello.get("server", "redis")), "server_version": text(hello["version"]),
            "commands": entries}


# Modules outside Redis 8, by hand from their sources (see the module docstring).
_NO_KEYS: dict[str, Any] = {"arity": -1, "flags": ["module"], "acl_categories": [], "tips": [], "key_specs": [],
                            "container": False, "group": "module", "complexity": "", "summary": "", "doc_flags": []}
HAND_ENTRIES: dict[str, dict[str, Any]] = {
    # RedisGears 1.x registers every command with RedisModule_CreateCommand(ctx, "rg.<name>",
    # handler, "readonly", 0, 0, 0): no key (src/module_init.c, src/readers/command_reader.c).
    **{f"RG.{name}": _NO_KEYS | {"since": "1.0.0"} for name in (
        "ABORTEXECUTION", "CONFIGGET", "CONFIGSET", "DROPEXECUTION", "DUMPEXECUTIONS",
        "DUMPREGISTRATIONS", "GETEXECUTION", "GETRESULTS", "GETRESULTSBLOCKING", "INFOCLUSTER",
        "JDUMPSESSIONS", "JEXECUTE", "PYDUMPREQS", "PYEXECUTE", "PYSTATS", "REFRESHCLUSTER",
        "TRIGGER", "UNREGISTER")},
    # RedisGears 2 (Triggers and Functions, Redis Stack 7.2): TFCALL <library>.<function>
    # <numkeys> [key ...] [arg ...], keys found as FCALL's are (numkeys at argv[2]).
    **{name: _NO_KEYS | {"since": "2.0.0", "arity": -3, "key_specs": [{
        "begin_search": {"type": "index", "index": 2},
        "find_keys": {"type": "keynum", "keynumidx": 0, "firstkey": 1, "keystep": 1},
        "flags": ["RW", "ACCESS", "UPDATE"]}]} for name in ("TFCALL", "TFCALLASYNC")},
}


def module_entries(docs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Entries for the module commands (a dot in the name) of a COMMAND DOCS JSON file."""
    names = sorted(n for n in docs if "." in n.split(" ")[0] and not n.startswith("_"))
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        doc = docs[name]
        specs = []
        for raw in doc.get("key_specs", []):
            flags = [k.upper() for k, v in raw.items() if v is True]
            spec = {"begin_search": raw["begin_search"], "find_keys": raw["find_keys"], "flags": flags}
            specs.append(normalize_key_spec(spec))
        out[name] = {
            "arity": int(doc.get("arity", -1)),
            "flags": sorted(doc.get("command_flags", [])),
            "acl_categories": sorted(doc.get("acl_categories", [])),
            "tips": sorted(doc.get("hints", [])),
            "key_specs": specs,
            "container": any(other.startswith(name + " ") for other in names),
            "group": doc.get("group", "module"),
            "since": doc.get("since", ""),
            "complexity": doc.get("complexity", ""),
            "summary": "",
            "doc_flags": [],
        }
    return out


def render(table: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, one command per line."""
    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    head = {k: v for k, v in table.items() if k != "commands"}
    lines = [f"  {dump(k)}: {dump(v)}," for k, v in sorted(head.items())]
    commands = table["commands"]
    body = ",\n".join(f"    {dump(name)}: {dump(commands[name])}" for name in sorted(commands))
    return "{\n" + "\n".join(lines) + '\n  "commands": {\n' + body + "\n  }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON")
    parser.add_argument("--module-docs", type=Path, required=True,
                        help="redis/docs data/commands_core.json (Redis 8 COMMAND DOCS): module key specs")
    args = parser.parse_args(argv)
    with RedisServer() as server:
        table = fetch_table(server)
    modules = module_entries(json.loads(args.module_docs.read_text("utf-8"))) | HAND_ENTRIES
    clash = sorted(set(modules) & set(table["commands"]))
    if clash:
        raise RuntimeError(f"module commands also in the server's table: {clash}")
    table["commands"].update(modules)
    table["modules_from"] = "redis/docs data/commands_core.json (Redis 8.10 COMMAND DOCS); RedisGears by hand"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(table), encoding="utf-8")
    print(f"wrote {len(table['commands'])} commands from {table['server']} "
          f"{table['server_version']} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
