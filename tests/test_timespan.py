"""Memory and time follow the events, not the time span: a capture whose clock jumps a year has
a timeline of at most MAX_BUCKETS buckets (neighbours merged), charts of at most CHART_BUCKETS,
and a capture-quality finding for the jump or for a clock that steps back.

The captures are the real grammar sample with its second half shifted in time: what joining
two captures of different times, or a clock step on the server, produces.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from monitorlens.analysis.analyze import analyze
from monitorlens.analysis.breakdowns import MAX_BUCKETS, coarser, timeline
from monitorlens.analysis.stream import analyze_stream
from monitorlens.read.ingest import read_monitor
from monitorlens.render.plots.monitor import CHART_BUCKETS, traffic_plot

from test_partials import assert_same

GRAMMAR = Path(__file__).resolve().parents[1] / "sample_captures" / "grammar" / "monitor.txt"
YEAR = 365 * 86400


def shifted(out: Path, seconds: int) -> Path:
    """The grammar sample with every line of its second half ``seconds`` later."""
    lines = GRAMMAR.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    stamp = re.compile(rb"^(\d+)(\.\d+ )")
    out.write_bytes(b"".join(stamp.sub(lambda m: str(int(m[1]) + seconds).encode() + m[2], line) if i >= half
                             else line for i, line in enumerate(lines)))
    return out


@pytest.fixture
def jump(tmp_path: Path) -> Path:
    return shifted(tmp_path / "jump.txt", YEAR)


def test_a_year_jump_keeps_the_timeline_bounded(jump: Path) -> None:
    events = read_monitor(jump)
    a = analyze(events)
    assert len(a.timeline) <= MAX_BUCKETS and len(a.timeline_clients) <= MAX_BUCKETS
    assert int(a.timeline.to_numpy().sum()) == len(events)
    step = (a.timeline.index[1] - a.timeline.index[0]).total_seconds()
    assert step > 1 and np.log2(step).is_integer()  # 1 s doubled until it fits
    clock = [f for f in a.findings if f.code == "capture-clock"]
    assert len(clock) == 1 and clock[0].evidence.metrics["jumps"] == 1
    assert clock[0].evidence.metrics["largest_jump_us"] >= YEAR * 1_000_000
    assert "jumps ahead" in clock[0].title
    assert_same(a, analyze_stream(jump, workers=0, block_size=1_000))


def test_a_clock_stepping_back(tmp_path: Path) -> None:
    back = shifted(tmp_path / "back.txt", -3600)
    a = analyze(read_monitor(back))
    clock = [f for f in a.findings if f.code == "capture-clock"]
    assert len(clock) == 1 and clock[0].evidence.metrics["steps_back"] >= 1
    assert clock[0].evidence.metrics["largest_step_back_us"] >= 3_000 * 1_000_000
    assert_same(a, analyze_stream(back, workers=0, block_size=1_500))


def test_no_clock_finding_on_a_steady_capture() -> None:
    assert "capture-clock" not in {f.code for f in analyze(read_monitor(GRAMMAR)).findings}


def test_charts_are_downsampled(jump: Path) -> None:
    events = read_monitor(jump)
    wide = timeline(events, "1ms")  # a fine bucket: thousands of buckets even before the cap
    assert len(wide) > CHART_BUCKETS
    small = coarser(wide, CHART_BUCKETS)
    assert len(small) <= CHART_BUCKETS
    assert (small.sum() == wide.sum()).all()  # neighbours summed, nothing lost
    assert small.index[0] <= wide.index[0] and small.index[-1] <= wide.index[-1]
    plot = traffic_plot(wide)
    assert len(plot.layers[0].x) <= CHART_BUCKETS + 1
