"""Numbers that read right: a finding's metrics as words with units, plurals, yes/no.

Findings keep machine names in their metrics (``slope_per_min``, ``span_s``: the JSON
keys); every view shows them through :func:`metric_label` and :func:`metric_text`, so a
reader sees "growth 60.0 connections/min", never ``slope_per_min 60.00002``.

Example::

    >>> metric_label("span_s"), metric_text("span_s", 72.00004), metric_text("r2", 0.99999)
    ('over', '72.0 s', '100%')
"""

from __future__ import annotations

import math
from typing import Any

from .._human import bytes_text, minutes_text, plural, seconds_text
from ..analysis.findings import printable

__all__ = ["METRICS", "ROW_LABELS", "row_label", "metric_label", "metric_text", "plural", "count_text", "yes_no"]

# key -> (words, kind). Kinds: int, signed (a change: +72), pct, per_min (connections a
# minute), seconds, minutes, us (microseconds), bytes, num (a plain number, rounded).
METRICS: dict[str, tuple[str, str]] = {
    # connection growth (CLIENT LIST, connection-count logs)
    "slope_per_min": ("growth", "per_min"),
    "steadiness": ("steps up or flat", "pct"),
    "r2": ("straight-line fit", "pct"),
    "span_s": ("over", "seconds"),
    "first_clients": ("connections at the start", "int"),
    "last_clients": ("connections at the end", "int"),
    "rise": ("rise", "signed"),
    "minutes_to_maxclients": ("time to maxclients at this rate", "minutes"),
    "host_growth": ("its host's growth, same snapshots", "signed"),
    "share_of_host_growth": ("share of its host's growth", "pct"),
    "server_growth": ("the server's growth, same snapshots", "signed"),
    "share_of_server_growth": ("share of the server's growth", "pct"),
    "server_log_slope_per_min": ("the server's growth in the connection-count log", "per_min"),
    "maxclients": ("maxclients", "int"),
    "share_of_maxclients": ("share of maxclients in use", "pct"),
    "short_lived_per_min": ("short-lived connections", "per_min"),
    "opened_per_min": ("connections opened", "per_min"),
    # other CLIENT LIST findings
    "clients": ("clients", "int"),
    "hosts": ("hosts", "int"),
    "listed_unnamed_clients": ("unnamed connections in the last snapshot", "int"),
    "listed_unnamed_hosts": ("hosts of those connections", "int"),
    "monitor_clients_max": ("most MONITOR clients at once", "int"),
    "oldest_age_s": ("oldest running for", "seconds"),
    "longest_wait_s": ("longest wait", "seconds"),
    "longest_idle_s": ("longest idle", "seconds"),
    "peak_omem_bytes": ("largest output buffer", "bytes"),
    "peak_qbuf_bytes": ("largest query buffer", "bytes"),
    # MONITOR findings
    "events": ("events", "int"),
    "calls": ("calls", "int"),
    "calls_of_command": ("calls of the command", "int"),
    "selects": ("SELECT calls", "int"),
    "share": ("share", "pct"),
    "largest_bytes": ("largest argument", "bytes"),
    "total_bytes": ("all these arguments", "bytes"),
    "redacted_arguments": ("arguments redacted", "int"),
    "hidden_commands": ("commands MONITOR does not show", "int"),
    "longest_gap_us": ("longest silence", "us"),
    "total_gap_us": ("silences in all", "us"),
    "duration_s": ("capture length", "seconds"),
}
# The columns of a finding's evidence rows (free-form dicts), in words.
ROW_LABELS: dict[str, str] = {
    "id": "Id", "addr": "Address", "name": "Name", "user": "User", "age": "Age (s)", "idle": "Idle (s)",
    "flags": "Flags", "cmd": "Last command", "omem": "Output buffer", "qbuf": "Query buffer",
    "tot_mem": "Total memory", "oll": "Reply list", "last_seen": "Last seen", "first_seen": "First seen",
    "connected": "Still connected", "kill": "In the kill plan", "blocked_share": "Share of snapshots blocked",
    "growth_bytes_per_min": "Growth a minute", "client": "Client", "call": "Call", "count": "Events",
    "first": "First", "last": "Last", "reason": "Reason", "hidden_from_monitor": "Not shown by MONITOR",
}
# Families of keys made from a value: calls_all (KEYS by scope), rejected_<reason>.
PREFIXES = {"calls_": ("calls, pattern {}", "int"), "rejected_": ("lines rejected: {}", "int")}


def _spec(key: str) -> tuple[str, str]:
    if key in METRICS:
        return METRICS[key]
    for prefix, (words, kind) in PREFIXES.items():
        if key.startswith(prefix):
            return words.format(key[len(prefix):].replace("_", " ")), kind
    return key.replace("_", " "), "num"


def row_label(key: str) -> str:
    """The heading of an evidence row column (unknown keys: the key in words).

    >>> row_label("tot_mem"), row_label("kill"), row_label("gap_us")
    ('Total memory', 'In the kill plan', 'Gap us')
    """
    return ROW_LABELS.get(key, key.replace("_", " ").capitalize())


def metric_label(key: str) -> str:
    """The words for metric ``key`` (unknown keys: the key with spaces).

    >>> metric_label("slope_per_min"), metric_label("calls_all"), metric_label("rejected_no_timestamp")
    ('growth', 'calls, pattern all', 'lines rejected: no timestamp')
    """
    return _spec(key)[0]


def metric_text(key: str, value: Any) -> str:
    """``value`` of metric ``key`` with its unit, rounded for reading; null is ``–``.

    >>> [metric_text(k, v) for k, v in [("slope_per_min", 60.00003), ("steadiness", 1.0),
    ...  ("minutes_to_maxclients", float("nan")), ("rise", 56.0), ("longest_gap_us", 1234567)]]
    ['60.0 connections/min', '100%', '–', '+56', '1.2 s']
    """
    kind = _spec(key)[1]
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return yes_no(value) if isinstance(value, bool) else ("–" if value is None else printable(str(value)))
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞"
    if kind == "int":
        return f"{value:,.0f}"
    if kind == "signed":
        return f"{value:+,.0f}"
    if kind == "pct":
        return f"{100 * value:.0f}%" if value >= 0.995 or value == 0 else f"{100 * value:.1f}%".replace(".0%", "%")
    if kind == "per_min":
        return f"{value:,.1f} connections/min"
    if kind == "seconds":
        return seconds_text(value)
    if kind == "minutes":
        return minutes_text(value)
    if kind == "us":
        return seconds_text(value / 1e6) if value >= 1e6 else f"{value / 1000:,.1f} ms"
    if kind == "bytes":
        return bytes_text(value)
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def count_text(n: int, unit: str) -> str:
    """A finding's count with its unit (given in the plural, as :class:`Evidence` holds it).

    >>> count_text(1, "events"), count_text(72, "clients"), count_text(1, "short-lived connections")
    ('1 event', '72 clients', '1 short-lived connection')
    """
    return plural(n, unit.removesuffix("s") if unit.endswith("s") else unit, unit)


def yes_no(value: Any) -> str:
    """A flag as a reader says it: yes/no (never Python's True/False); null is ``–``.

    >>> yes_no(True), yes_no(False), yes_no(None)
    ('yes', 'no', '–')
    """
    if value is None:
        return "–"
    return "yes" if bool(value) else "no"
