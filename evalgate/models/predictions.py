"""Turn a model's own answer into evalgate's canonical arrays (see :mod:`evalgate.metrics`),
refusing NaN, infinities, probabilities that are not probabilities and labels that do not fit
the target.

Classes meet data labels by :func:`~evalgate.data.label_key` equality, or through
``data.label_map`` (data label → model class; a label it leaves out stands for itself). Per
model: when its classes include every mapped class the map is used, else when they include
every data label they are used directly, else the model is refused with both sets and the
``label_map:`` line to add. So a champion trained on the data's words and a candidate trained
on codes are judged on the same labels. Classes only a model knows are kept (multiclass:
appended to the class universe) and listed in the verdict's inputs.

Probabilities must lie in [0, 1] (within :data:`~.outputs.PROBA_RANGE_ATOL`) and each row
must sum to 1 within :func:`~.outputs.proba_sum_atol`; they are then clipped to [0, 1]. A
model that gives both labels and probabilities must give one answer, and its classes must not
repeat (:mod:`.agreement`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import Target, label_key, plain, sorted_labels
from ..errors import CheckError, ModelOutputError
from ..metrics import Metric, Task
from .agreement import binary_agrees, distinct_classes, multiclass_agrees
from .base import ModelInfo, RawPrediction
from .outputs import checked, clipped, finite, plausible

#: the order in which a model's classes are tried against the data labels
_MATCH_VIA = ("label_map", "direct")


@dataclass(frozen=True, eq=False)
class ClassMatch:
    """How one model's classes stand for the data labels.

    ``via``: ``"label_map"`` or ``"direct"``; ``to_model``: ``label_key(data label)`` → the
    model class standing for it; ``model_only``: the model's classes that stand for none."""

    via: str
    to_model: Mapping[str, Any]
    model_only: tuple[Any, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"via": self.via, "model_only": [plain(c) for c in self.model_only]}


@dataclass(frozen=True, eq=False)
class Predictions:
    """Canonical predictions of one model on one dataset variant.

    ``label``: codes (classification) or values (regression); ``score``: P(positive) for
    binary, the (n, k) probability table for multiclass, ``None`` for regression.
    """

    label: np.ndarray
    score: np.ndarray | None
    #: how the model's classes stood for the data labels (classification)
    classes: ClassMatch | None = field(default=None, compare=False)

    def for_metric(self, metric: Metric) -> np.ndarray:
        if metric.needs == "score":
            if self.score is None:
                raise CheckError(f"{metric.name} needs the model's probabilities; this model "
                                 "gives labels only")
            return self.score
        return self.label


@dataclass(frozen=True)
class RowKeys:
    """A label output as keys without a string per row: the keys of its distinct values
    (``distinct``, :func:`keys_of` of ``values``) and each row's index into them."""

    distinct: np.ndarray
    values: np.ndarray
    inverse: np.ndarray

    @classmethod
    def of(cls, labels: np.ndarray) -> RowKeys:
        inverse, values = pd.factorize(labels, use_na_sentinel=False)
        values = np.asarray(values)
        return cls(keys_of(values) if len(values) else np.array([], dtype=str), values,
                   inverse)

    @classmethod
    def of_codes(cls, labels: pd.Categorical) -> RowKeys:
        """Text labels already coded (no missing ones: a text output has none)."""
        values = np.asarray(labels.categories, dtype=object)
        return cls(keys_of(values) if len(values) else np.array([], dtype=str), values,
                   np.asarray(labels.codes))


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
    """The data's classes followed by any class only a model knows (multiclass), each in the
    data's terms (a class ``data.label_map`` maps to is its data label)."""
    assert target.classes is not None
    classes = list(target.classes)
    seen = {label_key(c) for c in classes}
    for raw in raws:
        if raw.classes is None:
            continue
        try:
            match = match_classes(target, tuple(raw.classes), declared=True, path="<model>")
        except ModelOutputError:
            continue  # canonical() refuses this model with the full message
        for c in match.model_only:
            if label_key(c) not in seen:
                seen.add(label_key(c))
                classes.append(c)
    return tuple(classes)


def match_classes(target: Target, known: Sequence[Any], *, declared: bool,
                  path: str, hint: Callable[[], str | None] | None = None) -> ClassMatch:
    """How a model's classes stand for ``target``'s data labels, or :class:`ModelOutputError`.

    ``known``: the model's declared classes (``declared``), which must cover every data
    label; or, for a model without declared classes, the distinct labels it emitted, each of
    which must stand for a data label."""
    data = target.data_labels
    mapped = dict(target.label_map)
    kkeys = {label_key(c): c for c in known}
    for via in _MATCH_VIA if mapped else ("direct",):
        stand = {label_key(d): (mapped.get(label_key(d), d) if via == "label_map" else d)
                 for d in data}
        image = {label_key(c) for c in stand.values()}
        if declared and not image <= set(kkeys):
            continue
        if not declared and not set(kkeys) <= image:
            continue
        only = tuple(c for k, c in kkeys.items() if k not in image)
        data_keys = set(stand)
        clash = [c for c in only if label_key(c) in data_keys]
        if clash:
            raise ModelOutputError(path, f"the model's class {plain(clash[0])!r} is also a data "
                                         f"label, but data.label_map has "
                                         f"{plain(clash[0])!r} stand for model class "
                                         f"{plain(stand[label_key(clash[0])])!r}; which one is "
                                         f"meant is ambiguous: map every data label")
        to_model = {k: kkeys.get(label_key(c), c) for k, c in stand.items()}
        return ClassMatch(via=via, to_model=to_model, model_only=only)
    raise ModelOutputError(path, _uncovered(target, tuple(known), declared, hint))


def _uncovered(target: Target, known: tuple[Any, ...], declared: bool,
               hint: Callable[[], str | None] | None = None) -> str:
    """The message for a model whose classes do not stand for every data label."""
    data = target.data_labels
    kkeys = {label_key(c) for c in known}
    dkeys = {label_key(d) for d in data}
    through = " (directly or through data.label_map)" if target.label_map else ""
    if declared:
        missing = [d for d in data if label_key(d) not in kkeys]
        if len(target.classes or ()) == 2 and target.classes is not None and any(
                label_key(d) == label_key(target.classes[1]) for d in missing):
            rest = [d for d in missing if label_key(d) != label_key(target.classes[1])]
            what = f"the positive label {plain(target.classes[1])!r}" + "".join(
                f" nor {plain(d)!r}" for d in rest)
        else:
            what = "the data label" + ("s " if len(missing) > 1 else " ") + ", ".join(
                repr(plain(d)) for d in missing)
        text = (f"the model's classes {_tuple(known)} do not include {what}{through}; "
                f"data labels: {_tuple(data)}, model classes: {_tuple(known)}")
    else:
        unknown = [c for c in known if label_key(c) not in dkeys]
        text = (f"data labels: {_tuple(data)}{through}; the model predicts labels the suite "
                f"does not know: {', '.join(repr(plain(u)) for u in unknown[:10])}")
    agreed = hint() if hint is not None else None
    line = suggest_label_map(target, known, declared=declared)
    if agreed is not None:
        text += f". If the model was trained on codes, add under data: in the suite: {agreed}"
    elif line is not None:
        text += (f". If the model was trained on codes, add under data: in the suite (check "
                 f"that each label gets its class): {line}")
    elif declared and len(known) < len(data):
        text += (f". No label_map can fix this: the model has {len(known)} classes for "
                 f"{len(data)} data labels")
    return text


def suggest_label_map(target: Target, known: Sequence[Any], *, declared: bool = True
                      ) -> str | None:
    """The ``label_map:`` line that makes ``known`` cover the data labels, or ``None``.

    Each uncovered data label gets a model class that is not a data label: by suffix when
    that is unambiguous (``class_0`` → ``0``), else by sorted order (binary: negative → the
    first, positive → the second, so ``0``/``1`` read as ``negative: 0, positive: 1``)."""
    data = list(target.data_labels)
    dkeys = {label_key(d) for d in data}
    kkeys = {label_key(c) for c in known}
    free = [c for c in sorted_labels(list(known)) if label_key(c) not in dkeys]
    if declared:
        todo = [d for d in data if label_key(d) not in kkeys]
    else:  # a label-only model: only when none of its labels is a data label
        todo = data if not kkeys & dkeys else []
    if not todo or not free or (declared and len(free) < len(todo)):
        return None
    pairs = _by_suffix(todo, free) or list(zip(todo, free))
    return "label_map: {" + ", ".join(f"{_yaml(d)}: {_yaml(c)}" for d, c in pairs) + "}"


def _by_suffix(labels: Sequence[Any], classes: Sequence[Any]) -> list[tuple[Any, Any]] | None:
    """``class_0`` → ``0``, ``grade-A`` → ``A``: each label ends in exactly one class, at a
    word or digit boundary, and no two labels end in the same class; else ``None``."""
    pairs = []
    for d in labels:
        dk = label_key(d)
        hits = [c for c in classes if _ends_in(dk, label_key(c))]
        if len(hits) != 1:
            return None
        pairs.append((d, hits[0]))
    if len({label_key(c) for _, c in pairs}) != len(pairs):
        return None
    return pairs


def _ends_in(label: str, cls: str) -> bool:
    if not cls or len(cls) >= len(label) or not label.endswith(cls):
        return False
    before = label[-len(cls) - 1]
    return not before.isalnum() or (cls.isdigit() and not before.isdigit())


def _yaml(value: Any) -> str:
    value = plain(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def _tuple(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(plain(v)) for v in values[:20])
    more = f", … ({len(values)} in all)" if len(values) > 20 else ""
    return f"({shown}{',' if len(values) == 1 else ''}{more})"


def canonical(raw: RawPrediction, task: Task, target: Target, info: ModelInfo,
              n_rows: int) -> Predictions:
    """Check and convert one model's raw prediction for ``task``."""
    if task == "regression":
        if raw.values is None:
            raise ModelOutputError(info.path, _not_values(raw, info))
        values = np.asarray(raw.values, dtype=np.float64).reshape(-1)
        _check_rows(info, len(values), n_rows)
        finite(info, values, "predictions")
        plausible(info, values)
        return Predictions(label=values, score=None)

    if raw.proba is None and raw.labels is None:
        raise ModelOutputError(info.path, f"the suite's task is {task}, but the model gives no "
                                          f"class labels or probabilities (is it a regressor?)")
    assert target.classes is not None
    model_classes = tuple(raw.classes) if raw.classes is not None else None
    if model_classes is not None:
        distinct_classes(info, model_classes)
    proba = None
    if raw.proba is not None:
        if model_classes is None:
            raise ModelOutputError(info.path, "the model gives probabilities but does not say "
                                              "which class each column is")
        proba = raw.proba if raw.proba.ndim == 2 else raw.proba.reshape(-1, 1)
        _check_rows(info, proba.shape[0], n_rows)
        checked(info, proba)  # left in its own dtype: each use widens what it reads
    keys, shown = _label_keys(raw, info, n_rows, model_classes, proba)
    if task == "binary" and model_classes is not None and len(model_classes) > 2:
        raise ModelOutputError(info.path, f"the suite's task is binary, but the model "
                                          f"has {len(model_classes)} classes {model_classes}")
    if model_classes is not None:
        match = match_classes(target, model_classes, declared=True, path=info.path,
                              hint=lambda: agreeing_map(target, model_classes, keys, proba))
    else:
        assert shown is not None
        match = match_classes(target, shown, declared=False, path=info.path)
    if task == "binary":
        return _binary(info, target, match, model_classes, proba, keys)
    return _multiclass(info, target, match, model_classes, proba, keys)


def _not_values(raw: RawPrediction, info: ModelInfo) -> str:
    """Why a model gives no values for a regression suite, in its own terms."""
    labels = raw.labels
    if (raw.proba is None and raw.classes is None and isinstance(labels, np.ndarray)
            and labels.dtype.kind in "iu"):
        reads = (info.signature or {}).get("reads") or {}
        name = f" {reads['label']!r}" if reads.get("label") else ""
        return (f"the suite's task is regression, but the model's output{name} is an integer "
                f"tensor ({labels.dtype}), which evalgate reads as class labels, and it has no "
                f"float output; a regressor must output float or double values (cast the "
                f"output to float)")
    return "the suite's task is regression, but the model is a classifier"


def _label_keys(raw: RawPrediction, info: ModelInfo, n_rows: int,
                model_classes: tuple[Any, ...] | None, proba: np.ndarray | None
                ) -> tuple[RowKeys | None, tuple[Any, ...] | None]:
    """The label output as class keys, and (for a model that does not declare its classes)
    the classes it emits; ``None``s without a label output."""
    if raw.labels is None:
        return None, None
    if isinstance(raw.labels, pd.Categorical):  # text labels as codes (the Dask engine)
        found, labels = RowKeys.of_codes(raw.labels), np.asarray(raw.labels.categories)
    else:
        labels = np.asarray(raw.labels).reshape(-1)
        found = RowKeys.of(labels)
    _check_rows(info, len(found.inverse), n_rows)
    keys = _as_class_keys(info, found, labels, model_classes, proba)
    if model_classes is not None:
        return keys, None
    # the labels it emits are all that is known of its classes
    _, first = np.unique(keys.distinct, return_index=True)
    return keys, tuple(plain(keys.values[i]) for i in first)


def _binary(info: ModelInfo, target: Target, match: ClassMatch,
            model_classes: tuple[Any, ...] | None, proba: np.ndarray | None,
            keys: RowKeys | None) -> Predictions:
    assert target.classes is not None
    pos_key = label_key(match.to_model[label_key(target.classes[1])])
    neg = match.to_model.get(label_key(target.classes[0]))
    if neg is None and model_classes is not None:  # the data holds positives only
        neg = next((c for c in model_classes if label_key(c) != pos_key), None)
    neg_key = label_key(neg) if neg is not None else None
    score = None
    if proba is not None:
        assert model_classes is not None
        # its own array: a view would keep the whole n × k table alive
        score = clipped(proba[:, [label_key(c) for c in model_classes].index(pos_key)])
    if keys is not None:
        positive = keys.distinct == pos_key
        stray = ~positive & (keys.distinct != neg_key)
        if stray.any():
            first = int(np.flatnonzero(stray[keys.inverse])[0])
            raise ModelOutputError(info.path, f"the model's label output holds "
                                              f"{str(keys.distinct[keys.inverse[first]])!r} "
                                              f"(first at data row {first + 1}), which is "
                                              f"neither the positive class {pos_key!r} nor the "
                                              f"negative class {neg_key!r}")
        label = positive.astype(np.int8)[keys.inverse]
        if score is not None:
            binary_agrees(info, label, score, match.to_model[label_key(target.classes[1])])
    else:
        assert score is not None
        label = (score >= 0.5).astype(np.int8)
    return Predictions(label=label, score=score, classes=match)


def _multiclass(info: ModelInfo, target: Target, match: ClassMatch,
                model_classes: tuple[Any, ...] | None, proba: np.ndarray | None,
                keys: RowKeys | None) -> Predictions:
    """``target.classes`` is the universe (data classes first, see :func:`class_universe`)."""
    assert target.classes is not None
    index = {label_key(c): i for i, c in enumerate(target.classes)}
    trans = {label_key(m): index[k] for k, m in match.to_model.items()}
    missing = [c for c in match.model_only if label_key(c) not in index]
    if missing:
        raise ModelOutputError(info.path, f"the model knows classes the suite's class universe "
                                          f"lacks: {', '.join(repr(plain(c)) for c in missing)}")
    trans.update({label_key(c): index[label_key(c)] for c in match.model_only})
    k = len(target.classes)
    table = None
    if proba is not None:
        assert model_classes is not None
        cols = np.array([trans[label_key(c)] for c in model_classes])
        table = np.zeros((proba.shape[0], k))
        table[:, cols] = proba
        np.clip(table, 0.0, 1.0, out=table)
    if keys is not None:
        uniq = keys.distinct
        unknown = sorted({str(u) for u in uniq if u not in trans})
        if unknown:
            raise ModelOutputError(info.path, f"the model predicts labels the suite does not "
                                              f"know: "
                                              f"{', '.join(repr(u) for u in unknown[:5])}")
        label = np.array([trans[u] for u in uniq], dtype=np.int64)[keys.inverse]
        if table is not None:
            multiclass_agrees(info, label, table, target.classes)
    else:
        assert table is not None
        label = table.argmax(axis=1)
    return Predictions(label=label, score=table, classes=match)


def _as_class_keys(info: ModelInfo, keys: RowKeys, labels: np.ndarray,
                   classes: tuple[Any, ...] | None, proba: np.ndarray | None) -> RowKeys:
    """The label output as class keys.

    Some converters emit the argmax *index* while the classes are strings. Integer labels
    are read as indices only when that is provable: the model declares its classes, no
    label is one of them, every label lies in ``range(k)``, and each row's label is a most
    probable column of its probability output. Labels that are not classes otherwise are an
    error, never silently a negative."""
    if classes is None or keys.inverse.size == 0:
        return keys
    class_keys = np.array([label_key(c) for c in classes])
    known = np.isin(keys.distinct, class_keys)
    if known.all() and _indices_not_values(labels, proba, classes):
        return RowKeys(class_keys[keys.values.astype(np.int64)], keys.values, keys.inverse)
    if known.all():
        return keys
    if not known.any() and _are_indices(labels, proba, len(classes)):
        return RowKeys(class_keys[keys.values.astype(np.int64)], keys.values, keys.inverse)
    bad = sorted(set(keys.distinct[~known].tolist()))[:5]
    hint = ("; they look like indices into the classes, but without a probability output "
            "that agrees with them evalgate cannot prove it" if labels.dtype.kind in "iu"
            and not known.any() and proba is None else "")
    raise ModelOutputError(info.path, f"the model's label output holds "
                                      f"{', '.join(repr(b) for b in bad)}, which are not among "
                                      f"its classes {tuple(plain(c) for c in classes)}{hint}")


def _indices_not_values(labels: np.ndarray, proba: np.ndarray | None,
                        classes: tuple[Any, ...]) -> bool:
    """Integer classes in another order than ``range(k)`` (``[1, 0]``) make integer labels
    read two ways: as the classes themselves, or as indices into them (an ArgMax output).
    The indices are meant when they, and not the values, pick a most probable column of the
    model's own probabilities on every row — read as values, such a champion's accuracy was
    its complement (0.22 for 0.78), and a worse candidate passed."""
    k = len(classes)
    ints = [int(c) for c in classes if isinstance(plain(c), int) and not isinstance(c, bool)]
    if len(ints) != k or sorted(ints) == ints or sorted(ints) != list(range(k)):
        return False
    if not _are_indices(labels, proba, k):
        return False
    columns = np.asarray([ints.index(int(v)) for v in range(k)])  # value → its column
    return not _are_indices(columns[labels.astype(np.int64)], proba, k)


def _are_indices(labels: np.ndarray, proba: np.ndarray | None, k: int) -> bool:
    if labels.dtype.kind not in "iu" or proba is None or proba.shape[1] != k:
        return False
    if labels.min() < 0 or labels.max() >= k:
        return False
    idx = labels.astype(np.int64)
    proba = clipped(proba)
    picked = proba[np.arange(len(idx)), idx]
    return bool(np.all(picked >= proba.max(axis=1) - 1e-6))


def _check_rows(info: ModelInfo, got: int, want: int) -> None:
    if got != want:
        raise ModelOutputError(info.path, f"the model returned {got} predictions for {want} rows")


def agreeing_map(target: Target, classes: Sequence[Any], keys: RowKeys | None,
                 proba: np.ndarray | None) -> str | None:
    """The ``label_map:`` under which the model's predictions agree most with the labels
    (an assignment of data labels to model classes, found on the rows themselves), with how
    often they agree — never a guess from the names' order, which inverts a model whose class
    1 is the data's negative label; ``None`` when the rows cannot say (no labels, fewer
    classes than labels, no prediction)."""
    from scipy.optimize import linear_sum_assignment

    if target.classes is None or len(classes) < len(target.classes) or not len(target.y):
        return None
    index = {str(k): j for j, k in enumerate(keys_of(np.asarray(list(classes), dtype=object)))}
    if keys is not None:
        column = np.array([index.get(str(k), -1) for k in keys.distinct])[keys.inverse]
    elif proba is not None and proba.shape[1] == len(classes):
        column = np.argmax(proba, axis=1)
    else:
        return None
    k, m = len(target.classes), len(classes)
    seen = column >= 0
    table = np.bincount(target.y[seen].astype(np.int64) * m + column[seen],
                        minlength=k * m).reshape(k, m)
    rows, picked = linear_sum_assignment(-table)
    agree = table[rows, picked].sum() / max(int(seen.sum()), 1)
    pairs = ", ".join(f"{_yaml(target.classes[i])}: {_yaml(classes[j])}"
                      for i, j in zip(rows, picked, strict=True))
    return (f"label_map: {{{pairs}}}  # under this map the model's predictions agree with the "
            f"labels on {agree:.1%} of {int(seen.sum()):,} rows; check it")
