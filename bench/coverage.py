"""Coverage of evalgate's one-sided lower bound of Δ by simulation from a known generator.

    python bench/coverage.py [--runs 1000] [--rows 1000] [--resamples 1000] [--seed 0]

The generator (binormal, so every true value is known):

- y ~ Bernoulli(π), π = 0.3;
- each model's score s = μ·y + ε, with (ε_cand, ε_champ) bivariate normal, unit variances,
  correlation ρ = 0.6 (the two models err on the same rows, as real models do);
- roc_auc reads s: the true AUC is Φ(μ/√2);
- accuracy reads the label 1[s > μ/2]: it is right with probability Φ(μ/2) in either class,
  so the true accuracy is Φ(μ/2) whatever π;
- log_loss reads p = sigmoid(β·s + c): the true expected log loss is
  π·E[softplus(−(βs+c)) | s ~ N(μ,1)] + (1−π)·E[softplus(βs+c) | s ~ N(0,1)], computed by
  numerical integration (scipy.integrate.quad).

The candidate is better (μ = 1.2, calibrated) than the champion (μ = 1.0, over-confident
β), so true Δ = sign·(candidate − champion) > 0 for each metric. Each run draws fresh rows,
calls :func:`evalgate.stats.assess` and records whether the one-sided 95% lower bound is at
most the true Δ. evalgate promises coverage ≥ 95%; the figure should lie in 95% ± 2%.
Prints, per metric, the coverage with its exact (Clopper–Pearson) 95% binomial interval.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import integrate, special
from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evalgate.metrics import get_metric  # noqa: E402
from evalgate.stats import assess  # noqa: E402

METRICS = ("roc_auc", "accuracy", "log_loss")
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Model:
    """s = mu·y + ε; probabilities sigmoid(beta·s + c)."""

    mu: float
    beta: float
    c: float


def calibrated(mu: float, prevalence: float) -> Model:
    """The Bayes posterior: log-odds(y=1 | s) = logit(π) + μ·s − μ²/2."""
    return Model(mu, mu, float(special.logit(prevalence)) - mu * mu / 2)


@dataclass(frozen=True)
class Generator:
    prevalence: float = 0.3
    rho: float = 0.6
    cand: Model = field(default_factory=lambda: calibrated(1.2, 0.3))
    champ: Model = Model(1.0, 1.4, float(special.logit(0.3)) - 0.5)

    def draw(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """y, and each model's score, label and probability on n fresh rows."""
        y = (rng.random(n) < self.prevalence).astype(np.int8)
        z1 = rng.standard_normal(n)
        z2 = self.rho * z1 + math.sqrt(1 - self.rho**2) * rng.standard_normal(n)
        out: dict[str, np.ndarray] = {"y": y}
        for name, model, eps in (("cand", self.cand, z1), ("champ", self.champ, z2)):
            s = model.mu * y + eps
            out[f"{name}_score"] = s
            out[f"{name}_label"] = (s > model.mu / 2).astype(np.int8)
            out[f"{name}_proba"] = special.expit(model.beta * s + model.c)
        return out

    # ---------------------------------------------------------------- true values

    def true_value(self, metric: str, model: Model) -> float:
        if metric == "roc_auc":
            return float(sps.norm.cdf(model.mu / math.sqrt(2)))
        if metric == "accuracy":
            return float(sps.norm.cdf(model.mu / 2))
        if metric == "log_loss":
            def pos(s: float) -> float:  # −log p on a positive row
                return float(np.logaddexp(0.0, -(model.beta * s + model.c))) * sps.norm.pdf(
                    s, model.mu)

            def neg(s: float) -> float:  # −log(1 − p) on a negative row
                return float(np.logaddexp(0.0, model.beta * s + model.c)) * sps.norm.pdf(s)

            lp = integrate.quad(pos, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
            ln = integrate.quad(neg, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
            return self.prevalence * lp + (1 - self.prevalence) * ln
        raise KeyError(metric)

    def true_delta(self, metric: str) -> float:
        """sign·(candidate − champion), positive = candidate better."""
        sign = get_metric(metric, "binary").sign
        return sign * (self.true_value(metric, self.cand) - self.true_value(metric, self.champ))


PREDICTION = {"roc_auc": "score", "accuracy": "label", "log_loss": "proba"}


def coverage(gen: Generator, metric: str, *, runs: int, rows: int, n_resamples: int,
             seed: int) -> tuple[int, int]:
    """(covered, runs): how often the lower bound of Δ is ≤ the true Δ."""
    m = get_metric(metric, "binary")
    truth = gen.true_delta(metric)
    kind = PREDICTION[metric]
    covered = 0
    seeds = np.random.SeedSequence([seed, METRICS.index(metric)]).spawn(runs)
    for ss in seeds:
        data_rng, boot_rng = (np.random.default_rng(s) for s in ss.spawn(2))
        d = gen.draw(data_rng, rows)
        delta = assess(m, d["y"], d[f"cand_{kind}"], d[f"champ_{kind}"], confidence=CONFIDENCE,
                       rng=boot_rng, n_resamples=n_resamples).delta
        assert delta is not None and delta.lower is not None
        covered += delta.lower <= truth
    return covered, runs


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(sps.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--metrics", nargs="+", default=list(METRICS), choices=METRICS)
    args = ap.parse_args(argv)
    gen = Generator()
    print(f"binormal generator: π={gen.prevalence}, ρ={gen.rho}, candidate {gen.cand}, "
          f"champion {gen.champ}")
    print(f"{args.runs} runs × {args.rows} rows, {args.resamples} resamples, one-sided "
          f"{CONFIDENCE:.0%}, seed {args.seed}")
    print(f"{'metric':<10} {'true Δ':>9} {'coverage':>9} {'95% binomial CI':>18} {'time':>8}")
    ok = True
    for metric in args.metrics:
        t = time.perf_counter()
        k, n = coverage(gen, metric, runs=args.runs, rows=args.rows,
                        n_resamples=args.resamples, seed=args.seed)
        elapsed = time.perf_counter() - t
        lo, hi = clopper_pearson(k, n)
        ok &= 0.93 <= k / n <= 0.97
        print(f"{metric:<10} {gen.true_delta(metric):>+9.5f} {k / n:>9.3f} "
              f"{f'[{lo:.3f}, {hi:.3f}]':>18} {elapsed:>7.1f}s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
