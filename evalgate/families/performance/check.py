"""The performance family: one check per metric, bounded on the candidate's value (``min``,
``max``) and compared with the champion on the same rows (``max_regression``,
``min_improvement``) by the paired one-sided bound of DESIGN.md §3."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ...errors import EvalgateError, StatsError
from ...metrics import Metric, get_metric
from ...stats import Assessment, Interval, assess
from ...stats.auc import MIN_PER_CLASS, TOO_FEW_IN_A_CLASS, rare_class, rows_needed
from ...stats.tails import CONFIDENT_WRONG_LOSS, MeanAssessment, confident_wrong
from ..base import CheckPlan, CheckResult, EvalContext, error_result
from ..judge import (
    INCONCLUSIVE,
    MARGINS,
    MORE_ROWS,
    Bounds,
    Clauses,
    compare,
    delta_text,
    no_champion,
    number,
    percent,
    unit_of,
    value_clause,
)
from .details import ConfidentWrong, PerformanceDetails, TailDetails
from .spec import MetricCheck

FAMILY = "performance"


def plan(suite: Any) -> list[CheckPlan]:
    checks: Sequence[MetricCheck] = suite.families.get(FAMILY, ())
    return [CheckPlan(FAMILY, c.metric, c.line, c.blocking, subject=c) for c in checks]


def run(ctx: EvalContext, plans: Sequence[CheckPlan]) -> list[CheckResult]:
    if ctx.labelled is not None:  # rows without labels: estimated
        from . import estimated

        return estimated.run(ctx, plans)
    out = []
    for p in plans:
        try:
            out.append(evaluate(ctx, p.subject))
        except EvalgateError as exc:
            out.append(error_result(ctx.suite, p, str(exc)))
    return out


def _same_model(ctx: EvalContext) -> bool:
    """Whether the candidate is the champion's very file (the same sha256): the same function,
    so scores that agree on every row agree everywhere."""
    cand, champ = ctx.models.get("candidate"), ctx.models.get("champion")
    return cand is not None and champ is not None and cand.info.sha256 == champ.info.sha256


def evaluate(ctx: EvalContext, check: MetricCheck) -> CheckResult:
    suite = ctx.suite
    metric = get_metric(check.metric, suite.task)
    cid = suite.check_id(FAMILY, check.metric)
    th = check.threshold
    champ_pred = ctx.champion.for_metric(metric) if (
        th.compares and ctx.champion is not None) else None
    result = assess(metric, ctx.target.y, ctx.candidate.for_metric(metric), champ_pred,
                    confidence=suite.confidence, rng=ctx.rng(cid),
                    n_resamples=suite.n_resamples, same_model=_same_model(ctx))
    value = result.value
    v = value.estimate
    if not math.isfinite(v):
        raise StatsError(f"{metric.name} is undefined on this data (is only one class present?)")

    details: dict[str, Any] = {"n": value.n, "candidate_ci": (value.lower, value.upper),
                               "candidate_method": value.method,
                               "higher_is_better": metric.higher_is_better}
    bound = value.lower if metric.higher_is_better else value.upper
    side = "lower" if metric.higher_is_better else "upper"
    value_text = f"{metric.name} = {number(v)}" + (
        f" ({percent(suite.confidence)} {side} bound {number(bound)})" if bound is not None
        else "")
    clauses = Clauses()
    value_clause(clauses, v, minimum=th.min, maximum=th.max, text=value_text,
                 bounds=_bounds(value, suite.confidence) if suite.by_bound else None)

    delta: Interval | None = result.delta
    if th.compares and ctx.champion is None:
        no_champion(clauses, ctx.no_champion_reason)
    if delta is not None and result.champion_value is not None:
        orient = "" if metric.higher_is_better else \
            " (lower is better, so Δ = champion − candidate)"
        unit = unit_of(delta)
        over = "" if unit == "rows" else f"; over {delta.n:,} {unit}"
        head = delta_text(delta, suite.confidence, detail=(
            f"candidate {number(v)}, champion {number(result.champion_value)}{over}")).replace(
            " (candidate", f"{orient} (candidate", 1)
        if delta.method.endswith("+discordance-floor"):
            details["discordance_floor"] = True
        for key in MARGINS:
            margin = getattr(th, key)
            if margin is None:
                continue
            if delta.method in TOO_FEW_PER_CLASS:
                _too_few_per_class(clauses, ctx, metric, key, margin, head, details)
            else:
                compare(clauses, delta, key=key, margin=margin, head=head, details=details,
                        rows=unit)

    _rows_facts(ctx, metric, result, details, clauses)
    if delta is not None:
        ci, method = (delta.lower, delta.upper), delta.method
    else:
        ci, method = (value.lower, value.upper), value.method
    return CheckResult(
        id=cid, family=FAMILY, name=check.metric, status=clauses.status(),
        details=PerformanceDetails(**details),
        blocking=check.blocking, message=clauses.message(fallback=value_text,
                                                         advice=_advice(metric, clauses)),
        metric=metric.name, candidate=v, champion=result.champion_value,
        delta=delta.estimate if delta is not None else None, ci=ci,
        confidence=suite.confidence, threshold=th.as_dict(), method=method, line=check.line)


def _rows_facts(ctx: EvalContext, metric: Metric, result: Assessment, details: dict[str, Any],
                clauses: Clauses) -> None:
    """What a mean hides: the tail diagnostic that chose the method (a remark where it kept
    the bootstrap past ASYMPTOTIC_MIN_ROWS) and, for log loss, each model's confident-wrong
    rows (docs/stats-tails.md)."""
    if isinstance(result, MeanAssessment) and result.tail is not None:
        t = result.tail
        details["tail"] = TailDetails(skewness=t.skewness, t_error=t.t_error,
                                      effective_rows=t.effective_rows, heavy=t.heavy,
                                      exact_rows=result.exact_rows)
        if t.heavy and result.exact_rows is not None:  # the tail changed the method
            what = "Δ" if result.delta is not None else metric.name
            clauses.notes.append(
                f"{what} rests on a heavy tail: about {t.effective_rows:,.0f} rows carry its "
                f"variance (skewness of the mean {t.skewness:+.3f}), so the bootstrap decided, "
                f"not the t interval")
    y = ctx.target.y
    cand = confident_wrong(metric, y, ctx.candidate.for_metric(metric))
    if cand is None:
        return
    champ = (confident_wrong(metric, y, ctx.champion.for_metric(metric))
             if ctx.champion is not None else None)
    details["confident_wrong"] = ConfidentWrong(loss_above=CONFIDENT_WRONG_LOSS,
                                                candidate=cand, champion=champ)
    shown = f"candidate {cand:,}" + (f", champion {champ:,}" if champ is not None else "")
    clauses.notes.append(f"confident-wrong rows (true class given < 1%, row loss > "
                         f"{CONFIDENT_WRONG_LOSS:.2f}): {shown}")


#: Δ's methods when the rarer class has too few rows for any comparison (ROC AUC)
TOO_FEW_PER_CLASS = ("too-few-positives", "too-few-negatives", TOO_FEW_IN_A_CLASS)


def _too_few_per_class(clauses: Clauses, ctx: EvalContext, metric: Metric, key: str,
                       margin: float, head: str, details: dict[str, Any]) -> None:
    """An inconclusive comparison: the rarer class is too small for any method."""
    need = margin if key == "min_improvement" else -margin
    rare = rare_class(ctx.target.y) if metric.task == "multiclass" else None
    if rare is not None:
        code, count = rare
        classes = ctx.target.classes
        name = repr(classes[code]) if classes is not None and code < len(classes) else code
        rows = math.ceil(len(ctx.target.y) * MIN_PER_CLASS / count)
        clauses.add(False, (
            f"{head} < {need:+g} allowed by {key} {margin:g} — inconclusive: class {name} has "
            f"{count:,} rows; one-vs-rest {metric.name} needs at least {MIN_PER_CLASS} rows "
            f"of each class for a paired comparison (evaluate on more rows of class {name}: "
            f"about {rows:,} rows at this prevalence)"), INCONCLUSIVE)
        details[f"rows_to_resolve_{key}"] = rows
        return
    positives, negatives, rows = rows_needed(ctx.target.y)
    rarer = "positives" if positives <= negatives else "negatives"
    clauses.add(False, (
        f"{head} < {need:+g} allowed by {key} {margin:g} — inconclusive: {positives:,} "
        f"positives and {negatives:,} negatives; {metric.name} needs at least "
        f"{MIN_PER_CLASS} of each for a paired comparison (evaluate on more {rarer}: about "
        f"{rows:,} rows at this prevalence)"), INCONCLUSIVE)
    details[f"rows_to_resolve_{key}"] = rows


def _advice(metric: Metric, clauses: Clauses) -> str:
    if "value" in clauses.kinds:
        return "The candidate misses the suite's bound; retrain or revise the threshold."
    if "regression" in clauses.kinds:
        return (f"The candidate is worse than the champion on {metric.name} on the same rows; "
                f"keep the champion or retrain.")
    return MORE_ROWS


def _bounds(value: Interval, confidence: float) -> Bounds:
    """The value's one-sided bounds: the side its interval computes, the other mirrored about
    the estimate (exact for the normal and t intervals, close for BCa)."""
    lower, upper = value.lower, value.upper
    if lower is None and upper is not None:
        lower = 2 * value.estimate - upper
    if upper is None and lower is not None:
        upper = 2 * value.estimate - lower
    return Bounds(lower, upper, confidence)
