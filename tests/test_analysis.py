"""analyze() and its JSON on the recorded samples: golden parts that survive a re-recording
(tests/golden/summary-*.json, written from sample_captures/README.md), counts from facts.json,
and the shared filters."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

import monitorlens
from monitorlens._human import seconds_text
from monitorlens.analysis.analyze import Analysis, analyze
from monitorlens.cli import add_filter_arguments
from monitorlens.analysis.breakdowns import ClientNames
from monitorlens.analysis.filters import Filters, filter_events, utc_timestamp
from monitorlens.cli import filters_of

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_captures"
GOLDEN = ROOT / "tests" / "golden"
CAPTURES = {"grammar": "monitor.txt", "incident": "monitor.txt.gz", "calm": "monitor.txt.gz", "surge": "monitor.txt.gz"}


def facts(name: str) -> dict:
    return json.loads((SAMPLES / name / "facts.json").read_text())


@pytest.fixture(scope="module", params=sorted(CAPTURES))
def sample(request: pytest.FixtureRequest) -> tuple[str, pd.DataFrame, dict]:
    name = request.param
    events = monitorlens.load(SAMPLES / name / CAPTURES[name])
    return name, events, analyze(events, top=100).to_dict()


def test_json_against_golden(sample: tuple[str, pd.DataFrame, dict]) -> None:
    name, _, doc = sample
    path = GOLDEN / f"summary-{name}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: write it by hand from sample_captures/README.md")
    golden = json.loads(path.read_text())
    if "commands" in golden:
        assert sorted(doc["commands"]) == golden["commands"]
        assert sorted(k for k in doc["subcommands"] if " " in k) == golden["subcommands"]
        assert sorted(p["pattern"] for p in doc["key_patterns"]) == golden["key_patterns"]
    # null in the golden file: the finding's commands are not compared (coverage, unnamed clients)
    loose = {code for code, _, cmds in golden["findings"] if cmds is None}
    found = sorted((f["code"], f["severity"], None if f["code"] in loose else sorted(f["evidence"]["commands"]))
                   for f in doc["findings"])
    assert found == sorted((code, severity, cmds) for code, severity, cmds in golden["findings"])


def test_json_counts_from_facts(sample: tuple[str, pd.DataFrame, dict]) -> None:
    name, _, doc = sample
    f = facts(name)
    assert doc["events"] == f["event_lines"] and doc["rejected"] == 0 and doc["lines"] == f["event_lines"] + 1
    assert pd.Timestamp(doc["time_range"]["first"]).timestamp() == pytest.approx(f["first_ts"])
    assert pd.Timestamp(doc["time_range"]["last"]).timestamp() == pytest.approx(f["last_ts"])
    assert doc["time_range"]["duration_s"] == pytest.approx(f["last_ts"] - f["first_ts"], abs=1e-6)
    per = {}
    for name_, n in f["commands"].items():
        per[name_.split("|")[0].upper()] = per.get(name_.split("|")[0].upper(), 0) + n
    assert doc["commands"] == per
    assert list(doc["commands"].values()) == sorted(doc["commands"].values(), reverse=True)
    assert {c.lower().replace(" ", "|"): n for c, n in doc["subcommands"].items()} == f["commands"]
    assert {int(k) for k in doc["dbs"]} == set(f["dbs"])
    assert sum(c["events"] for c in doc["clients"]) == f["event_lines"]  # top=100 holds them all
    assert sum(c["lua_events"] for c in doc["clients"]) == f["lua_lines"] - sum(
        c["events"] for c in doc["clients"] if c["client"] == "lua")


def test_json_shape(sample: tuple[str, pd.DataFrame, dict]) -> None:
    _, _, doc = sample
    json.dumps(doc, allow_nan=False)
    for key in ("events", "rejected", "time_range", "commands", "clients", "key_patterns", "findings"):
        assert key in doc
    for client in doc["clients"]:
        assert {"client", "events", "name"} <= set(client)
        assert client["name"] is None or isinstance(client["name"], str)
    for finding in doc["findings"]:
        assert {"code", "severity", "title", "evidence", "action", "explanation"} <= set(finding)
        assert {"count", "first", "last", "clients", "keys", "samples"} <= set(finding["evidence"])


def test_names_in_clients() -> None:
    doc = analyze(monitorlens.load(SAMPLES / "incident" / "monitor.txt.gz"), top=100).to_dict()
    leaky = [c for c in doc["clients"] if c["name"] == "leaky-app"]
    assert len(leaky) == facts("incident")["commands"]["client|setname"]
    assert all(c["name_source"] == "setname" for c in leaky)


def test_parquet_gives_the_same_analysis(tmp_path: Path) -> None:
    text = SAMPLES / "grammar" / "monitor.txt"
    out = tmp_path / "g.parquet"
    monitorlens.write_parquet(monitorlens.read_monitor(text), out)
    a = analyze(monitorlens.load(text)).to_dict()
    b = analyze(monitorlens.load(out)).to_dict()
    assert {k: v for k, v in a.items() if k != "source"} == {k: v for k, v in b.items() if k != "source"}


def test_analysis_holds_the_tables(sample: tuple[str, pd.DataFrame, dict]) -> None:
    _, events, _ = sample
    before = events.copy(deep=True)
    a = analyze(events, top=3)
    pd.testing.assert_frame_equal(events, before)
    assert isinstance(a, Analysis) and a.overview.events == len(events)
    assert len(a.hot_keys) <= 3 and a.timeline.to_numpy().sum() == len(events)
    assert len(a.to_dict()["clients"]) <= 3 and len(a.to_dict(top=1)["clients"]) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.top = 5  # frozen


def test_empty_analysis() -> None:
    events = monitorlens.read_monitor([])
    doc = analyze(events).to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["events"] == 0 and doc["rate_per_s"] is None and doc["clients"] == []
    assert [f["code"] for f in doc["findings"]] == ["capture-empty"]


def test_seconds_text() -> None:
    assert [seconds_text(s) for s in (0.5, 119, 600, 9000)] == ["0.5 s", "119.0 s", "10.0 min", "2.5 h"]


# -------------------------------------------------------------------------- filters


@pytest.fixture(scope="module")
def grammar() -> pd.DataFrame:
    return monitorlens.read_monitor(SAMPLES / "grammar" / "monitor.txt")


def test_filter_by_command(grammar: pd.DataFrame) -> None:
    f = facts("grammar")["commands"]
    assert len(filter_events(grammar, command="client setname")) == f["client|setname"]
    assert len(filter_events(grammar, command="CLIENT")) == f["client|setname"]
    assert len(filter_events(grammar, command=["get", "Set"])) == f["get"] + f["set"]
    assert Filters.of(command=["get", "Set"]).describe() == {"command": "GET, SET"}


def test_filter_by_client(grammar: pd.DataFrame) -> None:
    lines = facts("grammar")["lines_by_client_name"]
    app = filter_events(grammar, client="grammar-app")  # by the name it set, lua lines along
    assert len(app) == lines["grammar-app"] + lines["lua"]
    assert len(filter_events(grammar, client="::1")) == lines["ipv6-client"]  # by host
    (unix,) = {c for c in grammar["client"].astype(str) if c.startswith("unix:")}
    assert len(filter_events(grammar, client=unix)) == lines["unix-client"]
    assert len(filter_events(grammar, client="lua")) == lines["lua"]


def test_filter_by_time_and_db(grammar: pd.DataFrame) -> None:
    f = facts("grammar")
    assert len(filter_events(grammar, since=f["first_ts"], until=f["last_ts"])) == f["event_lines"] - 1
    iso = pd.Timestamp(f["last_ts"], unit="s", tz="UTC").isoformat()
    assert len(filter_events(grammar, since=iso)) == 1
    assert len(filter_events(grammar, since=iso.replace("+00:00", ""))) == 1  # no zone: UTC
    assert set(filter_events(grammar, db=3)["db"]) == {3}
    assert filter_events(grammar, db=[0, 3]).shape[0] == len(grammar)


def test_filters_keep_provenance_and_do_not_mutate(grammar: pd.DataFrame) -> None:
    before = grammar.copy(deep=True)
    out = filter_events(grammar, command="get")
    pd.testing.assert_frame_equal(grammar, before)
    assert monitorlens.provenance(out).events == len(grammar)
    assert analyze(out).overview.filtered and not analyze(grammar).overview.filtered


def test_filters_and_names_travel_explicitly_and_survive_pandas(grammar: pd.DataFrame) -> None:
    """What analyze knows of a filter comes from the objects given, not from df.attrs: a
    concat (which drops attrs) changes nothing."""
    filters = Filters.of(command="GET")
    names = ClientNames.of(grammar)
    part = filters.apply(grammar)
    assert "CLIENT" not in set(part["command"].astype(str))  # the SETNAME lines are gone...
    copied = pd.concat([part])
    copied.attrs = part.attrs  # provenance stays the readers' business
    a = analyze(copied, filters=filters, names=names)
    assert a.overview.filters == {"command": "GET"} and a.overview.filtered
    assert "grammar-app" in set(a.clients["name"].dropna())  # ...but the names are not
    assert "grammar-app" not in set(analyze(copied).clients["name"].dropna())


def test_parse_time_errors() -> None:
    assert utc_timestamp("1795641904.5") == pd.Timestamp("2026-11-25T21:25:04.5Z")
    assert utc_timestamp(1795641904) == utc_timestamp("2026-11-25T22:25:04+01:00")
    for bad in ("yesterday", "", "12:99"):
        with pytest.raises(monitorlens.InputError):
            utc_timestamp(bad)


def test_cli_arguments(grammar: pd.DataFrame) -> None:
    import argparse

    parser = add_filter_arguments(argparse.ArgumentParser())
    ns = parser.parse_args(["--command", "get", "--command", "SET", "--db", "3", "--top", "4"])
    assert ns.top == 4
    assert set(filters_of(ns).apply(grammar)["command"].astype(str)) <= {"GET", "SET"}
    with pytest.raises(SystemExit):
        parser.parse_args(["--top", "0"])
