"""Breakdowns on the recorded samples, checked against what the recorder sent (facts.json),
against the raw capture text, and on small literal captures for the edge cases."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import monitorlens
from monitorlens.analysis import breakdowns as bd
from monitorlens.read.grammar import format_line
from monitorlens.analysis.patterns import DEFAULT_RULES, PatternRules, fingerprint

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def facts(name: str) -> dict:
    return json.loads((SAMPLES / name / "facts.json").read_text())


def raw_lines(name: str) -> list[str]:
    folder = SAMPLES / name
    path = folder / "monitor.txt.gz" if (folder / "monitor.txt.gz").exists() else folder / "monitor.txt"
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return f.read().decode("latin-1").splitlines()


@pytest.fixture(scope="module", params=["grammar", "incident", "calm"])
def sample(request: pytest.FixtureRequest) -> tuple[str, pd.DataFrame]:
    name = request.param
    path = SAMPLES / name / ("monitor.txt" if name == "grammar" else "monitor.txt.gz")
    return name, monitorlens.read_monitor(path)


@pytest.fixture(scope="module")
def incident() -> pd.DataFrame:
    return monitorlens.read_monitor(SAMPLES / "incident" / "monitor.txt.gz")


@pytest.fixture(scope="module")
def grammar() -> pd.DataFrame:
    return monitorlens.read_monitor(SAMPLES / "grammar" / "monitor.txt")


def lines(*rows: tuple) -> pd.DataFrame:
    """Events from MONITOR lines written by the grammar's formatter: (seconds, client, *argv)."""
    return monitorlens.read_monitor(
        [format_line(int(ts * 1e6), 0, client, [a.encode() if isinstance(a, str) else a for a in argv])
         for ts, client, *argv in rows]
    )


def stats_name(command: str) -> str:
    """INFO commandstats naming: lower case, `container|sub`."""
    return command.lower().replace(" ", "|")


# ------------------------------------------------------------------------ by command


def test_by_command_counts_are_what_was_sent(sample: tuple[str, pd.DataFrame]) -> None:
    name, events = sample
    table = bd.by_command(events, subcommands=True)
    assert {stats_name(c): n for c, n in zip(table["command"], table["count"])} == facts(name)["commands"]
    assert table["count"].is_monotonic_decreasing
    assert table["share"].sum() == pytest.approx(1.0)


def test_by_command_rate_and_span(incident: pd.DataFrame) -> None:
    f = facts("incident")
    table = bd.by_command(incident)
    seconds = f["last_ts"] - f["first_ts"]
    get = table.set_index("command").loc["GET"]
    assert get["count"] == f["commands"]["get"]
    assert get["rate_per_s"] == pytest.approx(f["commands"]["get"] / seconds, rel=1e-6)
    assert table["first"].min().timestamp() == pytest.approx(f["first_ts"])
    assert table["last"].max().timestamp() == pytest.approx(f["last_ts"])
    # CLIENT and CLIENT SETNAME: the container counts its subcommands
    assert table.set_index("command").loc["CLIENT", "count"] == f["commands"]["client|setname"]


def test_one_line_capture_has_no_rate() -> None:
    table = bd.by_command(lines((1.0, "127.0.0.1:1", "GET", "k")))
    assert table["count"].tolist() == [1] and table["rate_per_s"].isna().all()


# ------------------------------------------------------------------------- by client


def test_by_client_lines_per_client(incident: pd.DataFrame) -> None:
    """Lines per client as printed equal the recorder's count per application."""
    f = facts("incident")["lines_by_client_name"]
    table = bd.by_client(incident, credit_lua=False)
    assert table.set_index("client").loc["lua", "count"] == f["lua"]
    leaky = table[table["name"] == "leaky-app"]
    assert leaky["count"].sum() == f["leaky-app"] and (leaky["name_source"] == "setname").all()
    # the others named themselves before the capture began: compare the counts as a multiset
    unnamed = table[table["name"].isna() & (table["client"] != "lua")]
    expected = [n for name, n in f.items() if name not in ("lua", "leaky-app")]
    assert sorted(unnamed["count"]) == sorted(expected)


def test_lua_lines_are_credited_to_their_caller(grammar: pd.DataFrame) -> None:
    f = facts("grammar")["lines_by_client_name"]
    table = bd.by_client(grammar).set_index("name")
    app = table.loc["grammar-app"]
    # EVAL, EVALSHA and FCALL were all sent by grammar-app: its 5 lua lines are its own
    assert (app["own_count"], app["lua_count"], app["count"]) == (f["grammar-app"], f["lua"], f["grammar-app"] + f["lua"])
    assert "lua" not in bd.by_client(grammar)["client"].tolist()
    both = bd.by_client(grammar, credit_lua=False)
    assert both.set_index("client").loc["lua", "count"] == f["lua"]


def test_lua_credit_on_incident(incident: pd.DataFrame) -> None:
    table = bd.by_client(incident)
    callers = set(incident.loc[incident["command"] == "EVAL", "client"].astype(str))
    credited = table[table["lua_count"] > 0]
    assert set(credited["client"]) <= callers
    assert table["lua_count"].sum() == facts("incident")["lua_lines"]
    assert table["count"].sum() == len(incident)


def test_script_callers_stops_at_other_commands() -> None:
    events = lines((1, "10.0.0.1:1", "EVAL", "s", "0"), (2, "lua", "GET", "a"),
                   (3, "10.0.0.2:2", "GET", "b"), (4, "lua", "GET", "c"))
    assert bd.script_callers(events).astype(str).tolist() == ["10.0.0.1:1", "10.0.0.1:1", "10.0.0.2:2", "lua"]


def test_clients_without_source_are_kept() -> None:
    events = monitorlens.read_monitor(['1339518083.107412 "keys" "*"', '1339518084.107412 (db 2) "get" "x"'])
    table = bd.by_client(events)
    assert table["client"].tolist() == [bd.NO_CLIENT] and table["count"].tolist() == [2]
    dbs = bd.by_db(events)  # a 2.4 line without "(db N)" is db 0 (written only when N was not 0)
    assert sorted(dbs["db"].tolist()) == [0, 2] and dbs["count"].sum() == 2
    unknown = bd.by_db(events.assign(db=pd.array([None, 2], dtype="Int32")))
    assert unknown["db"].isna().sum() == 1 and unknown["count"].sum() == 2


def test_attached_names_win_over_setname(grammar: pd.DataFrame) -> None:
    app = grammar.loc[grammar["command"] == "EVAL", "client"].astype(str).iloc[0]
    named = grammar.assign(name=np.where(grammar["client"].astype(str) == app, "from-client-list", None))
    row = bd.by_client(named).set_index("client").loc[app]
    assert (row["name"], row["name_source"]) == ("from-client-list", "client-list")
    assert "user" not in bd.by_client(named).columns
    users = named.assign(user=np.where(grammar["client"].astype(str) == app, "app-user", None))
    table = bd.by_client(users).set_index("client")
    assert table.loc[app, "user"] == "app-user" and table["user"].notna().sum() == 1


# ------------------------------------------------------------------------------ keys


def test_key_patterns_of_the_incident(incident: pd.DataFrame) -> None:
    table = bd.by_key_pattern(incident).set_index("pattern")
    # what the README says the scenario uses
    for pattern in ("session:{uuid}", "user:{int}:profile", "cart:{int}", "rate:{ip}", "rate:checkout:{ip}",
                    "jobs", "catalog:products", "online:users", "feed:global", "leaderboard:ids"):
        assert pattern in table.index
    assert table.loc["catalog:products", "keys"] == 1
    # every key reference counted once
    assert table["count"].sum() == sum(len(k) for k in incident["keys"])
    # read share from the raw events: GET reads, SET writes session keys
    session = incident[incident["key"].str.startswith("session:", na=False)]
    reads = (session["command"] == "GET").sum()
    assert table.loc["session:{uuid}", "read_share"] == pytest.approx(reads / len(session))
    assert table.loc["session:{uuid}", "keys"] == session["key"].nunique()


def test_hot_keys(incident: pd.DataFrame) -> None:
    f = facts("incident")["commands"]
    top = bd.hot_keys(incident, top=3)
    assert len(top) == 3 and top["key"].iloc[0] == "jobs"
    assert top["count"].iloc[0] == f["lpush"] + f["blpop"]
    assert top["pattern"].iloc[0] == "jobs"
    # the same from a shared key table
    kt = bd.key_table(incident)
    pd.testing.assert_frame_equal(bd.hot_keys(kt, top=3), top)


def test_multi_key_commands_count_every_key() -> None:
    events = lines((1, "10.0.0.1:1", "DEL", "user:1", "user:2", "user:3"), (2, "10.0.0.1:1", "GET", "user:1"))
    table = bd.by_key_pattern(events)
    assert table[["pattern", "count", "keys", "writes", "reads"]].values.tolist() == [["user:{int}", 4, 3, 3, 1]]


_SEGMENT = st.one_of(
    st.from_regex(r"-?[0-9]{1,16}", fullmatch=True),
    st.text("abcdefXYZ_-.é", min_size=0, max_size=18),
    st.sampled_from(["20261125", "1795641904", "1795641904123", "10.0.0.1", "deadbeefdeadbeef", "5f2b9c01"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_SEGMENT, min_size=1, max_size=8).map(":".join), min_size=1, max_size=60))
def test_vectorized_fingerprints_equal_fingerprint(keys: list[str]) -> None:
    codes, patterns = bd._fingerprints(pa.array(keys, pa.string()), DEFAULT_RULES)
    assert list(patterns[codes]) == [fingerprint(k) for k in keys]
    assert patterns.is_unique


def test_user_rules_are_used() -> None:
    rules = PatternRules(rules=((r"^user:", "user:*"),))
    events = lines((1, "10.0.0.1:1", "GET", "user:1"))
    assert bd.by_key_pattern(events, rules=rules)["pattern"].tolist() == ["user:*"]


# ------------------------------------------------------------------------------ time


def test_timeline_counts_every_event(sample: tuple[str, pd.DataFrame]) -> None:
    _, events = sample
    for by in ("command", "client", None):
        wide = bd.timeline(events, "1s", by=by, top=3)
        assert wide.to_numpy().sum() == len(events)
        assert (wide.index[1:] - wide.index[:-1] == pd.Timedelta("1s")).all()
        assert wide.index[0] == events["ts"].min().floor("1s")
    assert bd.timeline(events, by="command", top=3).shape[1] <= 4


def test_timeline_fills_empty_buckets() -> None:
    events = lines((10.2, "10.0.0.1:1", "GET", "a"), (13.7, "10.0.0.1:1", "SET", "a", "1"))
    wide = bd.timeline(events, "1s", by="command")
    assert wide["GET"].tolist() == [1, 0, 0, 0] and wide["SET"].tolist() == [0, 0, 0, 1]
    assert list(wide.columns) == ["GET", "SET"]  # no "(other)" when nothing is left over
    with pytest.raises(monitorlens.InputError):
        bd.timeline(events, "soon")


def test_bursts() -> None:
    quiet = [(t, "10.0.0.1:1", "GET", "a") for t in range(0, 20)]
    storm = [(10 + i / 1000, "10.0.0.2:2", "KEYS", "*") for i in range(200)]
    table = bd.bursts(lines(*quiet, *storm), "1s", factor=3, min_events=50)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["events"] == 201 and row["top_command"] == "KEYS" and row["top_client"] == "10.0.0.2:2"
    assert row["start"] == pd.Timestamp(10, unit="s", tz="UTC")


def test_gaps_are_inter_arrival_times(incident: pd.DataFrame) -> None:
    table = bd.gaps(incident, top=5)
    expected = np.sort(np.diff(incident["ts"].dt.tz_localize(None).to_numpy().astype("datetime64[us]").astype(np.int64)))[::-1][:5]
    assert table["gap_us"].tolist() == expected.tolist()
    row = table.iloc[0]
    assert (row["end"] - row["start"]) == pd.Timedelta(microseconds=int(row["gap_us"]))
    assert row["line_after"] > row["line_before"]


def test_no_breakdown_calls_a_gap_a_duration(incident: pd.DataFrame) -> None:
    tables = [bd.gaps(incident), bd.gap_after_by_command(incident), bd.by_command(incident), bd.by_client(incident)]
    assert not any("duration" in c for t in tables for c in t.columns)


# ------------------------------------------------------------------------ contracts


FUNCTIONS = [
    bd.by_command, lambda e: bd.by_command(e, subcommands=True), bd.by_client,
    lambda e: bd.by_client(e, credit_lua=False), bd.by_key_pattern, bd.hot_keys, bd.by_db, bd.timeline,
    lambda e: bd.timeline(e, by="client"), bd.bursts, bd.gaps, bd.gap_after_by_command,
]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_inputs_are_not_mutated_and_empty_input_gives_empty_output(fn, grammar: pd.DataFrame) -> None:
    before = grammar.copy(deep=True)
    fn(grammar)
    pd.testing.assert_frame_equal(grammar, before)
    assert len(fn(grammar.iloc[:0])) == 0


def test_db_counts_match_the_text(grammar: pd.DataFrame) -> None:
    text = raw_lines("grammar")
    per_db = Counter(m[1] for line in text if (m := re.match(r"\d+\.\d+ \[(\d+) ", line)))
    table = bd.by_db(grammar)
    assert {str(d): n for d, n in zip(table["db"], table["count"])} == dict(per_db)


def test_mix_text() -> None:
    frame = pd.DataFrame({"c": ["a", "a", "a", "b"], "cmd": ["GET", "GET", "SET", "DEL"]})
    assert bd.mix(frame, "c", "cmd").to_dict() == {"a": "GET 67%, SET 33%", "b": "DEL 100%"}


def test_names_from_hello_setname_and_client_setname() -> None:
    events = lines((1, "10.0.0.1:1", "HELLO", "3", "AUTH", "u", "(redacted)", "SETNAME", "billing"),
                   (2, "10.0.0.2:2", "CLIENT", "SETNAME", "first"), (3, "10.0.0.2:2", "CLIENT", "SETNAME", "second"),
                   (4, "10.0.0.3:3", "HELLO", "3"))
    assert bd.client_names(events).to_dict() == {"10.0.0.1:1": "billing", "10.0.0.2:2": "second"}


def test_bucket_seconds_say_how_much_of_each_bucket_the_capture_covers(sample) -> None:
    """The last second of a capture is partial: drawn as a full one it is a fake drop."""
    from monitorlens.analysis.breakdowns import bucket_seconds, span_seconds

    _, events = sample
    first, last = events["ts"].min(), events["ts"].max()
    for freq in ("1s", "250ms"):
        tl = bd.timeline(events, freq)
        covered = bucket_seconds(tl, first, last)
        step = pd.Timedelta(freq).total_seconds()
        assert covered.sum() == pytest.approx(span_seconds(events), abs=1e-6)
        assert (covered <= step + 1e-9).all() and (covered.iloc[1:-1] == step).all()
        assert covered.iloc[-1] == pytest.approx((last - tl.index[-1]).total_seconds())
        assert covered.iloc[0] == pytest.approx(min(step, (tl.index[0] + pd.Timedelta(freq) - first).total_seconds(),
                                                   span_seconds(events)))
