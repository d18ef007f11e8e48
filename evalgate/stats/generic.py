"""Any other metric: a paired bootstrap of rows (average precision: reweighted without
re-sorting), BCa with a grouped jackknife."""

from __future__ import annotations

import numpy as np

from ..metrics import Metric, average_precision
from .ap import ap_bootstrap
from .intervals import Assessment, bootstrap_interval
from .rules import JACKKNIFE_GROUPS

Array = np.ndarray


def generic_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None,
                       confidence: float, rng: np.random.Generator,
                       n_resamples: int) -> Assessment:
    n = len(y)
    preds = [cand] if champ is None else [cand, champ]
    values = [float(metric.fn(y, p)) for p in preds]
    s = metric.sign
    if metric.fn is average_precision:
        reps, jack, weights, scheme = ap_bootstrap(y, preds, rng, n_resamples)
    else:
        scheme = "bootstrap"
        reps = np.empty((n_resamples, len(preds)))
        for b in range(n_resamples):
            idx = rng.integers(0, n, size=n)
            reps[b] = [metric.fn(y[idx], p[idx]) for p in preds]
        groups = np.arange(n) % min(JACKKNIFE_GROUPS, n)
        rng.shuffle(groups)
        g_ids = np.unique(groups)
        jack = np.array([[metric.fn(y[groups != g], p[groups != g]) for p in preds]
                         for g in g_ids])
        weights = None  # groups are equal-sized deletions: equal weight
    value = bootstrap_interval(values[0], reps[:, 0], jack[:, 0], weights, confidence,
                                metric.higher_is_better, scheme, n)
    if champ is None:
        return Assessment(value)
    delta = bootstrap_interval(s * (values[0] - values[1]), s * (reps[:, 0] - reps[:, 1]),
                                s * (jack[:, 0] - jack[:, 1]), weights, confidence, True,
                                f"paired-{scheme}", n)
    return Assessment(value, values[1], delta)
