"""What a model's numbers must be before the gate judges them: finite, probabilities in
[0, 1] whose rows sum to 1 (within the tolerances below, then clipped), regression values
within ``MAX_PREDICTION``. Each refusal names how many rows and the first."""

from __future__ import annotations

import numpy as np

from ..errors import ModelOutputError
from .base import ModelInfo

#: a probability may stray this far outside [0, 1]: float32 rounding of a value computed
#: near 0 or 1 (1 - p, a softmax, a tree average) is a few ulps of 1.0, ~1e-7; 1e-5 is
#: 100× that and far below any value that means something else
PROBA_RANGE_ATOL = 1e-5
#: per class, how far a row's sum may stray from 1 (see :func:`proba_sum_atol`)
PROBA_SUM_ATOL_PER_CLASS = 1e-4
PROBA_SUM_ATOL_MAX = 1e-2


def proba_sum_atol(k: int) -> float:
    """Tolerance of a row sum of ``k`` probabilities: ``1e-4·k``, at most ``1e-2``.

    Each float32 term carries a rounding error of at most 2^-24 ≈ 6e-8 relative, and
    converters reach it through a few operations (exp and divide, or an average of float32
    tree leaves), so an honest row of ``k`` terms sums to 1 within about ``k·1e-6``. ``1e-4·k``
    leaves 100× room for that, while a scaled output (×0.5, ×3: off by 0.5 or more) or
    unnormalised scores are refused."""
    return min(PROBA_SUM_ATOL_PER_CLASS * max(k, 1), PROBA_SUM_ATOL_MAX)


def finite(info: ModelInfo, arr: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = bad.any(axis=1) if bad.ndim == 2 else bad
        count, first = int(rows.sum()), int(np.flatnonzero(rows)[0])
        raise ModelOutputError(info.path, f"the model returned NaN or infinite {what} for "
                                          f"{count} of {len(rows)} rows (first at data row "
                                          f"{first + 1}); the gate cannot judge such output")


#: rows of a probability table checked at a time
CHECK_ROWS = 1 << 20


def checked(info: ModelInfo, proba: np.ndarray) -> None:
    """Refuse a probability table with NaN or infinities, outside [0, 1] or whose rows do not
    sum to 1, checked as float64 ``CHECK_ROWS`` rows at a time; a refusal is worded for the
    whole table (how many rows, the first)."""
    for a in range(0, len(proba), CHECK_ROWS):
        part = np.asarray(proba[a:a + CHECK_ROWS], dtype=np.float64)
        if np.isfinite(part).all() and _proper(part) is None:
            continue
        whole = np.asarray(proba, dtype=np.float64)
        finite(info, whole, "probabilities")
        found = _proper(whole)
        assert found is not None
        raise ModelOutputError(info.path, found)


def _proper(proba: np.ndarray) -> str | None:
    """What is wrong with a (finite, float64) probability table, or ``None``."""
    k = proba.shape[1]
    outside = np.asarray(((proba < -PROBA_RANGE_ATOL) | (proba > 1 + PROBA_RANGE_ATOL)).any(axis=1))
    if outside.any():
        return _bad_rows(proba, outside, "outside [0, 1]")
    if k > 1:
        atol = proba_sum_atol(k)
        sums = proba.sum(axis=1)
        off = np.abs(sums - 1) > atol
        if off.any():
            first = int(np.flatnonzero(off)[0])
            return _bad_rows(proba, off, f"that do not sum to 1 (within {atol:g}; row "
                                         f"{first + 1} sums to {sums[first]:.6g})")
    return None


def clipped(proba: np.ndarray) -> np.ndarray:
    """Checked probabilities as float64, the rounding the tolerances allow clipped to
    [0, 1] (a new array: never the model's)."""
    out = np.array(proba, dtype=np.float64)  # a contiguous copy, clipped where it lies
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _bad_rows(proba: np.ndarray, rows: np.ndarray, what: str) -> str:
    count, first = int(rows.sum()), int(np.flatnonzero(rows)[0])
    values = ", ".join(f"{v:.6g}" for v in proba[first, :10])
    return (f"the model returned probabilities {what} for {count} of {len(rows)} rows (first "
            f"at data row {first + 1}: [{values}{', …' if proba.shape[1] > 10 else ''}]); "
            f"a probability output holds one probability per class, each row summing to 1")


#: the largest regression prediction the gate judges: its squared error and the bootstrap's
#: sums of cubes of those stay inside float64 (see :data:`evalgate.metrics.MAX_MAGNITUDE`)
MAX_PREDICTION = 1e45


def plausible(info: ModelInfo, values: np.ndarray) -> None:
    big = np.abs(values) > MAX_PREDICTION
    if big.any():
        first = int(np.flatnonzero(big)[0])
        raise ModelOutputError(info.path, f"the model returned implausibly large predictions "
                                          f"for {int(big.sum())} of {len(values)} rows (first "
                                          f"at data row {first + 1}: {values[first]:.3g}, "
                                          f"beyond ±{MAX_PREDICTION:g}); the gate cannot judge "
                                          "such output")
