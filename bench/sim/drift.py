"""Drift (the drift family): the false-pass rate when the true drift is exactly δ, and the
pass rate of two samples of one distribution, for the two default effect sizes.

A drift check passes when the upper bound of the drift is within δ (``max_drift``). Mapped on
this package's cells: Δ = −drift (less drift is better) and margin = δ, so a true drift of
exactly δ is a true Δ of −margin — every pass is a false pass — and the cell's "lower bound"
is minus the drift's upper bound (coverage: the upper bound at or above the true drift).

- Wasserstein-1 / σ (numeric): reference N(0, 1), evaluation N(s, 1): the true W1 / σ is s.
- Jensen–Shannon distance (categorical): reference shares p = (0.4, 0.3, 0.2, 0.1),
  evaluation p moved by t from the first category to the last, t solved so that the true JS
  distance is δ.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize
from scipy.spatial.distance import jensenshannon

from evalgate.stats import drift as D

from . import CONFIDENCE, Cell, Draw

DELTA = 0.1
P = np.array([0.4, 0.3, 0.2, 0.1])
CATS = np.array(list("abcd"))


def js_shift(target: float) -> float:
    """t such that JS(p, p + t·(−1, 0, 0, 1)) = target (base 2)."""
    def gap(t: float) -> float:
        return float(jensenshannon(P, P + t * np.array([-1, 0, 0, 1]), base=2)) - target
    return float(optimize.brentq(gap, 0.0, 0.39))


def _outcome(found: D.Drift) -> Draw:
    verdict = found.judge(DELTA)
    return Draw(verdict == "pass", verdict == "inconclusive", -found.upper)


def numeric(n: int, shift: float) -> Callable[[np.random.Generator], Draw]:
    def draw(rng: np.random.Generator) -> Draw:
        ref, ev = rng.standard_normal(n), rng.standard_normal(n) + shift
        bins = D.reference_bins(ref, "numeric")
        return _outcome(D.drift("wasserstein", D.histogram(ref, bins), D.histogram(ev, bins),
                                bins, CONFIDENCE, rng))
    return draw


def categorical(n: int, t: float) -> Callable[[np.random.Generator], Draw]:
    q = P + t * np.array([-1, 0, 0, 1])

    def draw(rng: np.random.Generator) -> Draw:
        ref, ev = CATS[rng.choice(4, n, p=P)], CATS[rng.choice(4, n, p=q)]
        bins = D.reference_bins(ref, "categorical")
        return _outcome(D.drift("js", D.histogram(ref, bins), D.histogram(ev, bins), bins,
                                CONFIDENCE, rng))
    return draw


_T = js_shift(DELTA)
assert math.isclose(float(jensenshannon(P, P + _T * np.array([-1, 0, 0, 1]), base=2)), DELTA)

CELLS: list[Cell] = [
    *(Cell("drift: wasserstein at δ", f"n={n} each, shift 0.1σ, δ=0.1", -DELTA, DELTA,
           numeric(n, DELTA)) for n in (200, 1000, 10_000)),
    *(Cell("drift: js at δ", f"n={n} each, JS 0.1, δ=0.1", -DELTA, DELTA,
           categorical(n, _T)) for n in (200, 1000, 10_000)),
    *(Cell("drift: same distribution (power)", f"{kind}, n={n} each, δ=0.1", 0.0, DELTA,
           numeric(n, 0.0) if kind == "wasserstein" else categorical(n, 0.0))
      for kind in ("wasserstein", "js") for n in (1000, 10_000)),
]
