"""What a chart shows, apart from how it is drawn: the model of every monitorlens chart.

A :class:`Plot` is a title, the time range under it, axis labels and a few layers (stacked
areas, horizontal bars, lines, stems, histograms, marker lines, notes). The chart modules
(:mod:`.traffic`, :mod:`.clients`) build Plots from the analysis tables; two renderers
draw them:

- :mod:`.svg` writes SVG text directly: the report's inline charts and ``plot -o x.svg``,
  without importing matplotlib (a report of a small capture takes a fraction of a second);
- :mod:`.mpl` draws on a matplotlib ``Axes``: PNG files, notebooks and custom figures.

Times are naive UTC ``datetime64`` arrays; every text is plain text (the renderers escape
it, or keep it out of math parsing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .layers import HBars, Hist, Layer, Line, Note, Part, Marker, Stack, Stems
from .svg import to_svg

__all__ = ["Plot", "empty_plot", "Stack", "Part", "HBars", "Line", "Stems", "Hist", "Marker", "Note", "Layer"]


@dataclass(frozen=True)
class Plot:
    """A whole chart. ``xscale`` is ``time`` (x values are naive UTC datetime64), ``linear``
    or ``log``; ``xticks`` (value, text) replace the automatic ticks; ``legend`` is
    ``outside`` (right of the chart), ``inside`` (lower right) or ``None``; a Plot without
    layers says "nothing to show"."""

    title: str
    subtitle: str
    layers: tuple[Layer, ...] = ()
    xlabel: str = ""
    ylabel: str = ""
    xscale: str = "linear"
    xlim: tuple[Any, Any] | None = None  # numbers; naive UTC datetime64 when xscale is "time"
    ylim: tuple[float, float] | None = None
    xticks: tuple[tuple[float, str], ...] | None = None
    legend: str | None = None
    legend_title: str = ""
    height: float = 4.6
    notes_room: bool = False  # room right of the chart for notes such as "+60/min: leak"

    @property
    def empty(self) -> bool:
        return not self.layers

    def _repr_svg_(self) -> str:
        """In a notebook a Plot shows itself, drawn as the report draws it."""
        return to_svg(self)


def empty_plot(title: str, height: float = 4.6) -> Plot:
    """The chart of a table with no rows."""
    return Plot(title, "no events", height=height)
