"""``summary`` with CLIENT LIST names and of a bundle: this checkout against another (before/after).

    python benchmarks/record_bundle.py --lines 1000000 -o benchmarks/data/bundle-1m
    python benchmarks/bench_names.py benchmarks/data/bundle-1m --before /path/to/other/checkout [--runs 3]

Contenders, each in a fresh process, all once per round, rounds interleaved, for both
checkouts (``PYTHONPATH`` set to each): ``summary monitor.txt.gz --clients clients.log.gz``,
the same on the plain text (which worker processes share), ``summary FOLDER`` (the bundle:
names, connection counts and the reconciliation), and the first with ``--client app-1``. Medians of wall time and of peak memory
(the PSS of the process and its workers summed, sampled every 50 ms, as bench_scale.py does).
``--check`` fails unless every contender of this checkout peaks under 1 GiB.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_scale import GIB, run  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]


def _with_root(argv: list[str], root: Path) -> list[str]:
    """``argv`` run with ``root``'s monitorlens (bench_scale.run sets PYTHONPATH to this checkout).
    PYTHONSAFEPATH: else ``python -m`` puts the working folder before PYTHONPATH on sys.path,
    and run from a checkout both contenders would import that checkout's monitorlens."""
    return ["env", f"PYTHONPATH={root}", "PYTHONSAFEPATH=1", *argv]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--before", type=Path, required=True, help="the checkout to compare with")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--client", default="app-1", help="the --client of the last contender (record_bundle's names)")
    ap.add_argument("--check", action="store_true")
    ns = ap.parse_args()
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="bench-names-", dir=ns.bundle.parent))
    try:
        plain = work / "monitor.txt"
        with gzip.open(ns.bundle / "monitor.txt.gz", "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        clients = str(ns.bundle / "clients.log.gz")
        commands = {
            "summary gz --clients": [py, "-m", "monitorlens", "summary", str(ns.bundle / "monitor.txt.gz"),
                                     "--clients", clients],
            "summary text --clients": [py, "-m", "monitorlens", "summary", str(plain), "--clients", clients],
            "summary bundle": [py, "-m", "monitorlens", "summary", str(ns.bundle)],
            "summary gz --client": [py, "-m", "monitorlens", "summary", str(ns.bundle / "monitor.txt.gz"),
                                    "--clients", clients, "--client", ns.client],
        }
        roots = {"before": ns.before.resolve(), "after": ROOT}
        results: dict[tuple[str, str], list[tuple[float, int]]] = {
            (name, who): [] for name in commands for who in roots}
        loads = []
        for _ in range(ns.runs):
            for name, argv in commands.items():
                for who, root in roots.items():
                    loads.append(os.getloadavg()[0])
                    results[(name, who)].append(run(_with_root(argv, root)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in results.items()}
    print(f"{ns.bundle}: medians of {ns.runs} interleaved runs; {os.cpu_count()} cores; "
          f"load average {min(loads):.1f}-{max(loads):.1f} during the runs")
    print(f"{'contender':<24} {'before s':>9} {'after s':>8} {'x':>6} {'before MB':>10} {'after MB':>9} {'x':>6}")
    for name in commands:
        (bw, bm), (aw, am) = med[(name, "before")], med[(name, "after")]
        print(f"{name:<24} {bw:>9.2f} {aw:>8.2f} {aw / bw:>6.2f} {bm / 1e6:>10.0f} {am / 1e6:>9.0f} {am / bm:>6.2f}")
    ok = all(med[(name, "after")][1] < GIB for name in commands)
    print(f"{'ok  ' if ok else 'FAIL'} every peak of this checkout < 1 GiB")
    return 1 if ns.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
