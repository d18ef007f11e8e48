"""Heavy tails of a mean: the diagnostic that decides whether the t (or delta-method) interval
is accurate, the choice of the rows a tail-exact bootstrap resamples one by one, and the count
of a log loss's confident-wrong rows (docs/stats-tails.md).

The diagnostic is the skewness of the mean, ĝ = Σ(xᵢ − x̄)³ / (Σ(xᵢ − x̄)²)^{3/2} — the sample
skewness divided by √n, and six times BCa's acceleration. By the Edgeworth expansion of the
studentized mean (Hall 1992, ch. 2), the one-sided t bound at confidence c = 1 − α misses with
probability

    α − φ(z)·(2z² + 1)/6 · γ/√n + O(1/n),    z = Φ⁻¹(c),

γ the skewness of one row: a left-skewed Δ (γ < 0, a few rows far below the rest) makes the
lower bound too high. The t
interval is used only where the estimated excess, ``t_error`` = φ(z)(2z² + 1)/6 · |ĝ|, is at
most :data:`T_ERROR_SHARE` of α; otherwise the tail decides and the bootstrap (BCa, whose
acceleration is this very skewness) is used. A handful of rows with a loss far from the rest
gives |ĝ| ≈ 1/√(their count), so a tail carried by fewer than about two thousand rows always
goes to the bootstrap when it carries most of the variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..metrics import Metric
from .intervals import Assessment

Array = np.ndarray

#: the t bound's estimated coverage error allowed, as a share of α (at 95%: 0.25 points)
T_ERROR_SHARE = 0.05
#: the bulk's normal limit in the tail-exact bootstrap may err by this share of α at most
BULK_ERROR_SHARE = 0.01
#: the tail-exact bootstrap resamples at least, and at most, this many rows one by one
EXACT_ROWS_MIN = 1024
EXACT_ROWS_MAX = 1 << 16
#: a log loss row is *confident-wrong* when the model gave the true class a probability below
#: this: its loss exceeds −log(0.01) ≈ 4.61
CONFIDENT_WRONG_P = 0.01
CONFIDENT_WRONG_LOSS = -math.log(CONFIDENT_WRONG_P)


@dataclass(frozen=True)
class TailDiagnostic:
    """How far the mean of one column of per-row values is from its normal limit."""

    #: ĝ = Σe³ / (Σe²)^{3/2}, e = x − x̄: the sample skewness over √n (negative: a left tail)
    skewness: float
    #: the t bound's estimated excess miss rate, φ(z)(2z² + 1)/6 · |ĝ|
    t_error: float
    #: (Σe²)² / Σe⁴: how many rows carry the variance (n/3 for normal rows; about the count
    #: of extreme rows when a few of them dominate)
    effective_rows: float
    #: the tail decides: ``t_error`` exceeds T_ERROR_SHARE · α
    heavy: bool


@dataclass(frozen=True)
class MeanAssessment(Assessment):
    """An assessment of a mean metric with the diagnostic of the column that decided it
    (Δ's paired differences, or the candidate's own values without a champion)."""

    tail: TailDiagnostic | None = None
    #: rows resampled one by one by the tail-exact bootstrap (``None``: not used)
    exact_rows: int | None = None


def edgeworth_factor(confidence: float) -> float:
    """φ(z)(2z² + 1)/6 at z = Φ⁻¹(confidence): the t bound's excess miss rate per unit of
    the mean's skewness."""
    z = float(special.ndtri(confidence))
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi) * (2 * z * z + 1) / 6


def skewness_of_mean(x: Array) -> tuple[float, float]:
    """ĝ = Σe³/(Σe²)^{3/2} and (Σe²)²/Σe⁴ of ``x`` (scaled first, so huge values stay finite);
    (0, n) for a constant column."""
    e = np.asarray(x, dtype=np.float64) - float(np.mean(x))
    top = float(np.max(np.abs(e), initial=0.0))
    if top == 0 or not math.isfinite(top):
        return 0.0, float(len(e))
    u = e / top
    u2 = u * u
    s2 = float(u2.sum())
    return float(np.dot(u2, u)) / s2**1.5, s2 * s2 / float(np.dot(u2, u2))


def diagnose(x: Array, confidence: float) -> TailDiagnostic:
    """The tail diagnostic of the mean of ``x`` at ``confidence``."""
    g, effective = skewness_of_mean(x)
    error = edgeworth_factor(confidence) * abs(g)
    return TailDiagnostic(g, error, effective, error > T_ERROR_SHARE * (1 - confidence))


def exact_rows(decision: Array, confidence: float) -> Array | None:
    """The rows the tail-exact bootstrap resamples one by one: those farthest from the mean of
    ``decision`` (the column, or the influence function, whose tail decides) — every row at
    least as far as the k-th farthest, with k the smallest of 1,024, 4,096, … (at most 65,536
    and n/2) such that the normal limit of the rest (the bulk) errs by at most
    BULK_ERROR_SHARE · α: by the same Edgeworth estimate, with the bulk's third moment over the
    whole column's variance, Σ_bulk e³ / (Σ e²)^{3/2} (e centred on the bulk's own mean). ``None``:
    no such k (a tail too broad: resample every row). Defined by the values alone, so ties
    and row order cannot change it."""
    n = len(decision)
    e = decision - float(np.mean(decision))
    top = float(np.max(np.abs(e), initial=0.0))
    if top == 0:
        return None
    u = e / top  # scaled, so that cubes of huge values stay finite
    total = float(np.dot(u, u)) ** 1.5
    dist = np.abs(u)
    limit = BULK_ERROR_SHARE * (1 - confidence) / edgeworth_factor(confidence)
    k = EXACT_ROWS_MIN
    while k <= min(EXACT_ROWS_MAX, n // 2):
        cut = float(np.partition(dist, n - k)[n - k])  # the k-th largest distance
        bulk = dist < cut
        rest = u[bulk] - float(np.mean(u[bulk]))
        if rest.size >= n // 2 and abs(float(np.dot(rest * rest, rest))) <= limit * total:
            return np.flatnonzero(~bulk)
        k *= 4
    return None


def confident_wrong(metric: Metric, y: Array, pred: Array) -> int | None:
    """Rows on which a log loss model gave the true class a probability below 1% (a row loss
    above −log 0.01); ``None`` for any other metric."""
    if metric.name != "log_loss" or metric.per_row is None:
        return None
    return int(np.count_nonzero(metric.per_row(y, pred) > CONFIDENT_WRONG_LOSS))
