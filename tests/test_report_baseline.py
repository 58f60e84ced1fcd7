"""report --baseline: the "Compared with the baseline" section, on the shipped samples.

sample_captures/README.md: the calm capture has the same web traffic and nothing else (no
KEYS, no O(N) reads, no publisher, no leak); the incident adds them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import monitorlens as ml
from monitorlens.cli import main
from monitorlens.render.report.baseline import baseline_section

SAMPLES = Path(__file__).resolve().parent.parent / "sample_captures"
INCIDENT = SAMPLES / "incident"
CALM = SAMPLES / "calm"


def rows(section: dict, title: str) -> list[dict]:
    return next(t for t in section["tables"] if t["title"].startswith(title))["rows"]


@pytest.fixture(scope="module")
def analyses() -> tuple[ml.Analysis, ml.Analysis]:
    calm = ml.attach_names(ml.load(CALM / "monitor.txt.gz"), ml.read_client_list(CALM / "clients.log.gz"))
    incident = ml.attach_names(ml.load(INCIDENT / "monitor.txt.gz"), ml.read_client_list(INCIDENT / "clients.log.gz"))
    return ml.analyze(calm), ml.analyze(incident)


def test_section_says_what_the_incident_added(analyses) -> None:
    calm, incident = analyses
    section = baseline_section(ml.compare(calm, incident), top=50).to_dict()
    assert section["id"] == "baseline"
    commands = {r["command"]: r for r in rows(section, "Commands")}
    for command in ("KEYS", "HGETALL", "SMEMBERS", "LRANGE", "SORT", "PUBLISH"):
        assert commands[command]["change"] == "new" and commands[command]["before_count"] == 0
    assert commands["GET"]["change"] != "new" and commands["GET"]["before_count"] > 0
    clients = {r["who"]: r["change"] for r in rows(section, "Clients")}
    assert {clients[n] for n in ("leaky-app", "legacy-reports", "admin-dashboard", "news-publisher")} == {"new"}
    assert clients["web-1"] in ("same", "up", "down")
    findings = rows(section, "Findings")
    assert any(f["code"] == "keys" and f["status"] == "new" for f in findings)
    assert not any(f["status"] == "resolved" and f["code"] == "keys" for f in findings)


def test_a_capture_against_itself_changes_nothing(analyses) -> None:
    _, incident = analyses
    section = baseline_section(ml.compare(incident, incident), top=100).to_dict()
    for title in ("Commands", "Clients", "Key patterns"):
        assert {r["change"] for r in rows(section, title)} == {"same"}
    assert {f["status"] for f in rows(section, "Findings")} == {"still"}


def test_report_command_with_a_baseline(tmp_path: Path, capsys) -> None:
    out = tmp_path / "incident.json"
    code = main(["report", str(INCIDENT / "monitor.txt.gz"), "--clients", str(INCIDENT / "clients.log.gz"),
                 "--baseline", str(CALM / "monitor.txt.gz"), "--baseline-clients", str(CALM / "clients.log.gz"),
                 "-o", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    section = next(s for s in doc["sections"] if s["id"] == "baseline")
    assert {r["who"] for r in rows(section, "Clients") if r["change"] == "new"} >= {"leaky-app", "legacy-reports"}
    assert any(s["kind"] == "baseline" and s["path"].endswith("calm/monitor.txt.gz") for s in doc["header"]["sources"])
    md = tmp_path / "incident.md"
    assert main(["report", str(INCIDENT / "monitor.txt.gz"), "--baseline", str(CALM / "monitor.txt.gz"),
                 "-o", str(md)]) == 0
    assert "## Compared with the baseline" in md.read_text()


def test_without_a_baseline_there_is_no_section(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["report", str(CALM / "monitor.txt.gz"), "-o", str(out)]) == 0
    assert all(s["id"] != "baseline" for s in json.loads(out.read_text())["sections"])


def test_a_missing_baseline_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code = main(["report", str(CALM / "monitor.txt.gz"), "--baseline", str(tmp_path / "nope.txt"),
                 "-o", str(tmp_path / "r.md")])
    assert code == 1
    err = capsys.readouterr().err
    assert "nope.txt" in err and "Traceback" not in err
    assert not (tmp_path / "r.md").exists()
