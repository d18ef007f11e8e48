"""Intervals for one metric, and for the paired difference between two models.

Every interval here is **one-sided** at ``confidence``: for a comparison, the lower bound of
Δ = sign · (candidate − champion), oriented so that positive means the candidate is better;
for a single model's value, the bound on the bad side (lower for higher-is-better metrics).

Method by metric kind (see :mod:`evalgate.metrics`):

=============  ===========================================================================
``auc``        DeLong's variance of (correlated) ROC AUCs, by midranks (Sun & Xu 2014)
``confusion``  bootstrap of the joint cells (truth, candidate label, champion label): one
               multinomial draw per replicate, cost independent of the row count
``mean``       paired bootstrap of per-row loss differences; paired t at large n
``rmse``       delta method (influence function of √mean)
``r2``         delta method (influence function of a ratio of means)
``generic``    paired bootstrap of rows, the same rows for both models (percentile)
=============  ===========================================================================

Pure numpy/scipy; the caller passes a seeded :class:`numpy.random.Generator`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .metrics import Metric, average_precision

Array = np.ndarray

#: at and above this many rows, mean losses use the paired t interval instead of a bootstrap
T_INTERVAL_MIN_ROWS = 20_000
_CHUNK = 64


@dataclass(frozen=True)
class Interval:
    """A point estimate with a one-sided bound (the other side ``None``)."""

    estimate: float
    lower: float | None
    upper: float | None
    se: float | None
    method: str
    n: int

    def rows_to_resolve(self, margin: float) -> int | None:
        """Rows that would make ``lower ≥ −margin`` if the estimate stayed as it is.

        The interval's half-width shrinks as 1/√n, so n' = n · (h / (Δ̂ + m))².
        ``None`` when no amount of data would do (the estimate itself is below −margin).
        """
        if self.lower is None or self.estimate + margin <= 0:
            return None
        half = self.estimate - self.lower
        if half <= 0:
            return self.n
        return int(math.ceil(self.n * (half / (self.estimate + margin)) ** 2))


class StatsError(ValueError):
    """The data cannot support an interval (e.g. a single class present)."""


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(confidence))


def _one_sided(estimate: float, se: float, confidence: float, higher_is_better: bool,
               method: str, n: int, quantile: float | None = None) -> Interval:
    width = _z(confidence) * se if quantile is None else quantile
    if higher_is_better:
        return Interval(estimate, estimate - width, None, se, method, n)
    return Interval(estimate, None, estimate + width, se, method, n)


def _from_replicates(estimate: float, reps: Array, confidence: float, higher_is_better: bool,
                     method: str, n: int) -> Interval:
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        raise StatsError("every bootstrap replicate was undefined")
    se = float(np.std(reps, ddof=1)) if reps.size > 1 else 0.0
    if higher_is_better:
        return Interval(estimate, float(np.quantile(reps, 1 - confidence)), None, se, method, n)
    return Interval(estimate, None, float(np.quantile(reps, confidence)), se, method, n)


# --------------------------------------------------------------------------- DeLong


def delong(y: Array, scores: Sequence[Array]) -> tuple[Array, Array]:
    """ROC AUCs of several score vectors on the same rows and their covariance matrix.

    Fast DeLong (Sun & Xu 2014): midranks within positives, within negatives and overall,
    O(n log n) per model; ties count one half.
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
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


# --------------------------------------------------------------------------- dispatch


def value_interval(metric: Metric, y: Array, pred: Array, *, confidence: float,
                   rng: np.random.Generator, n_resamples: int) -> Interval:
    """The metric's value for one model, bounded on its bad side."""
    return _interval(metric, y, [pred], confidence, rng, n_resamples)


def paired_interval(metric: Metric, y: Array, cand: Array, champ: Array, *, confidence: float,
                    rng: np.random.Generator, n_resamples: int) -> Interval:
    """Δ = sign · (candidate − champion) with its one-sided lower confidence bound."""
    return _interval(metric, y, [cand, champ], confidence, rng, n_resamples)


def _interval(metric: Metric, y: Array, preds: list[Array], confidence: float,
              rng: np.random.Generator, n_resamples: int) -> Interval:
    n = len(y)
    paired = len(preds) == 2
    # a comparison is always read on its lower side: positive Δ means better
    hib = True if paired else metric.higher_is_better
    sign = metric.sign

    if metric.kind == "auc":
        aucs, cov = delong(y, preds)
        if paired:
            est = float(aucs[0] - aucs[1])
            var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
        else:
            est, var = float(aucs[0]), float(cov[0, 0])
        return _one_sided(est, math.sqrt(max(var, 0.0)), confidence, hib, "delong", n)

    if metric.kind == "confusion":
        assert metric.from_confusion is not None
        k = int(max(int(y.max(initial=0)), *(int(p.max(initial=0)) for p in preds))) + 1
        k = max(k, 2)
        code = y.astype(np.int64)
        for p in preds:
            code = code * k + p.astype(np.int64)
        cells = k ** (1 + len(preds))
        counts = np.bincount(code, minlength=cells).astype(np.float64)
        draws = rng.multinomial(n, counts / counts.sum(), size=n_resamples).astype(np.float64)
        f = metric.from_confusion
        if paired:
            table = draws.reshape(n_resamples, k, k, k)
            reps = sign * (f(table.sum(axis=3)) - f(table.sum(axis=2)))
            obs = counts.reshape(k, k, k)
            est = float(sign * (f(obs.sum(axis=2)) - f(obs.sum(axis=1))))
        else:
            reps = f(draws.reshape(n_resamples, k, k))
            est = float(f(counts.reshape(k, k)))
        return _from_replicates(est, np.asarray(reps), confidence, hib,
                                "bootstrap-cells-percentile", n)

    if metric.kind == "mean":
        assert metric.per_row is not None
        rows = [metric.per_row(y, p) for p in preds]
        d = sign * (rows[0] - rows[1]) if paired else rows[0]
        est = float(d.mean())
        if n >= T_INTERVAL_MIN_ROWS:
            se = float(d.std(ddof=1) / math.sqrt(n))
            q = float(sps.t.ppf(confidence, n - 1)) * se
            return _one_sided(est, se, confidence, hib, "paired-t" if paired else "t", n, q)
        reps = _bootstrap_means(d, rng, n_resamples)
        return _from_replicates(est, reps, confidence, hib, "bootstrap-percentile", n)

    if metric.kind == "rmse":
        sq = [(y - p) ** 2 for p in preds]
        r = [math.sqrt(float(s.mean())) for s in sq]
        if min(r) == 0:
            raise StatsError("RMSE is zero: a perfect prediction has no interval")
        if paired:
            psi = sign * (sq[0] / (2 * r[0]) - sq[1] / (2 * r[1]))
            est = sign * (r[0] - r[1])
        else:
            psi, est = sq[0] / (2 * r[0]), r[0]
        se = float(psi.std(ddof=1) / math.sqrt(n))
        return _one_sided(est, se, confidence, hib, "delta-method", n)

    if metric.kind == "r2":
        v = (y - y.mean()) ** 2
        vbar = float(v.mean())
        if vbar == 0:
            raise StatsError("R² is undefined: the target is constant")
        sq = [(y - p) ** 2 for p in preds]
        if paired:
            est = float((sq[1].mean() - sq[0].mean()) / vbar)
            psi = ((sq[1] - sq[0]) - est * v) / vbar
        else:
            ratio = float(sq[0].mean() / vbar)
            est = 1 - ratio
            psi = -(sq[0] - ratio * v) / vbar
        se = float(psi.std(ddof=1) / math.sqrt(n))
        return _one_sided(est, se, confidence, hib, "delta-method", n)

    return _generic(metric, y, preds, confidence, rng, n_resamples)


def _bootstrap_means(d: Array, rng: np.random.Generator, n_resamples: int) -> Array:
    n = len(d)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, _CHUNK):
        size = min(_CHUNK, n_resamples - start)
        out[start:start + size] = d[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return out


def _weighted_fn(metric: Metric, y: Array, pred: Array) -> Callable[[Array], Array] | None:
    """For metrics that can sort once and reweight (average precision): a function of a
    (replicates × rows) weight matrix giving one value per replicate."""
    if metric.fn is not average_precision:
        return None
    order = np.argsort(-pred, kind="mergesort")
    s, pos = pred[order], (y[order] == 1)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each distinct score

    def ap(w: Array) -> Array:
        ww = w[:, order]
        tp = np.cumsum(ww * pos, axis=1)[:, last]
        fp = np.cumsum(ww * ~pos, axis=1)[:, last]
        total = tp[:, -1:]
        precision = tp / np.maximum(tp + fp, 1e-300)
        gain = np.diff(np.concatenate([np.zeros_like(total), tp], axis=1), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total[:, 0] > 0, (gain * precision).sum(axis=1) / total[:, 0], np.nan)

    return ap


def _row_counts(rng: np.random.Generator, n: int, size: int) -> Array:
    """``size`` bootstrap resamples of ``n`` rows as count vectors (size × n)."""
    idx = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)


def _generic(metric: Metric, y: Array, preds: list[Array], confidence: float,
             rng: np.random.Generator, n_resamples: int) -> Interval:
    n = len(y)
    paired = len(preds) == 2
    sign = metric.sign if paired else 1.0
    values = [metric.fn(y, p) for p in preds]
    est = float(sign * (values[0] - values[1])) if paired else float(values[0])
    weighted = [_weighted_fn(metric, y, p) for p in preds]
    reps = np.empty(n_resamples)
    if all(w is not None for w in weighted):
        chunk = max(1, min(_CHUNK, (1 << 22) // max(n, 1)))
        for start in range(0, n_resamples, chunk):
            size = min(chunk, n_resamples - start)
            w = _row_counts(rng, n, size)
            vals = [f(w) for f in weighted]  # type: ignore[misc]
            reps[start:start + size] = sign * (vals[0] - vals[1]) if paired else vals[0]
    else:
        for b in range(n_resamples):
            idx = rng.integers(0, n, size=n)
            vals = [metric.fn(y[idx], p[idx]) for p in preds]
            reps[b] = sign * (vals[0] - vals[1]) if paired else vals[0]
    hib = True if paired else metric.higher_is_better
    return _from_replicates(est, reps, confidence, hib, "bootstrap-percentile", n)
