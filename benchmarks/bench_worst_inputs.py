"""Peak memory and time of the commands on the worst single lines a file can hold.

    python benchmarks/bench_worst_inputs.py [--size-mib 1024] [--repeat 3] [--keep DIR]

Writes each input once into a temporary folder (or ``--keep DIR``), then runs, in a fresh
process each, ``python -m monitorlens ingest FILE -o out.parquet`` and ``python -m
monitorlens summary FILE``, ``--repeat`` times interleaved, and prints the median wall time
and the peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper that runs only that
command). The inputs:

- ``baseline``: the grammar sample capture (95 lines): what the commands cost on any input;
- ``nul-line``: one line of ``--size-mib`` MiB of NUL bytes (``head -c 1G /dev/zero``);
- ``junk-line``: one printable line of that size that starts like no MONITOR line;
- ``monitor-head-then-nul``: a real MONITOR line head and argument, then NUL bytes.
- ``too-long``: a MONITOR line of printable bytes, longer than the reader's limit (768 MiB
  by default): it is held up to the limit, then skipped.

Every command must exit 0 (or 1 with an ``Error:`` line) without a traceback; the issue's
target is a peak RSS under 1 GiB for each.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_captures" / "grammar" / "monitor.txt"
CHUNK = 8 << 20

TIMED = r'''
import json, os, resource, subprocess, sys, time
t = time.perf_counter()
run = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=os.environ["BENCH_CWD"])
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": wall, "peak_rss": usage.ru_maxrss * 1024, "rc": run.returncode,
                  "stderr": run.stderr.decode("utf-8", "replace")[-300:]}))
'''

def write_line(path: Path, head: bytes, fill: bytes, size: int) -> None:
    """One line of ``size`` bytes: ``head``, then ``fill`` repeated, then a line end."""
    block = fill * (CHUNK // len(fill))
    with open(path, "wb") as f:
        f.write(head)
        left = size - len(head) - 1
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= min(left, len(block))
        f.write(b"\n")


def run(cmd: list[str], cwd: Path) -> dict:
    env = os.environ | {"BENCH_CWD": str(cwd), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", TIMED, *cmd], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024, help="size of each one-line input (default 1024)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="folder for the inputs (kept; written only if missing)")
    ns = ap.parse_args()
    compileall.compile_dir(ROOT / "monitorlens", quiet=1)
    folder = ns.keep or Path(tempfile.mkdtemp(prefix="monitorlens-worst-"))
    folder.mkdir(parents=True, exist_ok=True)
    size = ns.size_mib << 20
    head = b'1700000000.000001 [0 127.0.0.1:6000] "SET" "k" "'
    inputs = {
        "baseline": SAMPLE,
        "nul-line": (folder / "nul-line.txt", b"", b"\x00"),
        "junk-line": (folder / "junk-line.txt", b"", b"a"),
        "monitor-head-then-nul": (folder / "head-nul.txt", head, b"\x00"),
        "too-long": (folder / "too-long.txt", head, b"b"),
    }
    paths: dict[str, Path] = {}
    for name, spec in inputs.items():
        if isinstance(spec, Path):
            paths[name] = spec
            continue
        path, first, fill = spec
        if not path.exists() or path.stat().st_size != size:
            write_line(path, first, fill, size)
        paths[name] = path
    out = folder / "out.parquet"
    commands: dict[str, list[str]] = {}
    for name, path in paths.items():
        commands[f"ingest {name}"] = [sys.executable, "-m", "monitorlens", "ingest", str(path), "-o", str(out)]
        commands[f"summary {name}"] = [sys.executable, "-m", "monitorlens", "summary", str(path)]
    results: dict[str, list[dict]] = {k: [] for k in commands}
    for _ in range(ns.repeat):
        for name, cmd in commands.items():
            results[name].append(run(cmd, folder))
    print(f"one-line inputs of {ns.size_mib} MiB in {folder}; repeat {ns.repeat}; medians")
    base = {k.split()[0]: statistics.median(r["peak_rss"] for r in v) for k, v in results.items() if "baseline" in k}
    for name, runs in results.items():
        wall = statistics.median(r["seconds"] for r in runs)
        rss = statistics.median(r["peak_rss"] for r in runs)
        ratio = rss / base[name.split()[0]] if name.split()[0] in base else float("nan")
        codes = sorted({r["rc"] for r in runs})
        trace = any("Traceback" in r["stderr"] for r in runs)
        print(f"{name:44s} {wall:7.2f} s  peak RSS {rss / 2**20:7.0f} MiB ({ratio:4.1f}x baseline)"
              f"  exit {codes}{'  TRACEBACK' if trace else ''}")
    if not ns.keep:
        for path in paths.values():
            if path.parent == folder:
                path.unlink(missing_ok=True)
        out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
