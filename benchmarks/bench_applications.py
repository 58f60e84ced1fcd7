"""by_application against by_client, on the same events, in one invocation.

    python benchmarks/bench_applications.py --copies 180 --repeat 3

The recorded incident (sample_captures/incident, names attached from its CLIENT LIST) is
repeated ``--copies`` times, 31 s apart (180 copies: 1,011,960 events); then
``by_application(events, snapshots)`` and ``by_client(events)`` run ``--repeat`` times,
interleaved, and their medians and ratio are printed, with each one's tracemalloc peak
(its transient memory per event).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from pathlib import Path

import pandas as pd

import monitorlens as ml
from monitorlens.analysis import breakdowns as bd
from monitorlens.analysis.applications import by_application

INCIDENT = Path(__file__).resolve().parents[1] / "sample_captures" / "incident"


def events(copies: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    snaps = ml.read_client_list(INCIDENT / "clients.log.gz")
    one = ml.attach_names(ml.load(INCIDENT / "monitor.txt.gz"), snaps)
    parts = [one.assign(ts=one["ts"] + pd.Timedelta(seconds=31 * k), line=one["line"] + k * 6000)
             for k in range(copies)]
    big = pd.concat(parts, ignore_index=True)
    for column in ("client", "command", "client_kind", "host", "subcommand"):
        big[column] = big[column].astype("category")
    return big, snaps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=180)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    big, snaps = events(args.copies)
    print(f"{len(big):,} events")
    runs: dict[str, list[float]] = {"by_application": [], "by_client": []}
    steps = {"by_application": lambda: by_application(big, snaps), "by_client": lambda: bd.by_client(big)}
    for _ in range(args.repeat):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            runs[name].append(time.perf_counter() - start)
    apps, clients = (statistics.median(runs[n]) for n in steps)
    print(f"median by_application {apps:.2f} s, by_client {clients:.2f} s, ratio {apps / clients:.2f}")
    for name, step in steps.items():
        tracemalloc.start()
        step()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{name}: tracemalloc peak {peak / 1e6:,.0f} MB, {peak / len(big):,.0f} bytes/event")


if __name__ == "__main__":
    main()
