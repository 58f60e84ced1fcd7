"""One progress line on a terminal (stderr) for long commands; nothing when it is not one.

Below every stage: reading (``ingest``, ``load``), the analysis steps of ``summary`` and
``report``, ``sample``'s snapshots and ``capture``'s counters all speak through
:class:`Progress`, so they look alike and stay silent in pipes and logs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["PROGRESS_AFTER_S", "Progress", "progress_printer"]

PROGRESS_AFTER_S = 1.5  # a command quicker than this prints no progress at all


class Progress:
    """Progress of a long command on a terminal: lines and bytes read, then each step.

    Call it as the reading callback ``(bytes_done, lines)`` of :class:`MonitorStream`,
    :func:`load` and :func:`~monitorlens.read.ingest.read_monitor`; :meth:`step` names what
    the command does next ("analysing", "snapshot 3 of 10"); :meth:`close` ends the line.
    It writes nothing when ``stream`` (stderr) is not a terminal, nor before ``after``
    seconds have passed (the environment variable ``MONITORLENS_PROGRESS_AFTER`` overrides
    the default), so quick runs and pipes stay silent.

    >>> p = Progress(stream=io.StringIO()); p(10, 1); p.close(); p.shown  # not a terminal  # doctest: +SKIP
    False
    """

    def __init__(self, total: int | None = None, stream: Any = None, after: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.stream = stream or sys.stderr
        self.total = total
        env = os.environ.get("MONITORLENS_PROGRESS_AFTER")
        self.after = after if after is not None else float(env) if env else PROGRESS_AFTER_S
        self.clock = clock
        self.started = clock()
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False
        self._width = 0

    def _write(self, text: str) -> None:
        if not self.enabled or self.clock() - self.started < self.after:
            return
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)
        self.shown = True

    def __call__(self, done: int, lines: int) -> None:
        pct = f" {100 * done / self.total:5.1f}%" if self.total else ""
        self._write(f"{lines:>12,} lines {done / 1e6:>10,.1f} MB{pct}")

    def step(self, text: str) -> None:
        """Say what comes next (shown only once the command has taken ``after`` seconds)."""
        self._write(text)

    def close(self) -> None:
        """End the progress line, if one was written."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def progress_printer(total: int | None, stream: Any = None) -> Progress | None:
    """A progress callback for a terminal, from the first block on (None when stderr is not one)."""
    progress = Progress(total, stream, after=0.0)
    return progress if progress.enabled else None
