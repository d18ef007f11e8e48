"""Heavy tails: a mean metric whose difference from the champion is carried by a few rows.

- **log loss with rare confident-wrong rows.** Both models binormal and calibrated (the
  generator of :mod:`bench.sim.binormal`, errors correlated ρ = 0.99: a retrained model errs
  where its champion does); on a known share q of rows, drawn independently of everything
  else, the candidate gives the true class the probability 2⁻³⁰ (a row loss of 30·ln 2 ≈ 20.8;
  1 − 2⁻³⁰ is exact in float64). Its true log loss is (1 − q)·LL(ordinary) + q·30·ln 2 exactly
  (LL by quadrature), and its ordinary model is solved for a true Δ of exactly −m. q = 1e-4
  (about five such rows in 50,000; q·20.8 is a fifth of m, the rest a slightly worse ordinary
  model) and q = 1e-3 (the confident-wrong rows cost twice m: a candidate better on almost
  every row and worse on the mean).
- **Brier score with the same confident-wrong rows** (a row loss (1 − 2⁻³⁰)² ≈ 1): a tail the
  Brier score bounds.
- **MAE and RMSE with rare gross errors.** Gaussian errors, correlated 0.95 between the models;
  on a share q of rows the candidate's error is shifted by ±K (sign at random). E|σZ + K| and
  E(σZ ± K)² are closed-form, so the true Δ is exact.
- **controls**: well-behaved log loss and Brier score (calibrated binormal models, ρ = 0.6, no
  confident-wrong rows) at 50,000 rows, which must keep the fast path (paired t).

``LIMITS``: a regime measured and not supported (about five such rows carrying a twentieth
of Δ at 200,000 rows, where no bootstrap holds 5%; docs/stats-tails.md).

``cd bench && python -m sim.tails [--reps N] [--match TEXT] [--limits]`` prints each cell's
false-pass rate and its share of replications per method (which interval the tail diagnostic
chose), in one process.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize, special
from scipy import stats as sps

from evalgate.metrics import Task, get_metric
from evalgate.stats import assess

from . import CONFIDENCE, Cell, Draw, run
from .binormal import Binormal, Model, calibrated, calibrated_with_log_loss, log_loss

RESAMPLES = 1000
#: the probability a confident-wrong row gives its true class: 2⁻³⁰, exact in float64
WRONG_P = 2.0**-30
PREVALENCE = 0.3
#: the arrays one replication feeds to ``assess``: y, candidate, champion
Rows = tuple[np.ndarray, np.ndarray, np.ndarray]


# --------------------------------------------------------------------------- generators


def brier(model: Model, prevalence: float) -> float:
    """E(p − y)² of a binormal model, by quadrature."""
    def p(s: float) -> float:
        return float(special.expit(model.beta * s + model.c))

    lp = integrate.quad(lambda s: (1 - p(s)) ** 2 * sps.norm.pdf(s, model.mu), -np.inf,
                        np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    ln = integrate.quad(lambda s: p(s) ** 2 * sps.norm.pdf(s), -np.inf, np.inf,
                        epsabs=1e-13, epsrel=1e-12)[0]
    return prevalence * lp + (1 - prevalence) * ln


LOSS = {"log_loss": log_loss, "brier_score": brier}
WRONG_LOSS = {"log_loss": -math.log(WRONG_P), "brier_score": (1 - WRONG_P) ** 2}


@dataclass(frozen=True)
class ConfidentWrong:
    """Binormal models; the candidate's probabilities on a share ``q`` of rows replaced by a
    confident wrong answer (the true class gets ``WRONG_P``)."""

    gen: Binormal
    q: float

    def draw(self, rng: np.random.Generator, n: int) -> Rows:
        d = self.gen.draw(rng, n)
        y, cand = d["y"], d["cand_proba"].copy()
        wrong = rng.random(n) < self.q
        cand[wrong] = np.where(y[wrong] == 1, WRONG_P, 1.0 - WRONG_P)
        return y, cand, d["champ_proba"]

    def truth(self, metric: str) -> float:
        """The true Δ = champion − candidate loss (lower is better)."""
        loss, g = LOSS[metric], self.gen
        cand = (1 - self.q) * loss(g.cand, PREVALENCE) + self.q * WRONG_LOSS[metric]
        return loss(g.champ, PREVALENCE) - cand


def confident_wrong(metric: str, q: float, margin: float, rho: float = 0.99) -> ConfidentWrong:
    """A candidate truly worse than a calibrated champion (μ = 1.5) by exactly ``margin``,
    sharper on ordinary rows and confidently wrong on a share ``q`` of them."""
    loss = LOSS[metric]
    champ = calibrated(1.5, PREVALENCE)
    target = (loss(champ, PREVALENCE) + margin - q * WRONG_LOSS[metric]) / (1 - q)
    if metric == "log_loss":
        cand = calibrated_with_log_loss(target, PREVALENCE)
    else:
        mu = optimize.brentq(lambda m: brier(calibrated(m, PREVALENCE), PREVALENCE) - target,
                             0.05, 8.0, xtol=1e-12)
        cand = calibrated(mu, PREVALENCE)
    return ConfidentWrong(Binormal(PREVALENCE, rho, cand, champ), q)


@dataclass(frozen=True)
class GrossErrors:
    """Regression errors: champion σ = 1, candidate σ_a, correlated ρ; on a share ``q`` of
    rows the candidate's error is shifted by ±``k``."""

    sigma: float
    q: float
    k: float
    rho: float = 0.95

    def draw(self, rng: np.random.Generator, n: int) -> Rows:
        y = rng.standard_normal(n)
        z1 = rng.standard_normal(n)
        z2 = self.rho * z1 + math.sqrt(1 - self.rho**2) * rng.standard_normal(n)
        gross = (rng.random(n) < self.q) * rng.choice([-self.k, self.k], size=n)
        return y, y - (self.sigma * z1 + gross), y - z2

    def truth(self, metric: str) -> float:
        return -(gross_value(metric, self.sigma, self.q, self.k) - gross_value(metric, 1, 0, 0))


def gross_value(metric: str, sigma: float, q: float, k: float) -> float:
    """MAE or RMSE of errors σZ, shifted by ±k on a share q of rows."""
    if metric == "rmse":
        return math.sqrt(sigma**2 + q * k * k)
    shifted = (sigma * math.sqrt(2 / math.pi) * math.exp(-k * k / (2 * sigma**2))
               + k * (1 - 2 * float(sps.norm.cdf(-k / sigma))))
    return (1 - q) * sigma * math.sqrt(2 / math.pi) + q * shifted


def gross_errors(metric: str, q: float, k: float, margin: float) -> GrossErrors:
    """A candidate truly worse by exactly ``margin`` in MAE or RMSE: smaller errors on
    ordinary rows, gross ones on a share ``q``."""
    target = gross_value(metric, 1, 0, 0) + margin
    sigma = optimize.brentq(lambda s: gross_value(metric, s, q, k) - target, 0.01, 2.0,
                            xtol=1e-14)
    return GrossErrors(sigma, q, k)


# --------------------------------------------------------------------------- cells


def drawer(gen: ConfidentWrong | GrossErrors | Binormal, metric: str, task: Task, n: int,
           margin: float, methods: Counter[str]) -> Callable[[np.random.Generator], Draw]:
    m = get_metric(metric, task)

    def draw(rng: np.random.Generator) -> Draw:
        if isinstance(gen, Binormal):
            d = gen.draw(rng, n)
            y, cand, champ = d["y"], d["cand_proba"], d["champ_proba"]
        else:
            y, cand, champ = gen.draw(rng, n)
        delta = assess(m, y, cand, champ, confidence=CONFIDENCE, rng=rng,
                       n_resamples=RESAMPLES).delta
        assert delta is not None and delta.lower is not None
        methods[delta.method] += 1
        passed = delta.lower >= -margin
        return Draw(passed, not passed and delta.estimate >= -margin, delta.lower)

    return draw


#: each cell's tally of the methods its replications used (filled in the running process)
METHODS: dict[str, Counter[str]] = {}


def _cell(regime: str, label: str, truth: float, margin: float,
          gen: ConfidentWrong | GrossErrors | Binormal, metric: str, task: Task,
          n: int) -> Cell:
    # solved for Δ = −margin to 1e-12: the cell states it exactly, so that the false-pass line
    # applies (Result.ok reads a truth above −margin as a power cell)
    assert abs(truth + margin) < 1e-9, (label, truth)
    methods = METHODS.setdefault(f"{regime}\0{label}", Counter())
    return Cell(regime, label, -margin, margin, drawer(gen, metric, task, n, margin, methods),
                params={"n": n, "metric": metric})


def _control(metric: str, margin: float) -> Binormal:
    """Calibrated binormal models (ρ = 0.6), the candidate worse by exactly ``margin``."""
    champ = calibrated(1.5, PREVALENCE)
    if metric == "log_loss":
        cand = calibrated_with_log_loss(log_loss(champ, PREVALENCE) + margin, PREVALENCE)
    else:
        target = brier(champ, PREVALENCE) + margin
        cand = calibrated(optimize.brentq(
            lambda m: brier(calibrated(m, PREVALENCE), PREVALENCE) - target, 0.05, 8.0,
            xtol=1e-12), PREVALENCE)
    return Binormal(PREVALENCE, 0.6, cand, champ)


def _confident_wrong_cell(n: int, q: float, m: float = 0.01) -> Cell:
    cw = confident_wrong("log_loss", q, m)
    return _cell("tails: log_loss confident-wrong", f"n={n:,}, q={q:g} (~{n * q:.0f} rows), "
                 f"m={m}", cw.truth("log_loss"), m, cw, "log_loss", "binary", n)


def _cells() -> list[Cell]:
    cells = [_confident_wrong_cell(n, q) for n, q in (
        (10_000, 1e-3), (49_999, 1e-4), (50_000, 1e-4), (200_000, 1e-4), (200_000, 1e-3))]
    mb = 0.005
    for n in (50_000, 200_000):
        cw = confident_wrong("brier_score", 0.0025, mb)
        cells.append(_cell("tails: brier confident-wrong", f"n={n:,}, q=0.0025, m={mb}",
                           cw.truth("brier_score"), mb, cw, "brier_score", "binary", n))
    for metric, k in (("mae", 200.0), ("rmse", 20.0)):
        for n in (50_000, 200_000):
            ge = gross_errors(metric, 1e-4, k, 0.01)
            cells.append(_cell(f"tails: {metric} gross errors", f"n={n:,}, q=0.0001, K={k:g}, "
                               f"m=0.01", ge.truth(metric), 0.01, ge, metric, "regression", n))
    for metric, mc in (("log_loss", 0.01), ("brier_score", 0.005)):
        gen = _control(metric, mc)
        cells.append(_cell("tails: control (regular)", f"{metric}, n=50,000, m={mc}", -mc, mc,
                           gen, metric, "binary", 50_000))
    return cells


CELLS = _cells()
#: measured, not supported: about five confident-wrong rows carrying a twentieth of Δ at
#: 200,000 rows — no bootstrap holds 5% there (``python -m sim.tails --limits``)
LIMITS = [_confident_wrong_cell(200_000, 2.5e-5)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="false pass and method shares per tails cell")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--match", default="", help="only cells whose label contains this")
    ap.add_argument("--limits", action="store_true", help="the measured, unsupported cells")
    args = ap.parse_args(argv)
    for cell in LIMITS if args.limits else CELLS:
        if args.match not in f"{cell.regime} {cell.label}":
            continue
        r = run(cell, args.reps, args.seed)
        lo, hi = r.interval()
        tally = METHODS[f"{cell.regime}\0{cell.label}"]
        shares = ", ".join(f"{k} {v / r.reps:.0%}" for k, v in tally.most_common())
        print(f"{cell.regime:<34} {cell.label:<40} {r.false_pass:.3f} [{lo:.3f}, {hi:.3f}]  "
              f"{shares}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
