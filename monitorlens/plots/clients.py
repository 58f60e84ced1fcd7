"""Charts of CLIENT LIST snapshots and connection logs, for an incident ticket.

Each ``plot_*`` function takes a matplotlib ``Axes`` and a DataFrame of
:mod:`monitorlens.clientlist` / :mod:`monitorlens.clients` and returns the Axes: no
pyplot state, a title, the time range under it, units on the axes. The house style
(:data:`~monitorlens.plots.style.STYLE`, labels, palette, time axis) is the one of the
MONITOR charts in :mod:`monitorlens.plots.traffic`, so both kinds of chart look alike.

Example::

    >>> fig = client_chart("connections", read_client_list("clients.log.gz"))  # doctest: +SKIP
    >>> open("connections.png", "wb").write(figure_bytes(fig, "png"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..clients import DEFAULTS, MiB, UNNAMED, ClientThresholds, client_counts, growth_trends, last_rows
from ..errors import InputError
from .style import (
    STYLE,
    empty_axes,
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

__all__ = [
    "plot_connected_clients",
    "plot_connection_growth",
    "plot_idle_age",
    "plot_output_buffers",
    "CLIENT_CHARTS",
    "client_chart",
]


def _shown(value: object) -> str:
    """A group value as a legend label: "" is ``(unnamed)``."""
    return label(value) if isinstance(value, str) and value else UNNAMED


def _x(ts: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(ts).tz_convert("UTC").tz_localize(None).to_numpy()


def _snapshot_span(snapshots: pd.DataFrame) -> str:
    times = snapshots["snapshot_ts"].dropna()
    n = snapshots["snapshot"].nunique()
    return time_range(times.min(), times.max()) + f"; {n:,} snapshot{'s' * (n != 1)}" if len(times) else "no times"


def plot_connected_clients(ax: Axes, snapshots: pd.DataFrame, by: str = "name", top: int = 8) -> Axes:
    """Connected clients over time, stacked by ``by`` (name, client_type, host, user...);
    the ``top`` largest groups by their peak, the rest as ``(other)``.

    >>> plot_connected_clients(ax, read_client_list("clients.log.gz"))  # doctest: +SKIP
    """
    title = f"Connected clients, stacked by {by.replace('_', ' ')}"
    timed = snapshots.dropna(subset=["snapshot_ts"])
    if timed.empty:
        return empty_axes(ax, title)
    wide = client_counts(timed, by).pivot(index="snapshot_ts", columns=by, values="clients").fillna(0)
    order = wide.max().sort_values(ascending=False, kind="stable").index
    keep = list(order[:top])
    if len(order) > top:
        wide["(other)"] = wide[list(order[top:])].sum(axis=1)
        keep.append("(other)")
    names = [_shown(k) if k != "(other)" else k for k in keep]
    ax.stackplot(_x(wide.index.to_series()), wide[keep].to_numpy(dtype=float).T, labels=names,
                 colors=palette(names), linewidth=0)  # fmt: skip
    ax.set_ylabel("connected clients")
    ax.set_xlabel("time (UTC)")
    ax.set_ylim(bottom=0)
    time_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title=by.replace("_", " "))
    total = wide[keep].sum(axis=1)
    titled(ax, title, _snapshot_span(snapshots) + f"; {int(total.iloc[0]):,} → {int(total.iloc[-1]):,} clients")
    return ax


def plot_connection_growth(
    ax: Axes,
    counts: pd.DataFrame,
    by: str | None = "name",
    *,
    trends: pd.DataFrame | None = None,
    top: int = 5,
    thresholds: ClientThresholds = DEFAULTS,
) -> Axes:
    """Connections over time with their Theil–Sen trend (dashed) and slope, for the ``top``
    groups that grow fastest. ``counts`` is tidy (:func:`~monitorlens.clients.client_counts`:
    snapshot_ts, ``by``, clients) or a plain ``<time>,<clients>`` log (ts, clients) with
    ``by=None``.

    >>> plot_connection_growth(ax, client_counts(df, "name"))  # doctest: +SKIP
    >>> plot_connection_growth(ax, read_connection_counts("connections.csv"), by=None)  # doctest: +SKIP
    """
    ts = "snapshot_ts" if "snapshot_ts" in counts.columns else "ts"
    title = "Connection growth" + (f" by {by.replace('_', ' ')}" if by else "") + ", with Theil–Sen trends"
    counts = counts.dropna(subset=[ts])
    if counts.empty:
        return empty_axes(ax, title)
    if trends is None:
        trends = growth_trends(counts, by, ts=ts, thresholds=thresholds)
    key = by or "group"
    shown = trends.head(top)
    colors = palette(shown[key])
    for color, trend in zip(colors, shown.itertuples(index=False)):
        value = getattr(trend, key)
        mine = counts if by is None else counts[counts[by].fillna("") == value]
        mine = mine.groupby(ts)["clients"].sum()
        name = "all clients" if by is None else _shown(value)
        slope = f" ({trend.slope_per_min:+.1f}/min)" if np.isfinite(trend.slope_per_min) else ""
        ax.plot(_x(mine.index.to_series()), mine.to_numpy(), color=color, marker="o", markersize=3, label=name + slope)
        if np.isfinite(trend.slope_per_min) and trend.slope_per_min > 0:  # flat groups: no line to draw
            end_y = trend.intercept + trend.slope_per_min * trend.span_s / 60
            ax.plot([naive_utc(trend.first_ts), naive_utc(trend.last_ts)], [trend.intercept, end_y],
                    color=color, linestyle="--", linewidth=1.2)  # fmt: skip
            if trend.leaking:
                ax.annotate(f"{trend.slope_per_min:+.1f}/min: leak", xy=(naive_utc(trend.last_ts), end_y),
                            xytext=(4, 0), textcoords="offset points", fontsize=9, color=color, va="center",
                            annotation_clip=False)  # fmt: skip
    ax.set_ylabel("connected clients")
    ax.set_xlabel("time (UTC)")
    ax.set_ylim(bottom=0)
    time_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.1, 1.0), title=f"{by.replace('_', ' ')} (trend)" if by else None)
    leaking = int(trends["leaking"].sum())
    subtitle = time_range(counts[ts].min(), counts[ts].max()) + "; slope in clients per minute"
    titled(ax, title, subtitle + (f"; {leaking} leaking" if leaking else ""))
    return ax


def plot_idle_age(ax: Axes, snapshots: pd.DataFrame, thresholds: ClientThresholds = DEFAULTS) -> Axes:
    """How long the clients of the last snapshot have been idle and connected (log scale),
    with the idle threshold of the findings.

    >>> plot_idle_age(ax, read_client_list("clients.log.gz"))  # doctest: +SKIP
    """
    title = "Idle time and age of the connected clients"
    latest = last_rows(snapshots) if len(snapshots) else snapshots
    latest = latest[latest["connected"]] if len(latest) else latest
    if latest.empty:
        return empty_axes(ax, title)
    idle = latest["idle"].dropna().to_numpy(dtype=float)
    age = latest["age"].dropna().to_numpy(dtype=float)
    top = max(float(np.max(age, initial=1)), float(np.max(idle, initial=1)), thresholds.idle_seconds) + 1
    bins = np.geomspace(1, top * 1.1, 30)
    # +1 s so that 0 s (just used) has a place on a log axis: the first bin is "under 1 s".
    ax.hist(age + 1, bins=bins, histtype="step", linewidth=1.8, label=f"age ({len(age):,} clients)")
    ax.hist(idle + 1, bins=bins, histtype="stepfilled", alpha=0.55, label=f"idle ({len(idle):,} clients)")
    ax.axvline(thresholds.idle_seconds + 1, color="#c2423a", linestyle=":", linewidth=1.4,
               label=f"idle threshold {thresholds.idle_seconds:g} s")  # fmt: skip
    ax.set_xscale("log")
    _duration_ticks(ax, top)
    ax.set_xlabel("seconds idle / connected (log scale)")
    ax.set_ylabel("clients")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    when = latest["snapshot_ts"].dropna()
    shown = "last snapshot " + (when.max().strftime("%Y-%m-%d %H:%M:%S UTC") if len(when) else "(no time)")
    over = int((idle >= thresholds.idle_seconds).sum())
    titled(ax, title, f"{shown}; {over:,} idle for {thresholds.idle_seconds:g} s or more")
    return ax


_DURATIONS = ((0, "0 s"), (1, "1 s"), (10, "10 s"), (60, "1 min"), (600, "10 min"), (3600, "1 h"),
              (6 * 3600, "6 h"), (86400, "1 d"), (7 * 86400, "7 d"), (30 * 86400, "30 d"))  # fmt: skip


def _duration_ticks(ax: Axes, top: float) -> None:
    """Ticks of a log axis of seconds + 1, labelled as durations (no math text)."""
    from matplotlib.ticker import NullLocator

    ticks = [(d + 1, text) for d, text in _DURATIONS if d + 1 <= top * 1.1]
    ax.set_xticks([t for t, _ in ticks], [text for _, text in ticks])
    ax.xaxis.set_minor_locator(NullLocator())


def plot_output_buffers(
    ax: Axes, snapshots: pd.DataFrame, top: int = 10, thresholds: ClientThresholds = DEFAULTS
) -> Axes:
    """The ``top`` clients by their peak output buffer (omem, MiB) over all snapshots, with
    the warning and critical sizes of the findings.

    >>> plot_output_buffers(ax, read_client_list("clients.log.gz"))  # doctest: +SKIP
    """
    title = f"Top {top} clients by peak output buffer"
    rows = snapshots.dropna(subset=["omem"])
    rows = rows[rows["omem"] > 0]
    if rows.empty:
        return empty_axes(ax, title)
    peak = rows.loc[rows.groupby("id" if rows["id"].notna().all() else "addr")["omem"].idxmax()]
    peak = peak.sort_values("omem", ascending=False, kind="stable").head(top)
    mib = peak["omem"].to_numpy(dtype=float) / MiB
    names = [f"id {i} " + (f"({n})" if isinstance(n, str) and n else UNNAMED) for i, n in zip(peak["id"], peak["name"])]
    notes = [f"{m:,.2f} MiB, {kind}, {oll:,} blocks" for m, kind, oll in zip(mib, peak["client_type"], peak["oll"].fillna(0))]
    hbars(ax, [label(n) for n in names], mib, notes, "peak output buffer (omem, MiB)")
    for limit, color, what in ((thresholds.omem_warning_bytes, "#e08a1e", "warning"),
                               (thresholds.omem_critical_bytes, "#c2423a", "critical")):  # fmt: skip
        if limit / MiB <= ax.get_xlim()[1]:
            ax.axvline(limit / MiB, color=color, linestyle=":", linewidth=1.4, label=f"{what} {limit / MiB:g} MiB")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right")
    titled(ax, title, _snapshot_span(snapshots) + "; peak of each client over the snapshots")
    return ax


# ------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class ClientChart:
    """A chart of CLIENT LIST snapshots: its title and how to draw it."""

    title: str
    draw: Callable[[Axes, pd.DataFrame, ClientThresholds], Axes]
    height: float = STYLE["figure.figsize"][1]


CLIENT_CHARTS: dict[str, ClientChart] = {
    "connections": ClientChart("Connected clients by name", lambda ax, df, t: plot_connected_clients(ax, df, "name")),
    "client-types": ClientChart("Connected clients by type", lambda ax, df, t: plot_connected_clients(ax, df, "client_type")),
    "growth": ClientChart("Connection growth by name", lambda ax, df, t: plot_connection_growth(
        ax, client_counts(df, "name"), "name", thresholds=t)),
    "growth-hosts": ClientChart("Connection growth by host", lambda ax, df, t: plot_connection_growth(
        ax, client_counts(df, "host"), "host", thresholds=t)),
    "idle-age": ClientChart("Idle time and age", lambda ax, df, t: plot_idle_age(ax, df, t)),
    "output-buffers": ClientChart("Output buffers", lambda ax, df, t: plot_output_buffers(ax, df, thresholds=t)),
}  # fmt: skip
"""Every chart of CLIENT LIST snapshots, by name."""


def client_chart(kind: str, snapshots: pd.DataFrame, thresholds: ClientThresholds = DEFAULTS) -> Figure:
    """The figure of chart ``kind`` (one of :data:`CLIENT_CHARTS`) for CLIENT LIST snapshots.

    >>> client_chart("growth", read_client_list("clients.log.gz"))  # doctest: +SKIP
    <Figure size 1000x460 with 1 Axes>
    """
    from matplotlib.figure import Figure

    if kind not in CLIENT_CHARTS:
        raise InputError(f"unknown chart {kind!r}: use one of {', '.join(CLIENT_CHARTS)}")
    spec = CLIENT_CHARTS[kind]
    with house_style():
        fig = Figure(figsize=(STYLE["figure.figsize"][0], spec.height), layout="constrained")
        spec.draw(fig.add_subplot(), snapshots, thresholds)
    return fig
