"""Ingestion of the recorded sample captures, checked against the server's own counts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import monitorlens
from monitorlens import commands

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def stats_name(row: pd.Series) -> str:
    """The name INFO commandstats gives a command: lower-case, `container|sub` from 7.0."""
    name = row.command.lower()
    if isinstance(row.subcommand, str) and commands.is_container(row.command):
        return f"{name}|{row.subcommand.lower()}"
    return name


@pytest.fixture(scope="module")
def grammar() -> pd.DataFrame:
    return monitorlens.read_monitor(SAMPLES / "grammar" / "monitor.txt", errors="raise")


def test_counts_equal_info_commandstats(grammar: pd.DataFrame) -> None:
    """Every command MONITOR shows is counted exactly as the server counted it."""
    stats = json.loads((SAMPLES / "grammar" / "commandstats.json").read_text())
    ours = Counter(stats_name(r) for r in grammar.itertuples())
    # The recorder's window (sample_captures/README.md): CONFIG RESETSTAT opens it and is
    # hidden from MONITOR; the closing INFO is captured but not in its own count.
    hidden = {name for name in stats if commands.hidden_from_monitor(*name.upper().split("|"))}
    assert hidden == {"config|resetstat"}
    expected = Counter({k: v for k, v in stats.items() if k not in hidden})
    expected["info"] += 1
    assert ours == expected


def test_grammar_capture_facts(grammar: pd.DataFrame) -> None:
    facts = json.loads((SAMPLES / "grammar" / "facts.json").read_text())
    prov = monitorlens.provenance(grammar)
    assert len(grammar) == prov.events == facts["event_lines"]
    assert prov.rejected == 0 and prov.skipped == {"cli-ok": 1}
    assert (grammar.client_kind == "lua").sum() == facts["lua_lines"]
    assert sorted(grammar.db.unique()) == facts["dbs"]
    assert (grammar.client == facts["unix_socket_source"]).sum() == facts["greps"]["unix socket source"]
    assert (grammar.client_kind == "tcp6").sum() == facts["greps"]["IPv6 source [::1]"]
    assert grammar.host[grammar.client_kind == "tcp6"].eq("::1").all()
    redacted = sum(a.count(b"(redacted)") for a in grammar.args)
    assert redacted == facts["greps"]['"(redacted)" arguments']
    assert grammar.ts.min().timestamp() == pytest.approx(facts["first_ts"], abs=1e-6)
    assert grammar.ts.is_monotonic_increasing


def test_exact_bytes_survive(grammar: pd.DataFrame) -> None:
    facts = json.loads((SAMPLES / "grammar" / "facts.json").read_text())
    sets = grammar[grammar.command == "SET"]
    by_key = {a[0]: a[1] for a in sets.args}
    assert by_key[b"bin:all-bytes"] == bytes(range(256))
    assert by_key[b"utf8:cafe"] == "café".encode()
    assert by_key[b'a\\"'] == b'b" "c'
    assert max(len(v) for v in by_key.values()) == facts["huge_argument_bytes"]
    assert (grammar.arg_bytes >= facts["huge_argument_bytes"]).sum() == 1


def test_keys_follow_key_specs(grammar: pd.DataFrame) -> None:
    def keys_of(command: str) -> list[str]:
        return list(grammar.loc[grammar.command == command, "keys"].iloc[0])

    assert keys_of("MSET") == ["m:1", "m:2", "m:3"]
    assert keys_of("ZUNIONSTORE")[0] == "zs:union" and set(keys_of("ZUNIONSTORE")[1:]) == {"zs:a", "zs:b"}
    assert keys_of("XREAD") == ["stream:events"]
    assert keys_of("EVAL") == ["eval:key"]
    assert grammar.loc[grammar.command == "KEYS", "key"].isna().all()
    assert grammar.loc[grammar.command == "PING", "key"].isna().all()


@pytest.mark.parametrize("scenario", ["incident", "calm", "surge"])
def test_timed_scenarios_parse_completely(scenario: str) -> None:
    df = monitorlens.read_monitor(SAMPLES / scenario / "monitor.txt.gz")
    facts = json.loads((SAMPLES / scenario / "facts.json").read_text())
    prov = monitorlens.provenance(df)
    assert prov.rejected == 0
    assert prov.lines == len(df) + sum(prov.skipped.values())
    assert len(df) == facts["event_lines"]
    assert (df.client_kind == "lua").sum() == facts["lua_lines"]
