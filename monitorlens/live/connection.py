"""Where and how to reach a live server: a URL and ``redis-cli``'s flags, parsed once.

``redis://[user[:password]@]host[:port][/db]``, ``rediss://...`` (TLS) and
``unix:///path/redis.sock[?db=N]``, with ``redis-cli``'s ``-h -p -s -n --user --pass
--tls --cacert --cert --key --insecure --sni`` overriding parts of it, and the password
from ``REDISCLI_AUTH`` when none is given (as ``redis-cli`` does). The password lives
only in :class:`Target`; :meth:`Target.display` and ``repr`` never show it.
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import InputError

__all__ = ["Target", "add_target_arguments", "target_from_args", "parse_url"]

DEFAULT_PORT = 6379


@dataclass(frozen=True)
class Target:
    """One server to connect to (TCP host and port, or a unix socket), and how.

    >>> Target(host="127.0.0.1", port=6380, password="s3cret").display()
    'redis://127.0.0.1:6380/0'
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    unix_socket: str | None = None
    db: int = 0
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    sni: str | None = None
    timeout: float = 10.0

    def display(self) -> str:
        """The target as a URL without its password (safe to print and to save)."""
        user = f"{self.user}@" if self.user else ""
        if self.unix_socket:
            return f"unix://{user}{self.unix_socket}?db={self.db}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'rediss' if self.tls else 'redis'}://{user}{host}:{self.port}/{self.db}"

    def redis_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis(...)`` reaching this target."""
        kw: dict[str, Any] = {"db": self.db, "socket_timeout": self.timeout,
                              "socket_connect_timeout": self.timeout, "protocol": 2}  # fmt: skip
        if self.user:
            kw["username"] = self.user
        if self.password is not None:
            kw["password"] = self.password
        if self.unix_socket:
            kw["unix_socket_path"] = self.unix_socket
            return kw
        kw.update(host=self.host, port=self.port)
        if self.tls:
            kw.update(ssl=True, ssl_ca_certs=self.cacert, ssl_certfile=self.cert, ssl_keyfile=self.key,
                      ssl_cert_reqs="none" if self.insecure else "required",
                      ssl_check_hostname=not self.insecure and not self.sni)  # fmt: skip
        return kw

    def redis(self, name: str | None = None) -> Any:
        """A redis-py client on one connection, named ``name`` (needs the ``redis`` package)."""
        try:
            import redis
        except ImportError:
            raise InputError("the live commands need redis-py: pip install 'monitorlens[live]'") from None
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retries: during an incident a refused connection or a wrong password is
        # reported at once, not after redis-py's backoff.
        return redis.Redis(client_name=name, single_connection_client=True, retry=Retry(NoBackoff(), 0),
                           **self.redis_kwargs())  # fmt: skip

    def open_socket(self) -> socket.socket:
        """A connected socket (TLS-wrapped with ``tls``), before any command is sent."""
        if self.unix_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.unix_socket)
            except OSError:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        if not self.tls:
            return sock
        ctx = ssl.create_default_context(cafile=self.cacert)
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx.wrap_socket(sock, server_hostname=self.sni or self.host)


def parse_url(url: str) -> dict[str, Any]:
    """The parts a URL gives (only those it names), for :func:`target_from_args`.

    >>> sorted(parse_url("redis://app:pw@10.0.0.5:6380/2").items())
    [('db', 2), ('host', '10.0.0.5'), ('password', 'pw'), ('port', 6380), ('user', 'app')]
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise InputError(f"{_safe(url)}: expected redis://host:port/db, rediss://... or unix:///path/redis.sock")
    out: dict[str, Any] = {}
    if parts.username:
        out["user"] = unquote(parts.username)
    if parts.password is not None:
        out["password"] = unquote(parts.password)
    query = parse_qs(parts.query)
    try:
        if parts.scheme == "unix":
            out["unix_socket"] = unquote(parts.path)
            if "db" in query:
                out["db"] = int(query["db"][0])
            return out
        if parts.hostname:
            out["host"] = parts.hostname
        if parts.port:
            out["port"] = parts.port
        path = parts.path.strip("/")
        if path:
            out["db"] = int(path)
    except ValueError:
        raise InputError(f"{_safe(url)}: the port and the database must be numbers") from None
    if parts.scheme == "rediss":
        out["tls"] = True
    return out


def _safe(url: str) -> str:
    """A URL with its password replaced by ``***`` (for error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the URL and ``redis-cli``'s connection flags to a (sub)parser made with
    ``add_help=False`` (``-h`` is the host, as in ``redis-cli``)."""
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument("url", nargs="?", help="redis://[user[:password]@]host:port[/db], rediss://... "
                        "or unix:///path/redis.sock (default redis://127.0.0.1:6379/0)")  # fmt: skip
    g = parser.add_argument_group("connection (as redis-cli)")
    g.add_argument("-h", dest="host", metavar="HOST", help="server host (default 127.0.0.1)")
    g.add_argument("-p", dest="port", type=int, metavar="PORT", help="server port (default 6379)")
    g.add_argument("-s", dest="unix_socket", metavar="SOCKET", help="server unix socket (overrides host and port)")
    g.add_argument("-n", dest="db", type=int, metavar="DB", help="database number")
    g.add_argument("--user", help="ACL user name")
    g.add_argument("-a", "--pass", dest="password", metavar="PASSWORD",
                   help="password (visible to other users in ps: prefer the REDISCLI_AUTH variable)")
    g.add_argument("--tls", action="store_true", help="connect with TLS")
    g.add_argument("--cacert", metavar="FILE", help="CA certificate to verify the server with")
    g.add_argument("--cert", metavar="FILE", help="client certificate (TLS)")
    g.add_argument("--key", metavar="FILE", help="private key of the client certificate (TLS)")
    g.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    g.add_argument("--sni", metavar="HOST", help="server name to send (TLS)")


def target_from_args(ns: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Target:
    """The :class:`Target` of parsed arguments: the URL, then the flags, then ``REDISCLI_AUTH``."""
    env = os.environ if environ is None else environ
    parts = parse_url(ns.url) if ns.url else {}
    for name in ("host", "port", "unix_socket", "db", "user", "password", "cacert", "cert", "key", "sni"):
        value = getattr(ns, name, None)
        if value is not None:
            parts[name] = value
    for name in ("tls", "insecure"):
        if getattr(ns, name, False):
            parts[name] = True
    if "password" not in parts and env.get("REDISCLI_AUTH"):
        parts["password"] = env["REDISCLI_AUTH"]
    if any(parts.get(k) for k in ("cacert", "cert", "key", "sni")) and not parts.get("tls"):
        raise InputError("--cacert, --cert, --key and --sni need --tls (or a rediss:// URL)")
    return Target(**parts)
