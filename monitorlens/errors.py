"""Errors raised by monitorlens.

One base class; each subclass names the problem, the place and the fix, so the
command line can print ``Error: <message>`` and exit 1 instead of a traceback.
"""

from __future__ import annotations


class MonitorlensError(Exception):
    """Base class of every error monitorlens raises on purpose."""


class InputError(MonitorlensError):
    """A file or argument that cannot be read at all (missing, unknown format)."""


class OutputError(MonitorlensError):
    """An output that cannot or must not be written (one of the inputs, a missing folder, a
    full disk...); nothing partial is left behind."""


class ParseError(MonitorlensError):
    """A line that does not follow the grammar, raised with ``errors="raise"``.

    The message names the source, the line number, the reason and the text.
    """

    def __init__(self, reason: str, *, source: str, line: int, text: str, detail: str = "") -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.text = text
        shown = text if len(text) <= 120 else text[:117] + "..."
        hint = f" ({detail})" if detail else ""
        super().__init__(
            f"{source}:{line}: {reason}{hint}: {shown!r}. "
            "Use errors='skip' (the default) to count and keep such lines as rejects."
        )
