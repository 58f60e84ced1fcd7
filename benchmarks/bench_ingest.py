"""Ingest speed and memory: monitorlens against the common line-by-line regex script and the floor.

    python benchmarks/record_large.py --lines 1000000 -o benchmarks/data/capture-1m.txt
    python benchmarks/bench_ingest.py benchmarks/data/capture-1m.txt --repeat 3
    python benchmarks/bench_ingest.py benchmarks/data/capture-1m.txt --repeat 9 --check \
        --only monitorlens regex-script floor-arrow   # exits 1 unless issue 2's targets hold

In one invocation, each contender runs ``--repeat`` times in a fresh process
(so peak RSS is its own), interleaved, and the medians of wall time and CPU
time (user + system: less sensitive to other load on a shared machine) and
their ratios are printed:

- ``monitorlens``: ``python -m monitorlens ingest CAPTURE -o out.parquet``;
- ``regex-script``: the approach of Redis tutorials and redis-faina: a Python
  loop, one regex per line, arguments split on ``" "``, then a DataFrame;
- ``floor-arrow``: the raw read of the lines into an Arrow array (read the
  file, split at newlines, no parsing): what any parser must at least do.
- ``floor-python``: the same with Python's ``bytes.split`` into ``pa.array``.

monitorlens' modules are byte-compiled first, as an installed package has them (a
checkout run with PYTHONDONTWRITEBYTECODE=1 would compile them in every run: 0.2 s).
"""

from __future__ import annotations

import argparse
import compileall
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REGEX_SCRIPT = r'''
import re, sys, pandas as pd
LINE = re.compile(r'^(\d+\.\d+) \[(\d+) (.*?)\] "(.*)"$')
rows = []
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        m = LINE.match(line.rstrip("\n"))
        if not m:
            continue
        ts, db, client, args = m.groups()
        parts = args.split('" "')
        rows.append((float(ts), int(db), client, parts[0].upper(), parts[1] if len(parts) > 1 else None))
df = pd.DataFrame(rows, columns=["ts", "db", "client", "command", "key"])
print(len(df))
'''

FLOOR_ARROW = r'''
import sys, numpy as np, pyarrow as pa
data = open(sys.argv[1], "rb").read()
ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1
offsets = np.concatenate([[0], ends]).astype(np.int64)
lines = pa.Array.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
print(len(lines))
'''

FLOOR_PYTHON = r'''
import sys, pyarrow as pa
lines = pa.array(open(sys.argv[1], "rb").read().split(b"\n"), pa.binary())
print(len(lines))
'''

TIMED = r'''
import resource, subprocess, sys, time, json
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss": usage.ru_maxrss * 1024}))
'''


def run(cmd: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", TIMED, *cmd], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="contenders to run")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless issue 2's targets hold: >= 4x the regex script, within 4x of "
                         "the raw Arrow read (median of per-repeat ratios), peak RSS under 1 GiB")
    ns = ap.parse_args()
    compileall.compile_dir(ROOT / "monitorlens", quiet=1)  # as installed: byte-compiled
    tmp = Path(tempfile.mkdtemp(prefix="monitorlens-bench-"))
    contenders = {
        "monitorlens": [sys.executable, "-m", "monitorlens", "ingest", str(ns.capture), "-o", str(tmp / "o.parquet")],
        "regex-script": [sys.executable, "-c", REGEX_SCRIPT, str(ns.capture)],
        "floor-arrow": [sys.executable, "-c", FLOOR_ARROW, str(ns.capture)],
        "floor-python": [sys.executable, "-c", FLOOR_PYTHON, str(ns.capture)],
    }
    if ns.only:
        contenders = {k: v for k, v in contenders.items() if k in ns.only}
    results: dict[str, list[dict]] = {k: [] for k in contenders}
    for _ in range(ns.repeat):  # interleaved, so load on the machine hits every contender alike
        for name, cmd in contenders.items():
            results[name].append(run(cmd))
    lines = sum(1 for _ in open(ns.capture, "rb"))
    print(f"capture: {ns.capture} ({lines:,} lines, {ns.capture.stat().st_size / 1e6:.1f} MB), repeat {ns.repeat}")
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in results.items()}
    for name, runs in results.items():
        rss = max(r["peak_rss"] for r in runs) / 2**20
        print(f"{name:14s} median {med[name]:7.2f} s wall {cpu[name]:7.2f} s CPU"
              f"  {lines / med[name] / 1e3:8.0f}k lines/s  peak RSS {rss:7.0f} MiB")
    per_repeat: dict[str, float] = {}
    if "monitorlens" in med:
        for other in med:
            if other != "monitorlens":
                # the same repeat's runs were made one after the other: their ratio shares the load
                pairs = sorted(o["seconds"] / m["seconds"] for o, m in zip(results[other], results["monitorlens"]))
                per_repeat[other] = statistics.median(pairs)
                print(f"monitorlens vs {other}: {med[other] / med['monitorlens']:.2f}x wall,"
                      f" {cpu[other] / cpu['monitorlens']:.2f}x CPU (>1 means monitorlens is faster);"
                      f" per repeat {per_repeat[other]:.2f}x wall ({pairs[0]:.2f}..{pairs[-1]:.2f})")
    if ns.check:
        failed = [text for ok, text in (
            (per_repeat.get("regex-script", 0) >= 4, "at least 4x faster than the regex script"),
            (per_repeat.get("floor-arrow", 0) >= 0.25, "within 4x of the raw Arrow read"),
            (max(r["peak_rss"] for r in results.get("monitorlens", [{"peak_rss": 2**31}])) < 2**30,
             "peak RSS under 1 GiB"),
        ) if not ok]
        print("targets: " + ("all met" if not failed else "NOT met: " + "; ".join(failed)))
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
