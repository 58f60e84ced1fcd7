"""Report speed against ingest speed, on the same capture, in one invocation.

    python benchmarks/record_large.py --lines 1000000 -o benchmarks/data/capture-1m.txt
    python benchmarks/bench_report.py benchmarks/data/capture-1m.txt --repeat 3

After a warm-up on a small sample (imports, templates), each step runs
``--repeat`` times, interleaved (ingest, then the report, then again), and the medians
are printed:

- ``ingest``: ``read_monitor(capture)``, the capture text to the event DataFrame only;
- ``convert``: ``convert(capture, out.parquet)``, what ``python -m monitorlens ingest``
  does: ingesting, as issue 2 defines it;
- ``report``: ``make_report(capture).to_html()``, what ``python -m monitorlens report
  CAPTURE -o report.html`` does: read the capture, analyse it, draw the five charts as
  SVG, redact and render the page. Its parts are timed again one by one (analyze,
  build_report with charts, to_html) from the same events, to show where the time goes.

Then, as an operator runs them, the two commands in fresh processes, ``--repeat`` times
each, interleaved: ``python -m monitorlens ingest CAPTURE -o x.parquet`` and ``python -m
monitorlens report CAPTURE -o x.html`` (imports and all; monitorlens' modules byte-compiled
first, as an installed package has them).

The goal (issue 5): the report in under 2x the time of ingesting; the ratios are
printed, and ``--check`` exits 1 when the commands' ratio is 2 or more.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import monitorlens  # noqa: E402
from monitorlens.analysis.analyze import analyze  # noqa: E402
from monitorlens.render.report import build_report  # noqa: E402
from monitorlens.workflows import make_report  # noqa: E402

GOAL = 2.0  # report / ingest
SMALL = ROOT / "sample_captures" / "grammar" / "monitor.txt"


def seconds_of(fn: Callable[[], object]) -> tuple[float, object]:
    """Wall time of one call, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--check", action="store_true", help=f"exit 1 if the report takes {GOAL}x ingest or more")
    ap.add_argument("--commands-only", action="store_true", help="time only the two commands")
    ns = ap.parse_args()
    if not ns.capture.exists():
        print(f"Error: {ns.capture}: no such file; record it with benchmarks/record_large.py", file=sys.stderr)
        return 1
    if ns.commands_only:
        with tempfile.TemporaryDirectory() as tmp:
            ratio = commands(ns.capture.resolve(), ns.repeat, Path(tmp))
        return 1 if ns.check and ratio >= GOAL else 0

    make_report(SMALL).to_html()  # warm-up: imports, fonts, templates
    runs: dict[str, list[float]] = {"ingest": [], "convert": [], "report": [], "analyze": [], "build": [],
                                    "html": []}
    ratios, to_convert = [], []
    tmp = tempfile.TemporaryDirectory()
    for _ in range(ns.repeat):  # interleaved, so a busy machine slows every step alike
        seconds, events = seconds_of(lambda: monitorlens.read_monitor(ns.capture))
        runs["ingest"].append(seconds)
        runs["convert"].append(seconds_of(lambda: monitorlens.convert(ns.capture, Path(tmp.name) / "c.parquet"))[0])
        seconds, page = seconds_of(lambda: make_report(ns.capture).to_html())
        runs["report"].append(seconds)
        ratios.append(runs["report"][-1] / runs["ingest"][-1])
        to_convert.append(runs["report"][-1] / runs["convert"][-1])
        seconds, analysis = seconds_of(partial(analyze, events))
        runs["analyze"].append(seconds)
        seconds, report = seconds_of(partial(build_report, analysis))
        runs["build"].append(seconds)
        runs["html"].append(seconds_of(report.to_html)[0])

    n = len(events)
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(f"{ns.capture}: {n:,} events, median of {ns.repeat} interleaved runs")
    for key, name in (("ingest", "ingest (read_monitor)"), ("convert", "ingest to Parquet (convert)"),
                      ("report", "report (make_report + to_html)"),
                      ("analyze", "  of which analyze"), ("build", "  of which build_report (charts)"),
                      ("html", "  of which to_html")):
        print(f"  {name:34s} {median[key]:7.3f} s")
    print(f"  report / convert = {statistics.median(to_convert):.2f} (median of per-run ratios; "
          f"{min(to_convert):.2f}..{max(to_convert):.2f}): against ingesting to Parquet; goal < {GOAL}")
    print(f"  report / read_monitor = {statistics.median(ratios):.2f} ({min(ratios):.2f}..{max(ratios):.2f}): "
          "against reading into a DataFrame only (the strictest reading)")
    added = median["build"] + median["html"]
    print(f"  what the report adds to the shared analysis (charts, redaction, page): {added:.3f} s "
          f"= {added / median['ingest']:.2f} x ingest")
    print(f"  page: {len(page.encode()):,} bytes, {page.count('<svg')} charts, {len(report.findings)} findings")
    cli_ratio = commands(ns.capture.resolve(), ns.repeat, Path(tmp.name))
    return 1 if ns.check and cli_ratio >= GOAL else 0


def commands(capture: Path, repeat: int, tmp: Path) -> float:
    """Median times of ``ingest`` and ``report`` run as commands, interleaved; their ratio."""
    compileall.compile_dir(ROOT / "monitorlens", quiet=1)  # as installed: byte-compiled
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    def run(*args: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "monitorlens", *args], env=env, cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    small = str(SMALL)
    run("ingest", small, "-o", "w.parquet")  # warm-up: page cache
    run("report", small, "-o", "w.html")
    times: dict[str, list[float]] = {"ingest": [], "report": []}
    ratios = []
    for i in range(repeat):
        for step in (("ingest", "report") if i % 2 == 0 else ("report", "ingest")):
            out = "x.parquet" if step == "ingest" else "x.html"
            times[step].append(run(step, str(capture), "-o", out))
        ratios.append(times["report"][-1] / times["ingest"][-1])
    ingest, report = statistics.median(times["ingest"]), statistics.median(times["report"])
    print(f"commands, {repeat} interleaved runs (python -m monitorlens ...):")
    print(f"  ingest CAPTURE -o x.parquet        {ingest:7.3f} s   {[round(t, 2) for t in times['ingest']]}")
    print(f"  report CAPTURE -o x.html           {report:7.3f} s   {[round(t, 2) for t in times['report']]}")
    ratio = statistics.median(ratios)
    print(f"  report / ingest = {ratio:.2f} (median of per-run ratios; {min(ratios):.2f}..{max(ratios):.2f}); "
          f"goal < {GOAL}")
    return ratio


if __name__ == "__main__":
    raise SystemExit(main())
