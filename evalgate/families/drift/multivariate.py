"""``drift::multivariate``: a domain classifier (scikit-learn's HistGradientBoosting) trained
to tell reference rows from evaluation rows, cross-validated and seeded. Its out-of-fold ROC
AUC is 0.5 when the sets cannot be told apart; DeLong's interval bounds it. ``fail`` when the
lower bound is above ``max_auc``, ``pass`` when the upper bound is within it, otherwise
inconclusive. The columns it leaned on most (the drop in AUC when each is shuffled, on the
last fold) explain what changed, ranked.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...errors import DataError
from ...stats.delong import delong
from ...stats.drift import column_kind
from ...stats.intervals import z_of
from ..base import CheckPlan, CheckResult, EvalContext
from ..judge import INCONCLUSIVE, Clauses, percent
from .details import Feature, MultivariateDetails
from .spec import FAMILY, DriftSpec

#: rows drawn from each set at most (seeded): the classifier's cost stays bounded
MAX_ROWS = 10_000
FOLDS = 3
SHOWN_FEATURES = 5


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


def multivariate(ctx: EvalContext, p: CheckPlan, spec: DriftSpec, reference: pd.DataFrame
                 ) -> CheckResult:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    assert ctx.data is not None and spec.max_auc is not None
    data = ctx.data
    columns = list(spec.columns or data.features)
    lacking = [c for c in columns if c not in reference.columns]
    if lacking:
        raise DataError(spec.reference.path, f"the reference lacks the column {lacking[0]!r}")
    cid = ctx.suite.check_id(FAMILY, p.name)
    rng = ctx.rng(cid)
    ref, ev = _sample(reference[columns], rng), _sample(data.frame[columns], rng)
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
    auc, se = float(aucs[0]), math.sqrt(max(float(cov[0, 0]), 0.0))
    z = z_of(ctx.suite.confidence)
    lower, upper = auc - z * se, auc + z * se
    assert model is not None
    features = _importances(model, x.iloc[last], y[last], _auc(y[last], oof[last]), rng)
    limit = spec.max_auc
    clauses = Clauses()
    text = (f"a classifier tells reference rows from evaluation rows with cross-validated ROC "
            f"AUC {auc:.4f} (one-sided {percent(ctx.suite.confidence)} bounds {lower:.4f} … "
            f"{upper:.4f}; {len(ref):,} + {len(ev):,} rows, {FOLDS} folds)")
    if lower > limit:
        top = ", ".join(f.column for f in features[:3])
        clauses.add(False, f"{text}: lower bound above max_auc {limit:g} — it leans most on "
                           f"{top}")
    elif upper <= limit:
        clauses.add(True, f"{text}: upper bound ≤ max_auc {limit:g}")
    else:
        clauses.add(False, f"{text}: inconclusive — the bounds straddle max_auc {limit:g}",
                    INCONCLUSIVE)
    details = MultivariateDetails(auc=auc, lower=lower, upper=upper, max_auc=limit,
                                  reference_rows=len(ref), evaluation_rows=len(ev),
                                  folds=FOLDS, features=tuple(features[:SHOWN_FEATURES]),
                                  method="hist-gradient-boosting-cv-delong")
    return CheckResult(id=cid, family=FAMILY, name=p.name, status=clauses.status(),
                       blocking=p.blocking, message=clauses.message(), metric="roc_auc",
                       candidate=auc, ci=(lower, upper), confidence=ctx.suite.confidence,
                       threshold={"max_auc": limit}, method=details.method, details=details,
                       line=p.line)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    aucs, _ = delong(y, [score])
    return float(aucs[0])


def _importances(model: object, x: pd.DataFrame, y: np.ndarray, base: float,
                 rng: np.random.Generator) -> list[Feature]:
    """The drop in AUC on ``x`` when each column is shuffled, largest first."""
    out = []
    for c in x.columns:
        shuffled = x.copy()
        shuffled[c] = shuffled[c].to_numpy()[rng.permutation(len(x))]
        if isinstance(x[c].dtype, pd.CategoricalDtype):
            shuffled[c] = pd.Categorical(shuffled[c], categories=x[c].cat.categories)
        score = model.predict_proba(shuffled)[:, 1]  # type: ignore[attr-defined]
        out.append(Feature(str(c), base - _auc(y, score)))
    return sorted(out, key=lambda f: -f.importance)
