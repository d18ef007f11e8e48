"""Average precision under resampling: sort once, reweight; rows with equal (truth,
predictions) merged into weighted cells first.

Schemes (the resampling each replicate stands for, all exact in distribution):

- ``bootstrap``: rows resampled with replacement (multinomial row counts);
- ``bootstrap-cells``: the same, when few distinct rows are merged into cells (one
  multinomial draw over the cells);
- ``poisson-bootstrap``: from ``ASYMPTOTIC_MIN_ROWS`` rows, independent Poisson(1) weights
  (Hanley & MacGibbon 2006) drawn from a 16-bit inverse-CDF table, one random byte per row
  and a second byte only for the 2% of rows whose first byte does not decide the weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bootstrap import parallel, poisson1_cdf, row_counts
from .delong import distinct_index
from .memo import memoized
from .rules import ASYMPTOTIC_MIN_ROWS, JACKKNIFE_GROUPS

Array = np.ndarray

#: fewer positives (or negatives) than this: the bound is the expanded percentile
#: (:func:`evalgate.stats.generic.expanded_percentile`), not BCa, whose bias correction
#: moves the bound the wrong way there (false passes at Δ = −m of 7.0%, 6.4%, 5.7% with 40,
#: 70, 100 positives; 5.1%, 5.3%, 4.7% expanded; docs/stats-auc.md). Resampling each class
#: on its own changed neither, and would narrow the candidate's own interval: an AP, unlike
#: an AUC, moves with the prevalence a random test set happens to have.
FEW_BELOW = 200

# Poisson(1) by a 16-bit inverse-CDF table (the same table as bootstrap.poisson_weights):
# the high byte decides the weight in 251 of its 256 values; the other 5 are marked 255 and
# finished with a second byte.
_CDF = poisson1_cdf()
_TABLE16 = np.searchsorted(_CDF, (np.arange(65536) + 0.5) / 65536).astype(np.uint8)
_BY_HIGH = _TABLE16.reshape(256, 256)
_DECIDED = np.all(_BY_HIGH == _BY_HIGH[:, :1], axis=1)
_TABLE8 = np.where(_DECIDED, _BY_HIGH[:, 0], 255).astype(np.uint8).tobytes()


def poisson_bytes(gen: np.random.Generator, shape: tuple[int, int]) -> Array:
    """Poisson(1) weights (uint8, ``shape``), identical in distribution to
    :func:`evalgate.stats.bootstrap.poisson_weights`, at about a byte of randomness each."""
    size = shape[0] * shape[1]
    high = gen.bit_generator.random_raw(-(-size // 8)).view(np.uint8)[:size]
    w = np.frombuffer(bytearray(high).translate(_TABLE8), dtype=np.uint8)
    open_ = np.flatnonzero(w == 255)
    if open_.size:
        second = gen.bit_generator.random_raw(-(-open_.size // 8)).view(np.uint8)
        w[open_] = _TABLE16[high[open_].astype(np.intp) * 256 + second[:open_.size]]
    return w.reshape(shape)


def _cells_of(y: Array, preds: list[Array]) -> tuple[Array, Array, Array] | None:
    """Rows with identical (truth, predictions) as cells — (cell of each row, a row of each
    cell, rows per cell) — when there are at most n/8 cells, else ``None``."""
    n = len(y)
    key = y.astype(np.int64)
    size = 2
    for p in preds:
        values, index = distinct_index(p)  # index: p's among the values
        if len(values) * 8 > n or size * len(values) >= 2**62:
            return None
        key += np.multiply(index, size, dtype=np.int64)  # int32 positions: no wrap-around
        del index
        size *= len(values)
    keys, unit = distinct_index(key)  # unit: each row's among the keys
    if len(keys) * 8 > n:
        return None
    del key
    counts = np.bincount(unit, minlength=len(keys))
    first = np.full(len(keys), n, dtype=np.int64)  # the first row of each cell
    for a in range(0, n, FIRST_CHUNK):
        np.minimum.at(first, unit[a:a + FIRST_CHUNK], np.arange(a, min(n, a + FIRST_CHUNK)))
    return unit, first, counts.astype(np.float64)


#: rows searched at a time for each cell's first row
FIRST_CHUNK = 1 << 20


#: rows per chunk of the packed prefix sums: 31 weights of at most 8 fit a byte lane
_CHUNK = 31
#: replicates packed per row in the Poisson path: 8 byte lanes of a uint64
LANES = 8


def padded(k: int) -> int:
    """``k`` units rounded up to whole chunks of the packed prefix sums."""
    return -(-k // _CHUNK) * _CHUNK


def pack(w: Array) -> Array:
    """Replicates × units weights (at most 8 replicates, each weight at most 8) as one
    uint64 per unit, padded with zero units to :func:`padded` units."""
    lanes = np.zeros((padded(w.shape[1]), LANES), dtype=np.uint8)
    lanes[:w.shape[1], :len(w)] = w.T
    return lanes.view(np.uint64).reshape(-1)


def _lane_prefix(x: Array, at: Array, chunk_at: Array) -> Array:
    """Inclusive prefix sums of the 8 byte lanes of ``x`` (uint64 per unit, each lane a
    weight of at most 8, padded to whole chunks) at positions ``at`` (in chunks
    ``chunk_at``): (8 × len(at)) float32, exact below 2^24, plus 1e-30 (so that a count of
    0 divides to 0 and any other count is unchanged).

    Within chunks of ``_CHUNK`` units the lanes are summed in place (at most 248: no carry
    between lanes), so one cumulative sum serves 8 replicates; the chunks' totals, unpacked,
    give each lane's offset."""
    within = np.cumsum(x.reshape(-1, _CHUNK), axis=1)
    totals = np.ascontiguousarray(
        np.ascontiguousarray(within[:, -1]).view(np.uint8).reshape(-1, LANES).T)
    offsets = np.cumsum(totals, axis=1, dtype=np.int32)
    offsets -= totals
    shifted = offsets.astype(np.float32)
    shifted += np.float32(1e-30)
    lanes = np.take(within.reshape(-1), at).view(np.uint8).reshape(len(at), LANES)
    out: Array = np.take(shifted, chunk_at, axis=1)
    out += lanes.T
    return out


class _WeightedAP:
    """Average precision of one model under many weightings of the same units (rows, or
    merged cells), all in one layout: the units sorted by the first model's score.

    Sorting happens once; a block of weights (replicates × units) costs a few vectorised
    passes: the weighted count of units ranked at or above each positive (cumulative sum
    over all units) and the weighted count of positives (cumulative sum over positives).
    Where no positive shares its score with another unit, the run-end lookups are skipped.
    :meth:`packed` does the same for 8 replicates packed in the byte lanes of one uint64 per
    unit (Poisson weights): one gather and one cumulative sum serve all 8."""

    def __init__(self, y: Array, score: Array, layout: Array, order: Array | None = None):
        if order is None:
            order = np.argsort(-score, kind="mergesort")
        s = score[order]
        n = len(s)
        perm = layout[order]  # position in this model's order → position in the layout
        self.perm = None if np.array_equal(perm, np.arange(n)) else perm
        positive = y[order] == 1
        self.pos = np.flatnonzero(positive)  # positives, in this model's order
        group = np.r_[0, np.cumsum(s[1:] != s[:-1])]
        last = np.r_[np.flatnonzero(np.diff(s)), n - 1]  # end of each run of equal scores
        end_all = last[group[positive]]
        self.end_all = self.pos
        self.end_pos: Array | None = None
        if not np.array_equal(end_all, self.pos):  # ties: precision at each run's end
            self.end_all = end_all
            self.end_pos = np.cumsum(positive)[end_all] - 1
        self.chunk_end = self.end_all // _CHUNK
        # the packed path fixes the few positives tied with other units one by one
        self.tied = (np.empty(0, dtype=np.int64) if self.end_pos is None
                     else np.flatnonzero(self.end_pos != np.arange(len(self.pos))))
        # the packed path: the layout padded with zero units to whole chunks
        self.gather = None if self.perm is None else np.r_[
            self.perm, np.arange(n, padded(n))]

    def _ap(self, wp: Array, seen: Array) -> Array:
        """AP per row from positives' weights (in this model's order) and the weighted
        count of units at or above each positive's run."""
        if not wp.shape[1]:
            return np.full(len(wp), np.nan)
        dtype = np.int32 if wp.dtype.itemsize < 4 else np.int64
        tp_all = np.cumsum(wp, axis=1, dtype=dtype)
        tp = tp_all if self.end_pos is None else np.take(tp_all, self.end_pos, axis=1)
        np.maximum(seen, 1, out=seen)  # seen = 0 only where tp = 0
        with np.errstate(invalid="ignore", divide="ignore"):
            ap: Array = np.einsum("ij,ij->i", wp, tp / seen) / tp_all[:, -1]
            return ap

    def __call__(self, w: Array) -> Array:
        dtype = np.int32 if w.dtype.itemsize < 4 else np.int64
        ordered = w if self.perm is None else np.take(w, self.perm, axis=1)
        seen = np.take(np.cumsum(ordered, axis=1, dtype=dtype), self.end_all, axis=1)
        return self._ap(np.take(ordered, self.pos, axis=1), seen)

    def packed(self, x: Array) -> Array:
        """AP of the 8 replicates packed in ``x`` (one uint64 per unit in layout order,
        padded: :func:`pack`), with counts and precision in float32 (relative error 6e-8 per
        term, summed in float64)."""
        ordered = x if self.gather is None else np.take(x, self.gather)
        seen = _lane_prefix(ordered, self.end_all, self.chunk_end)
        wp = np.take(ordered, self.pos).view(np.uint8).reshape(-1, LANES)
        if not wp.shape[0]:
            return np.full(LANES, np.nan)
        wp = np.ascontiguousarray(wp.T)
        tp_all = np.cumsum(wp, axis=1, dtype=np.int32)
        precision = tp_all.astype(np.float32)
        if self.tied.size:  # precision at the end of a run of equal scores
            assert self.end_pos is not None
            precision[:, self.tied] = tp_all[:, self.end_pos[self.tied]]
        precision /= seen
        precision *= wp
        with np.errstate(invalid="ignore", divide="ignore"):
            ap: Array = precision.sum(axis=1, dtype=np.float64) / tp_all[:, -1]
            return ap


@dataclass(frozen=True)
class _Units:
    """The units resampled (rows, or cells of identical rows): their truth and predictions,
    the layout (units sorted by the first model's score: unit → position), and per layout
    position its truth and rows; each row's unit's layout position."""

    y: Array
    preds: list[Array]
    orders: list[Array | None]  # each model's order of the units, where already known
    layout: Array
    counts_layout: Array
    row_layout: Array
    scheme: str
    merged: bool


def _units(y: Array, preds: list[Array]) -> _Units:
    n = len(y)
    distinct = [1 + int(np.count_nonzero(np.diff(np.sort(p)))) for p in preds]
    cells = None if max(distinct) * 8 > n else _cells_of(y, preds)
    orders: list[Array | None] = [None] * len(preds)
    if cells is not None:  # few distinct rows: resample cells, exactly as rows
        unit_of_row, first_row, counts = cells
        units_y, units_p = y[first_row], [p[first_row] for p in preds]
        scheme, merged = "bootstrap-cells", True
    else:
        orders = [np.argsort(-p, kind="mergesort") for p in preds]
        units_y, units_p, unit_of_row = y, preds, np.arange(n)
        counts, merged = np.ones(n), False
        scheme = "poisson-bootstrap" if n >= ASYMPTOTIC_MIN_ROWS else "bootstrap"
    base = orders[0] if orders[0] is not None else np.argsort(-units_p[0], kind="mergesort")
    layout = np.empty(len(units_y), dtype=np.int64)
    layout[base] = np.arange(len(units_y))
    return _Units(units_y, units_p, orders, layout, counts[base], layout[unit_of_row], scheme,
                  merged)


def _drawer(u: _Units, n: int):  # type: ignore[no-untyped-def]
    """``draw(generator, size)``: a block of replicate weights in layout order (the Poisson
    path draws its own, packed)."""
    m = len(u.y)

    def draw(r: np.random.Generator, size: int) -> Array:
        if u.scheme == "bootstrap-cells":
            return r.multinomial(n, u.counts_layout / n, size=size).astype(np.int32)
        return row_counts(r, m, size).astype(np.int32)  # rows exchangeable: draw in layout

    return draw


def _jackknife_groups(y: Array, rng: np.random.Generator) -> list[Array]:
    """Rows of each delete-a-group jackknife deletion: ``JACKKNIFE_GROUPS`` random groups."""
    n = len(y)
    groups = np.arange(n) % min(JACKKNIFE_GROUPS, n)
    rng.shuffle(groups)
    return [np.flatnonzero(groups == j) for j in range(int(groups.max()) + 1)]


def few(y: Array) -> int | None:
    """The rarer class's count when it is under ``FEW_BELOW`` (the expanded percentile, no
    jackknife), else ``None``."""
    positives = int(np.count_nonzero(y == 1))
    k = min(positives, len(y) - positives)
    return k if k < FEW_BELOW else None


@memoized
def ap_bootstrap(y: Array, preds: list[Array], rng: np.random.Generator, n_resamples: int
                 ) -> tuple[Array, Array | None, None, str]:
    """Bootstrap replicates of average precision for each model (columns), the
    grouped-jackknife values (``None`` with few positives or negatives: no BCa there), the
    jackknife weights and the resampling scheme's name."""
    n = len(y)
    percentile = few(y) is not None
    units = _units(y, preds)
    models = [_WeightedAP(units.y, p, units.layout, o)
              for p, o in zip(units.preds, units.orders)]
    draw = _drawer(units, n)
    m = len(units.y)
    poisson = units.scheme == "poisson-bootstrap"
    block = LANES if poisson else max(1, min(4, (1 << 22) // max(m, 1)))
    starts = list(range(0, n_resamples, block))
    seeds = rng.integers(0, 2**63 - 1, size=len(starts))
    members = [] if percentile else [units.row_layout[g] for g in _jackknife_groups(y, rng)]
    full = (np.ones(m, dtype=np.uint8) if not units.merged
            else np.bincount(units.row_layout, minlength=m).astype(np.int32))
    jack_starts = list(range(0, len(members), block))

    def deletions(first: int) -> Array:
        rows = range(first, min(len(members), first + block))
        w = np.repeat(full[None, :], block if poisson else len(rows), axis=0)
        for k, j in enumerate(rows):
            if units.merged:
                np.subtract.at(w[k], members[j], 1)
            else:
                w[k, members[j]] = 0
        return w

    def run(i: int) -> Array:
        if i < len(starts):  # a block of bootstrap replicates
            size = min(block, n_resamples - starts[i])
            if poisson:
                gen = np.random.Generator(np.random.SFC64(seeds[i]))
                x = poisson_bytes(gen, (padded(m), LANES)).view(np.uint64).reshape(-1)
                x[m:] = 0
                return np.column_stack([f.packed(x) for f in models])[:size]
            w = draw(np.random.default_rng(seeds[i]), size)
        else:  # a block of jackknife deletions
            first = jack_starts[i - len(starts)]
            size = min(block, len(members) - first)
            w = deletions(first)
            if poisson:
                return np.column_stack([f.packed(pack(w)) for f in models])[:size]
        return np.column_stack([f(w) for f in models])

    blocks = parallel(run, len(starts) + len(jack_starts))
    reps = np.concatenate(blocks[:len(starts)])
    jack = np.concatenate(blocks[len(starts):]) if members else None
    return reps, jack, None, units.scheme
