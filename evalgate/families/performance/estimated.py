"""Performance **estimated** on rows without labels (``data.target: null``): confidence-based
performance estimation (CBPE, :mod:`evalgate.stats.cbpe`). The candidate scores the labelled
rows of ``data.estimate_from`` (a hold-out set it did not train on); its reliability table
fitted there turns its scores on the evaluation rows into an expected confusion matrix, and
each check's value is bounded by what the labels, once known, may realise.

Its one assumption is checked, not assumed: the evaluation rows must lie inside the labelled
rows' support. A domain classifier (:mod:`..domain`) tells the two sets apart; when the upper
bound of its ROC AUC exceeds ``max_support_auc`` every check fails — "the rows left the
labelled rows' support" — since a calibration says nothing of rows unlike any it saw. The
labelled rows' calibration error is reported with every check.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import EvalgateError, ModelOutputError
from ...metrics import get_metric
from ...spec import Suite
from ...stats.cbpe import Calibration, estimate, fit_calibration
from ...stats.intervals import z_of
from ..base import CheckPlan, CheckResult, EvalContext, Reduction, error_result
from ..domain import MAX_ROWS, fit_domain
from ..judge import INCONCLUSIVE, Bounds, Clauses, percent, value_clause
from ..sample import Sample, suite_features
from .details import EstimatedDetails, PerformanceDetails
from .spec import MetricCheck

FAMILY = "performance"


@dataclass(frozen=True)
class Support:
    auc: float
    upper: float
    limit: float
    leaning: tuple[str, ...]

    @property
    def left(self) -> bool:
        return self.upper > self.limit


#: the evaluation rows the support check's domain classifier reads
SUPPORT_SAMPLE = "performance:support"


def reductions(suite: Suite, plans: Sequence[CheckPlan]) -> list[Reduction]:
    """Rows without labels: a sample of the evaluation rows for the support check (the same
    on every engine: :class:`~..sample.Sample`); with labels, nothing."""
    if suite.data.target is None:
        return [Sample(SUPPORT_SAMPLE, suite_features(suite), MAX_ROWS,
                       zlib.crc32(f"{suite.seed}:{SUPPORT_SAMPLE}".encode()))]
    return []


def run(ctx: EvalContext, plans: Sequence[CheckPlan]) -> list[CheckResult]:
    try:
        calibration, rows = _calibration(ctx)
        support = _support(ctx)
    except EvalgateError as exc:
        return [error_result(ctx.suite, p, str(exc)) for p in plans]
    out = []
    for p in plans:
        try:
            out.append(_check(ctx, p.subject, calibration, rows, support))
        except EvalgateError as exc:
            out.append(error_result(ctx.suite, p, str(exc)))
    return out


def _calibration(ctx: EvalContext) -> tuple[Calibration, int]:
    """The candidate's reliability table on the labelled rows."""
    assert ctx.labelled is not None and ctx.predict is not None
    reference, target = ctx.labelled
    pred = ctx.predict("candidate", reference.frame, "cbpe-labelled")
    if pred.score is None:
        path = ctx.models["candidate"].info.path
        raise ModelOutputError(path, "the candidate gives labels only; estimating performance "
                                     "without labels (CBPE) needs its probabilities")
    return fit_calibration(target.y, pred.score), reference.rows


def _support(ctx: EvalContext) -> Support:
    assert ctx.labelled is not None and ctx.data is not None
    ef = ctx.suite.data.estimate_from
    assert ef is not None
    reference, _ = ctx.labelled
    columns = list(ctx.data.features)
    sample = ctx.states.get(SUPPORT_SAMPLE)
    if not isinstance(sample, pd.DataFrame) or list(sample.columns) != columns:
        raise EvalgateError("the engine gave no sample of the rows for the support check")
    fit = fit_domain(reference.frame[columns], sample,
                     ctx.rng(ctx.suite.check_id(FAMILY, "support")))
    upper = fit.auc + z_of(ctx.suite.confidence) * fit.se
    return Support(fit.auc, upper, ef.max_support_auc,
                   tuple(f.column for f in fit.features[:3]))


def _check(ctx: EvalContext, check: MetricCheck, calibration: Calibration, rows: int,
           support: Support) -> CheckResult:
    suite = ctx.suite
    metric = get_metric(check.metric, suite.task)
    cid = suite.check_id(FAMILY, check.metric)
    th = check.threshold
    facts = EstimatedDetails(reference_rows=rows, calibration_error=calibration.error,
                             bins=len(calibration.rows), support_auc=support.auc,
                             support_upper=support.upper, max_support_auc=support.limit)
    clauses = Clauses()
    score = ctx.candidate.score
    assert score is not None
    if support.left:
        clauses.add(False, (
            f"{metric.name} not estimated: the rows left the labelled rows' support — a "
            f"classifier tells them apart with ROC AUC {support.auc:.4f} (upper bound "
            f"{support.upper:.4f} > max_support_auc {support.limit:g}), leaning most on "
            f"{', '.join(support.leaning)}; the calibration says nothing of rows unlike "
            f"those it was fitted on"), INCONCLUSIVE)
        details = PerformanceDetails(n=len(score), candidate_ci=(None, None),
                                     candidate_method="cbpe", higher_is_better=True,
                                     estimated=facts)
        return CheckResult(
            id=cid, family=FAMILY, name=check.metric, status=clauses.status(), details=details,
            blocking=check.blocking, message=clauses.message(advice=(
                "Label a sample of these rows, or estimate from labelled rows like them.")),
            metric=metric.name, confidence=suite.confidence, threshold=th.as_dict(),
            method="cbpe", line=check.line)
    found = estimate(metric.name, calibration, score, suite.confidence, ctx.rng(cid),
                     positive=np.asarray(ctx.candidate.label, dtype=bool))
    text = (f"{metric.name} estimated without labels (CBPE) = {found.estimate:.4f} "
            f"(one-sided {percent(suite.confidence)} bounds {found.lower:.4f} … "
            f"{found.upper:.4f} on what the labels will realise; calibrated on {rows:,} "
            f"labelled rows, calibration error {calibration.error:.4f}; support AUC "
            f"{support.auc:.3f})")
    value_clause(clauses, found.estimate, minimum=th.min, maximum=th.max, text=text,
                 bounds=Bounds(found.lower, found.upper, suite.confidence)
                 if suite.by_bound else None)
    details = PerformanceDetails(n=found.rows, candidate_ci=(found.lower, found.upper),
                                 candidate_method="cbpe", higher_is_better=True,
                                 estimated=facts)
    return CheckResult(
        id=cid, family=FAMILY, name=check.metric, status=clauses.status(), details=details,
        blocking=check.blocking, message=clauses.message(fallback=text, advice=(
            "The candidate's estimated value misses the suite's bound; retrain or revise the "
            "threshold.")),
        metric=metric.name, candidate=found.estimate, ci=(found.lower, found.upper),
        confidence=suite.confidence, threshold=th.as_dict(), method="cbpe", line=check.line)
