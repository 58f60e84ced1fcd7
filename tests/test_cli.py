"""The command line: ingest and sample, errors as `Error: ...` with exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import monitorlens
from monitorlens.cli import main
from monitorlens.testing import RedisServer

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


def test_ingest_writes_parquet_with_provenance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.parquet"
    assert main(["ingest", str(SAMPLES / "grammar" / "monitor.txt"), "-o", str(out)]) == 0
    assert "94 events from 95 lines" in capsys.readouterr().out
    df = monitorlens.read_parquet(out)
    direct = monitorlens.read_monitor(SAMPLES / "grammar" / "monitor.txt")
    assert df["args"].tolist() == direct["args"].tolist()
    assert df.command.tolist() == direct.command.tolist()
    assert str(df.command.dtype) == "category"
    prov = monitorlens.provenance(df)
    assert prov.events == 94 and prov.skipped == {"cli-ok": 1} and prov.first_ts is not None


def test_ingest_keeps_rejects_in_parquet(tmp_path: Path) -> None:
    src = tmp_path / "c.txt"
    src.write_bytes(b'1700000000.000001 [0 127.0.0.1:1] "GET" "k"\n\xff\xfe garbage\n1700000000.000002 [0 127.0.0.1:1] "SET" "k')
    out = tmp_path / "c.parquet"
    assert main(["ingest", str(src), "-o", str(out)]) == 0
    df = monitorlens.load(out)
    assert len(df) == 1
    rej = monitorlens.rejects(df)
    assert rej[["line", "reason"]].values.tolist() == [[2, "binary-garbage"], [3, "truncated"]]


def test_only_the_command_process_freezes_the_garbage_collector(tmp_path: Path) -> None:
    import gc

    capture = str(SAMPLES / "grammar" / "monitor.txt")
    assert main(["summary", capture]) == 0 and gc.get_freeze_count() == 0  # a library call: untouched
    # main() ends the process when it is the command: look at the collector on the way out.
    script = ("import gc, os, sys; from monitorlens.cli import main\n"
              "leave = os._exit\n"
              "os._exit = lambda rc: (print(rc, gc.get_freeze_count() > 0, file=sys.stderr, flush=True), leave(rc))\n"
              "sys.argv = ['monitorlens', 'summary', sys.argv[1]]; main()\n")
    run = subprocess.run([sys.executable, "-c", script, capture], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert run.stderr.split()[-2:] == ["0", "True"], run.stderr


def test_the_command_process_ends_with_its_output_flushed_and_its_exit_code(tmp_path: Path) -> None:
    # The process skips the interpreter's teardown: nothing written may be lost on the way.
    capture = str(SAMPLES / "grammar" / "monitor.txt")
    assert main(["summary", capture]) == 0  # a library call returns
    out = tmp_path / "c.parquet"
    run = subprocess.run([sys.executable, "-m", "monitorlens", "summary", capture, "--json"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0 and json.loads(run.stdout)["events"] > 0, run.stderr
    run = subprocess.run([sys.executable, "-m", "monitorlens", "ingest", capture, "-o", str(out)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0 and "events" in run.stdout and len(monitorlens.load(out)) > 0
    run = subprocess.run([sys.executable, "-m", "monitorlens", "summary", str(tmp_path / "missing.txt")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 1 and "no such file" in run.stderr


def test_ingest_never_imports_pandas_or_the_compute_wrappers(tmp_path: Path) -> None:
    # pandas takes about half a second to import: more than parsing a small capture;
    # pyarrow.compute 60 ms (monitorlens.read.arrays calls the kernels without it).
    # The grammar sample has lines of the reference parser's path too.
    script = (
        "import sys; from monitorlens.cli import main\n"
        "for name in sys.argv[1:]: main(['ingest', name, '-o', name + '.parquet'])\n"
        "assert 'pandas' not in sys.modules, 'the ingest path imported pandas'\n"
        "assert 'pyarrow.compute' not in sys.modules, 'the ingest path imported pyarrow.compute'\n"
    )
    captures = []
    for sample in ("grammar/monitor.txt", "incident/monitor.txt.gz"):
        captures.append(tmp_path / sample.replace("/", "-"))
        captures[-1].write_bytes((SAMPLES / sample).read_bytes())
    cmd = [sys.executable, "-c", script, *map(str, captures)]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert all(Path(str(c) + ".parquet").stat().st_size > 0 for c in captures)


def test_errors_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "x.parquet")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "no such file" in err and "Traceback" not in err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"hello\n")
    assert main(["ingest", str(bad), "--errors", "raise", "-o", str(tmp_path / "y.parquet")]) == 1
    assert ":1: unrecognized" in capsys.readouterr().err


def test_sample_takes_snapshots_of_a_real_server(tmp_path: Path) -> None:
    out, csv = tmp_path / "clients.log", tmp_path / "connections.csv"
    with RedisServer() as server:
        url = f"redis://127.0.0.1:{server.port}"
        assert main(["sample", url, "--every", "0.05", "--count", "3", "-o", str(out), "--csv", str(csv)]) == 0
    assert out.read_text().count("\n# ") + out.read_text().startswith("# ") == 3
    assert len(csv.read_text().splitlines()) == 3
    assert main(["sample", "redis://127.0.0.1:1", "--count", "1", "-o", str(tmp_path / "x")]) == 1


@pytest.mark.parametrize(
    "name, kind",
    [
        ("incident/clients.log.gz", "clients"),
        ("incident/connections.csv", "connections"),
        ("incident/connections_by_app_1795641963.txt", "app-counts"),
    ],
)
def test_ingest_detects_client_logs(tmp_path: Path, name: str, kind: str) -> None:
    out = tmp_path / "x.parquet"
    assert main(["ingest", str(SAMPLES / name), "-o", str(out)]) == 0
    df = monitorlens.read_parquet(out)
    assert monitorlens.provenance(df).kind == kind
    assert len(df) == monitorlens.provenance(df).events > 0


def test_ingest_of_an_unknown_file_reports_every_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.parquet"
    assert main(["ingest", str(SAMPLES / "incident" / "facts.json"), "-o", str(out)]) == 0
    lines = (SAMPLES / "incident" / "facts.json").read_bytes().count(b"\n")
    assert f"0 events from {lines:,} lines ({lines:,} rejected" in capsys.readouterr().out
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert main(["ingest", str(empty), "-o", str(out)]) == 0
    assert "0 events from 0 lines" in capsys.readouterr().out


MALLOC_ARENAS = """
import ctypes, os, re, sys
from monitorlens.cli import main

def arenas():  # glibc's own account of its arenas: one <heap> each
    libc = ctypes.CDLL(None)
    libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
    fp = libc.fopen(sys.argv[2].encode(), b"w"); libc.malloc_info(0, fp); libc.fclose(fp)
    return len(re.findall(r'<heap nr="', open(sys.argv[2]).read()))

args = ["ingest", sys.argv[1], "-o", sys.argv[1] + ".parquet"]
if sys.argv[3] == "library":
    main(args)
    print(arenas())
else:
    leave = os._exit
    os._exit = lambda rc: (print(arenas(), flush=True), leave(rc))
    sys.argv[1:] = args
    main()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_the_command_process_allocates_from_one_malloc_arena(tmp_path: Path) -> None:
    # Parse workers' freed memory stays reusable by the threads that run after them.
    capture = tmp_path / "c.txt.gz"
    capture.write_bytes((SAMPLES / "incident" / "monitor.txt.gz").read_bytes())
    counts = {}
    for mode in ("library", "process"):
        run = subprocess.run([sys.executable, "-c", MALLOC_ARENAS, str(capture), str(tmp_path / f"{mode}.xml"), mode],
                             capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert run.returncode == 0, run.stderr
        counts[mode] = int(run.stdout.split()[-1])
    assert counts["library"] >= 2 and counts["process"] == 1, counts
