"""Analysis at scale: the streaming analysis against ingest, DuckDB and the in-memory summary.

    python benchmarks/record_large.py --lines 4200000 -o benchmarks/data/capture-4.2m.txt
    pip install '.[bench]'   # duckdb, for its floor
    python benchmarks/bench_scale.py benchmarks/data/capture-4.2m.txt [--runs 3] [--check]

Every contender runs in a fresh process, all of them once per round, rounds interleaved;
the table gives medians of wall time and of peak memory (the sum of the PSS of the process
and its worker processes, sampled every 50 ms):

- ``ingest``: ``python -m monitorlens ingest`` of the text (the floor for reading text);
- ``summary text`` / ``summary parquet``: ``python -m monitorlens summary`` (the streaming
  analysis, worker processes on every core) of the text and of the Parquet ``ingest`` wrote;
- ``report parquet``: ``python -m monitorlens report`` of that Parquet (HTML, with charts);
- ``in memory text``: ``analyze(load(text))``, the analysis holding every event (what
  ``summary`` did before);
- ``duckdb parquet``: DuckDB computing events per command, per client and per key prefix
  from that Parquet (what the issue calls the floor for a summary read from Parquet);
- ``3 shards as one`` / ``3 shards in turn``: the capture cut in three shards (folders
  ``node=a``, ``node=b``, ``node=c``): ``summary`` of their folder, against three ``summary``
  commands one after another.

``--check`` fails unless: summary text <= 1.3x ingest; summary parquet <= 3x duckdb;
report <= 1.5x summary; every summary/report peak < 1 GiB; 3 shards as one faster than in turn.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
GIB = 1 << 30

IN_MEMORY = ("from monitorlens.store import load; from monitorlens.analysis.analyze import analyze; import sys; "
             "print(analyze(load(sys.argv[1])).overview.events)")
DUCKDB = """
import sys, duckdb
p = sys.argv[1]
con = duckdb.connect()
con.execute("SET threads TO %d" % __import__("os").cpu_count())
src = f"read_parquet('{p}')"
con.execute(f"SELECT command, count(*) FROM {src} GROUP BY 1").fetchall()
con.execute(f"SELECT client, count(*) FROM {src} GROUP BY 1").fetchall()
con.execute(f"SELECT split_part(k, ':', 1), count(*) FROM (SELECT unnest(keys) AS k FROM {src}) GROUP BY 1").fetchall()
"""


def run(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak memory of a process and its children: the sum of their PSS
    (shared pages counted once: forked workers share what the parent had), sampled."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            total = sum(p.memory_full_info().pss for p in [ps, *ps.children(recursive=True)])
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stderr.read().decode()[-2000:]}")
    return wall, peak


def split(capture: Path, into: Path, n: int) -> list[str]:
    """The capture cut into ``n`` consecutive shards of whole lines, ``node=a/monitor.txt``..."""
    with open(capture, "rb") as f:
        lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
    paths = []
    with open(capture, "rb") as f:
        for i in range(n):
            node = into / f"node={chr(ord('a') + i)}"
            node.mkdir()
            with open(node / "monitor.txt", "wb") as out:
                for _ in range(lines // n if i < n - 1 else lines):
                    line = f.readline()
                    if not line:
                        break
                    out.write(line)
            paths.append(str(node / "monitor.txt"))
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--skip", action="append", default=[], metavar="CONTENDER",
                    help="leave a contender out (e.g. 'in memory text' at 34M lines: 13 GB)")
    ns = ap.parse_args()
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=ns.capture.parent))
    try:
        parquet = work / "capture.parquet"
        run([py, "-m", "monitorlens", "ingest", str(ns.capture), "-o", str(parquet)])
        (work / "shards").mkdir()
        shards = split(ns.capture, work / "shards", 3)
        contenders = {
            "ingest": [py, "-m", "monitorlens", "ingest", str(ns.capture), "-o", str(work / "again.parquet")],
            "summary text": [py, "-m", "monitorlens", "summary", str(ns.capture)],
            "summary parquet": [py, "-m", "monitorlens", "summary", str(parquet)],
            "report parquet": [py, "-m", "monitorlens", "report", str(parquet), "-o", str(work / "r.html")],
            "in memory text": [py, "-c", IN_MEMORY, str(ns.capture)],
            "duckdb parquet": [py, "-c", DUCKDB, str(parquet)],
            "3 shards as one": [py, "-m", "monitorlens", "summary", str(work / "shards")],
            "3 shards in turn": ["sh", "-c", " && ".join(f"{py} -m monitorlens summary {p} >/dev/null" for p in shards)],
        }
        contenders = {k: v for k, v in contenders.items() if k not in ns.skip}
        results: dict[str, list[tuple[float, int]]] = {k: [] for k in contenders}
        loads = []
        for _ in range(ns.runs):
            for name, argv in contenders.items():
                loads.append(os.getloadavg()[0])
                results[name].append(run(argv))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in results.items()}
    lines = sum(1 for _ in open(ns.capture, "rb"))
    print(f"{ns.capture.name}: {lines:,} lines; medians of {ns.runs} interleaved runs; {os.cpu_count()} cores; "
          f"load average {min(loads):.1f}-{max(loads):.1f} during the runs")
    print(f"{'contender':<22} {'wall s':>8} {'peak MB':>9} {'x ingest':>9} {'x duckdb':>9}  (peak: PSS summed)")
    for name, (wall, rss) in med.items():
        print(f"{name:<22} {wall:>8.2f} {rss / 1e6:>9.0f} {wall / med['ingest'][0]:>9.2f} "
              f"{wall / med['duckdb parquet'][0]:>9.2f}")
    took = lambda k: med[k][0]  # noqa: E731
    peaks = [k for k in ("summary text", "summary parquet", "report parquet", "3 shards as one") if k in med]
    checks = {  # what each needs, and whether it holds (a contender left out leaves its checks out)
        "summary text <= 1.3x ingest": (("summary text", "ingest"), lambda: took("summary text") <= 1.3 * took("ingest")),
        "summary parquet <= 3x duckdb": (("summary parquet", "duckdb parquet"),
                                         lambda: took("summary parquet") <= 3 * took("duckdb parquet")),
        "report <= 1.5x summary": (("report parquet", "summary parquet"),
                                   lambda: took("report parquet") <= 1.5 * took("summary parquet")),
        "summary/report peaks < 1 GiB": ((), lambda: all(med[k][1] < GIB for k in peaks)),
        "3 shards as one faster than in turn": (("3 shards as one", "3 shards in turn"),
                                                lambda: took("3 shards as one") < took("3 shards in turn")),
    }
    verdicts = {what: test() for what, (needs, test) in checks.items() if all(k in med for k in needs)}
    for what, ok in verdicts.items():
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    return 1 if ns.check and not all(verdicts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
