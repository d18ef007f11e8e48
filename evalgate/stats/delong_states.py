"""DeLong's covariance of correlated ROC AUCs from mergeable states, in two passes over the
rows — groundwork for the Dask engine's performance states (docs/design.md, "Engines").

1. Each part of the rows gives each model's :class:`~.scoretable.ScoreTable` (positives and
   negatives per distinct score); the tables merge by addition.
2. Each part looks its rows' scores up in the merged tables: a positive's placement V10 is the
   share of negatives it outranks, a negative's V01 the share of positives that outrank it
   (ties one half) — the structural components of :func:`evalgate.stats.delong.components`,
   the very same floats. The part returns exact sums (:class:`~.exact.ExactSums`) of the
   placements and of their pairwise products, per class; those merge by addition too.

The covariance is then S10/P + S01/N from the sums, S the components' sample covariances:
the same numbers for any partitioning and merge order, and equal to the in-memory DeLong up
to the rounding of one subtraction (the tests bound it at 1e-12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import StatsError
from .exact import ExactSums
from .scoretable import ScoreTable

Array = np.ndarray


def _pairs(k: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(k) for j in range(i, k)]


@dataclass
class PlacementSums:
    """Per class, exact sums of each model's placements and of their pairwise products."""

    k: int
    pos: ExactSums
    neg: ExactSums

    @classmethod
    def empty(cls, k: int) -> PlacementSums:
        width = k + len(_pairs(k))
        return cls(k, ExactSums(width), ExactSums(width))

    def merge(self, other: PlacementSums) -> PlacementSums:
        self.pos.merge(other.pos)
        self.neg.merge(other.neg)
        return self


def placements(table: ScoreTable, y: Array, score: Array) -> tuple[Array, Array]:
    """The placements of one part's positives (V10) and negatives (V01) in the merged
    ``table`` of their model — as :func:`evalgate.stats.delong.components` computes them."""
    if not table.exact:
        raise StatsError("DeLong's placements need an exact score table")
    pos = np.asarray(y) == 1
    s = np.asarray(score, dtype=np.float64)
    at = np.searchsorted(table.keys, s)
    if len(s) and (at.max() >= len(table.keys) or not np.array_equal(table.keys[at], s)):
        raise StatsError("a score is missing from the merged table")
    neg_below = np.cumsum(table.neg) - table.neg
    pos_below = np.cumsum(table.pos) - table.pos
    m, n = table.positives, table.negatives
    # tz − tx of components(): negatives below plus half those tied, an exact half-integer
    v10 = (neg_below[at[pos]] + 0.5 * table.neg[at[pos]]) / n
    v01 = 1.0 - (pos_below[at[~pos]] + 0.5 * table.pos[at[~pos]]) / m
    return v10, v01


def placement_sums(tables: Sequence[ScoreTable], y: Array, scores: Sequence[Array]
                   ) -> PlacementSums:
    """One part's second pass: its placements' exact sums, per class."""
    k = len(tables)
    found = [placements(t, y, s) for t, s in zip(tables, scores, strict=True)]
    out = PlacementSums.empty(k)
    for side, acc in ((0, out.pos), (1, out.neg)):
        v = np.stack([f[side] for f in found], axis=1) if found else np.zeros((0, k))
        products = np.stack([v[:, i] * v[:, j] for i, j in _pairs(k)], axis=1)
        acc.add(np.concatenate([v, products], axis=1))
    return out


def delong_from_states(tables: Sequence[ScoreTable], sums: PlacementSums
                       ) -> tuple[Array, Array]:
    """The AUCs (from the tables) and DeLong's covariance (from the placement sums)."""
    k = len(tables)
    m, n = tables[0].positives, tables[0].negatives
    if m < 2 or n < 2:
        raise StatsError(f"ROC AUC needs at least two positive and two negative rows "
                         f"(got {m} and {n})")
    if sums.pos.rows != m or sums.neg.rows != n:
        raise StatsError("the placement sums do not cover the tables' rows")
    aucs = np.array([t.auc() for t in tables])
    cov = np.zeros((k, k))
    for acc, rows in ((sums.pos, m), (sums.neg, n)):
        total = acc.values()
        mean = total[:k] / rows
        for c, (i, j) in enumerate(_pairs(k)):
            s = (total[k + c] - rows * mean[i] * mean[j]) / (rows - 1) / rows
            cov[i, j] += s
            if i != j:
                cov[j, i] += s
    return aucs, cov
