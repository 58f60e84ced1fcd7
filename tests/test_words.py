"""Every metric the findings of the recorded samples carry reads as words with a unit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import monitorlens
from monitorlens.analysis import clientlist as cs
from monitorlens.analysis.rules import find_all
from monitorlens.render import words

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def sample_findings(name: str) -> list:
    folder = SAMPLES / name
    capture = next(folder.glob("monitor.txt*"))
    log = next(folder.glob("clients.log*"))
    snaps = monitorlens.read_client_list(log)
    events = monitorlens.attach_names(monitorlens.load(capture), snaps)
    found = find_all(events)
    counts = folder / "connections.csv"
    conn = monitorlens.read_connection_counts(counts) if counts.exists() else None
    found += cs.client_findings(snaps, thresholds=cs.ClientThresholds(idle_seconds=40, maxclients=1000), connections=conn)
    if conn is not None:
        found += cs.connection_count_findings(conn, maxclients=1000)
    return found


@pytest.mark.parametrize("name", ["grammar", "incident", "calm", "surge"])
def test_every_metric_of_the_samples_has_words_and_a_unit(name: str) -> None:
    seen = 0
    for finding in sample_findings(name):
        for key, value in finding.evidence.metrics.items():
            label, text = words.metric_label(key), words.metric_text(key, value)
            assert key in words.METRICS or key.startswith(tuple(words.PREFIXES)), (finding.code, key)
            assert "_" not in label
            assert text not in ("True", "False")
            # rounded: at most one decimal, whatever the float
            assert not re.search(r"\d\.\d{2,}", text), (key, text)
            seen += 1
    assert seen > 0


def test_growth_metrics_read_with_units() -> None:
    found = sample_findings("incident")
    leak = next(f for f in found if f.code == "connection-leak")
    shown = {words.metric_label(k): words.metric_text(k, v) for k, v in leak.evidence.metrics.items()}
    assert shown["growth"] == "60.0 connections/min"
    assert shown["over"] == "72.0 s"
    assert shown["steps up or flat"] == "100%"
    assert shown["time to maxclients at this rate"].endswith("min")
    assert not {"r2", "span s", "steadiness", "slope per min"} & set(shown)


def test_plural_and_flags() -> None:
    assert [words.plural(n, "key") for n in (0, 1, 2)] == ["0 keys", "1 key", "2 keys"]
    assert words.metric_text("kill", True) == "yes" and words.yes_no(False) == "no"


def test_count_says_what_it_counts() -> None:
    units = {f.code: f.evidence.unit for f in sample_findings("incident")}
    assert units["keys"] == "events" and units["connection-leak"] == "clients"
    assert units["monitor-clients"] == "clients" and units["coverage"] == "redacted arguments"
    leak = next(f for f in sample_findings("incident") if f.code == "connection-leak")
    assert leak.evidence.count == len(leak.evidence.rows) and leak.to_dict()["evidence"]["unit"] == "clients"
