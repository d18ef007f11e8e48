"""Mean metrics (log loss, Brier, MAE, …) and smooth functions of means (RMSE, R²): paired
bootstrap with the analytic jackknife, or the t / delta-method interval at many rows."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from ..errors import StatsError
from ..metrics import Metric
from .bootstrap import resampled_means
from .intervals import Assessment, bootstrap_interval, one_sided
from .rules import ASYMPTOTIC_MIN_ROWS

Array = np.ndarray


def mean_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None,
                    confidence: float, rng: np.random.Generator,
                    n_resamples: int) -> Assessment:
    assert metric.per_row is not None
    n = len(y)
    la = metric.per_row(y, cand)
    lb = metric.per_row(y, champ) if champ is not None else None
    d = metric.sign * (la - lb) if lb is not None else None
    hib = metric.higher_is_better
    if n >= ASYMPTOTIC_MIN_ROWS:
        crit = float(sps.t.ppf(confidence, n - 1))
        value = one_sided(float(la.mean()), float(la.std(ddof=1) / math.sqrt(n)), confidence,
                          hib, "t", n, crit)
        if d is None:
            return Assessment(value)
        delta = one_sided(float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)), confidence,
                          True, "paired-t", n, crit)
        return Assessment(value, float(lb.mean()), delta)  # type: ignore[union-attr]
    cols = np.column_stack([la] if d is None else [la, d])
    reps = resampled_means(rng, cols, n_resamples)
    # the jackknife of a mean: leave row i out → (S − x_i) / (n − 1)
    jack = (cols.sum(axis=0) - cols) / (n - 1)
    value = bootstrap_interval(float(la.mean()), reps[:, 0], jack[:, 0], None, confidence,
                                hib, "bootstrap", n)
    if d is None:
        return Assessment(value)
    delta = bootstrap_interval(float(d.mean()), reps[:, 1], jack[:, 1], None, confidence,
                                True, "paired-bootstrap", n)
    return Assessment(value, float(lb.mean()), delta)  # type: ignore[union-attr]


def smooth_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None,
                      confidence: float, rng: np.random.Generator,
                      n_resamples: int) -> Assessment:
    """RMSE and R²: smooth functions of row means (squared errors, and y, y² for R²)."""
    n = len(y)
    y = y.astype(np.float64)
    assert metric.per_row is not None  # squared errors, refused when they overflow
    sq = [metric.per_row(y, p) for p in ([cand] if champ is None else [cand, champ])]

    def stat(means: Array) -> Array:
        """Metric per model from column means [sq_a, (sq_b,) y, y²] (vectorised)."""
        vals = []
        for j in range(len(sq)):
            if metric.kind == "rmse":
                vals.append(np.sqrt(means[..., j]))
            else:
                var = means[..., -1] - means[..., -2] ** 2
                with np.errstate(divide="ignore", invalid="ignore"):
                    vals.append(1 - means[..., j] / var)
        return np.stack(vals, axis=-1)

    cols = np.column_stack([*sq, y, y * y])
    theta = stat(cols.mean(axis=0))
    if metric.kind == "r2" and not np.all(np.isfinite(theta)):
        raise StatsError("R² is undefined: the target is constant")
    if metric.kind == "rmse" and np.min(theta) == 0:
        raise StatsError("RMSE is zero: a perfect prediction has no interval")
    s = metric.sign
    hib = metric.higher_is_better
    if n >= ASYMPTOTIC_MIN_ROWS:
        psi = _influence(metric.kind, sq, y, theta)
        value = one_sided(float(theta[0]), float(psi[0].std(ddof=1) / math.sqrt(n)),
                          confidence, hib, "delta-method", n)
        if champ is None:
            return Assessment(value)
        dpsi = s * (psi[0] - psi[1])
        delta = one_sided(float(s * (theta[0] - theta[1])),
                          float(dpsi.std(ddof=1) / math.sqrt(n)), confidence, True,
                          "delta-method", n)
        return Assessment(value, float(theta[1]), delta)
    reps = stat(resampled_means(rng, cols, n_resamples))
    jack = stat((cols.sum(axis=0) - cols) / (n - 1))
    value = bootstrap_interval(float(theta[0]), reps[:, 0], jack[:, 0], None, confidence,
                                hib, "bootstrap", n)
    if champ is None:
        return Assessment(value)
    delta = bootstrap_interval(float(s * (theta[0] - theta[1])), s * (reps[:, 0] - reps[:, 1]),
                                s * (jack[:, 0] - jack[:, 1]), None, confidence, True,
                                "paired-bootstrap", n)
    return Assessment(value, float(theta[1]), delta)


def _influence(kind: str, sq: list[Array], y: Array, theta: Array) -> list[Array]:
    """Influence functions of RMSE (√mse) or R² (1 − mse/var y), one per model."""
    if kind == "rmse":
        return [s / (2 * t) for s, t in zip(sq, theta)]
    v = (y - y.mean()) ** 2
    vbar = float(v.mean())
    return [-(s - (1 - t) * v) / vbar for s, t in zip(sq, theta)]
