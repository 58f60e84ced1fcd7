"""Inputs are opened once: pipes, FIFOs and stdin lose nothing to kind detection; wrong kinds are errors."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import monitorlens
from monitorlens.errors import InputError
from monitorlens.read.files import GunzipReader, Input, detect_kind, open_binary, spooled
from monitorlens.store import ingest, load

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
GRAMMAR = SAMPLES / "grammar" / "monitor.txt"
INCIDENT = SAMPLES / "incident"
TIMEOUT = 120  # seconds: every subprocess and writer thread here is bounded


def writer(target: str | int, data: bytes) -> threading.Thread:
    """Write ``data`` to a FIFO path or a pipe's write end on a daemon thread, then close it."""

    def run() -> None:
        fd = os.open(target, os.O_WRONLY) if isinstance(target, str) else target
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "capture.fifo")
    os.mkfifo(path)
    yield path


def cli(*argv: str, stdin: bytes | None = None, pass_fds: tuple[int, ...] = (),
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process: a reader that opened a FIFO twice would hang, not the tests."""
    return subprocess.run([sys.executable, "-m", "monitorlens", *argv], input=stdin, capture_output=True,
                          timeout=TIMEOUT, pass_fds=pass_fds, env=None if env is None else {**os.environ, **env})  # type: ignore[call-overload]


def summary_json(*argv: str, **kw: object) -> dict:
    import json

    run = cli("summary", *argv, "--json", **kw)  # type: ignore[arg-type]
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("compress", [False, True])
def test_a_fifo_is_read_whole_once(fifo: str, compress: bool) -> None:
    data = GRAMMAR.read_bytes()
    expected = summary_json(str(GRAMMAR))
    t = writer(fifo, gzip.compress(data) if compress else data)
    got = summary_json(fifo)
    t.join(TIMEOUT)
    assert not t.is_alive()
    assert got["events"] == expected["events"] == 94
    assert got["lines"] == expected["lines"] == 95 and got["rejected"] == 0


def test_a_dev_fd_pipe_is_read_whole_once(tmp_path: Path) -> None:
    # What `monitorlens ingest <(zcat capture.gz)` hands the command: /dev/fd/N, a pipe.
    data = (INCIDENT / "monitor.txt.gz").read_bytes()
    r, w = os.pipe()
    t = writer(w, data)
    out = tmp_path / "p.parquet"
    run = cli("ingest", f"/dev/fd/{r}", "-o", str(out), pass_fds=(r,))
    os.close(r)
    t.join(TIMEOUT)
    assert run.returncode == 0, run.stderr
    direct = monitorlens.read_monitor(INCIDENT / "monitor.txt.gz")
    df = monitorlens.load(out)
    assert len(df) == len(direct) > 1000
    assert monitorlens.provenance(df).rejected == 0
    assert df.line.tolist() == direct.line.tolist()


def test_stdin_capture_and_stdin_client_list_are_detected(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    run = cli("ingest", "-", "-o", str(out), stdin=(INCIDENT / "clients.log.gz").read_bytes())
    assert run.returncode == 0, run.stderr
    assert monitorlens.provenance(monitorlens.read_parquet(out)).kind == "clients"
    assert summary_json("-", stdin=GRAMMAR.read_bytes())["events"] == 94


@pytest.mark.parametrize("flags", [("--clients", str(INCIDENT / "clients.log.gz")), ("--client", "leaky-app")])
def test_a_pipe_read_twice_is_copied_to_a_temporary_file(tmp_path: Path, flags: tuple[str, str]) -> None:
    # CLIENT LIST names and a client filter read the capture twice (the names it sets
    # first): a pipe is copied as it is (gzip stays gzip) into TMPDIR, read as a file,
    # and the copy removed; before, the whole capture was loaded into memory.
    capture = INCIDENT / "monitor.txt.gz"
    expected = summary_json(str(capture), *flags)
    spool = tmp_path / "tmp"
    spool.mkdir()
    got = summary_json("-", *flags, stdin=capture.read_bytes(), env={"TMPDIR": str(spool)})
    assert got.pop("source") == "<stdin>" and expected.pop("source") == str(capture)
    assert got == expected and got["events"] > 50
    assert list(spool.iterdir()) == []


def test_a_copy_that_fails_is_an_error_not_a_traceback() -> None:
    class Failing(io.RawIOBase):
        def readinto(self, buffer: object) -> int:
            raise OSError(5, "Input/output error")

    with pytest.raises(InputError, match="cannot copy it to .* to read it twice .Input/output error"):
        with spooled(Failing()):
            pass


def test_a_fifo_holding_parquet_is_loaded(fifo: str, tmp_path: Path) -> None:
    parquet = tmp_path / "g.parquet"
    ingest(GRAMMAR, parquet)
    t = writer(fifo, parquet.read_bytes())
    assert summary_json(fifo)["events"] == 94
    t.join(TIMEOUT)


def test_peek_then_read_gives_every_byte_again() -> None:
    data = b"".join(b"%d\n" % i for i in range(100_000))
    for stream in (io.BytesIO(data), io.BytesIO(gzip.compress(data))):
        with open_binary(stream) as f:
            assert f.peek(10) == data[:10] and f.peek(70_000) == data[:70_000]
            assert f.read(3) + f.read() == data


def test_text_after_a_gzip_stream_is_read_not_dropped() -> None:
    # (gzip -c part1; cat part2) > cap.gz: zcat reads part1 only and says "trailing garbage ignored".
    lines = GRAMMAR.read_bytes().splitlines(keepends=True)
    part1, part2 = b"".join(lines[:50]), b"".join(lines[50:])
    df = monitorlens.read_monitor(io.BytesIO(gzip.compress(part1) + part2))
    whole = monitorlens.read_monitor(GRAMMAR)
    assert len(df) == len(whole) and df.line.tolist() == whole.line.tolist()
    assert monitorlens.provenance(df).rejected == 0 and not monitorlens.provenance(df).input_truncated
    # Members after members still work, and so does a member after the text.
    two = monitorlens.read_monitor(io.BytesIO(gzip.compress(part1) + gzip.compress(part2)))
    assert len(two) == len(whole)


def test_garbage_after_a_gzip_stream_is_counted() -> None:
    part1 = b'1700000000.000001 [0 127.0.0.1:1] "GET" "k"\n'
    for tail in (b"\x00" * 512, b"\x1f", b"\xff\xfe junk\n"):
        df = monitorlens.read_monitor(io.BytesIO(gzip.compress(part1) + tail))
        prov = monitorlens.provenance(df)
        assert len(df) == 1 and prov.rejected == 1, tail
        assert list(prov.rejects_by_reason) in (["binary-garbage"], ["truncated"]), prov.rejects_by_reason


def test_gzip_reader_one_byte_at_a_time() -> None:
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            out, self.data = self.data[:1], self.data[1:]
            return out

    data = gzip.compress(b"a\n") + gzip.compress(b"b\n") + b"c\n"
    r = GunzipReader(Input(Trickle(data), "t"))  # type: ignore[arg-type]
    assert r.read() == b"a\nb\nc\n" and r.error is None and r.note


@pytest.mark.parametrize("name, kind", [
    ("incident/clients.log.gz", "clients"),
    ("incident/connections.csv", "connections"),
])
def test_a_client_log_given_as_the_capture_says_where_it_goes(name: str, kind: str) -> None:
    with pytest.raises(InputError, match="not a MONITOR capture.*--c"):
        load(SAMPLES / name)
    run = cli("summary", str(SAMPLES / name))
    assert run.returncode == 1 and run.stderr.decode().startswith("Error: ") and b"Traceback" not in run.stderr


def test_parquet_of_the_wrong_kind_is_an_error_and_the_right_kind_is_read(tmp_path: Path) -> None:
    clients, counts, events = tmp_path / "c.parquet", tmp_path / "n.parquet", tmp_path / "e.parquet"
    ingest(INCIDENT / "clients.log.gz", clients)
    ingest(INCIDENT / "connections.csv", counts)
    ingest(INCIDENT / "monitor.txt.gz", events)
    with pytest.raises(InputError, match="CLIENT LIST snapshots, not MONITOR events; pass it with --clients"):
        load(clients)
    # What `ingest` wrote for --clients / --connections is read there, not as text.
    snap = monitorlens.read_client_list(clients)
    assert snap.equals(monitorlens.read_client_list(INCIDENT / "clients.log.gz"))
    assert monitorlens.provenance(snap).kind == "clients" and len(snap) > 0
    assert monitorlens.read_connection_counts(counts).equals(monitorlens.read_connection_counts(INCIDENT / "connections.csv"))
    for reader, wrong in ((monitorlens.read_client_list, events), (monitorlens.read_connection_counts, clients)):
        with pytest.raises(InputError, match="this Parquet file holds"):
            reader(wrong)
    # A Parquet file nobody here wrote.
    import pandas as pd

    other = tmp_path / "other.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(other)
    with pytest.raises(InputError, match="holds no MONITOR events"):
        load(other)
    with pytest.raises(InputError, match="already a Parquet file"):
        ingest(events, tmp_path / "again.parquet")


def test_summary_reads_the_clients_parquet_that_ingest_wrote(tmp_path: Path) -> None:
    clients = tmp_path / "c.parquet"
    ingest(INCIDENT / "clients.log.gz", clients)
    text = summary_json(str(INCIDENT / "monitor.txt.gz"), "--clients", str(INCIDENT / "clients.log.gz"))
    parquet = summary_json(str(INCIDENT / "monitor.txt.gz"), "--clients", str(clients))
    assert parquet["clients"] == text["clients"]


def test_detect_kind_peeks_without_consuming() -> None:
    data = (INCIDENT / "clients.log.gz").read_bytes()
    with open_binary(io.BytesIO(data)) as f:
        assert detect_kind(f) == "clients"
        assert f.read() == gzip.decompress(data)


def test_a_utf8_bom_is_skipped(tmp_path: Path) -> None:
    """A capture, a CLIENT LIST log or a CSV saved by a Windows editor starts with a BOM."""
    bom = b"\xef\xbb\xbf"
    for name, reader in (("grammar/monitor.txt", monitorlens.read_monitor),
                         ("incident/connections.csv", monitorlens.read_connection_counts),
                         ("incident/clients.log.gz", monitorlens.read_client_list)):
        data = (SAMPLES / name).read_bytes()
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        path = tmp_path / Path(name).name.removesuffix(".gz")
        path.write_bytes(bom + data)
        plain, with_bom = reader(SAMPLES / name), reader(path)
        assert with_bom.drop(columns=[]).equals(plain), name
        assert monitorlens.provenance(with_bom).rejected == monitorlens.provenance(plain).rejected
        with open_binary(path) as f:
            assert detect_kind(f) == {"monitor.txt": "monitor", "connections.csv": "connections",
                                      "clients.log": "clients"}[path.name]
