"""Charts: the Plot model of each chart and its SVG, written without matplotlib.

The report's charts are SVG text made by monitorlens.render.plots.svg; PNG files and notebooks
draw the same Plots with matplotlib (monitorlens.render.plots.mpl). These tests read the SVG
back as XML and compare it with the analysis of the recorded incident, and check that
both renderers show the same texts.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import monitorlens as ml
from monitorlens.read.clientlist import read_client_list
from monitorlens.analysis.breakdowns import bucket_seconds
from monitorlens.analysis.clientlist import attach_names
from monitorlens.render.plots import CLIENTLIST_CHARTS, MONITOR_CHARTS, clientlist_plot, figure, figure_bytes, plot_of, to_svg
from monitorlens.render.plots.model import HBars, Line, Part, Plot, Stack
from monitorlens.render.plots.style import COLORS
from monitorlens.render.plots.svg import nice_ticks, text_width, time_ticks

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
NS = {"svg": "http://www.w3.org/2000/svg"}


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    return read_client_list(SAMPLES / "incident" / "clients.log.gz")


@pytest.fixture(scope="module")
def analysis(snapshots: pd.DataFrame) -> ml.Analysis:
    return ml.analyze(attach_names(ml.load(SAMPLES / "incident" / "monitor.txt.gz"), snapshots), snapshots=snapshots)


def parsed(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in parsed(svg).iter(f"{{{NS['svg']}}}text")]


def bars(svg: str, color: str) -> list[tuple[float, float]]:
    """(y, width) of the bars of one color, top first (not the legend's boxes, which are in a group)."""
    rects = [r for r in parsed(svg).findall("svg:rect", NS) if r.get("fill") == color and r.get("y")]
    return sorted((float(r.get("y")), float(r.get("width"))) for r in rects)


def test_every_chart_is_deterministic_well_formed_svg(analysis: ml.Analysis, snapshots: pd.DataFrame) -> None:
    plots = {k: plot_of(k, analysis) for k in MONITOR_CHARTS} | {k: clientlist_plot(k, analysis) for k in CLIENTLIST_CHARTS}
    for kind, plot in plots.items():
        svg = to_svg(plot)
        root = parsed(svg)
        assert root.get("viewBox", "").startswith("0 0 1000 "), kind
        shown = texts(svg)
        assert shown[0] == plot.title and shown[1] == plot.subtitle, kind
        assert plot.xlabel in shown and "nothing to show" not in shown, kind
        assert svg == to_svg(plot_of(kind, analysis) if kind in MONITOR_CHARTS else clientlist_plot(kind, analysis))
        assert not re.search(r"<script|\son\w+=|href=", svg), kind


def test_command_bars_are_as_long_as_their_counts(analysis: ml.Analysis) -> None:
    svg = to_svg(plot_of("commands", analysis))
    drawn = bars(svg, COLORS[0])
    head = analysis.subcommands.head(analysis.top)
    assert len(drawn) == len(head)
    widths = np.array([w for _, w in drawn])  # top to bottom: most frequent first
    counts = head["count"].to_numpy(dtype=float)
    assert widths / widths[0] == pytest.approx(counts / counts[0], abs=0.002)
    shown = texts(svg)
    assert f"{head['count'].iloc[0]:,} ({100 * head['share'].iloc[0]:.1f}%)" in shown
    assert str(head["command"].iloc[0]) in shown


def test_key_pattern_bars_split_reads_and_writes(analysis: ml.Analysis) -> None:
    svg = to_svg(plot_of("key-patterns", analysis))
    head = analysis.key_patterns.head(analysis.top)
    reads = [w for _, w in bars(svg, COLORS[0])]
    writes = [w for _, w in bars(svg, COLORS[1])]
    assert len(reads) == int((head["reads"] > 0).sum()) and len(writes) == int((head["writes"] > 0).sum())
    assert {"reads", "writes"} <= set(texts(svg))  # the legend


def test_traffic_stack_adds_up_to_the_rate(analysis: ml.Analysis) -> None:
    plot = plot_of("traffic", analysis)
    (stack,) = plot.layers
    assert isinstance(stack, Stack) and stack.step
    total = np.sum(stack.ys, axis=0)[:-1]  # the last value is repeated to close the last bucket
    # events over the seconds of each bucket the capture covers; a bucket under half covered is left out
    covered = bucket_seconds(analysis.timeline, analysis.overview.first, analysis.overview.last)
    keep = (covered >= 0.5).to_numpy()
    expected = (analysis.timeline.sum(axis=1) / covered).to_numpy(dtype=float)[keep]
    assert total == pytest.approx(expected)
    svg = to_svg(plot)
    areas = [p for p in parsed(svg).iter(f"{{{NS['svg']}}}path") if p.get("fill") in stack.colors]
    assert len(areas) == len(stack.ys)
    assert set(stack.labels) <= set(texts(svg))


def test_traffic_does_not_draw_the_last_partial_second_as_a_full_one(analysis: ml.Analysis) -> None:
    """The incident's capture ends 0.038 s into its last second (7 events): a full-second
    bucket of it read 7 commands/s against ~190, a fake drop at the end."""
    tl = analysis.timeline
    covered = bucket_seconds(tl, analysis.overview.first, analysis.overview.last)
    assert covered.iloc[-1] < 0.1 and tl.iloc[-1].sum() < 0.1 * tl.sum(axis=1).median()
    plot = plot_of("traffic", analysis)
    (stack,) = plot.layers
    total = np.sum(stack.ys, axis=0)
    assert total[-1] > 0.5 * np.median(total)  # no drop at the end
    assert len(stack.x) == len(tl)  # one bucket left out: the edges are the buckets drawn + 1
    assert f"{int(tl.iloc[-1].sum())} events of a partial second at an end not drawn" in plot.subtitle
    whole = plot_of("traffic", ml.analyze(ml.load(SAMPLES / "incident" / "monitor.txt.gz")))
    assert whole.subtitle == plot.subtitle  # names do not change the traffic


def test_growth_names_the_leak(analysis: ml.Analysis) -> None:
    plot = clientlist_plot("growth", analysis)
    dashed = [layer for layer in plot.layers if isinstance(layer, Line) and layer.dashed]
    assert len(dashed) == 1  # only the growing group gets a trend line
    shown = texts(to_svg(plot))
    assert "+60.0/min: leak" in shown and "leaky-app (+60.0/min)" in shown


def test_capture_text_stays_text() -> None:
    hostile = '<script>alert(1)</script> & "quoted" \'single\''
    plot = Plot("Top commands", "a range", (HBars((hostile,), (), (hostile,)),), xlabel=hostile, xlim=(0, 1))
    svg = to_svg(plot)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert texts(svg).count(hostile) == 3  # the label, the note and the axis label, read back exactly


def test_a_plot_shows_itself_in_a_notebook(analysis: ml.Analysis) -> None:
    plot = plot_of("gaps", analysis)
    assert plot._repr_svg_() == to_svg(plot)


def test_empty_plots_say_so() -> None:
    empty = ml.analyze(ml.read_monitor([b"OK\n"]))
    for kind in MONITOR_CHARTS:
        assert "nothing to show" in texts(to_svg(plot_of(kind, empty)))


def test_both_renderers_show_the_same_texts(analysis: ml.Analysis, snapshots: pd.DataFrame) -> None:
    for plot in (plot_of("traffic", analysis), clientlist_plot("output-buffers", analysis)):
        ax = figure(plot).axes[0]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend and set(legend) <= set(texts(to_svg(plot)))
        assert ax.get_title(loc="left") == plot.title and ax.get_xlabel() == plot.xlabel
    assert figure_bytes(figure(plot_of("gaps", analysis)), "png")[:4] == b"\x89PNG"


def test_a_time_chart_draws_on_an_axes_in_a_subfigure(analysis: ml.Analysis) -> None:
    """A notebook lays charts out with fig.subfigures(); the time axis sizes its ticks from the
    Axes' own width (a SubFigure has no figure width of its own)."""
    from matplotlib.figure import Figure

    from monitorlens.render.plots import draw

    plot = plot_of("traffic", analysis)
    alone = Figure(figsize=(5, 4)).add_subplot()
    inside = Figure(figsize=(10, 4)).subfigures(1, 2)[0].add_subplot()
    for ax in (alone, inside):
        draw(ax, plot)
    assert inside.get_window_extent().width == pytest.approx(alone.get_window_extent().width, rel=0.01)
    assert [t.get_text() for t in inside.get_xticklabels()] == [t.get_text() for t in alone.get_xticklabels()]
    assert len(inside.get_xticklabels()) >= 3


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=30), st.integers(0, 10**12)), min_size=1, max_size=12),
       st.text(st.characters(codec=None, exclude_categories=()), max_size=40))
@example([("k\x00\ufffe", 1)], "\ud800\uffff\u202e")
def test_any_labels_and_values_make_well_formed_svg(rows: list[tuple[str, int]], title: str) -> None:
    labels, values = zip(*rows)
    widths = np.array(values, dtype=float)
    plot = Plot(title, title, (HBars(labels, (Part(widths, COLORS[0], title),), labels),), xlabel=title,
                xlim=(0, float(widths.max()) * 1.18 or 1), legend="inside")
    svg = to_svg(plot)
    parsed(svg)  # well-formed XML whatever the text: control characters are shown escaped
    assert not re.search(r'="[^"]*\b(nan|inf)\b', svg)  # every coordinate a number


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e9))
def test_nice_ticks_are_round_and_inside(lo: float, span: float) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    assert 2 <= len(ticks) <= 7 or span < 1e-9 * max(abs(lo), 1)
    assert all(lo - 1e-9 * max(abs(lo), 1, step) <= t <= hi + 1e-9 * max(abs(hi), 1, step) for t in ticks)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-6


@settings(max_examples=200, deadline=None)
@given(st.floats(1.5e9, 2.5e9), st.floats(0.002, 30 * 86400))
def test_time_ticks_are_round_and_inside(lo: float, span: float) -> None:
    ticks = time_ticks(lo, lo + span, most=8)
    assert 1 <= len(ticks) <= 9
    values = [v for v, _ in ticks]
    assert all(lo - 1e-6 <= v <= lo + span + 1e-6 for v in values)
    assert len(set(t for _, t in ticks)) == len(ticks) or span < 0.01  # distinct labels
    assert all(("." in t) == (span < 10) for _, t in ticks)


def test_text_widths_follow_the_font() -> None:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    ttp, prop = TextToPath(), FontProperties(family="DejaVu Sans", size=100)
    for text in ("GET", "user:{int}:profile", "127.0.0.1:52886 (leaky-app)", "Top 10 commands by events"):
        expected = ttp.get_text_width_height_descent(text, prop, ismath=False)[0]
        assert text_width(text, 100) == pytest.approx(expected, rel=0.02)


def test_the_report_never_imports_matplotlib(tmp_path: Path) -> None:
    code = ("import sys; from monitorlens.cli import main; "
            f"rc = main(['report', {str(SAMPLES / 'incident' / 'monitor.txt.gz')!r}, "
            f"'--clients', {str(SAMPLES / 'incident' / 'clients.log.gz')!r}, '-o', 'r.html']); "
            "print(rc, sorted(m for m in sys.modules if m.startswith('matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.stdout.split("\n")[-2] == "0 []", out.stderr
    assert (tmp_path / "r.html").read_text().count("<svg") == 10  # with the applications chart
