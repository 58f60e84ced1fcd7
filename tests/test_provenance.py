"""Provenance.counted and Provenance.combined: the one way every reader and the streaming
analysis build a provenance."""

from __future__ import annotations

import gzip
from pathlib import Path

import monitorlens as ml
from monitorlens.read.schema import Provenance

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def test_counted_splits_ignorable_reasons_from_rejects():
    p = Provenance.counted("x", "monitor", lines=10, events=6, reasons={"truncated": 1, "ok-reply": 1, "garbage": 2},
                           ignorable={"ok-reply"}, first_ts=None, last_ts=None, dialects={"2.6+": 6, "2.4": 0})
    assert p.rejected == 3 and p.rejects_by_reason == {"garbage": 2, "truncated": 1}
    assert p.skipped == {"ok-reply": 1}
    assert p.dialects == {"2.6+": 6}
    assert p.monitorlens_version == ml.__version__


def test_combined_sums_counts_spans_times_and_names_sources_of_rejects(tmp_path):
    # two real recordings, each with a bad line: garbage in one, a cut last line in the other
    (tmp_path / "a.txt").write_bytes((SAMPLES / "grammar" / "monitor.txt").read_bytes() + b"not a monitor line\n")
    lines = gzip.decompress((SAMPLES / "incident" / "monitor.txt.gz").read_bytes()).splitlines(keepends=True)
    (tmp_path / "b.txt").write_bytes(b"".join(lines[:100]) + lines[100][:25])
    a = ml.provenance(ml.read_monitor(tmp_path / "a.txt"))
    b = ml.provenance(ml.read_monitor(tmp_path / "b.txt"))
    assert a.rejected == 1 and b.rejected == 1
    both = Provenance.combined([a, b])
    assert both.lines == a.lines + b.lines and both.events == a.events + b.events
    assert both.rejected == a.rejected + b.rejected
    assert both.first_ts == min(a.first_ts, b.first_ts) and both.last_ts == max(a.last_ts, b.last_ts)
    assert len(both.rejects) == 2
    assert all(text.startswith((f"{a.source}: ", f"{b.source}: ")) for _, _, text in both.rejects)
    # pieces of one source keep their texts: line numbers already say where
    same = Provenance.combined([a, a], "one")
    assert same.source == "one" and same.rejects[: len(a.rejects)] == a.rejects
    assert Provenance.combined([a]) is a
