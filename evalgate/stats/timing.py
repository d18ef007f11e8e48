"""Honest latency arithmetic: order-statistic percentiles, distribution-free confidence bounds
for a percentile from the calls made (and how many calls would resolve a limit), the
candidate/champion time ratio with an interval, and an open-loop load driver that measures
from the scheduled arrival (no coordinated omission)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999))
#: the method recorded for a percentile judged by :func:`quantile_bounds`
QUANTILE_METHOD = "order statistic (binomial)"
#: the most calls :func:`calls_to_resolve` will suggest
MAX_CALLS_ESTIMATE = 10_000_000

Verdict = Literal["pass", "fail", "inconclusive"]


def percentile(samples: Sequence[float] | np.ndarray, q: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least a share ``q`` of the
    samples at or below it (an observed value, never an interpolation)."""
    arr = np.sort(np.asarray(samples, dtype=np.float64))
    if arr.size == 0:
        return float("nan")
    rank = max(1, math.ceil(q * arr.size))
    return float(arr[rank - 1])


def min_samples(q: float, confidence: float = 0.99, tolerated: int = 1) -> int:
    """MLPerf Inference's early-stopping count: the fewest calls n such that, tolerating
    ``tolerated`` calls above it, an order statistic bounds the ``q`` percentile at
    ``confidence`` — P(Binomial(n, 1 − q) ≤ tolerated) ≤ 1 − confidence.
    64 calls for p90, 662 for p99 (at 99%, one tolerated)."""
    from scipy import stats as sps  # only the timed families need it

    lo, hi = 1, 2
    while sps.binom.cdf(tolerated, hi, 1 - q) > 1 - confidence:
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        if sps.binom.cdf(tolerated, mid, 1 - q) > 1 - confidence:
            lo = mid + 1
        else:
            hi = mid
    return lo


def trustworthy(n: int) -> list[str]:
    """The percentiles that ``n`` calls bound at 99% confidence."""
    return [name for name, q in PERCENTILES if n >= min_samples(q)]


def quantile_ranks(n: int, q: float, confidence: float) -> tuple[int | None, int | None]:
    """The 1-based ranks (l, u) of the order statistics x_(l) ≤ ξ_q ≤ x_(u) that bound the
    ``q``-quantile ξ_q of any distribution, each side at one-sided ``confidence``, from ``n``
    independent samples.

    With B = #{X_i ≤ ξ_q} ~ Binomial(n, q) (continuous F; for ties B is stochastically larger,
    which only makes both bounds conservative):

    - x_(l) > ξ_q iff B < l, so P(x_(l) ≤ ξ_q) ≥ P(B ≥ l); l is the *largest* rank with
      P(Binomial(n, q) ≥ l) ≥ confidence;
    - x_(u) < ξ_q iff #{X_i < ξ_q} ≥ u, so P(x_(u) ≥ ξ_q) ≥ P(B ≤ u − 1); u is the
      *smallest* rank with P(Binomial(n, q) ≤ u − 1) ≥ confidence.

    ``None`` where no rank qualifies: the lower bound is −∞ (too few samples below), or the
    upper bound is +∞ (p99 at 95% needs n ≥ 299: q^n ≤ 1 − confidence)."""
    from scipy import stats as sps  # only the timed families need it

    if n <= 0:
        return None, None
    ranks = np.arange(1, n + 1)
    above = sps.binom.sf(ranks - 1, n, q)  # P(B ≥ l)
    below = sps.binom.cdf(ranks - 1, n, q)  # P(B ≤ u − 1)
    lows = np.flatnonzero(above >= confidence)
    highs = np.flatnonzero(below >= confidence)
    lower = int(ranks[lows[-1]]) if lows.size else None
    upper = int(ranks[highs[0]]) if highs.size else None
    return lower, upper


@dataclass(frozen=True)
class QuantileBound:
    """A percentile of the calls made and its distribution-free one-sided bounds (each at
    ``confidence``); ``None`` for a bound that ``n`` calls cannot give (−∞ or +∞)."""

    q: float
    n: int
    confidence: float
    estimate: float
    lower: float | None
    upper: float | None
    lower_rank: int | None
    upper_rank: int | None
    method: str = QUANTILE_METHOD

    def judge(self, limit: float) -> Verdict:
        """``fail`` when the lower bound is above ``limit`` (the percentile is above it at
        ``confidence``), ``pass`` when the upper bound is within it, else ``inconclusive``."""
        if self.lower is not None and self.lower > limit:
            return "fail"
        if self.upper is not None and self.upper <= limit:
            return "pass"
        return "inconclusive"

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {"q": self.q, "n": self.n, "confidence": self.confidence,
                "estimate": self.estimate, "lower": self.lower, "upper": self.upper,
                "lower_rank": self.lower_rank, "upper_rank": self.upper_rank,
                "method": self.method}


def quantile_bounds(samples: Sequence[float], q: float, confidence: float) -> QuantileBound:
    """The nearest-rank ``q`` percentile of ``samples`` with its order-statistic bounds."""
    arr = np.sort(np.asarray(samples, dtype=np.float64))
    lo, hi = quantile_ranks(arr.size, q, confidence)
    return QuantileBound(q=q, n=int(arr.size), confidence=confidence,
                         estimate=percentile(arr, q),
                         lower=float(arr[lo - 1]) if lo is not None else None,
                         upper=float(arr[hi - 1]) if hi is not None else None,
                         lower_rank=lo, upper_rank=hi)


def calls_to_resolve(samples: Sequence[float], q: float, limit: float, confidence: float
                     ) -> int | None:
    """About how many calls would resolve ``limit`` for the ``q`` percentile, if the share of
    calls within the limit stayed as observed: the fewest n' for which the expected count
    within the limit reaches the upper rank u(n') (pass) or stays below the lower rank l(n')
    (fail). ``None`` when more than :data:`MAX_CALLS_ESTIMATE` would be needed (the share
    within the limit is about ``q`` itself)."""
    arr = np.asarray(samples, dtype=np.float64)
    n = int(arr.size)
    share = float(np.count_nonzero(arr <= limit)) / n if n else 1.0
    grid = np.unique(np.geomspace(max(n, 1), MAX_CALLS_ESTIMATE, 1200).astype(np.int64))
    grid = grid[grid > n]
    hits = np.flatnonzero(_resolves(grid, share, q, confidence))
    if not hits.size:
        return None
    first = int(hits[0])
    start = int(grid[first - 1]) + 1 if first else n + 1
    fine = np.arange(start, int(grid[first]) + 1)  # the exact count between two grid steps
    return int(fine[np.flatnonzero(_resolves(fine, share, q, confidence))[0]])


def _resolves(calls: np.ndarray, share: float, q: float, confidence: float) -> np.ndarray:
    """Whether ``calls`` calls with ``share`` of them within the limit resolve it."""
    from scipy import stats as sps  # only the timed families need it

    within = np.floor(share * calls + 1e-9)
    upper = sps.binom.ppf(confidence, calls, q) + 1  # smallest u with P(B ≤ u − 1) ≥ conf
    lower = sps.binom.ppf(1 - confidence, calls, q)  # l(n') (or one below it: conservative)
    out: np.ndarray = ((upper <= calls) & (within >= upper)) | ((lower >= 1) & (within < lower))
    return out


def summarise(seconds: Sequence[float], batch_size: int) -> dict[str, float | int | list[str]]:
    """p50/p90/p99/p99.9 and mean in ms, rows/s, call count and the trustworthy percentiles."""
    arr = np.asarray(seconds, dtype=np.float64)
    out: dict[str, float | int | list[str]] = {
        f"{name}_ms": percentile(arr, q) * 1000 for name, q in PERCENTILES}
    out["mean_ms"] = float(arr.mean() * 1000) if arr.size else float("nan")
    out["rows_per_s"] = float(batch_size * arr.size / arr.sum()) if arr.sum() > 0 else 0.0
    out["calls"] = int(arr.size)
    out["trustworthy"] = trustworthy(int(arr.size))
    return out


def slowdown_bounds(cand: Sequence[float], champ: Sequence[float], confidence: float,
                    rng: np.random.Generator, n_resamples: int = 2000
                    ) -> tuple[tuple[float, float], tuple[float, float]]:
    """The candidate/champion ratios of median and of mean per-call times, each with its
    one-sided upper confidence bound, from one paired bootstrap of the interleaved (A, B)
    call pairs. The median is the typical call; the mean is what throughput pays — a model
    slow on a third of its rows can keep its median near the champion's while its mean is
    many times it."""
    a = np.asarray(cand, dtype=np.float64)
    b = np.asarray(champ, dtype=np.float64)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    idx = rng.integers(0, n, size=(n_resamples, n))
    ta, tb = a[idx], b[idx]
    median = (float(np.median(a) / np.median(b)),
              float(np.quantile(np.median(ta, axis=1) / np.median(tb, axis=1), confidence)))
    mean = (float(a.mean() / b.mean()),
            float(np.quantile(ta.mean(axis=1) / tb.mean(axis=1), confidence)))
    return median, mean


