"""The binormal generator: every true value known in closed form (or by quadrature).

- y ~ Bernoulli(π);
- each model's score s = μ·y + ε, the two models' ε bivariate normal with unit variances and
  correlation ρ (models err on the same rows, as real ones do);
- roc_auc reads s: the true AUC is Φ(μ/√2);
- accuracy reads the label 1[s > μ/2], right with probability Φ(μ/2) in either class;
- log_loss reads p = sigmoid(β·s + c): its expectation by quadrature (``calibrated`` gives
  the Bayes posterior β = μ, c = logit(π) − μ²/2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize, special
from scipy import stats as sps


@dataclass(frozen=True)
class Model:
    """s = mu·y + ε; probabilities sigmoid(beta·s + c)."""

    mu: float
    beta: float
    c: float


def calibrated(mu: float, prevalence: float) -> Model:
    """The Bayes posterior: log-odds(y=1 | s) = logit(π) + μ·s − μ²/2."""
    return Model(mu, mu, float(special.logit(prevalence)) - mu * mu / 2)


def mu_for_auc(auc: float) -> float:
    return math.sqrt(2) * float(sps.norm.ppf(auc))


def mu_for_accuracy(accuracy: float) -> float:
    return 2 * float(sps.norm.ppf(accuracy))


@dataclass(frozen=True)
class Binormal:
    prevalence: float
    rho: float
    cand: Model
    champ: Model

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

    def true_delta(self, metric: str) -> float:
        """sign·(candidate − champion), positive = candidate better."""
        sign = -1.0 if metric == "log_loss" else 1.0
        return sign * (self.true_value(metric, self.cand) - self.true_value(metric, self.champ))

    def true_value(self, metric: str, model: Model) -> float:
        if metric == "roc_auc":
            return float(sps.norm.cdf(model.mu / math.sqrt(2)))
        if metric == "accuracy":
            return float(sps.norm.cdf(model.mu / 2))
        if metric == "log_loss":
            return log_loss(model, self.prevalence)
        raise KeyError(metric)


def log_loss(model: Model, prevalence: float) -> float:
    def pos(s: float) -> float:  # −log p on a positive row
        return float(np.logaddexp(0.0, -(model.beta * s + model.c))) * sps.norm.pdf(s, model.mu)

    def neg(s: float) -> float:  # −log(1 − p) on a negative row
        return float(np.logaddexp(0.0, model.beta * s + model.c)) * sps.norm.pdf(s)

    lp = integrate.quad(pos, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    ln = integrate.quad(neg, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    return prevalence * lp + (1 - prevalence) * ln


def calibrated_with_log_loss(target: float, prevalence: float) -> Model:
    """The calibrated model whose true log loss is ``target``."""
    mu = optimize.brentq(lambda m: log_loss(calibrated(m, prevalence), prevalence) - target,
                         0.05, 8.0, xtol=1e-12)
    return calibrated(mu, prevalence)


#: the metrics the generator knows the truth of, and what each reads of a model
PREDICTION = {"roc_auc": "score", "accuracy": "label", "log_loss": "proba"}
METRICS = tuple(PREDICTION)


def default() -> Binormal:
    """The regular regime's generator: π = 0.3, ρ = 0.6, a calibrated candidate (μ = 1.2)
    better than an over-confident champion (μ = 1.0, β = 1.4)."""
    return Binormal(0.3, 0.6, calibrated(1.2, 0.3),
                    Model(1.0, 1.4, float(special.logit(0.3)) - 0.5))
