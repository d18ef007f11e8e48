"""The paired-count regimes: comparisons that rest on a handful of discordant rows.

Rows fall in the joint cells (truth, candidate label, champion label) with known
probabilities, so every true Δ is exact: within truth class t a row is right for both models,
wrong for both, right for the candidate only (share b_t) or for the champion only (c_t).
Flips are drawn the same way from (candidate flipped, champion flipped).

- accuracy with about 5, 10 and 15 discordant rows of 2,000 at Δ = −m, the candidate better on
  a quarter of them or on none;
- precision, recall (TPR), f1 and balanced accuracy with about 10 discordant rows;
- ``max_flip_rate_increase`` with few flips;
- identical models (the same predictions) at n = 20, 100, 1,000 and 16,281, at m = 0 and
  m = 0.01 (truth Δ = 0: at m = 0 a pass would be a false pass at the boundary);
- controls: many discordant rows.

    python bench/coverage.py --only paired
    cd bench && python -m sim.paired     # identical models in every family, m = 0 and 0.01
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from evalgate.metrics import get_metric
from evalgate.stats import assess

try:
    from evalgate.stats.proportions import tango_paired as paired_flips
except ImportError:  # the code before Tango: for the "before" column of the table
    from evalgate.stats.proportions import newcombe_paired as paired_flips

from . import CONFIDENCE, Cell, Draw

RESAMPLES = 1000
Generator = np.random.Generator


@dataclass(frozen=True)
class Pairs:
    """Binary rows: P(y = 1) and, per truth class (0, 1), the shares of rows only the
    candidate gets right (``b``) and only the champion gets right (``c``); of the rest a
    share ``right`` (per class) is right for both, the others wrong for both."""

    prevalence: float
    right: tuple[float, float]
    b: tuple[float, float]
    c: tuple[float, float]

    def probabilities(self) -> np.ndarray:
        """(truth, candidate label, champion label) → probability."""
        p = np.zeros((2, 2, 2))
        for t, share in ((0, 1 - self.prevalence), (1, self.prevalence)):
            b, c, r = self.b[t], self.c[t], self.right[t]
            p[t, t, t] = share * r
            p[t, 1 - t, 1 - t] = share * (1 - r - b - c)
            p[t, t, 1 - t] = share * b
            p[t, 1 - t, t] = share * c
        assert (p >= 0).all()
        return p

    def truth(self, metric: str) -> float:
        m = get_metric(metric, "binary")
        f = m.from_confusion
        assert f is not None
        p = self.probabilities()
        return float(m.sign * (f(p.sum(axis=2)) - f(p.sum(axis=1))))

    def draw(self, rng: Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = rng.multinomial(n, self.probabilities().ravel())
        code = np.repeat(np.arange(8), counts)
        return code // 4, (code // 2) % 2, code % 2


def label_drawer(pairs: Pairs, metric: str, n: int, margin: float
                 ) -> Callable[[Generator], Draw]:
    m = get_metric(metric, "binary")

    def draw(rng: Generator) -> Draw:
        y, cand, champ = pairs.draw(rng, n)
        delta = assess(m, y, cand, champ, confidence=CONFIDENCE, rng=rng,
                       n_resamples=RESAMPLES).delta
        assert delta is not None and delta.lower is not None
        passed = delta.lower >= -margin
        return Draw(passed, not passed and delta.estimate >= -margin, delta.lower)

    return draw


def flip_drawer(both: float, only_cand: float, only_champ: float, n: int, margin: float
                ) -> Callable[[Generator], Draw]:
    """Δ = champion flip rate − candidate flip rate = only_champ − only_cand."""
    probs = [both, only_cand, only_champ, 1 - both - only_cand - only_champ]

    def draw(rng: Generator) -> Draw:
        code = np.repeat(np.arange(4), rng.multinomial(n, probs))
        cand, champ = (code == 0) | (code == 1), (code == 0) | (code == 2)
        p = paired_flips(cand, champ, CONFIDENCE)
        passed = p.lower >= -margin
        return Draw(passed, not passed and p.estimate >= -margin, p.lower)

    return draw


def _accuracy_cells() -> list[Cell]:
    """n = 2,000; D discordant rows expected; the candidate right on a quarter of them (Δ =
    −D/2n) or on none (Δ = −D/n)."""
    cells = []
    n = 2000
    for discordant, share in ((5, 0.25), (10, 0.25), (15, 0.25), (5, 0.0), (10, 0.0)):
        s = discordant / n
        pairs = Pairs(0.3, (0.85, 0.85), (s * share,) * 2, (s * (1 - share),) * 2)
        truth = pairs.truth("accuracy")
        cells.append(Cell("paired: accuracy, few discordant",
                          f"n={n}, D≈{discordant}, cand. wins {share:.0%}, m={-truth:.5f}",
                          truth, -truth, label_drawer(pairs, "accuracy", n, -truth)))
    return cells


def _rate_cells() -> list[Cell]:
    """n = 2,000 rows, 10% positives (about 200), champion TPR 0.8 and TNR 0.95; about 5
    discordant positives and 5 discordant negatives, the candidate right on a fifth."""
    n = 2000
    pos, neg = 5 / 200, 5 / 1800
    pairs = Pairs(0.1, (0.95 - neg, 0.8 - pos), (neg * 0.2, pos * 0.2), (neg * 0.8, pos * 0.8))
    one_way = Pairs(0.1, (0.95 - neg, 0.8 - pos), (0.0, 0.0), (neg, pos))
    cells = []
    for metric in ("precision", "recall", "f1", "balanced_accuracy"):
        for label, p in (("cand. wins 20%", pairs), ("cand. wins none", one_way)):
            truth = p.truth(metric)
            cells.append(Cell("paired: rates, few discordant",
                              f"{metric}, n={n}, D≈10, {label}, m={-truth:.5f}", truth,
                              -truth, label_drawer(p, metric, n, -truth)))
    return cells


def _flip_cells() -> list[Cell]:
    cells = []
    for n, both, cand, champ in ((2000, 0.02, 0.004, 0.001), (2000, 0.02, 0.0025, 0.0),
                                 (500, 0.05, 0.03, 0.01), (200, 0.05, 0.02, 0.0)):
        m = cand - champ
        cells.append(Cell("paired: max_flip_rate_increase",
                          f"n={n}, flips only cand. {cand:g}, only champ. {champ:g}, m={m:g}",
                          -m, m, flip_drawer(both, cand, champ, n, m)))
    return cells


def _identical_cells() -> list[Cell]:
    """The same predictions for both models (truth Δ = 0): at m = 0.01 small n must be
    inconclusive and large n pass; at m = 0 agreeing labels cannot show Δ ≥ 0 (a pass there
    would be a false pass at the boundary)."""
    cells = []
    same = Pairs(0.3, (0.85, 0.85), (0.0, 0.0), (0.0, 0.0))
    for n in (20, 100, 1000, 16_281):
        for margin in (0.0, 0.01):
            for metric in ("accuracy", "f1"):
                cells.append(Cell("paired: identical models", f"{metric}, n={n}, m={margin:g}",
                                  0.0, margin, label_drawer(same, metric, n, margin)))
            cells.append(Cell("paired: identical models",
                              f"max_flip_rate_increase, n={n}, m={margin:g}", 0.0, margin,
                              flip_drawer(0.05, 0.0, 0.0, n, margin)))
    return cells


def _control_cells() -> list[Cell]:
    """Many discordant rows (the bootstrap's regime): 5,000 rows, 10% discordant."""
    pairs = Pairs(0.3, (0.8, 0.75), (0.04, 0.04), (0.06, 0.06))
    cells = []
    for metric in ("accuracy", "f1"):
        truth = pairs.truth(metric)
        cells.append(Cell("paired: control, many discordant",
                          f"{metric}, n=5000, D≈500, m={-truth:.4f}", truth, -truth,
                          label_drawer(pairs, metric, 5000, -truth)))
    return cells


CELLS = [*_accuracy_cells(), *_rate_cells(), *_flip_cells(), *_identical_cells(),
         *_control_cells()]


def identical_table(seed: int = 0) -> list[str]:
    """Identical models in every family the simulation knows: Δ's lower bound, and whether
    m = 0 and m = 0.01 pass (one draw per n: the bound of identical predictions does not
    depend on the draw beyond its class counts)."""
    from .binormal import Binormal, calibrated

    gen = Binormal(0.3, 1.0, calibrated(1.5, 0.3), calibrated(1.5, 0.3))
    kinds = {"roc_auc": "score", "log_loss": "proba", "brier_score": "proba",
             "accuracy": "label", "f1": "label"}
    rows = []
    for n in (20, 100, 1000, 16_281):
        d = gen.draw(np.random.default_rng([seed, n]), n)
        for metric, kind in kinds.items():
            delta = assess(get_metric(metric, "binary"), d["y"], d[f"cand_{kind}"],
                           d[f"cand_{kind}"].copy(), confidence=CONFIDENCE,
                           rng=np.random.default_rng(seed), n_resamples=RESAMPLES).delta
            assert delta is not None and delta.lower is not None
            rows.append(_identical_row(metric, n, delta.estimate, delta.lower))
        flips = np.random.default_rng([seed, n, 1]).random(n) < 0.05
        p = paired_flips(flips, flips.copy(), CONFIDENCE)
        rows.append(_identical_row("max_flip_rate_increase", n, p.estimate, p.lower))
    return rows


def _identical_row(metric: str, n: int, estimate: float, lower: float) -> str:
    def verdict(m: float) -> str:
        return "pass" if lower >= -m else "inconclusive" if estimate >= -m else "fail"

    bound = f"{lower:+.3g}" if math.isfinite(lower) else "−∞"
    return f"| {metric} | {n:,} | {estimate:+g} | {bound} | {verdict(0.0)} | {verdict(0.01)} |"


if __name__ == "__main__":
    print("| metric | n | Δ̂ | lower bound | m = 0 | m = 0.01 |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(identical_table()))
