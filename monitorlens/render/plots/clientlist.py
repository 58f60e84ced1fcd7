"""Charts of CLIENT LIST snapshots and connection logs, for an incident ticket.

Each ``*_plot`` function turns the CLIENT LIST part of an analysis
(:class:`~monitorlens.analysis.clientlist_analysis.ClientlistAnalysis`, computed once by
:func:`~monitorlens.analysis.analyze.analyze`) into a :class:`~.model.Plot` (a title, the
time range under it, units on the axes); each ``plot_*`` function draws it on a matplotlib
``Axes``. Nothing here counts or fits: the counts, trends and thresholds are the analysis'
(the report and ``plot`` draw the same). The house style
(:data:`~monitorlens.render.plots.style.STYLE`, labels, palette) is the one of the MONITOR
charts in :mod:`monitorlens.render.plots.monitor`, so both kinds of chart look alike.

Example::

    >>> analysis = analyze(events, snapshots=read_client_list("clients.log.gz"))  # doctest: +SKIP
    >>> fig = clientlist_chart("connections", analysis)  # doctest: +SKIP
    >>> open("connections.png", "wb").write(figure_bytes(fig, "png"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from ...analysis.clientlist import UNNAMED, MiB
from ...analysis.clientlist_analysis import ClientlistAnalysis, ConnectionsPart, SnapshotsPart
from ...errors import InputError
from .model import HBars, Hist, Line, Note, Part, Plot, Marker, Stack, empty_plot
from .mpl import draw, figure
from .style import COLORS, label, naive_utc, palette, time_range

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ...analysis.analyze import Analysis


__all__ = [
    "connected_clients_plot",
    "connection_growth_plot",
    "idle_age_plot",
    "output_buffers_plot",
    "plot_connected_clients",
    "plot_connection_growth",
    "plot_idle_age",
    "plot_output_buffers",
    "CLIENTLIST_CHARTS",
    "clientlist_plot",
    "clientlist_chart",
]


def _shown(value: object) -> str:
    """A group value as a legend label: "" is ``(unnamed)``."""
    return label(value) if isinstance(value, str) and value else UNNAMED


def _x(ts: pd.Series) -> np.ndarray:
    return cast(np.ndarray, pd.DatetimeIndex(ts).tz_convert("UTC").tz_localize(None).to_numpy())


def _snapshot_span(snapshots: pd.DataFrame) -> str:
    times = snapshots["snapshot_ts"].dropna()
    n = snapshots["snapshot"].nunique()
    return time_range(times.min(), times.max()) + f"; {n:,} snapshot{'s' * (n != 1)}" if len(times) else "no times"


def _snapshots(clientlist: ClientlistAnalysis) -> SnapshotsPart:
    if clientlist.snapshots is None:
        raise InputError("this chart is drawn from CLIENT LIST snapshots: analyse them too (--clients FILE)")
    return clientlist.snapshots


def connected_clients_plot(clientlist: ClientlistAnalysis, by: str = "name", top: int = 8) -> Plot:
    """Connected clients over time, stacked by ``by`` (one of
    :data:`~monitorlens.analysis.clientlist_analysis.CHART_GROUPS`); the ``top`` largest
    groups by their peak, the rest as ``(other)``."""
    title = f"Connected clients, stacked by {by.replace('_', ' ')}"
    part = _snapshots(clientlist)
    counts = part.counts[by].dropna(subset=["snapshot_ts"])
    if counts.empty:
        return empty_plot(title)
    wide = counts.pivot(index="snapshot_ts", columns=by, values="clients").fillna(0)
    wide = wide.loc[:, wide.max() > 0]  # a name listed only in snapshots without a time
    order = wide.max().sort_values(ascending=False, kind="stable").index
    keep = list(order[:top])
    if len(order) > top:
        wide["(other)"] = wide[list(order[top:])].sum(axis=1)
        keep.append("(other)")
    names = [_shown(k) if k != "(other)" else k for k in keep]
    stack = Stack(_x(wide.index.to_series()), tuple(wide[keep].to_numpy(dtype=float).T), tuple(names),
                  tuple(palette(names)))
    total = wide[keep].sum(axis=1)
    return Plot(title, _snapshot_span(part.snapshots) + f"; {int(total.iloc[0]):,} → {int(total.iloc[-1]):,} clients",
                (stack,), xlabel="time (UTC)", ylabel="connected clients", xscale="time", legend="outside",
                legend_title=by.replace("_", " "))


def plot_connected_clients(ax: Axes, clientlist: ClientlistAnalysis, by: str = "name", top: int = 8) -> Axes:
    """Draw :func:`connected_clients_plot` on ``ax``.

    >>> plot_connected_clients(ax, analysis.clientlist)  # doctest: +SKIP
    """
    return draw(ax, connected_clients_plot(clientlist, by, top))


def _growth_of(clientlist: ClientlistAnalysis, by: str | None) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The counts, their trends and the trends' group column: by ``by`` from the snapshots,
    or (``by=None``) of the whole server from the connection-count log."""
    if by is not None:
        part = _snapshots(clientlist)
        return part.counts[by], part.growth[by], by
    log: ConnectionsPart | None = clientlist.connections
    if log is None or log.log is None:
        raise InputError("the chart of the whole server is drawn from a connection-count log: "
                         "analyse one too (--connections FILE)")
    return log.log, log.trend, "name"


def connection_growth_plot(clientlist: ClientlistAnalysis, by: str | None = "name", *, top: int = 5) -> Plot:
    """Connections over time with their Theil–Sen trend (dashed) and slope, for the ``top``
    groups that grow fastest: by ``by`` (name or host) from the snapshots, or with
    ``by=None`` the whole server from the ``<time>,<clients>`` log."""
    title = "Connection growth" + (f" by {by.replace('_', ' ')}" if by else "") + ", with Theil–Sen trends"
    counts, trends, key = _growth_of(clientlist, by)
    ts = "snapshot_ts" if "snapshot_ts" in counts.columns else "ts"
    counts = counts.dropna(subset=[ts])
    if counts.empty:
        return empty_plot(title)
    shown = trends.head(top)
    layers: list[Line | Note] = []
    for color, trend in zip(palette(shown[key]), shown.itertuples(index=False)):
        value = getattr(trend, key)
        mine = counts if by is None else counts[counts[by].fillna("") == value]
        mine = mine.groupby(ts)["clients"].sum()
        name = "all clients" if by is None else _shown(value)
        slope = f" ({trend.slope_per_min:+.1f}/min)" if np.isfinite(trend.slope_per_min) else ""
        layers.append(Line(_x(mine.index.to_series()), mine.to_numpy(dtype=float), color, name + slope, markers=True))
        if np.isfinite(trend.slope_per_min) and trend.slope_per_min > 0:  # flat groups: no line to draw
            end_y = trend.intercept + trend.slope_per_min * trend.span_s / 60
            ends = np.array([naive_utc(trend.first_ts), naive_utc(trend.last_ts)])
            layers.append(Line(ends, np.array([trend.intercept, end_y]), color, dashed=True, width=1.2))
            if trend.leaking:
                layers.append(Note(naive_utc(trend.last_ts), float(end_y), f"{trend.slope_per_min:+.1f}/min: leak",
                                   color))
    leaking = int(trends["leaking"].sum())
    subtitle = time_range(counts[ts].min(), counts[ts].max()) + "; slope in clients per minute"
    return Plot(title, subtitle + (f"; {leaking} leaking" if leaking else ""), tuple(layers), xlabel="time (UTC)",
                ylabel="connected clients", xscale="time", legend="outside",
                legend_title=f"{by.replace('_', ' ')} (trend)" if by else "", notes_room=True)


def plot_connection_growth(ax: Axes, clientlist: ClientlistAnalysis, by: str | None = "name", *, top: int = 5) -> Axes:
    """Draw :func:`connection_growth_plot` on ``ax``.

    >>> plot_connection_growth(ax, analysis.clientlist)  # doctest: +SKIP
    >>> plot_connection_growth(ax, analyze(events, connections=log).clientlist, by=None)  # doctest: +SKIP
    """
    return draw(ax, connection_growth_plot(clientlist, by, top=top))


_DURATIONS = ((0, "0 s"), (1, "1 s"), (10, "10 s"), (60, "1 min"), (600, "10 min"), (3600, "1 h"),
              (6 * 3600, "6 h"), (86400, "1 d"), (7 * 86400, "7 d"), (30 * 86400, "30 d"))  # fmt: skip


def idle_age_plot(clientlist: ClientlistAnalysis) -> Plot:
    """How long the clients of the last snapshot have been idle and connected (log scale),
    with the idle threshold of the findings."""
    title = "Idle time and age of the connected clients"
    thresholds = clientlist.thresholds
    latest = _snapshots(clientlist).idle
    if latest.empty:
        return empty_plot(title)
    idle = latest["idle"].dropna().to_numpy(dtype=float)
    age = latest["age"].dropna().to_numpy(dtype=float)
    top = max(float(np.max(age, initial=1)), float(np.max(idle, initial=1)), thresholds.idle_seconds) + 1
    bins = np.geomspace(1, top * 1.1, 30)
    # +1 s so that 0 s (just used) has a place on a log axis: the first bin is "under 1 s".
    layers = (
        Hist(bins, np.histogram(age + 1, bins=bins)[0], COLORS[0], f"age ({len(age):,} clients)"),
        Hist(bins, np.histogram(idle + 1, bins=bins)[0], COLORS[1], f"idle ({len(idle):,} clients)", filled=True),
        Marker(thresholds.idle_seconds + 1, "#c2423a", f"idle threshold {thresholds.idle_seconds:g} s"),
    )
    when = latest["snapshot_ts"].dropna()
    shown = "last snapshot " + (when.max().strftime("%Y-%m-%d %H:%M:%S UTC") if len(when) else "(no time)")
    over = int((idle >= thresholds.idle_seconds).sum())
    ticks = tuple((d + 1, text) for d, text in _DURATIONS if d + 1 <= top * 1.1)
    return Plot(title, f"{shown}; {over:,} idle for {thresholds.idle_seconds:g} s or more", layers,
                xlabel="seconds idle / connected (log scale)", ylabel="clients", xscale="log",
                xlim=(1, float(bins[-1])), xticks=ticks, legend="outside")


def plot_idle_age(ax: Axes, clientlist: ClientlistAnalysis) -> Axes:
    """Draw :func:`idle_age_plot` on ``ax``.

    >>> plot_idle_age(ax, analysis.clientlist)  # doctest: +SKIP
    """
    return draw(ax, idle_age_plot(clientlist))


def output_buffers_plot(clientlist: ClientlistAnalysis, top: int = 10) -> Plot:
    """The ``top`` clients by their peak output buffer (omem, MiB) over all snapshots, with
    the warning and critical sizes of the findings."""
    title = f"Top {top} clients by peak output buffer"
    thresholds = clientlist.thresholds
    part = _snapshots(clientlist)
    if part.peaks is None or part.peaks.empty:
        return empty_plot(title)
    peak = part.peaks.head(top)
    mib = peak["omem"].to_numpy(dtype=float) / MiB
    names = [f"id {i} " + (f"({n})" if isinstance(n, str) and n else UNNAMED) for i, n in zip(peak["id"], peak["name"])]
    notes = [f"{m:,.2f} MiB, {kind}, {oll:,} blocks" for m, kind, oll in zip(mib, peak["client_type"], peak["oll"].fillna(0))]
    xmax = float(mib.max()) * 1.18 or 1
    layers: tuple[HBars | Marker, ...] = (HBars(tuple(label(n) for n in names), (Part(mib, COLORS[0]),), tuple(notes)),)
    for limit, color, what in ((thresholds.omem_warning_bytes, "#e08a1e", "warning"),
                               (thresholds.omem_critical_bytes, "#c2423a", "critical")):  # fmt: skip
        if limit / MiB <= xmax:
            layers += (Marker(limit / MiB, color, f"{what} {limit / MiB:g} MiB"),)
    return Plot(title, _snapshot_span(part.snapshots) + "; peak of each client over the snapshots", layers,
                xlabel="peak output buffer (omem, MiB)", xlim=(0, xmax), legend="inside")


def plot_output_buffers(ax: Axes, clientlist: ClientlistAnalysis, top: int = 10) -> Axes:
    """Draw :func:`output_buffers_plot` on ``ax``.

    >>> plot_output_buffers(ax, analysis.clientlist)  # doctest: +SKIP
    """
    return draw(ax, output_buffers_plot(clientlist, top))


# ------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class ClientlistChart:
    """A chart of CLIENT LIST snapshots: its title and its Plot."""

    title: str
    make: Callable[[ClientlistAnalysis], Plot]


CLIENTLIST_CHARTS: dict[str, ClientlistChart] = {
    "connections": ClientlistChart("Connected clients by name", lambda c: connected_clients_plot(c, "name")),
    "client-types": ClientlistChart("Connected clients by type", lambda c: connected_clients_plot(c, "client_type")),
    "growth": ClientlistChart("Connection growth by name", lambda c: connection_growth_plot(c, "name")),
    "growth-hosts": ClientlistChart("Connection growth by host", lambda c: connection_growth_plot(c, "host")),
    "idle-age": ClientlistChart("Idle time and age", idle_age_plot),
    "output-buffers": ClientlistChart("Output buffers", output_buffers_plot),
}  # fmt: skip
"""Every chart of CLIENT LIST snapshots, by name."""


def clientlist_plot(kind: str, analysis: Analysis | ClientlistAnalysis) -> Plot:
    """The :class:`~.model.Plot` of chart ``kind`` (one of :data:`CLIENTLIST_CHARTS`) for an
    analysis given CLIENT LIST snapshots (``analyze(events, snapshots=...)``), or its CLIENT
    LIST part alone (:func:`~monitorlens.analysis.clientlist_analysis.analyze_clientlist`)."""
    if kind not in CLIENTLIST_CHARTS:
        raise InputError(f"unknown chart {kind!r}: use one of {', '.join(CLIENTLIST_CHARTS)}")
    part = analysis if isinstance(analysis, ClientlistAnalysis) else analysis.clientlist
    if part is None:
        raise InputError(f"chart {kind!r} is drawn from CLIENT LIST snapshots: analyse them too (--clients FILE)")
    return CLIENTLIST_CHARTS[kind].make(part)


def clientlist_chart(kind: str, analysis: Analysis | ClientlistAnalysis) -> Figure:
    """The matplotlib figure of chart ``kind`` (one of :data:`CLIENTLIST_CHARTS`) for an
    analysis given CLIENT LIST snapshots, or its CLIENT LIST part alone.

    >>> clientlist_chart("growth", analyze(events, snapshots=read_client_list("clients.log.gz")))  # doctest: +SKIP
    <Figure size 1000x460 with 1 Axes>
    """
    return figure(clientlist_plot(kind, analysis))
