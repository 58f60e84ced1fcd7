"""A :class:`~.model.Plot` drawn with matplotlib: PNG files, notebooks and custom figures.

:func:`draw` puts a Plot on any ``Axes`` (a notebook's ``plt.subplots()`` too), :func:`figure`
makes the house-style figure of one chart, :func:`figure_bytes` writes PNG or SVG without
dates or versions. matplotlib is imported inside the functions, so that the report (drawn by
:mod:`.svg`) never loads it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputError
from .layers import HBars, Hist, Line, Note, Marker, Stack, Stems
from .style import MUTED_COLOR, NOTE_COLOR, STYLE, SUBTITLE_COLOR, clock

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .model import Plot


@contextmanager
def house_style() -> Iterator[None]:
    """Apply :data:`~.style.STYLE` for the figures made inside the block."""
    import matplotlib

    with matplotlib.rc_context(dict(STYLE)):
        yield


def titled(ax: Axes, title: str, subtitle: str) -> None:
    """A bold title with the time range (and units) under it in plain text."""
    ax.set_title(title, loc="left", pad=24)
    ax.annotate(subtitle, xy=(0, 1), xycoords="axes fraction", xytext=(0, 8), textcoords="offset points",
                fontsize=10, color=SUBTITLE_COLOR, va="bottom", ha="left", annotation_clip=False)


def time_axis(ax: Axes) -> None:
    """Ticks of a time axis labelled by :func:`~.style.clock`."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter

    lo, hi = ax.get_xlim()
    span = (hi - lo) * 86400  # matplotlib dates are days
    # Its own extent, not the figure's width: the Axes may sit in a SubFigure (a notebook's layout).
    width = ax.get_window_extent().width / ax.figure.dpi  # inches
    most = max(3, min(9, int(width / (1.25 if span < 10 else 0.9))))  # labels must not touch
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=most))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: clock(mdates.num2date(x), span)))


def _hbars(ax: Axes, bars: HBars, xmax: float) -> None:
    y = np.arange(len(bars.labels))[::-1]
    left = np.zeros(len(y))
    for part in bars.parts:
        ax.barh(y, part.widths, left=left, height=0.7, color=part.color, label=part.label or None)
        left = left + np.asarray(part.widths, dtype=float)
    ax.set_yticks(y, list(bars.labels))
    ax.grid(axis="y", visible=False)
    for yi, total, note in zip(y, left, bars.notes):
        ax.text(total + xmax * 0.01, yi, note, va="center", fontsize=9, color=NOTE_COLOR)


def _layer(ax: Axes, layer: object, xmax: float) -> None:
    if isinstance(layer, Stack):
        ax.stackplot(layer.x, np.asarray(layer.ys, dtype=float), step="post" if layer.step else None,
                     labels=list(layer.labels), colors=list(layer.colors), linewidth=0)
    elif isinstance(layer, HBars):
        _hbars(ax, layer, xmax)
    elif isinstance(layer, Line):
        ax.plot(layer.x, layer.y, color=layer.color, linestyle="--" if layer.dashed else "-",
                marker="o" if layer.markers else None, markersize=3, linewidth=layer.width,
                label=layer.label or None)
    elif isinstance(layer, Stems):
        ax.vlines(layer.x, 0, layer.y, linewidth=2, color=layer.color)
        ax.plot(layer.x, layer.y, "o", color=layer.color)
    elif isinstance(layer, Hist):
        ax.stairs(layer.counts, layer.edges, fill=layer.filled, color=layer.color, label=layer.label or None,
                  linewidth=1.8, alpha=0.55 if layer.filled else 1.0)
    elif isinstance(layer, Marker):
        ax.axvline(layer.x, color=layer.color, linestyle=":", linewidth=1.4, label=layer.label or None)
    elif isinstance(layer, Note):
        ax.annotate(layer.text, xy=(layer.x, layer.y), xytext=(4, 0), textcoords="offset points", fontsize=9,
                    color=layer.color, va="center", annotation_clip=False)


def draw(ax: Axes, plot: Plot) -> Axes:
    """Draw ``plot`` on ``ax`` and return the Axes.

    >>> draw(plt.subplots()[1], traffic_plot(analysis.timeline))  # doctest: +SKIP
    """
    if plot.empty:
        titled(ax, plot.title, plot.subtitle)
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes, color=MUTED_COLOR)
        ax.set_xticks([])
        ax.set_yticks([])
        return ax
    xmax = plot.xlim[1] if plot.xlim is not None and plot.xscale == "linear" else 0.0
    for layer in plot.layers:
        _layer(ax, layer, xmax)
    if plot.xscale == "log":
        ax.set_xscale("log")
    ax.set_xlabel(plot.xlabel)
    ax.set_ylabel(plot.ylabel)
    if not any(isinstance(layer, HBars) for layer in plot.layers):
        ax.set_ylim(*(plot.ylim or (0, None)))
    if plot.xlim is not None:
        ax.set_xlim(*plot.xlim)
    if plot.xticks is not None:
        from matplotlib.ticker import NullLocator

        ax.set_xticks([v for v, _ in plot.xticks], [t for _, t in plot.xticks])
        ax.xaxis.set_minor_locator(NullLocator())
    elif plot.xscale == "time":
        time_axis(ax)
    if plot.legend == "outside" and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.1 if plot.notes_room else 1.01, 1.0),
                  title=plot.legend_title or None)
    elif plot.legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", title=plot.legend_title or None)
    titled(ax, plot.title, plot.subtitle)
    return ax


def _width_in(texts: list[str], size: float) -> float:
    """The widest of ``texts`` at font ``size``, in inches (from the font's metrics, no drawing)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    ttp, prop = TextToPath(), FontProperties(size=size)
    widest = max((ttp.get_text_width_height_descent(t, prop, ismath=False)[0] for t in texts if t), default=0)
    return 1.1 * widest / 72  # hinting draws a few percent wider than the metrics say


def _points(size: Any) -> float:
    """A font size from rcParams (a number or a name such as ``"medium"``) in points."""
    from matplotlib.font_manager import FontProperties

    return float(FontProperties(size=size).get_size_in_points())


def fit(fig: Figure, ax: Axes, notes_room: bool = False, notes: tuple[tuple[float, str], ...] = ()) -> None:
    """Margins for the title, subtitle, tick labels, axis labels, an outside legend, and the
    ``notes`` right of bars (each at a fraction of the axes' width).

    # Strategy: measure the texts with the font's metrics and set the margins once,
    # instead of matplotlib's constrained layout, which draws the figure one more time
    # to measure it (two thirds of the cost of a chart).
    """
    import matplotlib

    rc = matplotlib.rcParams
    width, height = fig.get_size_inches()
    ticks = list(ax.yaxis.get_major_formatter().format_ticks(ax.get_yticks().tolist()))
    left = 0.25 + _width_in(ticks, _points(rc["ytick.labelsize"])) + (0.3 if ax.get_ylabel() else 0)
    right = 0.3
    legend = ax.get_legend()
    if legend is not None and legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1:
        texts = [t.get_text() for t in legend.get_texts()]
        right = 0.45 + max(_width_in(texts, rc["legend.fontsize"]) + 0.45,
                           _width_in([legend.get_title().get_text()], rc["legend.fontsize"]))
        right += 1.0 if notes_room else 0.0
    for at, text in notes:  # the note must end inside the figure: left + at * axes + text <= width
        room = width - 0.1 - left - _width_in([text], 9)
        if at > 0 and room > 0:
            right = max(right, width - left - room / at)
    top = 0.85 if ax.get_title(loc="left") else 0.3
    bottom = 0.3 + (0.3 if ax.get_xticklabels() or ax.get_xticks().size else 0) + (0.25 if ax.get_xlabel() else 0)
    fig.subplots_adjust(left=min(left / width, 0.5), right=max(1 - right / width, 0.55),
                        top=1 - top / height, bottom=bottom / height)


def figure(plot: Plot) -> Figure:
    """The house-style matplotlib figure of one chart.

    >>> figure(traffic_plot(analysis.timeline))  # doctest: +SKIP
    <Figure size 1000x460 with 1 Axes>
    """
    from matplotlib.figure import Figure

    with house_style():
        fig = Figure(figsize=(STYLE["figure.figsize"][0], plot.height))
        ax = draw(fig.add_subplot(), plot)
        notes: tuple[tuple[float, str], ...] = ()
        if plot.xscale == "linear" and plot.xlim is not None and plot.xlim[1] > 0:
            notes = tuple((float(total) / plot.xlim[1] + 0.01, note) for layer in plot.layers
                          if isinstance(layer, HBars) for total, note in zip(layer.totals, layer.notes))
        fit(fig, ax, plot.notes_room, notes)
        if plot.xscale == "time" and plot.xticks is None:
            time_axis(ax)  # again, for the width the margins left
    return fig


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as ``png`` or ``svg`` bytes, without dates or software versions in them.

    >>> figure_bytes(chart("gaps", a), "png")[:4]  # doctest: +SKIP
    b'\\x89PNG'
    """
    if fmt not in ("png", "svg"):
        raise InputError(f"unknown image format {fmt!r}: use png or svg")
    buf = io.BytesIO()
    metadata = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
    with house_style():
        fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()
