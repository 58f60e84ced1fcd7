"""What a responder reads first, through the command line, on recorded captures.

The incident (a leak of 60 connections a minute, 75 s of CLIENT LIST), the calm day and the
surge (60 connections in 30 s) of sample_captures/ were recorded from a real redis-server by
scripts/record_samples.py; `sample` runs against a throwaway real server.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitorlens.cli import main
from monitorlens.testing import RedisServer, redis_server_path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_captures"
INCIDENT = SAMPLES / "incident"
WITH_LISTS = [str(INCIDENT / "monitor.txt.gz"), "--clients", str(INCIDENT / "clients.log.gz"),
              "--connections", str(INCIDENT / "connections.csv")]
GROWTH = ("connection-leak", "connection-surge", "connection-growth", "near-maxclients")


def facts(name: str) -> dict:
    return json.loads((SAMPLES / name / "facts.json").read_text())


def summary_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["summary", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# ----------------------------------------------------------------------- applications


def test_summary_json_has_applications(capsys: pytest.CaptureFixture[str]) -> None:
    doc = summary_json(capsys, *WITH_LISTS, "--top", "20")
    apps = {a["application"]: a for a in doc["applications"]}
    leaky = apps["leaky-app"]
    lines = facts("incident")["lines_by_client_name"]
    assert (leaky["events"], leaky["connections"]) == (lines["leaky-app"], lines["leaky-app"] // 3)
    assert leaky["connected_at_end"] > leaky["connections"] and leaky["named"] is True
    assert doc["applications_total"] == len(apps) >= 10
    assert sum(a["events"] for a in doc["applications"]) == doc["events"]
    # by client, the same app is one small row per connection
    rows = [c for c in doc["clients"] if c["name"] == "leaky-app"]
    assert rows and all(c["events"] == 3 for c in rows)


def test_summary_text_shows_applications_and_counts_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", *WITH_LISTS]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  leaky-app\s+30\s+72\s+90\b", out, re.M)  # conns, at end, events
    header = int(re.search(r"^  (\d+) clients, ", out, re.M).group(1))
    table = int(re.search(r"^Clients .*\(top \d+ of (\d+)\)", out, re.M).group(1))
    assert header == table == 38  # lua lines are their callers': 39 sources, 38 clients
    assert "True" not in out and "False" not in out


def test_without_names_there_is_no_applications_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(SAMPLES / "calm" / "monitor.txt.gz")]) == 0
    assert "Applications" not in capsys.readouterr().out


# ----------------------------------------------------------------------- one finding, maxclients


def test_one_leak_one_finding_and_maxclients_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    plain = summary_json(capsys, *WITH_LISTS)
    (leak,) = [f for f in plain["findings"] if f["code"].startswith(GROWTH)]
    assert leak["code"] == "connection-leak" and leak["severity"] == "warning"
    assert "maxclients in" not in leak["title"] and leak["evidence"]["metrics"]["minutes_to_maxclients"] is None
    near = summary_json(capsys, *WITH_LISTS, "--maxclients", "1000")
    (leak,) = [f for f in near["findings"] if f["code"].startswith(GROWTH)]
    minutes = leak["evidence"]["metrics"]["minutes_to_maxclients"]
    assert leak["severity"] == "critical" and 10 < minutes < 20  # (1000 - 89) / 60 a minute
    assert "maxclients in 15 min" in leak["title"]
    assert near["clientlist"]["maxclients"] == 1000
    far = summary_json(capsys, *WITH_LISTS, "--maxclients", "1000000")
    assert [f["severity"] for f in far["findings"] if f["code"] == "connection-leak"] == ["warning"]
    with pytest.raises(SystemExit):
        main(["summary", *WITH_LISTS, "--maxclients", "0"])
    capsys.readouterr()


def test_recorded_surge_through_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    folder = SAMPLES / "surge"
    doc = summary_json(capsys, str(folder / "monitor.txt.gz"), "--clients", str(folder / "clients.log.gz"),
                       "--connections", str(folder / "connections.csv"), "--maxclients", "10000")
    (surge,) = [f for f in doc["findings"] if f["code"].startswith(GROWTH)]
    assert surge["code"] == "connection-surge" and "surge-app" in surge["title"]
    assert surge["evidence"]["metrics"]["slope_per_min"] == pytest.approx(60 / facts("surge")["surge_period_s"], rel=0.1)
    assert surge["severity"] == "warning" and "maxclients in" in surge["title"]  # 10,000 is over an hour away
    apps = {a["application"]: a for a in doc["applications"]}
    assert apps["surge-app"]["connections"] == facts("surge")["lines_by_client_name"]["surge-app"] // 3


# ----------------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def incident_report(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("report")
    pages = {}
    for fmt in ("html", "md"):
        path = out / f"r.{fmt}"
        assert main(["report", *WITH_LISTS, "--maxclients", "1000", "--title", "INC-4242: <leaky> app", "-o",
                     str(path)]) == 0
        pages[fmt] = path.read_text()
    return pages


def test_title(incident_report: dict[str, str]) -> None:
    html = incident_report["html"]
    assert "<title>INC-4242: &lt;leaky&gt; app</title>" in html and "<h1>INC-4242: &lt;leaky&gt; app</h1>" in html
    assert incident_report["md"].startswith("# INC-4242: \\<leaky\\> app")


def test_numbers_read_right(incident_report: dict[str, str]) -> None:
    md, html = incident_report["md"], incident_report["html"]
    prose = re.sub(r"```.*?```", "", md, flags=re.S)  # sample lines keep their raw timestamps
    assert not re.search(r"\b(True|False)\b", prose) and not re.search(r">(True|False)<", html)
    assert not re.search(r"\d\.\d{4,}", prose)  # floats rounded
    for raw in ("r2", "span s", "steadiness", "slope per min", "minutes to maxclients"):
        assert f"- {raw}:" not in prose
    assert "- Growth: 60\\.0 connections/min" in prose and "- Steps up or flat: 100%" in prose
    assert "1 keys" not in html and "1 key" in html
    # the findings' Count says what it counts
    counts = re.findall(r'<td class="int">([^<]*)</td></tr>', html.split('<table class="summary">')[1].split("</table>")[0])
    assert counts and all(re.fullmatch(r"\d[\d,]* [a-z -]+", c) for c in counts), counts
    assert "72 clients" in counts and "4 events" in counts
    # one time format per table
    for table in re.findall(r"<table.*?</table>", html, re.S):
        times = re.findall(r'<td class="time">([^<]*)</td>', table)
        shapes = {re.sub(r"\d", "0", t) for t in times if t != "–"}
        assert len(shapes) <= 1, shapes


def test_addresses_are_kept_whole_in_html(incident_report: dict[str, str]) -> None:
    html = incident_report["html"]
    assert '<span class="addr">127.0.0.1:32982</span>' in html
    text = re.sub(r"<svg.*?</svg>|<pre.*?</pre>", "", html, flags=re.S)
    bare = re.findall(r'(?<!<span class="addr">)\b\d{1,3}(?:\.\d{1,3}){3}:\d+', text)
    assert bare == []


def test_baseline_comes_first_and_compares_client_list_findings(tmp_path: Path) -> None:
    calm = SAMPLES / "calm"
    out = tmp_path / "r.json"
    assert main(["report", *WITH_LISTS, "--baseline", str(calm / "monitor.txt.gz"), "--baseline-clients",
                 str(calm / "clients.log.gz"), "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["sections"][0]["id"] == "baseline"
    findings = next(t for t in doc["sections"][0]["tables"] if t["title"].startswith("Findings"))
    status = {r["code"]: r for r in findings["rows"]}
    assert "connection-leak" in status and "monitor-clients" in status  # CLIENT LIST findings, new
    assert status["connection-leak"]["status"] == "new" and status["blocked-clients"]["status"] == "still"
    # Without the baseline's CLIENT LIST, its CLIENT LIST findings are not called new.
    assert main(["report", *WITH_LISTS, "--baseline", str(calm / "monitor.txt.gz"), "-o", str(out)]) == 0
    findings = next(t for t in json.loads(out.read_text())["sections"][0]["tables"] if t["title"].startswith("Findings"))
    status = {r["code"]: r["status"] for r in findings["rows"]}
    assert status["connection-leak"] == "no CLIENT LIST on one side" and status["keys"] == "new"


# ----------------------------------------------------------------------- progress


def on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; return its code, stdout and what the terminal got."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "monitorlens", *argv], stdout=subprocess.PIPE, stderr=slave,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    os.close(slave)
    seen = b""
    while True:  # bounded: the child closes the terminal when it ends
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out = proc.communicate(timeout=120)[0]
    os.close(master)
    return proc.returncode, out.decode(), seen.decode(errors="replace")


def test_long_runs_speak_on_a_terminal_only(tmp_path: Path) -> None:
    argv = ["report", *WITH_LISTS, "-o", str(tmp_path / "r.html")]
    code, _, terminal = on_a_terminal(argv, {"MONITORLENS_PROGRESS_AFTER": "0"})
    assert code == 0
    lines = f"{facts('incident')['event_lines'] + 1:,} lines"
    assert lines in terminal and "analysing" in terminal and "writing the report" in terminal
    code, _, terminal = on_a_terminal(argv, {"MONITORLENS_PROGRESS_AFTER": "60"})  # quicker than the delay
    assert code == 0 and terminal == ""
    piped = subprocess.run([sys.executable, "-m", "monitorlens", "summary", *WITH_LISTS], capture_output=True,
                           text=True, timeout=120, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT), "MONITORLENS_PROGRESS_AFTER": "0"})
    assert piped.returncode == 0 and piped.stderr == ""  # not a terminal: silent
    code, out, terminal = on_a_terminal(["summary", *WITH_LISTS], {"MONITORLENS_PROGRESS_AFTER": "0"})
    assert code == 0 and "analysing" in terminal and "analysing" not in out


@pytest.mark.skipif(redis_server_path() is None, reason="needs redis-server")
def test_sample_speaks_on_a_terminal(tmp_path: Path) -> None:
    with RedisServer() as server:
        log = tmp_path / "clients.log"
        code, out, terminal = on_a_terminal(
            ["sample", f"redis://127.0.0.1:{server.port}", "--every", "0.2", "--count", "3", "-o", str(log)],
            {"MONITORLENS_PROGRESS_AFTER": "0"})
    assert code == 0 and "3 CLIENT LIST snapshots" in out
    assert "snapshot 3 of 3" in terminal and log.read_text().count("\n# ") == 2


@pytest.mark.skipif(redis_server_path() is None, reason="needs redis-server")
def test_maxclients_from_a_capture_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bundle's server.json says maxclients; --maxclients, when given, wins."""
    folder = tmp_path / "bundle"
    with RedisServer() as server:
        apps = [server.client(client_name=f"app-{i}", single_connection_client=True) for i in range(8)]
        for app in apps:
            app.ping()
        admin = server.client(single_connection_client=True)
        admin.config_set("maxclients", 12)  # the capture's two connections + 8 apps + admin: 11 of 12
        done = subprocess.run(
            [sys.executable, "-m", "monitorlens", "capture", "-s", server.unix_path, "-o", str(folder),
             "--duration", "1", "--baseline", "0.2", "--guard-every", "0.25", "--every", "0.3", "--max-drop", "100%"],
            capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        for c in (*apps, admin):
            c.close()
    assert done.returncode == 0, done.stderr
    assert json.loads((folder / "server.json").read_text())["maxclients"] == 12
    doc = summary_json(capsys, str(folder))
    assert doc["clientlist"]["maxclients"] == 12
    (near,) = [f for f in doc["findings"] if f["code"] == "near-maxclients"]
    assert near["severity"] in ("warning", "critical") and "of maxclients (12)" in near["title"]
    assert summary_json(capsys, str(folder), "--maxclients", "10000")["clientlist"]["maxclients"] == 10000
    assert not [f for f in summary_json(capsys, str(folder), "--maxclients", "10000")["findings"]
                if f["code"] == "near-maxclients"]
