"""CBPE (performance without labels) on covariate-shifted Adult batches: how often the realised
metric of a batch — computed once its labels are known — lies inside the estimate's bounds.

    python bench/cbpe.py [--shifts 400] [--batch 2000] [--confidence 0.95]

The shipped candidate scores the Adult test split once. Each seeded shift splits it in two
halves: one labelled half fits the calibration (as the gate's evaluation data does for
``evalgate monitor``), the other is the production pool. A batch of --batch rows is drawn from
the pool without replacement with weights exp(β·z), z a standardised covariate (age,
hours-per-week, education-num, capital-gain > 0, sex) and β uniform in [−1.5, 1.5] — P(label |
row) untouched, the rows' mix moved, as covariate shift does. Reported per metric: the share
of shifts whose realised value is at or above the lower bound (target ≥ --confidence), at or
below the upper bound, and inside both (the issue's target: ≥ 90%), with the mean estimate
error. Support: batches whose ages were moved 40 years past the labelled data's are refused by
the monitor's support check (evalgate.stats.cbpe.outside_support).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalgate.stats import cbpe  # noqa: E402

CANDIDATE = ROOT / "examples/models/candidate.onnx"
DATA = ROOT / "examples/data/adult_test.csv.gz"
COVARIATES = ("age", "hours-per-week", "education-num", "capital-gain", "sex")


def scored() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    from evalgate.models import load_model

    frame = pd.read_csv(DATA)
    model = load_model(CANDIDATE)
    features = [c for c in frame.columns if c != "income"]
    raw = model.predict(frame, features)
    assert raw.proba is not None and raw.classes is not None
    score = raw.proba[:, list(raw.classes).index(">50K")]
    y = (frame["income"].astype(str).str.strip().str.rstrip(".") == ">50K").to_numpy(int)
    return frame, y, score


def covariate(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name == "capital-gain":
        x = (frame[name] > 0).to_numpy(float)
    elif name == "sex":
        x = (frame[name].astype(str).str.strip() == "Female").to_numpy(float)
    else:
        x = frame[name].to_numpy(float)
    return (x - x.mean()) / x.std()


def realised(metric: str, y: np.ndarray, score: np.ndarray) -> float:
    from sklearn import metrics as m

    label = (score >= 0.5).astype(int)
    if metric == "roc_auc":
        return float(m.roc_auc_score(y, score))
    fn = {"accuracy": m.accuracy_score, "precision": m.precision_score,
          "recall": m.recall_score, "f1": m.f1_score}[metric]
    return float(fn(y, label))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shifts", type=int, default=400)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--beta", type=float, default=1.5, help="the largest |β| of a shift")
    args = ap.parse_args()
    t0 = time.perf_counter()
    frame, y, score = scored()
    zs = {c: covariate(frame, c) for c in COVARIATES}
    n = len(y)
    hits = {m: {"lower": 0, "upper": 0, "both": 0, "err": 0.0} for m in cbpe.ESTIMATED}
    for seed in range(args.shifts):
        rng = np.random.default_rng(seed)
        perm = rng.permutation(n)
        ref, pool = perm[: n // 2], perm[n // 2:]
        cal = cbpe.fit_calibration(y[ref], score[ref])
        name = COVARIATES[seed % len(COVARIATES)]
        w = np.exp(rng.uniform(-args.beta, args.beta) * zs[name][pool])
        batch = rng.choice(pool, size=args.batch, replace=False, p=w / w.sum())
        for metric in cbpe.ESTIMATED:
            est = cbpe.estimate(metric, cal, score[batch], args.confidence, rng)
            truth = realised(metric, y[batch], score[batch])
            h = hits[metric]
            h["lower"] += truth >= est.lower
            h["upper"] += truth <= est.upper
            h["both"] += est.lower <= truth <= est.upper
            h["err"] += est.estimate - truth
    k = args.shifts
    print(f"CBPE on {k} covariate-shifted Adult batches of {args.batch:,} rows "
          f"(calibration on {n // 2:,} labelled rows; bounds at {args.confidence:.2f}, "
          f"so both together at {2 * args.confidence - 1:.2f})")
    print(f"{'metric':<10} {'≥ lower':>8} {'≤ upper':>8} {'inside':>8} {'mean error':>11}")
    for metric, h in hits.items():
        print(f"{metric:<10} {h['lower'] / k:8.1%} {h['upper'] / k:8.1%} {h['both'] / k:8.1%} "
              f"{h['err'] / k:+11.4f}")
    refused = outside(frame, n)
    print(f"outside the support (ages +40): monitor refused {refused[0]} of {refused[2]}, the "
          f"suite's domain classifier {refused[1]} of {refused[2]}")
    print(f"({time.perf_counter() - t0:.0f} s)")


def outside(frame: pd.DataFrame, n: int, shifts: int = 20) -> tuple[int, int, int]:
    """Batches whose ages lie 40 years past the labelled rows': how many the monitor's range
    check and the suite's domain classifier refuse."""
    from evalgate.families.domain import fit_domain
    from evalgate.stats.intervals import z_of
    from evalgate.verdict.profile import MAX_OUTSIDE_SUPPORT, column_state, outside_support

    features = [c for c in frame.columns if c != "income"]
    by_range = by_domain = 0
    for seed in range(shifts):
        rng = np.random.default_rng(10_000 + seed)
        perm = rng.permutation(n)
        ref = frame.iloc[perm[: n // 2]]
        batch = frame.iloc[rng.choice(perm[n // 2:], 2000, replace=False)].copy()
        batch["age"] += 40
        share, _ = outside_support(batch["age"], column_state(ref["age"]))
        by_range += share > MAX_OUTSIDE_SUPPORT
        fit = fit_domain(ref[features], batch[features], rng)
        by_domain += fit.auc + z_of(0.95) * fit.se > 0.9
    return by_range, by_domain, shifts


if __name__ == "__main__":
    main()
