"""The notebooks run headless on the shipped samples, and say what the samples show.

Each notebook is executed once (module-scoped fixture) with nbclient and the
python3 kernel, from notebooks/ as a user would, with its output files sent to a
temp dir; any error in a cell fails the test. The executed copies are written to
that temp dir (never back into the repo) so a failure can be inspected.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT_S = 120


def execute(path: Path, cwd: Path, out: Path) -> nbformat.NotebookNode:
    """Run every cell of a notebook; its files go to ``out``. Raises on the first cell error."""
    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("MONITORLENS_OUT")
    os.environ["MONITORLENS_OUT"] = str(out)
    try:
        client = nbclient.NotebookClient(
            nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
        )
        client.execute()
    finally:
        if old is None:
            os.environ.pop("MONITORLENS_OUT", None)
        else:
            os.environ["MONITORLENS_OUT"] = old
        nbformat.write(nb, out / path.name)
    return nb


def texts(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook showed as text: printed output and the plain/HTML form of results."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output["text"])
            for mime in ("text/plain", "text/html"):
                if mime in output.get("data", {}):
                    parts.append(output["data"][mime])
    return "\n".join(parts)


def images(nb: nbformat.NotebookNode) -> int:
    """Charts shown: matplotlib figures (PNG) and Plots (SVG, as the report draws them)."""
    return sum(bool({"image/png", "image/svg+xml"} & set(o.get("data", {})))
               for c in nb.cells for o in c.get("outputs", []))


def printed(nb: nbformat.NotebookNode) -> str:
    return "".join(o["text"] for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    """Execute a notebook once per module; returns (executed notebook, its output dir, seconds)."""
    done: dict[str, tuple[nbformat.NotebookNode, Path, float]] = {}

    def _run(name: str) -> tuple[nbformat.NotebookNode, Path, float]:
        if name not in done:
            out = tmp_path_factory.mktemp(name.removesuffix(".ipynb"))
            start = time.monotonic()
            nb = execute(NOTEBOOKS / name, NOTEBOOKS, out)
            done[name] = (nb, out, time.monotonic() - start)
        return done[name]

    return _run


def test_notebooks_are_clean_and_built_from_the_script() -> None:
    """Committed notebooks carry no outputs and match scripts/build_notebooks.py."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code, path.name
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    assert builder.main(["--check"]) == 0, "notebooks/ is out of date: run python scripts/build_notebooks.py"


def test_notebooks_use_only_the_public_api() -> None:
    """Notebooks are examples to copy: no ``monitorlens.<module>`` imports, no private names."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert "from monitorlens" not in source and "import monitorlens." not in source, path.name
        assert not re.search(r"\bml\._[a-z]", source), path.name


def test_postmortem_notebook(run) -> None:
    nb, out_dir, seconds = run("01-postmortem.ipynb")
    out = printed(nb)
    # sample_captures/README.md: legacy-reports runs KEYS; admin-dashboard reads whole
    # collections with HGETALL, SMEMBERS, LRANGE 0 -1 and SORT without LIMIT.
    assert re.search(r"^\[critical\] KEYS.*legacy-reports", out, re.M)
    for command in ("HGETALL", "SMEMBERS", "LRANGE", "SORT"):
        assert re.search(rf"^\[warning\] {command} .*admin-dashboard", out, re.M), command
    # Names come from CLIENT LIST: one application row for the leak's many connections.
    leak = re.search(r"^leaky-app\s+(\d+)\s+(\d+)\s*$", texts(nb), re.M)
    assert leak and int(leak.group(1)) >= 20 and int(leak.group(2)) == 3 * int(leak.group(1))
    shown = texts(nb)
    for code in ("monitor-clients", "output-buffers", "connection-leak"):
        assert code in shown
    # The files for the ticket: a PNG and the report, in the output dir, not in the repo.
    png = (out_dir / "traffic.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    html = (out_dir / "incident-report.html").read_text(encoding="utf-8")
    assert "legacy-reports" in html and "KEYS" in html
    assert (out_dir / "incident-report.md").stat().st_size > 0
    # The report shown inline is the report's own HTML (its header), not a DataFrame.
    inline = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", [])
              if '<header id="top">' in o.get("data", {}).get("text/html", "")]
    assert inline and "legacy-reports" in inline[-1]
    assert images(nb) >= 4
    assert seconds < 90


def test_compare_notebook(run) -> None:
    nb, _, seconds = run("03-compare.ipynb")
    out = printed(nb)
    # The calm capture has no KEYS, no leak, no dashboard (sample_captures/README.md): all new.
    new_clients = next(line for line in out.splitlines() if line.startswith("clients new:"))
    for name in ("leaky-app", "legacy-reports", "admin-dashboard", "news-publisher"):
        assert name in new_clients
    assert "web-1" not in new_clients
    new_commands = next(line for line in out.splitlines() if line.startswith("commands new:"))
    assert "KEYS" in new_commands and "PUBLISH" in new_commands
    assert "GET" not in new_commands.split(": ", 1)[1].split(", ")
    assert "keys" in next(line for line in out.splitlines() if line.startswith("new findings:")).split(": ")[1].split(", ")
    assert images(nb) >= 1
    assert seconds < 60


LEAKING = re.compile(r"leaking: (\S+): (\d+) -> (\d+) connections, \+([\d.]+)/min; maxclients \((\d+)\) in (\d+) min")


def test_connection_leak_notebook(run) -> None:
    nb, _, seconds = run("02-connection-leak.ipynb")
    out = printed(nb)
    leaks = LEAKING.findall(out)
    # sample_captures/README.md: leaky-app opens one connection a second and closes none;
    # every other client keeps one or two connections.
    assert [leak[0] for leak in leaks] == ["leaky-app"]
    _, first, last, slope, maxclients, minutes = leaks[0]
    assert int(last) - int(first) >= 60
    assert 50 <= float(slope) <= 70
    # The time left is what stays below the assumed maxclients (10000; under 100 clients
    # are connected) at that slope.
    assert int(maxclients) == 10_000
    assert 9_900 / float(slope) - 1 <= int(minutes) <= 10_000 / float(slope) + 1
    # The plan closes the leaked connections and the forgotten MONITOR (client id 7).
    assert "CLIENT KILL ID 7\n" in out
    assert out.count("leaked connection of leaky-app") >= 5
    assert "connection-leak" in texts(nb)
    assert images(nb) >= 2
    assert seconds < 60


def test_setup_cell_finds_the_samples_from_the_repo_root(tmp_path: Path) -> None:
    """Run from the repo root, the setup cell resolves the same sample folder."""
    nb = nbformat.read(NOTEBOOKS / "03-compare.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code" and "find_samples" in c.source)
    probe = nbformat.v4.new_code_cell("print('SAMPLES=' + str(SAMPLES.resolve()))")
    nb.cells = [setup, probe]
    nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    assert f"SAMPLES={(ROOT / 'sample_captures').resolve()}" in printed(nb)
