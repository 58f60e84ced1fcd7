"""Charts for an incident ticket, as matplotlib functions that take an ``Axes`` and a table.

- :mod:`.style`: the house style, labels, time axes, PNG/SVG bytes and SVG to inline in HTML;
- :mod:`.traffic`: MONITOR charts (traffic over time, top commands, clients, key patterns,
  gaps) and :func:`chart`, the figure of one KIND of the report;
- :mod:`.clients`: CLIENT LIST charts (clients over time, growth with trends, idle/age,
  output buffers) and :func:`client_chart`.

No pyplot state anywhere: the notebooks, the report and ``python -m monitorlens plot``
call the same functions.
"""

from __future__ import annotations

from .clients import (
    CLIENT_CHARTS,
    client_chart,
    plot_connected_clients,
    plot_connection_growth,
    plot_idle_age,
    plot_output_buffers,
)
from .style import STYLE, figure_bytes, house_style, inline_svg
from .traffic import KINDS, chart, plot_gaps, plot_key_patterns, plot_top_clients, plot_top_commands, plot_traffic

__all__ = [
    "STYLE",
    "house_style",
    "figure_bytes",
    "inline_svg",
    "KINDS",
    "chart",
    "plot_traffic",
    "plot_top_commands",
    "plot_top_clients",
    "plot_key_patterns",
    "plot_gaps",
    "CLIENT_CHARTS",
    "client_chart",
    "plot_connected_clients",
    "plot_connection_growth",
    "plot_idle_age",
    "plot_output_buffers",
]
