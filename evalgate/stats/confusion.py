"""Confusion-table metrics: a bootstrap of the joint cells (truth, candidate label, champion
label), one multinomial draw per replicate, BCa with the per-cell jackknife; Δ's bound capped by
the discordance floor."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..metrics import Metric
from .bootstrap import cell_counts
from .discordance import discordance_floor
from .intervals import Assessment, bootstrap_interval

Array = np.ndarray


def confusion_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None,
                         confidence: float, rng: np.random.Generator,
                         n_resamples: int) -> Assessment:
    f = metric.from_confusion
    assert f is not None
    preds = [cand] if champ is None else [cand, champ]
    k = max(2, int(max(int(y.max(initial=0)), *(int(p.max(initial=0)) for p in preds))) + 1)
    code = y.astype(np.int64)
    for p in preds:
        code = code * k + p.astype(np.int64)
    ncells = k ** (1 + len(preds))
    counts = np.bincount(code, minlength=ncells).astype(np.float64)
    n = len(y)
    shape = (k,) * (1 + len(preds))

    def tables(c: Array) -> tuple[Array, Array | None]:
        """Per-model confusion tables from joint-cell counts (..., cells)."""
        c = c.reshape(c.shape[:-1] + shape)
        if champ is None:
            return c, None
        return c.sum(axis=-1), c.sum(axis=-2)

    # jackknife: removing one row of cell j gives the same value for every row of that cell
    present = np.flatnonzero(counts)
    leave_one_out = counts[None, :] - np.eye(ncells)[present]
    draws = cell_counts(rng, n, counts, n_resamples).astype(np.float64)

    ta, tb = tables(counts)
    ja, jb = tables(leave_one_out)
    ra, rb = tables(draws)
    w = counts[present]
    value = bootstrap_interval(float(f(ta)), np.asarray(f(ra)), np.asarray(f(ja)), w,
                                confidence, metric.higher_is_better, "bootstrap-cells", n)
    if champ is None:
        return Assessment(value)
    assert tb is not None and jb is not None and rb is not None
    s = metric.sign
    delta = bootstrap_interval(float(s * (f(ta) - f(tb))), s * (f(ra) - f(rb)),
                                s * (f(ja) - f(jb)), w, confidence, True, "bootstrap-cells", n)
    floor = discordance_floor(f, s, counts.reshape(shape), confidence)
    if delta.lower is not None and floor < delta.lower:
        delta = replace(delta, lower=floor, method=f"{delta.method}+discordance-floor")
    return Assessment(value, float(f(tb)), delta)
