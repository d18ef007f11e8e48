"""The target encoded into evalgate's canonical arrays (see :mod:`evalgate.metrics`): codes
for classification (binary: 1 = the positive label), floats for regression; and
``data.label_map`` checked against the labels the data holds.

Labels are encoded per distinct value (``pandas.factorize``), never per row in Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..metrics import Task
from .labels import label_key, plain, show_values, sorted_labels
from .read import Dataset


@dataclass(frozen=True, eq=False)
class Target:
    """The encoded target: ``y`` as codes (classification) or floats (regression).

    ``classes[i]`` is the original label of code ``i``; for binary, code 1 is the positive label.
    ``labels`` are the distinct labels that occur in the data (``None``: all of ``classes``;
    a binary target whose rows are all positive has a negative class but no negative label).
    ``label_map`` pairs ``label_key(data label)`` with the model class that stands for it
    (``data.label_map``); :mod:`evalgate.predictions` decides per model whether to use it.
    """

    y: np.ndarray
    classes: tuple[Any, ...] | None
    labels: tuple[Any, ...] | None = None
    label_map: tuple[tuple[str, Any], ...] = ()

    @property
    def data_labels(self) -> tuple[Any, ...]:
        """The labels that occur in the data, which every model's classes must cover."""
        return self.labels if self.labels is not None else tuple(self.classes or ())


def encode_target(data: Dataset, task: Task, positive_label: Any = None,
                  label_map: Sequence[tuple[Any, Any]] = ()) -> Target:
    """Encode the target column for ``task``; unusable labels raise :class:`DataError`.

    ``label_map`` (``data.label_map``: data label → model class) must name labels that occur
    in the data and give distinct classes once unmapped labels stand for themselves."""
    col = data.frame[data.target]
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise DataError(data.path, f"the target {data.target!r} must be numeric for a "
                                       f"regression suite (its type is {col.dtype})")
        y = col.to_numpy(dtype=np.float64)
        if not np.isfinite(y).all():
            raise DataError(data.path, f"the target {data.target!r} holds infinite values")
        return Target(y=y, classes=None)

    codes, uniques = pd.factorize(col)  # every row has a label: missing ones were refused
    values = sorted_labels(list(uniques))
    unique_keys = np.array([label_key(u) for u in uniques], dtype=object)
    if task == "binary":
        if len(values) > 2:
            raise DataError(data.path, f"task binary, but the target {data.target!r} has "
                            f"{len(values)} distinct values ({show_values(values)}); "
                            f"use task: multiclass")
        keys = {label_key(v): v for v in values}
        if positive_label is None:
            if set(keys) <= {"0", "1"} or set(keys) <= {"True", "False"}:
                positive_label = keys.get("1", keys.get("True", 1))
            else:
                raise DataError(data.path, f"set data.positive_label in the suite to one of "
                                           f"the target's values: {show_values(values)}")
        pos_key = label_key(positive_label)
        if pos_key not in keys:
            raise DataError(data.path, f"positive_label {positive_label!r} does not occur in the "
                                       f"target {data.target!r}; its values: {show_values(values)}")
        positive = keys[pos_key]
        others = [v for k, v in keys.items() if k != pos_key]
        negative = others[0] if others else f"not {positive}"
        y = (unique_keys == pos_key).astype(np.int8)[codes]
        present = (negative, positive) if others else (positive,)
        return Target(y=y, classes=(negative, positive), labels=present,
                      label_map=_label_map(data, present, label_map))

    code_of = {label_key(v): i for i, v in enumerate(values)}
    y = np.array([code_of[k] for k in unique_keys], dtype=np.int64)[codes]
    return Target(y=y, classes=tuple(values), labels=tuple(values),
                  label_map=_label_map(data, tuple(values), label_map))


def _label_map(data: Dataset, labels: Sequence[Any],
               pairs: Sequence[tuple[Any, Any]]) -> tuple[tuple[str, Any], ...]:
    """``data.label_map`` keyed by :func:`label_key`, checked against the data's labels."""
    if not pairs:
        return ()
    keys = {label_key(v) for v in labels}
    for label, _ in pairs:
        if label_key(label) not in keys:
            raise DataError(data.path, f"data.label_map maps {plain(label)!r}, which does not "
                                       f"occur in the target {data.target!r}; its values: "
                                       f"{show_values(list(labels))}")
    mapped = {label_key(label): cls for label, cls in pairs}
    stands: dict[str, Any] = {}
    for v in labels:
        cls = mapped.get(label_key(v), v)
        if label_key(cls) in stands:
            raise DataError(data.path, f"data.label_map makes {plain(stands[label_key(cls)])!r} "
                                       f"and {plain(v)!r} both stand for model class "
                                       f"{plain(cls)!r}; map every label to its own class")
        stands[label_key(cls)] = v
    return tuple(mapped.items())
