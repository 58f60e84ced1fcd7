"""A throwaway redis-server in a temporary directory, for tests, recordings and benchmarks.

It listens on 127.0.0.1 (and ``::1`` when the machine has IPv6 loopback) on a
free port and on a unix socket inside the temporary directory, and is stopped
and removed on exit::

    with RedisServer() as server:
        r = server.client()            # redis-py client over TCP
        r.set("k", "v")

Every wait here is bounded; nothing talks to any address but loopback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def has_ipv6_loopback() -> bool:
    """Whether ``::1`` can be bound on this machine."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def redis_server_path() -> str | None:
    """The redis-server binary on PATH (or /usr/bin), or None."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )


class RedisServer:
    """Start a real redis-server on loopback and a unix socket; stop it on exit."""

    def __init__(
        self,
        *,
        requirepass: str | None = None,
        ipv6: bool = True,
        config: dict[str, str] | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        binary = redis_server_path()
        if binary is None:
            raise RuntimeError("redis-server not found: apt-get install -y redis-server")
        self.binary = binary
        self.requirepass = requirepass
        self.ipv6 = ipv6 and has_ipv6_loopback()
        self.extra = dict(config or {})
        self.startup_timeout = startup_timeout
        self.port = 0
        self.host = "127.0.0.1"
        self.dir: Path | None = None
        self.unix_path = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="monitorlens-redis-"))
        self.port = free_port()
        self.unix_path = str(self.dir / "redis.sock")
        binds = "127.0.0.1 ::1" if self.ipv6 else "127.0.0.1"
        lines = [
            f"port {self.port}",
            f"bind {binds}",
            f"unixsocket {self.unix_path}",
            "unixsocketperm 700",
            f"dir {self.dir}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"logfile {self.dir / 'redis.log'}",
            "protected-mode no",
        ]
        if self.requirepass:
            lines.append(f"requirepass {self.requirepass}")
        lines += [f"{k} {v}" for k, v in self.extra.items()]
        conf = self.dir / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [self.binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited at start:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    if os.path.exists(self.unix_path):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not listen on port {self.port} within {self.startup_timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @property
    def version(self) -> str:
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.split("v=")[1].split()[0] if "v=" in out.stdout else "unknown"

    def client(self, *, via: str = "tcp", **kwargs: Any) -> Any:
        """A redis-py client over ``tcp``, ``tcp6`` or ``unix`` (needs the ``redis`` package)."""
        import redis

        if self.requirepass and "password" not in kwargs:
            kwargs["password"] = self.requirepass
        if via == "unix":
            return redis.Redis(unix_socket_path=self.unix_path, **kwargs)
        host = "::1" if via == "tcp6" else "127.0.0.1"
        if via == "tcp6" and not self.ipv6:
            raise RuntimeError("IPv6 loopback is not available on this machine")
        return redis.Redis(host=host, port=self.port, **kwargs)

    def record_monitor(self, out: Path, work: Callable[[], object], *, also: Sequence[Path] = ()) -> Path:
        """``redis-cli MONITOR > out`` while ``work()`` runs: MONITOR is running before ``work``
        starts and has written everything up to a last ``ECHO end-of-recording`` when it stops
        (each wait bounded to 10 s). ``also``: more MONITOR clients, each to its own file (a
        forgotten one, say)."""
        outs = [Path(out), *map(Path, also)]
        files, procs = [], []
        try:
            for path in outs:
                files.append(path.open("wb"))
                procs.append(subprocess.Popen([*self.cli_args(), "MONITOR"], stdout=files[-1],
                                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL))
                _wait(partial(_nonempty, path))  # redis-cli's "OK" once MONITOR runs
            work()
            self.client().echo("end-of-recording")
            _wait(lambda: b"end-of-recording" in outs[0].read_bytes())
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
            for f in files:
                f.close()
        return outs[0]

    def cli_args(self) -> list[str]:
        """Arguments for redis-cli to reach this server."""
        args = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port)]
        if self.requirepass:
            args += ["--no-auth-warning", "-a", self.requirepass]
        return args


def _wait(done: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)


def _nonempty(path: Path) -> bool:
    return path.stat().st_size > 0
