"""Several challengers against one champion in one run (evalgate.engine.challengers): the
chance that *any* truly worse challenger is marked promotable. Binormal ROC AUC (champion
0.85, every challenger worse by m = 0.01; challenger noise correlated ρ = 0.6 with the
champion's, independent retrains otherwise), DeLong, 1,000 rows, the same rows and champion
for every challenger; a replication's pass is any challenger passing.

- ``one by one``: each challenger judged at α — the inflation the run would have without an
  adjustment (shown, not a supported cell);
- ``bonferroni``: each at α / k, what ``evalgate compare`` does: at most α for the set;
- power: one challenger truly *better* by m among k − 1 truly worse ones — the share of
  replications in which the better one is marked promotable, at α / k and at α.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from . import CONFIDENCE, Cell, Draw
from .binormal import mu_for_auc
from .sequential import MARGIN, PREVALENCE, RHO, ROWS, _bound, any_passes

ALPHA = 1 - CONFIDENCE


def _scores(rng: np.random.Generator, n: int, aucs: list[float]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y, the champion's scores and one column of scores per challenger of true AUC ``aucs``."""
    y = (rng.random(n) < PREVALENCE).astype(np.int8)
    z = rng.standard_normal(n)
    champ = mu_for_auc(0.85) * y + z
    own = rng.standard_normal((n, len(aucs)))
    mus = np.array([mu_for_auc(a) for a in aucs])
    cands = mus[None, :] * y[:, None] + RHO * z[:, None] + math.sqrt(1 - RHO**2) * own
    return y, champ, cands


def any_worse(k: int, adjusted: bool) -> Callable[[np.random.Generator], Draw]:
    """k challengers, each worse by the margin: does any pass?"""
    alpha = ALPHA / k if adjusted else ALPHA

    def draw(rng: np.random.Generator) -> Draw:
        y, champ, cands = _scores(rng, ROWS, [0.85 - MARGIN] * k)
        return any_passes(y, champ, cands, [alpha] * k)
    return draw


def power(k: int, adjusted: bool) -> Callable[[np.random.Generator], Draw]:
    """One challenger better by the margin among k − 1 worse by it: does the better pass?"""
    alpha = ALPHA / k if adjusted else ALPHA

    def draw(rng: np.random.Generator) -> Draw:
        y, champ, cands = _scores(rng, ROWS, [0.85 + MARGIN] + [0.85 - MARGIN] * (k - 1))
        lower = _bound(y, cands[:, 0], champ, alpha)
        return Draw(lower >= -MARGIN, False, lower)
    return draw


def _cells() -> list[Cell]:
    cells = []
    for k in (5, 20):
        label = f"{k} challengers, each worse by {MARGIN}"
        cells.append(Cell("challengers: one by one at α", label, -MARGIN, MARGIN,
                          any_worse(k, adjusted=False), shown=True))
        cells.append(Cell("challengers: bonferroni α/k", label, -MARGIN, MARGIN,
                          any_worse(k, adjusted=True)))
        better = f"the better of {k} (one better by {MARGIN}, {k - 1} worse)"
        cells.append(Cell("challengers: power at α/k", better, +MARGIN, MARGIN,
                          power(k, adjusted=True)))
        cells.append(Cell("challengers: power at α", better, +MARGIN, MARGIN,
                          power(k, adjusted=False)))
    return cells


CELLS = _cells()
