"""The command line: each command opens the input and makes one documented library call.

    python -m monitorlens ingest capture.txt -o capture.parquet
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any
from pathlib import Path

from . import __version__
from .errors import InputError, MonitorlensError
from .live.connection import add_target_arguments
from .outputs import refuse_inputs
from .progress import Progress, progress_printer

Handler = Callable[[argparse.Namespace], int]


def add_filter_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--since --until --command --client --db --top`` to a CLI (sub)parser.

    >>> p = add_filter_arguments(argparse.ArgumentParser()); p.parse_args(["--command", "get", "--top", "5"]).top
    5
    """
    g = parser.add_argument_group("filters")
    g.add_argument("--since", metavar="TIME", help="keep events at or after TIME (ISO 8601 or epoch seconds; UTC)")
    g.add_argument("--until", metavar="TIME", help="keep events before TIME (ISO 8601 or epoch seconds; UTC)")
    g.add_argument("--command", action="append", metavar="NAME",
                   help="keep this command (case-insensitive; 'client setname' for a subcommand); repeatable")
    g.add_argument("--client", action="append", metavar="CLIENT",
                   help="keep this client: address as printed, host, or name; repeatable")
    g.add_argument("--db", action="append", type=int, metavar="N", help="keep database N; repeatable")
    g.add_argument("--top", type=_positive, default=10, metavar="N", help="rows per table (default 10)")
    return parser


def add_scheduler_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add where the analysis runs to a CLI (sub)parser: ``--workers`` (processes here) or
    ``--scheduler`` (a Dask cluster)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_count, metavar="N",
                       help="worker processes to analyse in (default: every core the memory allows; "
                       "0: in this process, one core)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="analyse on a dask.distributed cluster (tcp://host:8786; its workers must see the "
                       "capture's path); default: worker processes here")
    return parser


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a number of processes, 0 or more")
    return n


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _ingest(ns: argparse.Namespace) -> int:
    from .store import ingest, ingest_dataset  # lazy: each command loads only its own stages

    limit = {} if ns.max_line_mib is None else {"max_line_bytes": ns.max_line_mib << 20}
    out = ns.output
    if len(ns.capture) > 1 or ns.node is not None or (out is not None and out.endswith("/")):
        if out is None or out == "-":
            raise InputError("several captures, or --node, make a dataset: name its folder with -o FOLDER/")
        if ns.kind not in (None, "monitor"):
            raise InputError(f"a dataset holds MONITOR captures, not --kind {ns.kind}")
        for source in ns.capture:  # one at a time: each with its own progress line
            progress = progress_printer(_plain_size(source))
            for path, prov in ingest_dataset([source], out, node=ns.node, errors=ns.errors, progress=progress, **limit):
                _said(str(path), prov, sys.stdout)
        return 0
    source = ns.capture[0]
    out = out or _default_output(source)
    prov = ingest(source, out, kind=ns.kind, errors=ns.errors, progress=progress_printer(_plain_size(source)), **limit)
    _said(out, prov, sys.stderr if out == "-" else sys.stdout)  # '-': stdout holds the Parquet file
    return 0


def _said(out: str, prov: Any, said: Any) -> None:
    """What ingest wrote to ``out``: events (or rows) from lines, rejects by reason."""
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    rows = "events" if prov.kind == "monitor" else f"{prov.kind} rows"
    print(
        f"{out}: {prov.events:,} {rows} from {prov.lines:,} lines"
        f" ({prov.rejected:,} rejected, {sum(prov.skipped.values()):,} skipped)"
        + (f", {prov.first_ts} .. {prov.last_ts}" if prov.first_ts else ""), file=said
    )
    for reason, count in prov.rejects_by_reason.items():
        print(f"  rejected {count:,} {reason}", file=said)


def _progress(capture: str) -> Any:
    """A terminal progress line for a command reading ``capture`` (silent when quick or piped)."""
    return Progress(_plain_size(capture))


def add_maxclients_argument(parser: argparse.ArgumentParser) -> None:
    """``--maxclients N``: the server's limit, for the time to reach it and the severity of growth."""
    parser.add_argument("--maxclients", type=_positive, metavar="N",
                        help="the server's maxclients (CONFIG GET maxclients): time to reach it, severity")


def _plain_size(source: str) -> int | None:
    """Size of an uncompressed input file, for progress; None when unknown."""
    if source == "-" or str(source).endswith(".gz") or not os.path.isfile(source):
        return None
    return os.path.getsize(source)


def _default_output(source: str) -> str:
    from .store import capture_stem  # lazy: each command loads only its own stages

    if source == "-":
        raise InputError("reading stdin: name the output with -o FILE.parquet")
    return str(Path(source).with_name(capture_stem(source) + ".parquet"))


def _size(text: str) -> int:
    """A byte count: ``1048576``, ``64K``, ``256M``, ``1G`` (powers of 1024)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in units else ""
    try:
        n = float(t[: len(t) - len(unit)]) * units[unit]
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a size like 64M, got {text!r}")
    return int(n)


def _share(text: str) -> float:
    """A share: ``30%`` or ``0.3``."""
    try:
        v = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        v = -1
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"expected a share like 30% or 0.3, got {text!r}")
    return v


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return v


def _capture(ns: argparse.Namespace) -> int:
    from .live.capture import CaptureLimits, capture  # lazy: each command loads only its own stages
    from .live.connection import target_from_args  # lazy: as above
    from .live.progress import capture_status  # lazy: as above

    limits = CaptureLimits(
        duration=ns.duration, max_lines=ns.max_lines, max_bytes=ns.max_bytes, max_drop=ns.max_drop,
        baseline=ns.baseline, max_omem=ns.max_omem, every=ns.every, guard_every=ns.guard_every,
    )  # fmt: skip
    # Counters from the first second on, on a terminal only.
    line = Progress(after=0.0)
    try:
        result = capture(target_from_args(ns), ns.output, limits,
                         progress=(lambda s: line.step(capture_status(s))) if line.enabled else None)
    finally:
        line.close()
    print(result.text())
    if result.monitor_left:
        print("Error: the server still lists the MONITOR connection after it was closed", file=sys.stderr)
        return 1
    if not result.ok:
        print(f"Error: the capture ended early: {result.reason} ({result.detail}); "
              f"what it got is in {ns.output}", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _watch(ns: argparse.Namespace) -> int:
    from .live.connection import target_from_args  # lazy: each command loads only its own stages
    from .live.watch import WatchOptions, watch  # lazy: pandas and the analysis, only for watch

    opts = WatchOptions(
        every=ns.every, count=ns.count, duration=ns.duration, log=ns.log, csv=ns.csv,
        prometheus_port=ns.prometheus, prometheus_host=ns.bind, textfile=ns.textfile,
        idle_seconds=ns.idle, screen=not ns.quiet,
    )  # fmt: skip

    # The screen view redraws itself; the quiet one (`sample`) says how far it is on a terminal.
    progress = Progress() if ns.quiet else None
    step = (lambda n, count: progress.step(f"snapshot {n:,}" + (f" of {count:,}" if count else ""))) \
        if progress is not None else None
    try:
        result = watch(target_from_args(ns), opts, out=sys.stdout, progress=step)
    finally:
        if progress is not None:
            progress.close()
    print(result.text(), file=sys.stderr if not ns.quiet else sys.stdout)
    if result.reason == "server-lost":
        print(f"Error: the connection to the server was lost ({result.detail})", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitorlens",
        description="Post-mortem of a Redis incident from MONITOR captures and CLIENT LIST logs.",
    )
    parser.add_argument("--version", action="version", version=f"monitorlens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "ingest",
        help="convert a capture to Parquet",
        description="Convert a MONITOR capture (plain, .gz or - for stdin; streamed, in bounded memory), "
        "CLIENT LIST snapshots, a timestamp,clients CSV or uniq -c counts to Parquet. Several captures "
        "(or -o FOLDER/, or --node) make a dataset: FOLDER/node=NODE/date=DAY/part-N.parquet, one part "
        "per capture (DAY: the UTC day of its first event).",
        epilog="examples: python -m monitorlens ingest capture.txt.gz -o capture.parquet\n"
        "          python -m monitorlens ingest clients.log.gz -o clients.parquet\n"
        "          python -m monitorlens ingest shard-a.txt.gz shard-b.txt.gz -o dataset/   # node=shard-a, node=shard-b\n"
        "          python -m monitorlens ingest monday.txt.gz tuesday.txt.gz -o dataset/ --node redis-1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("capture", nargs="+", help="capture or log file (.txt, .gz), or - for a capture on stdin; "
                   "several captures make a dataset")
    p.add_argument("-o", "--output", help="Parquet file to write (default: beside the capture), or the folder "
                   "of a dataset (ending in /)")
    p.add_argument("--node", help="the node the captures come from, in a dataset (default: each capture's "
                   "file name without suffixes)")
    p.add_argument("--errors", choices=("skip", "raise"), default="skip",
                   help="skip: count and keep bad lines (default); raise: stop at the first")
    p.add_argument("--max-line-mib", type=_positive, metavar="MIB",
                   help="reject longer capture lines as too-long, in bounded memory (default 768: a 512 MB value "
                   "as text; raise it for larger binary values, which MONITOR escapes up to 4x)")
    p.add_argument("--kind", choices=("monitor", "clients", "connections", "app-counts"),
                   help="what the file holds (default: detected from its first bytes)")
    p.set_defaults(handler=_ingest)

    p = sub.add_parser(
        "capture",
        add_help=False,
        help="a bounded MONITOR capture of a live server, as one bundle folder",
        description="Run MONITOR on a live server within hard limits and save one bundle folder: "
        "monitor.txt.gz (lines as redis-cli MONITOR prints them), clients.log.gz and connections.csv "
        "(CLIENT LIST every --every s), server.json (INFO before and after, maxclients, why it stopped). "
        "A guard stops early when the server's commands/s fall more than --max-drop below the rate "
        "measured just before, or when the MONITOR connection's output buffer passes --max-omem. "
        "MONITOR always ends: at a limit, on Ctrl-C or SIGTERM, on an error. The password is never "
        "printed or saved; prefer REDISCLI_AUTH to -a.",
        epilog="example: REDISCLI_AUTH=... python -m monitorlens capture redis://10.0.0.5:6379/0 "
        "-o incident/ --duration 30\n         python -m monitorlens report incident/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="FOLDER", help="new bundle folder to write")
    g = p.add_argument_group("limits (the first reached stops the capture)")
    g.add_argument("--duration", type=_seconds, default=30.0, metavar="S", help="seconds of MONITOR (default 30)")
    g.add_argument("--max-lines", type=_positive, default=1_000_000, metavar="N", help="lines (default 1000000)")
    g.add_argument("--max-bytes", type=_size, default=256 << 20, metavar="SIZE",
                   help="uncompressed bytes (default 256M)")
    g.add_argument("--max-drop", type=_share, default=0.3, metavar="SHARE",
                   help="stop when commands/s fall by more than this share of the baseline (default 30%%; 100%% disables)")
    g.add_argument("--max-omem", type=_size, default=32 << 20, metavar="SIZE",
                   help="stop when MONITOR's own output buffer passes this (default 32M)")
    g.add_argument("--baseline", type=float, default=2.0, metavar="S",
                   help="seconds to measure commands/s before MONITOR starts (default 2)")
    g.add_argument("--guard-every", type=_seconds, default=1.0, metavar="S", help="seconds between guard checks (default 1)")
    g.add_argument("--every", type=_seconds, default=5.0, metavar="S", help="seconds between CLIENT LIST snapshots (default 5)")
    p.set_defaults(handler=_capture)

    for name, summary in (("watch", "watch a live server's clients: terminal view, alerts, Prometheus gauges"),
                          ("sample", "save CLIENT LIST snapshots of a live server (watch --log, quietly)")):  # fmt: skip
        p = sub.add_parser(
            name,
            add_help=False,
            help=summary,
            description="Every --every s, one CLIENT LIST: a one-screen view of the clients (by type and "
            "name, the most idle, blocked, output buffers, MONITORs), alert lines when a finding's threshold "
            "is crossed and the CLIENT KILL plan to review (nothing is ever killed); --log/--csv save the "
            "snapshots, --prometheus serves gauges, --textfile writes them for node_exporter. Sends only "
            "CLIENT LIST and INFO. `sample` is `watch --quiet` kept for the shell loops that call it.",
            epilog=f"example: python -m monitorlens {name} redis://127.0.0.1:6379 --every 5 --duration 600 "
            "--log clients.log --csv connections.csv" + (" --prometheus 9121" if name == "watch" else ""),
        )
        add_target_arguments(p)
        p.add_argument("-o", "--log", "--output", dest="log", metavar="FILE", required=name == "sample",
                       help="append the snapshots to FILE (the clients.log format)")
        p.add_argument("--csv", metavar="FILE", help="append <epoch>,<clients> rows to FILE")
        p.add_argument("--every", type=_seconds, default=5.0 if name == "watch" else 60.0, metavar="S",
                       help=f"seconds between snapshots (default {5 if name == 'watch' else 60})")
        p.add_argument("--count", type=_positive, default=None if name == "watch" else 60, metavar="N",
                       help="stop after N snapshots" + ("" if name == "watch" else " (default 60)"))
        p.add_argument("--duration", type=_seconds, metavar="S", help="stop after S seconds")
        p.add_argument("--idle", type=_seconds, default=None, metavar="S",
                       help="a normal client idle this long is an alert (default: the findings' 3600)")
        p.add_argument("--prometheus", type=int, metavar="PORT", help="serve the gauges over HTTP on PORT")
        p.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                       help="address to serve the gauges on (default 127.0.0.1)")
        p.add_argument("--textfile", metavar="PATH", help="write the gauges to PATH (.prom) for node_exporter")
        p.add_argument("-q", "--quiet", action="store_true", default=name == "sample",
                       help="no terminal view, only alerts")
        p.set_defaults(handler=_watch)

    p = sub.add_parser(
        "summary",
        help="what made the load: commands, clients, key patterns, findings",
        description="Analyse a capture (text, .gz or Parquet from ingest) and print the overview, "
        "top commands, clients, key patterns and findings, or one JSON object with --json.",
        epilog="example: python -m monitorlens summary capture.txt.gz --since 2026-11-25T21:25:00Z --top 5",
    )
    p.add_argument("capture", help="capture file (.txt, .gz, .parquet), - for stdin, or a bundle folder from capture")
    p.add_argument("--json", action="store_true", help="print one JSON object (docs/summary-json.md)")
    p.add_argument("--width", type=int, default=80, help="text width (default 80)")
    p.add_argument("--clients", metavar="FILE",
                   help="CLIENT LIST snapshots: names for addresses, the CLIENT LIST part and its findings")
    p.add_argument("--connections", metavar="FILE", help="connection counts (<epoch>,<clients> CSV)")
    add_maxclients_argument(p)
    p.add_argument("--show-values", action="store_true", help="show argument values (redacted by default)")
    add_filter_arguments(p)
    add_scheduler_argument(p)
    p.set_defaults(handler=_summary)

    p = sub.add_parser(
        "report",
        help="one offline HTML (or Markdown, JSON) report of a capture, for an incident",
        description="Analyse a capture and write one self-contained report: provenance, findings, traffic, "
        "commands, clients, key patterns, databases, gaps, coverage. HTML has inline CSS and SVG charts "
        "and makes no request when opened. Argument values are redacted unless --show-values. The report "
        "is deterministic (no generation time unless --timestamp).",
        epilog="example: python -m monitorlens report capture.txt.gz --clients clients.log -o incident.html",
    )
    p.add_argument("capture", help="capture file (.txt, .gz, .parquet), - for stdin, or a bundle folder from capture")
    p.add_argument("-o", "--output", help="file to write (default: <capture>-report.<format>); - for stdout")
    p.add_argument("--format", choices=("html", "md", "json"),
                   help="html, md or json (default: from the output's suffix, else html)")
    p.add_argument("--clients", metavar="FILE", help="CLIENT LIST snapshots: names for addresses, client sections")
    p.add_argument("--connections", metavar="FILE", help="connection counts (<epoch>,<clients> CSV)")
    p.add_argument("--baseline", metavar="CAPTURE",
                   help="a capture to compare with (a calm day, before a deploy): adds 'Compared with the baseline'")
    p.add_argument("--baseline-clients", metavar="FILE",
                   help="CLIENT LIST snapshots of the baseline: its clients matched by name, its CLIENT LIST "
                   "findings compared")
    add_maxclients_argument(p)
    p.add_argument("--title", help="the report's title (default: Redis MONITOR report: <capture file>)")
    p.add_argument("--show-values", action="store_true", help="show argument values (redacted by default)")
    p.add_argument("--timestamp", action="store_true",
                   help="write the generation time and time taken (off: same input, same bytes)")
    p.add_argument("--no-charts", action="store_true", help="leave the charts out of the HTML (faster)")
    add_filter_arguments(p)
    add_scheduler_argument(p)
    p.set_defaults(handler=_report)

    p = sub.add_parser(
        "plot",
        help="one chart of the report as PNG or SVG, for a ticket",
        description="Draw one chart of a capture's report (with title, time range and units) to a .png "
        "or .svg file. KIND: traffic, commands, clients, key-patterns, gaps; with --clients also "
        "connections, client-types, growth, growth-hosts, idle-age, output-buffers.",
        epilog="example: python -m monitorlens plot traffic capture.txt.gz -o traffic.png",
    )
    p.add_argument("kind", metavar="KIND", help="traffic, applications, commands, clients, key-patterns, gaps, or a client "
                   "chart (connections, client-types, growth, growth-hosts, idle-age, output-buffers)")
    p.add_argument("capture", help="capture file (.txt, .gz, .parquet), - for stdin, or a bundle folder from capture")
    p.add_argument("-o", "--output", required=True, help="image to write: .png or .svg; - for stdout")
    p.add_argument("--format", choices=("png", "svg"), help="png or svg (default: from the output's suffix; - svg)")
    p.add_argument("--clients", metavar="FILE", help="CLIENT LIST snapshots (names, client charts)")
    add_filter_arguments(p)
    p.set_defaults(handler=_plot)
    return parser


def _settle(ns: argparse.Namespace) -> None:
    """Once a command's modules are imported, when this process is the command (``main()``
    without arguments: it ends with the command): exempt the objects they made (pandas and
    pyarrow make hundreds of thousands) from the garbage collector's scans, which otherwise
    walk them again and again while the analysis allocates. A report of a 1M-line capture
    was 8% faster in A/B runs. Not when ``main([...])`` runs inside another program."""
    if ns.standalone:
        gc.freeze()


def filters_of(ns: argparse.Namespace) -> Any:
    """The :class:`~monitorlens.analysis.filters.Filters` that the flags of
    :func:`add_filter_arguments` ask for."""
    from .analysis.filters import Filters  # lazy: pandas, not for ingest

    return Filters.of(since=ns.since, until=ns.until, command=ns.command, client=ns.client, db=ns.db)


def default_output(capture: str, fmt: str) -> str:
    """``incident/monitor.txt.gz`` -> ``monitor-report.html`` (in the current directory).

    >>> default_output("incident/monitor.txt.gz", "md")
    'monitor-report.md'
    """
    if capture == "-":
        return f"report.{fmt}"
    name = Path(capture).name
    for suffix in (".gz", ".txt", ".log", ".parquet"):
        name = name.removesuffix(suffix)
    return f"{name}-report.{fmt}"


def _report(ns: argparse.Namespace) -> int:
    from .render.report import format_for  # lazy: each command loads only its own stages
    from .workflows import make_report  # lazy: as above

    _settle(ns)
    out = ns.output
    inputs = [ns.capture, ns.clients, ns.connections, ns.baseline, ns.baseline_clients]
    if out:
        refuse_inputs(out, inputs)  # first: before anything is read or said about the name
    fmt = ns.format or (format_for(out, default="") if out and out != "-" else "html")
    if not fmt and Path(out).suffix:  # report.pdf: HTML in a file that says PDF
        raise InputError(f"{out}: a report is HTML, Markdown or JSON; name the file .html, .md or .json, "
                         "or give --format html|md|json")
    fmt = fmt or "html"
    out = out or default_output(ns.capture, fmt)
    refuse_inputs(out, inputs)
    progress = _progress(ns.capture)
    try:
        report = make_report(
            ns.capture, clients=ns.clients, connections=ns.connections, maxclients=ns.maxclients, top=ns.top,
            show_values=ns.show_values, charts=fmt == "html" and not ns.no_charts, timestamp=ns.timestamp,
            filters=filters_of(ns), baseline=ns.baseline, baseline_clients=ns.baseline_clients, title=ns.title,
            progress=progress, scheduler=ns.scheduler, workers=ns.workers,
        )
    finally:
        progress.close()
    report.write(out, fmt, inputs=inputs)
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in ("critical", "warning", "info")}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    values = "values SHOWN" if ns.show_values else "values redacted"
    print(f"{out}: {fmt} report, {len(report.findings)} findings ({shown}), {values}",
          file=sys.stderr if ns.output == "-" else sys.stdout)
    return 0


def _plot(ns: argparse.Namespace) -> int:
    from .workflows import make_chart  # lazy: each command loads only its own stages

    _settle(ns)
    out = make_chart(ns.kind, ns.capture, ns.output, clients=ns.clients, top=ns.top, filters=filters_of(ns),
                     fmt=ns.format)
    print(f"{out}: {ns.kind} chart", file=sys.stderr if ns.output == "-" else sys.stdout)
    return 0


def _summary(ns: argparse.Namespace) -> int:
    from .workflows import summarize  # lazy: each command loads only its own stages

    _settle(ns)
    progress = _progress(ns.capture)
    try:
        text = summarize(ns.capture, clients=ns.clients, connections=ns.connections, maxclients=ns.maxclients,
                         top=ns.top, filters=filters_of(ns), as_json=ns.json, width=ns.width,
                         show_values=ns.show_values, progress=progress, scheduler=ns.scheduler,
                         workers=ns.workers)
    finally:
        progress.close()
    sys.stdout.write(text.rstrip("\n") + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code.

    ``main()`` without arguments is the process (``python -m monitorlens``, the
    ``monitorlens`` script): it reads ``sys.argv``, keeps to one malloc arena
    (:func:`_one_malloc_arena`), freezes the garbage collector after the imports and ends
    the process when the command is done (:func:`_leave`). ``main([...])`` from another
    program does none of these and returns.
    """
    _never_unencodable()
    parser = build_parser()
    ns = parser.parse_args(argv)
    ns.standalone = argv is None  # this process is the command (python -m monitorlens, the script)
    if ns.standalone:
        _one_malloc_arena()
        _system_arrow_pool()
    code = _run(ns)
    if ns.standalone:
        _leave(code)
    return code


def _run(ns: argparse.Namespace) -> int:
    handler: Handler = ns.handler
    try:
        return handler(ns)
    except MonitorlensError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _never_unencodable() -> None:
    """Let stdout and stderr show what their encoding cannot (a capture's UTF-8 on an ASCII
    or Latin-1 terminal, ``LC_ALL=C``) as ``\\xHH`` escapes instead of raising
    UnicodeEncodeError halfway through the output."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "encoding", "") or "").lower().replace("-", "") != "utf8":
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream already written to in another way: leave it
                pass


M_ARENA_MAX = -8  # glibc's malloc.h


def _one_malloc_arena() -> None:
    """Have every thread of this process allocate from one glibc malloc arena, before any
    thread starts. By default each parse worker gets an arena of its own, and the memory a
    worker frees stays in it: the analysis that follows (on other threads) can't reuse it
    and faults in fresh pages instead. 1M lines, A/B medians: the report 21% fewer page faults
    and 6% less CPU; the ingest 7% less CPU and 9% less time. Elsewhere than glibc (no
    ``mallopt``), nothing changes."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(M_ARENA_MAX, 1)


def _system_arrow_pool() -> None:
    """Have pyarrow allocate with malloc (one arena, above) instead of its bundled mimalloc,
    unless ARROW_DEFAULT_MEMORY_POOL says otherwise. mimalloc keeps what the parse and the
    block partials free, so the analysis' worker processes grew with the capture: summary
    of 34M lines peaked at 1,068-1,245 MB (PSS of the process and its workers), 841 MB with
    malloc; of 4.2M lines 831-879 MB against 649-663 MB, and no slower (5.0-5.5 s against
    4.7-4.9 s). Set before pyarrow is imported (this module does not import it)."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def _leave(code: int) -> None:
    """End this process now that the command is done: every file it wrote is closed (each
    command closes its own), so only the output streams are flushed. The interpreter's
    teardown of numpy, pyarrow and pandas would take 0.07 to 0.15 s more, and do nothing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and not stream.closed:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach the reader
            pass
    os._exit(code)
