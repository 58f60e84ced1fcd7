"""The house style of every monitorlens chart, shared by both renderers (:mod:`.svg`, :mod:`.mpl`).

One style for the MONITOR charts (:mod:`monitorlens.render.plots.monitor`) and the CLIENT LIST
charts (:mod:`monitorlens.render.plots.clientlist`): readable at ticket size, labels cut to fit and
never parsed as math, titles with the time range under them, deterministic SVG.
:func:`inline_svg` turns a chart's SVG document into markup to inline in the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..._human import duration_text
from ...analysis.findings import printable

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

COLORS = ("#2f5f98", "#e08a1e", "#3a9a5b", "#c2423a", "#7a5aa6", "#8c6d4f", "#d16ba5", "#6f7782",
          "#b5b83a", "#33a6b8")
# The house style: readable at ticket size (a 1000 px wide PNG), no math parsing of
# labels (a key such as "$x^2$" is text), fixed SVG ids and no dates (deterministic files).
STYLE: Mapping[RcKeyType, Any] = {
    "figure.figsize": (10.0, 4.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10.5,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e5e8",
    "grid.linewidth": 0.8,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "text.parse_math": False,
    "svg.hashsalt": "monitorlens",
    "svg.fonttype": "path",
    "axes.prop_cycle": __import__("cycler").cycler(color=COLORS),
}
OTHER_COLOR = "#c5c9cf"
SUBTITLE_COLOR = "#4d5156"  # the time range under a title
NOTE_COLOR = "#3c4043"  # the note right of a bar
MUTED_COLOR = "#6f7782"  # "nothing to show"
LABEL_MAX = 42  # characters of a label before it is cut with "…"


def label(text: Any, limit: int = LABEL_MAX) -> str:
    """Capture text as a chart label: control characters visible, cut to ``limit``.

    >>> label("user:" + "9" * 60, 12)
    'user:999999…'
    """
    s = printable(str(text)) or '""'  # the empty key is a key
    return s if len(s) <= limit else s[: limit - 1] + "…"


def palette(names: Any) -> list[str]:
    """A color per series, in the house order; ``(other)`` is always grey."""
    colors = COLORS
    out, i = [], 0
    for name in names:
        if name == "(other)":
            out.append(OTHER_COLOR)
        else:
            out.append(colors[i % len(colors)])
            i += 1
    return out


def _utc(value: Any) -> pd.Timestamp:
    return pd.Timestamp(value).tz_convert("UTC")


def naive_utc(value: Any) -> np.datetime64:
    """A time as naive UTC numpy datetime, what matplotlib's date axis takes."""
    return _utc(value).tz_localize(None).to_datetime64()


def clock(t: Any, span: float) -> str:
    """A time axis label: ``HH:MM:SS``, with milliseconds when the axis spans under 10 s and
    with the date when it spans over a day (labels never repeat).

    >>> clock(pd.Timestamp("2026-11-25 21:25:04.250"), 5), clock(pd.Timestamp("2026-11-25 21:25:04"), 2 * 86400)
    ('21:25:04.250', '11-25 21:25')
    """
    if span > 86400:
        return t.strftime("%m-%d %H:%M")
    return t.strftime("%H:%M:%S") + (f".{t.microsecond // 1000:03d}" if span < 10 else "")


def time_range(first: Any, last: Any) -> str:
    """``2026-11-25 21:25:04 → 21:25:34 UTC (30 s)`` for a chart's subtitle.

    >>> time_range("2026-11-25T21:25:04Z", "2026-11-25T21:25:34.5Z")
    '2026-11-25 21:25:04 → 21:25:34 UTC (30.5 s)'
    """
    if first is None or last is None or pd.isna(first) or pd.isna(last):
        return "no events"
    a, b = _utc(first), _utc(last)
    seconds = (b - a).total_seconds()
    span = duration_text(seconds)
    end = b.strftime("%H:%M:%S") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M:%S")
    return f"{a.strftime('%Y-%m-%d %H:%M:%S')} → {end} UTC ({span})"


_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_SIZE = re.compile(r'<svg\b([^>]*?)\swidth="[^"]*"\s+height="[^"]*"')


def inline_svg(svg: str) -> str:
    """A chart's SVG document (:func:`~.svg.to_svg`) as markup to inline in HTML: without its
    namespace (an HTML parser does not need it) and its fixed size (CSS sizes it).

    Nothing else needs removing: :func:`~.svg.to_svg` escapes every text and writes no
    script, style element, comment or id, so charts cannot clash in one page.

    >>> inline_svg('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="5" viewBox="0 0 10 5"></svg>')
    '<svg viewBox="0 0 10 5"></svg>'
    """
    text = _XMLNS.sub("", svg)
    text = _SIZE.sub(r"<svg\1", text, count=1)
    return text.rstrip("\n")
