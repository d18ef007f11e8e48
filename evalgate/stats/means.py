"""Mean metrics (log loss, Brier, MAE, …) and smooth functions of means (RMSE, R²).

Below ``ASYMPTOTIC_MIN_ROWS`` rows: the paired bootstrap of rows, BCa with the analytic
jackknife. From there on the tail decides (:mod:`~evalgate.stats.tails`): where the diagnostic
says the central limit theorem is accurate, the t interval (means) or the delta method (RMSE,
R²), one pass over the rows; where a few rows carry the mean, the tail-exact bootstrap
(:func:`~evalgate.stats.bootstrap.tail_resampled_means`), BCa with the same jackknife."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

from ..errors import StatsError
from ..metrics import Metric
from .bootstrap import resampled_means, tail_resampled_means
from .intervals import Interval, bootstrap_interval, one_sided
from .rules import ASYMPTOTIC_MIN_ROWS
from .tails import MeanAssessment, TailDiagnostic, diagnose, exact_rows

Array = np.ndarray
#: column means (… × c) → one statistic (…): the value, or Δ
Stat = Callable[[Array], Array]


def mean_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None,
                    confidence: float, rng: np.random.Generator,
                    n_resamples: int) -> MeanAssessment:
    assert metric.per_row is not None
    n = len(y)
    la = metric.per_row(y, cand)
    lb = metric.per_row(y, champ) if champ is not None else None
    d = metric.sign * (la - lb) if lb is not None else None
    champion = float(lb.mean()) if lb is not None else None
    del lb  # a row's losses are judged through d from here on
    hib = metric.higher_is_better
    tails = [diagnose(x, confidence) for x in ([la] if d is None else [la, d])]
    if n < ASYMPTOTIC_MIN_ROWS:
        cols = np.column_stack([la] if d is None else [la, d])
        reps = resampled_means(rng, cols, n_resamples)
        # the jackknife of a mean: leave row i out → (S − x_i) / (n − 1)
        jack = (cols.sum(axis=0) - cols) / (n - 1)
        value = bootstrap_interval(float(la.mean()), reps[:, 0], jack[:, 0], None, confidence,
                                    hib, "bootstrap", n)
        if d is None:
            return MeanAssessment(value, tail=tails[0])
        delta = bootstrap_interval(float(d.mean()), reps[:, 1], jack[:, 1], None, confidence,
                                    True, "paired-bootstrap", n)
        return MeanAssessment(value, champion, delta, tail=tails[1])
    value, k = _large(la[:, None], la, _first, tails[0], confidence, hib, ("t", ""), rng,
                      n_resamples)
    if d is None:
        return MeanAssessment(value, tail=tails[0], exact_rows=k)
    delta, k = _large(d[:, None], d, _first, tails[1], confidence, True, ("paired-t", "paired-"),
                      rng, n_resamples)
    return MeanAssessment(value, champion, delta, tail=tails[1], exact_rows=k)


def _first(means: Array) -> Array:
    return np.asarray(means[..., 0])


def smooth_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None,
                      confidence: float, rng: np.random.Generator,
                      n_resamples: int) -> MeanAssessment:
    """RMSE and R²: smooth functions of row means (squared errors, and y, y² for R²)."""
    n = len(y)
    y = y.astype(np.float64)
    assert metric.per_row is not None  # squared errors, refused when they overflow
    sq = [metric.per_row(y, p) for p in ([cand] if champ is None else [cand, champ])]
    stat = _smooth_stat(metric.kind, len(sq))
    cols = np.column_stack([*sq, y, y * y])
    theta = stat(cols.mean(axis=0))
    if metric.kind == "r2" and not np.all(np.isfinite(theta)):
        raise StatsError("R² is undefined: the target is constant")
    if metric.kind == "rmse" and np.min(theta) == 0:
        raise StatsError("RMSE is zero: a perfect prediction has no interval")
    s = metric.sign
    hib = metric.higher_is_better

    def value_of(means: Array) -> Array:
        return np.asarray(stat(means)[..., 0])

    def delta_of(means: Array) -> Array:
        v = stat(means)
        return np.asarray(s * (v[..., 0] - v[..., 1]))

    if n < ASYMPTOTIC_MIN_ROWS:
        reps = stat(resampled_means(rng, cols, n_resamples))
        jack = stat((cols.sum(axis=0) - cols) / (n - 1))
        value = bootstrap_interval(float(theta[0]), reps[:, 0], jack[:, 0], None, confidence,
                                    hib, "bootstrap", n)
        psi = _influence(metric.kind, sq, y, theta)
        if champ is None:
            return MeanAssessment(value, tail=diagnose(psi[0], confidence))
        delta = bootstrap_interval(float(s * (theta[0] - theta[1])),
                                    s * (reps[:, 0] - reps[:, 1]), s * (jack[:, 0] - jack[:, 1]),
                                    None, confidence, True, "paired-bootstrap", n)
        return MeanAssessment(value, float(theta[1]), delta,
                              tail=diagnose(s * (psi[0] - psi[1]), confidence))
    psi = _influence(metric.kind, sq, y, theta)
    tail = diagnose(psi[0], confidence)
    value, k = _large(cols, psi[0], value_of, tail, confidence, hib, ("delta-method", ""), rng,
                      n_resamples)
    if champ is None:
        return MeanAssessment(value, tail=tail, exact_rows=k)
    dpsi = s * (psi[0] - psi[1])
    tail = diagnose(dpsi, confidence)
    delta, k = _large(cols, dpsi, delta_of, tail, confidence, True,
                      ("delta-method", "paired-"), rng, n_resamples)
    return MeanAssessment(value, float(theta[1]), delta, tail=tail, exact_rows=k)


def _smooth_stat(kind: str, models: int) -> Stat:
    """RMSE or R² per model from column means [sq_a, (sq_b,) y, y²] (vectorised)."""
    def stat(means: Array) -> Array:
        vals = []
        for j in range(models):
            if kind == "rmse":
                vals.append(np.sqrt(means[..., j]))
            else:
                var = means[..., -1] - means[..., -2] ** 2
                with np.errstate(divide="ignore", invalid="ignore"):
                    vals.append(1 - means[..., j] / var)
        return np.stack(vals, axis=-1)

    return stat


def _large(cols: Array, influence: Array, stat: Stat, tail: TailDiagnostic,
           confidence: float, hib: bool, names: tuple[str, str], rng: np.random.Generator,
           n_resamples: int) -> tuple[Interval, int | None]:
    """The interval of ``stat`` of ``cols``' means at ``ASYMPTOTIC_MIN_ROWS`` rows and more.

    Where the diagnostic allows it: the normal (t) interval of the mean of ``influence`` (the
    column itself for a mean; the influence function for RMSE and R²), method ``names[0]``.
    Else the bootstrap, BCa with the analytic jackknife, method ``names[1]`` + the scheme:
    the tail-exact bootstrap, or every row resampled where the tail is too broad for it.
    Returns the interval and how many rows were resampled one by one (``None``: no
    bootstrap)."""
    n = len(cols)
    estimate = float(stat(cols.mean(axis=0)))
    if not tail.heavy:
        t_dist = names[0] in ("t", "paired-t")  # a mean; else the delta method's normal
        crit = float(special.stdtrit(n - 1, confidence)) if t_dist else None  # t.ppf
        se = float(influence.std(ddof=1) / math.sqrt(n))
        return one_sided(estimate, se, confidence, hib, names[0], n, crit), None
    rows = exact_rows(influence, confidence)
    if rows is None:
        reps, scheme, k = stat(resampled_means(rng, cols, n_resamples)), "bootstrap", n
    else:
        reps = stat(tail_resampled_means(rng, cols, rows, n_resamples))
        scheme, k = "tail-bootstrap", len(rows)
    jack = stat((cols.sum(axis=0) - cols) / (n - 1))
    return bootstrap_interval(estimate, reps, jack, None, confidence, hib,
                              f"{names[1]}{scheme}", n), k


def _influence(kind: str, sq: list[Array], y: Array, theta: Array) -> list[Array]:
    """Influence functions of RMSE (√mse) or R² (1 − mse/var y), one per model."""
    if kind == "rmse":
        return [s / (2 * t) for s, t in zip(sq, theta)]
    v = (y - y.mean()) ** 2
    vbar = float(v.mean())
    return [-(s - (1 - t) * v) / vbar for s, t in zip(sq, theta)]
