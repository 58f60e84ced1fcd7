"""DataFrame rows as JSON-ready dicts: the one conversion every ``to_dict`` uses."""

from __future__ import annotations

import math
from typing import Any, Mapping

import pandas as pd

from .findings import clip, printable


def _scalar(value: Any) -> Any:
    """A DataFrame cell as JSON: ISO times, None for nulls, Python numbers."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None  # JSON has no infinity (a ratio over a zero baseline)
    return value


def records(table: pd.DataFrame, columns: Mapping[str, str], top: int | None = None) -> list[dict[str, Any]]:
    """Rows of ``table`` as JSON-ready dicts: ``columns`` maps the table's column -> the JSON name.

    >>> records(by_db(events), {"db": "db", "count": "events"})  # doctest: +SKIP
    [{'db': 0, 'events': 5622}]
    """
    rows = table.head(top) if top is not None else table
    cols = [c for c in columns if c in rows.columns]
    return [{columns[c]: _cell(v) for c, v in zip(cols, row)} for row in rows[cols].itertuples(index=False)]


def _cell(value: Any) -> Any:
    """A cell for JSON and for the report's tables: a scalar; texts with their invisible
    characters escaped (:func:`~monitorlens.analysis.findings.printable`), long ones cut with their size."""
    value = _scalar(value)
    return printable(clip(value)) if isinstance(value, str) else value


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (a ratio over a zero baseline, a NaN metric) as None:
    JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
