"""Analysis speed against ingest speed, on the same capture, in one invocation.

    python benchmarks/record_large.py --lines 1000000 -o benchmarks/data/capture-1m.txt
    python benchmarks/bench_analysis.py benchmarks/data/capture-1m.txt --repeat 3

Each step runs ``--repeat`` times in this process, the runs interleaved (ingest, convert,
analyze, summary, then again), after a warm-up on a small sample; the medians are printed:

- ``ingest``: ``read_monitor(capture)``, text to the event DataFrame (what every
  command does first);
- ``ingest-parquet``: ``convert(capture, out.parquet)``, what ``monitorlens ingest`` does;
- ``analyze``: ``analyze(events)`` on the DataFrame: every breakdown, the
  timelines, the gaps and every finding (what ``summary`` and ``report`` compute);
- ``summary``: ``render_text`` of that analysis plus ``to_dict`` (the JSON).

The goal (issue 3): analyze takes no longer than ingest; the ratio analyze/ingest is
printed, and ``--check`` exits 1 when it is above 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import monitorlens  # noqa: E402
from monitorlens.analysis.analyze import Analysis, analyze  # noqa: E402
from monitorlens.render.summary import render_text  # noqa: E402

SMALL = Path(__file__).resolve().parents[1] / "sample_captures" / "grammar" / "monitor.txt"


def timed(fn: Callable[[], object], cpu: list[float]) -> tuple[float, object]:
    """Wall time of one call, and its result; its CPU time (all threads) is appended to ``cpu``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = fn()
    cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start, result


def summary(analysis: Analysis) -> tuple[str, dict]:
    """What ``summary`` and ``summary --json`` render from one analysis."""
    return render_text(analysis), analysis.to_dict()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="exit 1 if analyze is slower than ingest")
    ns = ap.parse_args()
    if not ns.capture.exists():
        print(f"Error: {ns.capture}: no such file; record it with benchmarks/record_large.py", file=sys.stderr)
        return 1

    # Warm up both on a small capture (imports, the command table, compiled regexes).
    analyze(monitorlens.read_monitor(SMALL))
    runs: dict[str, list[float]] = {"ingest": [], "convert": [], "analyze": [], "summary": []}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(ns.repeat):  # interleaved, so a busy machine slows every step alike
            seconds, events = timed(lambda: monitorlens.read_monitor(ns.capture), cpu["ingest"])
            runs["ingest"].append(seconds)
            runs["convert"].append(
                timed(lambda: monitorlens.convert(ns.capture, Path(tmp) / "c.parquet"), cpu["convert"])[0])
            seconds, analysis = timed(partial(analyze, events), cpu["analyze"])
            runs["analyze"].append(seconds)
            runs["summary"].append(timed(partial(summary, analysis), cpu["summary"])[0])
            ratios.append(runs["analyze"][-1] / runs["ingest"][-1])

    n = len(events)
    median = {k: statistics.median(v) for k, v in runs.items()}
    median_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"{ns.capture}: {n:,} events, median of {ns.repeat} interleaved runs (wall; CPU of all threads)")
    for key, name in (("ingest", "ingest (read_monitor)"), ("convert", "ingest to Parquet (convert)"),
                      ("analyze", "analyze"), ("summary", "summary (text + JSON)")):
        print(f"  {name:28s} {median[key]:7.3f} s  {n / median[key]:>12,.0f} events/s"
              f"   cpu {median_cpu[key]:7.3f} s")
    ratio = statistics.median(ratios)
    print(f"  analyze / ingest = {ratio:.2f} (median of per-run ratios; "
          f"{min(ratios):.2f}..{max(ratios):.2f}); analyze / convert = {median['analyze'] / median['convert']:.2f}; "
          f"CPU analyze / ingest = {median_cpu['analyze'] / median_cpu['ingest']:.2f}")
    print(f"  findings: {', '.join(f.code for f in analysis.findings)}")
    return 1 if ns.check and ratio > 1 else 0


if __name__ == "__main__":
    raise SystemExit(main())
