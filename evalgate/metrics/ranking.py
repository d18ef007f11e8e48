"""Metrics of scores: ROC AUC (binary, and one-vs-rest multiclass) and average precision."""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def midranks(x: Array) -> Array:
    """The ranks of ``x`` (1 … n), ties given their average — scipy.stats.rankdata's
    ``average`` method, to the same floats (each rank is a whole or half number)."""
    x = np.ravel(np.asarray(x))
    order = np.argsort(x, kind="quicksort")
    inverse = np.empty(len(x), dtype=np.intp)
    inverse[order] = np.arange(len(x), dtype=np.intp)
    ordered = x[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    dense = first.cumsum()[inverse]
    count = np.r_[np.nonzero(first)[0], len(first)]
    ranks: Array = 0.5 * (count[dense] + count[dense - 1] + 1)
    return ranks


def binary_roc_auc(y: Array, score: Array) -> float:
    """ROC AUC by midranks (Mann–Whitney), ties counted one half."""
    pos = y == 1
    m, n = int(pos.sum()), int(len(y) - pos.sum())
    if m == 0 or n == 0:
        return float("nan")
    ranks = midranks(score)
    return float((ranks[pos].sum() - m * (m + 1) / 2) / (m * n))


def average_precision(y: Array, score: Array, weight: Array | None = None) -> float:
    """scikit-learn's average precision (step-wise, no interpolation), optionally weighted."""
    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    del s
    if weight is None:  # counts: the unweighted sums below are exact integers either way
        hits = np.cumsum(y[order] == 1)[last]
        tp, fp = hits.astype(np.float64), (last + 1 - hits).astype(np.float64)
    else:
        w = np.asarray(weight, dtype=np.float64)
        yy, ww = y[order], w[order]
        tp = np.cumsum(ww * (yy == 1))[last]
        fp = np.cumsum(ww * (yy != 1))[last]
    if tp[-1] == 0:
        return float("nan")
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def multiclass_roc_auc(y: Array, proba: Array) -> float:
    """One-vs-rest macro ROC AUC over the classes present in ``y``."""
    aucs = [binary_roc_auc((y == j).astype(np.int8), proba[:, j]) for j in np.unique(y)]
    return float(np.mean(aucs)) if len(aucs) > 1 else float("nan")
