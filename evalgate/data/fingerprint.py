"""Row fingerprints: a 64-bit hash per row (its values, not its position), and a small sketch
of a dataset — its :data:`SKETCH_SIZE` smallest row hashes — that tells whether a later
dataset contains it (every sketched row is among the later one's rows)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

#: rows kept in a sketch: a dataset that lacks even 1% of the sketched one's rows contains all
#: 256 sketched rows with probability below 0.99^256 ≈ 8%, one that lacks 5% below 2e-6
SKETCH_SIZE = 256


def hash_rows(frame: pd.DataFrame) -> np.ndarray:
    """Each row's hash (uint64), in order: equal values hash equal wherever the row stands and
    whatever dtype its columns were read as. Numbers are hashed as float64 — a file's column
    of integers reads as float64 once a file with a missing value is read beside it, and the
    ledger must still know the earlier rows among the later ones (else a second look on
    grown data counts as a first, at the first's level); text, categories and object values
    hash alike by value."""
    out = frame.copy(deep=False)
    for c in out.columns:
        col = out[c]
        if is_numeric_dtype(col.dtype) and col.dtype != np.float64:
            out[c] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    hashes: np.ndarray = pd.util.hash_pandas_object(out, index=False).to_numpy()
    return hashes


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Each row's hash (:func:`hash_rows`), sorted."""
    hashes: np.ndarray = np.sort(hash_rows(frame))
    return hashes


def rows_digest(hashes: np.ndarray) -> str:
    """The rows' identity by content: the sha256 of their distinct hashes, sorted — the same
    for the same rows in any order, file format or partitioning, and for rows written more
    than once (a copy of a row is no new row)."""
    distinct = np.unique(np.asarray(hashes, dtype=np.uint64)).astype("<u8")
    return hashlib.sha256(distinct.tobytes()).hexdigest()


def sketch(hashes: np.ndarray, size: int = SKETCH_SIZE) -> tuple[int, ...]:
    """The ``size`` smallest distinct row hashes (from :func:`row_hashes`)."""
    return tuple(int(h) for h in np.unique(hashes)[:size])


def contains(hashes: np.ndarray, earlier: tuple[int, ...]) -> bool:
    """Whether every row of the ``earlier`` sketch is among the sorted ``hashes``."""
    if not earlier:
        return False
    wanted = np.asarray(earlier, dtype=np.uint64)
    at = np.searchsorted(hashes, wanted)
    at = np.minimum(at, len(hashes) - 1)
    return bool(len(hashes)) and bool(np.all(hashes[at] == wanted))
