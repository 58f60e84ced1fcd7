"""CPU per event of the streaming analysis' two steps, this checkout against another.

    python benchmarks/bench_partials.py benchmarks/data/capture-1m.txt [--before /path/to/checkout] [--repeat 7]

The capture is parsed once into its blocks (8 MB of text each, as a worker reads them); then,
each in a fresh process per checkout (``PYTHONPATH`` set to it), rounds interleaved:

- ``block_partial``: every block into its partial (``analysis.partials.block_partial``);
- ``merges``: those partials (each checkout makes its own first, untimed) merged in order
  into one (``stream._Batched``), as one worker merges its chunk;
- ``block_partial, slots``: the first again with Redis Cluster hash slots (several captures).

Each figure is the smallest process CPU time of ``--repeat`` passes (the least disturbed by
the machine), in microseconds per event, and the ratio after/before. A timing, not a test:
run by hand on a quiet machine and quote the figures with the command.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_STEP = r'''
import pickle, sys, time
import pyarrow as pa
pa.set_memory_pool(pa.system_memory_pool())
from monitorlens.analysis import stream
from monitorlens.analysis.partials import Settings, block_partial
from monitorlens.read.schema import table_to_frame
step, data, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
best = float("inf")
frames = [table_to_frame(t) for t in pickle.load(open(data, "rb"))]
if step == "merges":
    s = Settings()
    parts = [block_partial(f, settings=s) for f in frames]
    for _ in range(repeat):
        t = time.process_time()
        if hasattr(stream, "_Batched"):  # merge_all, a batch at a time
            from monitorlens.analysis.partials import merge_all
            acc = stream._Batched(lambda parts: merge_all(parts, s))
        else:  # checkouts before it: merge, one partial at a time
            from monitorlens.analysis.partials import merge
            acc = stream._Ordered(lambda a, b: merge(a, b, s))
        for p in parts:
            acc.push(p)
        acc.result()
        best = min(best, time.process_time() - t)
    events = sum(p.events for p in parts)
else:
    s = Settings(slots=step.endswith("slots"))
    for _ in range(repeat):
        t = time.process_time()
        for f in frames:
            block_partial(f, settings=s)
        best = min(best, time.process_time() - t)
    events = sum(len(f) for f in frames)
print(best / events * 1e6)
'''


def _blocks(capture: str, folder: Path) -> Path:
    """The capture's parsed blocks (Arrow tables, as a worker reads them), pickled."""
    sys.path.insert(0, str(ROOT))
    import pyarrow as pa

    from monitorlens.read.ingest import MonitorStream

    pa.set_memory_pool(pa.system_memory_pool())
    blocks = folder / "blocks.pickle"
    blocks.write_bytes(pickle.dumps(list(MonitorStream(capture, workers=1))))
    return blocks


def _time(checkout: Path, step: str, data: Path, repeat: int) -> float:
    # PYTHONSAFEPATH: else ``python -c`` puts the working folder before PYTHONPATH on sys.path,
    # and run from a checkout every contender would import that checkout's monitorlens.
    env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONSAFEPATH": "1"}
    out = subprocess.run([sys.executable, "-c", _STEP, step, str(data), str(repeat)], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture")
    ap.add_argument("--before", type=Path, help="another checkout to compare with (its monitorlens/ folder's parent)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=2)
    ns = ap.parse_args()
    checkouts = {"this": ROOT, **({"before": ns.before.resolve()} if ns.before else {})}
    with tempfile.TemporaryDirectory() as tmp:
        blocks = _blocks(ns.capture, Path(tmp))
        steps = ("block_partial", "merges", "block_partial, slots")
        best: dict[tuple[str, str], float] = {}
        for _ in range(ns.rounds):
            for step in steps:
                for name, checkout in checkouts.items():
                    us = _time(checkout, step.replace(", ", "-"), blocks, ns.repeat)
                    best[name, step] = min(best.get((name, step), us), us)
    print(f"{Path(ns.capture).name}: us of CPU per event, the least of {ns.repeat} passes x {ns.rounds} rounds")
    print(f"{'step':24}" + "".join(f"{name:>10}" for name in checkouts) + ("     ratio" if ns.before else ""))
    for step in steps:
        row = f"{step:24}" + "".join(f"{best[name, step]:10.3f}" for name in checkouts)
        if ns.before:
            row += f"{best['this', step] / best['before', step]:10.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
