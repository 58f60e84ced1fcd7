"""CLIENT LIST analysis: counts, trends, churn, findings, the kill plan and names for MONITOR.

Rules are checked on small literal snapshots built here; the recorded incident and calm
scenarios (sample_captures/, recorded from a real redis-server) check that each real
problem is found and that a normal day raises nothing.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import monitorlens
from monitorlens.analysis import clientlist as cs
from monitorlens.read.clientlist import read_app_counts, read_client_list, read_connection_counts
from monitorlens.analysis.findings import Evidence, Finding

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
T0 = 1_700_000_000


def client(cid: int, *, name: str = "", age: int = 10, idle: int = 0, flags: str = "N", omem: int = 0,
           qbuf: int = 0, cmd: str = "get", addr: str | None = None) -> str:  # fmt: skip
    addr = addr or f"10.0.0.{cid % 7}:{40000 + cid}"
    return (
        f"id={cid} addr={addr} laddr=10.0.0.9:6379 fd={cid + 5} name={name} age={age} idle={idle} "
        f"flags={flags} db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf={qbuf} qbuf-free=0 argv-mem=0 "
        f"multi-mem=0 rbs=1024 rbp=0 obl=0 oll={omem // 16384} omem={omem} tot-mem={22000 + omem} "
        f"events=r cmd={cmd} user=default redir=-1 resp=3"
    )


def snapshots(*snaps: tuple[float, list[str]]) -> pd.DataFrame:
    """A CLIENT LIST log: (seconds after T0, client lines) per snapshot."""
    text = "".join(f"# {T0 + t:.6f}\n" + "".join(line + "\n" for line in lines) for t, lines in snaps)
    return read_client_list(io.BytesIO(text.encode()), errors="raise")


def leak(minutes: int = 10, per_min: int = 1) -> pd.DataFrame:
    """A steady web client, and app 'leaky' opening per_min connections a minute, never closing."""
    snaps = []
    for m in range(minutes + 1):
        lines = [client(1, name="web", age=60 * m + 10)]
        lines += [client(100 + i, name="leaky", age=60 * (m - i // per_min), idle=60 * (m - i // per_min))
                  for i in range(m * per_min)]  # fmt: skip
        snaps.append((60 * m, lines))
    return snapshots(*snaps)


def plain(values: pd.Series) -> list[object]:
    """Values with every kind of null as None."""
    return [None if pd.isna(v) else v for v in values]


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def find(findings: list[Finding], code: str) -> Finding:
    (found,) = [f for f in findings if f.code == code]
    return found


# -------------------------------------------------------------------- counting


def test_counts_fill_absent_values_with_zero() -> None:
    df = snapshots((0, [client(1, name="a"), client(2, name="b")]), (5, [client(1, name="a")]))
    counts = cs.client_counts(df, "name")
    assert counts[["snapshot", "name", "clients"]].values.tolist() == [[0, "a", 1], [0, "b", 1], [1, "a", 1], [1, "b", 0]]
    by_type = cs.client_counts(snapshots((0, [client(1, flags="O"), client(2, flags="P"), client(3)])))
    assert dict(zip(by_type.client_type, by_type.clients)) == {"monitor": 1, "normal": 1, "pubsub": 1}
    with pytest.raises(KeyError, match="try one of"):
        cs.client_counts(df, "nope")


def test_theil_sen_ignores_an_outlier() -> None:
    x = np.arange(10.0)
    y = 2 * x + 1
    y[7] = 500
    assert cs.theil_sen(x, y) == (2.0, 1.0)
    assert np.isnan(cs.theil_sen(np.array([1.0, 1.0]), np.array([1.0, 5.0]))[0])


def test_leak_trend_and_time_to_maxclients() -> None:
    trends = cs.connection_trends(leak(minutes=10, per_min=2), "name", maxclients=100).set_index("name")
    leaky, web = trends.loc["leaky"], trends.loc["web"]
    assert leaky.slope_per_min == pytest.approx(2.0)
    assert leaky.steadiness == 1.0 and leaky.r2 == pytest.approx(1.0) and leaky.leaking
    assert leaky.first_clients == 0 and leaky.last_clients == 20 and leaky.span_s == 600
    # 21 connected at the end (20 leaked + web): (100 - 21) / 2 per minute.
    assert leaky.minutes_to_maxclients == pytest.approx(39.5)
    assert web.slope_per_min == 0 and not web.leaking


@pytest.mark.parametrize(
    ("thresholds", "leaking"),
    [
        (cs.ClientThresholds(), True),
        (cs.ClientThresholds(leak_slope_per_min=1.5), False),
        (cs.ClientThresholds(leak_min_snapshots=12), False),  # 11 snapshots
        (cs.ClientThresholds(leak_min_span_seconds=3600), False),
        (cs.ClientThresholds(leak_min_growth=11), False),  # 10 clients over the span
    ],
)
def test_leak_thresholds(thresholds: cs.ClientThresholds, leaking: bool) -> None:
    trends = cs.connection_trends(leak(), "name", thresholds=thresholds).set_index("name")
    assert trends.loc["leaky", "leaking"] == leaking


def test_a_spike_that_comes_back_is_no_leak() -> None:
    counts = [5, 5, 5, 40, 5, 5, 5, 5, 5, 5]
    df = pd.DataFrame({"ts": pd.to_datetime([T0 + 60 * i for i in range(10)], unit="s", utc=True), "clients": counts})
    trend = cs.count_trend(df)
    assert trend.slope_per_min.iloc[0] == 0 and not trend.leaking.iloc[0]
    assert cs.connection_count_findings(df) == []


def test_churn_from_id_gaps() -> None:
    df = snapshots((0, [client(1), client(2), client(3)]), (30, [client(1), client(2), client(7)]))
    churn = cs.client_churn(df)
    assert churn[["opened", "closed", "short_lived"]].values.tolist() == [[1, 1, 3]]  # 4, 5, 6 unseen
    assert churn.short_lived_per_min.iloc[0] == pytest.approx(6.0)
    assert churn.opened_per_min.iloc[0] == pytest.approx(8.0)
    found = cs.client_findings(df, thresholds=cs.ClientThresholds(churn_per_min=5))
    assert find(found, "connection-churn").evidence.count == 3
    assert "connection-churn" not in codes(cs.client_findings(df))


# -------------------------------------------------------------------- findings


def test_second_monitor_is_the_forgotten_one() -> None:
    df = snapshots(
        (0, [client(3, flags="O", age=500), client(9, flags="O", age=5), client(4, name="web")]),
        (5, [client(3, flags="O", age=505), client(4, name="web")]),
    )
    f = find(cs.client_findings(df), "monitor-clients")
    assert f.severity == "warning"
    assert {r["id"]: r["kill"] for r in f.evidence.rows} == {3: True, 9: False}
    plan = cs.remediation_plan(df, [f])
    assert plan.command.tolist() == ["CLIENT KILL ID 3"]
    assert "forgotten MONITOR, running 505 s" in plan.reason.iloc[0]


def test_one_young_monitor_is_fine_and_an_old_one_is_not() -> None:
    assert cs.client_findings(snapshots((0, [client(3, flags="O", age=30)]))) == []
    old = cs.client_findings(snapshots((0, [client(3, flags="O", age=7200)])))
    assert codes(old) == ["monitor-clients"]


def test_blocked_clients_and_on_what() -> None:
    df = snapshots((0, [client(1, name="worker", flags="b", cmd="blpop"), client(2, flags="b", cmd="xread", idle=900)]))
    f = find(cs.client_findings(df), "blocked-clients")
    assert f.severity == "warning"  # one waits 900 s >= 300 s
    assert "blpop (1)" in f.title and "xread (1)" in f.title
    quiet = find(cs.client_findings(snapshots((0, [client(1, flags="b", cmd="blpop")]))), "blocked-clients")
    assert quiet.severity == "info"


def test_idle_ignores_subscribers_monitors_and_blocked() -> None:
    df = snapshots(
        (0, [client(1, name="cron", idle=4000), client(2, flags="P", idle=9000), client(3, flags="b", idle=9000),
             client(4, flags="O", age=50, idle=9000), client(5, name="fresh", idle=10)])
    )  # fmt: skip
    f = find(cs.client_findings(df), "idle-clients")
    assert [r["id"] for r in f.evidence.rows] == [1]
    assert cs.remediation_plan(df, [f]).id.tolist() == [1]
    assert "idle-clients" not in codes(cs.client_findings(df, thresholds=cs.ClientThresholds(idle_seconds=5000)))


def test_output_and_query_buffers() -> None:
    df = snapshots(
        (0, [client(1, flags="P", omem=2 * cs.MiB), client(2, name="big", qbuf=40 * cs.MiB)]),
        (60, [client(1, flags="P", omem=4 * cs.MiB), client(2, name="big")]),
    )
    found = cs.client_findings(df)
    out = find(found, "output-buffers")
    assert out.severity == "warning" and "pub/sub backlog" in out.title
    assert out.evidence.rows[0]["omem"] == 4 * cs.MiB
    assert out.evidence.rows[0]["growth_bytes_per_min"] == pytest.approx(2 * cs.MiB)
    assert find(found, "query-buffers").severity == "critical"  # 40 MiB >= 32 MiB
    crit = cs.client_findings(snapshots((0, [client(1, omem=11 * cs.MiB)])))
    assert find(crit, "output-buffers").severity == "critical" and "slow consumer" in crit[0].title


def test_close_asap_and_unnamed() -> None:
    df = snapshots((0, [client(1, flags="A", name="x"), client(2), client(3, cmd="client|list"), client(4, flags="O")]))
    found = cs.client_findings(df)
    assert [r["id"] for r in find(found, "closing-clients").evidence.rows] == [1]
    # Not counted as unnamed: the snapshot taker (cmd client|list) and the MONITOR.
    assert [r["id"] for r in find(found, "unnamed-connections").evidence.rows] == [2]


def test_findings_are_sorted_and_json_ready() -> None:
    df = leak()
    found = cs.client_findings(df, thresholds=cs.ClientThresholds(idle_seconds=120))
    order = [monitorlens.analysis.findings.SEVERITY_ORDER[f.severity] for f in found]
    assert order == sorted(order)
    json.dumps([f.to_dict() for f in found])  # evidence holds plain values only
    assert cs.client_findings(df.iloc[:0]) == []


def test_remediation_never_kills_replication_links_or_gone_clients() -> None:
    df = snapshots(
        (0, [client(1, flags="S"), client(2, flags="M"), client(3, name="gone"), client(4, name="idle")]),
        (5, [client(1, flags="S"), client(2, flags="M"), client(4, name="idle")]),
    )
    rows = tuple({"id": i, "kill": True} for i in (1, 2, 3, 4))
    made_up = Finding("idle-clients", "warning", "t", "e", "a", Evidence(rows=rows))
    plan = cs.remediation_plan(df, [made_up])
    assert plan.id.tolist() == [4]
    assert list(plan.columns) == list(cs.PLAN_COLUMNS)
    assert cs.plan_text(plan).splitlines()[1] == "CLIENT KILL ID 4"


def test_leak_plan_kills_only_idle_connections_of_the_app() -> None:
    df = leak(minutes=10)
    found = cs.client_findings(df)
    leak_finding = find(found, "connection-leak")
    assert leak_finding.title.startswith("Connections named leaky grow 1.0/min")
    plan = cs.remediation_plan(df, found)
    # Leaked connection i was opened in minute i: idle 60 * (10 - i) s, >= 60 s for i <= 9.
    assert sorted(plan.id) == list(range(100, 110))
    assert set(plan.finding) == {"connection-leak"}


def test_inputs_are_not_mutated() -> None:
    df = leak()
    before = df.copy()
    cs.client_findings(df, thresholds=cs.ClientThresholds(idle_seconds=1))
    cs.connection_trends(df, "host")
    cs.client_churn(df)
    pd.testing.assert_frame_equal(df, before)


# ---------------------------------------------------------- names for MONITOR


def events(*rows: tuple[float, str, str, list[bytes]]) -> pd.DataFrame:
    """MONITOR events with the columns names come from (as read_monitor makes them): (seconds
    after T0, source, command, args after the command)."""
    return pd.DataFrame(
        {
            "ts": pd.to_datetime([T0 + r[0] for r in rows], unit="s", utc=True).as_unit("us"),
            "client": pd.Categorical([r[1] for r in rows]),
            "command": [r[2] for r in rows],
            "subcommand": [r[3][0].decode().upper() if r[2] == "CLIENT" else None for r in rows],
            "args": pd.Series([r[3] for r in rows], dtype=pd.ArrowDtype(pa.list_(pa.binary()))),
            "nargs": [len(r[3]) for r in rows],
        }
    )


def test_names_follow_time_when_an_address_is_reused() -> None:
    a = "10.0.0.1:5000"
    snaps = snapshots(
        (100, [client(1, name="old-app", age=90, addr=a)]),
        (200, [client(2, name="new-app", age=30, addr=a)]),  # connected at 170 on the same port
    )
    ev = events(
        (50, a, "GET", [b"k"]),  # old-app: connected at 10, listed at 100
        (150, a, "GET", [b"k"]),  # after old-app's last listing, before the port was reused
        (180, a, "GET", [b"k"]),  # new-app, connected at 170
        (230, a, "GET", [b"k"]),  # after the last snapshot, within 60 s
        (400, a, "GET", [b"k"]),  # too long after anything
        (5, a, "GET", [b"k"]),  # before old-app connected
    )
    named = cs.attach_names(ev, snaps)
    assert plain(named.name) == ["old-app", "old-app", "new-app", "new-app", None, None]
    assert plain(named.client_id) == [1, 1, 2, 2, None, None]
    assert named.user.tolist()[:4] == ["default"] * 4
    assert "name" not in ev.columns  # a new frame; the input is left alone


def test_setname_in_the_capture_names_from_then_on() -> None:
    a, b = "10.0.0.1:5000", "[::1]:6000"
    snaps = snapshots((100, [client(1, name="", age=90, addr=a)]))
    ev = events(
        (20, a, "GET", [b"k"]),
        (30, a, "CLIENT", [b"SETNAME", b"renamed"]),
        (40, a, "GET", [b"k"]),
        (10, b, "HELLO", [b"3", b"SETNAME", b"v6-app"]),
        (11, b, "GET", [b"k"]),
    )
    named = cs.attach_names(ev, snaps)
    assert named.name.tolist() == ["", "renamed", "renamed", "v6-app", "v6-app"]
    assert named.name_source.tolist() == ["client-list", "setname", "setname", "setname", "setname"]
    assert plain(named.user) == ["default", "default", "default", None, None]


def test_unix_clients_are_named_only_when_unambiguous() -> None:
    sock = "/run/redis.sock:0"
    one = snapshots((100, [client(1, name="a", addr=sock, flags="U")]))
    two_same = snapshots((100, [client(1, name="a", addr=sock, flags="U"), client(2, name="a", addr=sock, flags="U")]))
    two = snapshots((100, [client(1, name="a", addr=sock, flags="U"), client(2, name="b", addr=sock, flags="U")]))
    ev = events((95, "unix:/run/redis.sock", "GET", [b"k"]), (96, "lua", "GET", [b"k"]))
    assert cs.attach_names(ev, one).name.pipe(plain) == ["a", None]
    assert cs.attach_names(ev, two_same).name.pipe(plain) == ["a", None]
    assert cs.attach_names(ev, two).name.pipe(plain) == [None, None]
    assert cs.attach_names(ev, two).client_id.isna().all()
    setname = events((95, "unix:/run/redis.sock", "CLIENT", [b"SETNAME", b"x"]))
    assert cs.attach_names(setname, two).name.isna().all()


# ------------------------------------------------------------ recorded scenarios


@pytest.fixture(scope="module")
def incident() -> pd.DataFrame:
    return read_client_list(SAMPLES / "incident" / "clients.log.gz", errors="raise")


@pytest.fixture(scope="module")
def facts() -> dict:
    return json.loads((SAMPLES / "incident" / "facts.json").read_text())


# A recording cannot wait an hour: the idle threshold is lowered to 40 s. The incident
# runs 75 s (nightly-export idles from its start); calm runs 30 s, so none of its clients
# can be idle that long.
SHORT = cs.ClientThresholds(idle_seconds=40)


def test_incident_problems_are_all_found(incident: pd.DataFrame, facts: dict) -> None:
    found = cs.client_findings(incident, thresholds=SHORT)
    monitor = find(found, "monitor-clients")
    assert [r["id"] for r in monitor.evidence.rows if r["kill"]] == [facts["forgotten_monitor_id"]]
    assert monitor.evidence.metrics["monitor_clients_max"] == 2  # the capture overlapped it
    blocked = find(found, "blocked-clients")
    assert [(r["name"], r["cmd"]) for r in blocked.evidence.rows] == [("worker", "blpop")]
    idle = find(found, "idle-clients")
    assert "nightly-export" in {r["name"] for r in idle.evidence.rows}
    out = find(found, "output-buffers")
    top = out.evidence.rows[0]
    assert top["name"] == facts["subscriber"]["name"]
    assert cs.MiB <= top["omem"] <= facts["subscriber"]["omem_at_end"]
    assert top["growth_bytes_per_min"] > 0
    leak_finding = find(found, "connection-leak")
    assert "leaky-app" in leak_finding.title
    # The recorder opens one leaky-app connection a second: 60 a minute.
    assert leak_finding.evidence.metrics["slope_per_min"] == pytest.approx(60, rel=0.1)
    # One leak, one finding: the host and the server are wider views of it, in its evidence.
    assert [f.code for f in found if f.code.startswith("connection")] == ["connection-leak"]


def test_incident_plan(incident: pd.DataFrame, facts: dict) -> None:
    found = cs.client_findings(incident, thresholds=SHORT)
    plan = cs.remediation_plan(incident, found)
    assert facts["forgotten_monitor_id"] in plan.id.tolist()
    assert "nightly-export" in plan.name.tolist()
    assert set(plan.name) <= {"", "nightly-export", "leaky-app", "recorder"}
    assert plan.id.is_unique
    assert (plan.command == "CLIENT KILL ID " + plan.id.astype(str)).all()


def test_incident_connection_counts(facts: dict) -> None:
    counts = read_connection_counts(SAMPLES / "incident" / "connections.csv")
    (growth,) = cs.connection_count_findings(counts, maxclients=10_000)
    assert growth.code == "connection-growth"
    assert growth.evidence.metrics["slope_per_min"] == pytest.approx(60, rel=0.1)
    assert growth.evidence.metrics["minutes_to_maxclients"] > 0


def test_incident_app_counts_give_one_point_each(facts: dict) -> None:
    counts = read_app_counts(SAMPLES / "incident" / facts["connections_by_app_file"])
    trends = cs.growth_trends(counts, "value")
    assert (trends.snapshots == 1).all() and not trends.leaking.any()  # one file: no trend yet


def test_calm_raises_nothing() -> None:
    calm = read_client_list(SAMPLES / "calm" / "clients.log.gz", errors="raise")
    found = cs.client_findings(calm, thresholds=SHORT, maxclients=10_000)
    # calm runs the same worker on BLPOP jobs 0 as the incident (README): reported as
    # information, never as a problem.
    assert [(f.code, f.severity) for f in found] == [("blocked-clients", "info")]
    assert cs.remediation_plan(calm, found).empty
    counts = read_connection_counts(SAMPLES / "calm" / "connections.csv")
    assert cs.connection_count_findings(counts) == []


@pytest.mark.parametrize("scenario", ["grammar", "incident"])
def test_names_for_recorded_captures(scenario: str) -> None:
    """attach_names gives each capture line the name the recorder knew its sender by."""
    facts = json.loads((SAMPLES / scenario / "facts.json").read_text())
    capture = next(p for p in (SAMPLES / scenario).glob("monitor.txt*"))
    logs = next(p for p in (SAMPLES / scenario).glob("clients.log*"))
    named = cs.attach_names(monitorlens.read_monitor(capture), read_client_list(logs))
    label = named.name.fillna("lua").replace("", "(unnamed)")
    assert (named.client.astype(str)[named.name.isna()] == "lua").all()
    assert label.value_counts().to_dict() == facts["lines_by_client_name"]
