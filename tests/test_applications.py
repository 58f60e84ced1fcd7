"""Traffic by application, on captures recorded from a real redis-server (sample_captures/).

The incident's leaky-app opens a connection a second (HELLO, CLIENT SETNAME, GET each): by
client it is one row of 3 events per connection, far below the top 10; by application it
is one row. The surge capture names its applications only by CLIENT SETNAME in the capture
(its web clients connected before it), and has unnamed clients over ::1 and a unix socket.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import monitorlens
from monitorlens.analysis.applications import by_application, unnamed_label
from monitorlens.analysis.breakdowns import by_client
from monitorlens.analysis.clientlist import attach_names
from monitorlens.read.clientlist import read_client_list

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def facts(scenario: str) -> dict:
    return json.loads((SAMPLES / scenario / "facts.json").read_text())


@pytest.fixture(scope="module")
def incident() -> tuple[pd.DataFrame, pd.DataFrame]:
    snaps = read_client_list(SAMPLES / "incident" / "clients.log.gz", errors="raise")
    return attach_names(monitorlens.load(SAMPLES / "incident" / "monitor.txt.gz"), snaps), snaps


@pytest.fixture(scope="module")
def surge() -> pd.DataFrame:
    return monitorlens.load(SAMPLES / "surge" / "monitor.txt.gz")


def test_incident_leaky_app_is_one_row(incident: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, snaps = incident
    lines = facts("incident")["lines_by_client_name"]
    apps = by_application(events, snaps).set_index("application")
    leaky = apps.loc["leaky-app"]
    # Each leaked connection sent HELLO, CLIENT SETNAME and GET in the capture.
    assert (leaky.events, leaky.connections) == (lines["leaky-app"], lines["leaky-app"] // 3)
    assert leaky.command_mix == "HELLO 33%, CLIENT 33%, GET 33%"
    last = snaps[snaps.snapshot == snaps.snapshot.max()]
    assert leaky.connected_at_end == (last.name == "leaky-app").sum() > leaky.connections
    assert leaky.connections_listed >= leaky.connected_at_end
    clients = by_client(events)
    assert (clients.name == "leaky-app").sum() == leaky.connections  # today: one row per connection
    assert (clients[clients.name == "leaky-app"]["count"] == 3).all()


def test_incident_events_add_up_and_lua_is_credited(incident: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, snaps = incident
    lines = facts("incident")["lines_by_client_name"]
    apps = by_application(events, snaps).set_index("application")
    assert apps.events.sum() == len(events)
    assert "lua" not in apps.index  # every script line follows the EVAL of a web client
    web = [f"web-{i}" for i in range(1, 5)]
    assert apps.loc[web, "lua_events"].sum() == lines["lua"]
    assert apps.loc[web, "events"].sum() == sum(lines[w] for w in web) + lines["lua"]
    assert apps.share.sum() == pytest.approx(1.0)
    assert (apps.loc[web, "dbs"] == "0").all()
    assert apps.loc["web-1", "rate_per_s"] == pytest.approx(apps.loc["web-1", "events"] / 30, rel=0.01)
    # Applications only CLIENT LIST saw: a row each, with no events.
    assert apps.loc["nightly-export", "events"] == 0 and apps.loc["nightly-export", "connected_at_end"] == 1
    assert apps.named.loc[["leaky-app", "web-1"]].all()


def test_surge_names_from_setname_and_unnamed_by_host(surge: pd.DataFrame) -> None:
    lines = facts("surge")["lines_by_client_name"]
    apps = by_application(surge).set_index("application")
    row = apps.loc["surge-app"]
    assert (row.events, row.connections) == (lines["surge-app"], lines["surge-app"] // 3)
    # web-1..4 and worker named themselves before the capture: unnamed, one host.
    local = apps.loc[unnamed_label("tcp", "127.0.0.1")]
    named_before = ["web-1", "web-2", "web-3", "web-4", "worker"]
    assert local.connections == len(named_before)
    assert local.events == sum(lines[n] for n in named_before) + lines["lua"]
    assert not local.named
    # The cron job (::1) and the sidecar (unix socket) poll once a second: a row each.
    assert apps.loc["(unnamed) ::1", "events"] == apps.loc["(unnamed) unix socket", "events"] == lines["(unnamed)"] // 2
    assert apps.loc["(unnamed) ::1", "command_mix"] == "GET 100%"
    assert apps.loc["(unnamed) unix socket", "command_mix"] == "EXISTS 100%"
    assert apps.events.sum() == len(surge)
    assert "connections_listed" not in apps.columns  # no CLIENT LIST given


def test_empty_and_unnamed_labels() -> None:
    empty = monitorlens.load(SAMPLES / "surge" / "monitor.txt.gz").iloc[:0]
    assert by_application(empty).empty
    assert unnamed_label("tcp6", "::1") == "(unnamed) ::1"
    assert unnamed_label("module", None) == "(unnamed) module"
