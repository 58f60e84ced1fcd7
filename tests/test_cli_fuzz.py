"""The command line under random input and random flags: an answer or one `Error:` line, never a
traceback, never a changed input file."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitorlens.cli import main

# Lines of every kind monitorlens reads, as servers and pastes write them, and the odd ones.
LINES = [
    b'1700000000.000001 [0 127.0.0.1:5000] "GET" "user:1"',
    b'1700000000.000002 [0 [::1]:47068] "SET" "k" "caf\\xc3\\xa9"',
    b'1700000001.000003 [3 unix:/tmp/my dir/redis.sock] "CLIENT" "SETNAME" "web\\xe2\\x80\\xae"',
    b'1700000001.000004 [0 10.0.0.1:9] "EVAL" "return 1" "1" "k"',
    b'1700000001.000005 [0 lua] "GET" "k"',
    b'1700000002.000006 [0 ?:0] "HGETALL" "doc"',
    b'1700000002.000007 [0 ] "FT.SEARCH" "idx" "q"',
    b'1700000003.000008 [0 127.0.0.1:5000] "CONFIG" "SET" "requirepass" "s3cret"',
    b'1700000003.000009 [0 127.0.0.1:5000] "AUTH" "(redacted)"',
    b'1700000004.000010 (db 2) "DEL" "x"',
    b'1700000004.000011 "PING"',
    b'+1700000005.000012 [0 127.0.0.1:5001] "ping"',
    b'  1700000005.000013 [1 127.0.0.1:5001] "RG.TRIGGER" "RateLimiter" "rl:1"',
    b'1700000005.000014 [0 127.0.0.1:5000] "SET" "a',
    b'OK', b'+OK', b'127.0.0.1:6379> monitor', b'Error: Server closed the connection', b'',
    b'id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=web age=9 idle=0 flags=N db=0 sub=0 psub=0 '
    b'multi=-1 qbuf=0 qbuf-free=0 obl=0 oll=0 omem=0 events=r cmd=get user=default',
    b'id=4 addr=[/tmp/s.sock:0]:0 fd=9 name=w age=3 idle=0 flags=U db=0 sub=1 psub=0 omem=0 cmd=subscribe',
    b'[29474] 12 Nov 00:00:01 # addr=10.0.0.1:46556 fd=5 idle=0 flags=S db=0 sub=0 psub=0 qbuf=0 obl=0 oll=0 events=r cmd=sync',
    b'# 1700000006', b'1700000006,12', b'timestamp,clients', b'     12 name=web',
    b'\xef\xbb\xbf', b'PAR1', b'\x00\x01\xff', b'1700000000.000001 [0 127.0.0.1:99999999999] "GET" "k"',
]
line = st.one_of(st.sampled_from(LINES), st.binary(max_size=40))
content = st.tuples(st.lists(line, max_size=25), st.sampled_from([b"\n", b"\r\n"]), st.booleans(), st.booleans()).map(
    lambda t: (lambda data: gzip.compress(data) if t[3] else data)(t[1].join(t[0]) + (t[1] if t[2] else b"")))

TIMES = ["1700000001", "2023-11-14T22:13:21Z", "1700000004.5", "yesterday", "99999999999999"]
FILTERS = [
    st.tuples(st.just("--since"), st.sampled_from(TIMES)),
    st.tuples(st.just("--until"), st.sampled_from(TIMES)),
    st.tuples(st.just("--command"), st.sampled_from(["get", "client setname", "NOPE", "lua"])),
    st.tuples(st.just("--client"), st.sampled_from(["127.0.0.1:5000", "web", "::1", "nobody"])),
    st.tuples(st.just("--db"), st.sampled_from(["0", "3", "x"])),
    st.tuples(st.just("--top"), st.sampled_from(["1", "5", "0"])),
    st.tuples(st.just("--clients"), st.sampled_from(["CAPTURE", "OTHER", "MISSING"])),
]
# The flags each command takes (and a few it does not: a usage error, exit 2).
FLAGS = {
    "ingest": [st.tuples(st.just("--kind"), st.sampled_from(["monitor", "clients", "connections", "app-counts"])),
               st.tuples(st.just("--errors"), st.sampled_from(["skip", "raise"]))],
    "summary": [*FILTERS, st.just(("--json",)), st.just(("--show-values",)),
                st.tuples(st.just("--width"), st.sampled_from(["20", "80"])),
                st.tuples(st.just("--connections"), st.sampled_from(["CAPTURE", "OTHER"]))],
    "report": [*FILTERS, st.just(("--show-values",)), st.just(("--no-charts",)),
               st.tuples(st.just("--format"), st.sampled_from(["html", "md", "json"])),
               st.tuples(st.just("--connections"), st.sampled_from(["CAPTURE", "OTHER"])),
               st.tuples(st.just("--baseline"), st.sampled_from(["CAPTURE", "OTHER"]))],
    "plot": [*FILTERS, st.tuples(st.just("--format"), st.sampled_from(["png", "svg"]))],
}
OUTPUTS = {
    "ingest": ["NEW.parquet", "CAPTURE", "OTHER", "DIR", "MISSING/x.parquet", "/dev/null", "-", None],
    "summary": [None],
    "report": ["NEW.html", "NEW.md", "NEW.json", "NEW.pdf", "NEW", "CAPTURE", "OTHER", "DIR", "MISSING/x.html",
               "/dev/null", "-", None],
    "plot": ["NEW.svg", "NEW.png", "NEW.pdf", "CAPTURE", "OTHER", "DIR", "/dev/null", "-"],
}


@st.composite
def invocation(draw: st.DrawFn) -> tuple[str, list[tuple[str, ...]], str | None]:
    command = draw(st.sampled_from(sorted(FLAGS)))
    flags = draw(st.lists(st.one_of(*FLAGS[command]), max_size=4))
    return command, flags, draw(st.sampled_from(OUTPUTS[command]))


def argv_of(command: str, flags: list[tuple[str, ...]], output: str | None, where: dict[str, str]) -> list[str]:
    def place(value: str) -> str:
        for token, path in where.items():
            value = value.replace(token, path)
        return value

    argv = [command] + (["traffic"] if command == "plot" else []) + [where["CAPTURE"]]
    for flag in flags:
        argv += [place(v) for v in flag]
    if output is not None:
        argv += ["-o", place(output)]
    return argv


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invocation(), content, content)
def test_the_command_line_never_shows_a_traceback_nor_changes_an_input(
    call: tuple[str, list[tuple[str, ...]], str | None], capture: bytes, other: bytes
) -> None:
    command, flags, output = call
    with tempfile.TemporaryDirectory(prefix="monitorlens-fuzz-") as tmp:
        folder = Path(tmp)
        where = {"CAPTURE": str(folder / "capture.txt"), "OTHER": str(folder / "other.log"),
                 "MISSING": str(folder / "missing"), "DIR": str(folder), "NEW": str(folder / "out")}
        Path(where["CAPTURE"]).write_bytes(capture)
        Path(where["OTHER"]).write_bytes(other)
        argv = argv_of(command, flags, output, where)
        out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()  # stdout has a .buffer
        cwd = os.getcwd()
        try:
            os.chdir(folder)  # '-o -' and relative names stay in the folder
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as e:  # argparse: a usage line and exit 2, no traceback
                    code = e.code
        finally:
            os.chdir(cwd)
        assert code in (0, 1, 2), (argv, code)
        if code == 1:
            lines = err.getvalue().splitlines()
            assert lines and lines[-1].startswith("Error: "), (argv, err.getvalue())
        assert "Traceback" not in err.getvalue()
        assert Path(where["CAPTURE"]).read_bytes() == capture, argv
        if any(flag[0] in ("--clients", "--connections", "--baseline") and flag[1] == "OTHER" for flag in flags):
            assert Path(where["OTHER"]).read_bytes() == other, argv  # an input too


def test_a_capture_of_one_event_draws_its_traffic(tmp_path: Path) -> None:
    # Found by the test above: one event covers 0 s of its bucket; its rate was infinite.
    capture = tmp_path / "one.txt"
    capture.write_bytes(b'1700000000.000001 [0 127.0.0.1:5000] "GET" "user:1"\n')
    assert main(["plot", "traffic", str(capture), "-o", str(tmp_path / "t.svg")]) == 0
    assert "<svg" in (tmp_path / "t.svg").read_text()
