"""ROC AUC from mergeable per-partition states: positives and negatives per distinct score.

A :class:`ScoreTable` holds, for one model, the count of positive and negative rows at each
distinct score (``keys`` sorted). Tables of parts of the rows merge by adding counts at equal
keys, so a table — and the AUC computed from it — is the same for any partitioning and merge
order. The AUC is the Mann–Whitney statistic, ties counting one half, in exact integer
arithmetic until the final division:

    AUC = Σ_s pos_s · (neg_below_s + ½ neg_s) / (P · N)

While a table has at most ``max_distinct`` keys it is *exact* (the keys are the scores). Past
that, it switches to *buckets*: the top :data:`PREFIX_BITS` bits of each score's float32 bit
pattern (order-preserving for the scores of a classifier), which merge exactly as well; on the
driver the buckets are grouped into at most ``max_distinct`` contiguous bins of about equal
row count (:meth:`ScoreTable.coarsened`). Within a bin the order of positives and negatives is
unknown: treating every pair there as a tie moves the AUC by at most

    error_bound = ½ Σ_b pos_b · neg_b / (P · N)

(each within-bin pair contributes between 0 and 1 to the exact count, ½ to the binned one),
which the binned result carries. Groundwork for the Dask engine's states (docs/design.md,
"Engines"); the engines do not read it yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray
#: bits of a score's float32 pattern a bucket keeps (sign, exponent and 11 of 23 mantissa bits:
#: relative resolution 2^-12, about 2.4e-4 near 1)
PREFIX_BITS = 20


def _keys_of_scores(score: Array) -> Array:
    """Order-preserving uint32 keys of float32 scores (negative scores flipped)."""
    bits = np.asarray(score, dtype=np.float32).view(np.uint32)
    negative = (bits >> 31).astype(bool)
    out: Array = np.where(negative, ~bits, bits | np.uint32(0x80000000))
    return out


@dataclass(frozen=True)
class ScoreTable:
    """Positive and negative counts per key (``keys`` sorted, unique): scores when ``exact``,
    else float32-prefix buckets (or coarser contiguous bins, ``bins`` > 0)."""

    keys: Array
    pos: Array
    neg: Array
    exact: bool = True

    @classmethod
    def of(cls, y: Array, score: Array, max_distinct: int) -> ScoreTable:
        """The table of one part of the rows (``y`` 1 for positives)."""
        y = np.asarray(y).astype(bool)
        score = np.asarray(score, dtype=np.float64)
        keys, inverse = np.unique(score, return_inverse=True)
        table = cls(keys, np.bincount(inverse, weights=y, minlength=len(keys)).astype(np.int64),
                    np.bincount(inverse, weights=~y, minlength=len(keys)).astype(np.int64))
        return table if len(keys) <= max_distinct else table.bucketed()

    def bucketed(self) -> ScoreTable:
        """The same counts on float32-prefix buckets."""
        if not self.exact:
            return self
        prefix = _keys_of_scores(self.keys) >> np.uint32(32 - PREFIX_BITS)
        return _summed(prefix.astype(np.float64), self.pos, self.neg, exact=False)

    def merge(self, other: ScoreTable, max_distinct: int) -> ScoreTable:
        """The table of both parts' rows."""
        a, b = self, other
        if a.exact != b.exact:
            a, b = a.bucketed(), b.bucketed()
        merged = _summed(np.concatenate([a.keys, b.keys]), np.concatenate([a.pos, b.pos]),
                         np.concatenate([a.neg, b.neg]), exact=a.exact)
        return merged if not merged.exact or len(merged.keys) <= max_distinct \
            else merged.bucketed()

    @property
    def positives(self) -> int:
        return int(self.pos.sum())

    @property
    def negatives(self) -> int:
        return int(self.neg.sum())

    def coarsened(self, max_distinct: int) -> ScoreTable:
        """At most ``max_distinct`` contiguous bins of about equal rows (itself if it has no
        more keys than that)."""
        if len(self.keys) <= max_distinct:
            return self
        rows = np.cumsum(self.pos + self.neg)
        cut = np.minimum((rows - 1) * max_distinct // int(rows[-1]), max_distinct - 1)
        return _summed(cut.astype(np.float64), self.pos, self.neg, exact=False)

    def auc(self) -> float:
        """The AUC of the table, ties (and, for bins, every pair within a bin) one half."""
        p, n = self.positives, self.negatives
        if p == 0 or n == 0:
            raise ValueError("an AUC needs positives and negatives")
        below = np.cumsum(self.neg) - self.neg
        twice = int((self.pos * (2 * below + self.neg)).sum())  # exact: integers
        return twice / (2 * p * n)

    def error_bound(self) -> float:
        """How far the exact AUC may be from :meth:`auc` (0 for an exact table)."""
        if self.exact:
            return 0.0
        return int((self.pos * self.neg).sum()) / (2 * self.positives * self.negatives)


def _summed(keys: Array, pos: Array, neg: Array, *, exact: bool) -> ScoreTable:
    unique, inverse = np.unique(keys, return_inverse=True)
    return ScoreTable(unique, np.bincount(inverse, weights=pos, minlength=len(unique))
                      .astype(np.int64),
                      np.bincount(inverse, weights=neg, minlength=len(unique)).astype(np.int64),
                      exact)
