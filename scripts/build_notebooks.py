"""Write notebooks/*.ipynb from the cells below: clean (no outputs), deterministic cell ids.

The notebooks are kept here as Python so a change reviews as a diff of code and
prose, and the setup cell is written once for all of them. The tests execute the
generated notebooks and check that they match this script.

Usage::

    python scripts/build_notebooks.py           # rewrite notebooks/*.ipynb
    python scripts/build_notebooks.py --check   # exit 1 if a notebook differs from this script
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"

# Every notebook starts with this cell: it finds the shipped samples from the repo root,
# from notebooks/ or anywhere below the repo, and imports the repo's package when
# monitorlens is not installed (a plain checkout).
SETUP = '''
%matplotlib inline
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd


def find_samples(start: Path = Path.cwd()) -> Path:
    """The sample_captures folder: $MONITORLENS_SAMPLES, else the first one from here upwards."""
    if os.environ.get("MONITORLENS_SAMPLES"):
        return Path(os.environ["MONITORLENS_SAMPLES"])
    for folder in (start, *start.parents):
        if (folder / "sample_captures").is_dir():
            return folder / "sample_captures"
    raise FileNotFoundError("no sample_captures folder here or above: run from the monitorlens repo "
                            "or set MONITORLENS_SAMPLES")


SAMPLES = find_samples()
try:
    import monitorlens as ml
except ModuleNotFoundError:  # a checkout without `pip install -e .`: use the repo's package
    sys.path.insert(0, str(SAMPLES.parent))
    import monitorlens as ml

pd.set_option("display.max_columns", 20)
pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 120)
print(f"monitorlens {ml.__version__}; samples in {SAMPLES}")
'''

# Files the notebooks write go here, never into the repo.
OUTPUT_DIR = '''
OUT = Path(os.environ.get("MONITORLENS_OUT") or tempfile.mkdtemp(prefix="monitorlens-"))
OUT.mkdir(parents=True, exist_ok=True)
print(f"files for the ticket go to {OUT}")
'''


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(dedent(text).strip())


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(dedent(text).strip())


# ------------------------------------------------------------------------- 03-compare

COMPARE = [
    md("""
    # Before and after: what changed between two captures

    Redis got busier after a deploy. Put a capture from a calm day next to one from the
    incident: `ml.compare` lines up commands, clients, key patterns and findings **by rate
    per second**, so captures of different lengths compare fairly. Here *before* is
    `sample_captures/calm` (normal web traffic) and *after* is `sample_captures/incident`.
    """),
    md("**Setup.** Find the shipped samples (this works from the repo root or from `notebooks/`) and import monitorlens."),
    code(SETUP),
    md("""
    **1. Load both captures.** `ml.load` reads a MONITOR capture (plain text, gzip or Parquet)
    into one row per command; check that nothing was rejected before trusting the numbers.
    """),
    code("""
    calm = ml.load(SAMPLES / "calm" / "monitor.txt.gz")
    incident = ml.load(SAMPLES / "incident" / "monitor.txt.gz")
    pd.DataFrame({"calm": ml.provenance(calm).to_dict(), "incident": ml.provenance(incident).to_dict()}).loc[
        ["lines", "events", "rejected", "first_ts", "last_ts"]
    ]
    """),
    md("""
    **2. Put names on the addresses.** MONITOR shows only `ip:port`, and ports change with every
    connection; `ml.attach_names` takes each client's name from the CLIENT LIST snapshots of the
    same minutes, so the comparison matches clients by who they are.
    """),
    code("""
    calm = ml.attach_names(calm, ml.read_client_list(SAMPLES / "calm" / "clients.log.gz"))
    incident = ml.attach_names(incident, ml.read_client_list(SAMPLES / "incident" / "clients.log.gz"))
    incident["name"].value_counts(dropna=False).rename("events").to_frame()
    """),
    md("""
    **3. Compare.** `ml.compare(before, after)` analyses both captures; every table has the counts,
    the rates per second and `change`: `new`, `gone`, `up`, `down` (more than 10%) or `same`.
    """),
    code("""
    c = ml.compare(calm, incident)
    rows = ["events", "duration_s", "rate_per_s", "clients", "commands", "first", "last"]
    pd.DataFrame({"before (calm)": c.before.overview.to_dict(), "after (incident)": c.after.overview.to_dict()}).loc[rows]
    """),
    md("""
    **4. Commands.** Rows are sorted by how far the rate moved; the `new` commands are what the
    incident added to the usual traffic. Rates count calls, not their cost: a few KEYS calls over
    26,000 keys weigh more than thousands of GETs, so read the findings (step 7) too.
    """),
    code("c.commands"),
    md("**The same as a chart:** calls per second of the commands that moved most, calm against incident."),
    code("""
    moved = c.commands.head(12).set_index("command")[["before_rate", "after_rate"]].iloc[::-1]
    ax = moved.plot.barh(figsize=(7, 4.5), color=["#9ab", "#c33"])
    ax.set_xlabel("calls per second")
    ax.set_title("Commands: calm (before) vs incident (after)")
    ax.legend(["calm", "incident"]);
    """),
    md("""
    **5. Clients.** Matched by name (or host when unnamed), with the lines their scripts ran credited
    to them: if the web clients stayed the same, the load came from the new ones.
    """),
    code("c.clients"),
    md("**6. Key patterns.** Keys folded into patterns (`user:{int}:profile`): the new patterns are the keys the new traffic touched."),
    code('c.key_patterns[c.key_patterns["change"] != "same"]'),
    md("""
    **7. Findings.** `new` findings are the incident's suspects; `still` ones were there on the calm
    day too, so they did not cause it; `resolved` ones went away.
    """),
    code("c.findings"),
    md("""
    **8. The short version, for the ticket.** What is new, gone, up or down, in one list;
    `c.to_dict()` is the same as JSON, and `python -m monitorlens report CAPTURE --baseline CALM`
    puts these tables in the report.
    """),
    code("""
    tables = {"commands": (c.commands, "command"), "clients": (c.clients, "who"), "key patterns": (c.key_patterns, "pattern")}
    for what, (table, key) in tables.items():
        for change in ("new", "gone", "up", "down"):
            names = table.loc[table["change"] == change, key].tolist()
            if names:
                print(f"{what} {change}: {', '.join(names)}")
    new = c.findings[c.findings["status"] == "new"]
    print(f"new findings: {', '.join(sorted(set(new['code'])))}")
    """),
]

# -------------------------------------------------------------------- 01-postmortem

POSTMORTEM = [
    md("""
    # Post-mortem of a Redis incident: from a MONITOR capture to the findings

    Redis was slow or saturated, and someone ran `redis-cli MONITOR > monitor.txt` during it.
    This notebook goes from that capture to what made the load: traffic over time, commands,
    clients by name, key patterns, the dangerous and O(N) commands, then a chart and the HTML
    report for the ticket. It runs on `sample_captures/incident` (a real recording of 30 s of
    web traffic plus a legacy KEYS job, a dashboard doing full reads, a slow subscriber, a
    connection leak and a forgotten MONITOR); point `CAPTURE` and `SNAPSHOTS` at your files.
    """),
    md("**Setup.** Find the shipped samples (this works from the repo root or from `notebooks/`), import monitorlens, and pick a folder for the files for the ticket."),
    code(SETUP + OUTPUT_DIR),
    code("""
    CAPTURE = SAMPLES / "incident" / "monitor.txt.gz"     # redis-cli MONITOR output, plain or gzip
    SNAPSHOTS = SAMPLES / "incident" / "clients.log.gz"   # CLIENT LIST snapshots of the same minutes
    """),
    md("""
    **1. Load the capture.** `ml.load` reads the capture into one row per command (time, db,
    client, command, keys, arguments); lines it cannot parse are counted and kept, never dropped
    silently, so check `rejected` before trusting the numbers.
    """),
    code("""
    events = ml.load(CAPTURE)
    prov = ml.provenance(events)
    print(f"{prov.events:,} events from {prov.lines:,} lines; rejected {prov.rejected}; {prov.first_ts} .. {prov.last_ts}")
    events[["ts", "db", "client", "command", "keys"]].head()
    """),
    md("""
    *A big capture?* Convert it once with `python -m monitorlens ingest monitor.txt.gz` (or
    `ml.convert`) and `ml.load` the `.parquet`: seconds instead of minutes, on every re-run.
    """),
    md("""
    **2. Put names on the clients.** MONITOR shows only `ip:port`; `ml.attach_names` takes each
    connection's name from the CLIENT LIST snapshots (and from `CLIENT SETNAME` in the capture).
    """),
    code("""
    snapshots = ml.read_client_list(SNAPSHOTS)
    events = ml.attach_names(events, snapshots)
    events["name"].value_counts(dropna=False).rename("events").to_frame()
    """),
    md("""
    **3. Analyse, and look at the overview.** `ml.analyze` computes every breakdown and finding
    once, the CLIENT LIST part included (`a.clientlist`); the overview says how long the capture
    is, how busy, and how many clients and commands.
    """),
    code("""
    a = ml.analyze(events, snapshots=snapshots)
    pd.Series(a.overview.to_dict()).to_frame("capture")
    """),
    md("""
    **4. Traffic over time.** Commands per second, by command: a step or a spike says when it
    started; `bursts` lists the seconds far above the usual rate and who sent them (none when
    the load was steady rather than spiky).
    """),
    code('ml.plot_of("traffic", a)'),
    code("a.bursts"),
    md("""
    **5. Commands.** Which commands made the traffic, with their share and rate; remember that
    MONITOR counts calls, not their cost (one KEYS can cost more than a million GETs).
    """),
    code('ml.plot_of("commands", a)'),
    code("a.commands.head(10)"),
    md("""
    **6. Clients, with names.** Who sent the commands (the lines their Lua scripts ran are
    credited to them); then the same by application, since one leaking app has many connections.
    """),
    code('ml.plot_of("clients", a)'),
    code("""
    a.clients[["client", "name", "count", "share", "rate_per_s", "command_mix"]].head(10)
    """),
    code("""
    by_app = a.clients.groupby(a.clients["name"].fillna("(unnamed)")).agg(
        connections=("client", "size"), events=("count", "sum"))
    by_app.sort_values("events", ascending=False)
    """),
    md("""
    **7. Key patterns.** Keys folded into patterns (`session:{uuid}`, `user:{int}:profile`) show
    which part of the data is hot; hot keys are the single busiest keys.
    """),
    code('ml.plot_of("key-patterns", a)'),
    code('a.key_patterns[["pattern", "count", "share", "keys", "read_share", "command_mix"]].head(10)'),
    code("a.hot_keys"),
    md("""
    **8. Dangerous and O(N) commands.** The findings, most severe first: KEYS and flushes, reads
    of whole collections (HGETALL, SMEMBERS, LRANGE 0 -1, SORT without LIMIT), blocking forever,
    each with who ran it, how often, an example line and what to do.
    """),
    code("""
    pd.DataFrame([{"severity": f.severity, "code": f.code, "title": f.title} for f in a.findings])
    """),
    code("""
    for f in a.findings:
        if f.severity != "info":
            print(f"[{f.severity}] {f.title}\\n  what to do: {f.action}")
            for sample in f.evidence.samples[:1]:
                print(f"  line {sample.line}: {sample.text}")
    """),
    md("""
    **The exact calls.** `ml.filter_events` selects the events of a command, client, time range
    or db (the CLI's filters); here every KEYS call, with the client's name.
    """),
    code("""
    ml.filter_events(events, command="KEYS")[["ts", "client", "name", "command", "args"]]
    """),
    md("""
    **9. What MONITOR cannot see.** CLIENT LIST adds what is not a command: forgotten MONITORs
    (each one slows the server), a subscriber whose output buffer grows, a connection leak.
    """),
    code("""
    pd.DataFrame([{"severity": f.severity, "code": f.code, "title": f.title} for f in a.clientlist.findings])
    """),
    md("""
    **10. A chart for the ticket.** Every chart above is the report's own (a `Plot`, drawn as
    SVG); `ml.chart` draws the same with matplotlib and `ml.figure_bytes` saves it as PNG to
    attach to the ticket (`ml.to_svg` gives the SVG).
    """),
    code("""
    png = OUT / "traffic.png"
    png.write_bytes(ml.figure_bytes(ml.chart("traffic", a), "png"))
    print(f"wrote {png} ({png.stat().st_size:,} bytes)")
    """),
    md("""
    **11. The HTML report.** One offline file (inline CSS and charts, argument values redacted)
    with the same findings, tables and charts, the CLIENT LIST ones included: attach it, or
    paste the Markdown into the ticket.
    """),
    code("""
    report = ml.build_report(a)
    html = report.write(OUT / "incident-report.html")
    md_file = report.write(OUT / "incident-report.md")
    print(f"wrote {html} ({html.stat().st_size:,} bytes) and {md_file}")
    print(md_file.read_text()[:1500])
    """),
    md("**The report inline.** A `Report` shows itself in the notebook: the same HTML as the file."),
    code("report"),
]


# ---------------------------------------------------------------- 02-connection-leak

LEAK = [
    md("""
    # Connection leak: which application, how fast, how long until `maxclients`

    The number of connections keeps rising. Start from whatever you have: the connection-count
    CSV (a cron job's `date +%s,$(redis-cli CLIENT LIST | wc -l)`), CLIENT LIST snapshots taken
    every few seconds, or a `uniq -c` of client names. Each step below narrows it down; the end
    is a list of `CLIENT KILL` lines to buy time while the application gets fixed.
    """),
    md("**Setup.** Find the shipped samples (this works from the repo root or from `notebooks/`) and import monitorlens."),
    code(SETUP),
    md("""
    **Assumption: `maxclients`.** Redis refuses new connections beyond `maxclients`: 10000 by
    default, lower when the process may open fewer files. We assume the default here; put your
    server's `CONFIG GET maxclients` instead.
    """),
    code("""
    MAXCLIENTS = 10_000  # Redis' default; replace with your server's CONFIG GET maxclients
    """),
    md("""
    **1. The connection count.** `ml.read_connection_counts` reads the `<time>,<clients>` CSV
    (a header, blank lines and bad rows are counted and skipped, never silently).
    """),
    code("""
    connections = ml.read_connection_counts(SAMPLES / "incident" / "connections.csv")
    print(f"{len(connections)} samples from {connections.ts.min()} to {connections.ts.max()}; "
          f"rejected: {len(ml.rejects(connections))}")
    connections.tail()
    """),
    md("""
    **2. Is it a leak, and how long do we have?** `ml.count_trend` fits a Theil–Sen line (the
    median slope between every pair of samples, so a few odd samples cannot drag it);
    `steadiness` near 1 means the count only goes up, and `minutes_to_maxclients` is the time
    left at this slope.
    """),
    code("""
    trend = ml.count_trend(connections, maxclients=MAXCLIENTS)
    trend[["snapshots", "first_clients", "last_clients", "slope_per_min", "steadiness", "r2",
           "minutes_to_maxclients", "leaking"]]
    """),
    md("""
    **The same as a chart:** the counts and their fitted line (dashed), with the slope in clients
    per minute. Charts draw an analysis: `ml.analyze_clientlist` is the CLIENT LIST part of
    `ml.analyze` (the same counts, trends and findings the report shows).
    """),
    code("""
    import matplotlib.pyplot as plt

    counted = ml.analyze_clientlist(connections=connections, maxclients=MAXCLIENTS)
    fig, ax = plt.subplots(figsize=(10, 4))
    ml.plot_connection_growth(ax, counted, by=None);
    """),
    md("""
    **3. Who holds the connections.** The CLIENT LIST snapshots name every connection;
    `ml.client_counts` counts them per name in each snapshot (an absent name counts 0).
    """),
    code("""
    snapshots = ml.read_client_list(SAMPLES / "incident" / "clients.log.gz")
    print(f"{snapshots.snapshot.nunique()} snapshots, {snapshots.id.nunique()} distinct connections")
    clientlist = ml.analyze_clientlist(snapshots, connections, maxclients=MAXCLIENTS)
    ml.chart_clientlist("connections", clientlist)
    """),
    md("""
    **4. The leaking application.** `ml.connection_trends` fits the same line per name: the rows
    marked `leaking` grow steadily and far enough to be a leak, not noise.
    """),
    code('ml.chart_clientlist("growth", clientlist)'),
    code("""
    trends = ml.connection_trends(snapshots, "name", maxclients=MAXCLIENTS)
    leaking = trends[trends["leaking"]]
    for row in leaking.itertuples(index=False):
        print(f"leaking: {row.name}: {row.first_clients} -> {row.last_clients} connections, "
              f"+{row.slope_per_min:.1f}/min; maxclients ({MAXCLIENTS}) in {row.minutes_to_maxclients:.0f} min")
    trends[["name", "first_clients", "last_clients", "slope_per_min", "steadiness", "minutes_to_maxclients",
            "leaking"]].head(5)
    """),
    md("""
    **5. Without snapshots: one `uniq -c` of names.** A single
    `CLIENT LIST | grep -o 'name=[^ ]*' | sort | uniq -c` shows who holds the most connections
    right now (who is big, not who grows); `ml.read_app_counts` reads it.
    """),
    code("""
    apps = ml.read_app_counts(SAMPLES / "incident" / "connections_by_app_1795641963.txt")
    apps.sort_values("clients", ascending=False)[["value", "clients"]].head(5)
    """),
    md("""
    **6. Look at the leaked connections.** In the last snapshot, `age` about equal to `idle` means
    used once right after connecting and never again; `host` says which machines to look at.
    """),
    code("""
    latest = snapshots[snapshots["snapshot"] == snapshots["snapshot"].max()]
    leaked = latest[latest["name"].isin(leaking["name"])]
    print(leaked.groupby(["name", "host"]).size().rename("connections").to_string())
    leaked[["id", "addr", "name", "age", "idle", "cmd", "lib_name"]].sort_values("age", ascending=False).head(10)
    """),
    md("""
    **7. Everything CLIENT LIST shows.** `ml.find_in_clientlist` checks the snapshots for leaks,
    forgotten MONITORs, full output buffers, idle and blocked clients; most severe first.
    """),
    code("""
    findings = ml.find_in_clientlist(snapshots, maxclients=MAXCLIENTS)
    pd.DataFrame([{"severity": f.severity, "code": f.code, "title": f.title} for f in findings])
    """),
    code("""
    leak = next(f for f in findings if f.code == "connection-leak")
    print(leak.explanation, "", "What to do: " + leak.action, sep="\\n")
    """),
    md("""
    **8. The remediation plan.** `ml.remediation_plan` lists one `CLIENT KILL ID` per connection
    the findings propose to close (leaked and idle, forgotten MONITORs), never a replication link.
    Only leaked connections idle over a minute are proposed (`leak_kill_idle_seconds`; in a leak
    of hours that is nearly all of them). Nothing here talks to the server: read the plan, then
    paste it into `redis-cli`. Killing buys time; the fix is in the leaking application (a pool
    created per request, a missing `close()`).
    """),
    code("""
    plan = ml.remediation_plan(snapshots, findings)
    print(ml.plan_text(plan))
    plan.groupby("finding").size().rename("connections to close").to_frame()
    """),
]

NOTEBOOKS: dict[str, list[nbformat.NotebookNode]] = {
    "01-postmortem.ipynb": POSTMORTEM,
    "02-connection-leak.ipynb": LEAK,
    "03-compare.ipynb": COMPARE,
}


def build(name: str, cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """A clean notebook: python3 kernel, cell ids from the file name (stable across builds)."""
    stem = name.removesuffix(".ipynb")
    nb = new_notebook(
        cells=[cell.copy() for cell in cells],
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{stem}-{i:02d}"
    nbformat.validate(nb)
    return nb


def text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the notebooks are up to date")
    ns = parser.parse_args(argv)
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = NOTEBOOKS_DIR / name
        wanted = text(build(name, cells))
        if path.exists() and path.read_text(encoding="utf-8") == wanted:
            continue
        stale.append(name)
        if not ns.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted, encoding="utf-8")
    if ns.check and stale:
        print(f"out of date (run python scripts/build_notebooks.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
