"""Many candidates and many looks (evalgate.stats.spending): the chance that a truly worse
candidate gets through when a team tries several against one champion on the same rows
(shipping the first that passes), or follows "inconclusive: evaluate on more rows" with the
same candidate. Binormal ROC AUC (champion 0.85, every candidate worse by m = 0.01), DeLong,
1,000 rows; a replication's pass is any candidate (any look) passing.

- ``warn``: every try judged at α — the inflation the verdict states (not a supported cell);
- ``spend``: the k-th candidate at α / (k (k + 1)) — at most α for the whole sequence;
- looks: the first look at α, the second (on twice the rows, a superset) at α / 4, against
  the same second look judged at α (the advice followed without spending).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from evalgate.metrics import get_metric
from evalgate.stats import assess
from evalgate.stats.spending import attempt_alpha, look_alpha

from . import CONFIDENCE, Cell, Draw
from .binormal import mu_for_auc

AUC = get_metric("roc_auc", "binary")
MARGIN = 0.01
ROWS = 1000
PREVALENCE = 0.3
RHO = 0.6
ALPHA = 1 - CONFIDENCE


def _scores(rng: np.random.Generator, n: int, candidates: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y, the champion's scores and ``candidates`` candidates' scores (rows × candidates):
    each candidate's noise correlates ρ with the champion's, independent retrains otherwise."""
    mu_h, mu_c = mu_for_auc(0.85), mu_for_auc(0.85 - MARGIN)
    y = (rng.random(n) < PREVALENCE).astype(np.int8)
    z = rng.standard_normal(n)
    champ = mu_h * y + z
    own = rng.standard_normal((n, candidates))
    cands = mu_c * y[:, None] + RHO * z[:, None] + math.sqrt(1 - RHO**2) * own
    return y, champ, cands


def _bound(y: np.ndarray, cand: np.ndarray, champ: np.ndarray, alpha: float) -> float:
    delta = assess(AUC, y, cand, champ, confidence=1 - alpha, rng=np.random.default_rng(0),
                   n_resamples=100).delta
    assert delta is not None and delta.lower is not None
    return float(delta.lower)


def any_passes(y: np.ndarray, champ: np.ndarray, cands: np.ndarray,
               alphas: list[float]) -> Draw:
    """Whether any candidate (a column of ``cands``, judged at its level of ``alphas``)
    passes; the lowest bound when none does."""
    lowest = math.inf
    for i, alpha in enumerate(alphas):
        lower = _bound(y, cands[:, i], champ, alpha)
        lowest = min(lowest, lower)
        if lower >= -MARGIN:
            return Draw(True, False, lower)
    return Draw(False, False, lowest)


def candidates(k: int, policy: str) -> Callable[[np.random.Generator], Draw]:
    alphas = [attempt_alpha(ALPHA, i + 1, policy) for i in range(k)]  # type: ignore[arg-type]

    def draw(rng: np.random.Generator) -> Draw:
        y, champ, cands = _scores(rng, ROWS, k)
        return any_passes(y, champ, cands, alphas)
    return draw


def looks(spend: bool) -> Callable[[np.random.Generator], Draw]:
    def draw(rng: np.random.Generator) -> Draw:
        y, champ, cands = _scores(rng, 2 * ROWS, 1)
        first = _bound(y[:ROWS], cands[:ROWS, 0], champ[:ROWS], ALPHA)
        if first >= -MARGIN:
            return Draw(True, False, first)
        alpha = look_alpha(ALPHA, 2) if spend else ALPHA
        second = _bound(y, cands[:, 0], champ, alpha)
        return Draw(second >= -MARGIN, False, min(first, second))
    return draw


def _cells() -> list[Cell]:
    cells = []
    for k in (1, 5, 20):
        cells.append(Cell("many candidates: warn", f"{k} candidates, each worse by {MARGIN}",
                          -MARGIN, MARGIN, candidates(k, "warn"), shown=k > 1))
        if k > 1:
            cells.append(Cell("many candidates: spend",
                              f"{k} candidates, each worse by {MARGIN}", -MARGIN, MARGIN,
                              candidates(k, "spend")))
    cells.append(Cell("more rows after a block: no spending", f"{ROWS} then {2 * ROWS} rows",
                      -MARGIN, MARGIN, looks(spend=False), shown=True))
    cells.append(Cell("more rows after a block: look 2 at α/4", f"{ROWS} then {2 * ROWS} rows",
                      -MARGIN, MARGIN, looks(spend=True)))
    return cells


CELLS = _cells()
