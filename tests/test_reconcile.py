"""Reconciliation rules that a live 7.0 server cannot show: older servers, missing INFO.
The counts against a real server are checked in test_capture.py."""

from __future__ import annotations

import pandas as pd

from monitorlens.analysis.reconcile import reconcile, shown_counts
from monitorlens.read.ingest import read_monitor

LINES = (
    b'1795000000.000001 [0 127.0.0.1:5] "CLIENT" "SETNAME" "web"\n'
    b'1795000000.000002 [0 127.0.0.1:5] "GET" "k"\n'
    b'1795000000.000003 [0 127.0.0.1:5] "get" "k"\n'
)


def stats(**calls: int) -> dict:
    return {"commandstats": {f"cmdstat_{k.replace('__', '|')}": {"calls": v, "failed_calls": 0, "rejected_calls": 0}
                             for k, v in calls.items()}}  # fmt: skip


def test_subcommands_are_merged_before_7_and_split_from_7(tmp_path) -> None:
    (tmp_path / "m.txt").write_bytes(LINES)
    events = read_monitor(tmp_path / "m.txt")
    assert shown_counts(events) == {"get": 2, "client|setname": 1}
    assert shown_counts(events, split_subcommands=False) == {"get": 2, "client": 1}
    server = {"version": "6.2.14", "before": stats(get=10), "after": stats(get=12, client=1),
              "capture": {"exact": True}}  # fmt: skip
    rec = reconcile(events, server)
    assert rec is not None and rec.mismatched.empty and rec.lines()[:2] == ["GET: 2 shown, 2 run", "CLIENT: 1 shown, 1 run"]
    server7 = {**server, "version": "7.0.15", "after": stats(get=13, client__setname=1)}
    rec7 = reconcile(events, server7)
    assert rec7.table.set_index("command").loc["get", "unseen"] == 1  # one GET ran that MONITOR did not show
    assert list(rec7.mismatched["command"]) == ["get"]


def test_no_reconciliation_without_both_infos() -> None:
    assert reconcile(pd.DataFrame(), {"version": "7.0.15", "before": stats(get=1), "after": None}) is None


def test_to_dict_is_plain_json(tmp_path) -> None:
    import json

    (tmp_path / "m.txt").write_bytes(LINES)
    server = {"version": "7.0.15", "maxclients": 64, "before": stats(get=1),
              "after": stats(get=3, client__setname=1, config__get=2), "capture": {"exact": True}}  # fmt: skip
    d = reconcile(read_monitor(tmp_path / "m.txt"), server).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["maxclients"] == 64 and d["shown"] == 3 and d["run"] == 5
    assert {"command": "config|get", "shown": 0, "unkept": 0, "run": 2, "own_unseen": 0, "unseen": 2, "failed": 0,
            "rejected": 0, "hidden": True, "others": 2} in d["commands"]
