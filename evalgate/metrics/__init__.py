"""The metric registry: name → function, direction, what it reads, how its interval is found.

Every metric follows one contract, ``fn(y, pred) -> float``, on evalgate's canonical arrays:

=============  =============================  ==========================================
task           ``y``                          ``pred``
=============  =============================  ==========================================
binary         int codes, 1 = positive        labels: 0/1 codes; scores: P(positive), (n,)
multiclass     int codes 0..k-1               labels: codes; scores: probabilities, (n, k)
regression     float targets                  labels: float predictions
=============  =============================  ==========================================

Names follow scikit-learn's. ``kind`` tells :mod:`evalgate.stats` which interval applies:

- ``confusion``: a function of the confusion table (``from_confusion`` takes tables of shape
  ``(..., k, k)``, rows = truth, columns = prediction, and is vectorised over leading axes);
- ``mean``: the mean of a per-row loss (``per_row``);
- ``rmse`` / ``r2``: smooth functions of per-row means (delta method);
- ``auc``: binary ROC AUC (DeLong);
- ``generic``: anything else (paired bootstrap of rows).

A metric that is a share of rows (``selection_rate``, ``true_positive_rate``, ``precision``,
``accuracy``, …) also carries its :class:`Rate`: the cells of a row's outcome — (tn, fp, fn, tp)
for binary, (wrong, right) for multiclass — in its numerator and its denominator, and what the
denominator counts (rows, positives, negatives, predicted positives). :func:`rate_metrics`
lists them per task.

Modules: :mod:`.registry` (the registry as data, :func:`get_metric`), :mod:`.tables`
(functions of a confusion table), :mod:`.losses` (per-row losses, regression metrics, the
overflow guard), :mod:`.ranking` (ROC AUC, average precision).
"""

from __future__ import annotations

from ..errors import MetricOverflowError, UnknownMetricError
from .losses import MAX_MAGNITUDE
from .ranking import average_precision, binary_roc_auc, multiclass_roc_auc
from .registry import (
    RATE_CELLS,
    REGISTRY,
    TASKS,
    Kind,
    Metric,
    Per,
    Rate,
    Task,
    get_metric,
    metric_names,
    rate_metrics,
)
from .tables import confusion

__all__ = ["MAX_MAGNITUDE", "RATE_CELLS", "REGISTRY", "TASKS", "Kind", "Metric",
           "MetricOverflowError", "Per", "Rate", "Task", "UnknownMetricError", "average_precision",
           "binary_roc_auc", "confusion", "get_metric", "metric_names", "multiclass_roc_auc",
           "rate_metrics"]
