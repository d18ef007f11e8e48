"""ROC AUC: DeLong's interval of one AUC and of the paired difference of two."""

from __future__ import annotations

import math

import numpy as np

from ..metrics import Metric
from .delong import delong
from .intervals import Assessment, one_sided

Array = np.ndarray


def auc_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
         n: int) -> Assessment:
    aucs, cov = delong(y, [cand] if champ is None else [cand, champ])
    value = one_sided(float(aucs[0]), math.sqrt(max(cov[0, 0], 0.0)), confidence, True,
                      "delong", n)
    if champ is None:
        return Assessment(value)
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    delta = one_sided(float(aucs[0] - aucs[1]), math.sqrt(max(var, 0.0)), confidence, True,
                      "delong", n)
    return Assessment(value, float(aucs[1]), delta)
