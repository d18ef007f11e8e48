"""DeLong's covariance of correlated ROC AUCs by midranks (Sun & Xu 2014)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import StatsError

Array = np.ndarray


def components(y: Array, scores: Sequence[Array]) -> tuple[Array, Array, Array]:
    """ROC AUCs of several score vectors on the same rows and their structural components:
    (aucs (k), V10 (k × positives), V01 (k × negatives)).

    V10 of a positive is the share of negatives it outranks, V01 of a negative the share of
    positives that outrank it (ties count one half); each AUC is the mean of either. These are
    Sun & Xu's (2014) midrank differences, counted per distinct score: one sort of the scores
    (``np.unique``), each row's place among them (one binary search), the positives and
    negatives at each distinct score and their running sums — so a row's count below it plus
    half its ties is a lookup. O(n log n) per model, and the
    midranks' very floats: every count is an exact half-integer, summed per row in the rows'
    order.
    """
    pos = np.asarray(y) == 1
    m, n = int(pos.sum()), int(pos.size - pos.sum())
    if m < 2 or n < 2:
        raise StatsError(f"ROC AUC needs at least two positive and two negative rows "
                         f"(got {m} and {n})")
    k = len(scores)
    v10 = np.empty((k, m))
    v01 = np.empty((k, n))
    aucs = np.empty(k)
    for r, s in enumerate(scores):
        distinct, which = distinct_index(np.asarray(s, dtype=np.float64))
        at_pos, at_neg = which[pos], which[~pos]
        del which
        # per distinct score: the positives (negatives) below it plus half those at it
        pos_half = _below_and_half(np.bincount(at_pos, minlength=len(distinct)))
        neg_half = _below_and_half(np.bincount(at_neg, minlength=len(distinct)))
        # a positive's overall midrank minus its midrank among positives: the negatives
        # below it and half those tied with it
        outranked = neg_half[at_pos]
        np.divide(outranked, n, out=v10[r])
        # its overall midrank: its midrank among positives (positives below, half those tied,
        # one half for itself) plus that, summed in the rows' order
        midrank = pos_half[at_pos]
        midrank += 0.5
        midrank += outranked
        aucs[r] = (midrank.sum() - m * (m + 1) / 2) / (m * n)
        del outranked, midrank
        np.divide(pos_half[at_neg], m, out=v01[r])
        np.subtract(1.0, v01[r], out=v01[r])
    return aucs, v10, v01


#: scores looked up at a time: bounds the lookups' working memory to a few MB
CHUNK = 1 << 20
#: up to this many rows each row's distinct score is found by np.unique's inverse; beyond,
#: by the leaner binary search (the same counts either way)
INVERSE_MAX_ROWS = 1 << 22


def distinct_index(values: Array) -> tuple[Array, Array]:
    """``values``' distinct values (sorted) and each value's position among them — what
    ``np.unique(values, return_inverse=True)`` gives. Up to :data:`INVERSE_MAX_ROWS` values
    by that (one argsort: fast, some 40 bytes a value at its peak); beyond, by a sort and a
    binary search ``CHUNK`` values at a time (slower on distinct values, about 12 bytes a
    value: int32 positions where they fit)."""
    if len(values) <= INVERSE_MAX_ROWS:
        distinct, which = np.unique(values, return_inverse=True)
        return distinct, which.reshape(-1)
    distinct = np.unique(values)
    out = np.empty(len(values), dtype=np.int32 if len(distinct) < 2**31 else np.int64)
    for a in range(0, len(values), CHUNK):
        out[a:a + CHUNK] = np.searchsorted(distinct, values[a:a + CHUNK])
    return distinct, out


def _below_and_half(counts: Array) -> Array:
    """For counts per distinct score (ascending): how many lie below each plus half as many
    as at it — an exact half-integer."""
    below = np.cumsum(counts) - counts
    half: Array = (2 * below + counts) * 0.5
    return half


def delong(y: Array, scores: Sequence[Array]) -> tuple[Array, Array]:
    """ROC AUCs of several score vectors on the same rows and their covariance matrix.

    Fast DeLong (Sun & Xu 2014): midranks within positives, within negatives and overall,
    O(n log n) per model; ties count one half. Cov = S10/m + S01/n, S the components' sample
    covariances.
    """
    aucs, v10, v01 = components(y, scores)
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return aucs, cov
