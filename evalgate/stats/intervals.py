"""One-sided intervals: the :class:`Interval` result, normal/t bounds and the BCa bound
from bootstrap replicates with a jackknife (falling back to the percentile bound when BCa is
degenerate, which the recorded method then says)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import StatsError
from .rules import MIN_COMPARISON_ROWS

Array = np.ndarray


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
        return math.ceil(self.n * (half / (self.estimate + margin)) ** 2)


@dataclass(frozen=True)
class Assessment:
    """The candidate's value, the champion's value and the paired difference."""

    value: Interval
    champion_value: float | None = None
    delta: Interval | None = None


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


def bootstrap_interval(theta: float, reps: Array, jack: Array, weights: Array | None,
                        confidence: float, higher_is_better: bool, method: str,
                        n: int) -> Interval:
    bound, bca = bca_bound(theta, reps, jack, weights, confidence, lower=higher_is_better)
    finite = reps[np.isfinite(reps)]
    se = float(np.std(finite, ddof=1)) if finite.size > 1 else 0.0
    name = f"{method}-bca" if bca else f"{method}-percentile"
    if higher_is_better:
        return Interval(theta, bound, None, se, name, n)
    return Interval(theta, None, bound, se, name, n)


def z_of(confidence: float) -> float:
    return float(special.ndtri(confidence))
