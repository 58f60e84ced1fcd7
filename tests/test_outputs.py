"""Outputs: never an input, written whole or not at all, in place for what is no regular file, '-' is stdout."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import monitorlens
from monitorlens.cli import main
from monitorlens.errors import OutputError
from monitorlens.outputs import output_file, refuse_inputs

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
GRAMMAR = SAMPLES / "grammar" / "monitor.txt"
TIMEOUT = 120


def run(*argv: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess[bytes]:
    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "monitorlens", *argv], capture_output=True, timeout=TIMEOUT,
                          preexec_fn=limit)


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("spelling", ["same", "dot", "hardlink", "symlink"])
def test_an_output_that_is_the_input_is_refused(tmp_path: Path, spelling: str) -> None:
    capture = tmp_path / "x.txt"
    capture.write_bytes(GRAMMAR.read_bytes())
    output = {"same": capture, "dot": tmp_path / "." / "x.txt", "hardlink": tmp_path / "hard.txt",
              "symlink": tmp_path / "soft.txt"}[spelling]
    if spelling == "hardlink":
        os.link(capture, output)
    if spelling == "symlink":
        output.symlink_to(capture)
    err = one_error_line(run("ingest", str(capture), "-o", str(output)))
    assert "is the input" in err
    assert capture.read_bytes() == GRAMMAR.read_bytes()


def test_a_parquet_input_is_not_its_own_output(tmp_path: Path) -> None:
    parquet = tmp_path / "x.parquet"
    monitorlens.convert(GRAMMAR, parquet)
    before = parquet.read_bytes()
    with pytest.raises(OutputError, match="is the input"):
        monitorlens.convert(parquet, parquet)
    assert parquet.read_bytes() == before and len(monitorlens.load(parquet)) == 94


def test_dev_null_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    before = os.stat("/dev/null")
    result = run("ingest", str(GRAMMAR), "-o", "/dev/null")
    assert result.returncode == 0, result.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert not list(Path("/dev").glob(".null.*.part")) and not Path("/dev/null.part").exists()


def test_dash_is_stdout(tmp_path: Path) -> None:
    result = run("ingest", str(GRAMMAR), "-o", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout[:4] == b"PAR1" and result.stdout[-4:] == b"PAR1"
    out = tmp_path / "from-stdout.parquet"
    out.write_bytes(result.stdout)
    assert len(monitorlens.load(out)) == 94
    assert not (Path.cwd() / "-").exists()


def test_a_failed_write_leaves_no_partial_file_and_the_old_file_intact(tmp_path: Path) -> None:
    capture = SAMPLES / "incident" / "monitor.txt.gz"
    out = tmp_path / "out.parquet"
    out.write_bytes(b"the previous output")
    err = one_error_line(run("ingest", str(capture), "-o", str(out), limit_bytes=4096))
    assert "file-size limit" in err
    assert out.read_bytes() == b"the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


@pytest.mark.parametrize("where, message", [
    ("missing/out.parquet", "does not exist"),
    (".", "is a directory"),
])
def test_unwritable_outputs_are_one_error_line(tmp_path: Path, where: str, message: str) -> None:
    err = one_error_line(run("ingest", str(GRAMMAR), "-o", str(tmp_path / where)))
    assert message in err


def test_output_file_keeps_the_replaced_files_permissions(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    target.write_text("old")
    target.chmod(0o640)
    with output_file(target, binary=False) as f:
        f.write("new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_an_exception_while_writing_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    with pytest.raises(RuntimeError):
        with output_file(target, binary=False) as f:
            f.write("half")
            raise RuntimeError("the render failed")
    assert list(tmp_path.iterdir()) == []


def test_refuse_inputs_passes_over_what_is_no_path(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    target.write_text("x")
    refuse_inputs(target, [None, "-", object(), tmp_path / "missing.txt"])
    with pytest.raises(OutputError):
        refuse_inputs(target, [str(target)])


def test_library_call_refuses_before_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "c.log"
    capture.write_bytes((SAMPLES / "incident" / "clients.log.gz").read_bytes())
    assert main(["ingest", str(capture), "-o", str(capture)]) == 1
    assert "is the input" in capsys.readouterr().err
    assert capture.read_bytes() == (SAMPLES / "incident" / "clients.log.gz").read_bytes()


# ------------------------------------------------------------ report, plot, summary


@pytest.mark.parametrize("argv", [
    ["report", "CAPTURE", "-o", "CAPTURE"],
    ["report", "CAPTURE", "--clients", "CLIENTS", "-o", "CLIENTS"],
    ["report", "CAPTURE", "--baseline", "CLIENTS", "-o", "CLIENTS", "--format", "md"],
    ["plot", "traffic", "CAPTURE", "-o", "CAPTURE", "--format", "svg"],
    ["plot", "connections", "CAPTURE", "--clients", "CLIENTS", "-o", "CLIENTS", "--format", "png"],
])
def test_report_and_plot_never_write_over_an_input(tmp_path: Path, argv: list[str]) -> None:
    capture, clients = tmp_path / "c.txt", tmp_path / "clients.log"
    capture.write_bytes(GRAMMAR.read_bytes())
    clients.write_bytes((SAMPLES / "grammar" / "clients.log").read_bytes())
    argv = [str(capture) if a == "CAPTURE" else str(clients) if a == "CLIENTS" else a for a in argv]
    err = one_error_line(run(*argv))
    assert "is the input" in err
    assert capture.read_bytes() == GRAMMAR.read_bytes()
    assert clients.read_bytes() == (SAMPLES / "grammar" / "clients.log").read_bytes()


def test_report_and_plot_to_stdout_and_dev_null(tmp_path: Path) -> None:
    html = run("report", str(GRAMMAR), "-o", "-", "--no-charts")
    assert html.returncode == 0 and html.stdout.startswith(b"<!DOCTYPE html>") and b"html report" in html.stderr
    md = run("report", str(GRAMMAR), "-o", "-", "--format", "md")
    assert md.returncode == 0 and md.stdout.startswith(b"# ")
    svg = run("plot", "traffic", str(GRAMMAR), "-o", "-")
    assert svg.returncode == 0 and svg.stdout.lstrip().startswith(b"<svg") and b"traffic chart" in svg.stderr
    png = run("plot", "traffic", str(GRAMMAR), "-o", "-", "--format", "png")
    assert png.returncode == 0 and png.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    for argv in (["report", str(GRAMMAR), "-o", "/dev/null", "--no-charts"],
                 ["plot", "traffic", str(GRAMMAR), "-o", "/dev/null", "--format", "svg"]):
        assert run(*argv).returncode == 0
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not (Path.cwd() / "-").exists()


def test_a_report_named_pdf_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    err = one_error_line(run("report", str(GRAMMAR), "-o", str(tmp_path / "x.pdf")))
    assert ".html, .md or .json" in err and not list(tmp_path.iterdir())
    ok = run("report", str(GRAMMAR), "-o", str(tmp_path / "x.pdf"), "--format", "md")  # asked for: written
    assert ok.returncode == 0 and (tmp_path / "x.pdf").read_text().startswith("# ")


def test_a_failed_report_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    err = one_error_line(run("report", str(SAMPLES / "incident" / "monitor.txt.gz"), "-o", str(out), limit_bytes=2048))
    assert "file-size limit" in err and not list(tmp_path.iterdir())


@pytest.mark.parametrize("flags, message", [
    (["--since", "2026-11-25T21:25:30Z", "--until", "2026-11-25T21:25:10Z"], "is not before --until"),
    (["--since", "1795641920", "--until", "1795641920"], "is not before --until"),
    (["--command", "NOSUCH"], "no event matches the filters (--command NOSUCH)"),
    (["--client", "10.9.9.9:1", "--db", "7"], "no event matches the filters"),
])
def test_filters_that_cannot_or_do_not_match_are_said(flags: list[str], message: str) -> None:
    capture = str(SAMPLES / "incident" / "monitor.txt.gz")
    for argv in (["summary", capture, *flags], ["report", capture, "-o", "-", *flags]):
        err = one_error_line(run(*argv))
        assert message in err, err


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
                                 {"PYTHONIOENCODING": "latin-1"}])
def test_a_stdout_that_is_not_utf8_never_raises(tmp_path: Path, env: dict[str, str]) -> None:
    capture = tmp_path / "names.txt"  # a name in UTF-8 (café, a right-to-left mark) and a key
    capture.write_bytes(b'1700000000.000001 [0 127.0.0.1:5] "CLIENT" "SETNAME" "caf\\xc3\\xa9\\xe2\\x80\\x8f"\n'
                        b'1700000000.000002 [0 127.0.0.1:5] "GET" "k\\xc3\\xa9:1"\n')
    for argv in (["summary", str(capture)], ["summary", str(capture), "--json"],
                 ["report", str(capture), "-o", "-", "--format", "md"]):
        result = subprocess.run([sys.executable, "-m", "monitorlens", *argv], capture_output=True, timeout=TIMEOUT,
                                env=os.environ | env)
        assert result.returncode == 0, (argv, result.stderr)
        assert b"UnicodeEncodeError" not in result.stderr and b"Traceback" not in result.stderr


def test_a_symlinked_output_keeps_its_link(tmp_path: Path) -> None:
    real, link = tmp_path / "real.html", tmp_path / "link.html"
    real.write_text("old")
    link.symlink_to(real)
    with output_file(link, binary=False) as f:
        f.write("new")
    assert link.is_symlink() and real.read_text() == "new"
