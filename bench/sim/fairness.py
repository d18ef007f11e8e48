"""Fairness ``max_regression`` when the candidate and the champion disagree on few rows (a
retrain or a threshold change): two groups, the champion's selection rates (or true positive
rates) known, and a candidate that agrees with it on every row but a few, flipping 0 → 1 in
group a only so that its true gap is larger than the champion's by exactly m. Every pass is a
false pass. Runs the bias family itself (evalgate.families.bias.check) on each draw.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from evalgate.data import Dataset, encode_target
from evalgate.families import EvalContext, load_suite
from evalgate.families.bias import check as bias
from evalgate.models.predictions import Predictions

from . import Cell, Draw

MARGIN = 0.016
#: the champion's rate in groups a and b (a gap of 0.10)
RATE_A, RATE_B = 0.40, 0.30
RESAMPLES = 1000
_SUITE = """suite: s
task: binary
data:
  path: data.csv
  target: y
  positive_label: 1
  sensitive: [g]
seed: {seed}
n_resamples: {resamples}
checks:
  bias:
    groups: [g]
    min_group_size: 10
    min_denominator: 5
    metrics: [{metric}]
    max_regression: {margin}
"""


def _suite(metric: str, seed: int) -> object:
    with tempfile.TemporaryDirectory(prefix="evalgate-fairness-") as tmp:
        folder = Path(tmp)
        pd.DataFrame({"g": ["a", "b"], "y": [0, 1]}).to_csv(folder / "data.csv", index=False)
        (folder / "s.yaml").write_text(_SUITE.format(seed=seed, resamples=RESAMPLES,
                                                     metric=metric, margin=MARGIN))
        return load_suite(folder / "s.yaml")


def drawer(metric: str, per_group: int, positives: float = 0.5, lift_a: float = MARGIN,
           lift_b: float = 0.0) -> Callable[[np.random.Generator], Draw]:
    """``per_group`` rows in each group; for the true positive rate, a share ``positives`` of
    them positive (the rate's denominator). The candidate raises group a's rate by
    ``lift_a`` and group b's by ``lift_b`` (the true Δ is lift_b − lift_a)."""
    suite = _suite(metric, 0)
    tpr = metric == "true_positive_rate"

    def draw(rng: np.random.Generator) -> Draw:
        n = 2 * per_group
        g = np.repeat(np.array(["a", "b"]), per_group)
        y = (rng.random(n) < positives).astype(np.int64)
        rate = np.where(g == "a", RATE_A, RATE_B)
        champ = (rng.random(n) < rate).astype(np.int64)
        # the candidate: in group a (positives only, for TPR) a row the champion calls 0
        # becomes 1 with probability m / (1 − rate_a): the rate rises by exactly m
        eligible = (champ == 0) & ((y == 1) if tpr else True)
        lift = np.where(g == "a", lift_a / (1 - RATE_A), lift_b / (1 - RATE_B))
        flip = eligible & (rng.random(n) < lift)
        cand = np.where(flip, 1, champ)
        frame = pd.DataFrame({"g": g, "y": y})
        result = _run(suite, frame, cand, champ)
        lower = result.ci[0] if result.ci is not None and result.ci[0] is not None \
            else -np.inf
        passed = result.status == "pass"
        return Draw(passed, result.status == "fail" and "inconclusive" in result.message,
                    float(lower))

    return draw


def _run(suite: object, frame: pd.DataFrame, cand: np.ndarray, champ: np.ndarray) -> object:
    data = Dataset(path=Path("data.csv"), sha256="0" * 64, rows=len(frame), frame=frame,
                   target="y", features=("g",), sensitive=("g",))
    target = encode_target(data, "binary", 1)
    ctx = EvalContext(suite=suite, target=target,  # type: ignore[arg-type]
                      candidate=Predictions(cand, None), champion=Predictions(champ, None),
                      no_champion_reason="", data=data)
    [result] = bias.run(ctx, bias.plan(suite))  # type: ignore[arg-type]
    return result


def _cells() -> list[Cell]:
    cells = []
    for metric, key in (("selection_rate", "SR"), ("true_positive_rate", "TPR")):
        for per_group in (50, 300):
            cells.append(Cell(f"fairness, few disagreements: {key}",
                              f"{per_group} rows/group, m={MARGIN}", -MARGIN, MARGIN,
                              drawer(metric, per_group)))
    cells.append(Cell("fairness, few disagreements: TPR", f"~900 positives/group, m={MARGIN}",
                      -MARGIN, MARGIN, drawer("true_positive_rate", 1800)))
    # power: both groups' rates rise alike (the gap is the champion's, Δ = 0), and a candidate
    # whose only change narrows the gap (Δ = +0.02)
    for label, lift_a, lift_b, truth in (("both rates +0.02", 0.02, 0.02, 0.0),
                                         ("group b +0.02", 0.0, 0.02, 0.02)):
        for per_group in (2000, 10000):
            cells.append(Cell("fairness, power: SR", f"{label}, {per_group} rows/group, "
                              f"m={MARGIN}", truth, MARGIN,
                              drawer("selection_rate", per_group, lift_a=lift_a,
                                     lift_b=lift_b)))
    return cells


CELLS = _cells()
