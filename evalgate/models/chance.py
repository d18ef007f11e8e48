"""A sanity rule on the labels themselves: a binary task's reference model must not rank the
data's positives *below* its negatives beyond sampling error.

A ``data.label_map`` (or ``positive_label``) written the wrong way round makes every model
read below chance, and every comparison flips: the worse model anti-predicts less and is
PROMOTEd on a suite of comparisons (ROC AUC 0.28 and accuracy 0.25 showed as passes). The
reference is the champion — the model already trusted — or, without one, the candidate. It
is refused when its ROC AUC's one-sided upper bound (DeLong) is below 0.5 at the suite's
confidence, at least :data:`MIN_LEVEL`: the refusal blocks every check, so it asks for
strong evidence; a reversed map reads a useful model's AUC A as 1 − A, far below 0.5 on any
data the gate can judge. Label-only models are ranked by their labels (the AUC of a 0/1
score is its balanced accuracy). With fewer than ``MIN_PER_CLASS`` rows of either class
(:mod:`evalgate.stats.auc`) nothing is said, as a ROC AUC check would say nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..data import Target, plain
from .predictions import Predictions

#: the least confidence at which a reference model is called below chance
MIN_LEVEL = 0.99


def reversed_labels(target: Target, preds: Mapping[str, Predictions],
                    confidence: float) -> str | None:
    """Why the labels look reversed (the problem text), or ``None``."""
    from scipy import special

    from ..stats.auc import MIN_PER_CLASS
    from ..stats.delong import components

    role = "champion" if "champion" in preds else "candidate"
    ref = preds.get(role)
    y = np.asarray(target.y)
    if ref is None or target.classes is None or len(target.classes) != 2 or not len(y):
        return None
    positives = int(np.count_nonzero(y == 1))
    k = min(positives, len(y) - positives)
    if k < MIN_PER_CLASS:  # as a ROC AUC check: too few to say anything
        return None
    score = ref.score if ref.score is not None else ref.label.astype(np.float64)
    aucs, v10, v01 = components(y, [score])
    auc = float(aucs[0])
    var = float(np.var(v10[0], ddof=1)) / v10.shape[1] + float(np.var(v01[0], ddof=1)) / \
        v01.shape[1]
    level = max(confidence, MIN_LEVEL)
    # DeLong's bound, and at least the exact one where the rows show no spread (the classes
    # separated perfectly, the wrong way): an unseen share 1 − α^(1/k) of the rarer class
    upper = auc + max(float(special.ndtri(level)) * math.sqrt(max(var, 0.0)),
                      1.0 - (1.0 - level) ** (1.0 / k))
    if upper >= 0.5:
        return None
    mapped = (" and data.label_map (each data label must name the model class that means it)"
              if target.label_map else "")
    return (f"the labels look reversed: the {role}'s ROC AUC on them is {auc:.4f}, below "
            f"chance (one-sided {level * 100:.10g}% upper bound {upper:.4f} < 0.5), so every "
            f"comparison would be turned around; check data.positive_label "
            f"({plain(target.classes[1])!r} here){mapped}")
