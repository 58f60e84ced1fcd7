"""Record a large real capture: redis-benchmark traffic under ``redis-cli MONITOR``.

    python benchmarks/record_large.py --lines 1000000 -o benchmarks/data/capture-1m.txt

The server is a throwaway redis-server on loopback (monitorlens.testing); the
traffic is redis-benchmark's default suite over several clients with random
keys, so the capture has the shape of real load (many sources, GET/SET/LPUSH/
LRANGE/MSET...). Recording stops once the capture holds ``--lines`` lines.

    python benchmarks/record_large.py --lines 17000000 -o benchmarks/data/a.txt
    python benchmarks/record_large.py --lines 17000000 -o benchmarks/data/b.txt
    python benchmarks/record_large.py --join benchmarks/data/a.txt benchmarks/data/b.txt -o benchmarks/data/capture-34m.txt

``--join`` writes the recordings one after the other, each later one shifted in time to
start one second after the one before ends (two real recordings make one long capture).
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


def _time(line: bytes) -> float | None:
    head = line.split(b" ", 1)[0]
    return float(head) if head[:1].isdigit() else None


def first_last_time(path: Path) -> tuple[float, float]:
    """The timestamps of the first and last MONITOR lines of a capture (not redis-cli's OK)."""
    with open(path, "rb") as f:
        first = next(t for t in map(_time, f) if t is not None)
        f.seek(max(0, os.path.getsize(path) - 65536))
        last = [t for t in map(_time, f.read().split(b"\n")[1:]) if t is not None][-1]
    return first, last


def join(parts: list[Path], out: Path) -> int:
    """The recordings one after another, each shifted to start a second after the one before
    (redis-cli's OK line kept only at the start)."""
    end = None
    with open(out, "wb") as dst:
        for part in parts:
            first, last = first_last_time(part)
            shift = 0.0 if end is None else end + 1.0 - first
            with open(part, "rb") as src:
                for line in src:
                    t = _time(line)
                    if t is None:
                        if end is None:
                            dst.write(line)
                        continue
                    dst.write(b"%.6f %s" % (t + shift, line.split(b" ", 1)[1]) if shift else line)
            end = last + shift
    return count_lines(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("-o", "--output", type=Path, default=Path("benchmarks/data/capture-1m.txt"))
    ap.add_argument("--join", type=Path, nargs="+", metavar="CAPTURE", help="join recordings instead")
    ns = ap.parse_args()
    n = join(ns.join, ns.output) if ns.join else record(ns.lines, ns.output)
    print(f"{ns.output}: {n:,} lines, {ns.output.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
