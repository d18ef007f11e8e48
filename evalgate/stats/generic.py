"""Any other metric: a paired bootstrap of rows (average precision: reweighted without
re-sorting), BCa with a grouped jackknife — average precision with fewer than
``ap.FEW_BELOW`` positives (or negatives): the classes resampled separately, the expanded
percentile."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..errors import StatsError
from ..metrics import Metric, average_precision
from .ap import ap_bootstrap, few
from .intervals import Assessment, Interval, bootstrap_interval
from .rules import JACKKNIFE_GROUPS

Array = np.ndarray


def expanded_percentile(theta: float, reps: Array, k: int, confidence: float,
                        higher_is_better: bool, method: str, n: int) -> Interval:
    """The one-sided percentile bound at the level expanded to Student's t with k − 1
    degrees of freedom and the bootstrap's (k − 1)/k variance undone (Hesterberg 2015):
    the α′ = Φ(t_{α, k−1} · √(k / (k − 1))) quantile of the replicates, k the rarer class's
    count."""
    finite = reps[np.isfinite(reps)]
    if finite.size == 0:
        raise StatsError("every bootstrap replicate was undefined")
    t = float(special.stdtrit(max(k - 1, 1), 1 - confidence))  # t.ppf
    level = float(special.ndtr(t * math.sqrt(k / max(k - 1, 1))))
    se = float(np.std(finite, ddof=1)) if finite.size > 1 else 0.0
    name = f"{method}-expanded-percentile"
    if higher_is_better:
        return Interval(theta, float(np.percentile(finite, 100 * level)), None, se, name, n)
    return Interval(theta, None, float(np.percentile(finite, 100 * (1 - level))), se, name, n)


def generic_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None,
                       confidence: float, rng: np.random.Generator,
                       n_resamples: int) -> Assessment:
    n = len(y)
    preds = [cand] if champ is None else [cand, champ]
    values = [float(metric.fn(y, p)) for p in preds]
    s = metric.sign
    if metric.fn is average_precision:
        reps, ap_jack, weights, scheme = ap_bootstrap(y, preds, rng, n_resamples)
        k = few(y)
        if ap_jack is None and k is not None:  # few positives or negatives
            return _expanded(metric, values, reps, k, confidence, scheme, n)
        assert ap_jack is not None
        jack = ap_jack
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


def _expanded(metric: Metric, values: list[float], reps: Array, k: int, confidence: float,
              scheme: str, n: int) -> Assessment:
    value = expanded_percentile(values[0], reps[:, 0], k, confidence, metric.higher_is_better,
                                scheme, n)
    if len(values) == 1:
        return Assessment(value)
    s = metric.sign
    delta = expanded_percentile(s * (values[0] - values[1]), s * (reps[:, 0] - reps[:, 1]), k,
                                confidence, True, f"paired-{scheme}", n)
    return Assessment(value, values[1], delta)
