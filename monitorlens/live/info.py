"""``INFO`` replies as nested dicts: ``{"stats": {"total_commands_processed": 12, ...}, ...}``."""

from __future__ import annotations

from typing import Any

__all__ = ["parse_info", "SECTIONS"]

#: The sections a capture saves before and after (redis-formats.md, "INFO, for reconciling").
SECTIONS = ("server", "clients", "stats", "commandstats", "errorstats")


_TEXT_KEYS = ("version", "sha1", "run_id", "git", "build_id", "replid")


def _value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_info(raw: bytes | str) -> dict[str, dict[str, Any]]:
    """Sections by lower-case name; ``a=1,b=2`` values (commandstats, keyspace) as dicts.

    >>> parse_info(b"# Stats\\r\\ntotal_commands_processed:7\\r\\n# Commandstats\\r\\n"
    ...            b"cmdstat_get:calls=2,usec=3,failed_calls=0\\r\\n")["commandstats"]["cmdstat_get"]["calls"]
    2
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    out: dict[str, dict[str, Any]] = {}
    section: dict[str, Any] = out.setdefault("", {})
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            section = out.setdefault(line[1:].strip().lower(), {})
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if "=" in value and "," in value or (value.count("=") == 1 and key.startswith(("cmdstat_", "errorstat_", "db"))):
            section[key] = {k: _value(v) for k, _, v in (p.partition("=") for p in value.split(","))}
        else:
            # Versions, hashes and ids look like numbers but are names.
            section[key] = value if any(w in key for w in _TEXT_KEYS) else _value(value)
    if not out[""]:
        del out[""]
    return out
