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

import numpy as np


@dataclass(frozen=True)
class Stack:
    """Areas stacked bottom to top over ``x``; ``step`` holds each value until the next x."""

    x: np.ndarray
    ys: tuple[np.ndarray, ...]
    labels: tuple[str, ...]
    colors: tuple[str, ...]
    step: bool = False


@dataclass(frozen=True)
class Part:
    """One segment of every horizontal bar (reads, writes...), left to right."""

    widths: np.ndarray
    color: str
    label: str = ""


@dataclass(frozen=True)
class HBars:
    """Horizontal bars, the first row at the top, each made of ``parts`` laid end to end and
    followed by its ``note`` (``1,234 (12.0%)``)."""

    labels: tuple[str, ...]
    parts: tuple[Part, ...]
    notes: tuple[str, ...]

    @property
    def totals(self) -> np.ndarray:
        return np.sum([p.widths for p in self.parts], axis=0) if self.parts else np.zeros(len(self.labels))


@dataclass(frozen=True)
class Line:
    """A line through points, solid or dashed, with round markers or not."""

    x: np.ndarray
    y: np.ndarray
    color: str
    label: str = ""
    dashed: bool = False
    markers: bool = False
    width: float = 1.5


@dataclass(frozen=True)
class Stems:
    """A vertical stem from 0 to each value, with a marker on top."""

    x: np.ndarray
    y: np.ndarray
    color: str


@dataclass(frozen=True)
class Hist:
    """A histogram: ``counts`` between consecutive ``edges``, as an outline or filled."""

    edges: np.ndarray
    counts: np.ndarray
    color: str
    label: str = ""
    filled: bool = False


@dataclass(frozen=True)
class Rule:
    """A dotted vertical line across the chart at ``x`` (a threshold)."""

    x: float
    color: str
    label: str = ""


@dataclass(frozen=True)
class Note:
    """Text just right of the point (x, y)."""

    x: object
    y: float
    text: str
    color: str


Layer = Stack | HBars | Line | Stems | Hist | Rule | Note


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
    xlim: tuple[float, float] | None = None
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
        from .svg import to_svg

        return to_svg(self)


def empty_plot(title: str, height: float = 4.6) -> Plot:
    """The chart of a table with no rows."""
    return Plot(title, "no events", height=height)
