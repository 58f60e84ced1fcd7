"""Text for people: durations, sizes and times as every view writes them. Below all stages."""

from __future__ import annotations

__all__ = ["seconds_text", "duration_text", "minutes_text", "bytes_text", "time_text"]


def seconds_text(seconds: float) -> str:
    """A duration in seconds under 2 min, minutes under 2 h, then hours (the terminal's).

    >>> seconds_text(30.0), seconds_text(600), seconds_text(9000)
    ('30.0 s', '10.0 min', '2.5 h')
    """
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


def duration_text(seconds: float) -> str:
    """A span for a reader: :func:`seconds_text`, and milliseconds under a second (a capture
    of a few lines).

    >>> duration_text(0.0065), duration_text(30.0)
    ('6.5 ms', '30.0 s')
    """
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else seconds_text(seconds)


def minutes_text(minutes: float) -> str:
    """A time to maxclients for people: seconds under 2 min, then minutes, hours, days.

    >>> minutes_text(0.28), minutes_text(83.4), minutes_text(600), minutes_text(5000)
    ('17 s', '83 min', '10 h', '3.5 days')
    """
    if minutes < 2:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.1f} days"


def bytes_text(n: float) -> str:
    """Bytes in binary units, as CLIENT LIST thresholds are (``1 MiB`` = 1,048,576).

    >>> bytes_text(512), bytes_text(7524968)
    ('512 B', '7.2 MiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"  # pragma: no cover


def time_text(iso: str) -> str:
    """A UTC time as every view writes it: to the millisecond, whatever the input's precision.

    >>> time_text("2026-11-25T21:25:04.031511+00:00"), time_text("2026-11-25T21:25:04+00:00")
    ('2026-11-25 21:25:04.031', '2026-11-25 21:25:04.000')
    """
    day, _, clock = iso.replace("T", " ").removesuffix("+00:00").partition(" ")
    whole, _, fraction = clock.partition(".")
    return f"{day} {whole}.{(fraction + '000')[:3]}" if whole else day


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and the word, singular for exactly one.

    >>> plural(1, "key"), plural(3, "key"), plural(2, "match", "matches"), plural(1200, "client")
    ('1 key', '3 keys', '2 matches', '1,200 clients')
    """
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
