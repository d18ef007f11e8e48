"""False passes of a candidate that differs from the champion only in a rare region.

    python bench/sim/rare_region.py [--reps 300] [--rows 4000]

The champion is the true P(positive) of a logistic population (s = 1.5·x1 − x2); the
candidate is the champion except P(positive) = 0 where x1 > 3.3 — 0.048% of the population,
almost all positives there. Its true log loss is 0.017 worse (beyond a 0.01 margin), its AUC
and Brier score worse too. A sample of --rows rows misses the region about e^(−rows·0.00048)
of the time (15% at 4,000 rows): there the two models' scores agree on every row. Printed:
how often each comparison passes ``max_regression`` at 95% (the false-pass rate: nominal
5%), and, as the cost, how often identical scores pass on 16,281 rows (the shipped split's
size) — the discordance floor of ``stats/scorefloor.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from evalgate.metrics import get_metric
from evalgate.stats import assess

CUT = 3.3
MARGINS = {"log_loss": 0.01, "roc_auc": 0.0005, "brier_score": 0.0004}


def sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    p = 1 / (1 + np.exp(-(1.5 * x1 - x2)))
    y = (rng.random(n) < p).astype(np.int8)
    cand = np.where(x1 > CUT, 0.0, p)
    return y, cand, p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--rows", type=int, default=4000)
    args = ap.parse_args()
    y, cand, champ = sample(4_000_000, np.random.default_rng(7))
    for name, margin in MARGINS.items():
        m = get_metric(name, "binary")
        true = m.sign * (m.fn(y, cand) - m.fn(y, champ))
        passed, unfloored, missed = 0, 0, 0
        for t in range(args.reps):
            g = np.random.default_rng(5000 + t)
            ys, c, h = sample(args.rows, g)
            missed += int(np.array_equal(c, h))
            for floor in (True, False):  # same_model=True: the interval alone, no floor
                a = assess(m, ys, c, h, confidence=0.95, rng=np.random.default_rng(t),
                           n_resamples=500, same_model=not floor)
                assert a.delta is not None and a.delta.lower is not None
                if floor:
                    passed += a.delta.lower >= -margin
                else:
                    unfloored += a.delta.lower >= -margin
        print(f"{name}: true Δ {true:+.5f} (margin {margin}); passes {passed}/{args.reps} "
              f"= {passed / args.reps:.1%} with the floor, {unfloored / args.reps:.1%} "
              f"without (samples missing the region: {missed})")
    y, _, p = sample(16_281, np.random.default_rng(1))
    for name in ("log_loss", "roc_auc", "brier_score"):
        m = get_metric(name, "binary")
        d = assess(m, y, p, p.copy(), confidence=0.95, rng=np.random.default_rng(0),
                   n_resamples=500).delta
        assert d is not None
        print(f"identical scores on 16,281 rows, {name}: Δ's bound {d.lower:+.5f}")


if __name__ == "__main__":
    main()
