"""Analysis at scale: the streaming analysis against ingest, DuckDB and the in-memory summary.

    python benchmarks/record_large.py --lines 4200000 -o benchmarks/data/capture-4.2m.txt
    pip install '.[bench]'   # duckdb, for its floor
    python benchmarks/bench_scale.py benchmarks/data/capture-4.2m.txt [--runs 3] [--check]

Every contender runs in fresh processes, all of them twice per round, rounds interleaved:
once timed, once with its memory sampled (the sum of the PSS of the process and its worker
processes, every 50 ms). The sampling reads each process' page tables, on the same cores: it
took 10% from a summary (three processes) against 2% from ingest (one), so no run is both
timed and sampled. The table gives medians of wall time and of peak memory:

- ``ingest``: ``python -m monitorlens ingest`` of the text (the floor for reading text);
- ``summary text`` / ``summary parquet``: ``python -m monitorlens summary`` (the streaming
  analysis, worker processes on every core) of the text and of the Parquet ``ingest`` wrote;
- ``report parquet``: ``python -m monitorlens report`` of that Parquet (HTML, with charts);
- ``in memory text``: ``analyze(load(text))``, the analysis holding every event (what
  ``summary`` did before);
- ``duckdb parquet``: DuckDB computing events per command, per client and per key prefix
  from that Parquet (what the issue calls the floor for a summary read from Parquet);
- ``duckdb tables``: DuckDB computing, from that Parquet, the tables ``summary`` prints (per
  command, client, second, key, key x command, key x client, pattern; the longest gaps; the
  dangerous commands' callers): a floor for the same work, which the issue's bar is not;
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
# The tables summary prints, as DuckDB computes them best (each query streams the Parquet;
# the per-key table is kept, its patterns derived from it as finalize derives them): per
# command, subcommand, client, client x command, client x db, second x command and second x
# client; per key (count, first, last, first line, reads, writes), key x command, key x
# client; patterns; the longest gaps; the calls of the dangerous commands per client. Less
# than summary does (no lua or module callers, names, evidence, sketches, findings' rules).
DUCKDB_TABLES = """
import os, sys, duckdb
from monitorlens.commands import lookup
from monitorlens.analysis.rules import DANGEROUS
p = sys.argv[1]
con = duckdb.connect()
con.execute("SET threads TO %d" % os.cpu_count())
src = f"read_parquet('{p}')"
def access(name):
    info = lookup(name) if name else None
    return 2 if info is None else 1 if "write" in info.flags else 0 if "readonly" in info.flags else 2
commands = [r[0] for r in con.execute(f"SELECT DISTINCT command::VARCHAR FROM {src}").fetchall()]
con.execute("CREATE TEMP TABLE access (command VARCHAR, a INT)")
con.executemany("INSERT INTO access VALUES (?, ?)", [(c, access(c)) for c in commands])
e = (f"(SELECT line, epoch_us(ts) AS us, db, client::VARCHAR AS client, command::VARCHAR AS command, "
     f"subcommand::VARCHAR AS subcommand, arg_bytes, keys FROM {src})")
k = f"(SELECT unnest(keys) AS key, line, us, client, command, a FROM {e} JOIN access USING (command))"
dangerous = ", ".join(f"'{n.split(' ')[0]}'" for n in DANGEROUS)
con.execute(f"CREATE TEMP TABLE keyed AS SELECT key, count(*) AS n, min(us), max(us), min(line), "
            f"sum((a = 0)::INT), sum((a = 1)::INT) FROM {k} GROUP BY 1")
for q in (
    f"SELECT command, count(*), min(us), max(us), sum(arg_bytes) FROM {e} GROUP BY 1",
    f"SELECT command, subcommand, count(*) FROM {e} GROUP BY 1, 2",
    f"SELECT client, count(*), min(us), max(us), min(line) FROM {e} GROUP BY 1",
    f"SELECT client, command, count(*) FROM {e} GROUP BY 1, 2",
    f"SELECT client, db, count(*) FROM {e} GROUP BY 1, 2",
    f"SELECT us // 1000000, command, count(*) FROM {e} GROUP BY 1, 2",
    f"SELECT us // 1000000, client, count(*) FROM {e} GROUP BY 1, 2",
    f"SELECT key, command, count(*), min(line) FROM {k} GROUP BY 1, 2",
    f"SELECT DISTINCT key, client FROM {k}",
    "SELECT regexp_replace(key, ':[0-9]+', ':{int}', 'g'), sum(n) FROM keyed GROUP BY 1",
    f"SELECT line, us - lag(us) OVER (ORDER BY line) AS gap FROM {e} ORDER BY gap DESC NULLS LAST LIMIT 10",
    f"SELECT command, client, count(*), min(line), max(line) FROM {e} WHERE command IN ({dangerous}) GROUP BY 1, 2",
):
    con.execute(f"SELECT count(*) FROM ({q})").fetchall()
"""


def run(argv: list[str], sample: bool) -> float | int:
    """Wall seconds of a process, or (``sample``) the peak memory of it and its children:
    the sum of their PSS (shared pages counted once: forked workers share what the parent
    had), sampled every 50 ms."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        if sample:
            try:
                peak = max(peak, sum(p.memory_full_info().pss for p in [ps, *ps.children(recursive=True)]))
            except psutil.Error:
                pass
        time.sleep(0.05 if sample else 0.01)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stderr.read().decode()[-2000:]}")
    return peak if sample else wall


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
        run([py, "-m", "monitorlens", "ingest", str(ns.capture), "-o", str(parquet)], sample=False)
        (work / "shards").mkdir()
        shards = split(ns.capture, work / "shards", 3)
        contenders = {
            "ingest": [py, "-m", "monitorlens", "ingest", str(ns.capture), "-o", str(work / "again.parquet")],
            "summary text": [py, "-m", "monitorlens", "summary", str(ns.capture)],
            "summary parquet": [py, "-m", "monitorlens", "summary", str(parquet)],
            "report parquet": [py, "-m", "monitorlens", "report", str(parquet), "-o", str(work / "r.html")],
            "in memory text": [py, "-c", IN_MEMORY, str(ns.capture)],
            "duckdb parquet": [py, "-c", DUCKDB, str(parquet)],
            "duckdb tables": [py, "-c", DUCKDB_TABLES, str(parquet)],
            "3 shards as one": [py, "-m", "monitorlens", "summary", str(work / "shards")],
            "3 shards in turn": ["sh", "-c", " && ".join(f"{py} -m monitorlens summary {p} >/dev/null" for p in shards)],
        }
        contenders = {k: v for k, v in contenders.items() if k not in ns.skip}
        walls: dict[str, list[float]] = {k: [] for k in contenders}
        memory: dict[str, list[float]] = {k: [] for k in contenders}
        loads = []
        for _ in range(ns.runs):
            for sample, results in ((False, walls), (True, memory)):
                for name, argv in contenders.items():
                    loads.append(os.getloadavg()[0])
                    results[name].append(run(argv, sample))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: (statistics.median(walls[k]), statistics.median(memory[k])) for k in contenders}
    lines = sum(1 for _ in open(ns.capture, "rb"))
    print(f"{ns.capture.name}: {lines:,} lines; medians of {ns.runs} interleaved runs; {os.cpu_count()} cores; "
          f"load average {min(loads):.1f}-{max(loads):.1f} during the runs")
    ratio = lambda wall, k: f"{wall / med[k][0]:>9.2f}" if k in med else f"{'-':>9}"  # noqa: E731
    print(f"{'contender':<22} {'wall s':>8} {'peak MB':>9} {'x ingest':>9} {'x duckdb':>9} {'x tables':>9}"
          "  (peak: PSS summed; x tables: x duckdb tables)")
    for name, (wall, rss) in med.items():
        print(f"{name:<22} {wall:>8.2f} {rss / 1e6:>9.0f} {ratio(wall, 'ingest')} {ratio(wall, 'duckdb parquet')} "
              f"{ratio(wall, 'duckdb tables')}")
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
