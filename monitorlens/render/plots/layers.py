"""The layers of a chart (stacked areas, bars, lines, stems, histograms, marker lines, notes):
what :class:`~.model.Plot` is made of, and what the renderers dispatch on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Stack", "Part", "HBars", "Line", "Stems", "Hist", "Marker", "Note", "Layer"]


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
class Marker:
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


Layer = Stack | HBars | Line | Stems | Hist | Marker | Note
