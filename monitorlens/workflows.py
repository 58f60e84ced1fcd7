"""Workflows: paths in, one result out; one function per command of the command line.

Each function reads its inputs with the read stage (:func:`monitorlens.load`,
:func:`~monitorlens.store.load_snapshots`...), makes one
:class:`~monitorlens.analysis.analyze.Analysis` (:func:`analyze_files`) and renders it: the
same calls a notebook makes. ``cli.py`` only turns flags into these arguments.

Example::

    >>> make_report("incident/monitor.txt.gz", clients="incident/clients.log.gz").write("incident.html")  # doctest: +SKIP
    >>> print(summarize("incident/monitor.txt.gz", clients="incident/clients.log.gz"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis.analyze import Analysis
from .analysis.applications import with_listed
from .analysis.breakdowns import ClientNames
from .analysis.clientlist import attach_names
from .analysis.clientlist_analysis import analyze_clientlist, with_clientlist
from .analysis.comparison import compare
from .analysis.filters import Filters
from .analysis.stream import analyze_stream
from .errors import InputError
from .analysis.reconcile import Reconciliation, reconcile
from .read.bundle import Bundle, is_bundle, open_bundle
from .read.files import source_name, spooled
from .read.schema import Provenance, provenance
from .render.plots import CLIENTLIST_CHARTS, MONITOR_CHARTS, clientlist_plot, figure, figure_bytes, plot_of, to_svg
from .render.redact import redact_findings
from .render.report import TOP, Report, Stamp
from .render.report import build_report as render_build_report
from .render.summary import render_text
from .outputs import is_stdout, output_file, refuse_inputs
from .progress import Progress
from .store import load, load_connections, load_snapshots

__all__ = ["Inputs", "read_inputs", "analyze_files", "summarize", "make_report", "make_chart", "chart_format",
           "build_report"]

Path_ = str | os.PathLike[str]


@dataclass(frozen=True, eq=False)
class Inputs:
    """What a command reads: the (filtered) events, with names when CLIENT LIST is given, and
    what the analysis must know about them: the capture's provenance, the filters that made
    the events and the names clients set in the whole capture."""

    events: pd.DataFrame
    provenance: Provenance
    snapshots: pd.DataFrame | None = None
    connections: pd.DataFrame | None = None
    filters: Filters = Filters()
    names: ClientNames | None = None
    maxclients: int | None = None
    reconciliation: Reconciliation | None = None


def read_inputs(
    capture: Path_,
    clients: Path_ | None = None,
    connections: Path_ | None = None,
    filters: Filters = Filters(),
    progress: Progress | None = None,
) -> Inputs:
    """Read a capture (text, .gz, Parquet) and the optional CLIENT LIST / connection logs;
    name the events' clients from the snapshots; keep the events ``filters`` match.

    ``capture`` may be a bundle folder (``python -m monitorlens capture -o incident/``): its
    monitor.txt.gz, clients.log.gz and connections.csv are read (unless ``clients`` or
    ``connections`` are given), its ``maxclients`` kept, and its MONITOR lines reconciled
    with the server's commandstats (before any filter). ``progress``
    (:class:`~monitorlens.progress.Progress`) hears of the lines read."""
    bundle = _bundle(capture)
    if bundle is not None:
        assert bundle.monitor is not None  # _bundle says so
        capture, clients, connections = bundle.monitor, clients or bundle.clients, connections or bundle.connections
    events = load(capture, progress=progress)
    prov = provenance(events)
    reconciliation = reconcile(events, bundle.server) if bundle is not None else None
    snapshots = counts = None
    if clients is not None:
        snapshots = load_snapshots(clients)  # an error when no client is read from it
        events = attach_names(events, snapshots)
    if connections is not None:
        counts = load_connections(connections)
    names = ClientNames.of(events) if filters else None  # before the filter drops CLIENT SETNAME lines
    kept = filters.apply(events) if filters else events
    _some_match(filters, len(kept), len(events), prov)
    return Inputs(kept, prov, snapshots, counts, filters, names,
                  bundle.maxclients if bundle is not None else None, reconciliation)


def _some_match(filters: Filters, kept: int, events: int, prov: Provenance) -> None:
    """An error when filters leave no event of a capture that has some: never an empty report."""
    if filters and kept == 0 and events:
        asked = ", ".join(f"--{k} {v}" for k, v in filters.describe().items())
        raise InputError(f"no event matches the filters ({asked}): the capture has {events:,} "
                         f"event{'s' if events != 1 else ''}"
                         + (f", {prov.first_ts} .. {prov.last_ts}" if prov.first_ts else "") + ".")


def analyze_files(
    capture: Path_,
    *,
    clients: Path_ | None = None,
    connections: Path_ | None = None,
    maxclients: int | None = None,
    top: int = TOP,
    filters: Filters = Filters(),
    progress: Progress | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> Analysis:
    """The one :class:`~monitorlens.analysis.analyze.Analysis` of a capture and its CLIENT LIST
    and connection-count logs, that ``summary``, ``report`` and ``plot`` all render.
    ``maxclients`` is the server's (CONFIG GET maxclients): time to reach it, severity.

    The capture (or a bundle's) is analysed as a stream of partials
    (:func:`~monitorlens.analysis.stream.analyze_stream`): memory follows the distinct
    clients, patterns and keys, not the events, and ``workers`` processes share the work
    (default: every core the memory allows; 0: this process only), or the workers of the
    Dask cluster at ``scheduler``, ``tcp://host:8786``. CLIENT LIST names
    and a client filter read the capture twice (for the names it sets first): a capture
    read from a pipe with them is copied to a temporary file first (:func:`~monitorlens.read.files.spooled`).

    >>> analyze_files("capture.txt.gz", clients="clients.log.gz").clientlist.findings  # doctest: +SKIP
    """
    bundle = _bundle(capture)
    monitor: Path_ = bundle.monitor if bundle is not None and bundle.monitor is not None else capture
    clients = clients or (bundle.clients if bundle is not None else None)
    connections = connections or (bundle.connections if bundle is not None else None)
    options: dict[str, Any] = dict(
        top=top, filters=filters, scheduler=scheduler, workers=workers, progress=progress,
        snapshots=load_snapshots(clients) if clients is not None else None,
        connections=load_connections(connections) if connections is not None else None,
        maxclients=maxclients if maxclients is not None else bundle.maxclients if bundle is not None else None,
        server=bundle.server if bundle is not None else None)
    if (clients is None and not filters.client) or _rereadable(monitor):
        analysis = analyze_stream(monitor, **options)
    elif scheduler is not None:
        raise InputError("--clients and --client read the capture twice: with --scheduler, give it as a file "
                         "the Dask workers can read, not a pipe")
    else:
        if progress is not None:
            progress.step("copying the piped capture to a temporary file (--clients and --client read it twice)...")
        with spooled(monitor) as copy:
            analysis = analyze_stream(copy, name=source_name(monitor), **options)
    _some_match(filters, analysis.overview.events, analysis.provenance.events, analysis.provenance)
    return analysis


def _bundle(capture: Path_) -> Bundle | None:
    """The bundle folder ``capture`` is, or None; an error when it has no MONITOR capture."""
    bundle = open_bundle(capture) if is_bundle(capture) else None
    if bundle is not None and bundle.monitor is None:
        raise InputError(f"{bundle.folder}: this bundle has no monitor.txt.gz: nothing to analyse")
    return bundle


def _rereadable(capture: Path_) -> bool:
    """Whether a capture can be read twice (a file or a folder, not a pipe or stdin)."""
    path = Path(capture)
    return str(capture) != "-" and (path.is_file() or path.is_dir())


def summarize(
    capture: Path_,
    *,
    clients: Path_ | None = None,
    connections: Path_ | None = None,
    maxclients: int | None = None,
    top: int = TOP,
    filters: Filters = Filters(),
    as_json: bool = False,
    width: int = 80,
    show_values: bool = False,
    progress: Progress | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> str:
    """What ``summary`` prints: the text view, or the ``summary --json`` object; argument
    values in findings are redacted unless ``show_values``; ``scheduler``, ``workers``: see
    :func:`analyze_files`.

    >>> print(summarize("capture.txt", as_json=True))  # doctest: +SKIP
    """
    analysis = analyze_files(capture, clients=clients, connections=connections, maxclients=maxclients,
                             top=top, filters=filters, progress=progress, scheduler=scheduler, workers=workers)
    analysis = redact_findings(analysis, show_values=show_values)
    if as_json:
        return json.dumps(analysis.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    return render_text(analysis, width=width)


def make_report(
    capture: Path_,
    *,
    clients: Path_ | None = None,
    connections: Path_ | None = None,
    maxclients: int | None = None,
    top: int = TOP,
    show_values: bool = False,
    charts: bool = True,
    timestamp: bool = False,
    filters: Filters = Filters(),
    baseline: Path_ | None = None,
    baseline_clients: Path_ | None = None,
    title: str | None = None,
    progress: Progress | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> Report:
    """Read a capture (text, .gz or Parquet) and optional CLIENT LIST (``clients``) and
    connection-count logs, analyse them and build the report: the ``report`` command.

    ``filters`` narrow the events before the analysis (the CLI's shared filters);
    ``timestamp`` writes the generation time and the time taken into the header. A
    ``baseline`` capture (read whole, unfiltered; its CLIENT LIST from ``baseline_clients``,
    whose findings are compared too) adds the section "Compared with the baseline", right
    after the findings. ``title`` replaces the report's title; ``progress`` hears of each step;
    ``scheduler`` analyses on a Dask cluster, ``workers`` in that many processes (:func:`analyze_files`).

    >>> make_report("incident/monitor.txt.gz", clients="incident/clients.log.gz").write("incident.html")  # doctest: +SKIP
    """
    if baseline_clients is not None and baseline is None:
        raise InputError("--baseline-clients names the clients of a --baseline capture: give the capture too")
    started = time.perf_counter()
    before = analyze_files(baseline, clients=baseline_clients, maxclients=maxclients, top=top, progress=progress,
                           scheduler=scheduler, workers=workers) if baseline is not None else None
    analysis = analyze_files(capture, clients=clients, connections=connections, maxclients=maxclients, top=top,
                             filters=filters, progress=progress, scheduler=scheduler, workers=workers)
    comparison = compare(before, analysis) if before is not None else None
    if progress is not None:
        progress.step("writing the report...")
    report = render_build_report(analysis, title=title, top=top, show_values=show_values, charts=charts,
                                 filters=analysis.overview.filters, baseline=comparison)
    if timestamp:
        report = replace(report, header=replace(report.header, stamp=Stamp.now(started)))
    return report


def make_chart(
    kind: str,
    capture: Path_,
    output: Path_,
    *,
    clients: Path_ | None = None,
    top: int = TOP,
    filters: Filters = Filters(),
    fmt: str | None = None,
) -> Path:
    """Draw chart ``kind`` of a capture's report into ``output`` (.png or .svg; ``-`` is stdout,
    SVG unless ``fmt``): the ``plot`` command. Client charts (connections, growth, idle-age,
    output-buffers...) need ``clients``. The output is written whole or not at all, and
    never over an input (:func:`monitorlens.outputs.output_file`).

    >>> make_chart("traffic", "capture.txt.gz", "traffic.png")  # doctest: +SKIP
    """
    out = Path(output)
    refuse_inputs(output, [capture, clients])  # first: before anything is read or said about the name
    fmt = chart_format(output, fmt)
    if kind not in MONITOR_CHARTS and kind not in CLIENTLIST_CHARTS:
        raise InputError(f"unknown chart {kind!r}: use one of {', '.join([*MONITOR_CHARTS, *CLIENTLIST_CHARTS])}")
    need = f"chart {kind!r} is drawn from CLIENT LIST snapshots: give them with --clients FILE"
    if kind in CLIENTLIST_CHARTS and clients is None and not is_bundle(capture):
        raise InputError(need)
    # The one analysis the report draws from, so that a chart and the report never differ.
    analysis = analyze_files(capture, clients=clients, top=top, filters=filters)
    if kind in CLIENTLIST_CHARTS:
        if analysis.clientlist is None or analysis.clientlist.snapshots is None:
            raise InputError(need)
        plot = clientlist_plot(kind, analysis)
    else:
        plot = plot_of(kind, analysis)
    # SVG is written directly (the report's charts); PNG is drawn by matplotlib
    data = to_svg(plot).encode() if fmt == "svg" else figure_bytes(figure(plot), "png")
    with output_file(output, inputs=[capture, clients]) as f:
        f.write(data)
    return out


CHART_FORMATS = ("png", "svg")


def chart_format(output: Path_, fmt: str | None = None) -> str:
    """The image format of a chart: ``fmt`` when given, else the output's suffix (``-``: svg).

    >>> chart_format("traffic.PNG"), chart_format("-")
    ('png', 'svg')
    """
    suffix = Path(output).suffix.lower().lstrip(".")
    chosen = fmt or ("svg" if is_stdout(output) else suffix)
    if chosen not in CHART_FORMATS:
        raise InputError(f"{output}: a chart is .png or .svg; name the file so, or give --format png|svg")
    return chosen


def build_report(
    analysis: Analysis,
    *,
    snapshots: pd.DataFrame | None = None,
    connections: pd.DataFrame | None = None,
    **options: Any,
) -> Report:
    """:func:`monitorlens.render.report.build_report`, which still takes the CLIENT LIST
    ``snapshots`` and ``connections`` of release 0.1 (deprecated: give them to
    :func:`~monitorlens.analysis.analyze.analyze`; removed in the next release).

    >>> build_report(analyze(events, snapshots=snapshots))  # doctest: +SKIP
    """
    if snapshots is not None or connections is not None:
        warnings.warn("build_report(snapshots=, connections=) is deprecated: pass them to analyze()",
                      DeprecationWarning, stacklevel=2)
        part = analyze_clientlist(snapshots, connections)
        apps = with_listed(analysis.applications, snapshots) if snapshots is not None else analysis.applications
        analysis = replace(analysis, clientlist=part, applications=apps,
                           findings=tuple(with_clientlist(list(analysis.findings), part.findings)))
    return render_build_report(analysis, **options)
