"""Progress on a terminal: silent when quick or piped, lines read then each step when long."""

from __future__ import annotations

import io
from pathlib import Path

import monitorlens
from monitorlens.progress import Progress, progress_printer

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_silent_before_the_delay_then_speaks() -> None:
    out, clock = Terminal(), Clock()
    p = Progress(total=2_000_000, stream=out, after=1.5, clock=clock)
    p(1_000_000, 10)
    p.step("analysing")
    p.close()
    assert out.getvalue() == ""  # quick: nothing at all, not even the newline
    clock.now += 2
    p(1_000_000, 12_345)
    assert "12,345 lines" in out.getvalue() and "50.0%" in out.getvalue()
    p.step("analysing")
    p.close()
    text = out.getvalue()
    assert text.endswith("\n") and text.split("\r")[-1].startswith("analysing")
    # a shorter text overwrites the longer one completely
    assert len(text.split("\r")[-1].rstrip("\n")) == len(text.split("\r")[-2])


def test_not_a_terminal_is_silent() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress(stream=out, after=0, clock=clock)
    clock.now += 10
    p(5, 5)
    p.step("rendering")
    p.close()
    assert out.getvalue() == "" and progress_printer(None, io.StringIO()) is None


def test_env_sets_the_delay(monkeypatch) -> None:
    monkeypatch.setenv("MONITORLENS_PROGRESS_AFTER", "0")
    assert Progress(stream=Terminal()).after == 0.0


def test_reading_a_recorded_capture_reports_its_lines() -> None:
    out = Terminal()
    p = Progress(stream=out, after=0)
    events = monitorlens.load(SAMPLES / "incident" / "monitor.txt.gz", progress=p)
    p.close()
    last = out.getvalue().rstrip("\n").split("\r")[-1]
    assert f"{len(events) + 1:,} lines" in last  # redis-cli's OK line is read too
