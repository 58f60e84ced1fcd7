"""Findings: each rule fires on the recorded capture where the commands were really sent
(sample_captures/, from a real redis-server), stays silent on the calm day, and reads the
arguments (literal lines for the cases the recordings do not have)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pytest

import monitorlens
from monitorlens.analysis.evidence import Context
from monitorlens.analysis.findings import Finding, printable
from monitorlens.analysis.rules import RULES, Thresholds, blocks_forever, find_all, index_span, keys_scope
from monitorlens.analysis.breakdowns import ClientNames
from monitorlens.analysis.filters import Filters, filter_events
from monitorlens.read.grammar import format_line

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def facts(name: str) -> dict:
    return json.loads((SAMPLES / name / "facts.json").read_text())


@pytest.fixture(scope="module")
def incident() -> pd.DataFrame:
    return monitorlens.read_monitor(SAMPLES / "incident" / "monitor.txt.gz")


@pytest.fixture(scope="module")
def incident_findings(incident: pd.DataFrame) -> list[Finding]:
    return find_all(incident)


@pytest.fixture(scope="module")
def incident_text() -> list[str]:
    with gzip.open(SAMPLES / "incident" / "monitor.txt.gz", "rb") as f:
        return f.read().decode("latin-1").splitlines()


@pytest.fixture(scope="module")
def grammar() -> pd.DataFrame:
    return monitorlens.read_monitor(SAMPLES / "grammar" / "monitor.txt")


def lines(*rows: tuple, db: int = 0) -> pd.DataFrame:
    """Events from lines written by the grammar's formatter: (seconds, client, *argv)."""
    return monitorlens.read_monitor(
        [format_line(int(ts * 1e6), db, client, [a.encode() if isinstance(a, str) else a for a in argv])
         for ts, client, *argv in rows]
    )


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def one(findings: list[Finding], code: str, command: str | None = None) -> Finding:
    hits = [f for f in findings if f.code == code and (command is None or command in f.evidence.commands)]
    assert len(hits) == 1, (code, command, [f.title for f in findings])
    return hits[0]


def sender(events: pd.DataFrame, command: str) -> set[str]:
    return set(events.loc[events["command"] == command, "client"].astype(str))


# ------------------------------------------------------------------ the incident capture


def test_keys_by_legacy_reports(incident: pd.DataFrame, incident_findings: list[Finding]) -> None:
    f = facts("incident")
    sent = [k for k in f["keys_calls"] if k["sent_at"] <= f["last_ts"]]
    assert len(sent) == f["keys_calls_in_capture"]
    keys = one(incident_findings, "keys")
    assert keys.severity == "critical"  # `KEYS *` was sent
    assert keys.evidence.count == len(sent)
    assert keys.evidence.clients == tuple(sender(incident, "KEYS"))
    # legacy-reports' 4 lines are its only lines: one client, KEYS only
    assert f["lines_by_client_name"]["legacy-reports"] == len(sent)
    by_call = {str(r["call"]): r["count"] for r in keys.evidence.rows}
    expected = {}
    for k in sent:
        scope = "all" if k["pattern"] == "*" else "prefix"
        call = f'KEYS "{k["pattern"]}" ({scope})'
        expected[call] = expected.get(call, 0) + 1
    assert by_call == expected
    # MONITOR prints a command when the server runs it: a few ms after the recorder sent it
    for when, k in ((keys.evidence.first, sent[0]), (keys.evidence.last, sent[-1])):
        assert 0 <= pd.Timestamp(when).timestamp() - k["sent_at"] < 0.5


def test_samples_are_the_lines_of_the_file(incident_findings: list[Finding], incident_text: list[str]) -> None:
    for finding in incident_findings:
        for s in finding.evidence.samples:
            assert s.text == incident_text[s.line - 1], finding.code


@pytest.mark.parametrize("command, key", [("HGETALL", "catalog:products"), ("SMEMBERS", "online:users"),
                                          ("LRANGE", "feed:global"), ("SORT", "leaderboard:ids")])
def test_full_reads_by_admin_dashboard(command: str, key: str, incident: pd.DataFrame,
                                       incident_findings: list[Finding]) -> None:
    f = facts("incident")
    finding = one(incident_findings, "full-read", command)
    assert finding.severity == "warning"
    assert finding.evidence.count == f["commands"][command.lower()]
    assert finding.evidence.keys == (key,)
    assert finding.evidence.clients == tuple(sender(incident, "HGETALL"))  # admin-dashboard sends all four
    assert "SCAN" in finding.action or "LIMIT" in finding.action or "page" in finding.action


def test_admin_dashboard_is_one_client(incident: pd.DataFrame) -> None:
    f = facts("incident")
    dashboard = sender(incident, "HGETALL")
    assert len(dashboard) == 1
    assert (incident["client"].astype(str) == dashboard.pop()).sum() == f["lines_by_client_name"]["admin-dashboard"]


def test_blpop_zero_by_worker(incident: pd.DataFrame, incident_findings: list[Finding]) -> None:
    f = facts("incident")
    finding = one(incident_findings, "blocking-forever")
    assert finding.evidence.count == f["commands"]["blpop"]
    (worker,) = sender(incident, "BLPOP")
    assert finding.evidence.clients == (worker,)
    assert (incident["client"].astype(str) == worker).sum() == f["lines_by_client_name"]["worker"]
    assert [str(r["call"]) for r in finding.evidence.rows] == ['BLPOP "jobs" "0"']


def test_incident_findings_exactly(incident_findings: list[Finding]) -> None:
    # What the scenario sent (sample_captures/README.md): KEYS, four O(N) reads, a worker on
    # BLPOP 0; clients named before the capture began; and the coverage note of every capture.
    assert sorted(codes(incident_findings)) == sorted(
        ["keys", "full-read", "full-read", "full-read", "full-read", "blocking-forever", "coverage",
         "unnamed-clients"])
    severities = [f.severity for f in incident_findings]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)


def test_calm_day(incident_findings: list[Finding]) -> None:
    """A normal day raises only what is true of it: its worker waits on BLPOP jobs 0 too, the
    web clients named themselves before the capture, and MONITOR's limits always apply."""
    events = monitorlens.read_monitor(SAMPLES / "calm" / "monitor.txt.gz")
    found = find_all(events)
    assert sorted(codes(found)) == ["blocking-forever", "coverage", "unnamed-clients"]
    assert one(found, "blocking-forever").evidence.count == facts("calm")["commands"]["blpop"]
    assert one(found, "unnamed-clients").severity == "info"


# ---------------------------------------------------------------- the grammar capture


def test_grammar_capture(grammar: pd.DataFrame) -> None:
    f = facts("grammar")
    found = find_all(grammar)
    keys = one(found, "keys")
    assert {str(r["call"]) for r in keys.evidence.rows} == {'KEYS "*" (all)', 'KEYS "pipe:*" (prefix)'}
    blocking = one(found, "blocking-forever")  # queue:never 0, not queue:empty 0.1 nor the served one
    assert blocking.evidence.keys == ("queue:never",) and blocking.evidence.count == 1
    huge = one(found, "huge-argument")
    assert huge.evidence.metrics["largest_bytes"] == f["huge_argument_bytes"]
    assert huge.evidence.keys == ("huge:blob",)
    assert len(huge.evidence.samples[0].text) < 400  # cut, with its length said
    coverage = one(found, "coverage")
    assert coverage.evidence.metrics["redacted_arguments"] == f["greps"]['"(redacted)" arguments']
    assert one(found, "capture-short").severity == "info"
    # HGETALL: one sent by grammar-app, one by its EVALSHA script (credited to grammar-app)
    hgetall = one(found, "full-read", "HGETALL")
    (app,) = sender(grammar, "EVALSHA")
    assert hgetall.evidence.count == 2 and hgetall.evidence.clients == (f"{app} (grammar-app)",)
    assert {r["client"] for r in hgetall.evidence.rows} == {f"{app} (grammar-app)"}
    unnamed = one(found, "unnamed-clients")
    assert unnamed.evidence.metrics["events"] == f["lines_by_client_name"]["(unnamed)"] + f["lines_by_client_name"]["recorder"]


def test_names_survive_filters(grammar: pd.DataFrame) -> None:
    found = find_all(filter_events(grammar, command="keys"), names=ClientNames.of(grammar))
    assert one(found, "keys").evidence.clients[0].endswith("(grammar-app)")
    assert "dominant-client" not in codes(find_all(filter_events(grammar, client="grammar-app"),
                                                   filters=Filters.of(client="grammar-app")))


# ---------------------------------------------------------------- arguments, literally

C = "10.0.0.1:5000"


@pytest.mark.parametrize("argv, fires", [
    (("LRANGE", "l", "0", "-1"), True), (("LRANGE", "l", "0", "9"), False), (("LRANGE", "l", "-10", "-1"), False),
    (("LRANGE", "l", "0", "4999"), True), (("ZRANGE", "z", "0", "-1"), True), (("ZRANGE", "z", "0", "9"), False),
    (("ZRANGE", "z", "-inf", "+inf", "BYSCORE"), True),
    (("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "10"), False),
    (("ZRANGEBYSCORE", "z", "-inf", "+inf"), True), (("ZRANGEBYSCORE", "z", "0", "10"), False),
    (("SORT", "s"), True), (("SORT", "s", "LIMIT", "0", "10"), False), (("SORT", "limit"), True),
    (("HGETALL", "h"), True), (("SMEMBERS", "s"), True), (("SUNION", "a", "b"), True), (("SINTER", "a", "b"), True),
    (("SDIFF", "a", "b"), True), (("XRANGE", "x", "-", "+"), True), (("XRANGE", "x", "-", "+", "COUNT", "10"), False),
    (("MGET", *[f"k{i}" for i in range(150)]), True), (("MGET", "a", "b", "c"), False),
    (("MSET", *[f"k{i}" for i in range(150)]), False), (("MSET", *[f"k{i}" for i in range(200)]), True),
    (("DEL", *[f"k{i}" for i in range(100)]), True), (("GET", "k"), False),
])
def test_full_read_reads_the_arguments(argv: tuple, fires: bool) -> None:
    found = find_all(lines((1, C, *argv)))
    assert ("full-read" in codes(found)) == fires, [f.title for f in found]
    if fires:
        assert SCAN_OR_LIMIT(one(found, "full-read").action)


def SCAN_OR_LIMIT(action: str) -> bool:
    return any(word in action for word in ("SCAN", "LIMIT", "COUNT", "batch", "page", "maintain", "SINTERCARD"))


def test_keys_scope() -> None:
    assert [keys_scope(p) for p in (b"*", b"**", b"*:x", b"?", b"user:*", b"user:42")] == \
        ["all", "all", "broad", "broad", "prefix", "exact"]
    narrow = find_all(lines((1, C, "KEYS", "user:42")))
    assert one(narrow, "keys").severity == "warning"
    assert one(find_all(lines((1, C, "KEYS", "*"))), "keys").severity == "critical"


def test_index_span() -> None:
    assert index_span(b"0", b"-1") == float("inf")
    assert index_span(b"0", b"9") == 10 and index_span(b"-10", b"-1") == 10 and index_span(b"5", b"2") == 0
    assert index_span(b"x", b"1") == 0


@pytest.mark.parametrize("command, args, forever", [
    ("BLPOP", [b"a", b"b", b"0"], True), ("BLPOP", [b"a", b"0.1"], False), ("BRPOP", [b"a", b"0.0"], True),
    ("BLMOVE", [b"a", b"b", b"LEFT", b"RIGHT", b"0"], True), ("BZPOPMIN", [b"z", b"5"], False),
    ("BLMPOP", [b"0", b"1", b"a", b"LEFT"], True), ("XREAD", [b"BLOCK", b"0", b"STREAMS", b"s", b"$"], True),
    ("XREAD", [b"COUNT", b"1", b"STREAMS", b"s", b"0"], False), ("WAIT", [b"1", b"0"], True),
    ("BLPOP", [b"a", b"x"], False),
])
def test_blocks_forever(command: str, args: list[bytes], forever: bool) -> None:
    assert blocks_forever(command, args) == forever


def test_dangerous_commands() -> None:
    found = find_all(lines((1, C, "FLUSHALL", "ASYNC"), (2, C, "SCRIPT", "FLUSH"), (3, C, "DEBUG", "SLEEP", "1"),
                           (4, C, "SCRIPT", "LOAD", "return 1"), (5, C, "FLUSHDB")))
    flush = [f for f in found if f.code == "flush"]
    assert sorted(f.evidence.commands for f in flush) == [("FLUSHALL",), ("FLUSHDB",)]
    assert all(f.severity == "critical" for f in flush)
    assert str(one(flush, "flush", "FLUSHALL").evidence.rows[0]["call"]) == 'FLUSHALL "ASYNC"'
    dangerous = {f.title.split(":")[0]: f for f in found if f.code == "dangerous-command"}
    assert set(dangerous) == {"SCRIPT FLUSH", "DEBUG"}  # SCRIPT LOAD is harmless
    assert dangerous["DEBUG"].severity == "critical" and "hides" in dangerous["DEBUG"].explanation
    assert "hides" not in dangerous["SCRIPT FLUSH"].explanation


def test_select_churn() -> None:
    churn = [(i, C, "SELECT", str(i % 2)) for i in range(10)]
    assert one(find_all(lines(*churn)), "select-churn").evidence.metrics["selects"] == 10
    assert "select-churn" not in codes(find_all(lines(*churn[:9])))


def test_dominant_client() -> None:
    rows = [(i / 100, C, "GET", "k") for i in range(300)] + [(i / 100, "10.0.0.2:1", "GET", "k") for i in range(50)]
    finding = one(find_all(lines(*rows)), "dominant-client")
    assert finding.evidence.metrics["share"] == pytest.approx(300 / 350)
    assert finding.evidence.clients == (C,)
    assert "dominant-client" not in codes(find_all(lines(*rows[:150])))  # under client_share_min_events
    assert "dominant-client" not in codes(find_all(lines(*rows), thresholds=Thresholds(client_share=0.9)))


def test_unnamed_clients_with_client_list_names() -> None:
    events = lines((1, C, "GET", "k"), (2, "10.0.0.2:1", "GET", "k"))
    named = events.assign(name=[None, "billing"])
    finding = one(find_all(named), "unnamed-clients")
    assert finding.severity == "warning" and finding.evidence.clients == (C,)
    assert "unnamed-clients" not in codes(find_all(events.assign(name=["a", "b"])))
    # The hint fits: --clients only for those who did not give it.
    assert "--clients" not in finding.action and "CLIENT SETNAME" in finding.action
    assert "--clients" in one(find_all(events), "unnamed-clients").action


def test_unnamed_clients_hint_on_the_recorded_grammar_capture() -> None:
    folder = SAMPLES / "grammar"
    events = monitorlens.read_monitor(folder / "monitor.txt")
    named = monitorlens.attach_names(events, monitorlens.read_client_list(folder / "clients.log"))
    with_list, without = one(find_all(named), "unnamed-clients"), one(find_all(events), "unnamed-clients")
    assert "--clients" in without.action and "--clients" not in with_list.action
    assert with_list.evidence.metrics["clients"] < without.evidence.metrics["clients"]


def test_capture_quality() -> None:
    text = b"".join(format_line(t * 1_000_000, 0, C, [b"GET", b"k"]) + b"\n" for t in (1, 2, 30, 31))
    events = monitorlens.read_monitor(io.BytesIO(text + b'garbage\n32.000000 [0 10.0.0.1:5000] "GET" "k'))
    found = find_all(events)
    rejects = one(found, "capture-rejects")
    assert rejects.evidence.count == 2 and rejects.severity == "warning"  # 2 of 6 lines
    assert {r["reason"] for r in rejects.evidence.rows} == set(monitorlens.provenance(events).rejects_by_reason)
    assert [s.line for s in rejects.evidence.samples] == [5, 6]
    gaps = one(found, "capture-gaps")
    assert gaps.evidence.metrics["longest_gap_us"] == 28_000_000 and gaps.evidence.count == 1
    long = lines((0, C, "GET", "k"), (7300, C, "GET", "k"))
    assert "capture-long" in codes(find_all(long)) and "capture-short" not in codes(find_all(long))
    assert codes(find_all(lines((0, C, "GET", "k")).iloc[:0])) == ["capture-empty"]


def test_truncated_gzip() -> None:
    data = gzip.compress(b"".join(format_line(t * 1_000_000, 0, C, [b"GET", b"k"]) + b"\n" for t in range(2000)))
    events = monitorlens.read_monitor(io.BytesIO(data[: len(data) // 2]))
    assert monitorlens.provenance(events).input_truncated
    assert one(find_all(events), "capture-truncated").severity == "warning"


def test_control_bytes_are_escaped_in_samples() -> None:
    found = find_all(lines((1, C, "KEYS", "\x1b[31m*\u202e")))
    text = one(found, "keys").evidence.samples[0].text + json.dumps([f.to_dict() for f in found])
    assert "\x1b" not in text and "\u202e" not in text
    assert printable("a\x00b\x9bc\u202ed") == "a\\x00b\\x9bc\\u202ed"


def test_rules_share_one_context_and_do_not_mutate(grammar: pd.DataFrame) -> None:
    before = grammar.copy(deep=True)
    ctx = Context.of(grammar)
    assert [f.to_dict() for f in find_all(grammar, context=ctx)] == [f.to_dict() for f in find_all(grammar)]
    pd.testing.assert_frame_equal(grammar, before)
    for rule in RULES:  # each rule also runs alone
        assert isinstance(rule(grammar, Thresholds()), list)


def test_thresholds_have_defaults_and_docs() -> None:
    import ast
    import inspect

    source = inspect.getsource(Thresholds)
    body = ast.parse(source).body[0].body
    names = [n.target.id for n in body if isinstance(n, ast.AnnAssign)]
    documented = [n.target.id for n, doc in zip(body, body[1:])
                  if isinstance(n, ast.AnnAssign) and isinstance(doc, ast.Expr)]
    assert names and names == documented
    assert all(n.value is not None for n in body if isinstance(n, ast.AnnAssign))


def test_call_signatures_tell_nul_bytes_from_separators() -> None:
    from monitorlens.analysis.evidence import signatures

    calls = [[b"SORT", b"k", b"a\x00", b"b"], [b"SORT", b"k", b"a", b"\x00b"], [b"SORT", b"k", b"a\x00", b"b"],
             [b"SORT", b"k", b"a\\0", b"b"]]
    lines = [format_line(1_795_641_000_000_000 + i, 0, "127.0.0.1:5", c) + b"\n" for i, c in enumerate(calls)]
    ctx = Context.of(monitorlens.read_monitor(lines))
    codes, first = signatures(ctx, ctx.where(["SORT"]), skip=1)
    assert codes.tolist() == [0, 1, 0, 2] and first.tolist() == [0, 1, 3]
    plain = Context.of(monitorlens.read_monitor([lines[0].replace(b"\\x00", b"x")] * 2))
    assert signatures(plain, plain.where(["SORT"]))[0].tolist() == [0, 0]


def test_evidence_rows_are_typed_rows_of_plain_cells() -> None:
    """Evidence rows are Row values: read as mappings by the views, cells only plain values or
    a Call, so a numpy scalar or a Timestamp never reaches a template or the JSON."""
    import numpy as np
    import pandas as pd

    from monitorlens.analysis.findings import Call, Evidence, Row

    row = Row.of({"client": "127.0.0.1:5", "call": Call.of("GET", [b"k"]), "count": 3, "kill": False, "age": None})
    assert list(row) == ["client", "call", "count", "kill", "age"] and row["count"] == 3 and len(row) == 5
    assert row.get("missing") is None and dict(row)["client"] == "127.0.0.1:5"
    assert row == {"client": "127.0.0.1:5", "call": row["call"], "count": 3, "kill": False, "age": None}
    for bad in (np.int64(3), pd.Timestamp("2026-01-01", tz="UTC"), [1]):
        with pytest.raises(TypeError, match="not a plain value"):
            Row.of({"count": bad})
    # A plain mapping given to Evidence becomes a Row, checked the same.
    assert isinstance(Evidence(rows=({"id": 1},)).rows[0], Row)
    with pytest.raises(TypeError):
        Evidence(rows=({"id": np.int64(1)},))


def test_every_finding_of_the_samples_has_typed_rows() -> None:
    import monitorlens as ml
    from monitorlens.analysis.findings import Row

    root = Path(__file__).resolve().parents[1] / "sample_captures"
    seen = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        snapshots = ml.read_client_list(next(folder.glob("clients.log*")))
        a = ml.analyze(ml.attach_names(ml.load(next(folder.glob("monitor.txt*"))), snapshots), snapshots=snapshots)
        for f in a.findings:
            assert all(isinstance(r, Row) for r in f.evidence.rows), f.code
            seen += len(f.evidence.rows)
    assert seen > 0
