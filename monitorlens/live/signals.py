"""Ctrl-C, SIGTERM and SIGHUP as a request to stop, so that a live command ends cleanly."""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

__all__ = ["catch_stop_signals"]

_NAMES: dict[int, str] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


def catch_stop_signals(stop: threading.Event, received: list[str]) -> Callable[[], None]:
    """Until the returned function is called, a stop signal sets ``stop`` and appends its
    name to ``received``. Only in the main thread (elsewhere Python cannot catch signals)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        received.append(_NAMES.get(signum, str(signum)))
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in _NAMES}

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore
