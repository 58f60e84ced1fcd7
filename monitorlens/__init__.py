"""monitorlens: the post-mortem of a Redis incident.

Read MONITOR captures and CLIENT LIST logs into pandas DataFrames, store them
as Parquet, find what made the load, and write a self-contained report::

    import monitorlens as ml
    events = ml.read_monitor("capture.txt.gz")
    ml.write_parquet(events, "capture.parquet")
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import schema
from .errors import InputError, MonitorlensError, ParseError
from .findings import Evidence, Finding, Sample
from .ingest import MonitorStream, read_monitor
from .patterns import PatternRules, fingerprint, key_patterns
from .schema import Provenance, provenance, rejects
from .store import convert, load, read_parquet, write_parquet

__all__ = [
    "__version__",
    "schema",
    "MonitorlensError",
    "InputError",
    "ParseError",
    "Finding",
    "Evidence",
    "Sample",
    "MonitorStream",
    "read_monitor",
    "Provenance",
    "provenance",
    "rejects",
    "convert",
    "load",
    "read_parquet",
    "write_parquet",
    "PatternRules",
    "fingerprint",
    "key_patterns",
]
