"""monitorlens: the post-mortem of a Redis incident.

Read MONITOR captures and CLIENT LIST logs into pandas DataFrames, store them
as Parquet, find what made the load, and write a self-contained report.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import InputError, MonitorlensError, ParseError
from .findings import Evidence, Finding, Sample

__all__ = [
    "__version__",
    "MonitorlensError",
    "InputError",
    "ParseError",
    "Finding",
    "Evidence",
    "Sample",
]
