"""Connection growth: one finding per problem, leaks vs surges, maxclients.

Small literal snapshots check each rule; the recorded incident (a 75 s leak) and surge
(60 connections in 30 s) scenarios of sample_captures/, recorded from a real redis-server
by scripts/record_samples.py, check them on real CLIENT LIST output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitorlens._human import minutes_text
from monitorlens.analysis import clientlist as cs
from monitorlens.analysis.findings import Finding
from monitorlens.read.clientlist import read_client_list, read_connection_counts

from test_clients import client, snapshots

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
SHORT = cs.ClientThresholds(idle_seconds=40)
GROWTH = ("connection-leak", "connection-surge", "connection-growth", "near-maxclients")


def growth(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.code.startswith(GROWTH)]


@pytest.fixture(scope="module")
def incident() -> pd.DataFrame:
    return read_client_list(SAMPLES / "incident" / "clients.log.gz", errors="raise")


@pytest.fixture(scope="module")
def surge() -> pd.DataFrame:
    return read_client_list(SAMPLES / "surge" / "clients.log.gz", errors="raise")


@pytest.fixture(scope="module")
def surge_facts() -> dict:
    return json.loads((SAMPLES / "surge" / "facts.json").read_text())


# ------------------------------------------------------------------ one finding per problem


def test_incident_leak_is_reported_once_with_the_wider_views(incident: pd.DataFrame) -> None:
    counts = read_connection_counts(SAMPLES / "incident" / "connections.csv")
    found = cs.client_findings(incident, thresholds=SHORT, connections=counts)
    (leak,) = growth(found)
    assert leak.code == "connection-leak" and "leaky-app" in leak.title
    m = leak.evidence.metrics
    # Every snapshot lists the same 127.0.0.1 clients, so host and server grow alike; the
    # leak is most of it (the rest: clients connecting in the first seconds).
    assert m["host_growth"] == m["server_growth"] > m["last_clients"] - m["first_clients"] > 0
    assert 0.8 < m["share_of_host_growth"] == m["share_of_server_growth"] < 1
    assert f"{m['share_of_host_growth']:.0%} of host 127.0.0.1's growth" in leak.explanation
    assert m["server_log_slope_per_min"] == pytest.approx(60, rel=0.1)  # the CSV, as evidence only
    # Its idle connections are in the leak's evidence and plan, not in a second finding.
    idle = next(f for f in found if f.code == "idle-clients")
    assert "leaky-app" not in {r["name"] for r in idle.evidence.rows}
    assert "of a leaking application" in idle.title
    plan = cs.remediation_plan(incident, found)
    assert "connection-leak" in set(plan.finding)


def test_unnamed_leak_is_reported_by_host_and_named_one_by_name() -> None:
    """Named leak on host .1, unnamed leak on host .5: two findings, nothing server-wide."""
    snaps = []
    for m in range(6):
        lines = [client(1, name="web", addr="10.0.0.1:40001", age=600)]
        lines += [client(100 + i, name="leaky", addr=f"10.0.0.1:{41000 + i}") for i in range(2 * m)]
        lines += [client(200 + i, addr=f"10.0.0.5:{42000 + i}") for i in range(3 * m)]
        snaps.append((60 * m, lines))
    found = growth(cs.client_findings(snapshots(*snaps)))
    assert sorted(f.code for f in found) == ["connection-leak", "connection-leak-by-host"]
    by_host = next(f for f in found if f.code == "connection-leak-by-host")
    assert "10.0.0.5" in by_host.title
    assert {r["name"] for r in by_host.evidence.rows} == {""}
    assert by_host.evidence.metrics["share_of_server_growth"] == pytest.approx(15 / 25)
    assert "CLIENT SETNAME" in by_host.action
    named = next(f for f in found if f.code == "connection-leak")
    assert named.evidence.metrics["share_of_host_growth"] == 1.0
    assert "all of host 10.0.0.1's growth (+10)" in named.explanation


def test_growth_no_name_or_host_explains_is_server_wide() -> None:
    """Ten apps on ten hosts, each a little: only the whole server leaks."""
    snaps = []
    for m in range(11):
        lines = [client(1000 * a + i, name=f"app-{a}", addr=f"10.0.{a}.1:{40000 + i}")
                 for a in range(10) for i in range(m // 5 + (a < m % 5))]
        snaps.append((60 * m, lines))
    found = growth(cs.client_findings(snapshots(*snaps), thresholds=cs.ClientThresholds(leak_min_growth=5)))
    assert [f.code for f in found] == ["connection-growth"]
    assert "(all clients)" in found[0].title


# ------------------------------------------------------------------ surge vs leak


def test_recorded_surge_is_a_surge_not_a_leak(surge: pd.DataFrame, surge_facts: dict) -> None:
    trends = cs.connection_trends(surge, "name")
    row = trends.set_index("name").loc["surge-app"]
    assert not row.leaking and row.span_s < SHORT.leak_min_span_seconds  # too short for a leak
    found = cs.client_findings(surge, thresholds=SHORT)
    (finding,) = growth(found)
    assert finding.code == "connection-surge" and finding.severity == "warning"
    m = finding.evidence.metrics
    per_min = 60 / surge_facts["surge_period_s"]  # the recorder opened one every 0.5 s
    assert m["slope_per_min"] == pytest.approx(per_min, rel=0.1)
    at_end = surge_facts["clients_at_end_by_name"]["surge-app"]  # the last snapshot is 2 s before the end
    assert 0.85 * at_end <= m["rise"] <= at_end
    assert math.isnan(m["minutes_to_maxclients"])  # maxclients unknown
    assert "surge-app" in finding.title and "surge +" in finding.title
    assert not any(r["kill"] for r in finding.evidence.rows)  # fresh connections: nothing to kill
    assert "CLIENT KILL" not in finding.action and "levels off" in finding.action
    assert finding.evidence.metrics["share_of_host_growth"] > 0.8


def test_surge_time_to_maxclients_and_escalation(surge: pd.DataFrame) -> None:
    last = int((surge.snapshot == surge.snapshot.max()).sum())
    far = growth(cs.client_findings(surge, thresholds=cs.ClientThresholds(maxclients=100_000)))[0]
    near = growth(cs.client_findings(surge, thresholds=cs.ClientThresholds(maxclients=last + 100)))[0]
    m = far.evidence.metrics
    assert m["minutes_to_maxclients"] == pytest.approx((100_000 - last) / m["slope_per_min"])
    assert far.severity == "warning" and f"maxclients in {minutes_text(m['minutes_to_maxclients'])}" in far.title
    assert near.severity == "critical"  # under an hour at 120/min
    assert near.evidence.metrics["minutes_to_maxclients"] < 1


def test_surge_from_the_connection_log_alone(surge: pd.DataFrame) -> None:
    counts = read_connection_counts(SAMPLES / "surge" / "connections.csv")
    (found,) = cs.connection_count_findings(counts)
    assert found.code == "connection-surge-all"
    assert found.evidence.metrics["slope_per_min"] == pytest.approx(120, rel=0.15)
    # Given with the snapshots, the log is evidence of the named surge, not a second finding.
    assert [f.code for f in growth(cs.client_findings(surge, connections=counts))] == ["connection-surge"]


def test_a_pool_filling_then_flat_for_long_is_a_surge_not_a_leak() -> None:
    snaps = [(5 * k, [client(999, name="web"), *(client(i, name="pool") for i in range(min(10 * k, 40)))])
             for k in range(60)]  # 0 -> 40 in 20 s, then flat for 4.6 min
    (found,) = growth(cs.client_findings(snapshots(*snaps)))
    assert found.code == "connection-surge"
    assert found.evidence.metrics["rise"] == 40


def test_steepest_rise_window() -> None:
    t = np.arange(0, 200, 10.0)
    y = np.r_[np.zeros(10), np.arange(1, 11) * 5.0]  # flat 100 s, then +5 every 10 s
    rise, i, j = cs.steepest_rise(t, y, 60)
    assert (rise, t[j] - t[i]) == (30.0, 60.0)
    assert cs.steepest_rise(t, y[::-1], 60)[0] == 0  # only falling


# ------------------------------------------------------------------ maxclients


def test_leak_severity_escalates_as_maxclients_nears(incident: pd.DataFrame) -> None:
    def leak(limit: int | None) -> Finding:
        return next(f for f in cs.client_findings(incident, thresholds=cs.ClientThresholds(maxclients=limit))
                    if f.code == "connection-leak")

    last = int((incident.snapshot == incident.snapshot.max()).sum())
    assert leak(None).severity == "warning" and "maxclients" not in leak(None).title
    assert leak(1_000_000).severity == "warning"  # days away at 60/min
    assert leak(last + 600).severity == "critical"  # ten minutes away
    assert "in use" in leak(int(last / 0.9)).title


def test_near_maxclients_without_growth() -> None:
    flat = snapshots(*[(60 * m, [client(i, name="web") for i in range(90)]) for m in range(6)])
    assert growth(cs.client_findings(flat)) == []
    (near,) = growth(cs.client_findings(flat, thresholds=cs.ClientThresholds(maxclients=100)))
    assert near.code == "near-maxclients" and near.severity == "warning"
    (full,) = growth(cs.client_findings(flat, thresholds=cs.ClientThresholds(maxclients=92)))
    assert full.severity == "critical" and "98% of maxclients" in full.title
    assert growth(cs.client_findings(flat, thresholds=cs.ClientThresholds(maxclients=1000))) == []


def test_minutes_text() -> None:
    assert [minutes_text(m) for m in (0.01, 1.5, 90, 180, 3 * 1440)] == ["1 s", "90 s", "90 min", "3 h", "3.0 days"]
