"""Parquet size and speed: the file ``ingest`` writes against ``gzip -6`` of the text, and
against the layout of a baseline revision (each key's bytes three times, one row group per
parsed block).

    python benchmarks/record_large.py --lines 1000000 -o benchmarks/data/capture-1m.txt
    python benchmarks/bench_parquet.py benchmarks/data/capture-1m.txt --repeat 5
    python benchmarks/bench_parquet.py benchmarks/data/capture-1m.txt --repeat 3 \\
        --row-groups 65536 131072 262144 1048576     # the streaming analysis by row group size

In one invocation, interleaved, each in a fresh process (its peak RSS its own), ``--repeat``
times: ``ingest`` then ``load`` of the Parquet file, by this checkout and by ``--baseline``
(a git revision, extracted with ``git archive``; default: the last one before layout 2).
Printed: medians of wall time, peak RSS, file sizes and their ratio to ``gzip -6``, the
bytes of each column on disk. ``--row-groups`` also times ``analyze_stream`` (worker
processes, one task per run of row groups) on this checkout's file rewritten with groups
of each size. ``--check`` exits 1 unless the file is no larger than ``gzip -6`` of the text
(the target); the times are printed with their ratios to the baseline's, not judged (restoring the args
costs ``load`` ~60 ns per event, for a file ~40% smaller).
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from bench_ingest import run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitorlens.store import WRITE_OPTIONS  # noqa: E402
BEFORE_LAYOUT_2 = "68c129c"

LOAD = "from monitorlens.store import load; import sys; print(len(load(sys.argv[1])))"
STREAM = "from monitorlens.analysis.stream import analyze_stream; import sys; print(analyze_stream(sys.argv[1]).overview.events)"


def tree_of(revision: str, into: Path) -> Path:
    """The package as it was at ``revision``, byte-compiled, under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "monitorlens"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    compileall.compile_dir(into / "monitorlens", quiet=1)
    return into


def python_in(tree: Path) -> list[str]:
    """A Python that imports monitorlens from ``tree`` (-P: not from the current folder)."""
    return ["env", f"PYTHONPATH={tree}", sys.executable, "-P"]


def gzip6_size(path: Path) -> int:
    if shutil.which("gzip"):
        with open(path, "rb") as f:
            out = subprocess.run(["gzip", "-6", "-c"], stdin=f, capture_output=True, check=True).stdout
        return len(out)
    return len(gzip.compress(path.read_bytes(), 6))


def column_bytes(path: Path) -> Counter[str]:
    meta = pq.read_metadata(path)
    sizes: Counter[str] = Counter()
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            sizes[group.column(c).path_in_schema.split(".")[0]] += group.column(c).total_compressed_size
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default=BEFORE_LAYOUT_2, help="git revision to compare with")
    ap.add_argument("--row-groups", type=int, nargs="*", default=[], metavar="ROWS",
                    help="also time analyze_stream of the file rewritten with row groups of these sizes")
    ap.add_argument("--check", action="store_true", help="exit 1 unless the file is no larger than gzip -6 of the text")
    ns = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="monitorlens-bench-parquet-"))
    compileall.compile_dir(ROOT / "monitorlens", quiet=1)
    trees = {"this": ROOT, "baseline": tree_of(ns.baseline, tmp / "baseline")}
    out = {name: tmp / f"{name}.parquet" for name in trees}
    timed: dict[str, list[dict]] = {f"{what} {name}": [] for what in ("ingest", "load") for name in trees}
    for _ in range(ns.repeat):  # interleaved: load on the machine hits both alike
        for name, tree in trees.items():
            ingest = [*python_in(tree), "-m", "monitorlens", "ingest", str(ns.capture), "-o", str(out[name])]
            timed[f"ingest {name}"].append(run(ingest))
            timed[f"load {name}"].append(run([*python_in(tree), "-c", LOAD, str(out[name])]))
    with open(ns.capture, "rb") as f:
        lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
    gz = gzip6_size(ns.capture)
    print(f"capture: {ns.capture} ({lines:,} lines, {ns.capture.stat().st_size / 1e6:.1f} MB; "
          f"gzip -6 {gz / 1e6:.2f} MB), baseline {ns.baseline}, repeat {ns.repeat}")
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in timed.items()}
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in timed.items()}
    for key, runs in timed.items():
        rss = max(r["peak_rss"] for r in runs) / 2**20
        print(f"{key:16s} median {med[key]:6.2f} s wall {cpu[key]:6.2f} s CPU   peak RSS {rss:6.0f} MiB")
    for what in ("ingest", "load"):
        this, base = f"{what} this", f"{what} baseline"
        print(f"{what}: this / baseline {med[this] / med[base]:.2f}x wall, {cpu[this] / cpu[base]:.2f}x CPU")
    sizes = {name: path.stat().st_size for name, path in out.items()}
    for name, path in out.items():
        meta = pq.read_metadata(path)
        size = sizes[name]
        cols = ", ".join(f"{c} {b / 1e6:.2f}" for c, b in column_bytes(path).most_common(8))
        print(f"{name:9s} {size / 1e6:7.2f} MB = {size / gz:.2f}x gzip -6; {meta.num_row_groups} row groups "
              f"of {meta.num_rows // max(meta.num_row_groups, 1):,} rows; MB by column: {cols}")
    streamed: dict[int, list[float]] = {}
    if ns.row_groups:
        table = pq.ParquetFile(out["this"]).read()
        for rows in ns.row_groups:
            pq.write_table(table, tmp / f"rg{rows}.parquet", row_group_size=rows, **WRITE_OPTIONS)
        del table
        for _ in range(ns.repeat):
            for rows in ns.row_groups:
                r = run([*python_in(ROOT), "-c", STREAM, str(tmp / f"rg{rows}.parquet")])
                streamed.setdefault(rows, []).append(r["seconds"])
        for rows, secs in streamed.items():
            print(f"analyze_stream, row groups of {rows:>8,} rows: median {statistics.median(secs):6.2f} s")
    shutil.rmtree(tmp, ignore_errors=True)
    if ns.check:
        failed = [text for ok, text in (
            (sizes["this"] <= gz, "file no larger than gzip -6 of the text"),
        ) if not ok]
        print("targets: " + ("all met" if not failed else "NOT met: " + "; ".join(failed)))
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
