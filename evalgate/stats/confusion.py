"""Confusion-table metrics: a bootstrap of the joint cells (truth, candidate label, champion
label), one multinomial draw per replicate, BCa with the per-cell jackknife. Δ of a metric that
is a paired proportion (accuracy, TPR, TNR/FPR, …: :mod:`.counts`) is Tango's score interval
on its discordant counts; any other Δ's bound is capped by the discordance floor."""

from __future__ import annotations

import math

import numpy as np

from ..metrics import Metric
from .bootstrap import cell_counts
from .counts import CountInterval, rate_interval
from .discordance import discordance_floor
from .intervals import Assessment, Interval, bootstrap_interval

Array = np.ndarray


def confusion_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None,
                         confidence: float, rng: np.random.Generator,
                         n_resamples: int) -> Assessment:
    f = metric.from_confusion
    assert f is not None
    preds = [cand] if champ is None else [cand, champ]
    k = max(2, int(max(int(y.max(initial=0)), *(int(p.max(initial=0)) for p in preds))) + 1)
    ncells = k ** (1 + len(preds))
    counts = joint_cells(y, preds, k).astype(np.float64)
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
    joint = counts.reshape(shape)
    rate = rate_interval(metric, joint, confidence)
    if rate is not None:
        return Assessment(value, float(f(tb)), rate)
    s = metric.sign
    delta = bootstrap_interval(float(s * (f(ta) - f(tb))), s * (f(ra) - f(rb)),
                                s * (f(ja) - f(jb)), w, confidence, True, "bootstrap-cells", n)
    return Assessment(value, float(f(tb)), floored(delta, metric, joint, confidence))


#: rows coded at a time: bounds the working memory of the counting to a few MB
CHUNK = 1 << 20


def joint_cells(y: Array, preds: list[Array], k: int) -> Array:
    """Rows per joint cell (truth, each model's label; labels in ``range(k)``), cell
    ``(t, a, b)`` at ``(t·k + a)·k + b`` — counted ``CHUNK`` rows at a time."""
    ncells = k ** (1 + len(preds))
    counts = np.zeros(ncells, dtype=np.int64)
    for a in range(0, len(y), CHUNK):
        code = y[a:a + CHUNK].astype(np.int64)
        for p in preds:
            code *= k
            code += p[a:a + CHUNK]
        counts += np.bincount(code, minlength=ncells)
    return counts


def floored(delta: Interval, metric: Metric, joint: Array, confidence: float) -> CountInterval:
    """The bootstrap's Δ with its bound capped by the discordance floor, counted in the units
    that carry the metric's evidence (precision: the rows either model predicts positive)."""
    f, s = metric.from_confusion, metric.sign
    assert f is not None and delta.lower is not None
    boot = delta.lower
    if metric.task == "binary" and not joint.sum(axis=(1, 2)).all():
        # a class absent from the rows: nothing bounds what the models do on it
        return CountInterval(delta.estimate, -float(np.ptp(metric.bounds)), None, delta.se,
                             f"{delta.method}+absent-class", delta.n)
    floor = discordance_floor(f, s, joint, confidence)
    lower, method = (floor, f"{delta.method}+discordance-floor") if floor < boot else (
        boot, delta.method)
    unit, units = "rows", delta.n
    if metric.task == "binary" and metric.name == "precision":
        unit, units = "predicted positives", int(joint[:, 1, :].sum() + joint[:, 0, 1].sum())

    def scaled(scales: Array) -> Array:
        """The bound at ``scales`` × the counts: the bootstrap's half-width shrinks as 1/√s,
        the floor is found again on the scaled table."""
        out = []
        for x in np.atleast_1d(scales):
            half = (delta.estimate - boot) / math.sqrt(x)
            out.append(min(delta.estimate - half, discordance_floor(f, s, joint * x,
                                                                     confidence)))
        return np.asarray(out)

    return CountInterval(delta.estimate, lower, None, delta.se, method, units, unit=unit,
                         scaled=scaled)
