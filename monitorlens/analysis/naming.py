"""Names by time for a capture analysed block by block: :class:`Naming`.

:func:`~monitorlens.analysis.clientlist.attach_names` names each event from two inputs:
the CLIENT LIST snapshots (small, read once) and the CLIENT SETNAME / HELLO SETNAME calls
of the whole capture (rule 2: a name set in one block holds in the next). :func:`naming`
gets the second with one cheap pass over the capture before the analysis: only the lines
that hold the word ``setname`` are parsed, so a block alone names its events exactly as
the whole capture would. Memory: one row per (snapshot, address) and per SETNAME call.

Example::

    >>> n = naming(["monitor.txt.gz"], load_snapshots("clients.log.gz"))  # doctest: +SKIP
    >>> n.attach(block).name.value_counts()  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from .clientlist import address_rows, name_events, setname_rows
from ..read.files import is_parquet, open_binary
from ..read.ingest import read_monitor
from ..read.layout import columns_to_read, unpack
from ..read.schema import table_to_frame

__all__ = ["Naming", "naming", "setname_events", "setname_lines"]

SETNAME = re.compile(rb"setname")
PIECE = 8 << 20  # bytes looked at at once: a lowered copy of each is made
SETNAME_COLUMNS = ["ts", "client", "command", "subcommand", "nargs", "args", "line"]


@dataclass(frozen=True, eq=False)
class Naming:
    """What naming one block needs: the snapshots' address rows and the capture's SETNAME
    rows (see :func:`~monitorlens.analysis.clientlist.name_events`)."""

    rows: pd.DataFrame
    sets: pd.DataFrame
    tolerance: str = "60s"

    @classmethod
    def of(cls, snapshots: pd.DataFrame, calls: pd.DataFrame) -> "Naming":
        """From CLIENT LIST ``snapshots`` and the capture's :func:`setname_events`."""
        return cls(address_rows(snapshots), setname_rows(calls))

    def attach(self, events: pd.DataFrame) -> pd.DataFrame:
        """``events`` with their clients' names at each line (as ``attach_names`` adds them)."""
        return name_events(events, self.rows, self.sets, tolerance=self.tolerance)


def setname_events(paths: Iterable[Path]) -> pd.DataFrame:
    """The events of captures (files: each is read once more) that may set a name."""
    calls = [setname_lines(p) for p in paths]
    return pd.concat(calls, ignore_index=True) if len(calls) > 1 else calls[0]


def naming(paths: Iterable[Path], snapshots: pd.DataFrame) -> Naming:
    """The :class:`Naming` of captures and their CLIENT LIST ``snapshots``."""
    return Naming.of(snapshots, setname_events(paths))


def setname_lines(path: Path) -> pd.DataFrame:
    """The events of a capture (text, gzip or Parquet) that may set a name: the lines that
    hold ``setname`` in any case (CLIENT SETNAME, HELLO ... SETNAME), parsed as they are."""
    if is_parquet(path):
        table = pq.read_table(path, columns=columns_to_read(SETNAME_COLUMNS),
                              filters=[("command", "in", ["CLIENT", "HELLO"])])
        return table_to_frame(unpack(table))
    return read_monitor(_lines_with_setname(path), workers=1)


def _lines_with_setname(path: Path) -> Iterator[bytes]:
    """Whole lines of a text capture whose lowered bytes hold ``setname``, in order."""
    with open_binary(path) as f:
        rest = b""
        while True:
            piece = f.read(PIECE)
            if not piece:
                break
            data = rest + piece
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            yield from _matches(data)
        if rest:
            yield from _matches(rest)


def _matches(data: bytes) -> Iterator[bytes]:
    low = data.lower()
    end = 0
    for m in SETNAME.finditer(low):
        if m.start() < end:
            continue  # another match on a line already taken
        start = data.rfind(b"\n", 0, m.start()) + 1
        end = data.find(b"\n", m.end())
        end = len(data) if end < 0 else end + 1
        yield data[start:end]
