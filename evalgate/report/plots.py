"""The data behind the report's pictures, computed once per suite from the cached predictions
and stored in verdict.json (so ``evalgate report verdict.json`` can redraw them): ROC and
precision-recall curves, calibration, confusion matrices, regression residuals.

Curves are thinned to at most ``POINTS`` points; everything is plain JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import Target
from ..metrics import confusion
from ..models.predictions import Predictions

POINTS = 120
BINS = 10


def _thin(x: np.ndarray, y: np.ndarray) -> list[list[float]]:
    """At most POINTS points of the curve, keeping both ends, rounded for small output."""
    if len(x) > POINTS:
        keep = np.unique(np.linspace(0, len(x) - 1, POINTS).round().astype(int))
        x, y = x[keep], y[keep]
    return [[round(float(a), 5), round(float(b), 5)] for a, b in zip(x, y)]


def roc_points(y: np.ndarray, score: np.ndarray) -> list[list[float]]:
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y[order] == 1
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp, fp = np.cumsum(t)[last], np.cumsum(~t)[last]
    p, n = max(int(t.sum()), 1), max(int((~t).sum()), 1)
    return _thin(np.r_[0.0, fp / n], np.r_[0.0, tp / p])


def pr_points(y: np.ndarray, score: np.ndarray) -> list[list[float]]:
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y[order] == 1
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp, seen = np.cumsum(t)[last], last + 1
    p = max(int(t.sum()), 1)
    return _thin(tp / p, tp / seen)


def calibration(y: np.ndarray, score: np.ndarray) -> list[dict[str, float]]:
    """Equal-width bins of predicted probability: mean prediction, observed rate, count."""
    b = np.minimum((score * BINS).astype(int), BINS - 1)
    count = np.bincount(b, minlength=BINS)
    mean_p = np.bincount(b, weights=score, minlength=BINS)
    rate = np.bincount(b, weights=(y == 1).astype(float), minlength=BINS)
    return [{"predicted": round(float(mean_p[i] / count[i]), 5),
             "observed": round(float(rate[i] / count[i]), 5), "count": int(count[i])}
            for i in range(BINS) if count[i]]


def suite_plots(task: str, target: Target, preds: dict[str, Predictions],
                rng: np.random.Generator) -> dict[str, Any]:
    y = target.y
    out: dict[str, Any] = {"task": task}
    if task == "regression":
        out["residuals"] = {}
        idx = np.sort(rng.choice(len(y), size=min(300, len(y)), replace=False))
        for role, p in preds.items():
            resid = p.label - y
            out["residuals"][role] = {
                "points": [[round(float(a), 5), round(float(b), 5)]
                           for a, b in zip(p.label[idx], resid[idx])],
                "quantiles": {str(q): round(float(np.quantile(resid, q)), 5)
                              for q in (0.05, 0.25, 0.5, 0.75, 0.95)}}
        return out
    classes = [str(c) for c in (target.classes or ())]
    k = max(len(classes), 2)
    out["classes"] = classes
    out["confusion"] = {role: confusion(y, p.label, k).astype(int).tolist()
                        for role, p in preds.items()}
    if task == "binary":
        scored = {r: p for r, p in preds.items() if p.score is not None}
        out["roc"] = {r: roc_points(y, p.score) for r, p in scored.items()}  # type: ignore[arg-type]
        out["pr"] = {r: pr_points(y, p.score) for r, p in scored.items()}  # type: ignore[arg-type]
        out["calibration"] = {r: calibration(y, p.score)  # type: ignore[arg-type]
                              for r, p in scored.items()}
        out["prevalence"] = round(float(np.mean(y == 1)), 5)
    return out
