"""The house style of every monitorlens chart, and what turns a figure into a file or inline SVG.

One style for the MONITOR charts (:mod:`monitorlens.plots.traffic`) and the CLIENT LIST
charts (:mod:`monitorlens.plots.clients`): readable at ticket size, labels cut to fit and
never parsed as math, titles with the time range under them, deterministic SVG.
:func:`inline_svg` turns an SVG into markup safe to inline in the report (no script, no
comments, ids made unique).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..findings import printable

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# The house style: readable at ticket size (a 1000 px wide PNG), no math parsing of
# labels (a key such as "$x^2$" is text), fixed SVG ids and no dates (deterministic files).
STYLE: Mapping[str, Any] = {
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
    "axes.prop_cycle": __import__("cycler").cycler(color=[
        "#2f5f98", "#e08a1e", "#3a9a5b", "#c2423a", "#7a5aa6", "#8c6d4f", "#d16ba5", "#6f7782",
        "#b5b83a", "#33a6b8",
    ]),
}
OTHER_COLOR = "#c5c9cf"
LABEL_MAX = 42  # characters of a label before it is cut with "…"


@contextmanager
def house_style() -> Iterator[None]:
    """Apply :data:`STYLE` for the figures made inside the block."""
    import matplotlib

    with matplotlib.rc_context(dict(STYLE)):
        yield


def label(text: Any, limit: int = LABEL_MAX) -> str:
    """Capture text as a chart label: control characters visible, cut to ``limit``.

    >>> label("user:" + "9" * 60, 12)
    'user:999999…'
    """
    s = printable(str(text)) or '""'  # the empty key is a key
    return s if len(s) <= limit else s[: limit - 1] + "…"


def palette(names: Any) -> list[str]:
    """A color per series, in the house order; ``(other)`` is always grey."""
    colors = STYLE["axes.prop_cycle"].by_key()["color"]
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


def time_range(first: Any, last: Any) -> str:
    """``2026-11-25 21:25:04 → 21:25:34 UTC (30 s)`` for a chart's subtitle.

    >>> time_range("2026-11-25T21:25:04Z", "2026-11-25T21:25:34.5Z")
    '2026-11-25 21:25:04 → 21:25:34 UTC (30.5 s)'
    """
    if first is None or last is None or pd.isna(first) or pd.isna(last):
        return "no events"
    a, b = _utc(first), _utc(last)
    seconds = (b - a).total_seconds()
    from ..report import duration_text

    span = duration_text(seconds)
    end = b.strftime("%H:%M:%S") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M:%S")
    return f"{a.strftime('%Y-%m-%d %H:%M:%S')} → {end} UTC ({span})"


def titled(ax: Axes, title: str, subtitle: str) -> None:
    """A bold title with the time range (and units) under it in plain text."""
    ax.set_title(title, loc="left", pad=24)
    ax.annotate(subtitle, xy=(0, 1), xycoords="axes fraction", xytext=(0, 8), textcoords="offset points",
                fontsize=10, color="#4d5156", va="bottom", ha="left", annotation_clip=False)


def time_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates

    from matplotlib.ticker import FuncFormatter

    lo, hi = ax.get_xlim()
    short = (hi - lo) * 86400 < 10  # matplotlib dates are days: under 10 s, show milliseconds
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6 if short else 9))

    def hms(x: float, _pos: Any) -> str:
        t = mdates.num2date(x)
        return t.strftime("%H:%M:%S") + (f".{t.microsecond // 1000:03d}" if short else "")

    ax.xaxis.set_major_formatter(FuncFormatter(hms))


def empty_axes(ax: Axes, title: str) -> Axes:
    titled(ax, title, "no events")
    ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes, color="#6f7782")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def hbars(ax: Axes, labels: list[str], values: np.ndarray, notes: list[str], xlabel: str) -> None:
    y = np.arange(len(labels))[::-1]
    ax.barh(y, values, height=0.7)
    ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(xlabel)
    top = float(values.max()) if len(values) else 1.0
    for yi, v, note in zip(y, values, notes):
        ax.text(v + top * 0.01, yi, note, va="center", fontsize=9, color="#3c4043")
    ax.set_xlim(0, top * 1.18 or 1)


def _width_in(texts: list[str], size: float) -> float:
    """The widest of ``texts`` at font ``size``, in inches (from the font's metrics, no drawing)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    ttp, prop = TextToPath(), FontProperties(size=size)
    widest = max((ttp.get_text_width_height_descent(t, prop, ismath=False)[0] for t in texts if t), default=0)
    return 1.1 * widest / 72  # hinting draws a few percent wider than the metrics say


def fit(fig: Figure, ax: Axes) -> None:
    """Margins for the title, subtitle, tick labels, axis labels and an outside legend.

    # Strategy: measure the texts with the font's metrics and set the margins once,
    # instead of matplotlib's constrained layout, which draws the figure one more time
    # to measure it (two thirds of the cost of a chart).
    """
    import matplotlib

    rc = matplotlib.rcParams
    width, height = fig.get_size_inches()
    ticks = [t for t in ax.yaxis.get_major_formatter().format_ticks(ax.get_yticks())]
    tick_size = FontProperties_size(rc["ytick.labelsize"])
    left = 0.25 + _width_in(ticks, tick_size) + (0.3 if ax.get_ylabel() else 0)
    right = 0.3
    legend = ax.get_legend()
    if legend is not None and legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1:
        texts = [t.get_text() for t in legend.get_texts()]
        right = 0.45 + max(_width_in(texts, rc["legend.fontsize"]) + 0.45,
                           _width_in([legend.get_title().get_text()], rc["legend.fontsize"]))
    top = 0.85 if ax.get_title(loc="left") else 0.3
    bottom = 0.3 + (0.3 if ax.get_xticklabels() or ax.get_xticks().size else 0) + (0.25 if ax.get_xlabel() else 0)
    fig.subplots_adjust(left=min(left / width, 0.5), right=max(1 - right / width, 0.55),
                        top=1 - top / height, bottom=bottom / height)


def FontProperties_size(size: Any) -> float:  # noqa: N802
    """A font size from rcParams (a number or a name such as ``"medium"``) in points."""
    from matplotlib.font_manager import FontProperties

    return float(FontProperties(size=size).get_size_in_points())


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as ``png`` or ``svg`` bytes, without dates or software versions in them.

    >>> figure_bytes(chart("gaps", a), "svg")[:5]  # doctest: +SKIP
    b'<?xml'
    """
    if fmt not in ("png", "svg"):
        raise InputError(f"unknown image format {fmt!r}: use png or svg")
    buf = io.BytesIO()
    metadata = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
    with house_style():
        fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_DROP = re.compile(r"<!--.*?-->|<metadata>.*?</metadata>|<script\b.*?</script>|<foreignObject\b.*?</foreignObject>", re.S | re.I)
_STYLE_EL = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S)
_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_EVENT_ATTR = re.compile(r"\s+on\w+\s*=\s*(\"[^\"]*\"|'[^']*')", re.I)
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(xlink:href="#|href="#|url\(#)([^")]+)')
_SIZE = re.compile(r'<svg\b([^>]*?)\swidth="[^"]*"\s+height="[^"]*"')


def inline_svg(svg: bytes | str, prefix: str) -> str:
    """An SVG file as markup to inline in HTML: no prolog, comments, metadata, namespaces
    (an HTML parser does not need them), style element (matplotlib's applies to every
    element of a page), script or event handler; every id (and reference) prefixed so that
    several charts live in one page. Fixed size attributes are dropped (CSS sizes it).

    >>> inline_svg(figure_bytes(chart("gaps", a), "svg"), "gaps-")[:4]  # doctest: +SKIP
    '<svg'
    """
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    text = _PROLOG.sub("", text, count=1)
    style = "; ".join(m.strip().removeprefix("*{").removesuffix("}") for m in _STYLE_EL.findall(text))
    text = _STYLE_EL.sub("", text)
    text = _DROP.sub("", text)
    text = _XMLNS.sub("", text)
    text = _EVENT_ATTR.sub("", text)
    text = _ID.sub(lambda m: f'id="{prefix}{m[1]}"', text)
    text = _REF.sub(lambda m: f"{m[1]}{prefix}{m[2]}", text)
    text = _SIZE.sub(r"<svg\1", text, count=1)
    if style:
        text = text.replace("<svg", f'<svg style="{style}"', 1)
    text = re.sub(r"<defs>\s*</defs>", "", text)
    return "\n".join(line for line in text.splitlines() if line.strip())
