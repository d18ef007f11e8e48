"""The regular regimes: a thousand rows and more, moderate prevalence, binormal scores (the
generator of :mod:`bench.sim.binormal`). Coverage at a true improvement, and the false-pass
rate at a true Δ of exactly −margin, for roc_auc, accuracy and log_loss."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evalgate.metrics import get_metric
from evalgate.stats import assess

from . import CONFIDENCE, Cell, Draw
from .binormal import (
    PREDICTION,
    Binormal,
    Model,
    calibrated,
    calibrated_with_log_loss,
    default,
    mu_for_accuracy,
    mu_for_auc,
)

RESAMPLES = 1000


def drawer(gen: Binormal, metric: str, n: int, margin: float, *,
           n_resamples: int = RESAMPLES) -> Callable[[np.random.Generator], Draw]:
    m = get_metric(metric, "binary")
    kind = PREDICTION[metric]

    def draw(rng: np.random.Generator) -> Draw:
        d = gen.draw(rng, n)
        delta = assess(m, d["y"], d[f"cand_{kind}"], d[f"champ_{kind}"],
                       confidence=CONFIDENCE, rng=rng, n_resamples=n_resamples).delta
        assert delta is not None and delta.lower is not None
        passed = delta.lower >= -margin
        return Draw(passed, not passed and delta.estimate >= -margin, delta.lower)

    return draw


def _worse_by(metric: str, margin: float, prevalence: float, rho: float) -> Binormal:
    """A candidate truly worse than the champion by exactly ``margin``."""
    if metric == "roc_auc":
        champ_auc = 0.85
        cand, champ = (Model(mu_for_auc(a), 1.0, 0.0) for a in (champ_auc - margin, champ_auc))
    elif metric == "accuracy":
        champ_acc = 0.80
        cand, champ = (Model(mu_for_accuracy(a), 1.0, 0.0) for a in
                       (champ_acc - margin, champ_acc))
    else:
        champ = calibrated(1.5, prevalence)
        from .binormal import log_loss

        cand = calibrated_with_log_loss(log_loss(champ, prevalence) + margin, prevalence)
    return Binormal(prevalence, rho, cand, champ)


def _cells() -> list[Cell]:
    cells = []
    better = default()
    for metric in PREDICTION:
        truth = better.true_delta(metric)
        cells.append(Cell("regular: coverage", f"{metric}, n=1000, true Δ {truth:+.4f}",
                          truth, 0.0, drawer(better, metric, 1000, 0.0)))
    for metric, margin in (("roc_auc", 0.01), ("accuracy", 0.01), ("log_loss", 0.01)):
        for n in (1000, 5000):
            gen = _worse_by(metric, margin, 0.3, 0.6)
            cells.append(Cell("regular: false pass", f"{metric}, n={n}, m={margin}", -margin,
                              margin, drawer(gen, metric, n, margin)))
    return cells


CELLS = _cells()
