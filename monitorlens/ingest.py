"""The only place that opens capture files: plain, gzip, stdin, file objects.

Everything here streams: a file is read in blocks cut at line ends, so a capture
larger than memory is never held whole.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Union

from .errors import InputError

Source = Union[str, os.PathLike, BinaryIO]

BLOCK_SIZE = 8 << 20
GZIP_MAGIC = b"\x1f\x8b"


def source_name(source: object) -> str:
    """A name for messages and provenance: the path, ``<stdin>`` or the object's name."""
    if isinstance(source, (str, os.PathLike)):
        return "<stdin>" if str(source) == "-" else str(source)
    return str(getattr(source, "name", "<stream>"))


@contextlib.contextmanager
def open_binary(source: Source) -> Iterator[BinaryIO]:
    """Open a path (plain or gzip, detected by content), ``-`` (stdin) or a binary file object.

    >>> with open_binary("capture.txt.gz") as f:  # doctest: +SKIP
    ...     head = f.read(100)
    """
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            yield _maybe_gunzip(sys.stdin.buffer)
            return
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such file. Check the path, or pass '-' to read stdin.")
        if path.is_dir():
            raise InputError(f"{path}: is a directory; pass a capture file.")
        try:
            f = open(path, "rb")
        except OSError as e:
            raise InputError(f"{path}: cannot open: {e.strerror}") from None
        with f:
            yield _maybe_gunzip(f)
        return
    if isinstance(source, io.TextIOBase):
        raise InputError(f"{source_name(source)}: opened in text mode; open it with 'rb'.")
    yield _maybe_gunzip(source)


def _maybe_gunzip(f: BinaryIO) -> BinaryIO:
    """Wrap ``f`` in a gzip reader when its first bytes are the gzip magic."""
    buffered = f if hasattr(f, "peek") else io.BufferedReader(f)  # type: ignore[arg-type]
    head = buffered.peek(2)[:2]  # type: ignore[union-attr]
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered  # type: ignore[return-value]


def iter_blocks(f: BinaryIO, block_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    """Blocks of whole lines (each ends with ``\\n`` except perhaps the very last one)."""
    rest = b""
    while True:
        try:
            data = f.read(block_size)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise InputError(f"{source_name(f)}: read failed ({e}); is the gzip file truncated?") from None
        if not data:
            break
        data = rest + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        rest = data[cut:]
        yield data[:cut]
    if rest:
        yield rest
