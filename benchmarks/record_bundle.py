"""Record a large real capture bundle: MONITOR and CLIENT LIST together, under redis-benchmark load.

    python benchmarks/record_bundle.py --lines 1000000 -o benchmarks/data/bundle-1m

A throwaway redis-server on loopback (monitorlens.testing) takes redis-benchmark's default
suite (20 clients, random keys) plus a few named applications (CLIENT SETNAME, one of them
renaming itself) and a stream of short unnamed connections, while ``python -m monitorlens
capture`` writes the bundle (monitor.txt.gz, clients.log.gz every second, connections.csv,
server.json) until it holds ``--lines`` lines (``--max-lines``) or ``--timeout`` passes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitorlens.testing import RedisServer  # noqa: E402


def named_traffic(server: RedisServer, stop: threading.Event, deadline: float) -> None:
    """Named applications and short connections, paced, until ``stop`` (or the deadline)."""
    apps = [server.client(single_connection_client=True, client_name=f"app-{i}") for i in range(4)]
    i = 0
    while not stop.is_set() and time.monotonic() < deadline:
        for n, app in enumerate(apps):
            app.get(f"user:{i % 500}")
            app.hset(f"session:{n}:{i % 50}", "seen", i)
        if i % 200 == 100:
            apps[0].client_setname(f"app-0-v{i // 200}")  # a name that changes mid-capture
        if i % 50 == 0:
            short = server.client(single_connection_client=True)
            short.incr("churn")
            short.close()
        i += 1
        time.sleep(0.002)
    for app in apps:
        app.close()


def record(lines: int, out: Path, timeout: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with RedisServer() as server:
        stop = threading.Event()
        named = threading.Thread(target=named_traffic, args=(server, stop, deadline), daemon=True)
        named.start()
        bench = subprocess.Popen(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-c", "20", "-n", "100000000",
             "-r", "100000", "-d", "24", "-q", "-l"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(1)
            subprocess.run([sys.executable, "-m", "monitorlens", "capture", f"redis://127.0.0.1:{server.port}/0",
                            "-o", str(out), "--max-lines", str(lines), "--duration", str(int(timeout)),
                            "--max-drop", "1", "--every", "1", "--baseline", "0.5"],
                           check=True, timeout=timeout + 60)
        finally:
            bench.terminate()
            bench.wait(timeout=10)
            stop.set()
            named.join(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("-o", "--output", type=Path, required=True, help="the new bundle folder")
    ap.add_argument("--timeout", type=float, default=300.0)
    ns = ap.parse_args()
    record(ns.lines, ns.output, ns.timeout)
    print(f"{ns.output}: {sorted(p.name for p in ns.output.iterdir())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
