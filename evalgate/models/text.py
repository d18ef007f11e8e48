"""How a text column is fed to an ONNX string input: as Python ``str`` values, a missing
value ``""``, converted once per frame for the models predicting the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

#: text columns converted for ONNX inside :func:`shared_feeds`: (id(frame), column) → (the
#: frame, kept alive so that its id is not reused; the column as Python strings)
_SHARED: ContextVar[dict[tuple[int, str], tuple[pd.DataFrame, np.ndarray]] | None] = ContextVar(
    "evalgate_shared_feeds", default=None)


@contextmanager
def shared_feeds() -> Iterator[None]:
    """Within this block a text column fed to several ONNX models (the candidate and the
    champion on the same rows) is converted to Python strings once."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared_text(frame: pd.DataFrame, name: str) -> np.ndarray:
    shared = _SHARED.get()
    if shared is None:
        return _text(frame[name])
    found = shared.get((id(frame), name))
    if found is None or found[0] is not frame:
        found = shared[(id(frame), name)] = (frame, _text(frame[name]))
    return found[1]


#: rows from which arrow-backed text is converted through its distinct values (below, the
#: factorisation's fixed cost, some 40 µs a column, would slow the one-row calls of a load test)
_FACTORIZE_FROM = 8192


def _text(col: pd.Series) -> np.ndarray:
    """A column as the object array of ``str`` an ONNX string input takes, a missing value
    ``""`` whatever the column's dtype — a file whose text column is empty on every row reads
    as float64 NaN, and the same rows must be fed alike whichever files stand beside them.
    Long arrow-backed text is converted through its distinct values: a million Python
    strings made one by one cost twice as much."""
    if (isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow"
            and len(col) >= _FACTORIZE_FROM):
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        table = np.empty(len(uniques) + 1, dtype=object)
        table[:-1] = np.asarray(uniques, dtype=object)
        table[-1] = ""  # code -1: a missing value
        return np.asarray(table[codes])
    if pd.api.types.is_string_dtype(col) or col.dtype == object:
        arr = col.to_numpy(dtype=object, na_value="")
        if col.dtype == object and not all(isinstance(v, str) for v in arr[:100]):
            arr = _as_str(col)
        return np.asarray(arr)
    return _as_str(col)


def _as_str(col: pd.Series) -> np.ndarray:
    """Each value as ``str``, a missing one as ``""`` (pandas' ``astype(str)`` keeps NaN)."""
    arr = np.asarray(col.astype(str).to_numpy(dtype=object))
    arr[col.isna().to_numpy()] = ""
    return arr
