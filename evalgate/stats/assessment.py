"""A metric's value for one model and the paired difference between two models, by the
metric's kind (see :mod:`evalgate.metrics` and docs/statistics.md):

=============  ===========================================================================
``auc``        DeLong's covariance of correlated ROC AUCs, by midranks (Sun & Xu 2014)
``confusion``  bootstrap of the joint cells (truth, candidate label, champion label): one
               multinomial draw per replicate, cost independent of the row count; BCa with
               the jackknife computed per cell. Δ's bound is at most the *discordance
               floor* (:func:`~evalgate.stats.discordance.discordance_floor`): the rows on
               which the models disagree bounded exactly (Clopper–Pearson), all unseen
               disagreement against the candidate — so no or few discordant rows never give
               a bound of exactly 0
``mean``       paired bootstrap, BCa with the analytic jackknife of a mean; paired t at
               ``ASYMPTOTIC_MIN_ROWS`` rows and above
``rmse``,      paired bootstrap of rows, BCa with an analytic jackknife; delta method at
``r2``         ``ASYMPTOTIC_MIN_ROWS`` rows and above
``generic``    paired bootstrap (average precision: :mod:`~evalgate.stats.ap`), BCa with a
               grouped jackknife
=============  ===========================================================================

A paired comparison on fewer than ``MIN_COMPARISON_ROWS`` rows has the lower bound −∞
(method ``too-few-rows``): it is inconclusive, whatever the rows say.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import stats as sps

from ..errors import StatsError
from ..metrics import Metric, average_precision
from .ap import ap_bootstrap
from .bootstrap import cell_counts, resampled_means
from .delong import delong
from .discordance import discordance_floor
from .intervals import Assessment, Interval, bootstrap_interval, one_sided
from .rules import ASYMPTOTIC_MIN_ROWS, JACKKNIFE_GROUPS, MIN_COMPARISON_ROWS

Array = np.ndarray


def assess(metric: Metric, y: Array, cand: Array, champ: Array | None = None, *,
           confidence: float, rng: np.random.Generator, n_resamples: int) -> Assessment:
    """The candidate's value (bounded on its bad side) and, given a champion, the champion's
    value and Δ = sign · (candidate − champion) with its one-sided lower bound."""
    y = np.asarray(y)
    n = len(y)
    if n < 2:
        raise StatsError(f"{metric.name} needs at least two rows for an interval")
    result = _assess(metric, y, cand, champ, confidence, rng, n_resamples)
    if result.delta is not None and n < MIN_COMPARISON_ROWS:
        d = result.delta
        result = replace(result, delta=Interval(d.estimate, -math.inf, None, None,
                                                "too-few-rows", n))
    return result


def _assess(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
            rng: np.random.Generator, n_resamples: int) -> Assessment:
    n = len(y)
    kind = metric.kind
    if kind == "auc":
        return _auc(metric, y, cand, champ, confidence, n)
    if kind == "confusion":
        return _confusion(metric, y, cand, champ, confidence, rng, n_resamples)
    if kind == "mean":
        return _mean(metric, y, cand, champ, confidence, rng, n_resamples)
    if kind in ("rmse", "r2"):
        return _smooth(metric, y, cand, champ, confidence, rng, n_resamples)
    return _generic(metric, y, cand, champ, confidence, rng, n_resamples)


def _auc(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
         n: int) -> Assessment:
    aucs, cov = delong(y, [cand] if champ is None else [cand, champ])
    value = one_sided(float(aucs[0]), math.sqrt(max(cov[0, 0], 0.0)), confidence, True,
                      "delong", n)
    if champ is None:
        return Assessment(value)
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    delta = one_sided(float(aucs[0] - aucs[1]), math.sqrt(max(var, 0.0)), confidence, True,
                      "delong", n)
    return Assessment(value, float(aucs[1]), delta)


def _confusion(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
               rng: np.random.Generator, n_resamples: int) -> Assessment:
    f = metric.from_confusion
    assert f is not None
    preds = [cand] if champ is None else [cand, champ]
    k = max(2, int(max(int(y.max(initial=0)), *(int(p.max(initial=0)) for p in preds))) + 1)
    code = y.astype(np.int64)
    for p in preds:
        code = code * k + p.astype(np.int64)
    ncells = k ** (1 + len(preds))
    counts = np.bincount(code, minlength=ncells).astype(np.float64)
    n = len(y)
    shape = (k,) * (1 + len(preds))

    def tables(c: Array) -> tuple[Array, Array | None]:
        """Per-model confusion tables from joint-cell counts (..., cells)."""
        c = c.reshape(c.shape[:-1] + shape)
        if champ is None:
            return c, None
        return c.sum(axis=-1), c.sum(axis=-2)

    # jackknife: removing one row of cell j gives the same value for every row of that cell
    present = np.flatnonzero(counts)
    leave_one_out = counts[None, :] - np.eye(ncells)[present]
    draws = cell_counts(rng, n, counts, n_resamples).astype(np.float64)

    ta, tb = tables(counts)
    ja, jb = tables(leave_one_out)
    ra, rb = tables(draws)
    w = counts[present]
    value = bootstrap_interval(float(f(ta)), np.asarray(f(ra)), np.asarray(f(ja)), w,
                                confidence, metric.higher_is_better, "bootstrap-cells", n)
    if champ is None:
        return Assessment(value)
    assert tb is not None and jb is not None and rb is not None
    s = metric.sign
    delta = bootstrap_interval(float(s * (f(ta) - f(tb))), s * (f(ra) - f(rb)),
                                s * (f(ja) - f(jb)), w, confidence, True, "bootstrap-cells", n)
    floor = discordance_floor(f, s, counts.reshape(shape), confidence)
    if delta.lower is not None and floor < delta.lower:
        delta = replace(delta, lower=floor, method=f"{delta.method}+discordance-floor")
    return Assessment(value, float(f(tb)), delta)


def _mean(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
          rng: np.random.Generator, n_resamples: int) -> Assessment:
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


def _smooth(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
            rng: np.random.Generator, n_resamples: int) -> Assessment:
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


def _generic(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
             rng: np.random.Generator, n_resamples: int) -> Assessment:
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
