"""Datasets: read CSV / CSV.gz / Parquet, check them against the suite, fingerprint them, and
encode the target into evalgate's canonical arrays (see :mod:`evalgate.metrics`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._files import stat_regular
from ._io import sha256_file
from .errors import DataError, did_you_mean
from .metrics import Task
from .spec import DataSpec


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded, checked dataset. ``frame`` holds every column of the file."""

    path: Path
    sha256: str
    rows: int
    frame: pd.DataFrame
    target: str
    features: tuple[str, ...]
    sensitive: tuple[str, ...]


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


def read_table(path: Path) -> pd.DataFrame:
    """Read a .csv, .csv.gz or .parquet file; every failure is a :class:`DataError`. The
    path must be a regular file: a FIFO or a device is refused before it is opened."""
    name = path.name.lower()
    try:
        kind = stat_regular(path)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the file: {exc.strerror}") from None
    if isinstance(kind, str):
        raise DataError(path, f"is {kind}, not a data file (data must be a regular file)")
    try:
        if name.endswith(".parquet"):
            _unique_columns(path, _parquet_header(path))
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz")):
            _unique_columns(path, _csv_header(path))
            return pd.read_csv(path, low_memory=False)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(path, "the file is empty (no header, no rows)") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is the user's file, not ours
        raise DataError(path, f"cannot read the file: {type(exc).__name__}: {exc}") from None
    raise DataError(path, "unsupported format; use .csv, .csv.gz or .parquet")


def _csv_header(path: Path) -> list[str]:
    """The header row as written (pandas would rename a repeated ``age`` to ``age.1``)."""
    row = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    return [str(v) for v in row.iloc[0].tolist()] if len(row) else []


def _parquet_header(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [str(n) for n in pq.read_schema(path).names]


def _unique_columns(path: Path, header: Sequence[str]) -> None:
    """A column name given twice is an error: which one is the target or a feature?"""
    seen: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}
    for i, col in enumerate(header, start=1):
        if col in seen:
            repeated.setdefault(col, [seen[col]]).append(i)
        else:
            seen[col] = i
    if repeated:
        shown = "; ".join(f"{c!r} (columns {', '.join(map(str, at))})"
                          for c, at in list(repeated.items())[:5])
        raise DataError(path, f"the header names {len(repeated)} column"
                              f"{'s' if len(repeated) > 1 else ''} more than once: {shown}; "
                              f"rename or drop the repeats, so that each column has one name")


def _missing_columns(frame: pd.DataFrame, wanted: Sequence[str], what: str, path: Path) -> None:
    columns = [str(c) for c in frame.columns]
    for col in wanted:
        if col not in frame.columns:
            raise DataError(path, f"{what} column {col!r} not found{did_you_mean(col, columns)}; "
                                  f"the file has columns: {', '.join(columns)}")


def load_dataset(spec: DataSpec) -> Dataset:
    frame = read_table(spec.path)
    path = spec.path
    if len(frame.columns) and any(not isinstance(c, str) for c in frame.columns):
        frame.columns = [str(c) for c in frame.columns]
    _missing_columns(frame, [spec.target], "target", path)
    _missing_columns(frame, spec.sensitive, "sensitive", path)
    if spec.features is not None:
        _missing_columns(frame, spec.features, "feature", path)
        features = spec.features
    else:
        features = tuple(c for c in frame.columns if c != spec.target)
    if len(frame) == 0:
        raise DataError(path, "the dataset has no rows")
    missing = int(frame[spec.target].isna().sum())
    if missing:
        first = int(np.flatnonzero(frame[spec.target].isna().to_numpy())[0])
        raise DataError(path, f"the target column {spec.target!r} is missing in {missing} of "
                              f"{len(frame)} rows (first at data row {first + 1}); "
                              f"drop or fill those rows")
    return Dataset(path=path, sha256=sha256_file(path), rows=len(frame), frame=frame,
                   target=spec.target, features=features, sensitive=spec.sensitive)


def label_key(value: Any) -> str:
    """A key under which equal labels of different types meet: ``1``, ``1.0``, ``np.int64(1)``
    all read ``"1"``; strings are themselves."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def sorted_labels(values: Sequence[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=label_key)


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

    values = sorted_labels(list(pd.unique(col)))
    if task == "binary":
        if len(values) > 2:
            raise DataError(data.path, f"task binary, but the target {data.target!r} has "
                            f"{len(values)} distinct values ({_show(values)}); "
                            f"use task: multiclass")
        keys = {label_key(v): v for v in values}
        if positive_label is None:
            if set(keys) <= {"0", "1"} or set(keys) <= {"True", "False"}:
                positive_label = keys.get("1", keys.get("True", 1))
            else:
                raise DataError(data.path, f"set data.positive_label in the suite to one of "
                                           f"the target's values: {_show(values)}")
        pos_key = label_key(positive_label)
        if pos_key not in keys:
            raise DataError(data.path, f"positive_label {positive_label!r} does not occur in the "
                                       f"target {data.target!r}; its values: {_show(values)}")
        positive = keys[pos_key]
        others = [v for k, v in keys.items() if k != pos_key]
        negative = others[0] if others else f"not {positive}"
        y = (col.map(label_key).to_numpy() == pos_key).astype(np.int8)
        present = (negative, positive) if others else (positive,)
        return Target(y=y, classes=(negative, positive), labels=present,
                      label_map=_label_map(data, present, label_map))

    codes = {label_key(v): i for i, v in enumerate(values)}
    y = col.map(label_key).map(codes).to_numpy(dtype=np.int64)
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
                                       f"{_show(list(labels))}")
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


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages: 1, not np.int64(1))."""
    return value.item() if isinstance(value, np.generic) else value


def _show(values: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(repr(plain(v)) for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")
