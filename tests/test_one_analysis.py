"""One analysis for every view: `summary --json` and `report --format json` list the same findings
(codes, titles, evidence), on the recorded samples and on a recording of a real redis-server."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

import monitorlens as ml
from monitorlens.cli import main
from monitorlens.testing import RedisServer, redis_server_path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_captures"
CAPTURES = {"grammar": "monitor.txt", "incident": "monitor.txt.gz", "calm": "monitor.txt.gz"}
CLIENTS = {"grammar": "clients.log", "incident": "clients.log.gz", "calm": "clients.log.gz"}


def _json_of(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def findings_of_both(capsys: pytest.CaptureFixture[str], capture: Path, *extra: str) -> tuple[list, list]:
    """The findings of `summary --json` and of `report --format json` for the same inputs."""
    summary = _json_of(capsys, "summary", str(capture), "--json", *extra)
    report = _json_of(capsys, "report", str(capture), "--format", "json", "-o", "-", *extra)
    return summary["findings"], report["findings"]


def _key(f: dict) -> tuple:
    return f["code"], f["severity"], f["title"], json.dumps(f["evidence"], sort_keys=True)


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_summary_and_report_list_the_same_findings_on_every_sample(name, capsys):
    folder = SAMPLES / name
    extra = ["--clients", str(folder / CLIENTS[name])]
    if (folder / "connections.csv").exists():
        extra += ["--connections", str(folder / "connections.csv")]
    summary, report = findings_of_both(capsys, folder / CAPTURES[name], *extra)
    assert [_key(f) for f in summary] == [_key(f) for f in report]
    if name == "incident":
        codes = {f["code"] for f in summary}
        # the CLIENT LIST findings that summary never showed before (issue 12)
        assert {"connection-leak", "monitor-clients", "output-buffers"} <= codes


def test_the_clientlist_part_is_in_the_analysis_and_in_summary_json(capsys):
    folder = SAMPLES / "incident"
    snapshots = ml.read_client_list(folder / "clients.log.gz")
    a = ml.analyze(ml.attach_names(ml.load(folder / "monitor.txt.gz"), snapshots), snapshots=snapshots)
    assert a.clientlist is not None and a.clientlist.snapshots is not None
    assert all(any(f is g for g in a.findings) for f in a.clientlist.findings)
    assert "CLIENT KILL ID" in a.clientlist.snapshots.plan_text
    doc = _json_of(capsys, "summary", str(folder / "monitor.txt.gz"), "--json", "--clients",
                   str(folder / "clients.log.gz"))
    assert doc["clientlist"]["snapshots"]["kill_plan"] == a.clientlist.snapshots.plan_text
    assert doc["clientlist"]["snapshots"]["count"] == snapshots["snapshot"].nunique()
    text = subprocess.run(["python", "-m", "monitorlens", "summary", str(folder / "monitor.txt.gz"), "--clients",
                           str(folder / "clients.log.gz")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "Connections (CLIENT LIST)" in text.stdout and "CLIENT KILL ID" in text.stdout


def test_old_build_report_with_snapshots_still_works():
    folder = SAMPLES / "grammar"
    snapshots = ml.read_client_list(folder / "clients.log")
    a = ml.analyze(ml.load(folder / "monitor.txt"))
    with pytest.deprecated_call():
        old = ml.build_report(a, snapshots=snapshots, charts=False)
    new = ml.build_report(ml.analyze(ml.load(folder / "monitor.txt"), snapshots=snapshots), charts=False)
    assert old.to_dict() == new.to_dict()


def _redis_cli_monitor(server: RedisServer, out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([*server.cli_args(), "MONITOR"], stdout=out.open("wb"), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while out.stat().st_size == 0 and time.monotonic() < deadline:  # "OK" once MONITOR runs
        time.sleep(0.02)
    return proc


@pytest.mark.skipif(redis_server_path() is None, reason="needs redis-server")
def test_same_findings_on_a_recording_of_a_real_server(tmp_path, capsys):
    pytest.importorskip("redis")
    capture, clients = tmp_path / "monitor.txt", tmp_path / "clients.log"
    with RedisServer() as server:
        monitor = _redis_cli_monitor(server, capture)
        forgotten = _redis_cli_monitor(server, tmp_path / "forgotten.txt")  # a second, forgotten MONITOR
        try:
            app = server.client(client_name="checkout")
            for i in range(50):
                app.set(f"user:{i}", "the")  # a value that is also a word of every finding's prose
                app.hgetall(f"cart:{i}")
            app.keys("user:*")
            url = f"redis://127.0.0.1:{server.port}"
            assert main(["sample", url, "--every", "0.05", "--count", "3", "-o", str(clients)]) == 0
            capsys.readouterr()
            app.get("user:1")
            deadline = time.monotonic() + 10
            while b'"get"' not in capture.read_bytes().lower() and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            for proc in (monitor, forgotten):
                proc.terminate()
                proc.wait(timeout=10)
    summary, report = findings_of_both(capsys, capture, "--clients", str(clients))
    assert [_key(f) for f in summary] == [_key(f) for f in report]
    codes = {f["code"] for f in summary}
    assert {"keys", "full-read", "monitor-clients"} <= codes


def test_old_public_names_are_aliases_of_the_new():
    assert ml.client_plot is ml.clientlist_plot and ml.client_chart is ml.clientlist_chart
