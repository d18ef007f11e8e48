"""Turn a model's own answer into evalgate's canonical arrays (see :mod:`evalgate.metrics`),
refusing NaN, infinities and labels that do not fit the target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import Target, label_key, plain
from .errors import ModelOutputError
from .metrics import Metric, Task
from .models import ModelInfo, RawPrediction


@dataclass(frozen=True, eq=False)
class Predictions:
    """Canonical predictions of one model on one dataset variant.

    ``label``: codes (classification) or values (regression); ``score``: P(positive) for
    binary, the (n, k) probability table for multiclass, ``None`` for regression.
    """

    label: np.ndarray
    score: np.ndarray | None

    def for_metric(self, metric: Metric) -> np.ndarray:
        if metric.needs == "score":
            if self.score is None:
                raise ValueError(f"{metric.name} needs probabilities")
            return self.score
        return self.label


def keys_of(values: np.ndarray) -> np.ndarray:
    """:func:`label_key` over an array, vectorised."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64).astype(str)
    if values.dtype.kind == "b":
        return values.astype(str)
    if values.dtype.kind == "f" and np.all(np.mod(values[np.isfinite(values)], 1) == 0):
        return np.where(np.isfinite(values), values.astype(np.int64).astype(str),
                        values.astype(str))
    return np.asarray([label_key(v) for v in values]) if values.dtype == object and any(
        isinstance(v, bytes) for v in values[:10]) else values.astype(str)


def class_universe(target: Target, raws: Sequence[RawPrediction]) -> tuple[Any, ...]:
    """The data's classes followed by any class only a model knows (multiclass)."""
    assert target.classes is not None
    classes = list(target.classes)
    seen = {label_key(c) for c in classes}
    for raw in raws:
        for c in raw.classes or ():
            if label_key(c) not in seen:
                seen.add(label_key(c))
                classes.append(c)
    return tuple(classes)


def _finite(info: ModelInfo, arr: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = bad.any(axis=1) if bad.ndim == 2 else bad
        count, first = int(rows.sum()), int(np.flatnonzero(rows)[0])
        raise ModelOutputError(info.path, f"the model returned NaN or infinite {what} for "
                                          f"{count} of {len(rows)} rows (first at data row "
                                          f"{first + 1}); the gate cannot judge such output")


def canonical(raw: RawPrediction, task: Task, target: Target, info: ModelInfo,
              n_rows: int) -> Predictions:
    """Check and convert one model's raw prediction for ``task``."""
    if task == "regression":
        if raw.values is None:
            raise ModelOutputError(info.path, "the suite's task is regression, but the model "
                                              "is a classifier")
        values = np.asarray(raw.values, dtype=np.float64).reshape(-1)
        _check_rows(info, len(values), n_rows)
        _finite(info, values, "predictions")
        return Predictions(label=values, score=None)

    if raw.proba is None and raw.labels is None:
        raise ModelOutputError(info.path, f"the suite's task is {task}, but the model gives no "
                                          f"class labels or probabilities (is it a regressor?)")
    assert target.classes is not None
    model_classes = tuple(raw.classes) if raw.classes is not None else None
    if raw.proba is not None:
        proba = np.asarray(raw.proba, dtype=np.float64)
        _check_rows(info, proba.shape[0], n_rows)
        _finite(info, proba, "probabilities")
    else:
        proba = None

    if task == "binary":
        pos_key = label_key(target.classes[1])
        if model_classes is not None:
            mkeys = [label_key(c) for c in model_classes]
            if len(mkeys) > 2:
                raise ModelOutputError(info.path, f"the suite's task is binary, but the model "
                                                  f"has {len(mkeys)} classes {model_classes}")
            if pos_key not in mkeys:
                raise ModelOutputError(info.path, f"the model's classes "
                                                  f"{tuple(plain(c) for c in model_classes)} do "
                                                  f"not include the positive label "
                                                  f"{plain(target.classes[1])!r}")
        score = None
        if proba is not None:
            assert model_classes is not None
            score = proba[:, [label_key(c) for c in model_classes].index(pos_key)]
        if raw.labels is not None:
            labels = np.asarray(raw.labels).reshape(-1)
            _check_rows(info, len(labels), n_rows)
            keys = _as_class_keys(info, keys_of(labels), labels, model_classes)
            label = (keys == pos_key).astype(np.int8)
        else:
            assert score is not None
            label = (score >= 0.5).astype(np.int8)
        return Predictions(label=label, score=score)

    # multiclass: target.classes is the universe (data classes first)
    index = {label_key(c): i for i, c in enumerate(target.classes)}
    k = len(target.classes)
    table = None
    if proba is not None:
        assert model_classes is not None
        cols = np.array([index[label_key(c)] for c in model_classes])
        table = np.zeros((proba.shape[0], k))
        table[:, cols] = proba
    if raw.labels is not None:
        labels = np.asarray(raw.labels).reshape(-1)
        keys = _as_class_keys(info, keys_of(labels), labels, model_classes)
        _check_rows(info, len(keys), n_rows)
        uniq, inverse = np.unique(keys, return_inverse=True)
        unknown = [u for u in uniq if u not in index]
        if unknown:
            raise ModelOutputError(info.path, f"the model predicts labels the suite does not "
                                              f"know: {', '.join(repr(str(u)) for u in unknown[:5])}")
        label = np.array([index[u] for u in uniq], dtype=np.int64)[inverse]
    else:
        assert table is not None
        label = table.argmax(axis=1)
    return Predictions(label=label, score=table)


def _as_class_keys(info: ModelInfo, keys: np.ndarray, labels: np.ndarray,
                   classes: tuple[Any, ...] | None) -> np.ndarray:
    """The label output as class keys. Some converters emit the argmax *index* while the
    classes are strings: integer labels outside the class keys but inside range(k) are read
    as indices; labels that are neither are an error, never silently a negative."""
    if classes is None or keys.size == 0:
        return keys
    class_keys = np.array([label_key(c) for c in classes])
    unknown = ~np.isin(keys, class_keys)
    if not unknown.any():
        return keys
    if labels.dtype.kind in "iu" and labels.min() >= 0 and labels.max() < len(classes):
        return class_keys[labels.astype(np.int64)]
    bad = sorted(set(keys[unknown].tolist()))[:5]
    raise ModelOutputError(info.path, f"the model's label output holds "
                                      f"{', '.join(repr(b) for b in bad)}, which are not among "
                                      f"its classes {tuple(plain(c) for c in classes)}")


def _check_rows(info: ModelInfo, got: int, want: int) -> None:
    if got != want:
        raise ModelOutputError(info.path, f"the model returned {got} predictions for {want} rows")
