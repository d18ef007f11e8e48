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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

from .errors import MetricOverflowError, UnknownMetricError, did_you_mean

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
Kind = Literal["confusion", "mean", "rmse", "r2", "auc", "generic"]
Array = np.ndarray

_EPS = float(np.finfo(np.float64).eps)

#: the largest magnitude of a regression metric or per-row loss evalgate scores: intervals
#: square and cube such values (a BCa acceleration, a variance), which must stay finite in
#: float64 (about 1.8e308) for any number of rows
MAX_MAGNITUDE = 1e90


def _too_large(name: str, value: float) -> MetricOverflowError:
    return MetricOverflowError(
        f"{name} reaches {value:.3g}, beyond ±{MAX_MAGNITUDE:g}: its interval cannot be "
        f"computed in float64 (the arithmetic overflows), so the check cannot pass; the "
        f"model's outputs are implausibly large")


def _bounded_value(name: str, fn: Callable[[Array, Array], float]
                   ) -> Callable[[Array, Array], float]:
    """``fn`` refusing a value beyond ±:data:`MAX_MAGNITUDE` (NaN, undefined, passes)."""
    def f(y: Array, pred: Array) -> float:
        with np.errstate(over="ignore", invalid="ignore"):
            value = fn(y, pred)
        if abs(value) > MAX_MAGNITUDE:
            raise _too_large(name, value)
        return value

    return f


def _bounded_rows(name: str, rows: Callable[[Array, Array], Array]
                  ) -> Callable[[Array, Array], Array]:
    """``rows`` refusing per-row losses beyond ±:data:`MAX_MAGNITUDE`."""
    def f(y: Array, pred: Array) -> Array:
        with np.errstate(over="ignore", invalid="ignore"):
            out = rows(y, pred)
        worst = float(np.max(np.abs(out), initial=0.0, where=~np.isnan(out)))
        if worst > MAX_MAGNITUDE:
            raise _too_large(f"a row's loss for {name}", worst)
        return out

    return f


@dataclass(frozen=True)
class Metric:
    """One metric. ``fn(y, pred)`` gives its value; ``higher_is_better`` its direction."""

    name: str
    task: Task
    higher_is_better: bool
    needs: Literal["label", "score"]
    kind: Kind
    fn: Callable[[Array, Array], float]
    bounds: tuple[float, float] = (-np.inf, np.inf)
    from_confusion: Callable[[Array], Array] | None = None
    per_row: Callable[[Array, Array], Array] | None = None
    doc: str = ""

    @property
    def sign(self) -> float:
        """+1 when higher is better, −1 otherwise: ``sign * (a − b) > 0`` means a is better."""
        return 1.0 if self.higher_is_better else -1.0


# --------------------------------------------------------------------------- confusion tables


def confusion(y: Array, label: Array, k: int) -> Array:
    """The k×k confusion table (rows = truth, columns = prediction) by one bincount."""
    codes = y.astype(np.int64) * k + label.astype(np.int64)
    return np.bincount(codes, minlength=k * k).reshape(k, k).astype(np.float64)


def _div(num: Array, den: Array) -> Array:
    """num / den with 0 where den == 0 (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _binary_cells(c: Array) -> tuple[Array, Array, Array, Array]:
    return c[..., 0, 0], c[..., 0, 1], c[..., 1, 0], c[..., 1, 1]  # tn, fp, fn, tp


def _accuracy(c: Array) -> Array:
    return _div(np.trace(c, axis1=-2, axis2=-1), c.sum(axis=(-2, -1)))


def _per_class(c: Array) -> tuple[Array, Array, Array]:
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    return tp, c.sum(axis=-1), c.sum(axis=-2)  # tp, true count, predicted count


def _balanced_accuracy(c: Array) -> Array:
    tp, true, _ = _per_class(c)
    present = true > 0
    return _div((_div(tp, true) * present).sum(axis=-1), present.sum(axis=-1))


def _precision(c: Array) -> Array:
    tn, fp, fn, tp = _binary_cells(c)
    return _div(tp, tp + fp)


def _recall(c: Array) -> Array:
    tn, fp, fn, tp = _binary_cells(c)
    return _div(tp, tp + fn)


def _f1(c: Array) -> Array:
    tn, fp, fn, tp = _binary_cells(c)
    return _div(2 * tp, 2 * tp + fp + fn)


def _fpr(c: Array) -> Array:
    tn, fp, fn, tp = _binary_cells(c)
    return _div(fp, fp + tn)


def _fnr(c: Array) -> Array:
    tn, fp, fn, tp = _binary_cells(c)
    return _div(fn, fn + tp)


def _tnr(c: Array) -> Array:
    tn, fp, fn, tp = _binary_cells(c)
    return _div(tn, tn + fp)


def _selection_rate(c: Array) -> Array:
    tn, fp, fn, tp = _binary_cells(c)
    return _div(tp + fp, tn + fp + fn + tp)


def _mcc(c: Array) -> Array:
    tp, true, pred = _per_class(c)
    n = c.sum(axis=(-2, -1))
    correct = tp.sum(axis=-1)
    cov_ytyp = correct * n - (true * pred).sum(axis=-1)
    cov_ypyp = n**2 - (pred * pred).sum(axis=-1)
    cov_ytyt = n**2 - (true * true).sum(axis=-1)
    return _div(cov_ytyp, np.sqrt(cov_ytyt * cov_ypyp))


def _cohen_kappa(c: Array) -> Array:
    _, true, pred = _per_class(c)
    n = c.sum(axis=(-2, -1))
    po = _div(np.trace(c, axis1=-2, axis2=-1), n)
    pe = _div((true * pred).sum(axis=-1), n**2)
    return _div(po - pe, 1 - pe)


def _macro(stat: str, weighted: bool = False) -> Callable[[Array], Array]:
    def f(c: Array) -> Array:
        tp, true, pred = _per_class(c)
        if stat == "precision":
            per = _div(tp, pred)
        elif stat == "recall":
            per = _div(tp, true)
        else:
            per = _div(2 * tp, true + pred)
        if weighted:
            return _div((per * true).sum(axis=-1), true.sum(axis=-1))
        # scikit-learn averages over the classes present in truth or prediction
        present = (true + pred) > 0
        return _div((per * present).sum(axis=-1), present.sum(axis=-1))

    return f


# --------------------------------------------------------------------------- per-row losses


def _binary_log_loss_rows(y: Array, p: Array) -> Array:
    p = np.clip(p, _EPS, 1 - _EPS)
    return -np.where(y == 1, np.log(p), np.log1p(-p))


def _multiclass_log_loss_rows(y: Array, p: Array) -> Array:
    p = np.clip(p, _EPS, 1 - _EPS)
    p = p / p.sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(y)), y.astype(np.int64)])


def _binary_brier_rows(y: Array, p: Array) -> Array:
    return (p - y) ** 2


def _multiclass_brier_rows(y: Array, p: Array) -> Array:
    # as scikit-learn's brier_score_loss: the sum over classes, so it lies in [0, 2]
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y.astype(np.int64)] = 1.0
    return ((p - onehot) ** 2).sum(axis=1)


def _abs_err(y: Array, pred: Array) -> Array:
    return np.abs(y - pred)


def _sq_err(y: Array, pred: Array) -> Array:
    return (y - pred) ** 2


def _ape(y: Array, pred: Array) -> Array:
    return np.abs(y - pred) / np.maximum(np.abs(y), _EPS)


# --------------------------------------------------------------------------- other metrics


def binary_roc_auc(y: Array, score: Array) -> float:
    """ROC AUC by midranks (Mann–Whitney), ties counted one half."""
    from scipy.stats import rankdata

    pos = y == 1
    m, n = int(pos.sum()), int(len(y) - pos.sum())
    if m == 0 or n == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - m * (m + 1) / 2) / (m * n))


def average_precision(y: Array, score: Array, weight: Array | None = None) -> float:
    """scikit-learn's average precision (step-wise, no interpolation), optionally weighted."""
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    order = np.argsort(-score, kind="mergesort")
    s, yy, ww = score[order], y[order], w[order]
    tp = np.cumsum(ww * (yy == 1))
    fp = np.cumsum(ww * (yy != 1))
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tp, fp = tp[last], fp[last]
    if tp[-1] == 0:
        return float("nan")
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def multiclass_roc_auc(y: Array, proba: Array) -> float:
    """One-vs-rest macro ROC AUC over the classes present in ``y``."""
    aucs = [binary_roc_auc((y == j).astype(np.int8), proba[:, j]) for j in np.unique(y)]
    return float(np.mean(aucs)) if len(aucs) > 1 else float("nan")


def _rmse(y: Array, pred: Array) -> float:
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def _r2(y: Array, pred: Array) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return float(1 - np.sum((y - pred) ** 2) / ss_tot) if ss_tot > 0 else float("nan")


def _median_ae(y: Array, pred: Array) -> float:
    return float(np.median(np.abs(y - pred)))


# --------------------------------------------------------------------------- the registry


def _from_table(f: Callable[[Array], Array], k: int | None) -> Callable[[Array, Array], float]:
    def fn(y: Array, label: Array) -> float:
        kk = k if k is not None else int(max(y.max(initial=0), label.max(initial=0))) + 1
        return float(f(confusion(y, label, kk)))

    return fn


def _mean_of(rows: Callable[[Array, Array], Array]) -> Callable[[Array, Array], float]:
    return lambda y, pred: float(np.mean(rows(y, pred)))


_UNIT = (0.0, 1.0)

# (name, higher_is_better, table function, bounds, doc)
_BINARY_TABLE = [
    ("accuracy", True, _accuracy, _UNIT, "share of correct labels"),
    ("balanced_accuracy", True, _balanced_accuracy, _UNIT, "mean of TPR and TNR"),
    ("precision", True, _precision, _UNIT, "TP / (TP + FP)"),
    ("recall", True, _recall, _UNIT, "TP / (TP + FN)"),
    ("f1", True, _f1, _UNIT, "harmonic mean of precision and recall"),
    ("specificity", True, _tnr, _UNIT, "TN / (TN + FP)"),
    ("true_positive_rate", True, _recall, _UNIT, "TP / (TP + FN)"),
    ("true_negative_rate", True, _tnr, _UNIT, "TN / (TN + FP)"),
    ("false_positive_rate", False, _fpr, _UNIT, "FP / (FP + TN)"),
    ("false_negative_rate", False, _fnr, _UNIT, "FN / (FN + TP)"),
    ("selection_rate", True, _selection_rate, _UNIT, "share predicted positive"),
    ("matthews_corrcoef", True, _mcc, (-1.0, 1.0), "Matthews correlation coefficient"),
    ("cohen_kappa", True, _cohen_kappa, (-1.0, 1.0), "Cohen's kappa"),
]
_MULTICLASS_TABLE = [
    ("accuracy", True, _accuracy, _UNIT, "share of correct labels"),
    ("balanced_accuracy", True, _balanced_accuracy, _UNIT, "mean per-class recall"),
    ("f1_macro", True, _macro("f1"), _UNIT, "unweighted mean of per-class F1"),
    ("f1_weighted", True, _macro("f1", True), _UNIT, "support-weighted mean of per-class F1"),
    ("precision_macro", True, _macro("precision"), _UNIT, "mean per-class precision"),
    ("precision_weighted", True, _macro("precision", True), _UNIT, "weighted precision"),
    ("recall_macro", True, _macro("recall"), _UNIT, "mean per-class recall"),
    ("recall_weighted", True, _macro("recall", True), _UNIT, "weighted recall"),
    ("matthews_corrcoef", True, _mcc, (-1.0, 1.0), "multiclass Matthews correlation"),
    ("cohen_kappa", True, _cohen_kappa, (-1.0, 1.0), "Cohen's kappa"),
]


def _build() -> dict[Task, dict[str, Metric]]:
    reg: dict[Task, dict[str, Metric]] = {t: {} for t in TASKS}

    def add(m: Metric) -> None:
        reg[m.task][m.name] = m

    for task, table, k in (("binary", _BINARY_TABLE, 2), ("multiclass", _MULTICLASS_TABLE, None)):
        for name, hib, f, bounds, doc in table:
            add(Metric(name, cast(Task, task), hib, "label", "confusion", _from_table(f, k),
                       bounds, from_confusion=f, doc=doc))

    add(Metric("roc_auc", "binary", True, "score", "auc", binary_roc_auc, _UNIT,
               doc="area under the ROC curve"))
    add(Metric("average_precision", "binary", True, "score", "generic", average_precision, _UNIT,
               doc="area under the precision-recall curve (step-wise)"))
    for task, ll, br in (("binary", _binary_log_loss_rows, _binary_brier_rows),
                         ("multiclass", _multiclass_log_loss_rows, _multiclass_brier_rows)):
        add(Metric("log_loss", cast(Task, task), False, "score", "mean", _mean_of(ll),
                   (0.0, np.inf), per_row=ll, doc="mean negative log-likelihood"))
        add(Metric("brier_score", cast(Task, task), False, "score", "mean", _mean_of(br),
                   (0.0, 1.0 if task == "binary" else 2.0),
                   per_row=br, doc="mean squared error of the probabilities"))
    add(Metric("roc_auc", "multiclass", True, "score", "generic", multiclass_roc_auc, _UNIT,
               doc="one-vs-rest macro ROC AUC"))

    # regression outputs are unbounded: every value and per-row loss is checked for overflow
    for name, rows, doc in (("mae", _abs_err, "mean absolute error"),
                            ("mse", _sq_err, "mean squared error"),
                            ("mape", _ape, "mean absolute percentage error (a fraction)")):
        add(Metric(name, "regression", False, "label", "mean",
                   _bounded_value(name, _mean_of(rows)), (0.0, np.inf),
                   per_row=_bounded_rows(name, rows), doc=doc))
    add(Metric("rmse", "regression", False, "label", "rmse", _bounded_value("rmse", _rmse),
               (0.0, np.inf), per_row=_bounded_rows("rmse", _sq_err),
               doc="root mean squared error"))
    add(Metric("r2", "regression", True, "label", "r2", _bounded_value("r2", _r2),
               (-np.inf, 1.0), per_row=_bounded_rows("r2", _sq_err),
               doc="coefficient of determination"))
    add(Metric("median_absolute_error", "regression", False, "label", "generic",
               _bounded_value("median_absolute_error", _median_ae), (0.0, np.inf),
               doc="median absolute error"))
    return reg


REGISTRY: dict[Task, dict[str, Metric]] = _build()


def metric_names(task: Task) -> list[str]:
    return sorted(REGISTRY[task])


def get_metric(name: str, task: Task) -> Metric:
    """The metric ``name`` for ``task``; an unknown name raises with the valid names."""
    try:
        return REGISTRY[task][name]
    except KeyError:
        pass
    valid = metric_names(task)
    others = [t for t in TASKS if name in REGISTRY[t]]
    if others:
        msg = (f"metric {name!r} is not defined for task {task}; "
               f"valid {task} metrics: {', '.join(valid)}")
    else:
        msg = f"unknown metric {name!r}{did_you_mean(name, valid)}; valid {task} metrics: " \
              f"{', '.join(valid)}"
    raise UnknownMetricError(msg)
