"""A :class:`~.model.Plot` as SVG text, written directly: the report's charts and ``plot -o x.svg``.

No matplotlib here: importing it and drawing five charts took 1.4 s of every report, more
than the analysis of a 1M-line capture. The layout is matplotlib's house style
(:data:`~.style.STYLE`): a 1000 px wide chart, the bold title and the time range above
the axes, grid lines, a legend right of the chart or inside it. Text stays text (searchable,
copyable, scaled by the viewer) and every text is XML-escaped, so a key such as
``<script>`` is shown, never parsed. The output is deterministic: no ids, dates or
versions.

Example::

    >>> to_svg(traffic_plot(analysis.timeline))[:4]  # doctest: +SKIP
    '<svg'
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, overload

import numpy as np

from ...analysis.findings import printable
from .layers import HBars, Hist, Line, Note, Marker, Stack, Stems
from .style import MUTED_COLOR, NOTE_COLOR, STYLE, SUBTITLE_COLOR, clock

if TYPE_CHECKING:
    from .model import Plot

DPI = float(STYLE["figure.dpi"])
PX = DPI / 72  # pixels per point
WIDTH = float(STYLE["figure.figsize"][0]) * DPI
FONT = float(STYLE["font.size"]) * PX
TITLE = float(STYLE["axes.titlesize"]) * PX
SMALL = float(STYLE["legend.fontsize"]) * PX
SUBTITLE = 10 * PX
INK, GRID = "#1f2124", STYLE["grid.color"]
FAMILY = "DejaVu Sans, Verdana, Geneva, sans-serif"

# Advance widths of DejaVu Sans (the font matplotlib draws with) for " " to "~", in
# thousandths of an em, read from its metrics; other characters count 0.62 em (1 em when wide).
_ADVANCE = [int(w) for w in """
318 401 460 838 636 950 780 275 390 390 500 838 318 361 318 337 636 636 636 636 636 636 636 636
636 636 337 337 838 838 838 531 1000 684 686 698 770 632 575 775 752 295 295 656 557 863 748 787
603 787 695 635 611 732 684 989 685 611 685 390 337 390 838 500 500 613 635 550 635 615 352 635
634 278 278 579 278 974 634 612 635 635 411 521 392 634 592 818 592 592 525 636 337 636 838
""".split()]


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of ``text`` in pixels at font ``size`` (pixels), from DejaVu Sans' metrics.

    >>> round(text_width("GET", 10))
    20
    """
    units = 0
    for ch in text:
        code = ord(ch)
        if 32 <= code < 127:
            units += _ADVANCE[code - 32]
        else:
            units += 1000 if unicodedata.east_asian_width(ch) in "WF" else 620
    return units / 1000 * size * (1.08 if bold else 1.0)


# ------------------------------------------------------------------------------ ticks


def nice_ticks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Round tick values from ``lo`` to ``hi``: steps of 1, 2, 2.5 or 5 times a power of ten.

    >>> nice_ticks(0, 1040)
    [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
    """
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(most - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = float(math.ceil(lo / step - 1e-9) * step)
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def number_text(value: float, step: float) -> str:
    """A tick value with thousands separators and as many decimals as the step needs."""
    decimals = 0 if step >= 1 else min(6, -math.floor(math.log10(step) + 1e-9))
    if step == 2.5 * 10 ** math.floor(math.log10(step)) and step < 10:
        decimals += 1
    return f"{value:,.{decimals}f}"


_TIME_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
               900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 30 * 86400)  # fmt: skip


def time_ticks(lo: float, hi: float, most: int = 8) -> list[tuple[float, str]]:
    """Ticks of a time axis (seconds since the epoch, UTC) on round seconds, minutes or hours,
    labelled by :func:`~.style.clock`.

    >>> [t for _, t in time_ticks(1795641964.2, 1795641994.0)]
    ['21:26:05', '21:26:10', '21:26:15', '21:26:20', '21:26:25', '21:26:30']
    """
    span = hi - lo
    if not span > 0:
        return [(lo, _clock(lo, 60))]
    step = next((s for s in _TIME_STEPS if span / s <= most), _TIME_STEPS[-1])
    first = math.ceil(round(lo / step, 6)) * step
    n = int((hi - first) / step + 1e-9) + 1
    return [(first + i * step, _clock(first + i * step, span)) for i in range(n)]


def _clock(seconds: float, span: float) -> str:
    return clock(np.datetime64(round(seconds * 1000), "ms").item(), span)


def seconds(x: Iterable[object]) -> np.ndarray:
    """Naive UTC datetime64 values (or numbers) as float seconds since the epoch."""
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[us]").astype(np.int64) / 1e6
    return arr.astype(float)


# ------------------------------------------------------------------------------ scales


class _Scale:
    """Data to pixels along one axis (``log`` for log10 of the values)."""

    def __init__(self, lo: float, hi: float, a: float, b: float, log: bool = False) -> None:
        self.log = log
        self.lo, self.hi = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
        self.a, self.b = a, b

    @overload
    def __call__(self, v: float) -> float: ...

    @overload
    def __call__(self, v: np.ndarray) -> np.ndarray: ...

    def __call__(self, v: np.ndarray | float) -> np.ndarray | float:
        v = np.log10(np.maximum(v, 1e-300)) if self.log else np.asarray(v, dtype=float)
        span = self.hi - self.lo or 1.0
        return self.a + (v - self.lo) / span * (self.b - self.a)


def _x_values(layer: object) -> list[np.ndarray]:
    if isinstance(layer, (Stack, Line, Stems)):
        return [seconds(layer.x)]
    if isinstance(layer, Hist):
        return [np.asarray(layer.edges, dtype=float)]
    return []


def _y_top(layer: object) -> float:
    if isinstance(layer, Stack):
        return float(np.sum(layer.ys, axis=0).max(initial=0)) if layer.ys else 0.0
    if isinstance(layer, (Line, Stems)):
        return float(np.nanmax(layer.y, initial=0))
    if isinstance(layer, Hist):
        return float(np.max(layer.counts, initial=0))
    if isinstance(layer, Note):
        return float(layer.y)
    return 0.0


def _xlim(plot: Plot) -> tuple[float, float]:
    if plot.xlim is not None:
        lo, hi = seconds(plot.xlim) if plot.xscale == "time" else plot.xlim
        return float(lo), float(hi)
    values = [v for layer in plot.layers for v in _x_values(layer) if len(v)]
    if not values:
        return (0.0, 1.0)
    lo, hi = min(float(np.min(v)) for v in values), max(float(np.max(v)) for v in values)
    if plot.xscale == "log":
        return lo, hi
    if any(isinstance(layer, Stack) for layer in plot.layers):
        return lo, hi if hi > lo else lo + 1
    pad = (hi - lo) * 0.05 or 1.0  # matplotlib's margins around lines and points
    return lo - pad, hi + pad


def _ylim(plot: Plot) -> tuple[float, float]:
    if plot.ylim is not None:
        return float(plot.ylim[0]), float(plot.ylim[1])
    top = max((_y_top(layer) for layer in plot.layers), default=0.0)
    return 0.0, top * 1.05 or 1.0


# ------------------------------------------------------------------------------ drawing


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, size: float, *, anchor: str = "start", fill: str = INK,
          bold: bool = False, rotate: bool = False, middle: bool = False) -> str:
    attrs = [f'x="{_n(x)}"', f'y="{_n(y)}"', f'font-size="{_n(size)}"', f'fill="{fill}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if bold:
        attrs.append('font-weight="bold"')
    if middle:
        attrs.append('dy="0.35em"')
    if rotate:
        attrs.append(f'transform="rotate(-90 {_n(x)} {_n(y)})"')
    return f"<text {' '.join(attrs)}>{_xml(text)}</text>"


_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # after printable(): what XML 1.0 still forbids


def _xml(text: str) -> str:
    """Text as XML character data: escaped, and control characters (not allowed in XML)
    and bidi overrides shown as ``\\xNN`` / ``\\uNNNN``, as everywhere in monitorlens."""
    return escape(_NOT_XML.sub(lambda m: f"\\u{ord(m[0]):04x}", printable(text)), quote=True)


def _path(points: Sequence[tuple[float, float]] | np.ndarray, close: bool = False) -> str:
    pts = np.asarray(points, dtype=float)
    d = "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in pts)
    return d + (" Z" if close else "")


def _legend_entries(plot: Plot) -> list[tuple[str, str, str]]:
    """(label, color, how: box, outline, line, dashed, dotted) of every labelled layer."""
    out: list[tuple[str, str, str]] = []
    for layer in plot.layers:
        if isinstance(layer, Stack):
            out += [(lab, col, "box") for lab, col in zip(layer.labels, layer.colors)]
        elif isinstance(layer, HBars):
            out += [(p.label, p.color, "box") for p in layer.parts if p.label]
        elif isinstance(layer, Line) and layer.label:
            out.append((layer.label, layer.color, "dashed" if layer.dashed else "line"))
        elif isinstance(layer, Hist) and layer.label:
            out.append((layer.label, layer.color, "box" if layer.filled else "outline"))
        elif isinstance(layer, Marker) and layer.label:
            out.append((layer.label, layer.color, "dotted"))
    return out


def _legend_width(plot: Plot, entries: list[tuple[str, str, str]]) -> float:
    widest = max((text_width(t, SMALL) for t, _, _ in entries), default=0.0)
    return max(28 + widest, text_width(plot.legend_title, SMALL)) + 8


def _legend_height(plot: Plot, entries: list[tuple[str, str, str]]) -> float:
    return SMALL * 1.6 * (len(entries) + bool(plot.legend_title)) + 6


def _legend(plot: Plot, entries: list[tuple[str, str, str]], x: float, y: float, box: bool) -> list[str]:
    row = SMALL * 1.6
    width, height = _legend_width(plot, entries), _legend_height(plot, entries)
    out = ['<g class="legend">']
    if box:
        out.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" fill="#fff" '
                   f'fill-opacity="0.85" stroke="#d5d8dc"/>')
    cy = y + row * 0.5 + 3
    if plot.legend_title:
        out.append(_text(x + width / 2, cy, plot.legend_title, SMALL, anchor="middle", middle=True))
        cy += row
    for label, color, how in entries:
        sx = x + 4
        if how in ("box", "outline"):
            fill, stroke = (color, "0") if how == "box" else ("none", "1.8")
            out.append(f'<rect x="{_n(sx)}" y="{_n(cy - 5)}" width="18" height="10" fill="{fill}" stroke="{color}" '
                       f'stroke-width="{stroke}"/>')
        else:
            dash = {"dashed": ' stroke-dasharray="6 3"', "dotted": ' stroke-dasharray="2 3"'}.get(how, "")
            out.append(f'<line x1="{_n(sx)}" y1="{_n(cy)}" x2="{_n(sx + 18)}" y2="{_n(cy)}" stroke="{color}" '
                       f'stroke-width="2"{dash}/>')
        out.append(_text(sx + 24, cy, label, SMALL, middle=True))
        cy += row
    out.append("</g>")
    return out


def _stack(layer: Stack, sx: _Scale, sy: _Scale) -> list[str]:
    x = sx(seconds(layer.x))
    base = np.zeros(len(x))
    out = []
    for ys, color in zip(layer.ys, layer.colors):
        top = base + np.asarray(ys, dtype=float)
        if layer.step:  # hold each value until the next x
            xs = np.repeat(x, 2)[1:]
            upper, lower = np.repeat(top, 2)[:-1], np.repeat(base, 2)[:-1]
        else:
            xs, upper, lower = x, top, base
        pts = np.concatenate([np.column_stack([xs, sy(upper)]), np.column_stack([xs, sy(lower)])[::-1]])
        out.append(f'<path d="{_path(pts, close=True)}" fill="{color}" stroke="none"/>')
        base = top
    return out


def _hbars(layer: HBars, sx: _Scale, rows: list[float], slot: float) -> list[str]:
    out = []
    left = np.zeros(len(layer.labels))
    for part in layer.parts:
        widths = np.asarray(part.widths, dtype=float)
        for y, x, w in zip(rows, left, widths):
            if w > 0:
                out.append(f'<rect x="{_n(sx(x))}" y="{_n(y - slot * 0.35)}" width="{_n(sx(x + w) - sx(x))}" '
                           f'height="{_n(slot * 0.7)}" fill="{part.color}"/>')
        left = left + widths
    room = (sx.hi - sx.lo) * 0.01
    for y, total, note in zip(rows, left, layer.notes):
        out.append(_text(sx(total + room), y, note, SMALL, fill=NOTE_COLOR, middle=True))
    return out


def _hist(layer: Hist, sx: _Scale, sy: _Scale) -> list[str]:
    edges, counts = np.asarray(layer.edges, dtype=float), np.asarray(layer.counts, dtype=float)
    xs = np.repeat(sx(edges), 2)
    ys = np.concatenate([[0.0], np.repeat(counts, 2), [0.0]])
    pts = np.column_stack([xs, sy(ys)])
    if layer.filled:
        return [f'<path d="{_path(pts, close=True)}" fill="{layer.color}" fill-opacity="0.55" stroke="none"/>']
    return [f'<path d="{_path(pts)}" fill="none" stroke="{layer.color}" stroke-width="{_n(1.8 * PX)}"/>']


def _layer(layer: object, sx: _Scale, sy: _Scale, y0: float, y1: float) -> list[str]:
    if isinstance(layer, Stack):
        return _stack(layer, sx, sy)
    if isinstance(layer, Line):
        pts = np.column_stack([sx(seconds(layer.x)), sy(np.asarray(layer.y, dtype=float))])
        dash = ' stroke-dasharray="6 3"' if layer.dashed else ""
        out = [f'<path d="{_path(pts)}" fill="none" stroke="{layer.color}" stroke-width="{_n(layer.width * PX)}"'
               f' stroke-linejoin="round"{dash}/>']
        if layer.markers:
            out += [f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="{layer.color}"/>' for x, y in pts]
        return out
    if isinstance(layer, Stems):
        xs, ys = sx(seconds(layer.x)), sy(np.asarray(layer.y, dtype=float))
        return [f'<line x1="{_n(x)}" y1="{_n(y1)}" x2="{_n(x)}" y2="{_n(y)}" stroke="{layer.color}" '
                f'stroke-width="{_n(2 * PX)}"/><circle cx="{_n(x)}" cy="{_n(y)}" r="4" fill="{layer.color}"/>'
                for x, y in zip(xs, ys)]
    if isinstance(layer, Hist):
        return _hist(layer, sx, sy)
    if isinstance(layer, Marker):
        x = float(sx(layer.x))
        return [f'<line x1="{_n(x)}" y1="{_n(y0)}" x2="{_n(x)}" y2="{_n(y1)}" stroke="{layer.color}" '
                f'stroke-width="{_n(1.4 * PX)}" stroke-dasharray="2 3"/>']
    if isinstance(layer, Note):
        x = float(sx(seconds([layer.x])[0]))
        return [_text(x + 4 * PX, float(sy(layer.y)), layer.text, SMALL, fill=layer.color, middle=True)]
    return []


def to_svg(plot: Plot) -> str:
    """The chart as a standalone SVG document (UTF-8 text, a 1000 px wide viewBox).

    >>> to_svg(Plot("Top commands", "no events")).count("nothing to show")
    1
    """
    height = plot.height * DPI
    bars = next((layer for layer in plot.layers if isinstance(layer, HBars)), None)
    # the y axis: categories (bars) or numbers
    sy_lo, sy_hi = _ylim(plot) if bars is None else (0.0, 1.0)
    yticks = [] if plot.empty or bars is not None else nice_ticks(sy_lo, sy_hi)
    ystep = yticks[1] - yticks[0] if len(yticks) > 1 else 1.0
    ylabels = ([(v, number_text(v, ystep)) for v in yticks] if bars is None
               else [(i, t) for i, t in enumerate(bars.labels)])
    left = 25 + max((text_width(t, FONT) for _, t in ylabels), default=0) + 10 + (30 if plot.ylabel else 0)
    entries = _legend_entries(plot) if plot.legend else []
    right = 30.0
    if plot.legend == "outside" and entries:
        right = 45 + _legend_width(plot, entries) + (110 if plot.notes_room else 10)
    x0, x1 = min(left, WIDTH / 2), max(WIDTH - right, WIDTH * 0.55)
    y0 = 85.0
    y1 = height - (30 + (0 if plot.empty else 30) + (25 if plot.xlabel else 0))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(WIDTH)}" height="{_n(height)}" '
           f'viewBox="0 0 {_n(WIDTH)} {_n(height)}" font-family="{FAMILY}" role="img" '
           f'aria-label="{_xml(plot.title)}">',
           f"<title>{_xml(plot.title)}: {_xml(plot.subtitle)}</title>",
           f'<rect width="{_n(WIDTH)}" height="{_n(height)}" fill="#fff"/>',
           _text(x0, y0 - 24 * PX, plot.title, TITLE, bold=True),
           _text(x0, y0 - 8 * PX, plot.subtitle, SUBTITLE, fill=SUBTITLE_COLOR)]
    if plot.empty:
        out.append(f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" height="{_n(y1 - y0)}" fill="none" '
                   f'stroke="{INK}" stroke-width="1"/>')
        out.append(_text((x0 + x1) / 2, (y0 + y1) / 2, "nothing to show", FONT, anchor="middle", fill=MUTED_COLOR,
                         middle=True))
        return "\n".join(out + ["</svg>"]) + "\n"
    xlo, xhi = _xlim(plot)
    if bars is not None:  # the notes right of the bars must fit: shrink the axes by what overflows
        room = (xhi - xlo) * 0.01
        ends = [x0 + (total + room - xlo) / (xhi - xlo) * (x1 - x0) + text_width(note, SMALL) + 4
                for total, note in zip(bars.totals, bars.notes)]
        x1 -= max(0.0, max(ends, default=0.0) - (WIDTH - 8))
    sx = _Scale(xlo, xhi, x0, x1, log=plot.xscale == "log")
    xticks = _x_ticks(plot, xlo, xhi, x1 - x0)
    grid = [f'<line x1="{_n(sx(v))}" y1="{_n(y0)}" x2="{_n(sx(v))}" y2="{_n(y1)}"/>' for v, _ in xticks]
    if bars is None:
        sy = _Scale(sy_lo, sy_hi, y1, y0)
        grid += [f'<line x1="{_n(x0)}" y1="{_n(sy(v))}" x2="{_n(x1)}" y2="{_n(sy(v))}"/>' for v in yticks]
        rows: list[float] = []
        slot = 0.0
    else:
        sy = _Scale(0.0, 1.0, y1, y0)
        n = max(len(bars.labels), 1)
        slot = (y1 - y0) / (n + 0.1)  # a twentieth of a slot of margin above and below
        rows = [y0 + slot * (i + 0.55) for i in range(len(bars.labels))]
    out.append(f'<g stroke="{GRID}" stroke-width="{_n(0.8 * PX)}">' + "".join(grid) + "</g>")
    for layer in plot.layers:
        if isinstance(layer, HBars):
            out += _hbars(layer, sx, rows, slot)
        else:
            out += _layer(layer, sx, sy, y0, y1)
    ys = [(rows[int(v)] if bars is not None else float(sy(v)), t) for v, t in ylabels]
    out += _marks(plot, [(float(sx(v)), t) for v, t in xticks], ys, (x0, y0, x1, y1))
    if entries and plot.legend == "outside":
        out += _legend(plot, entries, x1 + (100 if plot.notes_room else 10), y0, box=False)
    elif entries:
        out += _legend(plot, entries, x1 - _legend_width(plot, entries) - 8,
                       y1 - _legend_height(plot, entries) - 8, box=True)
    return "\n".join(out + ["</svg>"]) + "\n"


def _x_ticks(plot: Plot, lo: float, hi: float, width: float) -> list[tuple[float, str]]:
    """The x ticks (value, label): the Plot's own, or as many round ones as fit in ``width`` px."""
    if plot.xticks is not None:
        return [(float(v), t) for v, t in plot.xticks if lo <= v <= hi]
    if plot.xscale == "time":
        wide = text_width("00:00:00.000" if hi - lo < 10 else "00-00 00:00", FONT) + 24
        return time_ticks(lo, hi, most=max(3, min(8, int(width / wide))))
    wide = text_width(f"{hi:,.0f}", FONT) + 30
    values = nice_ticks(lo, hi, most=max(3, min(8, int(width / wide))))
    step = values[1] - values[0] if len(values) > 1 else 1.0
    return [(v, number_text(v, step)) for v in values]


def _marks(plot: Plot, xs: list[tuple[float, str]], ys: list[tuple[float, str]],
           box: tuple[float, float, float, float]) -> list[str]:
    """The left and bottom spines, the ticks at pixel positions ``xs``/``ys`` with their
    labels, and the axis labels, around the plot area ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    tick = 3.5 * PX
    out = [f'<path d="M{_n(x0)} {_n(y0)} L{_n(x0)} {_n(y1)} L{_n(x1)} {_n(y1)}" fill="none" stroke="{INK}" '
           f'stroke-width="{_n(0.8 * PX)}"/>']
    for x, t in xs:
        out.append(f'<line x1="{_n(x)}" y1="{_n(y1)}" x2="{_n(x)}" y2="{_n(y1 + tick)}" stroke="{INK}"/>')
        out.append(_text(x, y1 + tick + FONT * 1.05, t, FONT, anchor="middle"))
    for y, t in ys:
        out.append(f'<line x1="{_n(x0 - tick)}" y1="{_n(y)}" x2="{_n(x0)}" y2="{_n(y)}" stroke="{INK}"/>')
        out.append(_text(x0 - tick - 3, y, t, FONT, anchor="end", middle=True))
    if plot.xlabel:
        out.append(_text((x0 + x1) / 2, y1 + tick + FONT * 2.6, plot.xlabel, FONT, anchor="middle"))
    if plot.ylabel:
        out.append(_text(18, (y0 + y1) / 2, plot.ylabel, FONT, anchor="middle", rotate=True, middle=True))
    return out

