"""The groups of one grouping: every row coded 0..G−1 by the values of its columns.

A column is coded by ``pandas.factorize`` (sorted values; values that do not sort together
are ordered by their text), by its categories (a categorical column keeps its unused
categories as groups of 0 rows), or by bins (cut points, or quantiles; empty bins stay). A
missing value forms its own group, labelled :data:`MISSING`. An intersection codes the rows
by mixed-radix codes of its columns and lists only the combinations that occur.

Group labels are user data: messages show them through :func:`show`; records keep them raw.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...data import Dataset, label_key
from ...errors import DataError, did_you_mean
from .spec import BiasSpec, Grouping

MISSING = "(missing)"
_LABEL_LIMIT = 60
#: the most group labels an error message lists
_LISTED = 20

Array = np.ndarray


def show(label: str) -> str:
    """A group label fit for a terminal line: quoted, escaped, at most 60 characters."""
    text = repr(str(label))
    return text if len(text) <= _LABEL_LIMIT else text[:_LABEL_LIMIT - 2] + "…" + text[0]


@dataclass(frozen=True, eq=False)
class Groups:
    """The rows of one grouping as codes 0..G-1, with a label per group."""

    name: str
    code: Array
    labels: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]  # per group, the label of each column (for reference)
    count: Array

    @property
    def size(self) -> int:
        return len(self.labels)


def _binned_codes(col: Any, column: str, bins: tuple[float, ...] | int,
                  path: Any) -> tuple[Array, list[str], Array]:
    """Codes of a numeric column cut at ``bins`` (cut points, or a number of quantile bins)."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise DataError(path, f"bias bins need a numeric column, but {column!r} is "
                              f"{col.dtype}")
    x = col.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(x)
    if isinstance(bins, int):
        if missing.all():
            raise DataError(path, f"column {column!r} has no values to bin")
        qs = np.nanquantile(x, np.arange(1, bins) / bins)
        cuts = tuple(float(q) for q in np.unique(qs))
    else:
        cuts = bins
    code = np.searchsorted(np.asarray(cuts), x, side="right")
    labels = [f"< {cuts[0]:g}"]
    labels += [f"[{a:g}, {b:g})" for a, b in itertools.pairwise(cuts)]
    labels += [f"≥ {cuts[-1]:g}"]
    return code, labels, missing


def _factorized_codes(col: Any) -> tuple[Array, list[str], Array]:
    """Codes of a column by its sorted values (by their text when they do not sort)."""
    import pandas as pd

    try:
        code, uniques = pd.factorize(col, sort=True)
    except TypeError:  # values that do not sort together: order them by their text
        code, uniques = pd.factorize(col, sort=False)
        order = np.argsort([label_key(v) for v in uniques], kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        code = np.where(code >= 0, rank[np.maximum(code, 0)], -1)
        uniques = [uniques[i] for i in order]
    code = np.asarray(code, dtype=np.int64)
    return code, [label_key(v) for v in uniques], code < 0


def column_codes(frame: Any, column: str, bins: tuple[float, ...] | int | None,
                 path: Any) -> tuple[Array, list[str]]:
    """Each row's group code by ``column`` alone, and the groups' labels (missing last)."""
    import pandas as pd

    col = frame[column]
    if bins is not None:
        code, labels, missing = _binned_codes(col, column, bins, path)
    elif isinstance(col.dtype, pd.CategoricalDtype):
        code = col.cat.codes.to_numpy().astype(np.int64)
        labels = [label_key(v) for v in col.cat.categories]
        missing = code < 0
    else:
        code, labels, missing = _factorized_codes(col)
    code = np.asarray(code, dtype=np.int64)
    if missing.any():
        code = np.where(missing, len(labels), code)
        labels.append(MISSING)
    return code, labels


def _intersect(parts: list[tuple[Array, list[str]]], rows: int
               ) -> tuple[Array, list[tuple[str, ...]]]:
    """The codes of the combinations that occur, and each one's column labels."""
    code = np.zeros(rows, dtype=np.int64)
    for c, labs in parts:
        code = code * len(labs) + c
    present, code = np.unique(code, return_inverse=True)
    keys = []
    for value in present:
        key = []
        for _, labs in reversed(parts):
            value, digit = divmod(int(value), len(labs))
            key.append(labs[digit])
        keys.append(tuple(reversed(key)))
    return code.reshape(-1), keys


def group_rows(data: Dataset | None, spec: BiasSpec, grouping: Grouping) -> Groups:
    """Code the rows by ``grouping``; a missing column is a :class:`DataError`."""
    if data is None:
        raise DataError(None, "the bias family needs the dataset")
    frame = data.frame
    columns = [str(c) for c in frame.columns]
    for col in grouping.columns:
        if col not in frame.columns:
            raise DataError(data.path, f"bias group column {col!r} not found"
                                       f"{did_you_mean(col, columns)}; the file has columns: "
                                       f"{', '.join(columns)}")
    parts = [column_codes(frame, c, spec.bins.get(c), data.path) for c in grouping.columns]
    keys: list[tuple[str, ...]]
    if len(parts) == 1:
        code, labels = parts[0]
        keys = [(lab,) for lab in labels]
    else:
        code, keys = _intersect(parts, len(frame))
        labels = [" & ".join(k) for k in keys]
    count = np.bincount(code, minlength=len(labels))
    return Groups(grouping.name, code, tuple(labels), tuple(tuple(k) for k in keys), count)


def reference_group(spec: BiasSpec, grouping: Grouping, groups: Groups,
                    data: Dataset | None) -> int | None:
    """The index of the grouping's reference group (``None`` when it has none); a reference
    that does not occur in the data is a :class:`DataError`."""
    if not all(c in spec.reference for c in grouping.columns):
        return None
    key = tuple(spec.reference[c] for c in grouping.columns)
    for g, k in enumerate(groups.keys):
        if k == key:
            return g
    want = " & ".join(key)
    path = data.path if data is not None else None
    shown = ", ".join(show(lab) for lab in groups.labels[:_LISTED])
    more = f", … ({groups.size} in all)" if groups.size > _LISTED else ""
    raise DataError(path, f"bias reference group {show(want)} does not occur in "
                          f"{grouping.name}{did_you_mean(want, groups.labels)}; its groups: "
                          f"{shown}{more}")
