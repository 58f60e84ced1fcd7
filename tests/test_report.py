"""The report: model, redaction, escaping, determinism, formats and the report/plot commands.

Everything runs on the recorded sample captures (real redis-server output) or on lines made
with the reference grammar (grammar.format_line) for hostile keys.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from xml.etree import ElementTree

import pytest

import monitorlens as ml
from monitorlens.analysis.analyze import analyze
from monitorlens.cli import main
from monitorlens.commands import key_positions
from monitorlens.read.grammar import escape, format_line
from monitorlens.analysis.findings import Call, Sample
from monitorlens.render.redact import redact_args, redact_call, redact_line, redact_sample, redacted
from monitorlens.render.report import build_report, format_for, md_code, md_text, render_html
from monitorlens.workflows import make_report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_captures"
CAPTURES = {
    "grammar": SAMPLES / "grammar" / "monitor.txt",
    "incident": SAMPLES / "incident" / "monitor.txt.gz",
    "calm": SAMPLES / "calm" / "monitor.txt.gz",
    "surge": SAMPLES / "surge" / "monitor.txt.gz",
}
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("MONITORLENS_UPDATE_GOLDEN") == "1"


@cache
def events(name: str):
    return ml.load(CAPTURES[name])


@cache
def report(name: str, show_values: bool = False, charts: bool = False):
    return build_report(analyze(events(name)), show_values=show_values, charts=charts)


def facts(name: str) -> dict:
    return json.loads((SAMPLES / name / "facts.json").read_text())


# ----------------------------------------------------------------------------- redaction

# Where the data is, from the Redis documentation of each command (args after the name):
# an oracle independent of monitorlens.render.redact's own rules.
VALUE_POSITIONS = {
    "SET": lambda n: [1],
    "MSET": lambda n: range(1, n, 2),
    "HSET": lambda n: range(1, n),  # fields and values
    "LPUSH": lambda n: range(1, n),
    "RPUSH": lambda n: range(1, n),
    "SADD": lambda n: range(1, n),
    "ZADD": lambda n: range(2, n, 2),  # members
    "PUBLISH": lambda n: [1],
    "EVAL": lambda n: [0],
    "SCRIPT": lambda n: [1],
    "FUNCTION": lambda n: [1],
    "XADD": lambda n: range(3, n, 2),  # field values
}


def sent_values(name: str) -> set[bytes]:
    """Every value argument of the capture that is not also a key, command or client of the
    capture (those are shown by design), nor too short or common to search for."""
    ev = events(name)
    shown = "\n".join(set(ev["key"].dropna()) | set(ev["client"].astype(str)) | set(ev["command"].astype(str)))
    values = set()
    for cmd, args in zip(ev["command"].astype(str), ev["args"]):
        positions = VALUE_POSITIONS.get(cmd)
        if positions is None:
            continue
        for i in positions(len(args)):
            v = args[i]
            if re.fullmatch(rb"[a-z]{1,6}|.{0,3}", v, re.S):
                continue  # short words ("name", "lang") occur in the report's own prose
            if v.decode("utf-8", "replace") not in shown and escape(v)[1:-1].decode() not in shown:
                values.add(v)
    return values


def forms(value: bytes) -> set[str]:
    """The ways a value could appear in a report: as MONITOR prints it, decoded, escaped."""
    printed = escape(value)[1:-1].decode("ascii")
    out = {printed, html.escape(printed), json.dumps(printed)[1:-1]}
    text = value.decode("utf-8", "replace")
    if text.isprintable():
        out |= {text, html.escape(text), json.dumps(text, ensure_ascii=False)[1:-1]}
    return {f for f in out if len(f) >= 4}


@pytest.mark.parametrize("name", ["grammar", "incident"])
def test_redaction_hides_every_value_the_clients_sent(name):
    values = sent_values(name)
    assert len(values) > (10 if name == "grammar" else 100)  # the oracle found real data
    rep = report(name)
    for text in (rep.to_html(), rep.to_markdown(), rep.to_json()):
        leaked = [v for v in values if any(f in text for f in forms(v))]
        assert leaked == []


def test_show_values_puts_them_back():
    rep = report("grammar", show_values=True)
    samples = [s.text for f in rep.findings for s in f.evidence.samples]
    # the 100,000-byte value is cut by the finding's sample, but its start is shown
    assert any('"huge:blob" "xxxxxxxxxxxx' in t for t in samples)
    assert "‹" not in "".join(samples)
    assert json.loads(rep.to_json())["header"]["values"] == "shown"


def test_grammar_values_seen_by_name():
    # the values the recorder SET in the grammar capture (sample_captures/README.md)
    for value in ("value with spaces", "the empty key", "command name sent in lower case", "C:\\\\Users"):
        assert value not in report("grammar").to_html()


def test_redact_args_keys_syntax_and_numbers():
    assert redact_args("SET", [b"k", b"secret", b"EX", b"60"]) == ['"k"', redacted(6), '"EX"', '"60"']
    assert redact_args("SET", [b"k", b"42"]) == ['"k"', redacted(2)]  # a number as the value is data
    assert redact_args("LRANGE", [b"l", b"0", b"-1"]) == ['"l"', '"0"', '"-1"']
    assert redact_args("BLPOP", [b"q1", b"q2", b"0"]) == ['"q1"', '"q2"', '"0"']
    assert redact_args("HSET", [b"h", b"TYPE", b"secret"])[2] == redacted(6)  # TYPE exposes only in SCAN
    assert redact_args("SCAN", [b"0", b"MATCH", b"user:*", b"COUNT", b"100", b"TYPE", b"hash"]) == [
        '"0"', '"MATCH"', '"user:*"', '"COUNT"', '"100"', '"TYPE"', '"hash"']
    assert redact_args("PUBLISH", [b"chan", b"payload"]) == ['"chan"', redacted(7)]
    assert redact_args("CLIENT", [b"SETNAME", b"web-1"]) == ['"SETNAME"', '"web-1"']
    assert redact_args("AUTH", [b"(redacted)"]) == ['"(redacted)"']
    assert redact_args("EVAL", [b"return 1", b"1", b"k", b"arg"]) == [redacted(8), '"1"', '"k"', redacted(3)]
    assert redact_args("SET", [b"k", b"v"], show_values=True) == ['"k"', '"v"']


def test_redact_line_handles_cut_and_rejected_lines():
    head = '1795641874.277048 [0 127.0.0.1:49926] '
    assert redact_line(head + '"SET" "k" "never closed') == head + '"SET" "k" ‹12 bytes›'
    assert redact_line(head + '"SET" "k" garbage "x"') == head + '"SET" "k" ‹11 bytes›'
    assert redact_line("garbage with secrets") == redacted(20)
    assert redact_line("OK") == "OK"
    assert redact_line("Error: Server closed the connection") == "Error: Server closed the connection"
    assert redact_line(head + '"CONFIG" "SET" "requirepass" "s3cret"', show_values=True) == (
        head + '"CONFIG" "SET" "requirepass" ‹credential›')
    # the head is the grammar's, in every dialect; text that only looks like one is a value
    for other in ('1795641874.277048 (db 3) ', '1795641874.277048 ', '1795641874.277048 [0 caf\u00e9:1] '):
        assert redact_line(other + '"SET" "k" "never closed') == other + '"SET" "k" ‹12 bytes›'
    assert redact_line('17956418740000.277048 [0 a:1] "SET" "k" "v"') == redacted(43)


def test_calls_and_samples_are_redacted_by_role_from_their_bytes():
    assert redact_call(Call.of("SET", [b"k", b"v"], note="(all)")) == 'SET "k" ‹1 byte› (all)'
    assert redact_call(Call.of("SET", [b"huge:blob", b"x" * 100_000])) == 'SET "huge:blob" ‹100,000 bytes›'
    assert redact_call(Call.of("SET", [b"huge:blob", b"x" * 100_000]), show_values=True) == (
        'SET "huge:blob" "' + "x" * 40 + '..." (100,000 bytes)')
    sample = Sample(7, "", time="2026-11-25T21:25:04.5+00:00", db=0, source="127.0.0.1:5", command="SET",
                    args=(b"k", b"y" * 81), sizes=(1, 5_000))
    assert redact_sample(sample).text == '1795641904.500000 [0 127.0.0.1:5] "SET" "k" ‹5,000 bytes›'
    assert redact_sample(sample, show_values=True).text.endswith('"' + "y" * 80 + '..." (5,000 bytes)')


def test_keys_are_keys_by_the_command_table():
    # redaction shows exactly what key_positions calls keys (plus syntax), for every grammar line
    for cmd, args in zip(events("grammar")["command"].astype(str), events("grammar")["args"]):
        shown = redact_args(cmd, list(args))
        for i in key_positions(cmd, list(args))[0]:
            assert shown[i] == escape(args[i]).decode()


# ----------------------------------------------------------------------------- escaping

HOSTILE_KEYS = [
    b"<script>alert(1)</script>",
    b'"><img src=x onerror=alert(1)>',
    b"$\\frac{1}{0}$ --> <!-- x",
    b"line\nbreak \xe2\x80\xae reversed",
    b"`code` | pipe <b>bold</b>",
]


@cache
def hostile_events():
    lines, ts = [], 1_795_641_000_000_000
    for i, key in enumerate(HOSTILE_KEYS * 3):
        lines.append(format_line(ts + i * 1000, 0, f"127.0.0.1:{5000 + i % 2}", [b"SET", key, b"<script>v</script>"]))
        lines.append(format_line(ts + i * 1000 + 1, 0, "127.0.0.1:5000", [b"KEYS", key]))
    lines.append(format_line(ts + 99_000, 0, "127.0.0.1:5001", [b"CLIENT", b"SETNAME", b"<img src=x onerror=alert(2)>"]))
    return ml.read_monitor([line + b"\n" for line in lines])


@cache
def hostile_report(show_values: bool = False, charts: bool = True):
    return build_report(analyze(hostile_events()), show_values=show_values, charts=charts)


@pytest.mark.parametrize("show_values", [False, True])
def test_html_escapes_everything_from_the_capture(show_values):
    page = hostile_report(show_values).to_html()
    assert not re.search(r"<script|<img|<b>|<iframe|javascript:", page, re.I)
    assert not re.search(r"<[^>]*\son\w+\s*=", page, re.I)  # no event handler attribute anywhere
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\u202e" not in page and "\\u202e" in page  # bidi override made visible
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    # the charts are there (applications too: a client named itself); what they show of the capture is escaped text
    assert len(svgs) == 6
    assert "&lt;img src=x onerror=alert(2)&gt;" in next(s for s in svgs if "applications" in s)
    for svg in svgs:
        assert "<!--" not in svg
        ElementTree.fromstring(svg)  # well-formed XML: no label opened an element
    assert any("&lt;img src=x onerror" in svg for svg in svgs)


def test_markdown_escapes_everything_from_the_capture():
    md = hostile_report(charts=False).to_markdown()
    outside_code = re.sub(r"^```.*?^```", "", md, flags=re.S | re.M)
    outside_code = re.sub(r"(`+).*?\1", "", outside_code)  # code spans show text literally
    assert not re.search(r"(?<!\\)<", outside_code)
    # every row of a table has as many cell separators as its header: pipes in cells are escaped
    for block in re.findall(r"(?:^\|.*\n)+", md, re.M):
        counts = {len(re.findall(r"(?<!\\)\|", row)) for row in block.splitlines()}
        assert len(counts) == 1, block


def test_markdown_helpers():
    assert md_text("<b>") == "\\<b\\>"
    assert md_code("a`b") == "``a`b``"
    assert md_code("x|y") == "`x\\|y`"


def test_json_keeps_capture_text_as_data():
    doc = json.loads(hostile_report(charts=False).to_json())
    keys = [row["key"] for s in doc["sections"] for t in s["tables"] if t["title"] == "Hot keys" for row in t["rows"]]
    assert "<script>alert(1)</script>" in keys


# ----------------------------------------------------------------------------- the model


@pytest.mark.parametrize("name", ["grammar", "incident", "calm"])
def test_commands_table_matches_what_the_recorder_sent(name):
    doc = report(name).to_dict()
    table = next(t for s in doc["sections"] if s["id"] == "commands" for t in s["tables"])
    counts = {r["command"].lower().replace(" ", "|"): r["count"] for r in table["rows"]}
    expected = facts(name)["commands"]
    assert table["total"] == len(expected)
    for command, count in counts.items():
        assert expected[command] == count
    assert doc["header"]["events"] == facts(name)["event_lines"]


def test_findings_come_first_by_severity_and_all_of_them():
    rep = report("incident")
    order = {"critical": 0, "warning": 1, "info": 2}
    severities = [order[f.severity] for f in rep.findings]
    assert severities == sorted(severities)
    assert [f.code for f in rep.findings] == [f.code for f in analyze(events("incident")).findings]
    page = rep.to_html()
    assert page.index('id="findings"') < page.index('id="traffic"') < page.index('id="coverage"')


def test_header_has_provenance_and_no_time_unless_asked():
    h = report("incident").to_dict()["header"]
    assert h["lines"] == 5623 and h["events"] == 5622 and h["rejected"] == 0
    assert h["time_range"]["first"].startswith("2026-11-25T21:25:04.031511")
    assert h["dialects"] == {"2.6+": 5622}
    assert h["generated_at"] is None and h["elapsed_s"] is None
    assert h["monitorlens_version"] == ml.__version__


def test_coverage_section_says_what_monitor_cannot_show():
    rep = report("grammar")
    coverage = next(s for s in rep.sections if s.id == "coverage")
    text = " ".join(coverage.notes)
    assert "admin commands" in text and "(redacted)" in text
    assert "19 such commands" not in text  # counts AUTH/HELLO commands, not arguments
    assert "10 such commands" in text  # 2 AUTH + 8 HELLO (facts.json)


def test_rejected_lines_are_reported_redacted(tmp_path):
    capture = tmp_path / "cut.txt"
    good = format_line(1_795_641_000_000_000, 0, "127.0.0.1:5", [b"SET", b"k", b"secret-value"])
    capture.write_bytes(good + b"\n" + good[:-4] + b"\n" + b"\x00\x01 binary junk secret-value\n")
    rep = build_report(analyze(ml.load(capture)), charts=False)
    doc = rep.to_dict()
    assert doc["header"]["rejected"] == 2
    rejects = next(t for s in doc["sections"] if s["id"] == "coverage" for t in s["tables"] if "first" in t["title"])
    assert [r["line"] for r in rejects["rows"]] == [2, 3]
    assert "secret" not in rep.to_html() and "secret" not in rep.to_json()


def test_empty_capture_gives_a_report(tmp_path):
    capture = tmp_path / "empty.txt"
    capture.write_text("OK\n")
    rep = build_report(analyze(ml.load(capture)), charts=True)
    assert [(f.code, f.severity) for f in rep.findings] == [("capture-empty", "warning")]
    doc = json.loads(rep.to_json())
    assert doc["header"]["events"] == 0 and doc["header"]["skipped"] == 1
    assert [len(t["rows"]) for s in doc["sections"] for t in s["tables"]] == [0] * 6
    page = rep.to_html()
    assert "No events to analyse" in page
    # every chart is drawn, and says it has nothing to show instead of an empty frame
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(charts) == 5 and all("no events" in svg for svg in charts)


def test_repr_html_is_the_same_page():
    rep = report("grammar")
    assert rep._repr_html_() == rep.to_html() == render_html(rep)


def test_format_from_suffix():
    assert [format_for(p) for p in ("a.html", "a.HTM", "a.md", "a.json", "a")] == ["html", "html", "md", "json", "html"]


# ----------------------------------------------------------------------------- golden


def stable(doc: dict) -> dict:
    """The parts of the report model that do not depend on where the capture lives or on
    the wording of findings (their code and severity stay)."""
    doc = json.loads(json.dumps(doc))
    for s in doc["header"]["sources"]:
        s["path"] = Path(s["path"]).name
    doc["header"]["title"] = "-"
    doc["findings"] = [[f["code"], f["severity"]] for f in doc["findings"]]
    return doc


@pytest.mark.parametrize("name", ["grammar", "incident", "calm", "surge"])
def test_golden_report_model(name):
    path = GOLDEN / f"report-{name}.json"
    got = stable(report(name).to_dict())
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    if not path.exists():
        pytest.fail(f"{path} is missing: write it with MONITORLENS_UPDATE_GOLDEN=1, then review and commit it")
    assert got == json.loads(path.read_text())


def test_every_sample_capture_has_its_golden_files():
    """A new sample capture fails here until its golden files are written; no golden file is left over."""
    samples = {d.name for d in SAMPLES.iterdir() if any(d.glob("monitor.txt*"))}
    assert samples == set(CAPTURES)
    assert {p.name for p in GOLDEN.glob("*.json")} == {f"{kind}-{name}.json" for kind in ("report", "summary")
                                                        for name in samples}


# ----------------------------------------------------------------------------- CLI, determinism


def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitorlens", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_report_command_is_deterministic_across_processes(tmp_path):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"r{seed}.html"
        done = run("report", str(CAPTURES["grammar"]), "-o", str(out), env={"PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        assert "html report" in done.stdout
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert b"<svg" in outs[0] and b"http://" not in outs[0] and b"https://" not in outs[0]


def test_report_command_formats_and_timestamp(tmp_path, capsys, monkeypatch):
    assert main(["report", str(CAPTURES["grammar"]), "-o", "-", "--format", "json", "--timestamp",
                 "--command", "keys"]) == 0
    header = json.loads(capsys.readouterr().out)["header"]
    assert header["generated_at"] and header["elapsed_s"] > 0
    assert header["events"] == 2 and header["filtered"] and header["filters"] == {"command": "KEYS"}
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(CAPTURES["grammar"]), "--no-charts"]) == 0
    assert "monitor-report.html: html report" in capsys.readouterr().out
    assert (tmp_path / "monitor-report.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(CAPTURES["grammar"]), "-o", "r.md"]) == 0
    md_text_ = (tmp_path / "r.md").read_text()
    assert md_text_.startswith("# Redis MONITOR report")
    assert "`python -m monitorlens plot key-patterns CAPTURE -o key-patterns.png`" in md_text_


def test_report_command_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing.txt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error:") and err.count("\n") == 1
    assert main(["plot", "no-such-kind", str(CAPTURES["grammar"]), "-o", str(tmp_path / "x.png")]) == 1
    assert "traffic" in capsys.readouterr().err
    assert main(["plot", "traffic", str(CAPTURES["grammar"]), "-o", str(tmp_path / "x.gif")]) == 1
    assert ".png or .svg" in capsys.readouterr().err


def test_plot_command_png_and_svg(tmp_path):
    png, svg1, svg2 = tmp_path / "t.png", tmp_path / "t1.svg", tmp_path / "t2.svg"
    assert main(["plot", "traffic", str(CAPTURES["grammar"]), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for out in (svg1, svg2):
        assert main(["plot", "clients", str(CAPTURES["grammar"]), "-o", str(out), "--top", "3"]) == 0
    assert svg1.read_bytes() == svg2.read_bytes()
    assert b"<script" not in svg1.read_bytes() and b"<dc:date>" not in svg1.read_bytes()


# ----------------------------------------------------------------------------- client sections


@cache
def client_report(name: str):
    folder = SAMPLES / name
    return make_report(CAPTURES[name], clients=folder / "clients.log.gz", connections=folder / "connections.csv",
                       charts=False)


def test_client_sections_name_the_applications_and_plan_the_kills():
    rep = client_report("incident")
    doc = rep.to_dict()
    assert [s["kind"] for s in doc["header"]["sources"]] == ["monitor", "clients", "connections"]
    codes = {f["code"] for f in doc["findings"]}
    assert {"connection-leak", "monitor-clients", "output-buffers", "keys"} <= codes
    # One leak, one finding: the count log's growth is in the leak's evidence, not a finding of its own.
    assert not codes & {"connection-growth", "connection-leak-by-host"}
    leak = next(f for f in doc["findings"] if f["code"] == "connection-leak")
    assert leak["evidence"]["metrics"]["server_log_slope_per_min"] > 0
    ids = [s["id"] for s in doc["sections"]]
    assert ids[-6:] == ["connections", "idle-blocked-monitor", "output-buffers", "remediation",
                        "connection-counts", "coverage"]
    clients = next(t for s in doc["sections"] if s["id"] == "clients" for t in s["tables"])
    # the four web clients made most of the traffic (sample_captures/README.md), now by name
    assert {r["name"] for r in clients["rows"][:4]} == {"web-1", "web-2", "web-3", "web-4"}
    plan = next(s for s in doc["sections"] if s["id"] == "remediation")
    # the forgotten redis-cli MONITOR is client id 7; leaky-app's idle connections follow
    assert plan["code"].splitlines()[1] == "CLIENT KILL ID 7"
    assert "leaky-app" in plan["code"]
    assert "CLIENT KILL" in rep.to_markdown() and "CLIENT KILL ID 7" in rep.to_html()


def test_calm_clients_raise_no_leak():
    codes = {f.code for f in client_report("calm").findings}
    assert not codes & {"connection-leak", "connection-growth", "monitor-clients", "output-buffers"}


def test_client_charts_in_the_page_and_from_plot(tmp_path, capsys):
    folder = SAMPLES / "incident"
    rep = make_report(CAPTURES["grammar"], clients=SAMPLES / "grammar" / "clients.log", top=3)
    page = rep.to_html()
    for kind in ("connections", "growth", "idle-age", "output-buffers"):
        assert f'id="chart-{kind}"' in page
    assert main(["plot", "growth", str(CAPTURES["incident"]), "--clients", str(folder / "clients.log.gz"),
                 "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", "growth", str(CAPTURES["incident"]), "-o", str(tmp_path / "g.png")]) == 1
    assert "--clients" in capsys.readouterr().err
