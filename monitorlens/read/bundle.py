"""A capture bundle: the folder ``python -m monitorlens capture`` writes.

Files, each optional (a folder with none of them is not a bundle):

- ``monitor.txt.gz`` (or ``monitor.txt``): MONITOR lines, read by ``read_monitor``;
- ``clients.log.gz`` (or ``clients.log``): CLIENT LIST snapshots, read by ``read_client_list``;
- ``connections.csv``: ``<epoch>,<clients>`` rows, read by ``read_connection_counts``;
- ``server.json``: INFO before and after, ``maxclients``, the capture's own commands and
  why it stopped (format ``monitorlens-capture/1``, see ``monitorlens.live.capture``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["Bundle", "is_bundle", "open_bundle", "BUNDLE_FILES", "FORMAT"]

#: The names looked for, in order of preference, for each part of a bundle (``capture``
#: writes the first of each).
BUNDLE_FILES: dict[str, tuple[str, ...]] = {
    "monitor": ("monitor.txt.gz", "monitor.txt"),
    "clients": ("clients.log.gz", "clients.log"),
    "connections": ("connections.csv",),
    "server": ("server.json",),
}
#: The ``format`` of a bundle's server.json.
FORMAT = "monitorlens-capture/1"


@dataclass(frozen=True)
class Bundle:
    """The files of one bundle folder (None when absent) and its ``server.json``, parsed.

    >>> b = open_bundle("incident/")  # doctest: +SKIP
    >>> b.monitor, b.maxclients  # doctest: +SKIP
    (PosixPath('incident/monitor.txt.gz'), 10000)
    """

    folder: Path
    monitor: Path | None = None
    clients: Path | None = None
    connections: Path | None = None
    server_path: Path | None = None
    server: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def maxclients(self) -> int | None:
        """``maxclients`` of the server the bundle was captured from, when known."""
        value = self.server.get("maxclients")
        return int(value) if isinstance(value, int) else None

    @property
    def version(self) -> str | None:
        """The server's version (``redis_version``), when known."""
        return self.server.get("version")

    @property
    def stop_reason(self) -> str | None:
        """Why the capture stopped (``duration``, ``throughput-drop``...), when known."""
        return ((self.server.get("capture") or {}).get("stop") or {}).get("reason")


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding at least one bundle file."""
    p = Path(path)
    return p.is_dir() and any((p / name).is_file() for names in BUNDLE_FILES.values() for name in names)


def open_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Find the files of a bundle folder and read its ``server.json``.

    Raises :class:`~monitorlens.errors.InputError` for a folder without bundle files or a
    ``server.json`` that is not the capture's JSON.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    found = {part: next((folder / n for n in names if (folder / n).is_file()), None) for part, names in BUNDLE_FILES.items()}
    if not any(found.values()):
        wanted = ", ".join(names[0] for names in BUNDLE_FILES.values())
        raise InputError(f"{folder}: no bundle files in this folder (expected {wanted}, as `capture -o` writes)")
    server: dict[str, Any] = {}
    if found["server"] is not None:
        try:
            server = json.loads(found["server"].read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{found['server']}: cannot be read as JSON ({e})") from None
        if not isinstance(server, dict) or server.get("format") != FORMAT:
            raise InputError(f"{found['server']}: not a capture's server.json (format {FORMAT} expected)")
    return Bundle(folder, found["monitor"], found["clients"], found["connections"], found["server"], server)
