"""ROC AUC under the stratified bootstrap: positives and negatives resampled separately,
each class keeping its count, for one or several models on the same rows.

The smaller class (``k`` rows) is resampled row by row. The larger class enters every AUC
only through where each of its rows falls among the smaller class's scores, so its rows are
merged into *cells* — rows with the same place (below, tied with, above each small-class
score) under every model — and resampled by one multinomial draw over the cells, exactly as
resampling its rows: at most (2k + 1) places per model, whatever the row count. A replicate's
AUC is then wₛ·Ψ·w_c / (k·N) with Ψ the (k × cells) matrix of ψ ∈ {0, ½, 1}.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Array = np.ndarray

_BLOCK_ELEMENTS = 1 << 22  # replicates × cells per vectorised block


def _cells(small: Sequence[Array], large: Sequence[Array]) -> tuple[Array, Array]:
    """One row of the larger class per cell (its index) and the rows per cell."""
    k = len(small[0])
    key = np.zeros(len(large[0]), dtype=np.int64)
    for s, t in zip(small, large):
        ordered = np.sort(s)
        place = (np.searchsorted(ordered, t, side="left") * (k + 1)
                 + np.searchsorted(ordered, t, side="right"))
        key = key * (k + 1) ** 2 + place
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return first, counts


def stratified_aucs(y: Array, scores: Sequence[Array], rng: np.random.Generator,
                    n_resamples: int) -> Array:
    """Bootstrap replicates (n_resamples × models) of each model's ROC AUC, the classes
    resampled separately."""
    pos = np.asarray(y) == 1
    m = int(pos.sum())
    small_is_pos = m <= len(pos) - m
    sign = 1.0 if small_is_pos else -1.0  # ψ compares positive > negative
    small_rows = pos if small_is_pos else ~pos
    small = [sign * np.asarray(s, dtype=np.float64)[small_rows] for s in scores]
    large = [sign * np.asarray(s, dtype=np.float64)[~small_rows] for s in scores]
    k, big = len(small[0]), len(large[0])
    first, counts = _cells(small, large)
    psi = [(s[:, None] > t[first][None, :]) + 0.5 * (s[:, None] == t[first][None, :])
           for s, t in zip(small, large)]
    out = np.empty((n_resamples, len(scores)))
    step = max(1, _BLOCK_ELEMENTS // max(len(counts), k))
    share, uniform = counts / big, np.full(k, 1.0 / k)
    for start in range(0, n_resamples, step):
        size = min(step, n_resamples - start)
        ws = rng.multinomial(k, uniform, size=size).astype(np.float64)
        wc = rng.multinomial(big, share, size=size).astype(np.float64)
        for r, p in enumerate(psi):
            out[start:start + size, r] = np.einsum("bc,bc->b", ws @ p, wc) / (k * big)
    return out
