"""What a MONITOR capture costs the server: monitorlens ``capture`` against ``redis-cli MONITOR``.

    python benchmarks/bench_capture.py --requests 200000 --repeat 3

On one throwaway redis-server (monitorlens.testing), ``redis-benchmark`` sends the same
pipelined SET/GET load three ways, interleaved ``--repeat`` times:

- ``none``: no MONITOR;
- ``redis-cli``: ``redis-cli MONITOR > file`` (the baseline an operator runs by hand);
- ``capture``: ``python -m monitorlens capture`` with the throughput guard off
  (``--max-drop 100%``, so that it runs to the end), gzip level 1.

It prints, for each, the median requests/s redis-benchmark reports, and for the two
captures the median lines written per second of load and the ratio to ``none``.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitorlens.testing import RedisServer  # noqa: E402


def load(server: RedisServer, requests: int) -> float:
    """Run redis-benchmark; its requests/s over SET and GET."""
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-n", str(requests), "-P", "16",
         "-c", "8", "-t", "set,get", "-q"],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout  # fmt: skip
    rates = [float(m) for m in re.findall(r"([\d.]+) requests per second", out)]
    return statistics.fmean(rates)


def wait_monitor(server: RedisServer, count: int) -> None:
    r = server.client(protocol=2)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if r.execute_command("CLIENT", "LIST", NEVER_DECODE=True).count(b"flags=O") >= count:
            return
        time.sleep(0.02)
    raise RuntimeError("MONITOR did not start")


def run(kind: str, server: RedisServer, requests: int, tmp: Path, i: int) -> tuple[float, int]:
    if kind == "none":
        return load(server, requests), 0
    if kind == "redis-cli":
        path = tmp / f"cli-{i}.txt"
        with open(path, "wb") as f:
            proc = subprocess.Popen(["redis-cli", "-p", str(server.port), "MONITOR"], stdout=f)
            wait_monitor(server, 1)
            rate = load(server, requests)
            time.sleep(0.5)  # let it write what the server sent
            proc.terminate()
            proc.wait(10)
        return rate, path.read_bytes().count(b"\n") - 1
    folder = tmp / f"cap-{i}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitorlens", "capture", f"redis://127.0.0.1:{server.port}/0", "-o", str(folder),
         "--duration", "600", "--max-drop", "100%", "--baseline", "0.2", "--max-omem", "1G"],
        stdout=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    wait_monitor(server, 1)
    rate = load(server, requests)
    time.sleep(0.5)
    proc.terminate()
    proc.wait(30)
    with gzip.open(folder / "monitor.txt.gz") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - 1
    return rate, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    kinds = ("none", "redis-cli", "capture")
    results: dict[str, list[tuple[float, int]]] = {k: [] for k in kinds}
    with RedisServer() as server, tempfile.TemporaryDirectory() as tmp:
        load(server, 20_000)  # warm-up
        for i in range(args.repeat):
            for kind in kinds:
                results[kind].append(run(kind, server, args.requests, Path(tmp), i))
    base = statistics.median(r for r, _ in results["none"])
    print(f"redis-benchmark -P 16 -c 8 -t set,get -n {args.requests:,}, {args.repeat} runs each, medians:")
    for kind in kinds:
        rate = statistics.median(r for r, _ in results[kind])
        lines = statistics.median(n for _, n in results[kind])
        print(f"  {kind:10s} {rate:>12,.0f} requests/s ({rate / base:.2f} of none)"
              + (f", {lines:,.0f} lines written (of {2 * args.requests:,} commands)" if kind != "none" else ""))  # fmt: skip


if __name__ == "__main__":
    main()
