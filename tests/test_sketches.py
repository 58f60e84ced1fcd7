"""The sketches keep their guarantees when merged; keys past the cap stay within their bounds;
hash slots are what a real Redis Cluster node answers to CLUSTER KEYSLOT."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitorlens.analysis.analyze import analyze
from monitorlens.analysis.sketches import HeavyHitters, HyperLogLog
from monitorlens.analysis.slots import SLOTS, hashed_part, key_slot, key_slots
from monitorlens.analysis.stream import analyze_stream
from monitorlens.read.ingest import read_monitor
from monitorlens.testing import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[1]
INCIDENT = ROOT / "sample_captures" / "incident" / "monitor.txt.gz"


def zipf_chunks(seed: int, chunks: int, size: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[f"k{x}" for x in rng.zipf(1.3, size)] for _ in range(chunks)]


@pytest.mark.parametrize("capacity", [5, 50])
def test_heavy_hitters_bounds_after_merges(capacity: int) -> None:
    """Exact summaries of chunks, merged in a tree and truncated: every true count is within
    [count - error, count], an absent key has at most the floor, and every key above
    total / capacity is held."""
    chunks = zipf_chunks(1, 16, 2_000)
    truth = Counter(k for c in chunks for k in c)
    parts = [HeavyHitters.exact(Counter(c)).truncated(capacity) for c in chunks]
    while len(parts) > 1:
        parts = [parts[i].merged(parts[i + 1]).truncated(capacity) for i in range(0, len(parts), 2)]
    hh = parts[0]
    assert len(hh.counts) <= capacity
    for key, n in truth.items():
        lo, hi = hh.bounds(key)
        assert lo <= n <= hi, key
    total = sum(truth.values())
    for key, n in truth.items():
        if n > 2 * total / capacity:  # the merged floor is at most ~total/capacity per level pair
            assert key in hh.counts
    assert hh.floor > 0


def test_heavy_hitters_exact_under_capacity() -> None:
    a, b = HeavyHitters.exact({"x": 3, "y": 1}), HeavyHitters.exact({"x": 2, "z": 5})
    m = a.merged(b)
    assert m.counts == {"x": 5, "y": 1, "z": 5} and m.floor == 0 and not m.errors


@pytest.mark.parametrize("n", [100, 10_000, 200_000])
def test_hyperloglog_error(n: int) -> None:
    h = HyperLogLog(14).add([f"user:{i}" for i in range(n)])
    assert abs(h.estimate() - n) / n < 4 * h.relative_error


def test_hyperloglog_merge_is_the_union() -> None:
    a = HyperLogLog(12).add([f"a{i}" for i in range(5000)] + [f"s{i}" for i in range(3000)])
    b = HyperLogLog(12).add([f"b{i}" for i in range(4000)] + [f"s{i}" for i in range(3000)])
    union = HyperLogLog(12).add([f"a{i}" for i in range(5000)] + [f"b{i}" for i in range(4000)]
                                + [f"s{i}" for i in range(3000)])
    assert np.array_equal(a.merged(b).registers, union.registers)
    assert np.array_equal(a.merged(b).registers, b.merged(a).registers)
    with pytest.raises(ValueError):
        a.merged(HyperLogLog(10))


def test_keys_past_the_cap() -> None:
    """With a cap of 20 keys: hot keys are estimates bounded by count_error around the truth,
    key patterns keep exact counts, distinct keys are estimates within the HLL error."""
    events = read_monitor(INCIDENT)
    exact = analyze(events, top=10)
    got = analyze_stream(INCIDENT, workers=0, block_size=40_000, key_cap=20)
    truth = exact.hot_keys.set_index("key")["count"]
    from monitorlens.analysis.breakdowns import hot_keys

    every = hot_keys(events).set_index("key")["count"]
    hot = got.hot_keys
    assert "count_error" in hot.columns and hot.attrs["keys_exact"] is False
    for key, count, error in zip(hot["key"], hot["count"], hot["count_error"]):
        assert count - error <= every[key] <= count
    assert hot["key"].iloc[0] == truth.index[0]  # the hottest key is found
    pd.testing.assert_frame_equal(exact.key_patterns[["pattern", "count", "reads", "writes"]],
                                  got.key_patterns[["pattern", "count", "reads", "writes"]])
    err = got.key_patterns.attrs["keys_error"]
    for want, est in zip(exact.key_patterns["keys"], got.key_patterns["keys"]):
        assert abs(est - want) <= max(2, 4 * err * want)


def test_hash_tags() -> None:
    assert hashed_part(b"{user1000}.following") == b"user1000"
    assert hashed_part(b"foo{}{bar}") == b"foo{}{bar}"  # an empty first tag: the whole key
    assert hashed_part(b"foo{{bar}}zap") == b"{bar"
    assert hashed_part(b"foo{bar}{zap}") == b"bar"
    assert key_slot(b"123456789") == 0x31C3 % SLOTS  # the CRC16-XMODEM check value


def test_slots_against_a_cluster_node(tmp_path: Path) -> None:
    """The slot of keys of every shape equals CLUSTER KEYSLOT on a real cluster-enabled server."""
    keys = ["foo", "bar", "", "user:1000", "{user1000}.following", "{user1000}.followers", "foo{}{bar}",
            "foo{{bar}}zap", "foo{bar}{zap}", "{}", "{", "}", "a{b", "é{ü}x", "key:" + "x" * 300,
            "\x00\xff", *[f"k{i}" for i in range(200)], *["ab" * i + "c" * (i % 2) for i in range(1, 80)]]
    # The cluster bus port is given: by default it is the port + 10000, too high for a free port.
    with RedisServer(config={"cluster-enabled": "yes", "cluster-port": str(free_port())}) as server:
        r = server.client()
        want = [int(r.execute_command("CLUSTER", "KEYSLOT", k)) for k in keys]
    data = [k.encode("utf-8", "surrogateescape") for k in keys]
    assert key_slots(data).tolist() == want
    assert [key_slot(k) for k in data] == want
    assert key_slots(pa.array(data, pa.binary()).slice(3)).tolist() == want[3:]  # as a block's keys come


def test_client_pairs_past_their_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past CLIENT_PAIRS (key, client) pairs only the most referenced keys keep theirs: hot keys'
    ``clients`` become lower bounds, said by ``attrs["clients_exact"]``; counts stay exact."""
    from monitorlens.analysis import partials

    exact = analyze(read_monitor(INCIDENT)).hot_keys
    assert exact.attrs.get("clients_exact", True)
    monkeypatch.setattr(partials, "CLIENT_PAIRS", 40)
    got = analyze_stream(INCIDENT, workers=0, block_size=40_000).hot_keys
    assert got.attrs["clients_exact"] is False
    pd.testing.assert_series_equal(exact["count"], got["count"])
    assert (got["clients"] <= exact["clients"]).all() and got["clients"].iat[0] == exact["clients"].iat[0]
