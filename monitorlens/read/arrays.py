"""Arrow arrays built from numpy buffers and Python lists, without ``pa.array``, and the
Arrow kernels the ingest path calls, without ``pyarrow.compute``.

The first call of ``pa.array`` (or ``to_numpy(zero_copy_only=False)``) makes
pyarrow import pandas to ask whether its argument is a pandas object: about
half a second, more than the whole parse of a small capture. The ingest path
(``monitorlens ingest``, which needs no DataFrame) builds its arrays here
instead, and a test checks that it never imports pandas.

Importing ``pyarrow.compute`` takes 60 ms (it writes a Python wrapper and its
docstring for each of the 500 kernels), and so does the first ``Array.take``
or ``Array.cast``, which import it. The kernels here are called by name
through ``call_function``, the one entry point those wrappers use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike

try:  # the module that defines call_function; pyarrow.compute re-exports it with the wrappers
    from pyarrow._compute import CastOptions, call_function
except ImportError:  # pragma: no cover - a pyarrow that moved it
    from pyarrow.compute import CastOptions, call_function


def numeric(values: ArrayLike, dtype: str | np.dtype = "int64", valid: np.ndarray | None = None) -> pa.Array:
    """Numbers (a numpy array, a list) as an Arrow array of ``dtype`` (nulls where ``valid`` is False).

    >>> numeric(np.array([1, 2]), "int32", valid=np.array([True, False])).to_pylist()
    [1, None]
    """
    data = np.ascontiguousarray(values, dtype=dtype)
    arrow_type = pa.from_numpy_dtype(data.dtype)
    if valid is None or valid.all():
        return pa.Array.from_buffers(arrow_type, len(data), [None, pa.py_buffer(data)])
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = len(data) - int(np.count_nonzero(valid))
    return pa.Array.from_buffers(arrow_type, len(data), [bitmap, pa.py_buffer(data)], nulls)


def optional_ints(items: Sequence[int | None], dtype: str = "int32") -> pa.Array:
    """Python ints (None for null) as an Arrow integer array.

    >>> optional_ints([3, None]).to_pylist()
    [3, None]
    """
    valid = np.fromiter((x is not None for x in items), bool, count=len(items))
    return numeric([0 if x is None else x for x in items], dtype, valid=valid)


def binaries(items: Sequence[bytes | None], arrow_type: pa.DataType | None = None) -> pa.Array:
    """Byte strings (None for null) as an Arrow array of ``arrow_type``: binary, or string for UTF-8.

    >>> binaries([b"a", None, b""]).to_pylist()
    [b'a', None, b'']
    """
    arrow_type = arrow_type or pa.binary()
    lengths = np.fromiter((0 if x is None else len(x) for x in items), np.int64, count=len(items))
    offsets = np.zeros(len(items) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    valid = np.fromiter((x is not None for x in items), bool, count=len(items))
    data = pa.py_buffer(b"".join(x for x in items if x is not None))
    if valid.all():
        return pa.Array.from_buffers(arrow_type, len(items), [None, pa.py_buffer(offsets), data])
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(arrow_type, len(items), [bitmap, pa.py_buffer(offsets), data], int((~valid).sum()))


def texts(items: Sequence[str | None]) -> pa.StringArray:
    """Python strings (None for null) as an Arrow string array.

    >>> texts(["GET", None]).to_pylist()
    ['GET', None]
    """
    return binaries([None if x is None else x.encode("utf-8") for x in items], pa.string())


def lists(offsets: np.ndarray, values: pa.Array) -> pa.ListArray:
    """A list array whose row i is ``values[offsets[i]:offsets[i + 1]]``.

    >>> lists(np.array([0, 2, 2]), texts(["a", "b"])).to_pylist()
    [['a', 'b'], []]
    """
    return pa.ListArray.from_arrays(numeric(offsets, "int32"), values)


def first_items(values: pa.ListArray) -> pa.Array:
    """The first item of each list, null where a list is empty.

    >>> first_items(lists(np.array([0, 2, 2]), texts(["a", "b"]))).to_pylist()
    ['a', None]
    """
    off = to_numpy(values.offsets)
    return take(values.values, numeric(off[:-1], valid=off[1:] > off[:-1]))


def whole(column: pa.ChunkedArray) -> pa.Array:
    """A column as one array: its only chunk as it is (``combine_chunks`` would copy it).

    >>> whole(pa.chunked_array([[1], [2]])).to_pylist()
    [1, 2]
    """
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def to_numpy(values: pa.Array) -> np.ndarray:
    """An Arrow array of integers without nulls as a zero-copy numpy view.

    >>> to_numpy(numeric(np.arange(4)).slice(1, 2))
    array([1, 2])
    """
    if values.null_count:
        raise ValueError("to_numpy: the array has nulls")
    dtype = np.dtype(values.type.to_pandas_dtype())
    if len(values) == 0:
        return np.zeros(0, dtype)
    return np.frombuffer(values.buffers()[1], dtype)[values.offset : values.offset + len(values)]


def bools(values: pa.BooleanArray) -> np.ndarray:
    """A boolean Arrow array as numpy bools, null as False (one byte each: a copy).

    >>> bools(kernel("is_null", binaries([b"a", None]))).tolist()
    [False, True]
    """
    if len(values) == 0:
        return np.zeros(0, bool)
    lo, hi = values.offset, values.offset + len(values)
    bits = np.unpackbits(np.frombuffer(values.buffers()[1], np.uint8), bitorder="little")[lo:hi]
    if values.null_count:
        bits &= np.unpackbits(np.frombuffer(values.buffers()[0], np.uint8), bitorder="little")[lo:hi]
    return bits.view(bool)


def take(values: pa.Array | pa.Table, indices: pa.Array) -> pa.Array | pa.Table:
    """``values.take(indices)``: rows of an array or a table (null where an index is null).

    >>> take(texts(["a", "b"]), numeric(np.array([1, 1, 0]))).to_pylist()
    ['b', 'b', 'a']
    """
    return call_function("take", [values, indices])


def cast(values: pa.Array, to: pa.DataType) -> pa.Array:
    """``values.cast(to)``, checked: text that is not UTF-8 raises ``pa.ArrowInvalid``.

    >>> cast(binaries([b"a"]), pa.string()).type
    DataType(string)
    """
    return call_function("cast", [values], CastOptions.safe(to))


def kernel(name: str, *args: pa.Array) -> pa.Array | pa.Scalar:
    """An Arrow kernel without options, by name: ``kernel("dictionary_encode", values)``.

    >>> kernel("ascii_upper", texts(["get"])).to_pylist()
    ['GET']
    """
    return call_function(name, list(args))
