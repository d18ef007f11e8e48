"""Time evalgate's paired intervals at 10k … 10M rows (issue: exact, fast statistics).

    python bench/stats.py [--sizes 10000 100000 1000000 10000000] [--ap-max 1000000]

Data: a binormal generator — labels y ~ Bernoulli(0.24); each model's score is
sigmoid(μ·y + ε) with (ε_cand, ε_champ) correlated (ρ = 0.6), stored as float32 like ONNX
output, so nearly every row is distinct (the worst case for merging rows). Each metric is
assessed paired against the champion (candidate value + Δ with its one-sided bound) with
2,000 replicates where a bootstrap is used. Best of --repeat runs: wall-clock seconds, and
the process's CPU seconds (all threads) beside them — on a shared machine the wall clock
measures the neighbours as much as the code.

Heavy tail: the same data with the candidate certain of the wrong class on one row in 10,000
(its score set to 1 − y): log_loss and brier_score, whose tail diagnostic then keeps the
bootstrap (the tail-exact bootstrap from 50,000 rows; docs/stats-tails.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalgate.metrics import get_metric
from evalgate.stats import assess

FIVE = ("roc_auc", "accuracy", "f1", "log_loss", "brier_score")


def make(n: int, seed: int = 0) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.24).astype(np.int8)
    e = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=n)
    score_a = (1 / (1 + np.exp(-(2.0 * y + e[:, 0] - 1.2)))).astype(np.float32).astype(float)
    score_b = (1 / (1 + np.exp(-(1.9 * y + e[:, 1] - 1.2)))).astype(np.float32).astype(float)
    label_a, label_b = (score_a >= 0.5).astype(np.int8), (score_b >= 0.5).astype(np.int8)
    return y, {"score": (score_a, score_b), "label": (label_a, label_b)}


def heavy(y: np.ndarray, preds: dict, share: float = 1e-4, seed: int = 1) -> dict:
    """``preds`` with the candidate's score certain of the wrong class on a ``share`` of rows."""
    wrong = np.random.default_rng(seed).random(len(y)) < share
    score_a = preds["score"][0].copy()
    score_a[wrong] = 1.0 - y[wrong]
    return {**preds, "score": (score_a, preds["score"][1])}


def timed(names: tuple[str, ...], y: np.ndarray, preds: dict, repeat: int
          ) -> tuple[float, float, str]:
    best, best_cpu, methods = np.inf, np.inf, ""
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        used = []
        for name in names:
            metric = get_metric(name, "binary")
            cand, champ = preds[metric.needs]
            out = assess(metric, y, cand, champ, confidence=0.95,
                         rng=np.random.default_rng(0), n_resamples=2000)
            assert out.delta is not None and out.delta.lower is not None
            used.append(out.delta.method)
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
        methods = ", ".join(sorted(set(used)))
    return best, best_cpu, methods


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+",
                    default=[10_000, 100_000, 1_000_000, 10_000_000])
    ap.add_argument("--ap-max", type=int, default=1_000_000,
                    help="largest size at which average_precision is timed")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-heavy", action="store_true", help="skip the heavy-tail case")
    args = ap.parse_args()
    print(f"{'rows':>11}  {'5 metrics (cpu)':>17}  {'avg precision (cpu)':>21}  methods")
    for n in args.sizes:
        y, preds = make(n)
        five, five_cpu, m5 = timed(FIVE, y, preds, args.repeat)
        if n <= args.ap_max:
            apt, ap_cpu, mad = timed(("average_precision",), y, preds, args.repeat)
            ap_text = f"{apt:>11.2f}s ({ap_cpu:5.1f}s)"
        else:
            ap_text, mad = f"{'(skipped)':>21}", ""
        print(f"{n:>11,}  {five:>8.2f}s ({five_cpu:5.1f}s)  {ap_text}  {m5}; {mad}",
              flush=True)
        if not args.no_heavy:
            tail, tail_cpu, mt = timed(("log_loss", "brier_score"), y, heavy(y, preds),
                                       args.repeat)
            print(f"{'':>11}  heavy tail, log_loss + brier_score: {tail:.2f}s "
                  f"({tail_cpu:.1f}s cpu; {mt})", flush=True)


if __name__ == "__main__":
    main()
