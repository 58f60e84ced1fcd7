"""`python -m monitorlens summary`: the 80-column text, --json, filters, Parquet input, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import monitorlens
from monitorlens.analysis.analyze import analyze
from monitorlens.cli import main
from monitorlens.read.grammar import format_line
from monitorlens.render.summary import render_text

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
INCIDENT = str(SAMPLES / "incident" / "monitor.txt.gz")
GRAMMAR = str(SAMPLES / "grammar" / "monitor.txt")


def facts(name: str) -> dict:
    return json.loads((SAMPLES / name / "facts.json").read_text())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["summary", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_summary_of_the_incident(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, INCIDENT)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    f = facts("incident")
    assert f"{f['event_lines']:,} events" in lines[1]
    for heading in ("Top commands", "Clients", "Key patterns", "Hot keys", "Findings"):
        assert any(line.startswith(heading) for line in lines), heading
    assert "[critical] KEYS" in out and "catalog:products" in out and "BLPOP" in out
    # sections in the order of the issue: overview, commands, clients, patterns, findings
    order = [next(i for i, line in enumerate(lines) if line.startswith(h))
             for h in ("Top commands", "Clients", "Key patterns", "Findings")]
    assert order == sorted(order)


def test_width_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, GRAMMAR, "--width", "100", "--top", "3")
    assert code == 0 and max(map(len, out.splitlines())) <= 100
    assert "(top 3 of" in out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, INCIDENT, "--json", "--top", "5")
    doc = json.loads(out)
    f = facts("incident")
    assert code == 0 and doc["events"] == f["event_lines"] and doc["rejected"] == 0
    assert doc["commands"]["KEYS"] == f["keys_calls_in_capture"]
    assert len(doc["clients"]) == 5 and all("name" in c for c in doc["clients"])
    assert "keys" in [x["code"] for x in doc["findings"]]


def test_json_with_filters(capsys: pytest.CaptureFixture[str]) -> None:
    f = facts("incident")
    code, out, _ = run(capsys, INCIDENT, "--json", "--command", "keys", "--command", "HGETALL")
    doc = json.loads(out)
    assert doc["commands"] == {"KEYS": f["keys_calls_in_capture"], "HGETALL": f["commands"]["hgetall"]}
    assert doc["filtered"] and doc["filters"] == {"command": "KEYS, HGETALL"}
    since = f["keys_calls"][1]["sent_at"]
    _, out, _ = run(capsys, INCIDENT, "--json", "--command", "keys", "--since", str(since))
    assert json.loads(out)["events"] == f["keys_calls_in_capture"] - 1


def test_parquet_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.parquet"
    assert main(["ingest", GRAMMAR, "-o", str(out)]) == 0
    capsys.readouterr()
    _, text_json, _ = run(capsys, GRAMMAR, "--json")
    _, parquet_json, _ = run(capsys, str(out), "--json")
    a, b = json.loads(text_json), json.loads(parquet_json)
    a.pop("source"), b.pop("source")
    assert a == b


@pytest.mark.parametrize("argv, message", [
    (["/no/such/capture.txt"], "no such file"),
    ([GRAMMAR, "--since", "yesterday"], "not a time"),
])
def test_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and message in err and "Traceback" not in err


def test_bad_top_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["summary", GRAMMAR, "--top", "0"])
    assert e.value.code == 2


def test_workers_option(capsys: pytest.CaptureFixture[str]) -> None:
    """--workers N picks the processes (0: this one); the answer is the same either way."""
    here = run(capsys, INCIDENT, "--workers", "0", "--json")
    pooled = run(capsys, INCIDENT, "--workers", "2", "--json")
    assert here[0] == pooled[0] == 0 and json.loads(here[1]) == json.loads(pooled[1])
    for argv in (["--workers", "-1"], ["--workers", "two"], ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]):
        with pytest.raises(SystemExit) as e:
            main(["summary", GRAMMAR, *argv])
        assert e.value.code == 2
        assert "--workers" in capsys.readouterr().err


def test_empty_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"OK\n")
    code, out, _ = run(capsys, str(empty))
    assert code == 0 and "0 events" in out and "(none)" in out and "No events" in out


def test_terminal_control_bytes_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = tmp_path / "evil.txt"
    argv = [b"SET", b"\x1b]0;pwned\x07\x1b[2J:1", b"v"], [b"CLIENT", b"SETNAME", b"\x1b[31mred"], [b"KEYS", b"\x1b*"]
    evil.write_bytes(b"".join(format_line(1_000_000 + i, 0, "10.0.0.1:1", a) + b"\n" for i, a in enumerate(argv)))
    code, out, _ = run(capsys, str(evil))
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "\\x1b" in out


def test_render_text_is_pure() -> None:
    a = analyze(monitorlens.read_monitor(GRAMMAR))
    assert render_text(a) == render_text(a)
    assert max(map(len, render_text(a, width=60).splitlines())) <= 60


def test_names_from_client_list(capsys: pytest.CaptureFixture[str]) -> None:
    """With the CLIENT LIST snapshots of the same minutes, every line gets its application:
    the lines per name are what the recorder counted (facts.json)."""
    clients = str(SAMPLES / "incident" / "clients.log.gz")
    code, out, _ = run(capsys, INCIDENT, "--json", "--top", "1000", "--clients", clients)
    doc = json.loads(out)
    per_name: dict[str, int] = {}
    for c in doc["clients"]:
        per_name[c["name"] or c["client"]] = per_name.get(c["name"] or c["client"], 0) + c["own_events"]
    expected = facts("incident")["lines_by_client_name"]
    assert code == 0 and {k: per_name.get(k, 0) for k in expected if k != "lua"} == \
        {k: v for k, v in expected.items() if k != "lua"}
    keys = next(f for f in doc["findings"] if f["code"] == "keys")
    assert keys["evidence"]["clients"][0].endswith("(legacy-reports)")
    full = [f for f in doc["findings"] if f["code"] == "full-read"]
    assert {f["evidence"]["clients"][0].split(" ")[-1] for f in full} == {"(admin-dashboard)"}
    blocking = next(f for f in doc["findings"] if f["code"] == "blocking-forever")
    assert blocking["evidence"]["clients"][0].endswith("(worker)")
    _, text, _ = run(capsys, INCIDENT, "--clients", clients, "--client", "legacy-reports")
    assert "4 events after filters" in text
