"""DeLong's covariance of correlated ROC AUCs by midranks (Sun & Xu 2014)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import StatsError

Array = np.ndarray


#: scores looked up at a time: bounds the lookups' working memory to a few MB
CHUNK = 1 << 20


def components(y: Array, scores: Sequence[Array]) -> tuple[Array, Array, Array]:
    """ROC AUCs of several score vectors on the same rows and their structural components:
    (aucs (k), V10 (k × positives), V01 (k × negatives)).

    V10 of a positive is the share of negatives it outranks, V01 of a negative the share of
    positives that outrank it (ties count one half); each AUC is the mean of either. These are
    Sun & Xu's (2014) midrank differences, found by binary search in each class's sorted
    scores — O(n log n) per model, the same floats as the midranks give (every count below is
    an exact half-integer), in a few bytes a row beyond the components themselves.
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
        s = np.asarray(s, dtype=np.float64)
        x, yneg = s[pos], s[~pos]
        xs, ns = np.sort(x), np.sort(yneg)
        # a positive's overall midrank minus its midrank among positives: the negatives
        # below it and half those tied with it
        outranked = _below(ns, x)
        np.divide(outranked, n, out=v10[r])
        # its overall midrank: its midrank among positives (positives below, half those tied,
        # one half for itself) plus that — the midranks' very floats, summed in their order
        midrank = _below(xs, x)
        midrank += 0.5
        midrank += outranked
        aucs[r] = (midrank.sum() - m * (m + 1) / 2) / (m * n)
        del outranked, midrank
        np.divide(_below(xs, yneg), m, out=v01[r])
        np.subtract(1.0, v01[r], out=v01[r])
    return aucs, v10, v01


def _below(sorted_scores: Array, scores: Array) -> Array:
    """For each of ``scores``: how many of ``sorted_scores`` lie below it plus half as many as
    are tied with it (an exact half-integer), looked up ``CHUNK`` at a time."""
    out = np.empty(len(scores))
    for a in range(0, len(scores), CHUNK):
        q = scores[a:a + CHUNK]
        counts = np.searchsorted(sorted_scores, q, "left")
        counts += np.searchsorted(sorted_scores, q, "right")
        np.multiply(counts, 0.5, out=out[a:a + CHUNK])
    return out


def delong(y: Array, scores: Sequence[Array]) -> tuple[Array, Array]:
    """ROC AUCs of several score vectors on the same rows and their covariance matrix.

    Fast DeLong (Sun & Xu 2014): midranks within positives, within negatives and overall,
    O(n log n) per model; ties count one half. Cov = S10/m + S01/n, S the components' sample
    covariances.
    """
    aucs, v10, v01 = components(y, scores)
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return aucs, cov
