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
    (``np.unique``), the positives and negatives at each distinct score, their running sums —
    so a row's count below it plus half its ties is a lookup. O(n log n) per model, and the
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
        distinct, which = np.unique(np.asarray(s, dtype=np.float64), return_inverse=True)
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
