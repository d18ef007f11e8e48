"""Intervals for one metric, and for the paired difference between two models.

Every interval here is **one-sided** at ``confidence``: for a comparison, the lower bound of
Δ = sign · (candidate − champion), oriented so that positive means the candidate is better;
for a single model's value, the bound on its bad side (lower for higher-is-better metrics).

Method by metric kind (see :mod:`evalgate.metrics` and docs/statistics.md):

=============  ===========================================================================
``auc``        DeLong's covariance of correlated ROC AUCs, by midranks (Sun & Xu 2014)
``confusion``  bootstrap of the joint cells (truth, candidate label, champion label): one
               multinomial draw per replicate, cost independent of the row count; BCa with
               the jackknife computed per cell. Δ's bound is at most the *discordance
               floor* (:func:`discordance_floor`): the rows on which the models disagree
               bounded exactly (Clopper–Pearson), all unseen disagreement against the
               candidate — so no or few discordant rows never give a bound of exactly 0
``mean``       paired bootstrap, BCa with the analytic jackknife of a mean; paired t at
               ``ASYMPTOTIC_MIN_ROWS`` rows and above
``rmse``,      paired bootstrap of rows, BCa with an analytic jackknife; delta method at
``r2``         ``ASYMPTOTIC_MIN_ROWS`` rows and above
``generic``    paired bootstrap (average precision: sort once, reweight; rows with equal
               (truth, predictions) merged into weighted cells first), BCa with a grouped
               jackknife
=============  ===========================================================================

A paired comparison on fewer than ``MIN_COMPARISON_ROWS`` rows has the lower bound −∞
(method ``too-few-rows``): it is inconclusive, whatever the rows say.

BCa falls back to the percentile interval when it is degenerate (all replicates equal, or the
estimate outside them), and the recorded method says so. Pure numpy/scipy; the caller passes
a seeded :class:`numpy.random.Generator`, so the same seed gives the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import special
from scipy import stats as sps

from .metrics import Metric, average_precision

Array = np.ndarray

#: at and above this many rows, means use the t interval and RMSE/R² the delta method
ASYMPTOTIC_MIN_ROWS = 50_000
#: fewer rows than this cannot resolve a paired comparison: Δ's lower bound is −∞
#: (inconclusive). At 2 rows a bootstrap has three distinct replicates, and two rows on
#: which the candidate wins both give a positive "bound"; the exact sign test of 20 rows
#: all won has p ≈ 1e-6, so a decisive 20-row result still decides.
MIN_COMPARISON_ROWS = 20
#: groups of the delete-a-group jackknife that gives BCa's acceleration for generic metrics
JACKKNIFE_GROUPS = 100
_MAX_ELEMENTS = 1 << 22  # replicates × rows per vectorised block


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
        if not math.isfinite(self.lower):  # too few rows for any bound
            return max(MIN_COMPARISON_ROWS, self.n + 1)
        half = self.estimate - self.lower
        if half <= 0:
            return self.n
        return int(math.ceil(self.n * (half / (self.estimate + margin)) ** 2))


@dataclass(frozen=True)
class Assessment:
    """The candidate's value, the champion's value and the paired difference."""

    value: Interval
    champion_value: float | None = None
    delta: Interval | None = None


class StatsError(ValueError):
    """The data cannot support an interval (e.g. a single class present)."""


# --------------------------------------------------------------------------- building blocks


def one_sided(estimate: float, se: float, confidence: float, higher_is_better: bool,
              method: str, n: int, critical: float | None = None) -> Interval:
    """A normal (or t, via ``critical``) one-sided interval on the bad side."""
    width = (critical if critical is not None else float(special.ndtri(confidence))) * se
    if higher_is_better:
        return Interval(estimate, estimate - width, None, se, method, n)
    return Interval(estimate, None, estimate + width, se, method, n)


def bca_bound(theta: float, reps: Array, jack: Array, weights: Array | None,
              confidence: float, lower: bool) -> tuple[float, bool]:
    """One-sided BCa bound of ``theta`` from bootstrap ``reps`` and jackknife values ``jack``
    (``weights`` = how many rows each jackknife value stands for). Returns the bound and
    whether BCa applied (``False``: degenerate, the percentile bound was used)."""
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        raise StatsError("every bootstrap replicate was undefined")
    alpha = 1 - confidence if lower else confidence
    percentile = float(np.percentile(reps, alpha * 100))
    if np.all(reps == reps[0]):
        return percentile, False
    p0 = (np.count_nonzero(reps < theta) + np.count_nonzero(reps <= theta)) / (2 * reps.size)
    if not 0 < p0 < 1:
        return percentile, False
    z0 = float(special.ndtri(p0))
    w = np.ones_like(jack) if weights is None else weights
    mean = float(np.sum(w * jack) / np.sum(w))
    dev = mean - jack
    den = 6.0 * float(np.sum(w * dev**2)) ** 1.5
    a = float(np.sum(w * dev**3)) / den if den > 0 else 0.0
    z = float(special.ndtri(alpha))
    adjusted = float(special.ndtr(z0 + (z0 + z) / (1 - a * (z0 + z))))
    if not np.isfinite(adjusted) or not 0 < adjusted < 1:
        return percentile, False
    return float(np.percentile(reps, adjusted * 100)), True


def _bootstrap_interval(theta: float, reps: Array, jack: Array, weights: Array | None,
                        confidence: float, higher_is_better: bool, method: str,
                        n: int) -> Interval:
    bound, bca = bca_bound(theta, reps, jack, weights, confidence, lower=higher_is_better)
    finite = reps[np.isfinite(reps)]
    se = float(np.std(finite, ddof=1)) if finite.size > 1 else 0.0
    name = f"{method}-bca" if bca else f"{method}-percentile"
    if higher_is_better:
        return Interval(theta, bound, None, se, name, n)
    return Interval(theta, None, bound, se, name, n)


def row_counts(rng: np.random.Generator, n: int, size: int) -> Array:
    """``size`` bootstrap resamples of ``n`` rows as count vectors (size × n)."""
    idx = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=size * n).reshape(size, n)


def cell_counts(rng: np.random.Generator, n: int, counts: Array, size: int) -> Array:
    """``size`` bootstrap resamples of ``n`` rows summarised as counts per cell (size × cells):
    one multinomial draw each, identical in distribution to resampling the rows."""
    return rng.multinomial(n, counts / counts.sum(), size=size)


def _blocks(total: int, width: int) -> list[tuple[int, int]]:
    step = max(1, _MAX_ELEMENTS // max(width, 1))
    return [(s, min(total, s + step)) for s in range(0, total, step)]


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


# --------------------------------------------------------------------------- assess


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


def value_interval(metric: Metric, y: Array, pred: Array, *, confidence: float,
                   rng: np.random.Generator, n_resamples: int) -> Interval:
    """The metric's value for one model, bounded on its bad side."""
    return assess(metric, y, pred, None, confidence=confidence, rng=rng,
                  n_resamples=n_resamples).value


def paired_interval(metric: Metric, y: Array, cand: Array, champ: Array, *, confidence: float,
                    rng: np.random.Generator, n_resamples: int) -> Interval:
    """Δ = sign · (candidate − champion) with its one-sided lower confidence bound."""
    delta = assess(metric, y, cand, champ, confidence=confidence, rng=rng,
                   n_resamples=n_resamples).delta
    assert delta is not None
    return delta


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
    value = _bootstrap_interval(float(f(ta)), np.asarray(f(ra)), np.asarray(f(ja)), w,
                                confidence, metric.higher_is_better, "bootstrap-cells", n)
    if champ is None:
        return Assessment(value)
    assert tb is not None and jb is not None and rb is not None
    s = metric.sign
    delta = _bootstrap_interval(float(s * (f(ta) - f(tb))), s * (f(ra) - f(rb)),
                                s * (f(ja) - f(jb)), w, confidence, True, "bootstrap-cells", n)
    floor = discordance_floor(f, s, counts.reshape(shape), confidence)
    if delta.lower is not None and floor < delta.lower:
        delta = replace(delta, lower=floor, method=f"{delta.method}+discordance-floor")
    return Assessment(value, float(f(tb)), delta)


def clopper_pearson_upper(x: Array | float, n: Array | float, confidence: float) -> Array:
    """The exact one-sided upper bound of a proportion x/n at ``confidence`` (Clopper &
    Pearson 1934); 1 where x = n (vectorised)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = sps.beta.ppf(confidence, x + 1, np.maximum(n - x, 1e-300))
    return np.where(x >= n, 1.0, upper)


def discordance_floor(f: Callable[[Array], Array], sign: float, joint: Array,
                      confidence: float) -> float:
    """The lowest Δ = sign · (f(candidate) − f(champion)) once the disagreement the rows may
    have missed is counted against the candidate.

    ``joint`` holds counts per (truth, candidate label, champion label). In each stratum —
    every truth class t, and all rows — the discordant count D of n rows (candidate label ≠
    champion label) is bounded above exactly: Clopper–Pearson U at ``confidence``, so up to
    m = n·U − D discordant rows were not seen. Those m rows are taken from rows on which
    the models agree and made to go against the candidate: rows both got right become
    candidate-wrong (to its most frequent wrong label), or rows both got wrong become
    champion-right; within a class, or spread over the classes in proportion for all rows.
    The floor is the least Δ over these cases. For accuracy with no discordant row it is
    −U(0 of n) = −(1 − (1 − confidence)^(1/n)); at many discordant rows it is about the
    normal bound of Δ (the bootstrap's, which the caller keeps when it is lower)."""
    k = joint.shape[0]
    ta, tb = joint.sum(axis=2), joint.sum(axis=1)
    idx = np.arange(k)
    agree_right = joint[idx, idx, idx]  # both right, per class
    agree = np.einsum("tjj->tj", joint).copy()  # both said j, per class t
    agree[idx, idx] = 0.0  # both wrong with the same label
    wrong_to = np.where(ta.sum(axis=1) > ta[idx, idx],  # the candidate's usual error
                        np.argmax(np.where(np.eye(k, dtype=bool), -1.0, ta), axis=1),
                        (idx + 1) % k)
    both_wrong = np.argmax(agree, axis=1)  # the champion's move: its most common shared error
    n_t = joint.sum(axis=(1, 2))
    d_t = n_t - np.einsum("tjj->t", joint)
    unseen_t = np.maximum(n_t * clopper_pearson_upper(d_t, n_t, confidence) - d_t, 0.0)
    n, d = float(n_t.sum()), float(d_t.sum())
    unseen = max(n * float(clopper_pearson_upper(d, n, confidence)) - d, 0.0)

    def moved(cand_rows: Array, champ_rows: Array) -> Array:
        """Tables after moving ``cand_rows[c, t]`` / ``champ_rows[c, t]`` rows of class t
        (case c) against the candidate: (cases, k, k) each."""
        a = np.repeat(ta[None], len(cand_rows), axis=0)
        b = np.repeat(tb[None], len(champ_rows), axis=0)
        a[:, idx, idx] -= cand_rows
        a[:, idx, wrong_to] += cand_rows  # (t, wrong_to[t]): one cell per class
        b[:, idx, both_wrong] -= champ_rows
        b[:, idx, idx] += champ_rows
        return sign * (f(a) - f(b))

    eye = np.eye(k)
    zeros = np.zeros((k, k))
    right_share = agree_right / agree_right.sum() if agree_right.sum() > 0 else n_t * 0
    wrong_avail = agree[idx, both_wrong]
    wrong_share = wrong_avail / wrong_avail.sum() if wrong_avail.sum() > 0 else n_t * 0
    cand_cases = np.vstack([eye * np.minimum(unseen_t, agree_right),  # within a class
                            zeros,
                            np.minimum(unseen * right_share, agree_right)[None],  # all rows
                            np.zeros((1, k))])
    champ_cases = np.vstack([zeros,
                             eye * np.minimum(unseen_t, wrong_avail),
                             np.zeros((1, k)),
                             np.minimum(unseen * wrong_share, wrong_avail)[None]])
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.asarray(moved(cand_cases, champ_cases), dtype=np.float64)
        base = float(sign * (f(ta) - f(tb)))
    values = values[np.isfinite(values)]
    return float(min(base, values.min())) if values.size else base


def _resampled_means(rng: np.random.Generator, columns: Array, n_resamples: int) -> Array:
    """Bootstrap means of each column of ``columns`` (n × c): (n_resamples × c)."""
    n = columns.shape[0]
    cols = [np.ascontiguousarray(columns[:, j]) for j in range(columns.shape[1])]
    out = np.empty((n_resamples, columns.shape[1]))
    for start, stop in _blocks(n_resamples, n):
        idx = rng.integers(0, n, size=(stop - start, n))
        for j, col in enumerate(cols):
            out[start:stop, j] = np.take(col, idx).mean(axis=1)
    return out


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
    reps = _resampled_means(rng, cols, n_resamples)
    # the jackknife of a mean: leave row i out → (S − x_i) / (n − 1)
    jack = (cols.sum(axis=0) - cols) / (n - 1)
    value = _bootstrap_interval(float(la.mean()), reps[:, 0], jack[:, 0], None, confidence,
                                hib, "bootstrap", n)
    if d is None:
        return Assessment(value)
    delta = _bootstrap_interval(float(d.mean()), reps[:, 1], jack[:, 1], None, confidence,
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
    reps = stat(_resampled_means(rng, cols, n_resamples))
    jack = stat((cols.sum(axis=0) - cols) / (n - 1))
    value = _bootstrap_interval(float(theta[0]), reps[:, 0], jack[:, 0], None, confidence,
                                hib, "bootstrap", n)
    if champ is None:
        return Assessment(value)
    delta = _bootstrap_interval(float(s * (theta[0] - theta[1])), s * (reps[:, 0] - reps[:, 1]),
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


# --------------------------------------------------------------------------- generic


_POISSON_TABLE: Array | None = None


def poisson_weights(rng: np.random.Generator, shape: tuple[int, int]) -> Array:
    """Poisson(1) bootstrap weights (uint8) by a 16-bit inverse-CDF table: the Poisson
    bootstrap (Hanley & MacGibbon 2006), independent weights with the multinomial's first
    three moments, for resampling at large n without drawing row indices."""
    global _POISSON_TABLE
    if _POISSON_TABLE is None:
        cdf = np.cumsum(sps.poisson.pmf(np.arange(32), 1.0))
        _POISSON_TABLE = np.searchsorted(cdf, (np.arange(65536) + 0.5) / 65536).astype(np.uint8)
    return np.take(_POISSON_TABLE, rng.integers(0, 65536, size=shape, dtype=np.uint16))


def _cells_of(y: Array, preds: list[Array]) -> tuple[Array, Array, Array] | None:
    """Rows with identical (truth, predictions) as cells — (cell of each row, a row of each
    cell, rows per cell) — when there are at most n/8 cells, else ``None``."""
    n = len(y)
    key = y.astype(np.int64)
    size = 2
    for p in preds:
        values, code = np.unique(p, return_inverse=True)
        if len(values) * 8 > n or size * len(values) >= 2**62:
            return None
        key = key + code.astype(np.int64).reshape(-1) * size
        size *= len(values)
    _, first, unit, counts = np.unique(key, return_index=True, return_inverse=True,
                                       return_counts=True)
    if len(counts) * 8 > n:
        return None
    return unit.reshape(-1), first, counts.astype(np.float64)


class _WeightedAP:
    """Average precision of one model under many weightings of the same units (rows, or
    merged cells), all in one layout: the units sorted by the first model's score.

    Sorting happens once; a block of weights (replicates × units) costs a few vectorised
    passes: the weighted count of units ranked at or above each positive (cumulative sum
    over all units) and the weighted count of positives (cumulative sum over positives)."""

    def __init__(self, y: Array, score: Array, layout: Array | None):
        order = np.argsort(-score, kind="mergesort")
        s = score[order]
        n = len(s)
        self.perm = None if layout is None else layout[order]  # unit → position in layout
        group = np.r_[0, np.cumsum(s[1:] != s[:-1])]
        last = np.r_[np.flatnonzero(np.diff(s)), n - 1]  # end of each run of equal scores
        positive = y[order] == 1
        self.pos_layout = (np.flatnonzero(positive) if self.perm is None
                           else self.perm[positive])
        self.end_all = last[group[positive]]
        self.end_pos = np.cumsum(positive)[self.end_all] - 1

    def __call__(self, w: Array) -> Array:
        dtype = np.int32 if w.dtype.itemsize < 4 else np.int64
        ordered = w if self.perm is None else np.take(w, self.perm, axis=1)
        seen = np.take(np.cumsum(ordered, axis=1, dtype=dtype), self.end_all, axis=1)
        wp = np.take(w, self.pos_layout, axis=1)
        tp_all = np.cumsum(wp, axis=1, dtype=dtype)
        tp = np.take(tp_all, self.end_pos, axis=1)
        precision = tp / np.maximum(seen, 1)  # seen = 0 only where tp = 0
        total = tp_all[:, -1] if tp_all.shape[1] else np.zeros(len(w), dtype=dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.einsum("ij,ij->i", wp, precision) / total


def _ap_bootstrap(y: Array, preds: list[Array], rng: np.random.Generator, n_resamples: int
                  ) -> tuple[Array, Array, None, str]:
    """Bootstrap replicates and grouped-jackknife values of average precision for each model
    (columns), plus the jackknife weights and the resampling scheme's name."""
    n = len(y)
    cells = _cells_of(y, preds)
    if cells is not None:  # few distinct rows: resample cells, exactly as rows
        unit_of_row, first_row, counts = cells
        units_y, units_p = y[first_row], [p[first_row] for p in preds]
        scheme = "bootstrap-cells"
    else:
        units_y, units_p, scheme, unit_of_row = y, preds, "bootstrap", np.arange(n)
        counts = np.ones(n)
        if n >= ASYMPTOTIC_MIN_ROWS:
            scheme = "poisson-bootstrap"
    m = len(units_y)
    base = np.argsort(-units_p[0], kind="mergesort")
    layout = np.empty(m, dtype=np.int64)
    layout[base] = np.arange(m)
    models = [_WeightedAP(units_y, p, layout) for p in units_p]
    y_layout = np.empty(m)
    y_layout[layout] = units_y

    def draw(r: np.random.Generator, size: int) -> Array:
        if scheme == "bootstrap-cells":
            return r.multinomial(n, counts[base] / n, size=size).astype(np.int32)
        if scheme == "poisson-bootstrap":
            return poisson_weights(r, (size, m))
        return row_counts(r, m, size).astype(np.int32)  # rows are exchangeable: draw in layout

    block = max(1, min(4, (1 << 22) // max(m, 1)))
    starts = list(range(0, n_resamples, block))
    seeds = rng.integers(0, 2**63 - 1, size=len(starts))

    # delete-a-group jackknife: each row in one of JACKKNIFE_GROUPS random groups
    groups = np.arange(n) % min(JACKKNIFE_GROUPS, n)
    rng.shuffle(groups)
    g = int(groups.max()) + 1
    unit_layout = layout[unit_of_row]
    members = [unit_layout[groups == j] for j in range(g)]
    if cells is None:  # one row per unit: leaving a group out zeroes its rows
        full = np.ones(m, dtype=np.uint8)
    else:  # rows merged into cells: leaving a group out lowers its cells' counts
        full = np.bincount(unit_layout, minlength=m).astype(np.int32)
    jack_starts = list(range(0, g, block))

    def run(i: int) -> Array:
        if i < len(starts):  # a block of bootstrap replicates
            size = min(block, n_resamples - starts[i])
            w = draw(np.random.default_rng(seeds[i]), size)
        else:  # a block of jackknife deletions
            first = jack_starts[i - len(starts)]
            rows = range(first, min(g, first + block))
            w = np.repeat(full[None, :], len(rows), axis=0)
            for k, j in enumerate(rows):
                if cells is None:
                    w[k, members[j]] = 0
                else:
                    np.subtract.at(w[k], members[j], 1)
        return np.column_stack([f(w) for f in models])

    blocks = _parallel(run, len(starts) + len(jack_starts))
    reps = np.concatenate(blocks[:len(starts)])
    jack = np.concatenate(blocks[len(starts):])
    return reps, jack, None, scheme


def _parallel(fn: Callable[[int], Array], count: int) -> list[Array]:
    """Run ``fn(0..count-1)`` on up to two threads (numpy releases the GIL); results in order."""
    if count < 4:
        return [fn(i) for i in range(count)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(fn, range(count)))


def _generic(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
             rng: np.random.Generator, n_resamples: int) -> Assessment:
    n = len(y)
    preds = [cand] if champ is None else [cand, champ]
    values = [float(metric.fn(y, p)) for p in preds]
    s = metric.sign
    if metric.fn is average_precision:
        reps, jack, weights, scheme = _ap_bootstrap(y, preds, rng, n_resamples)
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
    value = _bootstrap_interval(values[0], reps[:, 0], jack[:, 0], weights, confidence,
                                metric.higher_is_better, scheme, n)
    if champ is None:
        return Assessment(value)
    delta = _bootstrap_interval(s * (values[0] - values[1]), s * (reps[:, 0] - reps[:, 1]),
                                s * (jack[:, 0] - jack[:, 1]), weights, confidence, True,
                                f"paired-{scheme}", n)
    return Assessment(value, values[1], delta)


# --------------------------------------------------------------------------- proportions


def z_of(confidence: float) -> float:
    return float(special.ndtri(confidence))


def wilson(x: Array, n: Array, z: float) -> tuple[Array, Array]:
    """Wilson's score interval of x/n (vectorised); each end a one-sided bound at Φ(z).
    NaN where n = 0."""
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1 + z * z / n
        center = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(center - half, 0, 1), np.clip(center + half, 0, 1)


def newcombe(x1: float, n1: float, x2: float, n2: float, z: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p1 − p2 for independent proportions (his method
    10, from Wilson intervals); each end a one-sided bound at Φ(z)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = (float(v) for v in wilson(np.array(x1), np.array(n1), z))
    l2, u2 = (float(v) for v in wilson(np.array(x2), np.array(n2), z))
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def mover_ratio(p1: float, l1: float, u1: float, p2: float, l2: float, u2: float
                ) -> tuple[float | None, float | None]:
    """MOVER-R interval of p1 / p2 from intervals of p1 and p2 (Donner & Zou 2012);
    ``None`` for an end the method cannot give (a denominator interval reaching 0)."""
    prod = p1 * p2
    lower: float | None = None
    upper: float | None = None
    den = u2 * (2 * p2 - u2)
    disc = prod * prod - l1 * u2 * (2 * p1 - l1) * (2 * p2 - u2)
    if den > 0 and disc >= 0:
        lower = max(0.0, (prod - math.sqrt(disc)) / den)
    den = l2 * (2 * p2 - l2)
    disc = prod * prod - u1 * l2 * (2 * p1 - u1) * (2 * p2 - l2)
    if den > 0 and disc >= 0:
        upper = (prod + math.sqrt(disc)) / den
    return lower, upper
