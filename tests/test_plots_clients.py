"""Charts of CLIENT LIST snapshots: each draws what its data says, titled for a ticket.

The charts are drawn on a plain matplotlib Figure (no pyplot) from the recorded incident
and from small literal snapshots; assertions read the artists back.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from monitorlens.analysis import clientlist as cs  # noqa: E402
from monitorlens.analysis.analyze import analyze  # noqa: E402
from monitorlens.analysis.clientlist_analysis import ClientlistAnalysis, analyze_clientlist  # noqa: E402
from monitorlens.read.ingest import read_monitor  # noqa: E402
from monitorlens.render import plots  # noqa: E402
from monitorlens.read.clientlist import read_client_list, read_connection_counts  # noqa: E402
from monitorlens.errors import InputError  # noqa: E402
from monitorlens.render.plots.mpl import figure_bytes, house_style  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


@pytest.fixture(scope="module")
def incident() -> pd.DataFrame:
    return read_client_list(SAMPLES / "incident" / "clients.log.gz")


@pytest.fixture(scope="module")
def part(incident: pd.DataFrame) -> ClientlistAnalysis:
    """The CLIENT LIST part of the incident's analysis, with its connection-count log."""
    return analyze_clientlist(incident, read_connection_counts(SAMPLES / "incident" / "connections.csv"))


def only_clientlist(snapshots: pd.DataFrame):  # type: ignore[no-untyped-def]
    """An Analysis of no MONITOR events with these snapshots: what the chart functions take."""
    return analyze(read_monitor([b"OK\n"]), snapshots=snapshots)


def axes():  # type: ignore[no-untyped-def]
    with house_style():
        return Figure(figsize=(10, 4.6)).add_subplot()


def texts(ax) -> str:  # type: ignore[no-untyped-def]
    """Every text of the Axes: title, subtitle, labels, legend, annotations, tick labels."""
    parts = [ax.get_title(loc="left"), ax.get_xlabel(), ax.get_ylabel()]
    parts += [t.get_text() for t in ax.texts]
    parts += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    legend = ax.get_legend()
    if legend is not None:
        parts += [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    return "\n".join(parts)


def test_connected_clients_stack_adds_up(incident: pd.DataFrame, part: ClientlistAnalysis) -> None:
    ax = axes()
    assert plots.plot_connected_clients(ax, part, "name", top=3) is ax
    counts = incident.groupby("snapshot").size()
    # The top of the stack is the number of clients listed in each snapshot.
    top = ax.collections[-1].get_paths()[0].vertices[:, 1]
    assert top.max() == counts.max()
    shown = texts(ax)
    assert "leaky-app" in shown and "(other)" in shown and "connected clients" in shown
    assert f"{counts.iloc[0]} → {counts.iloc[-1]} clients" in shown
    assert "UTC" in shown and "19 snapshots" in shown


def test_growth_shows_trend_and_slope(part: ClientlistAnalysis) -> None:
    ax = plots.plot_connection_growth(axes(), part, "name", top=3)
    shown = texts(ax)
    assert "leaky-app (+60.0/min)" in shown and "+60.0/min: leak" in shown
    assert "clients per minute" in shown and "1 leaking" in shown
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1  # only the growing group gets a trend line
    counts = read_connection_counts(SAMPLES / "incident" / "connections.csv")
    total = plots.plot_connection_growth(axes(), part, by=None)
    assert "all clients (+60.0/min)" in texts(total)
    assert total.lines[0].get_ydata().max() == counts.clients.max()


def test_idle_and_age_use_the_threshold(incident: pd.DataFrame) -> None:
    t = cs.ClientThresholds(idle_seconds=40)
    ax = plots.plot_idle_age(axes(), analyze_clientlist(incident, thresholds=t))
    shown = texts(ax)
    assert "idle threshold 40 s" in shown and "1 min" in shown and "$" not in shown
    last = incident[incident.snapshot == incident.snapshot.max()]
    assert f"age ({len(last)} clients)" in shown
    assert f"{(last.idle >= 40).sum()} idle for 40 s or more" in shown


def test_output_buffers_bars_are_the_peaks(incident: pd.DataFrame, part: ClientlistAnalysis) -> None:
    ax = plots.plot_output_buffers(axes(), part)
    widths = [p.get_width() for p in ax.patches]
    assert widths[0] == pytest.approx(incident.omem.max() / cs.MiB)
    assert widths == sorted(widths, reverse=True)
    assert "slow-subscriber" in texts(ax) and "MiB" in ax.get_xlabel()


def test_empty_inputs_draw_a_note() -> None:
    empty = analyze_clientlist(read_client_list(io.BytesIO(b"")), read_connection_counts(io.BytesIO(b"")))
    for draw in (plots.plot_connected_clients, plots.plot_idle_age, plots.plot_output_buffers):
        assert "nothing to show" in texts(draw(axes(), empty))
    assert "nothing to show" in texts(plots.plot_connection_growth(axes(), empty, by=None))


def test_names_are_text_not_math() -> None:
    line = "id=1 addr=1.2.3.4:5 fd=8 name=$x^2$ age=1 idle=1 flags=N omem=5000 cmd=get"
    df = read_client_list(io.BytesIO(f"# 1700000000\n{line}\n# 1700000005\n{line}\n".encode()))
    fig = plots.clientlist_chart("connections", only_clientlist(df))
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "$x^2$"
    assert figure_bytes(fig, "png")[:4] == b"\x89PNG"


def test_every_registered_chart_renders(incident: pd.DataFrame) -> None:
    analysis = only_clientlist(incident)
    for kind in plots.CLIENTLIST_CHARTS:
        fig = plots.clientlist_chart(kind, analysis)
        assert len(fig.axes) == 1 and fig.axes[0].get_title(loc="left")
    svg = figure_bytes(plots.clientlist_chart("growth", analysis), "svg")
    assert svg == figure_bytes(plots.clientlist_chart("growth", analysis), "svg")  # deterministic
    with pytest.raises(InputError, match="use one of"):
        plots.clientlist_chart("pie", analysis)
    without = analyze(read_monitor([b"OK\n"]))
    with pytest.raises(InputError, match="CLIENT LIST snapshots"):
        plots.clientlist_chart("growth", without)
    with pytest.raises(InputError, match="connection-count log"):
        plots.plot_connection_growth(axes(), analysis.clientlist, by=None)


def test_render_does_not_analyse() -> None:
    """The CLIENT LIST charts draw what the analysis computed: their module calls no counting,
    fitting or last-row function of the analysis stage."""
    import ast

    import monitorlens.render.plots.clientlist as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
                and "analysis" in node.module for alias in node.names}
    assert imported  # the walk read the imports
    assert not imported & {"client_counts", "growth_trends", "connection_trends", "count_trend", "last_rows",
                           "analyze_clientlist", "analyze"}
