"""Charts of a MONITOR capture for a ticket: traffic over time, top commands, clients, key
patterns, gaps; and the registry the report and ``python -m monitorlens plot`` share.

Each ``*_plot`` function turns a table of the analysis into a :class:`~.model.Plot` (title
with the time range and units, labels cut to fit); each ``plot_*`` function draws it on a
matplotlib ``Axes`` (notebooks). :func:`plot_of` is the Plot of one KIND (the report
writes it as SVG with :func:`~.svg.to_svg`), :func:`chart` its matplotlib figure.

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

from ...analysis.breakdowns import bucket_seconds, coarser
from ...errors import InputError
from ..._human import plural
from .model import HBars, Part, Plot, Stack, Stems, empty_plot
from .mpl import draw, figure
from .style import COLORS, OTHER_COLOR, label, naive_utc, palette, time_range

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ...analysis.analyze import Analysis


CHART_BUCKETS = 1_000  # a traffic chart shows at most this many buckets (neighbours summed)


def traffic_plot(timeline: pd.DataFrame, span: tuple[Any, Any] | None = None) -> Plot:
    """Commands per second over time, stacked by command (a wide timeline: ts index, one
    column of bucket counts per command, ``(other)`` last).

    With the capture's ``span`` (first, last event), each bucket's rate is its events over
    the seconds of it the capture covers, and a first or last bucket covered less than half
    is left out (said in the subtitle): a capture ending 0.04 s into its last second would
    otherwise draw a fake drop at the end."""
    title = "Commands per second, stacked by command"
    if timeline.empty or not len(timeline.columns):
        return empty_plot(title)
    timeline = coarser(timeline, CHART_BUCKETS)
    index = pd.DatetimeIndex(timeline.index)
    step = (index[1] - index[0]).total_seconds() if len(index) > 1 else 1.0
    counts = timeline.to_numpy(dtype=float).T
    seconds = np.full(len(index), step)
    left_out = ""
    if span is not None and span[0] is not None and span[1] is not None:
        seconds = bucket_seconds(timeline, span[0], span[1]).to_numpy()
        keep = seconds >= step / 2
        if not keep.any():  # a capture shorter than half a bucket (one event): rates over whole buckets
            seconds = np.full(len(index), step)
        elif not keep.all():
            dropped = int(counts[:, ~keep].sum())
            left_out = f"; {plural(dropped, 'event')} of a partial second at an end not drawn"
            index, counts, seconds = index[keep], counts[:, keep], seconds[keep]
    rates = counts / seconds
    # Buckets drawn as steps over their whole width: the edges are the bucket starts and the
    # end of the last bucket.
    last = index[-1] + pd.Timedelta(seconds=step)
    x = np.append(index.tz_convert("UTC").tz_localize(None).to_numpy(), naive_utc(last))
    rates = np.concatenate([rates, rates[:, -1:]], axis=1)
    stack = Stack(x, tuple(rates), tuple(label(c, 24) for c in timeline.columns),
                  tuple(palette(timeline.columns)), step=True)
    return Plot(title, time_range(index[0], last) + left_out, (stack,), xlabel="time (UTC)",
                ylabel=f"commands/s ({step:g} s buckets)", xscale="time", xlim=(x[0], x[-1]),
                legend="outside", legend_title="command")


def plot_traffic(ax: Axes, timeline: pd.DataFrame, span: tuple[Any, Any] | None = None) -> Axes:
    """Draw :func:`traffic_plot` on ``ax``.

    >>> plot_traffic(ax, analysis.timeline, span=(analysis.overview.first, analysis.overview.last))  # doctest: +SKIP
    """
    return draw(ax, traffic_plot(timeline, span))


def _span_of(table: pd.DataFrame) -> str:
    if table.empty or "first" not in table:
        return "no events"
    return time_range(table["first"].min(), table["last"].max())


def _ranked(table: pd.DataFrame, top: int, label_of: Callable[[pd.DataFrame], list[str]],
            title: str, noun: str) -> Plot:
    """Horizontal bars of the top rows' ``count``, noted ``count (share)``, titled with the span."""
    if table.empty:
        return empty_plot(title)
    head = table.head(top)
    counts = head["count"].to_numpy()
    bars = HBars(tuple(label_of(head)), (Part(counts, COLORS[0]),),
                 tuple(f"{n:,} ({100 * s:.1f}%)" for n, s in zip(head["count"], head["share"])))
    return Plot(title, _span_of(table) + f"; {len(table):,} {noun} in all", (bars,),
                xlabel="events in the capture", xlim=(0, float(counts.max()) * 1.18 or 1))


def top_commands_plot(commands: pd.DataFrame, top: int = 10) -> Plot:
    """Events per command (``by_command``: command, count, share, first, last), top ``top``."""
    return _ranked(commands, top, lambda head: [label(c, 28) for c in head["command"]],
                   f"Top {top} commands by events", "commands")


def plot_top_commands(ax: Axes, commands: pd.DataFrame, top: int = 10) -> Axes:
    """Draw :func:`top_commands_plot` on ``ax``.

    >>> plot_top_commands(ax, analysis.subcommands)  # doctest: +SKIP
    """
    return draw(ax, top_commands_plot(commands, top))


def applications_plot(apps: pd.DataFrame, top: int = 10) -> Plot:
    """Events per application (``by_application``), noted with its connections: one bar for
    a leaking app's sixty connections, where the clients chart has sixty tiny ones."""
    title = f"Top {top} applications by events"
    if apps.empty or not apps["named"].astype(bool).any():
        return empty_plot(title)
    head = apps[apps["events"] > 0].head(top)
    if head.empty:
        return empty_plot(title)
    counts = head["events"].to_numpy()
    at_end = head["connected_at_end"] if "connected_at_end" in head else [None] * len(head)
    notes = tuple(
        f"{n:,} ({100 * s:.1f}%), {plural(int(c), 'connection')}" + (f", {int(e):,} at end" if e is not None else "")
        for n, s, c, e in zip(head["events"], head["share"], head["connections"], at_end))
    bars = HBars(tuple(label(a, 30) for a in head["application"]), (Part(counts, COLORS[0]),), notes)
    return Plot(title, _span_of(head) + f"; {len(apps):,} applications in all (unnamed clients by host)", (bars,),
                xlabel="events in the capture (lua lines credited to the caller)",
                xlim=(0, float(counts.max()) * 1.45 or 1))


def client_label(client: Any, name: Any) -> str:
    """``127.0.0.1:5 (web-1)``, or the address alone when the client has no name."""
    named = isinstance(name, str) and name
    return label(f"{client} ({name})" if named else client)


def top_clients_plot(clients: pd.DataFrame, top: int = 10) -> Plot:
    """Events per client (``by_client``: client, name, count, share, first, last), top ``top``."""
    def labels(head: pd.DataFrame) -> list[str]:
        names = head["name"] if "name" in head else [None] * len(head)
        return [client_label(c, n) for c, n in zip(head["client"], names)]

    return _ranked(clients, top, labels,
                   f"Top {top} clients by events (lua lines credited to the script's caller)", "clients")


def plot_top_clients(ax: Axes, clients: pd.DataFrame, top: int = 10) -> Axes:
    """Draw :func:`top_clients_plot` on ``ax``.

    >>> plot_top_clients(ax, analysis.clients)  # doctest: +SKIP
    """
    return draw(ax, top_clients_plot(clients, top))


def key_patterns_plot(patterns: pd.DataFrame, top: int = 10) -> Plot:
    """Key references per pattern, split into reads and writes (``by_key_pattern``)."""
    title = f"Top {top} key patterns by key references"
    if patterns.empty:
        return empty_plot(title)
    head = patterns.head(top)
    reads, writes = head["reads"].to_numpy(), head["writes"].to_numpy()
    total = head["count"].to_numpy()
    other = total - reads - writes
    parts: tuple[Part, ...] = (Part(reads, COLORS[0], "reads"), Part(writes, COLORS[1], "writes"))
    if other.any():
        parts += (Part(other, OTHER_COLOR, "other"),)
    bars = HBars(tuple(label(p, 36) for p in head["pattern"]), parts,
                 tuple(f"{n:,} refs, {plural(int(k), 'key')}" for n, k in zip(total, head["keys"])))
    return Plot(title, _span_of(patterns) + f"; {len(patterns):,} patterns in all", (bars,),
                xlabel="key references (one per key an event names)", xlim=(0, float(total.max()) * 1.25 or 1),
                legend="inside")


def plot_key_patterns(ax: Axes, patterns: pd.DataFrame, top: int = 10) -> Axes:
    """Draw :func:`key_patterns_plot` on ``ax``.

    >>> plot_key_patterns(ax, analysis.key_patterns)  # doctest: +SKIP
    """
    return draw(ax, key_patterns_plot(patterns, top))


def gaps_plot(gaps: pd.DataFrame, span: tuple[Any, Any] | None = None) -> Plot:
    """The longest silences between consecutive lines, in ms, where they happened (``gaps``),
    over the capture's ``span`` (first, last) when given."""
    title = "Longest silences between consecutive MONITOR lines"
    if gaps.empty:
        return empty_plot(title, height=3.8)
    start = pd.DatetimeIndex(gaps["start"]).tz_convert("UTC").tz_localize(None).to_numpy()
    ms = gaps["gap_us"].to_numpy() / 1000.0
    first, last = span if span is not None else (gaps["start"].min(), gaps["end"].max())
    return Plot(title, time_range(first, last) + f"; the {len(gaps)} longest silences (not command durations)",
                (Stems(start, ms, COLORS[0]),), xlabel="time the silence began (UTC)",
                ylabel="silence (ms, no line arrived)", xscale="time", xlim=(naive_utc(first), naive_utc(last)),
                ylim=(0, float(ms.max()) * 1.15 or 1), height=3.8)


def plot_gaps(ax: Axes, gaps: pd.DataFrame, span: tuple[Any, Any] | None = None) -> Axes:
    """Draw :func:`gaps_plot` on ``ax``.

    >>> plot_gaps(ax, analysis.gaps, span=(analysis.overview.first, analysis.overview.last))  # doctest: +SKIP
    """
    return draw(ax, gaps_plot(gaps, span))


# ------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class MonitorChart:
    """A chart KIND: its title, and its Plot from an analysis."""

    title: str
    make: Callable[[Analysis], Plot]


MONITOR_CHARTS: dict[str, MonitorChart] = {
    "traffic": MonitorChart("Traffic over time (commands/s by command)",
                            lambda a: traffic_plot(a.timeline, span=(a.overview.first, a.overview.last))),
    "applications": MonitorChart("Applications (clients by name)", lambda a: applications_plot(a.applications, a.top)),
    "commands": MonitorChart("Top commands", lambda a: top_commands_plot(a.subcommands, a.top)),
    "clients": MonitorChart("Top clients", lambda a: top_clients_plot(a.clients, a.top)),
    "key-patterns": MonitorChart("Key patterns (reads and writes)", lambda a: key_patterns_plot(a.key_patterns, a.top)),
    "gaps": MonitorChart("Longest gaps between lines", lambda a: gaps_plot(a.gaps, span=(a.overview.first, a.overview.last))),
}
"""Every chart of a MONITOR report, by the KIND ``python -m monitorlens plot`` takes."""


def plot_of(kind: str, analysis: Analysis) -> Plot:
    """The :class:`~.model.Plot` of chart ``kind`` (one of :data:`MONITOR_CHARTS`) for an analysis."""
    if kind not in MONITOR_CHARTS:
        raise InputError(f"unknown chart {kind!r}: use one of {', '.join(MONITOR_CHARTS)}")
    return MONITOR_CHARTS[kind].make(analysis)


def chart(kind: str, analysis: Analysis) -> Figure:
    """The matplotlib figure of chart ``kind`` (one of :data:`MONITOR_CHARTS`) for an analysis.

    >>> chart("commands", analyze(load("capture.txt")))  # doctest: +SKIP
    <Figure size 1000x460 with 1 Axes>
    """
    return figure(plot_of(kind, analysis))
