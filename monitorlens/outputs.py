"""Writing outputs safely: every file monitorlens writes goes through :func:`output_file`.

The rules (README, "Guarantees"):

- an output that is one of the inputs (the same file, whatever its name: a link, ``./x``)
  is refused before anything is read or written;
- ``-`` is standard output;
- a regular file (or a new one) is written to a temporary file beside it, renamed over it
  only once complete: a failure (disk full, a file-size limit, an interrupt) leaves the old
  file as it was and no partial file;
- anything else that exists (``/dev/null``, a FIFO, a terminal) is written in place, never
  replaced by a rename;
- every failure is an :class:`~monitorlens.errors.OutputError`: one line that names the
  file and what went wrong, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Union

from .errors import OutputError

STDOUT = "-"
PathLike = Union[str, "os.PathLike[str]"]


def is_stdout(path: object) -> bool:
    """Whether an output path means standard output (``-``)."""
    return isinstance(path, (str, os.PathLike)) and str(path) == STDOUT


def refuse_inputs(output: PathLike, inputs: Iterable[object]) -> None:
    """Raise :class:`OutputError` when ``output`` is one of ``inputs`` (the same file, by device
    and inode, so a link or another spelling of the path counts). Inputs that are no path
    (``-``, file objects, None) are passed over.

    >>> refuse_inputs("report.html", ["capture.txt", None, "-"])
    """
    if is_stdout(output) or not os.path.exists(output):
        return
    for source in inputs:
        if not isinstance(source, (str, os.PathLike)) or is_stdout(source):
            continue
        try:
            same = os.path.samefile(output, source)
        except OSError:
            continue
        if same:
            raise OutputError(f"{output}: is the input {source}; writing it would destroy the input. "
                              "Name another output file.")


def _describe(e: OSError) -> str:
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EFBIG: "the file would exceed the file-size limit",
        getattr(errno, "EDQUOT", -1): "the disk quota is exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "not permitted",
        errno.EROFS: "the file system is read-only",
        errno.ENOENT: "no such folder",
        errno.EISDIR: "is a directory",
        errno.ENOTDIR: "a part of the path is not a folder",
    }
    return reasons.get(e.errno or 0, e.strerror or str(e))


@contextlib.contextmanager
def output_file(path: PathLike, *, binary: bool = True, inputs: Iterable[object] = ()) -> Iterator[IO]:
    """Open ``path`` to write an output whole (see the module's rules); ``-`` is stdout.

    >>> with output_file("report.html", binary=False, inputs=["capture.txt"]) as f:  # doctest: +SKIP
    ...     f.write(html)
    """
    refuse_inputs(path, inputs)
    if is_stdout(path):
        stream = sys.stdout.buffer if binary else sys.stdout
        try:
            yield stream
            stream.flush()
        except OSError as e:
            if isinstance(e, BrokenPipeError):
                raise
            raise OutputError(f"standard output: cannot write: {_describe(e)}") from None
        return
    # A symlink is written through: the file it points to is replaced, the link stays.
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise OutputError(f"{target}: cannot write: {_describe(e)}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{target}: is a directory; name a file to write.")
    if mode is not None and not stat.S_ISREG(mode):  # /dev/null, a FIFO, a terminal: in place
        try:
            with open(target, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
                yield f
        except OSError as e:
            raise OutputError(f"{target}: cannot write: {_describe(e)}") from None
        return
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{target}: the folder {folder} does not exist; create it or name another output.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as e:
        raise OutputError(f"{target}: cannot write in {folder}: {_describe(e)}") from None
    done = False
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))  # the replaced file's permissions
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # as open() would have made it
        os.replace(tmp, target)
        done = True
    except OSError as e:
        raise OutputError(f"{target}: cannot write: {_describe(e)}") from None
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
