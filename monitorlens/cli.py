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


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _ingest(ns: argparse.Namespace) -> int:
    from .store import ingest, progress_printer  # lazy: each command loads only its own stages

    source = ns.capture
    out = ns.output or _default_output(source)
    total = _plain_size(source)
    prov = ingest(source, out, kind=ns.kind, errors=ns.errors, progress=progress_printer(total))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    rows = "events" if prov.kind == "monitor" else f"{prov.kind} rows"
    print(
        f"{out}: {prov.events:,} {rows} from {prov.lines:,} lines"
        f" ({prov.rejected:,} rejected, {sum(prov.skipped.values()):,} skipped)"
        + (f", {prov.first_ts} .. {prov.last_ts}" if prov.first_ts else "")
    )
    for reason, count in prov.rejects_by_reason.items():
        print(f"  rejected {count:,} {reason}")
    return 0


def _plain_size(source: str) -> int | None:
    """Size of an uncompressed input file, for progress; None when unknown."""
    if source == "-" or str(source).endswith(".gz") or not os.path.isfile(source):
        return None
    return os.path.getsize(source)


def _default_output(source: str) -> str:
    if source == "-":
        raise InputError("reading stdin: name the output with -o FILE.parquet")
    name = Path(source).name
    for suffix in (".gz", ".txt", ".log"):
        name = name.removesuffix(suffix)
    return str(Path(source).with_name(name + ".parquet"))


def _sample(ns: argparse.Namespace) -> int:
    from .live import sample_clients  # lazy: each command loads only its own stages

    try:
        import redis
    except ImportError:
        raise InputError("the live helpers need redis-py: pip install 'monitorlens[live]'") from None
    client = redis.Redis.from_url(ns.url, socket_timeout=10)
    try:
        taken = sample_clients(
            client, ns.output, interval=ns.every, count=ns.count, connections_csv=ns.csv
        )
    except redis.RedisError as e:
        raise InputError(f"{ns.url}: {e}") from None
    print(f"{ns.output}: {taken} CLIENT LIST snapshots" + (f", counts in {ns.csv}" if ns.csv else ""))
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
        "CLIENT LIST snapshots, a timestamp,clients CSV or uniq -c counts to Parquet.",
        epilog="examples: python -m monitorlens ingest capture.txt.gz -o capture.parquet\n"
        "          python -m monitorlens ingest clients.log.gz -o clients.parquet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("capture", help="capture or log file (.txt, .gz), or - for a capture on stdin")
    p.add_argument("-o", "--output", help="Parquet file to write (default: beside the capture)")
    p.add_argument("--errors", choices=("skip", "raise"), default="skip",
                   help="skip: count and keep bad lines (default); raise: stop at the first")
    p.add_argument("--kind", choices=("monitor", "clients", "connections", "app-counts"),
                   help="what the file holds (default: detected from its first bytes)")
    p.set_defaults(handler=_ingest)

    p = sub.add_parser(
        "sample",
        help="save CLIENT LIST snapshots of a live server (read-only)",
        description="Append timestamped CLIENT LIST snapshots of a live server to a file, "
        "and optionally the timestamp,clients counts, every N seconds. Sends only CLIENT LIST.",
        epilog="example: python -m monitorlens sample redis://127.0.0.1:6379 --every 60 --count 30 "
        "-o clients.log --csv connections.csv",
    )
    p.add_argument("url", help="redis://[user:password@]host:port[/db] or unix:///path/redis.sock")
    p.add_argument("-o", "--output", required=True, help="snapshot file to append to")
    p.add_argument("--every", type=float, default=60.0, help="seconds between snapshots (default 60)")
    p.add_argument("--count", type=int, default=60, help="how many snapshots (default 60)")
    p.add_argument("--csv", help="also append <epoch>,<clients> rows to this file")
    p.set_defaults(handler=_sample)

    p = sub.add_parser(
        "summary",
        help="what made the load: commands, clients, key patterns, findings",
        description="Analyse a capture (text, .gz or Parquet from ingest) and print the overview, "
        "top commands, clients, key patterns and findings, or one JSON object with --json.",
        epilog="example: python -m monitorlens summary capture.txt.gz --since 2026-11-25T21:25:00Z --top 5",
    )
    p.add_argument("capture", help="capture file (.txt, .gz, .parquet) or - for stdin")
    p.add_argument("--json", action="store_true", help="print one JSON object (docs/summary-json.md)")
    p.add_argument("--width", type=int, default=80, help="text width (default 80)")
    p.add_argument("--clients", metavar="FILE",
                   help="CLIENT LIST snapshots: names for addresses, the CLIENT LIST part and its findings")
    p.add_argument("--connections", metavar="FILE", help="connection counts (<epoch>,<clients> CSV)")
    p.add_argument("--show-values", action="store_true", help="show argument values (redacted by default)")
    add_filter_arguments(p)
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
    p.add_argument("capture", help="capture file (.txt, .gz, .parquet) or - for stdin")
    p.add_argument("-o", "--output", help="file to write (default: <capture>-report.<format>); - for stdout")
    p.add_argument("--format", choices=("html", "md", "json"),
                   help="html, md or json (default: from the output's suffix, else html)")
    p.add_argument("--clients", metavar="FILE", help="CLIENT LIST snapshots: names for addresses, client sections")
    p.add_argument("--connections", metavar="FILE", help="connection counts (<epoch>,<clients> CSV)")
    p.add_argument("--baseline", metavar="CAPTURE",
                   help="a capture to compare with (a calm day, before a deploy): adds 'Compared with the baseline'")
    p.add_argument("--baseline-clients", metavar="FILE",
                   help="CLIENT LIST snapshots of the baseline, so its clients are matched by name")
    p.add_argument("--show-values", action="store_true", help="show argument values (redacted by default)")
    p.add_argument("--timestamp", action="store_true",
                   help="write the generation time and time taken (off: same input, same bytes)")
    p.add_argument("--no-charts", action="store_true", help="leave the charts out of the HTML (faster)")
    add_filter_arguments(p)
    p.set_defaults(handler=_report)

    p = sub.add_parser(
        "plot",
        help="one chart of the report as PNG or SVG, for a ticket",
        description="Draw one chart of a capture's report (with title, time range and units) to a .png "
        "or .svg file. KIND: traffic, commands, clients, key-patterns, gaps; with --clients also "
        "connections, client-types, growth, growth-hosts, idle-age, output-buffers.",
        epilog="example: python -m monitorlens plot traffic capture.txt.gz -o traffic.png",
    )
    p.add_argument("kind", metavar="KIND", help="traffic, commands, clients, key-patterns, gaps, or a client "
                   "chart (connections, client-types, growth, growth-hosts, idle-age, output-buffers)")
    p.add_argument("capture", help="capture file (.txt, .gz, .parquet) or - for stdin")
    p.add_argument("-o", "--output", required=True, help="image to write: .png or .svg")
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
    fmt = ns.format or (format_for(out) if out and out != "-" else "html")
    out = out or default_output(ns.capture, fmt)
    report = make_report(
        ns.capture, clients=ns.clients, connections=ns.connections, top=ns.top, show_values=ns.show_values,
        charts=fmt == "html" and not ns.no_charts, timestamp=ns.timestamp, filters=filters_of(ns),
        baseline=ns.baseline, baseline_clients=ns.baseline_clients,
    )
    if out == "-":
        sys.stdout.write(report.render(fmt))
    else:
        report.write(out, fmt)
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in ("critical", "warning", "info")}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    values = "values SHOWN" if ns.show_values else "values redacted"
    print(f"{out}: {fmt} report, {len(report.findings)} findings ({shown}), {values}",
          file=sys.stderr if ns.output == "-" else sys.stdout)
    return 0


def _plot(ns: argparse.Namespace) -> int:
    from .workflows import make_chart  # lazy: each command loads only its own stages

    _settle(ns)
    out = make_chart(ns.kind, ns.capture, ns.output, clients=ns.clients, top=ns.top, filters=filters_of(ns))
    print(f"{out}: {ns.kind} chart")
    return 0


def _summary(ns: argparse.Namespace) -> int:
    from .workflows import summarize  # lazy: each command loads only its own stages

    _settle(ns)
    text = summarize(ns.capture, clients=ns.clients, connections=ns.connections, top=ns.top,
                     filters=filters_of(ns), as_json=ns.json, width=ns.width, show_values=ns.show_values)
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
    parser = build_parser()
    ns = parser.parse_args(argv)
    ns.standalone = argv is None  # this process is the command (python -m monitorlens, the script)
    if ns.standalone:
        _one_malloc_arena()
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
