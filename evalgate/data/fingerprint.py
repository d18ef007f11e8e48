"""Row fingerprints: a 64-bit hash per row (its values, not its position), and a small sketch
of a dataset — its :data:`SKETCH_SIZE` smallest row hashes — that tells whether a later
dataset contains it (every sketched row is among the later one's rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: rows kept in a sketch: a dataset that lacks even 1% of the sketched one's rows contains all
#: 256 sketched rows with probability below 0.99^256 ≈ 8%, one that lacks 5% below 2e-6
SKETCH_SIZE = 256


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Each row's hash (uint64), sorted; equal rows hash equal wherever they stand."""
    hashes: np.ndarray = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    return hashes


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
