"""Captures of several nodes analysed as one: per-node load, per-slot load, and the hot-node and
hot-slot findings, on captures recorded from a real redis-server."""

from __future__ import annotations

from pathlib import Path

from monitorlens.analysis.slots import key_slot
from monitorlens.analysis.stream import aggregate
from monitorlens.testing import RedisServer

GRAMMAR = Path(__file__).resolve().parents[1] / "sample_captures" / "grammar" / "monitor.txt"


def record_cart(out: Path) -> Path:
    """Traffic most of which goes to the keys of one hash tag, {cart:1}."""
    with RedisServer() as server:

        def work() -> None:
            r = server.client()
            for i in range(250):
                r.hincrby("{cart:1}:items", f"sku{i % 5}", 1)
                r.incr("{cart:1}:total")
                if i % 3 == 0:
                    r.get(f"user:{i}")

        server.record_monitor(out, work)
    return out


def test_hot_slot_and_hot_node(tmp_path: Path) -> None:
    for node in "abc":
        (tmp_path / f"node={node}").mkdir()
    record_cart(tmp_path / "node=a" / "monitor.txt")
    for node in "bc":
        (tmp_path / f"node={node}" / "monitor.txt").write_bytes(GRAMMAR.read_bytes())
    agg = aggregate(tmp_path, workers=0)
    nodes = agg.nodes()
    assert nodes["node"].tolist()[0] == "a" and set(nodes["node"]) == {"a", "b", "c"}
    slots = agg.slots()
    assert slots["slot"].iat[0] == key_slot(b"{cart:1}:items") == key_slot(b"cart:1")
    found = {f.code: f for f in agg.analysis().findings}
    assert "hot-slot" in found and found["hot-slot"].evidence.metrics["slot"] == key_slot(b"cart:1")
    assert found["hot-slot"].evidence.count == slots["count"].iat[0]
    assert "hot-node" in found and "Node a" in found["hot-node"].title


def test_one_node_has_no_cluster_findings() -> None:
    codes = {f.code for f in aggregate(GRAMMAR, workers=0).analysis().findings}
    assert not {"hot-slot", "hot-node"} & codes


def test_summary_of_a_folder_shows_nodes_and_slots(tmp_path: Path, capsys) -> None:
    import json

    from monitorlens.cli import main

    for node in "ab":
        (tmp_path / f"node={node}").mkdir()
        (tmp_path / f"node={node}" / "monitor.txt").write_bytes(GRAMMAR.read_bytes())
    assert main(["summary", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [n["node"] for n in doc["nodes"]] == ["a", "b"] and doc["events"] == 2 * doc["nodes"][0]["count"]
    assert doc["slots"] and all(0 <= s["slot"] < 16384 for s in doc["slots"])
    assert main(["summary", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Nodes (captures analysed as one)" in text and "hash slots" in text


def test_samples_name_their_node_when_there_are_several(tmp_path: Path) -> None:
    from monitorlens.render.summary import render_text

    for node in "ab":
        (tmp_path / f"node={node}").mkdir()
        (tmp_path / f"node={node}" / "monitor.txt").write_bytes(GRAMMAR.read_bytes())
    several = aggregate(tmp_path, workers=0).analysis()
    samples = [s for f in several.findings for s in f.evidence.samples if s.command is not None]
    assert samples and {s.node for s in samples} <= {"a", "b"}
    assert all(s.to_dict()["node"] == s.node for s in samples)
    first = samples[0]
    assert f"{first.node} line {first.line}: " in render_text(several, width=200)
    one = aggregate(GRAMMAR, workers=0).analysis()
    alone = [s for f in one.findings for s in f.evidence.samples]
    assert alone and all(s.node == "" and "node" not in s.to_dict() for s in alone)
    assert "monitor line" not in render_text(one, width=200)
