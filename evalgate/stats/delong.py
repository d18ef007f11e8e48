"""DeLong's covariance of correlated ROC AUCs by midranks (Sun & Xu 2014)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from ..errors import StatsError

Array = np.ndarray


def components(y: Array, scores: Sequence[Array]) -> tuple[Array, Array, Array]:
    """ROC AUCs of several score vectors on the same rows and their structural components:
    (aucs (k), V10 (k × positives), V01 (k × negatives)).

    V10 of a positive is the share of negatives it outranks, V01 of a negative the share of
    positives that outrank it (ties count one half); each AUC is the mean of either. From
    midranks within positives, within negatives and overall (Sun & Xu 2014), O(n log n) per
    model.
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
        tx, ty = sps.rankdata(x), sps.rankdata(yneg)
        tz = sps.rankdata(np.concatenate([x, yneg]))
        aucs[r] = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
        v10[r] = (tz[:m] - tx) / n
        v01[r] = 1.0 - (tz[m:] - ty) / m
    return aucs, v10, v01


def delong(y: Array, scores: Sequence[Array]) -> tuple[Array, Array]:
    """ROC AUCs of several score vectors on the same rows and their covariance matrix.

    Fast DeLong (Sun & Xu 2014): midranks within positives, within negatives and overall,
    O(n log n) per model; ties count one half. Cov = S10/m + S01/n, S the components' sample
    covariances.
    """
    aucs, v10, v01 = components(y, scores)
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return aucs, cov
