"""What the drift family reduces the evaluation rows to (:class:`~..base.Reduction`), so that
no evaluation row has to reach the driver: each column's histogram on the reference's bins
(counts, exact per-bin sums) with its numeric range, and a seeded sample of rows for the
domain classifier — the rows whose positions hash lowest (:mod:`..sample`), which are the
same rows for any partitioning and any split into files. Both are computed by
the workers on the Dask engine and on the one frame by the local engine, and merge to the
same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...stats.drift import Bins, Histogram, histogram, numeric_values

#: a column's state: its histogram on the reference's bins, the bins, and (numeric) the
#: smallest and largest present value
ColumnState = tuple[Histogram, Bins, tuple[float, float] | None]

@dataclass(frozen=True)
class Columns:
    """Each column's histogram on its reference bins, and its numeric range."""

    bins: tuple[tuple[str, Bins], ...]

    @property
    def key(self) -> str:
        return "drift:columns"

    def of(self, frame: pd.DataFrame, keys: np.ndarray) -> dict[str, ColumnState | None]:
        out: dict[str, ColumnState | None] = {}
        for column, bins in self.bins:
            if column not in frame.columns:
                out[column] = None
                continue
            span = None
            if bins.kind == "numeric":
                x, _ = numeric_values(frame[column])
                span = (float(x.min()), float(x.max())) if len(x) else None
            out[column] = (histogram(frame[column], bins), bins, span)
        return out

    def merge(self, states: Sequence[dict[str, ColumnState | None]]
              ) -> dict[str, ColumnState | None]:
        out: dict[str, ColumnState | None] = {}
        for column, _ in self.bins:
            parts = [s[column] for s in states]
            if any(p is None for p in parts):
                out[column] = None
                continue
            h, bins, span = parts[0]  # type: ignore[misc]
            for other in parts[1:]:
                assert other is not None
                h = h + other[0]
                span = _wider(span, other[2])
            out[column] = (h, bins, span)
        return out


def _wider(a: tuple[float, float] | None,
           b: tuple[float, float] | None) -> tuple[float, float] | None:
    if a is None or b is None:
        return a or b
    return (min(a[0], b[0]), max(a[1], b[1]))


def column_states(states: Any) -> dict[str, ColumnState | None] | None:
    """The merged :class:`Columns` state among a context's states, if any."""
    found = states.get("drift:columns") if states else None
    return found if isinstance(found, dict) else None


#: the reference's row hashes kept (its smallest distinct ones): all of them up to a million
#: reference rows, a uniform sample of the hash space beyond
SHARED_SKETCH = 1 << 20


@dataclass(frozen=True, eq=False)
class SharedRows:
    """How many evaluation rows are rows of the reference, by value (``hash_rows`` over
    ``columns``): the reference's :data:`SHARED_SKETCH` smallest row hashes, and per
    evaluation row whether its hash is at most the largest of them (``under``) and among
    them (``found``). The share found among those under is the share of evaluation rows the
    reference holds — exactly when the sketch holds every reference row."""

    columns: tuple[str, ...]
    #: the reference's smallest distinct row hashes, sorted
    sketch: np.ndarray
    #: whether the sketch holds every reference row
    complete: bool

    @classmethod
    def of_reference(cls, reference: pd.DataFrame, columns: Sequence[str]) -> SharedRows:
        from ...data.fingerprint import hash_rows

        hashes = np.unique(hash_rows(reference[list(columns)]))
        return cls(tuple(columns), hashes[:SHARED_SKETCH], len(hashes) <= SHARED_SKETCH)

    @property
    def key(self) -> str:
        return "drift:shared"

    def of(self, frame: pd.DataFrame, keys: np.ndarray) -> tuple[int, int]:
        from ...data.fingerprint import hash_rows

        if not len(self.sketch) or any(c not in frame.columns for c in self.columns):
            return 0, 0
        h = hash_rows(frame[list(self.columns)])
        under = h <= self.sketch[-1] if not self.complete else np.ones(len(h), dtype=bool)
        at = np.minimum(np.searchsorted(self.sketch, h), len(self.sketch) - 1)
        return int(np.count_nonzero(under & (self.sketch[at] == h))), int(under.sum())

    def merge(self, states: Sequence[tuple[int, int]]) -> tuple[int, int]:
        return sum(s[0] for s in states), sum(s[1] for s in states)

