"""Average precision under resampling: sort once, reweight; rows with equal (truth,
predictions) merged into weighted cells first."""

from __future__ import annotations

import numpy as np

from .bootstrap import parallel, poisson_weights, row_counts
from .rules import ASYMPTOTIC_MIN_ROWS, JACKKNIFE_GROUPS

Array = np.ndarray


def _cells_of(y: Array, preds: list[Array]) -> tuple[Array, Array, Array] | None:
    """Rows with identical (truth, predictions) as cells — (cell of each row, a row of each
    cell, rows per cell) — when there are at most n/8 cells, else ``None``."""
    n = len(y)
    key = y.astype(np.int64)
    size = 2
    for p in preds:
        values, code = np.unique(p, return_inverse=True)
        if len(values) * 8 > n or size * len(values) >= 2**62:
            return None
        key = key + code.astype(np.int64).reshape(-1) * size
        size *= len(values)
    _, first, unit, counts = np.unique(key, return_index=True, return_inverse=True,
                                       return_counts=True)
    if len(counts) * 8 > n:
        return None
    return unit.reshape(-1), first, counts.astype(np.float64)


class _WeightedAP:
    """Average precision of one model under many weightings of the same units (rows, or
    merged cells), all in one layout: the units sorted by the first model's score.

    Sorting happens once; a block of weights (replicates × units) costs a few vectorised
    passes: the weighted count of units ranked at or above each positive (cumulative sum
    over all units) and the weighted count of positives (cumulative sum over positives)."""

    def __init__(self, y: Array, score: Array, layout: Array | None):
        order = np.argsort(-score, kind="mergesort")
        s = score[order]
        n = len(s)
        self.perm = None if layout is None else layout[order]  # unit → position in layout
        group = np.r_[0, np.cumsum(s[1:] != s[:-1])]
        last = np.r_[np.flatnonzero(np.diff(s)), n - 1]  # end of each run of equal scores
        positive = y[order] == 1
        self.pos_layout = (np.flatnonzero(positive) if self.perm is None
                           else self.perm[positive])
        self.end_all = last[group[positive]]
        self.end_pos = np.cumsum(positive)[self.end_all] - 1

    def __call__(self, w: Array) -> Array:
        dtype = np.int32 if w.dtype.itemsize < 4 else np.int64
        ordered = w if self.perm is None else np.take(w, self.perm, axis=1)
        seen = np.take(np.cumsum(ordered, axis=1, dtype=dtype), self.end_all, axis=1)
        wp = np.take(w, self.pos_layout, axis=1)
        tp_all = np.cumsum(wp, axis=1, dtype=dtype)
        tp = np.take(tp_all, self.end_pos, axis=1)
        precision = tp / np.maximum(seen, 1)  # seen = 0 only where tp = 0
        total = tp_all[:, -1] if tp_all.shape[1] else np.zeros(len(w), dtype=dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            ap: Array = np.einsum("ij,ij->i", wp, precision) / total
            return ap


def ap_bootstrap(y: Array, preds: list[Array], rng: np.random.Generator, n_resamples: int
                  ) -> tuple[Array, Array, None, str]:
    """Bootstrap replicates and grouped-jackknife values of average precision for each model
    (columns), plus the jackknife weights and the resampling scheme's name."""
    n = len(y)
    cells = _cells_of(y, preds)
    if cells is not None:  # few distinct rows: resample cells, exactly as rows
        unit_of_row, first_row, counts = cells
        units_y, units_p = y[first_row], [p[first_row] for p in preds]
        scheme = "bootstrap-cells"
    else:
        units_y, units_p, scheme, unit_of_row = y, preds, "bootstrap", np.arange(n)
        counts = np.ones(n)
        if n >= ASYMPTOTIC_MIN_ROWS:
            scheme = "poisson-bootstrap"
    m = len(units_y)
    base = np.argsort(-units_p[0], kind="mergesort")
    layout = np.empty(m, dtype=np.int64)
    layout[base] = np.arange(m)
    models = [_WeightedAP(units_y, p, layout) for p in units_p]
    y_layout = np.empty(m)
    y_layout[layout] = units_y

    def draw(r: np.random.Generator, size: int) -> Array:
        if scheme == "bootstrap-cells":
            return r.multinomial(n, counts[base] / n, size=size).astype(np.int32)
        if scheme == "poisson-bootstrap":
            return poisson_weights(r, (size, m))
        return row_counts(r, m, size).astype(np.int32)  # rows are exchangeable: draw in layout

    block = max(1, min(4, (1 << 22) // max(m, 1)))
    starts = list(range(0, n_resamples, block))
    seeds = rng.integers(0, 2**63 - 1, size=len(starts))

    # delete-a-group jackknife: each row in one of JACKKNIFE_GROUPS random groups
    groups = np.arange(n) % min(JACKKNIFE_GROUPS, n)
    rng.shuffle(groups)
    g = int(groups.max()) + 1
    unit_layout = layout[unit_of_row]
    members = [unit_layout[groups == j] for j in range(g)]
    if cells is None:  # one row per unit: leaving a group out zeroes its rows
        full = np.ones(m, dtype=np.uint8)
    else:  # rows merged into cells: leaving a group out lowers its cells' counts
        full = np.bincount(unit_layout, minlength=m).astype(np.int32)
    jack_starts = list(range(0, g, block))

    def run(i: int) -> Array:
        if i < len(starts):  # a block of bootstrap replicates
            size = min(block, n_resamples - starts[i])
            w = draw(np.random.default_rng(seeds[i]), size)
        else:  # a block of jackknife deletions
            first = jack_starts[i - len(starts)]
            rows = range(first, min(g, first + block))
            w = np.repeat(full[None, :], len(rows), axis=0)
            for k, j in enumerate(rows):
                if cells is None:
                    w[k, members[j]] = 0
                else:
                    np.subtract.at(w[k], members[j], 1)
        return np.column_stack([f(w) for f in models])

    blocks = parallel(run, len(starts) + len(jack_starts))
    reps = np.concatenate(blocks[:len(starts)])
    jack = np.concatenate(blocks[len(starts):])
    return reps, jack, None, scheme
