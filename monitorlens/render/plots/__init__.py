"""Charts for an incident ticket: a model of each chart, and two renderers.

- :mod:`.model`: :class:`Plot`, what a chart shows (title, time range, axes, layers);
- :mod:`.monitor`: MONITOR charts (traffic over time, top commands, clients, key patterns,
  gaps) and :data:`MONITOR_CHARTS`; :mod:`.clientlist`: CLIENT LIST charts (clients over time, growth
  with trends, idle/age, output buffers) and :data:`CLIENTLIST_CHARTS`;
- :mod:`.svg`: a Plot as SVG text without matplotlib (the report, ``plot -o x.svg``);
- :mod:`.mpl`: a Plot on a matplotlib ``Axes`` (PNG, notebooks); matplotlib is imported
  only when one of its functions runs;
- :mod:`.style`: the house style both renderers share, and SVG safe to inline in HTML.

No pyplot state anywhere: the notebooks, the report and ``python -m monitorlens plot``
build the same Plots.
"""

from __future__ import annotations

from .clientlist import (
    CLIENTLIST_CHARTS,
    clientlist_chart,
    clientlist_plot,
    plot_connected_clients,
    plot_connection_growth,
    plot_idle_age,
    plot_output_buffers,
)
from .model import Plot
from .mpl import draw, figure, figure_bytes, house_style
from .style import STYLE, inline_svg
from .svg import to_svg
from .monitor import (
    MONITOR_CHARTS,
    chart,
    plot_gaps,
    plot_key_patterns,
    plot_of,
    plot_top_clients,
    plot_top_commands,
    plot_traffic,
)

__all__ = [
    "Plot",
    "STYLE",
    "house_style",
    "draw",
    "figure",
    "figure_bytes",
    "to_svg",
    "inline_svg",
    "MONITOR_CHARTS",
    "plot_of",
    "chart",
    "plot_traffic",
    "plot_top_commands",
    "plot_top_clients",
    "plot_key_patterns",
    "plot_gaps",
    "CLIENTLIST_CHARTS",
    "clientlist_plot",
    "clientlist_chart",
    "plot_connected_clients",
    "plot_connection_growth",
    "plot_idle_age",
    "plot_output_buffers",
]
