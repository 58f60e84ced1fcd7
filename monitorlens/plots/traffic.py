"""Charts of a MONITOR capture for a ticket: traffic over time, top commands, clients, key
patterns, gaps; and the registry the report and ``python -m monitorlens plot`` share.

Each ``plot_*`` function takes a matplotlib ``Axes`` and a table of the analysis and returns
the Axes: no pyplot state, titles with the time range and units, labels cut to fit.
:func:`chart` makes a figure of one KIND from an :class:`~monitorlens.analysis.Analysis`.

Example::

    >>> fig = chart("traffic", analyze(load("capture.txt")))  # doctest: +SKIP
    >>> open("traffic.png", "wb").write(figure_bytes(fig, "png"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .style import (
    OTHER_COLOR,
    STYLE,
    empty_axes,
    fit,
    hbars,
    house_style,
    label,
    naive_utc,
    palette,
    time_axis,
    time_range,
    titled,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..analysis import Analysis

def plot_traffic(ax: Axes, timeline: pd.DataFrame) -> Axes:
    """Commands per second over time, stacked by command (a wide timeline: ts index, one
    column of bucket counts per command, ``(other)`` last) -> the Axes.

    >>> plot_traffic(ax, analysis.timeline)  # doctest: +SKIP
    """
    title = "Commands per second, stacked by command"
    if timeline.empty or not len(timeline.columns):
        return empty_axes(ax, title)
    index = pd.DatetimeIndex(timeline.index)
    step = (index[1] - index[0]).total_seconds() if len(index) > 1 else 1.0
    rates = timeline.to_numpy(dtype=float).T / step
    # Buckets drawn as steps over their whole width: the edges are the bucket starts and the
    # end of the last bucket (which is partial when the capture ended inside it).
    x = np.append(index.tz_convert("UTC").tz_localize(None).to_numpy(),
                  (index[-1] + pd.Timedelta(seconds=step)).tz_convert("UTC").tz_localize(None).to_datetime64())
    rates = np.concatenate([rates, rates[:, -1:]], axis=1)
    ax.stackplot(x, rates, step="post", labels=[label(c, 24) for c in timeline.columns], colors=palette(timeline.columns),
                 linewidth=0)
    ax.set_ylabel(f"commands/s ({step:g} s buckets)")
    ax.set_xlabel("time (UTC)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(x[0], x[-1])
    time_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="command")
    last = index[-1] + pd.Timedelta(seconds=step)
    titled(ax, title, time_range(index[0], last))
    return ax


def _span_of(table: pd.DataFrame) -> str:
    if table.empty or "first" not in table:
        return "no events"
    return time_range(table["first"].min(), table["last"].max())


def _ranked(ax: Axes, table: pd.DataFrame, top: int, label_of: Callable[[pd.DataFrame], list[str]],
            title: str, noun: str) -> Axes:
    """Horizontal bars of the top rows' ``count``, noted ``count (share)``, titled with the span."""
    if table.empty:
        return empty_axes(ax, title)
    head = table.head(top)
    hbars(ax, label_of(head), head["count"].to_numpy(),
          [f"{n:,} ({100 * s:.1f}%)" for n, s in zip(head["count"], head["share"])], "events in the capture")
    titled(ax, title, _span_of(table) + f"; {len(table):,} {noun} in all")
    return ax


def plot_top_commands(ax: Axes, commands: pd.DataFrame, top: int = 10) -> Axes:
    """Events per command (``by_command``: command, count, share, first, last), top ``top``.

    >>> plot_top_commands(ax, analysis.subcommands)  # doctest: +SKIP
    """
    return _ranked(ax, commands, top, lambda head: [label(c, 28) for c in head["command"]],
                   f"Top {top} commands by events", "commands")


def client_label(client: Any, name: Any) -> str:
    """``127.0.0.1:5 (web-1)``, or the address alone when the client has no name."""
    named = isinstance(name, str) and name
    return label(f"{client} ({name})" if named else client)


def plot_top_clients(ax: Axes, clients: pd.DataFrame, top: int = 10) -> Axes:
    """Events per client (``by_client``: client, name, count, share, first, last), top ``top``.

    >>> plot_top_clients(ax, analysis.clients)  # doctest: +SKIP
    """
    def labels(head: pd.DataFrame) -> list[str]:
        names = head["name"] if "name" in head else [None] * len(head)
        return [client_label(c, n) for c, n in zip(head["client"], names)]

    return _ranked(ax, clients, top, labels,
                   f"Top {top} clients by events (lua lines credited to the script's caller)", "clients")


def plot_key_patterns(ax: Axes, patterns: pd.DataFrame, top: int = 10) -> Axes:
    """Key references per pattern, split into reads and writes (``by_key_pattern``).

    >>> plot_key_patterns(ax, analysis.key_patterns)  # doctest: +SKIP
    """
    title = f"Top {top} key patterns by key references"
    if patterns.empty:
        return empty_axes(ax, title)
    head = patterns.head(top)
    y = np.arange(len(head))[::-1]
    reads, writes = head["reads"].to_numpy(), head["writes"].to_numpy()
    other = head["count"].to_numpy() - reads - writes
    ax.barh(y, reads, height=0.7, label="reads")
    ax.barh(y, writes, left=reads, height=0.7, label="writes")
    if other.any():
        ax.barh(y, other, left=reads + writes, height=0.7, label="other", color=OTHER_COLOR)
    ax.set_yticks(y, [label(p, 36) for p in head["pattern"]])
    ax.grid(axis="y", visible=False)
    total = head["count"].to_numpy()
    for yi, n, k in zip(y, total, head["keys"]):
        ax.text(n + total.max() * 0.01, yi, f"{n:,} refs, {k:,} keys", va="center", fontsize=9, color="#3c4043")
    ax.set_xlim(0, total.max() * 1.25 or 1)
    ax.set_xlabel("key references (one per key an event names)")
    ax.legend(loc="lower right")
    titled(ax, title, _span_of(patterns) + f"; {len(patterns):,} patterns in all")
    return ax


def plot_gaps(ax: Axes, gaps: pd.DataFrame, span: tuple[Any, Any] | None = None) -> Axes:
    """The longest silences between consecutive lines, in ms, where they happened (``gaps``),
    over the capture's ``span`` (first, last) when given.

    >>> plot_gaps(ax, analysis.gaps, span=(analysis.overview.first, analysis.overview.last))  # doctest: +SKIP
    """
    title = "Longest silences between consecutive MONITOR lines"
    if gaps.empty:
        return empty_axes(ax, title)
    start = pd.DatetimeIndex(gaps["start"]).tz_convert("UTC").tz_localize(None).to_numpy()
    ms = gaps["gap_us"].to_numpy() / 1000.0
    ax.vlines(start, 0, ms, linewidth=2)
    ax.plot(start, ms, "o")
    ax.set_ylim(bottom=0, top=ms.max() * 1.15 or 1)
    ax.set_ylabel("silence (ms, no line arrived)")
    ax.set_xlabel("time the silence began (UTC)")
    first, last = span if span is not None else (gaps["start"].min(), gaps["end"].max())
    ax.set_xlim(naive_utc(first), naive_utc(last))
    time_axis(ax)
    titled(ax, title, time_range(first, last) + f"; the {len(gaps)} longest silences (not command durations)")
    return ax


# ------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class Kind:
    """A chart KIND: its title, and how to draw it from an analysis."""

    title: str
    draw: Callable[[Axes, Analysis], Axes]
    height: float = 4.6


KINDS: dict[str, Kind] = {
    "traffic": Kind("Traffic over time (commands/s by command)", lambda ax, a: plot_traffic(ax, a.timeline)),
    "commands": Kind("Top commands", lambda ax, a: plot_top_commands(ax, a.subcommands, a.top)),
    "clients": Kind("Top clients", lambda ax, a: plot_top_clients(ax, a.clients, a.top)),
    "key-patterns": Kind("Key patterns (reads and writes)", lambda ax, a: plot_key_patterns(ax, a.key_patterns, a.top)),
    "gaps": Kind("Longest gaps between lines", lambda ax, a: plot_gaps(ax, a.gaps, span=(a.overview.first, a.overview.last)),
                 height=3.8),
}
"""Every chart of a MONITOR report, by the KIND ``python -m monitorlens plot`` takes."""


def chart(kind: str, analysis: Analysis) -> Figure:
    """The figure of chart ``kind`` (one of :data:`KINDS`) for an analysis.

    >>> chart("commands", analyze(load("capture.txt")))  # doctest: +SKIP
    <Figure size 1000x460 with 1 Axes>
    """
    from matplotlib.figure import Figure

    if kind not in KINDS:
        raise InputError(f"unknown chart {kind!r}: use one of {', '.join(KINDS)}")
    spec = KINDS[kind]
    with house_style():
        fig = Figure(figsize=(STYLE["figure.figsize"][0], spec.height))
        ax = spec.draw(fig.add_subplot(), analysis)
        fit(fig, ax)
    return fig


