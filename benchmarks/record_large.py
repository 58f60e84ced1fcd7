"""Record a large real capture: redis-benchmark traffic under ``redis-cli MONITOR``.

    python benchmarks/record_large.py --lines 1000000 -o benchmarks/data/capture-1m.txt

The server is a throwaway redis-server on loopback (monitorlens.testing); the
traffic is redis-benchmark's default suite over several clients with random
keys, so the capture has the shape of real load (many sources, GET/SET/LPUSH/
LRANGE/MSET...). Recording stops once the capture holds ``--lines`` lines.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitorlens.testing import RedisServer  # noqa: E402


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def record(lines: int, out: Path, timeout: float = 600.0) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    with RedisServer() as server, open(out, "wb") as f:
        monitor = subprocess.Popen(server.cli_args() + ["MONITOR"], stdout=f)
        time.sleep(0.5)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                subprocess.run(
                    ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-c", "20",
                     "-n", "50000", "-r", "100000", "-d", "24", "-q"],
                    stdout=subprocess.DEVNULL, check=True, timeout=300,
                )
                f.flush()
                if os.path.getsize(out) / 60 > lines * 1.1 and count_lines(out) >= lines:
                    break
        finally:
            monitor.terminate()
            monitor.wait(timeout=10)
    # Keep exactly the first `lines` lines so runs compare like with like.
    tmp = out.with_suffix(".tmp")
    with open(out, "rb") as src, open(tmp, "wb") as dst:
        for i, line in enumerate(src):
            if i >= lines:
                break
            dst.write(line)
    os.replace(tmp, out)
    return count_lines(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("-o", "--output", type=Path, default=Path("benchmarks/data/capture-1m.txt"))
    ns = ap.parse_args()
    n = record(ns.lines, ns.output)
    print(f"{ns.output}: {n:,} lines, {ns.output.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
