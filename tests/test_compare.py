"""compare(): two recorded captures, before (calm) and after (incident)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import monitorlens
from monitorlens.analysis.analyze import analyze
from monitorlens.analysis.comparison import compare

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


@pytest.fixture(scope="module")
def calm():
    return analyze(monitorlens.read_monitor(SAMPLES / "calm" / "monitor.txt.gz"))


@pytest.fixture(scope="module")
def incident():
    return analyze(monitorlens.read_monitor(SAMPLES / "incident" / "monitor.txt.gz"))


def test_incident_against_calm(calm, incident) -> None:
    c = compare(calm, incident)
    facts = json.loads((SAMPLES / "incident" / "facts.json").read_text())
    cmds = c.commands.set_index("command")
    # The incident's own traffic: absent from the calm capture, so "new", with its real counts.
    for name in ("KEYS", "HGETALL", "SMEMBERS", "LRANGE", "SORT", "PUBLISH"):
        assert cmds.loc[name, "change"] == "new"
        assert cmds.loc[name, "after_count"] == facts["commands"][name.lower()]
        assert cmds.loc[name, "before_count"] == 0
    # Web traffic runs at the same pace in both: its rate barely moves.
    assert 0.8 < cmds.loc["GET", "rate_change"] < 1.25
    status = dict(zip(c.findings.code + ":" + c.findings.title.str[:20], c.findings.status))
    assert any(k.startswith("keys:") and v == "new" for k, v in status.items())
    assert (c.findings.loc[c.findings.code == "full-read", "status"] == "new").all()
    doc = c.to_dict(top=5)
    json.dumps(doc)
    assert doc["after"]["events"] == facts["event_lines"]


def test_a_capture_against_itself_changes_nothing(calm) -> None:
    c = compare(calm, calm)
    assert set(c.commands.change) == {"same"}
    assert set(c.key_patterns.change) == {"same"}
    assert set(c.findings.status) == {"still"}
    assert (c.commands.before_count == c.commands.after_count).all()
