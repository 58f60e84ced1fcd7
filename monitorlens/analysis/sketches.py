"""Sketches for keys past the exact cap: heavy hitters (Space-Saving) and distinct counts (HyperLogLog).

Both merge exactly as their guarantees require (any order, any grouping), so block
partials made in different processes or machines combine into one sketch:

- :class:`HeavyHitters` keeps at most ``capacity`` keys with an estimate ``count`` and
  an ``error`` such that ``count - error <= true count <= count``; any key it does not
  hold occurred at most :attr:`HeavyHitters.floor` times. (Space-Saving, merged as in
  Agarwal et al., "Mergeable summaries", 2012.)
- :class:`HyperLogLog` estimates the number of distinct keys with a relative standard
  error of ``1.04 / sqrt(2 ** precision)`` (0.81 % at the default 14: 16 KiB).

Example::

    >>> hh = HeavyHitters.exact({"a": 5, "b": 1}).truncated(1)
    >>> hh.counts, hh.floor
    ({'a': 5}, 1)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def missing_bump(in_a: np.ndarray, in_b: np.ndarray, floor_a: int, floor_b: int) -> np.ndarray:
    """Space-Saving merge: what to add to the count and the error of each key of the union,
    given whether each side holds it: a side that lacks a key may have seen it up to its
    floor times."""
    return np.where(in_b, 0, floor_b) + np.where(in_a, 0, floor_a)


def keep_top(counts: np.ndarray, order: np.ndarray, capacity: int, floor: int) -> tuple[np.ndarray, int]:
    """Space-Saving truncation: the positions of the ``capacity`` largest counts (ties by
    ``order``, ascending), and the new floor (the largest count dropped, at least ``floor``)."""
    if len(counts) <= capacity:
        return np.arange(len(counts)), floor
    ranked = np.lexsort((order, -counts))
    return np.sort(ranked[:capacity]), max(floor, int(counts[ranked[capacity]]))


@dataclass(frozen=True)
class HeavyHitters:
    """A mergeable Space-Saving summary: ``counts`` (estimates, upper bounds), ``errors``
    (per key, how much the estimate may exceed the truth) and ``floor`` (an upper bound
    of the count of any key not held; 0 while the summary is exact). The hot keys of an
    analysis past its key cap are this summary, on arrays (:mod:`monitorlens.analysis.partials`)."""

    counts: Mapping[str, int] = field(default_factory=dict)
    errors: Mapping[str, int] = field(default_factory=dict)
    floor: int = 0

    @classmethod
    def exact(cls, counts: Mapping[str, int]) -> "HeavyHitters":
        """Exact counts (no error)."""
        return cls(dict(counts), {}, 0)

    def merged(self, other: "HeavyHitters") -> "HeavyHitters":
        """Both summaries' keys: a key missing from one side may have up to that side's floor."""
        keys = list(dict.fromkeys([*self.counts, *other.counts]))
        get = lambda d: np.array([d.get(k, 0) for k in keys], dtype=np.int64)  # noqa: E731
        bump = missing_bump(np.array([k in self.counts for k in keys], dtype=bool),
                            np.array([k in other.counts for k in keys], dtype=bool), self.floor, other.floor)
        counts = get(self.counts) + get(other.counts) + bump
        errors = get(self.errors) + get(other.errors) + bump
        return HeavyHitters(dict(zip(keys, counts.tolist())), {k: e for k, e in zip(keys, errors.tolist()) if e},
                            self.floor + other.floor)

    def truncated(self, capacity: int) -> "HeavyHitters":
        """The ``capacity`` keys with the largest estimates; the floor rises to the largest dropped."""
        keys = list(self.counts)
        kept, floor = keep_top(np.array([self.counts[k] for k in keys], dtype=np.int64), np.arange(len(keys)),
                               capacity, self.floor)
        held = [keys[i] for i in kept]
        return HeavyHitters({k: self.counts[k] for k in held}, {k: self.errors[k] for k in held if k in self.errors},
                            floor)

    def bounds(self, key: str) -> tuple[int, int]:
        """``(lower, upper)`` bounds of the true count of ``key``."""
        if key in self.counts:
            return self.counts[key] - self.errors.get(key, 0), self.counts[key]
        return 0, self.floor


def _hash64(values: Iterable[str] | np.ndarray) -> np.ndarray:
    """A stable 64-bit hash of each string (the same in every process and run)."""
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=object)
    return pd.util.hash_array(arr, categorize=False).astype(np.uint64)


def _leading_zeros(x: np.ndarray) -> np.ndarray:
    """Leading zero bits of each uint64 (exact: each 32-bit half converts to float64 exactly)."""
    hi = (x >> np.uint64(32)).astype(np.float64)
    lo = (x & np.uint64(0xFFFFFFFF)).astype(np.float64)
    return np.where(hi > 0, 32 - np.frexp(hi)[1], 64 - np.frexp(lo)[1]).astype(np.int64)


@dataclass
class HyperLogLog:
    """A HyperLogLog of ``2 ** precision`` one-byte registers (mergeable by maximum)."""

    precision: int = 14
    registers: np.ndarray = None  # type: ignore[assignment]  # made by __post_init__ from precision

    def __post_init__(self) -> None:
        if not 4 <= self.precision <= 18:
            raise ValueError("precision must be between 4 and 18")
        if self.registers is None:
            self.registers = np.zeros(1 << self.precision, dtype=np.uint8)

    @property
    def relative_error(self) -> float:
        """The relative standard error of :meth:`estimate`."""
        return 1.04 / math.sqrt(1 << self.precision)

    def add(self, values: Iterable[str] | np.ndarray) -> "HyperLogLog":
        """Add strings (in place; returns self)."""
        h = _hash64(values)
        if not len(h):
            return self
        p = self.precision
        index = (h >> np.uint64(64 - p)).astype(np.int64)
        rest = (h << np.uint64(p)) | np.uint64((1 << p) - 1)  # low ones stop the count at 64 - p
        rank = _leading_zeros(rest) + 1
        rank = rank.astype(np.uint8)
        np.maximum.at(self.registers, index, rank)
        return self

    def merged(self, other: "HyperLogLog") -> "HyperLogLog":
        """The union of both sets."""
        if other.precision != self.precision:
            raise ValueError("cannot merge HyperLogLogs of different precisions")
        return HyperLogLog(self.precision, np.maximum(self.registers, other.registers))

    def estimate(self) -> float:
        """The estimated number of distinct strings added."""
        m = float(len(self.registers))
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / float(np.sum(np.ldexp(1.0, -self.registers.astype(np.int64))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * m and zeros:
            return m * math.log(m / zeros)  # linear counting: exact-ish for small sets
        return raw
