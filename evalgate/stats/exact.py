"""Sums that do not depend on how the rows were split: :class:`ExactSums`.

A float sum depends on the order of its additions, so a sum over partitions would change
with the partitioning, and a verdict with it. Here every value is split into its exponent
and three 18-bit pieces of its 53-bit integer mantissa; the pieces are summed per exponent by
``numpy.bincount`` in float64 — exact while fewer than 2³⁵ values meet in one call — and the
partial sums are carried as Python integers, whose additions are exact. The total is the
exact sum rounded once to the nearest float: the same for one partition or a thousand, in any
order of merging.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..errors import StatsError

Array = np.ndarray

#: bits of each mantissa piece; 3 pieces cover the 53 bits of a float64's mantissa
_PIECE = 18
_MASK = (1 << _PIECE) - 1
#: values one bincount may sum exactly: each piece is < 2¹⁸, a float64 holds 2⁵³ exactly
MAX_ROWS_PER_CALL = 1 << (53 - _PIECE)


@dataclass
class _Total:
    """One column's exact sum, ``mantissa · 2**exponent``, and its non-finite values."""

    mantissa: int = 0
    exponent: int = 0
    nan: int = 0
    pos_inf: int = 0
    neg_inf: int = 0

    def add(self, mantissa: int, exponent: int) -> None:
        if mantissa == 0:
            return
        if self.mantissa == 0:
            self.mantissa, self.exponent = mantissa, exponent
            return
        low = min(self.exponent, exponent)
        self.mantissa = (self.mantissa << (self.exponent - low)) + (mantissa << (exponent - low))
        self.exponent = low

    def merge(self, other: _Total) -> None:
        self.add(other.mantissa, other.exponent)
        self.nan += other.nan
        self.pos_inf += other.pos_inf
        self.neg_inf += other.neg_inf

    def value(self) -> float:
        """The exact sum, rounded once (NaN if any value was NaN or both infinities met)."""
        if self.nan or (self.pos_inf and self.neg_inf):
            return math.nan
        if self.pos_inf:
            return math.inf
        if self.neg_inf:
            return -math.inf
        if self.mantissa == 0:
            return 0.0
        try:
            if self.exponent >= 0:
                return float(self.mantissa << self.exponent)
            return self.mantissa / (1 << -self.exponent)  # int / int: correctly rounded
        except OverflowError:
            return math.copysign(math.inf, self.mantissa)


@dataclass
class ExactSums:
    """Exact, mergeable sums of ``k`` float64 columns.

    >>> s = ExactSums.of(np.array([[1e16, 1.0], [1.0, 2.0], [-1e16, 3.0]]))
    >>> s.values().tolist()
    [1.0, 6.0]
    """

    k: int
    totals: list[_Total] = field(default_factory=list)
    rows: int = 0

    def __post_init__(self) -> None:
        if not self.totals:
            self.totals = [_Total() for _ in range(self.k)]

    @classmethod
    def of(cls, values: Array) -> ExactSums:
        """The sums of the columns of ``values`` (n, k) — or of one column (n,)."""
        x = np.asarray(values, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise StatsError(f"exact sums take a 1-D or 2-D array, not {x.ndim}-D")
        out = cls(x.shape[1])
        out.add(x)
        return out

    def add(self, values: Array) -> None:
        """Add the rows of ``values`` (n, k)."""
        x = np.asarray(values, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] != self.k:
            raise StatsError(f"exact sums of {self.k} columns given {x.shape[1]}")
        columns = np.ascontiguousarray(x.T)
        for start in range(0, len(x), MAX_ROWS_PER_CALL):
            for j in range(self.k):
                _add_column(self.totals[j], columns[j, start:start + MAX_ROWS_PER_CALL])
        self.rows += len(x)

    def add_grouped(self, values: Array, groups: Array) -> None:
        """Add each of ``values`` (n,) to the column its group (n,) names, in [0, k)."""
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        g = np.asarray(groups, dtype=np.int64).reshape(-1)
        if len(g) != len(x) or (len(g) and (g.min() < 0 or g.max() >= self.k)):
            raise StatsError(f"exact grouped sums need a group in [0, {self.k}) per value")
        for start in range(0, len(x), MAX_ROWS_PER_CALL):
            _add_grouped(self.totals, x[start:start + MAX_ROWS_PER_CALL],
                         g[start:start + MAX_ROWS_PER_CALL])
        self.rows += len(x)

    def copy(self) -> ExactSums:
        return ExactSums.merged([self], self.k)

    def merge(self, other: ExactSums) -> ExactSums:
        """Add ``other``'s sums into these (and return them)."""
        if other.k != self.k:
            raise StatsError(f"cannot merge exact sums of {other.k} columns into {self.k}")
        for mine, theirs in zip(self.totals, other.totals):
            mine.merge(theirs)
        self.rows += other.rows
        return self

    def values(self) -> Array:
        """Each column's exact sum, rounded once to float64."""
        return np.array([t.value() for t in self.totals], dtype=np.float64)

    @classmethod
    def merged(cls, parts: Iterable[ExactSums], k: int) -> ExactSums:
        out = cls(k)
        for part in parts:
            out.merge(part)
        return out


def _add_grouped(totals: list[_Total], x: Array, g: Array) -> None:
    """:func:`_add_column` for many columns at once: ``x[i]`` into ``totals[g[i]]``."""
    bad = ~np.isfinite(x)
    if bad.any():
        for j in np.unique(g[bad]):
            t, xs = totals[int(j)], x[bad & (g == j)]
            t.nan += int(np.count_nonzero(np.isnan(xs)))
            t.pos_inf += int(np.count_nonzero(xs == np.inf))
            t.neg_inf += int(np.count_nonzero(xs == -np.inf))
        x, g = x[~bad], g[~bad]
    if not x.size:
        return
    frac, exp = np.frexp(x)
    mant = np.ldexp(frac, 53).astype(np.int64)
    low = int(exp.min())
    span = int(exp.max()) - low + 1
    cell = g * span + (exp - low)
    for piece in range(3):
        shifted = mant >> (_PIECE * piece)
        part = (shifted if piece == 2 else shifted & _MASK).astype(np.float64)
        sums = np.bincount(cell, weights=part)
        for c in np.flatnonzero(sums):
            group, b = divmod(int(c), span)
            totals[group].add(int(sums[c]), b + low - 53 + _PIECE * piece)


def _add_column(total: _Total, x: Array) -> None:
    if not np.isfinite(x).all():
        total.nan += int(np.count_nonzero(np.isnan(x)))
        total.pos_inf += int(np.count_nonzero(x == np.inf))
        total.neg_inf += int(np.count_nonzero(x == -np.inf))
        x = x[np.isfinite(x)]
    if not x.size:
        return
    frac, exp = np.frexp(x)             # x = frac · 2**exp, 0.5 ≤ |frac| < 1 (0: 0 · 2**0)
    mant = np.ldexp(frac, 53).astype(np.int64)  # exact: a signed 53-bit integer
    low = int(exp.min())
    bins = exp - low
    for piece in range(3):
        # mant = top·2³⁶ + mid·2¹⁸ + bottom, the two lower pieces in [0, 2¹⁸), the top signed
        shifted = mant >> (_PIECE * piece)
        part = (shifted if piece == 2 else shifted & _MASK).astype(np.float64)
        sums = np.bincount(bins, weights=part)
        for b in np.flatnonzero(sums):
            # each bin's sum is an exact integer below 2**53 in magnitude
            total.add(int(sums[b]), int(b) + low - 53 + _PIECE * piece)
