"""``drift::multivariate``: a domain classifier (scikit-learn's HistGradientBoosting) trained
to tell reference rows from evaluation rows, cross-validated and seeded. Its out-of-fold ROC
AUC is 0.5 when the sets cannot be told apart; DeLong's interval bounds it. ``fail`` when the
lower bound is above ``max_auc``, ``pass`` when the upper bound is within it, otherwise
inconclusive. The columns it leaned on most (the drop in AUC when each is shuffled, on the
last fold) explain what changed, ranked.
"""

from __future__ import annotations

import pandas as pd

from ...errors import DataError
from ...stats.intervals import z_of
from ..base import CheckPlan, CheckResult, EvalContext
from ..domain import FOLDS, fit_domain
from ..judge import INCONCLUSIVE, Clauses, percent
from .details import MultivariateDetails
from .spec import FAMILY, DriftSpec

SHOWN_FEATURES = 5


def multivariate(ctx: EvalContext, p: CheckPlan, spec: DriftSpec, reference: pd.DataFrame
                 ) -> CheckResult:
    assert ctx.data is not None and spec.max_auc is not None
    data = ctx.data
    columns = list(spec.columns or data.features)
    lacking = [c for c in columns if c not in reference.columns]
    if lacking:
        raise DataError(spec.reference.path, f"the reference lacks the column {lacking[0]!r}")
    cid = ctx.suite.check_id(FAMILY, p.name)
    rng = ctx.rng(cid)
    sample = ctx.states.get("drift:sample")
    if not isinstance(sample, pd.DataFrame) or list(sample.columns) != columns:
        raise DataError(data.path, "the evaluation data lack a column the domain classifier "
                                   "reads (" + ", ".join(columns) + ")")
    fit = fit_domain(reference[columns], sample, rng)
    auc = fit.auc
    z = z_of(ctx.suite.confidence)
    lower, upper = auc - z * fit.se, auc + z * fit.se
    features = fit.features
    limit = spec.max_auc
    clauses = Clauses()
    text = (f"a classifier tells reference rows from evaluation rows with cross-validated ROC "
            f"AUC {auc:.4f} (one-sided {percent(ctx.suite.confidence)} bounds {lower:.4f} … "
            f"{upper:.4f}; {fit.reference_rows:,} + {fit.evaluation_rows:,} rows, "
            f"{FOLDS} folds)")
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
                                  reference_rows=fit.reference_rows,
                                  evaluation_rows=fit.evaluation_rows,
                                  folds=FOLDS, features=tuple(features[:SHOWN_FEATURES]),
                                  method="hist-gradient-boosting-cv-delong")
    return CheckResult(id=cid, family=FAMILY, name=p.name, status=clauses.status(),
                       blocking=p.blocking, message=clauses.message(), metric="roc_auc",
                       candidate=auc, ci=(lower, upper), confidence=ctx.suite.confidence,
                       threshold={"max_auc": limit}, method=details.method, details=details,
                       line=p.line)
