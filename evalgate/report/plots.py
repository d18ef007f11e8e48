"""The data behind the report's pictures, computed once per suite from the predictions the
engine kept and stored in verdict.json (so ``evalgate report verdict.json`` can redraw them):
ROC and precision-recall curves (scikit-learn's ``roc_curve`` and
``precision_recall_curve``), calibration, confusion matrices, regression residuals.

Curves are thinned to at most :data:`POINTS` points, keeping both ends; the residuals are a
seeded sample of :data:`RESIDUAL_SAMPLE` rows. :class:`SuitePlots` is the typed record the
templates receive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..data import Target
from ..metrics import confusion
from ..models.predictions import Predictions
from ..records import Record

POINTS = 120
BINS = 10
RESIDUAL_SAMPLE = 300

Curve = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CalibrationBin(Record):
    kind: ClassVar[str] = "calibration bin"
    predicted: float
    observed: float
    count: int


@dataclass(frozen=True)
class Residuals(Record):
    kind: ClassVar[str] = "residuals"
    #: (prediction, prediction − truth) of the sampled rows
    points: Curve
    #: quantiles of prediction − truth over every row, by quantile ("0.05", …)
    quantiles: Mapping[str, float]
    #: rows sampled, of how many
    sampled: int = 0
    rows: int = 0


@dataclass(frozen=True)
class SuitePlots(Record):
    kind: ClassVar[str] = "plots"
    task: str
    classes: tuple[str, ...] = ()
    #: rows = truth, columns = prediction, per model role
    confusion: Mapping[str, tuple[tuple[int, ...], ...]] = field(default_factory=dict)
    roc: Mapping[str, Curve] = field(default_factory=dict)
    pr: Mapping[str, Curve] = field(default_factory=dict)
    calibration: Mapping[str, tuple[CalibrationBin, ...]] = field(default_factory=dict)
    prevalence: float | None = None
    residuals: Mapping[str, Residuals] = field(default_factory=dict)


def _thin(x: np.ndarray, y: np.ndarray) -> Curve:
    """At most POINTS points of the curve, keeping both ends, rounded for small output."""
    if len(x) > POINTS:
        keep = np.unique(np.linspace(0, len(x) - 1, POINTS).round().astype(int))
        x, y = x[keep], y[keep]
    return tuple((round(float(a), 5), round(float(b), 5)) for a, b in zip(x, y))


def _at_thresholds(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positives, true positives) among the rows scoring at least each distinct score,
    highest score first — whole numbers, so the curves below are scikit-learn's
    ``roc_curve`` / ``precision_recall_curve`` to the float, without importing it."""
    order = np.argsort(score, kind="stable")[::-1]
    ordered = score[order]
    ends = np.r_[np.nonzero(np.diff(ordered))[0], len(ordered) - 1]
    tps = np.cumsum((y[order] == 1).astype(np.float64))[ends]
    fps = 1 + ends.astype(np.float64) - tps
    return fps, tps


def roc_points(y: np.ndarray, score: np.ndarray) -> Curve:
    """(false positive rate, true positive rate) from (0, 0) to (1, 1), collinear points
    dropped (scikit-learn's ``drop_intermediate``)."""
    fps, tps = _at_thresholds(y, score)
    if len(fps) > 2:
        keep = np.nonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return _thin(fpr, tpr)


def pr_points(y: np.ndarray, score: np.ndarray) -> Curve:
    """(recall, precision) by increasing recall, ending at recall 1."""
    fps, tps = _at_thresholds(y, score)
    precision = tps / (tps + fps)  # every threshold holds a row: never 0 / 0
    recall = tps / tps[-1] if tps[-1] != 0 else np.ones_like(tps)
    return _thin(np.r_[0.0, recall], np.r_[1.0, precision])


def calibration(y: np.ndarray, score: np.ndarray) -> tuple[CalibrationBin, ...]:
    """Equal-width bins of predicted probability: mean prediction, observed rate, count."""
    b = np.minimum((score * BINS).astype(int), BINS - 1)
    count = np.bincount(b, minlength=BINS)
    mean_p = np.bincount(b, weights=score, minlength=BINS)
    rate = np.bincount(b, weights=(y == 1).astype(float), minlength=BINS)
    return tuple(CalibrationBin(predicted=round(float(mean_p[i] / count[i]), 5),
                                observed=round(float(rate[i] / count[i]), 5),
                                count=int(count[i]))
                 for i in range(BINS) if count[i])


def residuals(y: np.ndarray, label: np.ndarray, idx: np.ndarray) -> Residuals:
    resid = label - y
    return Residuals(points=tuple((round(float(a), 5), round(float(b), 5))
                                  for a, b in zip(label[idx], resid[idx])),
                     quantiles={str(q): round(float(np.quantile(resid, q)), 5)
                                for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
                     sampled=len(idx), rows=len(y))


def suite_plots(task: str, target: Target, preds: Mapping[str, Predictions],
                rng: np.random.Generator) -> SuitePlots:
    y = target.y
    if task == "regression":
        idx = np.sort(rng.choice(len(y), size=min(RESIDUAL_SAMPLE, len(y)), replace=False))
        return SuitePlots(task=task, residuals={role: residuals(y, p.label, idx)
                                                for role, p in preds.items()})
    classes = tuple(str(c) for c in (target.classes or ()))
    k = max(len(classes), 2)
    matrices = {role: tuple(tuple(int(v) for v in row)
                            for row in confusion(y, p.label, k).astype(int))
                for role, p in preds.items()}
    if task != "binary":
        return SuitePlots(task=task, classes=classes, confusion=matrices)
    scored = {r: p.score for r, p in preds.items() if p.score is not None}
    return SuitePlots(task=task, classes=classes, confusion=matrices,
                      roc={r: roc_points(y, s) for r, s in scored.items()},
                      pr={r: pr_points(y, s) for r, s in scored.items()},
                      calibration={r: calibration(y, s) for r, s in scored.items()},
                      prevalence=round(float(np.mean(y == 1)), 5))


def read(plots: Any) -> SuitePlots | None:
    """A suite's ``plots`` from verdict.json, typed (``None`` when it has none)."""
    return None if plots is None else SuitePlots.from_dict(plots, "plots")
