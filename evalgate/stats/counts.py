"""Paired comparisons that rest on discordant counts: the metrics whose Δ is exactly a
difference of paired proportions (b − c)/n within one stratum of rows, bounded by Tango's
score interval, and :class:`CountInterval`, an interval that knows the unit its rows are
counted in (rows, positives, negatives, predicted positives) and how its bound would move
with more of them (its ``rows_to_resolve``).

=====================  ==========================  ===================================
metric                 stratum (its unit)          b, c (candidate only / champion only)
=====================  ==========================  ===================================
accuracy               all rows                    right
recall, TPR, FNR       positives                   right (predicted positive)
specificity, TNR, FPR  negatives                   right (predicted negative)
selection_rate         all rows                    predicted positive
recall_weighted        all rows (multiclass)       right — it is accuracy
=====================  ==========================  ===================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..metrics import Metric
from .intervals import Interval
from .proportions import tango_bounds

Array = np.ndarray

#: the method of a Δ bounded by Tango's score interval on its discordant counts
TANGO_METHOD = "tango-score"
#: the most a count may be scaled in the search for the rows that would resolve a check
_MAX_SCALE = 1e12


@dataclass(frozen=True)
class CountInterval(Interval):
    """An :class:`Interval` whose ``n`` counts ``unit`` (``"positives"`` for a true positive
    rate: the rows that carry its evidence), with ``scaled(s)``: the lower bound were every
    count ``s`` times as large at the same proportions (vectorised over ``s``), from which
    :meth:`rows_to_resolve` finds the units that would resolve a check."""

    unit: str = "rows"
    scaled: Callable[[Array], Array] | None = field(default=None, compare=False, repr=False)

    def rows_to_resolve(self, margin: float) -> int | None:
        """``unit`` s that would make ``lower ≥ −margin`` at the same proportions; ``None``
        when no amount would (the estimate is at or below −margin)."""
        if (self.scaled is None or self.lower is None or not math.isfinite(self.lower)
                or self.estimate + margin <= 0):
            return super().rows_to_resolve(margin)
        if self.lower >= -margin:
            return self.n
        s = scale_to_reach(self.scaled, -margin)
        return None if s is None else math.ceil(self.n * s - 1e-9)


def scale_to_reach(bound: Callable[[Array], Array], target: float) -> float | None:
    """The least scale s ≥ 1 with ``bound(s) ≥ target`` (``bound`` rising with s), to about
    0.2%: a geometric grid, then a finer one inside the bracket."""
    grid = np.geomspace(1.0, _MAX_SCALE, 241)
    ok = np.asarray(bound(grid)) >= target
    if not ok.any():
        return None
    i = int(np.argmax(ok))
    if i == 0:
        return 1.0
    fine = np.geomspace(grid[i - 1], grid[i], 65)
    ok = np.asarray(bound(fine)) >= target
    return float(fine[int(np.argmax(ok))])


@dataclass(frozen=True)
class PairedRate:
    """A rate over one stratum of rows (``truth`` class, or all rows when ``None``) that
    counts rows with an event: the label right (``event`` None) or predicted ``event``."""

    truth: int | None
    event: int | None
    unit: str


_BINARY_RATES = {
    "accuracy": PairedRate(None, None, "rows"),
    "recall": PairedRate(1, None, "positives"),
    "true_positive_rate": PairedRate(1, None, "positives"),
    "false_negative_rate": PairedRate(1, None, "positives"),
    "specificity": PairedRate(0, None, "negatives"),
    "true_negative_rate": PairedRate(0, None, "negatives"),
    "false_positive_rate": PairedRate(0, None, "negatives"),
    "selection_rate": PairedRate(None, 1, "rows"),
}
_MULTICLASS_RATES = {
    "accuracy": PairedRate(None, None, "rows"),
    "recall_weighted": PairedRate(None, None, "rows"),
}


def paired_rate(metric: Metric) -> PairedRate | None:
    """How ``metric`` is a paired proportion, or ``None`` when it is not one."""
    table = {"binary": _BINARY_RATES, "multiclass": _MULTICLASS_RATES}.get(metric.task, {})
    return table.get(metric.name)


def rate_counts(rate: PairedRate, joint: Array) -> tuple[float, float, float]:
    """b, c and n of ``rate`` from ``joint`` counts (truth, candidate label, champion label)."""
    k = joint.shape[0]
    if rate.event is None:
        event = np.eye(k, dtype=bool)  # event[t, label]: the label is right
    else:
        event = np.zeros((k, k), dtype=bool)
        event[:, rate.event] = True
    rows = joint if rate.truth is None else joint[rate.truth:rate.truth + 1]
    ev = event if rate.truth is None else event[rate.truth:rate.truth + 1]
    only_a = ev[:, :, None] & ~ev[:, None, :]
    only_b = ~ev[:, :, None] & ev[:, None, :]
    return float(rows[only_a].sum()), float(rows[only_b].sum()), float(rows.sum())


def tango_interval(b: float, c: float, n: float, confidence: float, unit: str = "rows",
                   estimate: float | None = None) -> CountInterval:
    """Δ = (b − c)/n with Tango's one-sided lower bound, ``n`` counted in ``unit``
    (``estimate``: Δ as the caller computed it, e.g. from the two models' values, equal to
    (b − c)/n up to rounding)."""
    lower, _ = tango_bounds(b, c, n, confidence)
    if estimate is None:
        estimate = (b - c) / n if n > 0 else 0.0
    se = math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n if n > 0 else None

    def scaled(s: Array) -> Array:
        s = np.asarray(s, dtype=np.float64)
        low, _ = tango_bounds(b * s, c * s, n * s, confidence)
        return low

    return CountInterval(estimate, float(lower), None, se, TANGO_METHOD, int(n), unit=unit,
                         scaled=scaled)


def rate_interval(metric: Metric, joint: Array, confidence: float) -> CountInterval | None:
    """Δ of a paired-proportion ``metric`` by Tango's interval, or ``None`` if ``metric`` is
    not one (or its table disagrees with (b − c)/n, which then leaves it to the bootstrap)."""
    rate = paired_rate(metric)
    f = metric.from_confusion
    if rate is None or f is None:
        return None
    b, c, n = rate_counts(rate, joint)
    delta = metric.sign * float(f(joint.sum(axis=2)) - f(joint.sum(axis=1)))
    if n > 0 and not math.isclose(delta, (b - c) / n, rel_tol=1e-9, abs_tol=1e-12):
        return None
    return tango_interval(b, c, n, confidence, rate.unit, estimate=delta)
