"""Proportions: Wilson score bounds, Newcombe's hybrid score interval of a difference of
independent proportions, its paired version for two models on the same rows, MOVER-R for a
ratio, and the exact Clopper–Pearson upper bound."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .intervals import z_of

Array = np.ndarray


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


def clopper_pearson_upper(x: Array | float, n: Array | float, confidence: float) -> Array:
    """The exact one-sided upper bound of a proportion x/n at ``confidence`` (Clopper &
    Pearson 1934); 1 where x = n (vectorised)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = sps.beta.ppf(confidence, x + 1, np.maximum(n - x, 1e-300))
    return np.where(x >= n, 1.0, upper)


def wilson_bounds(k: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score bounds of a proportion k/n, each one-sided at ``confidence`` (together the
    two-sided interval at 2·confidence − 1)."""
    if n <= 0:
        return 0.0, 1.0
    lo, hi = wilson(np.array(float(k)), np.array(float(n)), z_of(confidence))
    return float(lo), float(hi)


@dataclass(frozen=True)
class PairedFlips:
    """Flips of both models on the same rows, and Δ = champion rate − candidate rate (positive:
    the candidate flips less) with Newcombe's hybrid score interval for paired proportions."""

    n: int
    both: int
    only_candidate: int
    only_champion: int
    estimate: float
    lower: float
    upper: float

    @property
    def candidate_rate(self) -> float:
        return (self.both + self.only_candidate) / self.n

    @property
    def champion_rate(self) -> float:
        return (self.both + self.only_champion) / self.n


def newcombe_paired(candidate: np.ndarray, champion: np.ndarray,
                    confidence: float) -> PairedFlips:
    """Newcombe (1998, *Stat. Med.* 17:2635, method 10): the Wilson bounds of each margin
    combined through the phi correlation of the paired 2×2 table; bounds one-sided at
    ``confidence``."""
    cand, champ = np.asarray(candidate, bool), np.asarray(champion, bool)
    n = len(cand)
    both = int(np.count_nonzero(cand & champ))
    only_c = int(np.count_nonzero(cand & ~champ))
    only_h = int(np.count_nonzero(champ & ~cand))
    neither = n - both - only_c - only_h
    p1, p2 = (both + only_h) / n, (both + only_c) / n  # champion, candidate
    l1, u1 = wilson_bounds(both + only_h, n, confidence)
    l2, u2 = wilson_bounds(both + only_c, n, confidence)
    den = float(both + only_h) * (only_c + neither) * (both + only_c) * (only_h + neither)
    phi = (both * neither - only_c * only_h) / math.sqrt(den) if den > 0 else 0.0
    theta = p1 - p2
    d = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    e = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return PairedFlips(n, both, only_c, only_h, theta, max(-1.0, theta - d), min(1.0, theta + e))
