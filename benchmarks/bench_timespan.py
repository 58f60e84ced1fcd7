"""Peak memory and time of summary, report and plot on a capture whose clock jumps a year.

    python benchmarks/bench_timespan.py [--runs 3] [--check]

The capture is the first 1,000 lines of the real incident sample with its second half
one year later (what joining two captures of different times gives); the baseline is the
same 1,000 lines without the jump. Each command runs in a fresh process (python -m
monitorlens), contenders interleaved; the table gives medians of wall time and peak RSS.
``--check`` fails unless every peak stays under 1 GiB and within 1.5x of the baseline's.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCIDENT = ROOT / "sample_captures" / "incident" / "monitor.txt.gz"
YEAR = 365 * 86400
LIMIT = 1 << 30


def make(out: Path, lines: int, shift: int) -> Path:
    with gzip.open(INCIDENT, "rb") as f:
        head = [line for _, line in zip(range(lines), f)]
    stamp = re.compile(rb"^(\d+)(\.\d+ )")
    half = len(head) // 2
    out.write_bytes(b"".join(stamp.sub(lambda m: str(int(m[1]) + shift).encode() + m[2], line)
                             if i >= half else line for i, line in enumerate(head)))
    return out


def run(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one command in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "monitorlens", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {proc.returncode}\n{err}")
    return wall, usage.ru_maxrss * 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--check", action="store_true")
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        jump, flat = make(d / "jump.txt", ns.lines, YEAR), make(d / "flat.txt", ns.lines, 0)
        contenders = {
            "summary (no jump)": ["summary", str(flat)],
            "summary": ["summary", str(jump)],
            "report": ["report", str(jump), "-o", str(d / "r.html")],
            "plot traffic": ["plot", "traffic", str(jump), "-o", str(d / "t.svg")],
        }
        results: dict[str, list[tuple[float, int]]] = {k: [] for k in contenders}
        for _ in range(ns.runs):
            for name, args in contenders.items():  # interleaved: load changes hit every contender
                results[name].append(run(args))
        html = (d / "r.html").stat().st_size
    base = statistics.median(r for _, r in results["summary (no jump)"])
    print(f"{ns.lines:,} lines, second half one year later; medians of {ns.runs} runs; load {os.getloadavg()[0]:.1f}")
    print(f"{'command':<20} {'wall s':>8} {'peak MB':>9} {'x baseline':>11}")
    ok = True
    for name, rows in results.items():
        wall = statistics.median(w for w, _ in rows)
        rss = statistics.median(r for _, r in rows)
        print(f"{name:<20} {wall:>8.2f} {rss / 1e6:>9.0f} {rss / base:>11.2f}")
        ok &= rss < LIMIT and rss < 1.5 * base
    print(f"report HTML: {html / 1e6:.2f} MB")
    if ns.check and not ok:
        print("FAIL: a peak is over 1 GiB or over 1.5x the capture without the jump")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
