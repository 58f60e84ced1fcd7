"""Connection options of the live commands: URL and redis-cli flags, the password kept out of sight."""

from __future__ import annotations

import argparse

import pytest

from monitorlens.cli import build_parser, main
from monitorlens.errors import InputError
from monitorlens.live.connection import Target, add_target_arguments, parse_url, target_from_args


def parse(*argv: str, env: dict[str, str] | None = None) -> Target:
    p = argparse.ArgumentParser(add_help=False)
    add_target_arguments(p)
    return target_from_args(p.parse_args(list(argv)), env or {})


@pytest.mark.parametrize(
    "url, expected",
    [
        ("redis://127.0.0.1:6380/2", Target(host="127.0.0.1", port=6380, db=2)),
        ("redis://app:p%40ss@10.0.0.5", Target(host="10.0.0.5", user="app", password="p@ss")),
        ("redis://:only-pass@[::1]:7000/0", Target(host="::1", port=7000, password="only-pass")),
        ("rediss://h:6390", Target(host="h", port=6390, tls=True)),
        ("unix:///tmp/r.sock?db=3", Target(unix_socket="/tmp/r.sock", db=3)),
    ],
)
def test_urls(url: str, expected: Target) -> None:
    assert parse(url) == expected


def test_flags_override_the_url_and_redisclI_auth_fills_the_password() -> None:
    t = parse("redis://a:1/0", "-h", "b", "-p", "2", "-n", "5", "--user", "u", env={"REDISCLI_AUTH": "env-pw"})
    assert (t.host, t.port, t.db, t.user, t.password) == ("b", 2, 5, "u", "env-pw")
    assert parse("redis://:url-pw@a", env={"REDISCLI_AUTH": "env-pw"}).password == "url-pw"
    assert parse("-a", "flag-pw", env={"REDISCLI_AUTH": "env-pw"}).password == "flag-pw"
    assert parse("-s", "/x.sock").unix_socket == "/x.sock"
    assert parse("--tls", "--insecure", "--sni", "redis.internal").redis_kwargs()["ssl_cert_reqs"] == "none"


def test_the_password_is_never_displayed() -> None:
    t = parse("redis://app:s3cret@h:1/0")
    assert "s3cret" not in t.display() + repr(t) and t.display() == "redis://app@h:1/0"
    with pytest.raises(InputError) as e:
        parse_url("redis://app:s3cret@h:notaport/0")
    assert "s3cret" not in str(e.value) and "***" in str(e.value)
    with pytest.raises(InputError, match="need --tls"):
        parse("--cacert", "ca.pem")


def test_capture_parser_takes_redis_cli_flags(capsys) -> None:
    ns = build_parser().parse_args(["capture", "-h", "10.0.0.5", "-p", "6380", "-o", "inc", "--max-bytes", "64M",
                                    "--max-drop", "20%"])  # fmt: skip
    assert (ns.host, ns.port, ns.max_bytes, ns.max_drop, ns.duration) == ("10.0.0.5", 6380, 64 << 20, 0.2, 30.0)
    with pytest.raises(SystemExit):
        main(["capture", "--help"])
    assert "REDISCLI_AUTH" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        build_parser().parse_args(["capture", "-o", "x", "--max-drop", "130%"])


def test_capture_of_an_unreachable_server_is_an_error_and_writes_nothing(tmp_path, capsys) -> None:
    assert main(["capture", "redis://:pw-never-shown@127.0.0.1:1/0", "-o", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: redis://127.0.0.1:1/0: ") and "pw-never-shown" not in err
    assert not (tmp_path / "b").exists()


def test_progress_shows_only_on_a_terminal() -> None:
    """capture's counters go through the one progress line: on a terminal from the first
    second, nothing in a pipe."""
    import io

    from monitorlens.live.progress import capture_status
    from monitorlens.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    status = {"seconds": 2.0, "lines": 12345, "bytes": 3 << 20, "snapshots": 1, "ops_per_sec": 900.0,
              "baseline": 1000.0, "omem": 4096}  # fmt: skip
    piped = Progress(stream=io.StringIO(), after=0.0)
    piped.step(capture_status(status))
    assert not piped.enabled and piped.stream.getvalue() == ""
    term = Terminal()
    line = Progress(stream=term, after=0.0)
    line.step(capture_status(status))
    line.close()
    shown = term.getvalue()
    assert shown.startswith("\r") and shown.endswith("\n")
    assert "12,345 lines" in shown and "baseline 1,000/s" in shown and "MONITOR buffer 4 KiB" in shown
