"""Confidence-based performance estimation (CBPE): a binary classifier's accuracy, precision,
recall, F1 and ROC AUC on rows **without labels**, from its scores and a calibration fitted
where labels were known (the gate's evaluation data).

The calibration is a reliability table — the scores cut into bins (quantile edges of the
labelled scores, the decision threshold always an edge, each bin at least
:data:`MIN_BIN_ROWS` rows), each bin's rows and positives. A row of the new batch whose score
falls in bin *b* is a positive with probability p_b = positives_b / rows_b, and the model's
label is the same for every row of a bin (the threshold is an edge). So the expected confusion
matrix is a sum over bins — E[TP] = Σ_b m_b⁺ p_b, E[FP] = Σ_b m_b⁺ (1 − p_b), … with m_b⁺ the
batch's rows of bin *b* labelled positive — and so are the estimates.

What the interval bounds is the metric the batch's labels will **realise** once known, under
the method's one assumption: P(positive | score bin) is the same on the batch as where the
calibration was fitted (true under covariate shift inside the labelled data's support, which
is why the caller refuses a batch that left it). Two things move the realised value: each
row's label is a coin with its bin's p, and the p's are estimated from finitely many labelled
rows. Both are drawn — p*_b as the positive share of a Binomial(rows_b, p_b) redraw of the
bin's labelled rows (a parametric bootstrap of the table, centred on p_b), then the batch's
positives of each bin and label as Binomial(m, p*_b) — and the bounds are the quantiles of
the metric over the draws. ROC AUC treats the rows of one bin as tied (their
order inside a bin is what the calibration cannot see), so its estimate leans low by at most
the bins' within-bin pairs' share; the simulation (bench/sim/cbpe.py) states the coverage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StatsError

Array = np.ndarray

#: the metrics CBPE estimates
ESTIMATED = ("accuracy", "precision", "recall", "f1", "roc_auc")
#: a calibration bin holds at least this many labelled rows
MIN_BIN_ROWS = 100
#: at most this many bins
MAX_BINS = 50
#: draws of the calibration and the labels behind each interval
DRAWS = 4000


@dataclass(frozen=True)
class Calibration:
    """A reliability table: ``edges`` cut scores into ``len(edges) + 1`` bins (a score equal
    to an edge belongs to the bin above it, as ``score >= threshold`` is labelled positive);
    per bin its labelled rows, positives and sum of scores."""

    edges: Array
    rows: Array
    positives: Array
    score_sums: Array
    threshold: float = 0.5

    def bin_of(self, score: Array) -> Array:
        return np.asarray(np.searchsorted(self.edges, score, side="right"))

    @property
    def rate(self) -> Array:
        return np.asarray(self.positives / self.rows, dtype=np.float64)

    @property
    def error(self) -> float:
        """The expected calibration error of the raw scores on the labelled rows: the
        rows-weighted mean |mean score − positive share| over the bins."""
        gap = np.abs(self.score_sums / self.rows - self.rate)
        return float(np.sum(self.rows * gap) / np.sum(self.rows))

    def as_dict(self) -> dict[str, Any]:
        return {"edges": [float(e) for e in self.edges], "rows": [int(r) for r in self.rows],
                "positives": [int(p) for p in self.positives],
                "score_sums": [float(s) for s in self.score_sums],
                "threshold": self.threshold}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Calibration:
        try:
            cal = cls(np.asarray(doc["edges"], dtype=np.float64),
                      np.asarray(doc["rows"], dtype=np.int64),
                      np.asarray(doc["positives"], dtype=np.int64),
                      np.asarray(doc["score_sums"], dtype=np.float64),
                      float(doc["threshold"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StatsError(f"a malformed calibration table ({exc})") from None
        bins = len(cal.edges) + 1
        if not (len(cal.rows) == len(cal.positives) == len(cal.score_sums) == bins) or \
                (cal.rows <= 0).any() or (cal.positives < 0).any() or \
                (cal.positives > cal.rows).any() or not np.all(np.diff(cal.edges) > 0):
            raise StatsError("a malformed calibration table (its counts do not fit its bins)")
        return cal


def fit_calibration(y: Array, score: Array, threshold: float = 0.5,
                    max_bins: int = MAX_BINS, min_rows: int = MIN_BIN_ROWS) -> Calibration:
    """The reliability table of ``score`` against the labels ``y`` (1 = positive)."""
    y = np.asarray(y, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    if len(y) < 2 * min_rows or y.min() == y.max():
        raise StatsError(f"a calibration needs both classes and at least {2 * min_rows} "
                         f"labelled rows, got {len(y)}")
    n_bins = int(max(2, min(max_bins - 1, len(y) // min_rows)))  # the threshold makes one more
    qs = np.quantile(score, np.arange(1, n_bins) / n_bins, method="inverted_cdf")
    edges = np.unique(np.append(qs, threshold))
    edges = _merge_small(edges, score, threshold, min_rows)
    if (np.bincount(np.searchsorted(edges, score, side="right"),
                    minlength=len(edges) + 1) == 0).any():
        # no labelled score on one side of the threshold: that side has no bin of its own
        edges = edges[edges != threshold]
    b = np.searchsorted(edges, score, side="right")
    size = len(edges) + 1
    return Calibration(edges, np.bincount(b, minlength=size),
                       np.bincount(b, weights=y, minlength=size).astype(np.int64),
                       np.bincount(b, weights=score, minlength=size), threshold)


def _merge_small(edges: Array, score: Array, threshold: float, min_rows: int) -> Array:
    """Drop edges (never the threshold) until every bin holds ``min_rows`` rows; a side of
    the threshold with fewer rows than that stays one bin."""
    kept = [float(e) for e in edges]
    while True:
        counts = np.bincount(np.searchsorted(kept, score, side="right"),
                             minlength=len(kept) + 1)
        small = [i for i, c in enumerate(counts) if c < min_rows]
        removable = []
        for i in small:  # bin i lies between edges[i-1] and edges[i]
            for e in (i, i - 1):
                if 0 <= e < len(kept) and kept[e] != threshold:
                    removable.append(e)
                    break
        if not removable:
            return np.asarray(kept, dtype=np.float64)
        del kept[removable[0]]


@dataclass(frozen=True)
class Estimate:
    """A metric estimated without labels: the expected value and the quantile bounds of the
    value the labels will realise (``lower`` at 1 − confidence, ``upper`` at confidence)."""

    metric: str
    estimate: float
    lower: float
    upper: float
    rows: int


def estimate(metric: str, calibration: Calibration, score: Array, confidence: float,
             rng: np.random.Generator, draws: int = DRAWS,
             positive: Array | None = None) -> Estimate:
    """``metric`` of the rows scored ``score``, labelled positive where ``positive`` (the
    model's label output; default: at the calibration's threshold), estimated and bounded
    (see the module's docstring). The expectations hold for any labels; with labels that
    follow the threshold, each bin holds one label."""
    if metric not in ESTIMATED:
        raise StatsError(f"{metric} cannot be estimated without labels (CBPE estimates "
                         f"{', '.join(ESTIMATED)})")
    score = np.asarray(score, dtype=np.float64)
    if len(score) == 0 or not np.isfinite(score).all():
        raise StatsError("CBPE needs a finite score for every row")
    size = len(calibration.edges) + 1
    b = calibration.bin_of(score)
    if positive is None:
        positive = score >= calibration.threshold
    elif len(positive) != len(score):
        raise StatsError("CBPE needs a label for every scored row")
    m1 = np.bincount(b[positive], minlength=size).astype(np.float64)   # labelled positive
    m0 = np.bincount(b[~positive], minlength=size).astype(np.float64)
    point = _metric(metric, m1, m0, m1 * calibration.rate, m0 * calibration.rate)
    # the calibration's uncertainty, then each batch row's label
    p = rng.binomial(calibration.rows, calibration.rate, size=(draws, size)) / calibration.rows
    k1 = rng.binomial(m1.astype(np.int64), p).astype(np.float64)
    k0 = rng.binomial(m0.astype(np.int64), p).astype(np.float64)
    values = _metric(metric, m1, m0, k1, k0)
    values = values[np.isfinite(values)]
    if len(values) < draws // 2:
        raise StatsError(f"{metric} is undefined on most draws (too few rows or one class)")
    alpha = 1 - confidence
    lo, hi = np.quantile(values, [alpha, confidence])
    return Estimate(metric, float(point), float(lo), float(hi), len(score))


def _metric(metric: str, m1: Array, m0: Array, k1: Array, k0: Array) -> Array:
    """``metric`` from each bin's rows labelled positive (``m1``) and negative (``m0``) and
    the positives among them (``k1``, ``k0``; expected or drawn, the last axis the bins)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tp = k1.sum(axis=-1)
        fp = (m1 - k1).sum(axis=-1)
        fn = k0.sum(axis=-1)
        tn = (m0 - k0).sum(axis=-1)
        if metric == "accuracy":
            return np.asarray((tp + tn) / (tp + fp + fn + tn))
        if metric == "precision":
            return np.asarray(tp / (tp + fp))
        if metric == "recall":
            return np.asarray(tp / (tp + fn))
        if metric == "f1":
            return np.asarray(2 * tp / (2 * tp + fp + fn))
        # ROC AUC with the rows of a bin tied: positives of a bin outrank every negative of
        # the bins below it and tie with its own negatives
        pos = k1 + k0
        neg = (m1 + m0) - pos
        below = np.cumsum(neg, axis=-1) - neg
        wins = np.sum(pos * below + 0.5 * pos * neg, axis=-1)
        return np.asarray(wins / (pos.sum(axis=-1) * neg.sum(axis=-1)))
