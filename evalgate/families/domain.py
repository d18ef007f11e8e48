"""A domain classifier: scikit-learn's HistGradientBoosting trained, cross-validated and
seeded, to tell one set of rows (a reference) from another (the evaluation rows). Its
out-of-fold ROC AUC is 0.5 when the sets cannot be told apart and near 1 when they hardly
overlap; DeLong's standard error goes with it, and the columns it leaned on most (the drop in
AUC when each is shuffled, on the last fold) say what differs. Used by ``drift::multivariate``
and by the performance family's support check before it estimates without labels (CBPE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ..records import Record
from ..stats.delong import delong
from ..stats.drift import column_kind

#: rows drawn from each set at most (seeded): the classifier's cost stays bounded
MAX_ROWS = 10_000
FOLDS = 3


@dataclass(frozen=True)
class Feature(Record):
    kind: ClassVar[str] = "domain classifier feature"
    column: str
    #: the drop in cross-validated AUC when the column is shuffled
    importance: float


@dataclass(frozen=True)
class DomainFit:
    auc: float
    se: float
    reference_rows: int
    evaluation_rows: int
    #: the columns, most leaned on first
    features: list[Feature]


def _frame(frame: pd.DataFrame, columns: list[str], cats: dict[str, list[str]]) -> pd.DataFrame:
    out = {}
    for c in columns:
        if c in cats:
            out[c] = pd.Categorical(frame[c].astype(str).where(frame[c].notna()),
                                    categories=cats[c])
        else:
            out[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
    return pd.DataFrame(out)


def _sample(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= MAX_ROWS:
        return frame.reset_index(drop=True)
    at = np.sort(rng.choice(len(frame), MAX_ROWS, replace=False))
    return frame.iloc[at].reset_index(drop=True)


def fit_domain(reference: pd.DataFrame, evaluation: pd.DataFrame,
               rng: np.random.Generator) -> DomainFit:
    """The classifier telling ``reference`` rows from ``evaluation`` rows (the same
    columns), at most :data:`MAX_ROWS` of each."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    columns = [str(c) for c in reference.columns]
    ref, ev = _sample(reference, rng), _sample(evaluation[columns], rng)
    cats = {c: sorted(set(ref[c].dropna().astype(str)) | set(ev[c].dropna().astype(str)))
            for c in columns if column_kind(ref[c]) == "categorical"}
    x = pd.concat([_frame(ref, columns, cats), _frame(ev, columns, cats)], ignore_index=True)
    y = np.r_[np.zeros(len(ref), dtype=int), np.ones(len(ev), dtype=int)]
    seed = int(rng.integers(2**31 - 1))
    oof = np.empty(len(y))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    model, last = None, np.zeros(0, dtype=int)
    for train, test in folds.split(x, y):
        model = HistGradientBoostingClassifier(max_iter=100, random_state=seed,
                                               categorical_features="from_dtype")
        model.fit(x.iloc[train], y[train])
        oof[test] = model.predict_proba(x.iloc[test])[:, 1]
        last = test
    aucs, cov = delong(y, [oof])
    assert model is not None
    features = _importances(model, x.iloc[last], y[last], _auc(y[last], oof[last]), rng)
    return DomainFit(float(aucs[0]), math.sqrt(max(float(cov[0, 0]), 0.0)), len(ref),
                     len(ev), features)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    aucs, _ = delong(y, [score])
    return float(aucs[0])


def _importances(model: object, x: pd.DataFrame, y: np.ndarray, base: float,
                 rng: np.random.Generator) -> list[Feature]:
    """The drop in AUC on ``x`` when each column is shuffled, largest first. The shuffled
    copies are scored in one call (a row's score depends on that row alone)."""
    copies = []
    for c in x.columns:
        shuffled = x.copy()
        shuffled[c] = shuffled[c].to_numpy()[rng.permutation(len(x))]
        if isinstance(x[c].dtype, pd.CategoricalDtype):
            shuffled[c] = pd.Categorical(shuffled[c], categories=x[c].cat.categories)
        copies.append(shuffled)
    scores = model.predict_proba(  # type: ignore[attr-defined]
        pd.concat(copies, ignore_index=True))[:, 1].reshape(len(copies), len(x))
    out = [Feature(str(c), base - _auc(y, score)) for c, score in zip(x.columns, scores,
                                                                      strict=True)]
    return sorted(out, key=lambda f: -f.importance)
