"""Just enough of the Redis protocol (RESP2) for the MONITOR connection, read as raw bytes.

MONITOR turns a connection into a one-way stream of ``+<line>\\r\\n`` replies; redis-py's
parser would decode every one of them into Python objects. This reader keeps each line's
bytes as the server sent them (what ``redis-cli MONITOR`` prints) and hands them over in
batches, so a busy server's stream is read at socket speed.
"""

from __future__ import annotations

import select
import socket

__all__ = ["ConnectionLost", "RespReader", "encode"]

READ_SIZE = 1 << 18


class ConnectionLost(Exception):
    """The server closed the connection, or it broke."""


def encode(*args: str | bytes | int) -> bytes:
    """One command in RESP (an array of bulk strings).

    >>> encode("CLIENT", "ID")
    b'*2\\r\\n$6\\r\\nCLIENT\\r\\n$2\\r\\nID\\r\\n'
    """
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RespReader:
    """Replies of one socket: ``(kind, payload)`` with kind ``+ - : $`` and the payload's bytes.

    Only the reply types MONITOR and the commands sent before it use (status, error,
    integer, bulk string); an array or RESP3 type is a protocol error.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def wait(self, timeout: float) -> bool:
        """Read what has arrived, waiting up to ``timeout`` s; False when nothing came."""
        pending = getattr(self.sock, "pending", None)  # TLS: bytes already decrypted
        if not (pending and pending()):
            ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
            if not ready:
                return False
        try:
            data = self.sock.recv(READ_SIZE)
        except (socket.timeout, BlockingIOError):
            return False
        except OSError as e:
            raise ConnectionLost(f"connection broken: {e.strerror or e}") from None
        if not data:
            raise ConnectionLost("the server closed the connection")
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += data
        return True

    def pop(self) -> tuple[bytes, bytes] | None:
        """The next complete reply in the buffer, or None."""
        buf, pos = self.buf, self.pos
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        kind = bytes(buf[pos : pos + 1])
        if kind in (b"+", b"-", b":"):
            self.pos = end + 2
            return kind, bytes(buf[pos + 1 : end])
        if kind == b"$":
            size = int(buf[pos + 1 : end])
            if size < 0:
                self.pos = end + 2
                return kind, b""
            if len(buf) < end + 2 + size + 2:
                return None
            self.pos = end + 2 + size + 2
            return kind, bytes(buf[end + 2 : end + 2 + size])
        raise ConnectionLost(f"unexpected reply from the server: {bytes(buf[pos : pos + 40])!r}")

    def status_lines(self, limit: int) -> list[bytes]:
        """Up to ``limit`` complete ``+`` lines at the head of the buffer (a batch of MONITOR lines)."""
        buf, pos = self.buf, self.pos
        out: list[bytes] = []
        while len(out) < limit and buf[pos : pos + 1] == b"+":
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            out.append(bytes(buf[pos + 1 : end]))
            pos = end + 2
        self.pos = pos
        return out

    def reply(self, timeout: float) -> tuple[bytes, bytes]:
        """The next reply, waiting up to ``timeout`` s for it."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            item = self.pop()
            if item is not None:
                return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectionLost(f"no reply from the server within {timeout:g} s")
            self.wait(left)
