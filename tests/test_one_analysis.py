"""One analysis for every view: `summary --json` and `report --format json` list the same findings
(codes, titles, evidence), on the recorded samples and on a recording of a real redis-server."""

from __future__ import annotations

import json
import subprocess
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
    assert all(any(f is g for g in a.findings) for f in a.clientlist.findings)  # (none unnamed here)
    assert "CLIENT KILL ID" in a.clientlist.snapshots.plan_text
    doc = _json_of(capsys, "summary", str(folder / "monitor.txt.gz"), "--json", "--clients",
                   str(folder / "clients.log.gz"))
    assert doc["clientlist"]["snapshots"]["kill_plan"] == a.clientlist.snapshots.plan_text
    assert doc["clientlist"]["snapshots"]["count"] == snapshots["snapshot"].nunique()
    text = subprocess.run(["python", "-m", "monitorlens", "summary", str(folder / "monitor.txt.gz"), "--clients",
                           str(folder / "clients.log.gz")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "Connections (CLIENT LIST)" in text.stdout and "CLIENT KILL ID" in text.stdout


def test_plot_draws_the_charts_of_the_report(tmp_path):
    """`plot KIND --clients` and the report draw each CLIENT LIST chart from the one analysis:
    the SVG that `plot` writes is the one the report inlines."""
    from monitorlens.render.plots import CLIENTLIST_CHARTS, inline_svg

    folder = SAMPLES / "incident"
    capture, clients = folder / "monitor.txt.gz", folder / "clients.log.gz"
    report = ml.make_report(capture, clients=clients)
    inlined = {c.kind: c.svg for s in report.sections for c in getattr(s, "charts", ()) if c.clients}
    assert {"connections", "growth", "idle-age", "output-buffers"} <= set(inlined) <= set(CLIENTLIST_CHARTS)
    for kind in inlined:
        drawn = ml.make_chart(kind, capture, tmp_path / f"{kind}.svg", clients=clients)
        assert inline_svg(drawn.read_text()) == inlined[kind], kind


@pytest.mark.parametrize("name", ["surge", "grammar"])
def test_unnamed_clients_are_one_finding_that_carries_both_inputs(name):
    """With a capture and CLIENT LIST, clients without a name are one problem: the capture's
    unnamed-clients, with CLIENT LIST's unnamed-connections in its evidence. Every other CLIENT
    LIST finding is in the analysis' findings as it is."""
    folder = SAMPLES / name
    snapshots = ml.read_client_list(next(folder.glob("clients.log*")))
    events = ml.attach_names(ml.load(next(folder.glob("monitor.txt*"))), snapshots)
    a = ml.analyze(events, snapshots=snapshots)
    listed = next(f for f in a.clientlist.findings if f.code == "unnamed-connections")
    codes = [f.code for f in a.findings]
    assert "unnamed-connections" not in codes and codes.count("unnamed-clients") == 1
    merged = next(f for f in a.findings if f.code == "unnamed-clients")
    alone = next(f for f in ml.analyze(events).findings if f.code == "unnamed-clients")
    assert merged.evidence.metrics["listed_unnamed_clients"] == listed.evidence.metrics["clients"]
    assert merged.evidence.metrics["listed_unnamed_hosts"] == listed.evidence.metrics["hosts"]
    assert merged.evidence.rows == alone.evidence.rows  # the capture's addresses and their events
    assert f"lists {int(listed.evidence.metrics['clients'])} unnamed connection" in merged.explanation
    others = [f for f in a.clientlist.findings if f is not listed]
    assert others and all(any(f is g for g in a.findings) for f in others)


def test_old_build_report_with_snapshots_still_works():
    folder = SAMPLES / "grammar"
    snapshots = ml.read_client_list(folder / "clients.log")
    a = ml.analyze(ml.load(folder / "monitor.txt"))
    with pytest.deprecated_call():
        old = ml.build_report(a, snapshots=snapshots, charts=False)
    new = ml.build_report(ml.analyze(ml.load(folder / "monitor.txt"), snapshots=snapshots), charts=False)
    assert old.to_dict() == new.to_dict()


def record(server: RedisServer, capture: Path, work, *, forgotten: Path | None = None) -> None:
    """Capture with redis-cli MONITOR while ``work()`` runs (and a second, forgotten MONITOR)."""
    server.record_monitor(capture, work, also=[forgotten] if forgotten is not None else [])


needs_server = pytest.mark.skipif(redis_server_path() is None, reason="needs redis-server")


@needs_server
def test_same_findings_on_a_recording_of_a_real_server(tmp_path, capsys):
    pytest.importorskip("redis")
    capture, clients = tmp_path / "monitor.txt", tmp_path / "clients.log"
    with RedisServer() as server:
        def work() -> None:
            app = server.client(client_name="checkout")
            for i in range(50):
                app.set(f"user:{i}", "the")
                app.hgetall(f"cart:{i}")
            app.keys("user:*")
            url = f"redis://127.0.0.1:{server.port}"
            assert main(["sample", url, "--every", "0.05", "--count", "3", "-o", str(clients)]) == 0
            capsys.readouterr()

        record(server, capture, work, forgotten=tmp_path / "forgotten.txt")
    summary, report = findings_of_both(capsys, capture, "--clients", str(clients))
    assert [_key(f) for f in summary] == [_key(f) for f in report]
    codes = {f["code"] for f in summary}
    assert {"keys", "full-read", "monitor-clients"} <= codes


# ----------------------------------------------------------------------------- what every view shows

SECRET = "s3cret-Pw"


def _outputs(capsys, capture: Path, tmp_path: Path, *flags: str) -> dict[str, str]:
    """Every view of a capture: summary text and JSON, report HTML, Markdown and JSON."""
    out = {}
    for name, argv in {"summary": ["summary", str(capture)], "summary.json": ["summary", str(capture), "--json"]}.items():
        assert main([*argv, *flags]) == 0
        out[name] = capsys.readouterr().out
    for fmt in ("html", "md", "json"):
        path = tmp_path / f"r.{fmt}"
        assert main(["report", str(capture), "-o", str(path), *flags]) == 0
        capsys.readouterr()
        out[f"report.{fmt}"] = path.read_text()
    return out


@needs_server
def test_values_redacted_by_role_prose_untouched(tmp_path, capsys):
    """One client sends most of the load (the dominant-client finding, whose samples are its
    first lines): a MIGRATE ... AUTH2 (Redis 7 prints its password as "(redacted)"), then SETs
    of the value 'the', a word of every finding's prose, which redaction used to cut out of it."""
    pytest.importorskip("redis")
    capture = tmp_path / "monitor.txt"
    with RedisServer(requirepass=SECRET) as target, RedisServer() as server:
        def work() -> None:
            server.client().set("to-move", "v")
            app = server.client()
            app.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "COPY", "AUTH2", "default",
                                SECRET, "KEYS", "to-move")
            for i in range(300):
                app.set(f"user:{i}", "the")

        record(server, capture, work)
    redacted = _outputs(capsys, capture, tmp_path)
    shown = _outputs(capsys, capture, tmp_path, "--show-values")
    for name, text in [*redacted.items(), *shown.items()]:
        assert SECRET not in text, name
    summary = json.loads(redacted["summary.json"])
    dominant = next(f for f in summary["findings"] if f["code"] == "dominant-client")
    assert "‹" not in dominant["title"] + dominant["explanation"] + dominant["action"]  # prose untouched
    samples = dominant["evidence"]["samples"]
    assert all(s["time"] and s["source"].startswith("127.0.0.1:") for s in samples)
    texts = " ".join(s["text"] for s in samples)
    assert '"MIGRATE"' in texts and '"(redacted)" "(redacted)"' in texts  # the server's own redaction kept
    assert '"SET" "user:0" ‹3 bytes›' in texts and '"the"' not in redacted["summary"]
    shown_texts = " ".join(s["text"] for f in json.loads(shown["summary.json"])["findings"]
                           for s in f["evidence"]["samples"])
    assert '"SET" "user:0" "the"' in shown_texts and '"the"' in shown["summary"]  # --show-values


def test_credentials_a_server_hides_from_monitor_are_never_shown(tmp_path, capsys):
    """CONFIG and ACL never reach MONITOR on a real server, AUTH is printed as (redacted) from
    6.2.4 (hidden in 5.0.10-6.2.3, in clear before) and Redis 7 redacts MIGRATE's AUTH/AUTH2:
    these lines are as a pasted or older capture has them."""
    from monitorlens.read.grammar import format_line

    argvs = [[b"AUTH", b"hunter2-old"], [b"HELLO", b"3", b"AUTH", b"default", b"hunter2-hello"],
             [b"CONFIG", b"SET", b"masterauth", b"hunter2-master"], [b"ACL", b"SETUSER", b"bob", b"on",
             b">hunter2-acl", b"~*"], [b"MIGRATE", b"10.0.0.9", b"6379", b"", b"0", b"5000", b"AUTH",
             b"hunter2-migrate", b"KEYS", b"k"], [b"FLUSHALL"]]
    ts = 1_795_641_000_000_000
    lines = [format_line(ts + i, 0, "127.0.0.1:5000", argv) + b"\n" for i, argv in enumerate(argvs * 5)]
    capture = tmp_path / "monitor.txt"
    capture.write_bytes(b"".join(lines))
    for flags in ((), ("--show-values",)):
        for name, text in _outputs(capsys, capture, tmp_path, *flags).items():
            assert "hunter2" not in text, (name, flags)


@needs_server
def test_invisible_characters_escaped_and_long_keys_cut_everywhere(tmp_path, capsys):
    pytest.importorskip("redis")
    capture = tmp_path / "monitor.txt"
    long_key = "k" * 20_000
    with RedisServer() as server:
        def work() -> None:
            app = server.client()
            for _ in range(30):
                app.get("user:\u200b1")
                app.get("user:\u202e1")
                app.hgetall(long_key)

        record(server, capture, work)
    for name, text in _outputs(capsys, capture, tmp_path).items():
        assert "\u200b" not in text and "\u202e" not in text, name
        assert long_key not in text, name
        # the terminal view cuts every cell to its width; the others say the key's size
        assert "20,000 bytes" in text or (name == "summary" and max(map(len, text.splitlines())) <= 80), name
    doc = json.loads(_outputs(capsys, capture, tmp_path)["summary.json"])
    keys = {k["key"] for k in doc["hot_keys"]}
    assert "user:\\u200b1" in keys and "k" * 200 + "... (20,000 bytes)" in keys


@pytest.mark.parametrize("name", ["incident", "surge", "grammar", "calm"])
def test_finding_titles_say_one_or_many_not_both(name, capsys):
    """A title counts in words: "1 MONITOR client left running", "2 clients blocked", never
    "client(s)"."""
    capture = next((SAMPLES / name).glob("monitor.txt*"))
    clients = next((SAMPLES / name).glob("clients.log*"))
    doc = _json_of(capsys, "summary", str(capture), "--clients", str(clients), "--json")
    titles = [f["title"] for f in doc["findings"]]
    assert titles and not [t for t in titles if "(s)" in t], titles
    if name == "incident":
        assert any(t.startswith("1 MONITOR client left running") for t in titles), titles
