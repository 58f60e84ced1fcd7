"""CLIENT LIST snapshots of a live server, and ``redis-cli MONITOR`` run for a while.

The two things an on-call engineer runs by hand, done the same way every time::

    import redis
    from monitorlens.live import sample_clients, capture_monitor

    r = redis.Redis(host="127.0.0.1", port=6379)
    sample_clients(r, "clients.log", interval=5, count=12, connections_csv="connections.csv")
    capture_monitor(["redis-cli", "-h", "127.0.0.1", "-p", "6379"], "monitor.txt", seconds=10)

``clients.log`` gets one block per snapshot: a line ``# <epoch seconds, 6 decimals>``, then
the ``CLIENT LIST`` reply exactly as the server sent it (its bytes, one client per line).
``connections.csv`` gets ``<epoch int>,<number of clients>`` rows with no header, the
same as the shell loop ``echo "$(date +%s),$(redis-cli CLIENT LIST | wc -l)"``.
Both files are appended to and flushed after every snapshot, so they can be read while
the sampler runs. ``redis`` (redis-py) is only needed by the caller; nothing here imports it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

__all__ = ["sample_clients", "capture_monitor", "client_list_bytes", "raw_reply", "SnapshotLog"]

StrPath = str | os.PathLike[str]


class ByteSink(Protocol):
    """Where snapshots and MONITOR lines are written: a binary file, a gzip file."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...

# redis-py's option that skips decoding and its CLIENT LIST parser: sending
# "CLIENT", "LIST" as two words misses the "CLIENT LIST" reply callback.
_NEVER_DECODE = "NEVER_DECODE"


def client_list_bytes(client: Any) -> bytes:
    """The raw ``CLIENT LIST`` reply of a redis-py client, ending in ``\\n``.

    >>> client_list_bytes(r).splitlines()[0][:5]    # doctest: +SKIP
    b'id=3 '
    """
    raw = client.execute_command("CLIENT", "LIST", **{_NEVER_DECODE: True})
    if isinstance(raw, str):  # a client that decodes anyway
        raw = raw.encode("utf-8", "surrogateescape")
    raw = raw.replace(b"\r\n", b"\n")
    return raw if raw.endswith(b"\n") or not raw else raw + b"\n"


class SnapshotLog:
    """Writes CLIENT LIST snapshots to an open binary ``log`` (and ``<epoch>,<clients>``
    rows to an open text ``csv``), each flushed at once so the files can be read meanwhile.

    The one writer of the ``clients.log`` format: ``sample_clients``, ``capture`` and
    ``watch`` all take their snapshots through it.
    """

    def __init__(self, log: ByteSink | None, csv: IO[str] | None = None) -> None:
        self.log = log
        self.csv = csv

    def take(self, client: Any) -> tuple[float, bytes]:
        """Send one CLIENT LIST, write it; return its time and the raw reply."""
        now = time.time()
        raw = client_list_bytes(client)
        self.write(now, raw)
        return now, raw

    def write(self, now: float, raw: bytes) -> None:
        """Write one snapshot taken at ``now`` (epoch seconds)."""
        if self.log is not None:
            self.log.write(f"# {now:.6f}\n".encode("ascii") + raw)
            self.log.flush()
        if self.csv is not None:
            clients = raw.count(b"\n")
            self.csv.write(f"{int(now)},{clients}\n")
            self.csv.flush()


def raw_reply(client: Any, *args: Any) -> bytes:
    """One command's reply as the server sent it (no decoding, no redis-py parsing), on a
    redis-py client made with ``single_connection_client=True``.

    redis-py turns INFO into a dict of its own making; a capture keeps what Redis said.
    """
    conn = client.connection
    if conn is None:
        raise ValueError("raw_reply needs a redis-py client made with single_connection_client=True")
    conn.send_command(*args)
    return conn.read_response(disable_decoding=True)


def sample_clients(
    client: Any,
    out_path: StrPath,
    *,
    interval: float,
    count: int,
    connections_csv: StrPath | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Append ``count`` CLIENT LIST snapshots, one every ``interval`` seconds; return how many.

    Each snapshot is ``# <time.time() with 6 decimals>`` then the raw reply. With
    ``connections_csv``, also append ``<epoch int>,<clients>`` (the reply's line count,
    the sampler's own connection included, as with ``redis-cli CLIENT LIST | wc -l``).
    Setting ``stop`` ends the loop early, between snapshots; ``progress(taken, count)`` is
    called after each snapshot.

    >>> sample_clients(r, "clients.log", interval=0.1, count=3)   # doctest: +SKIP
    3
    """
    if interval < 0 or count < 0:
        raise ValueError(f"interval and count must be >= 0, got interval={interval}, count={count}")
    stop = stop or threading.Event()
    taken = 0
    start = time.monotonic()
    with open(out_path, "ab") as log:
        csv = open(connections_csv, "a", encoding="ascii") if connections_csv is not None else None
        try:
            snapshots = SnapshotLog(log, csv)
            while taken < count and not stop.is_set():
                snapshots.take(client)
                taken += 1
                if progress is not None:
                    progress(taken, count)
                # Keep to the schedule: a slow CLIENT LIST does not push later snapshots back.
                if taken < count:
                    stop.wait(max(0.0, start + taken * interval - time.monotonic()))
        finally:
            if csv is not None:
                csv.close()
    return taken


def capture_monitor(
    cli_args: list[str], out_path: StrPath, *, seconds: float
) -> subprocess.CompletedProcess[bytes]:
    """Run ``<cli_args> MONITOR`` for ``seconds`` with stdout to ``out_path``; return the result.

    What ``timeout 10 redis-cli MONITOR > capture.txt`` does: the file holds redis-cli's
    output as is (``OK`` first). The process gets SIGTERM when the time is up (SIGKILL 5 s
    later if still alive); ``returncode`` is then negative and stderr holds redis-cli's errors.

    >>> capture_monitor(["redis-cli", "-p", "6379"], "monitor.txt", seconds=10)  # doctest: +SKIP
    CompletedProcess(args=['redis-cli', '-p', '6379', 'MONITOR'], returncode=-15, ...)
    """
    args = [*cli_args, "MONITOR"]
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            _, err = proc.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
    return subprocess.CompletedProcess(args, proc.returncode, None, err)
