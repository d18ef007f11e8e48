"""ROC AUC near its boundary or with few positives, and average precision with few positives
(docs/stats-auc.md): the false-pass rate at a true Δ of exactly −margin, where the rule of
evalgate/stats/auc.py switches method, with a regular control for each metric.

ROC AUC: a fixed number of positives and negatives (an AUC is a statement about the two
classes given their counts), binormal scores s = μ·y + ε with the two models' ε correlated
(ρ), so each true AUC is Φ(μ/√2) exactly (:mod:`bench.sim.binormal`).

Average precision: rows drawn as a user's test set is, y ~ Bernoulli(π), the same binormal
scores. The true (population) AP of a binormal model is ∫ prec(t) dTPR(t) with
prec(t) = π·S(t − μ) / (π·S(t − μ) + (1 − π)·S(t)), S the normal survival function — one
quadrature (:func:`true_ap`); the candidate's μ is solved so that its true AP is the
champion's minus the margin. ``python -m bench.sim.auc`` recomputes the truths and checks
them against a Monte Carlo AP of 4,000,000 rows (test: tests/test_auc_regimes.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize, special
from scipy import stats as sps

from evalgate.metrics import get_metric
from evalgate.stats import assess
from evalgate.stats.auc import MIN_PER_CLASS

from . import CONFIDENCE, Cell, Draw
from .binormal import mu_for_auc

RESAMPLES = 1000
RHO = 0.6
#: the AP regime: prevalence, the champion's separation μ (true AP 0.6655) and the margin
AP_PREVALENCE, AP_CHAMPION_MU, AP_MARGIN = 0.1, 2.0, 0.05


def true_ap(mu: float, prevalence: float) -> float:
    """The population average precision of scores N(μ, 1) on positives, N(0, 1) on
    negatives, at prevalence π."""
    odds = math.log((1 - prevalence) / prevalence)

    def precision_density(t: float) -> float:
        log_ratio = float(sps.norm.logsf(t) - sps.norm.logsf(t - mu)) + odds
        return float(special.expit(-log_ratio)) * float(sps.norm.pdf(t - mu))

    value: float = integrate.quad(precision_density, mu - 14, mu + 14, epsabs=1e-14,
                                  epsrel=1e-13, limit=400)[0]
    return value


def mu_for_ap(ap: float, prevalence: float) -> float:
    mu: float = optimize.brentq(lambda m: true_ap(m, prevalence) - ap, 0.01, 8.0, xtol=1e-13)
    return mu


@dataclass(frozen=True)
class Pair:
    """Two binormal models, errors correlated ρ."""

    mu_cand: float
    mu_champ: float
    rho: float

    def scores(self, rng: np.random.Generator, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z1 = rng.standard_normal(len(y))
        z2 = self.rho * z1 + math.sqrt(1 - self.rho**2) * rng.standard_normal(len(y))
        return self.mu_cand * y + z1, self.mu_champ * y + z2


def _judge(delta_lower: float | None, estimate: float, margin: float) -> Draw:
    lower = -math.inf if delta_lower is None else delta_lower
    passed = lower >= -margin
    return Draw(passed, not passed and (estimate >= -margin or not math.isfinite(lower)), lower)


def auc_drawer(pair: Pair, positives: int, negatives: int, margin: float
               ) -> Callable[[np.random.Generator], Draw]:
    metric = get_metric("roc_auc", "binary")
    y = np.r_[np.ones(positives, np.int8), np.zeros(negatives, np.int8)]

    def draw(rng: np.random.Generator) -> Draw:
        cand, champ = pair.scores(rng, y)
        delta = assess(metric, y, cand, champ, confidence=CONFIDENCE, rng=rng,
                       n_resamples=RESAMPLES).delta
        assert delta is not None
        return _judge(delta.lower, delta.estimate, margin)

    return draw


def ap_drawer(pair: Pair, rows: int, prevalence: float, margin: float
              ) -> Callable[[np.random.Generator], Draw]:
    metric = get_metric("average_precision", "binary")

    def draw(rng: np.random.Generator) -> Draw:
        y = (rng.random(rows) < prevalence).astype(np.int8)
        cand, champ = pair.scores(rng, y)
        delta = assess(metric, y, cand, champ, confidence=CONFIDENCE, rng=rng,
                       n_resamples=RESAMPLES).delta
        assert delta is not None
        return _judge(delta.lower, delta.estimate, margin)

    return draw


def auc_cell(regime: str, champion: float, margin: float, positives: int, negatives: int,
             rho: float = RHO, truth: float | None = None) -> Cell:
    """Champion AUC ``champion``; the candidate's true AUC is ``champion + truth``
    (default: worse by exactly the margin)."""
    truth = -margin if truth is None else truth
    pair = Pair(mu_for_auc(champion + truth), mu_for_auc(champion), rho)
    label = (f"AUC {champion:g}, {positives} pos / {negatives} neg, m={margin:g}"
             + (f", ρ={rho:g}" if rho != RHO else ""))
    return Cell(regime, label, truth, margin, auc_drawer(pair, positives, negatives, margin),
                supported=min(positives, negatives) >= MIN_PER_CLASS,
                params={"positives": positives, "negatives": negatives, "rho": rho})


def ap_cell(regime: str, positives: int, reps: int = 1000) -> Cell:
    """About ``positives`` positives (rows = positives / π), candidate worse by the margin."""
    champion_ap = true_ap(AP_CHAMPION_MU, AP_PREVALENCE)
    pair = Pair(mu_for_ap(champion_ap - AP_MARGIN, AP_PREVALENCE), AP_CHAMPION_MU, RHO)
    rows = round(positives / AP_PREVALENCE)
    label = f"AP {champion_ap:.3f}, ~{positives} pos ({rows} rows), m={AP_MARGIN:g}"
    return Cell(regime, label, -AP_MARGIN, AP_MARGIN,
                ap_drawer(pair, rows, AP_PREVALENCE, AP_MARGIN), reps=reps,
                params={"positives": positives, "rows": rows})


def _cells() -> list[Cell]:
    few = "roc_auc: AUC 0.98, few positives"
    cells = [auc_cell(few, 0.98, 0.02, p, 1000) for p in (5, 10, 20, 50)]
    cells.append(auc_cell("roc_auc: AUC 0.90, few positives", 0.90, 0.05, 5, 1000))
    edge = "roc_auc: where the rule switches"
    cells += [
        auc_cell(edge, 0.90, 0.05, 10, 1000),              # the smallest supported count
        auc_cell(edge, 0.98, 0.02, 20, 1000, rho=0.9),     # near-identical models
        auc_cell(edge, 0.98, 0.02, 1000, 20),              # few negatives
        auc_cell(edge, 0.98, 0.02, 100, 1000),             # delong-logit from 100
        auc_cell(edge, 0.94, 0.02, 200, 1000, rho=0.9),    # DeLong from 200, AUC ≤ 0.95
    ]
    better = "roc_auc: coverage, candidate better"  # cover ≥ 95%: min_improvement holds too
    cells += [auc_cell(better, 0.96, 0.0, p, 1000, truth=0.02) for p in (20, 150)]
    cells.append(auc_cell("roc_auc: regular control", 0.85, 0.01, 300, 700))
    cells += [ap_cell("average_precision: few positives", p) for p in (40, 70, 100)]
    cells.append(ap_cell("average_precision: regular control", 500))
    return cells


CELLS = _cells()


def _check_truth() -> None:  # pragma: no cover - a manual check
    """Recompute the AP truths and compare each with a 4,000,000-row Monte Carlo AP."""
    metric = get_metric("average_precision", "binary")
    champion_ap = true_ap(AP_CHAMPION_MU, AP_PREVALENCE)
    for mu in (AP_CHAMPION_MU, mu_for_ap(champion_ap - AP_MARGIN, AP_PREVALENCE)):
        rng = np.random.default_rng(2024)
        y = (rng.random(4_000_000) < AP_PREVALENCE).astype(np.int8)
        mc = metric.fn(y, mu * y + rng.standard_normal(len(y)))
        print(f"μ = {mu:.6f}: true AP {true_ap(mu, AP_PREVALENCE):.6f}, Monte Carlo {mc:.6f}")


if __name__ == "__main__":  # pragma: no cover
    _check_truth()
