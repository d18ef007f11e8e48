"""Per-row losses (``rows(y, pred) -> (n,)``), the regression metrics that are not a plain
mean of one, and the guard against values too large for float64 intervals."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import MetricOverflowError, StatsError

Array = np.ndarray

EPS = float(np.finfo(np.float64).eps)

#: the largest magnitude of a regression metric or per-row loss evalgate scores: intervals
#: square and cube such values (a BCa acceleration, a variance), which must stay finite in
#: float64 (about 1.8e308) for any number of rows
MAX_MAGNITUDE = 1e90


def _too_large(name: str, value: float) -> MetricOverflowError:
    return MetricOverflowError(
        f"{name} reaches {value:.3g}, beyond ±{MAX_MAGNITUDE:g}: its interval cannot be "
        f"computed in float64 (the arithmetic overflows), so the check cannot pass; the "
        f"model's outputs are implausibly large")


def bounded_value(name: str, fn: Callable[[Array, Array], float]
                  ) -> Callable[[Array, Array], float]:
    """``fn`` refusing a value beyond ±:data:`MAX_MAGNITUDE` (NaN, undefined, passes)."""
    def f(y: Array, pred: Array) -> float:
        with np.errstate(over="ignore", invalid="ignore"):
            value = fn(y, pred)
        if abs(value) > MAX_MAGNITUDE:
            raise _too_large(name, value)
        return value

    return f


def bounded_rows(name: str, rows: Callable[[Array, Array], Array]
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


def mean_of(rows: Callable[[Array, Array], Array]) -> Callable[[Array, Array], float]:
    """The metric that is the mean of the per-row loss ``rows``."""
    return lambda y, pred: float(np.mean(rows(y, pred)))


# --------------------------------------------------------------------------- per-row losses


def binary_log_loss_rows(y: Array, p: Array) -> Array:
    p = np.clip(p, EPS, 1 - EPS)
    rows: Array = -np.where(y == 1, np.log(p), np.log1p(-p))
    return rows


def multiclass_log_loss_rows(y: Array, p: Array) -> Array:
    p = np.clip(p, EPS, 1 - EPS)
    p = p / p.sum(axis=1, keepdims=True)
    rows: Array = -np.log(p[np.arange(len(y)), y.astype(np.int64)])
    return rows


def binary_brier_rows(y: Array, p: Array) -> Array:
    rows: Array = (p - y) ** 2
    return rows


def multiclass_brier_rows(y: Array, p: Array) -> Array:
    # as scikit-learn's brier_score_loss: the sum over classes, so it lies in [0, 2]
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y.astype(np.int64)] = 1.0
    rows: Array = ((p - onehot) ** 2).sum(axis=1)
    return rows


def abs_err(y: Array, pred: Array) -> Array:
    rows: Array = np.abs(y - pred)
    return rows


def sq_err(y: Array, pred: Array) -> Array:
    rows: Array = (y - pred) ** 2
    return rows


def ape(y: Array, pred: Array) -> Array:
    """|y − pred| / |y|; a target of 0 is refused (:class:`StatsError`): dividing by
    scikit-learn's ``max(|y|, eps)`` instead makes each such row cost ~1e15 and decide the
    metric alone."""
    zero = np.asarray(y) == 0
    if zero.any():
        raise StatsError(f"mape is undefined: {int(zero.sum()):,} of {len(zero):,} rows have "
                         f"target 0 (first at row {int(np.flatnonzero(zero)[0]) + 1}); use "
                         f"mae, or leave those rows out of the data")
    rows: Array = np.abs(y - pred) / np.maximum(np.abs(y), EPS)
    return rows


# --------------------------------------------------------------------------- regression


def rmse(y: Array, pred: Array) -> float:
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def r2(y: Array, pred: Array) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return float(1 - np.sum((y - pred) ** 2) / ss_tot) if ss_tot > 0 else float("nan")


def median_ae(y: Array, pred: Array) -> float:
    return float(np.median(np.abs(y - pred)))
