"""The discordance floor of a paired comparison of scores: what the rows may have missed.

Two models whose scores agree on every row but a handful give a paired interval of Δ with
(almost) nothing to resample — DeLong's, the bootstrap's and the t interval all collapse to
Δ̂, a bound of exactly 0 for identical scores. Yet models that differ only where the rows
are thin (a rare region no row of this sample falls in) can be truly worse: a candidate
that gave P(positive) = 0 on 0.05% of the population passed ``max_regression: 0.01`` on log
loss 15.7% of the time at 95%, on 4,000 rows.

Below :data:`~evalgate.stats.rules.MIN_DISCORDANT_ROWS` rows on which the scores differ,
Δ's bound is at most Δ̂ − u·M: u the exact (Clopper–Pearson) upper bound of the share of
rows on which the models' scores may differ, M the most one such row can move Δ — 1 for a
binary Brier score (2 multiclass), −log(ε) for log loss (ε the probabilities' clip), and for
ROC AUC 1/min(π, 1 − π) per unit share (a positive row moves the AUC by at most 1/P, a
negative one by 1/N). Metrics without such a bound (average precision, the regression
losses) keep their interval. With identical scores on n rows, u = 1 − (1 − c)^{1/n}: at
16,281 rows a log loss comparison's bound is −0.0066, at 4,000 rows −0.027 — which is what
those rows can show.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..metrics import Metric
from ..metrics.losses import EPS
from .intervals import Assessment
from .proportions import clopper_pearson_upper
from .rules import MIN_DISCORDANT_ROWS

Array = np.ndarray


def per_row_bound(metric: Metric, y: Array, cand: Array) -> float | None:
    """The most a share of 1 of rows whose scores differ can move Δ of ``metric`` (``None``
    where nothing bounds it)."""
    if metric.kind == "auc" and np.ndim(cand) == 1:
        share = float(np.mean(np.asarray(y) == 1))
        rarer = min(share, 1 - share)
        return 1 / rarer if rarer > 0 else None
    if metric.name == "log_loss":
        return -math.log(EPS)
    if metric.name == "brier_score":
        return 1.0 if np.ndim(cand) == 1 else 2.0
    return None


def floored(metric: Metric, y: Array, cand: Array, champ: Array, result: Assessment,
            confidence: float) -> Assessment:
    """``result`` with Δ's lower bound at most the discordance floor, where the two models'
    scores differ on fewer than :data:`MIN_DISCORDANT_ROWS` rows (method ``…+discordance``)."""
    delta = result.delta
    bound = per_row_bound(metric, y, cand)
    if delta is None or delta.lower is None or bound is None:
        return result
    a, b = np.asarray(cand), np.asarray(champ)
    differ = a != b if a.ndim == 1 else np.any(a != b, axis=1)
    k, n = int(np.count_nonzero(differ)), len(differ)
    if k >= MIN_DISCORDANT_ROWS:
        return result
    u = float(clopper_pearson_upper(k, n, confidence))
    floor = delta.estimate - u * bound
    if floor >= delta.lower:
        return result
    return replace(result, delta=replace(delta, lower=floor,
                                         method=f"{delta.method}+discordance"))
