"""The registry as data: each metric's name, task, direction, what it reads, its interval kind
and its function (from :mod:`.tables`, :mod:`.losses` and :mod:`.ranking`); a metric that is
a share of rows also has its :class:`Rate` — which cells of a row's outcome count in its
numerator and denominator — so that a family can count it per group (the bias family)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

from ..errors import UnknownMetricError, did_you_mean
from . import losses as ls
from . import tables
from .ranking import average_precision, binary_roc_auc, multiclass_roc_auc

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
Kind = Literal["confusion", "mean", "rmse", "r2", "auc", "generic"]
Array = np.ndarray

#: what a rate's denominator counts
Per = Literal["rows", "positives", "negatives", "predicted positives"]
#: the cells of a row's outcome that rates count, per task: a binary row is coded
#: 2·truth + label (tn, fp, fn, tp); a multiclass row is wrong or right
RATE_CELLS: dict[Task, tuple[str, ...]] = {"binary": ("tn", "fp", "fn", "tp"),
                                           "multiclass": ("wrong", "right")}


@dataclass(frozen=True)
class Rate:
    """A metric that is a share of rows: the rows in its ``numerator`` cells over the rows in
    its ``denominator`` cells (names from :data:`RATE_CELLS` of its task, ``cells``)."""

    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    #: what the denominator counts: rows, positives, negatives or predicted positives
    per: Per
    cells: tuple[str, ...]

    @property
    def num(self) -> tuple[int, ...]:
        """The numerator's cells as positions in ``cells``."""
        return tuple(self.cells.index(c) for c in self.numerator)

    @property
    def den(self) -> tuple[int, ...]:
        """The denominator's cells as positions in ``cells``."""
        return tuple(self.cells.index(c) for c in self.denominator)

    @property
    def model_dependent(self) -> bool:
        """Whether the denominator depends on the model's labels (predicted positives), not on
        the truth alone: two models then count different rows in it."""
        return self.per == "predicted positives"


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
    #: a share of rows: the cells it counts (``None`` for any other metric)
    rate: Rate | None = None
    #: the metric this one is another name of (``recall`` is ``true_positive_rate``)
    alias_of: str | None = None
    #: what its values are measured in: ``""`` for a unitless score, else the target's units
    #: (mae, rmse) or their square (mse) — the report draws each unit on an axis of its own
    unit: str = ""

    @property
    def sign(self) -> float:
        """+1 when higher is better, −1 otherwise: ``sign * (a − b) > 0`` means a is better."""
        return 1.0 if self.higher_is_better else -1.0


def _from_table(f: Callable[[Array], Array], k: int | None) -> Callable[[Array, Array], float]:
    def fn(y: Array, label: Array) -> float:
        kk = k if k is not None else int(max(y.max(initial=0), label.max(initial=0))) + 1
        return float(f(tables.confusion(y, label, kk)))

    return fn


_UNIT = (0.0, 1.0)
TARGET_UNITS, TARGET_UNITS_SQUARED = "target units", "target units²"

# (name, higher_is_better, table function, bounds, doc)
_BINARY_TABLE = [
    ("accuracy", True, tables.accuracy, _UNIT, "share of correct labels"),
    ("balanced_accuracy", True, tables.balanced_accuracy, _UNIT, "mean of TPR and TNR"),
    ("precision", True, tables.precision, _UNIT, "TP / (TP + FP)"),
    ("recall", True, tables.recall, _UNIT, "TP / (TP + FN)"),
    ("f1", True, tables.f1, _UNIT, "harmonic mean of precision and recall"),
    ("specificity", True, tables.true_negative_rate, _UNIT, "TN / (TN + FP)"),
    ("true_positive_rate", True, tables.recall, _UNIT, "TP / (TP + FN)"),
    ("true_negative_rate", True, tables.true_negative_rate, _UNIT, "TN / (TN + FP)"),
    ("false_positive_rate", False, tables.false_positive_rate, _UNIT, "FP / (FP + TN)"),
    ("false_negative_rate", False, tables.false_negative_rate, _UNIT, "FN / (FN + TP)"),
    ("selection_rate", True, tables.selection_rate, _UNIT, "share predicted positive"),
    ("matthews_corrcoef", True, tables.matthews_corrcoef, (-1.0, 1.0),
     "Matthews correlation coefficient"),
    ("cohen_kappa", True, tables.cohen_kappa, (-1.0, 1.0), "Cohen's kappa"),
]
_MULTICLASS_TABLE = [
    ("accuracy", True, tables.accuracy, _UNIT, "share of correct labels"),
    ("balanced_accuracy", True, tables.balanced_accuracy, _UNIT, "mean per-class recall"),
    ("f1_macro", True, tables.macro("f1"), _UNIT, "unweighted mean of per-class F1"),
    ("f1_weighted", True, tables.macro("f1", True), _UNIT, "support-weighted mean of per-class F1"),
    ("precision_macro", True, tables.macro("precision"), _UNIT, "mean per-class precision"),
    ("precision_weighted", True, tables.macro("precision", True), _UNIT, "weighted precision"),
    ("recall_macro", True, tables.macro("recall"), _UNIT, "mean per-class recall"),
    ("recall_weighted", True, tables.macro("recall", True), _UNIT, "weighted recall"),
    ("matthews_corrcoef", True, tables.matthews_corrcoef, (-1.0, 1.0),
     "multiclass Matthews correlation"),
    ("cohen_kappa", True, tables.cohen_kappa, (-1.0, 1.0), "Cohen's kappa"),
]


# (numerator cells, denominator cells, what the denominator counts, the metric it is another
# name of): the rates, in the order they are listed (e.g. by the bias family)
_RATES: dict[Task, dict[str, tuple[str, str, Per, str | None]]] = {
    "binary": {
        "selection_rate": ("fp tp", "tn fp fn tp", "rows", None),
        "true_positive_rate": ("tp", "fn tp", "positives", None),
        "false_positive_rate": ("fp", "tn fp", "negatives", None),
        "false_negative_rate": ("fn", "fn tp", "positives", None),
        "true_negative_rate": ("tn", "tn fp", "negatives", None),
        "precision": ("tp", "fp tp", "predicted positives", None),
        "accuracy": ("tn tp", "tn fp fn tp", "rows", None),
        "recall": ("tp", "fn tp", "positives", "true_positive_rate"),
        "specificity": ("tn", "tn fp", "negatives", "true_negative_rate"),
    },
    "multiclass": {
        "accuracy": ("right", "wrong right", "rows", None),
    },
}


def _rate(task: Task, name: str) -> tuple[Rate | None, str | None]:
    """The rate definition of ``name`` for ``task`` and what it is another name of."""
    found = _RATES.get(task, {}).get(name)
    if found is None:
        return None, None
    num, den, per, alias_of = found
    return Rate(tuple(num.split()), tuple(den.split()), per, RATE_CELLS[task]), alias_of


def _build() -> dict[Task, dict[str, Metric]]:
    reg: dict[Task, dict[str, Metric]] = {t: {} for t in TASKS}

    def add(m: Metric) -> None:
        reg[m.task][m.name] = m

    for task, table, k in (("binary", _BINARY_TABLE, 2), ("multiclass", _MULTICLASS_TABLE, None)):
        for name, hib, f, bounds, doc in table:
            rate, alias_of = _rate(cast(Task, task), name)
            add(Metric(name, cast(Task, task), hib, "label", "confusion", _from_table(f, k),
                       bounds, from_confusion=f, doc=doc, rate=rate, alias_of=alias_of))

    add(Metric("roc_auc", "binary", True, "score", "auc", binary_roc_auc, _UNIT,
               doc="area under the ROC curve"))
    add(Metric("average_precision", "binary", True, "score", "generic", average_precision, _UNIT,
               doc="area under the precision-recall curve (step-wise)"))
    for task, ll, br in (("binary", ls.binary_log_loss_rows, ls.binary_brier_rows),
                         ("multiclass", ls.multiclass_log_loss_rows, ls.multiclass_brier_rows)):
        add(Metric("log_loss", cast(Task, task), False, "score", "mean", ls.mean_of(ll),
                   (0.0, np.inf), per_row=ll, doc="mean negative log-likelihood"))
        add(Metric("brier_score", cast(Task, task), False, "score", "mean", ls.mean_of(br),
                   (0.0, 1.0 if task == "binary" else 2.0),
                   per_row=br, doc="mean squared error of the probabilities"))
    add(Metric("roc_auc", "multiclass", True, "score", "generic", multiclass_roc_auc, _UNIT,
               doc="one-vs-rest macro ROC AUC"))

    # regression outputs are unbounded: every value and per-row loss is checked for overflow
    for name, rows, unit, doc in (
            ("mae", ls.abs_err, TARGET_UNITS, "mean absolute error"),
            ("mse", ls.sq_err, TARGET_UNITS_SQUARED, "mean squared error"),
            ("mape", ls.ape, "", "mean absolute percentage error (a fraction)")):
        add(Metric(name, "regression", False, "label", "mean",
                   ls.bounded_value(name, ls.mean_of(rows)), (0.0, np.inf),
                   per_row=ls.bounded_rows(name, rows), doc=doc, unit=unit))
    add(Metric("rmse", "regression", False, "label", "rmse", ls.bounded_value("rmse", ls.rmse),
               (0.0, np.inf), per_row=ls.bounded_rows("rmse", ls.sq_err),
               doc="root mean squared error", unit=TARGET_UNITS))
    add(Metric("r2", "regression", True, "label", "r2", ls.bounded_value("r2", ls.r2),
               (-np.inf, 1.0), per_row=ls.bounded_rows("r2", ls.sq_err),
               doc="coefficient of determination"))
    add(Metric("median_absolute_error", "regression", False, "label", "generic",
               ls.bounded_value("median_absolute_error", ls.median_ae), (0.0, np.inf),
               doc="median absolute error", unit=TARGET_UNITS))
    return reg


REGISTRY: dict[Task, dict[str, Metric]] = _build()


def metric_names(task: Task) -> list[str]:
    return sorted(REGISTRY[task])


def rate_metrics(task: Task) -> tuple[Metric, ...]:
    """The metrics of ``task`` that are shares of rows (each under one name: no aliases), in
    the order of the rate table."""
    return tuple(REGISTRY[task][name] for name, (*_, alias_of) in _RATES.get(task, {}).items()
                 if alias_of is None)


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
