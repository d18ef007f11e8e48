"""Functions of a confusion table: ``f(table) -> value`` on tables of shape ``(..., k, k)``
(rows = truth, columns = prediction), vectorised over the leading axes. A zero denominator
gives 0 (scikit-learn's ``zero_division=0``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray


def confusion(y: Array, label: Array, k: int) -> Array:
    """The k×k confusion table (rows = truth, columns = prediction) by one bincount."""
    codes = y.astype(np.int64) * k + label.astype(np.int64)
    return np.bincount(codes, minlength=k * k).reshape(k, k).astype(np.float64)


def div(num: Array, den: Array) -> Array:
    """num / den with 0 where den == 0 (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def binary_cells(c: Array) -> tuple[Array, Array, Array, Array]:
    """A binary table's cells: tn, fp, fn, tp."""
    return c[..., 0, 0], c[..., 0, 1], c[..., 1, 0], c[..., 1, 1]


def accuracy(c: Array) -> Array:
    return div(np.trace(c, axis1=-2, axis2=-1), c.sum(axis=(-2, -1)))


def _per_class(c: Array) -> tuple[Array, Array, Array]:
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    return tp, c.sum(axis=-1), c.sum(axis=-2)  # tp, true count, predicted count


def balanced_accuracy(c: Array) -> Array:
    tp, true, _ = _per_class(c)
    present = true > 0
    return div((div(tp, true) * present).sum(axis=-1), present.sum(axis=-1))


def precision(c: Array) -> Array:
    _tn, fp, _fn, tp = binary_cells(c)
    return div(tp, tp + fp)


def recall(c: Array) -> Array:
    _tn, _fp, fn, tp = binary_cells(c)
    return div(tp, tp + fn)


def f1(c: Array) -> Array:
    _tn, fp, fn, tp = binary_cells(c)
    return div(2 * tp, 2 * tp + fp + fn)


def false_positive_rate(c: Array) -> Array:
    tn, fp, _fn, _tp = binary_cells(c)
    return div(fp, fp + tn)


def false_negative_rate(c: Array) -> Array:
    _tn, _fp, fn, tp = binary_cells(c)
    return div(fn, fn + tp)


def true_negative_rate(c: Array) -> Array:
    tn, fp, _fn, _tp = binary_cells(c)
    return div(tn, tn + fp)


def selection_rate(c: Array) -> Array:
    tn, fp, fn, tp = binary_cells(c)
    return div(tp + fp, tn + fp + fn + tp)


def matthews_corrcoef(c: Array) -> Array:
    tp, true, pred = _per_class(c)
    n = c.sum(axis=(-2, -1))
    correct = tp.sum(axis=-1)
    cov_ytyp = correct * n - (true * pred).sum(axis=-1)
    cov_ypyp = n**2 - (pred * pred).sum(axis=-1)
    cov_ytyt = n**2 - (true * true).sum(axis=-1)
    return div(cov_ytyp, np.sqrt(cov_ytyt * cov_ypyp))


def cohen_kappa(c: Array) -> Array:
    _, true, pred = _per_class(c)
    n = c.sum(axis=(-2, -1))
    po = div(np.trace(c, axis1=-2, axis2=-1), n)
    pe = div((true * pred).sum(axis=-1), n**2)
    return div(po - pe, 1 - pe)


def macro(stat: str, weighted: bool = False) -> Callable[[Array], Array]:
    """The per-class ``stat`` (precision, recall or f1) averaged over the classes (weighted by
    their support when ``weighted``)."""
    def f(c: Array) -> Array:
        tp, true, pred = _per_class(c)
        if stat == "precision":
            per = div(tp, pred)
        elif stat == "recall":
            per = div(tp, true)
        else:
            per = div(2 * tp, true + pred)
        if weighted:
            return div((per * true).sum(axis=-1), true.sum(axis=-1))
        # scikit-learn averages over the classes present in truth or prediction
        present = (true + pred) > 0
        return div((per * present).sum(axis=-1), present.sum(axis=-1))

    return f
