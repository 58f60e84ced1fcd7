"""Charts of a MONITOR capture for a ticket: traffic over time, top commands, clients, key
patterns, gaps; and the registry the report and ``python -m monitorlens plot`` share.

Each ``plot_*`` function takes a matplotlib ``Axes`` and a table of the analysis and returns
the Axes: no pyplot state, titles with the time range and units, labels cut to fit.
:func:`chart` makes a figure of one KIND from an :class:`~monitorlens.analysis.Analysis`;
:func:`figure_bytes` saves it as PNG or as deterministic SVG, and :func:`inline_svg` turns the
SVG into markup safe to inline in the report (no script, no comments, ids made unique).

Example::

    >>> fig = chart("traffic", analyze(load("capture.txt")))  # doctest: +SKIP
    >>> open("traffic.png", "wb").write(figure_bytes(fig, "png"))  # doctest: +SKIP
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InputError
from .findings import printable

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .analysis import Analysis

__all__ = [
    "STYLE",
    "KINDS",
    "plot_traffic",
    "plot_top_commands",
    "plot_top_clients",
    "plot_key_patterns",
    "plot_gaps",
    "chart",
    "figure_bytes",
    "inline_svg",
]

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


def _naive(value: Any) -> np.datetime64:
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
    from .report import duration_text

    span = duration_text(seconds)
    end = b.strftime("%H:%M:%S") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M:%S")
    return f"{a.strftime('%Y-%m-%d %H:%M:%S')} → {end} UTC ({span})"


def _title(ax: Axes, title: str, subtitle: str) -> None:
    """A bold title with the time range (and units) under it in plain text."""
    ax.set_title(title, loc="left", pad=24)
    ax.annotate(subtitle, xy=(0, 1), xycoords="axes fraction", xytext=(0, 8), textcoords="offset points",
                fontsize=10, color="#4d5156", va="bottom", ha="left", annotation_clip=False)


def _time_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates

    from matplotlib.ticker import FuncFormatter

    lo, hi = ax.get_xlim()
    short = (hi - lo) * 86400 < 10  # matplotlib dates are days: under 10 s, show milliseconds
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6 if short else 9))

    def hms(x: float, _pos: Any) -> str:
        t = mdates.num2date(x)
        return t.strftime("%H:%M:%S") + (f".{t.microsecond // 1000:03d}" if short else "")

    ax.xaxis.set_major_formatter(FuncFormatter(hms))


def _empty(ax: Axes, title: str) -> Axes:
    _title(ax, title, "no events")
    ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes, color="#6f7782")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_traffic(ax: Axes, timeline: pd.DataFrame) -> Axes:
    """Commands per second over time, stacked by command (a wide timeline: ts index, one
    column of bucket counts per command, ``(other)`` last) -> the Axes.

    >>> plot_traffic(ax, analysis.timeline)  # doctest: +SKIP
    """
    title = "Commands per second, stacked by command"
    if timeline.empty or not len(timeline.columns):
        return _empty(ax, title)
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
    _time_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="command")
    last = index[-1] + pd.Timedelta(seconds=step)
    _title(ax, title, time_range(index[0], last))
    return ax


def _bars(ax: Axes, labels: list[str], values: np.ndarray, notes: list[str], xlabel: str) -> None:
    y = np.arange(len(labels))[::-1]
    ax.barh(y, values, height=0.7)
    ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(xlabel)
    top = float(values.max()) if len(values) else 1.0
    for yi, v, note in zip(y, values, notes):
        ax.text(v + top * 0.01, yi, note, va="center", fontsize=9, color="#3c4043")
    ax.set_xlim(0, top * 1.18 or 1)


def _span_of(table: pd.DataFrame) -> str:
    if table.empty or "first" not in table:
        return "no events"
    return time_range(table["first"].min(), table["last"].max())


def _ranked(ax: Axes, table: pd.DataFrame, top: int, label_of: Callable[[pd.DataFrame], list[str]],
            title: str, noun: str) -> Axes:
    """Horizontal bars of the top rows' ``count``, noted ``count (share)``, titled with the span."""
    if table.empty:
        return _empty(ax, title)
    head = table.head(top)
    _bars(ax, label_of(head), head["count"].to_numpy(),
          [f"{n:,} ({100 * s:.1f}%)" for n, s in zip(head["count"], head["share"])], "events in the capture")
    _title(ax, title, _span_of(table) + f"; {len(table):,} {noun} in all")
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
        return _empty(ax, title)
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
    _title(ax, title, _span_of(patterns) + f"; {len(patterns):,} patterns in all")
    return ax


def plot_gaps(ax: Axes, gaps: pd.DataFrame, span: tuple[Any, Any] | None = None) -> Axes:
    """The longest silences between consecutive lines, in ms, where they happened (``gaps``),
    over the capture's ``span`` (first, last) when given.

    >>> plot_gaps(ax, analysis.gaps, span=(analysis.overview.first, analysis.overview.last))  # doctest: +SKIP
    """
    title = "Longest silences between consecutive MONITOR lines"
    if gaps.empty:
        return _empty(ax, title)
    start = pd.DatetimeIndex(gaps["start"]).tz_convert("UTC").tz_localize(None).to_numpy()
    ms = gaps["gap_us"].to_numpy() / 1000.0
    ax.vlines(start, 0, ms, linewidth=2)
    ax.plot(start, ms, "o")
    ax.set_ylim(bottom=0, top=ms.max() * 1.15 or 1)
    ax.set_ylabel("silence (ms, no line arrived)")
    ax.set_xlabel("time the silence began (UTC)")
    first, last = span if span is not None else (gaps["start"].min(), gaps["end"].max())
    ax.set_xlim(_naive(first), _naive(last))
    _time_axis(ax)
    _title(ax, title, time_range(first, last) + f"; the {len(gaps)} longest silences (not command durations)")
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
