"""The performance family: one check per metric, bounded on the candidate's value (``min``,
``max``) and compared with the champion on the same rows (``max_regression``,
``min_improvement``) by the paired one-sided bound of DESIGN.md §3."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from ..errors import EvalgateError
from ..metrics import Metric, get_metric
from ..spec import MetricCheck, Suite
from ..stats import MIN_COMPARISON_ROWS, Interval, StatsError, assess
from . import CheckPlan, CheckResult, EvalContext, Status, error_result

FAMILY = "performance"


def plan(suite: Suite) -> list[CheckPlan]:
    return [CheckPlan(FAMILY, c.metric, c.line, c.blocking) for c in suite.performance]


def run(ctx: EvalContext, selected: Collection[str] | None) -> list[CheckResult]:
    out = []
    for check in ctx.suite.performance:
        cid = ctx.suite.check_id(FAMILY, check.metric)
        if selected is not None and cid not in selected:
            continue
        try:
            out.append(evaluate(ctx, check))
        except (EvalgateError, StatsError, ValueError) as exc:
            out.append(error_result(ctx.suite, CheckPlan(FAMILY, check.metric, check.line,
                                                         check.blocking), str(exc)))
    return out


def _f(x: float) -> str:
    return f"{x:.4f}"


def _signed(x: float) -> str:
    return f"{x:+.4f}"


def evaluate(ctx: EvalContext, check: MetricCheck) -> CheckResult:
    suite = ctx.suite
    metric = get_metric(check.metric, suite.task)
    cid = suite.check_id(FAMILY, check.metric)
    rng = ctx.rng(cid)
    y = ctx.target.y
    conf = suite.confidence
    pct = f"{conf:.0%}" if conf * 100 == int(conf * 100) else f"{conf:.1%}"
    th = check.threshold

    champ_pred = ctx.champion.for_metric(metric) if (
        th.compares and ctx.champion is not None) else None
    result = assess(metric, y, ctx.candidate.for_metric(metric), champ_pred, confidence=conf,
                    rng=rng, n_resamples=suite.n_resamples)
    value = result.value
    v = value.estimate
    if not math.isfinite(v):
        raise StatsError(f"{metric.name} is undefined on this data (is only one class present?)")

    fails: list[str] = []
    passes: list[str] = []
    notes: list[str] = []
    details: dict[str, Any] = {"n": value.n, "candidate_ci": [value.lower, value.upper],
                               "candidate_method": value.method,
                               "higher_is_better": metric.higher_is_better}
    bound = value.lower if metric.higher_is_better else value.upper
    side = "lower" if metric.higher_is_better else "upper"
    value_text = f"{metric.name} = {_f(v)} ({pct} {side} bound {_f(bound)})" \
        if bound is not None else f"{metric.name} = {_f(v)}"

    if th.min is not None:
        (passes if v >= th.min else fails).append(
            f"{value_text} {'≥' if v >= th.min else 'is below'} min {th.min:g}")
    if th.max is not None:
        (passes if v <= th.max else fails).append(
            f"{value_text} {'≤' if v <= th.max else 'is above'} max {th.max:g}")

    champion_value = result.champion_value
    delta: Interval | None = result.delta
    compared = delta is not None
    if th.compares and ctx.champion is None:
        notes.append(f"comparison with the champion skipped: {ctx.no_champion_reason}")
    if delta is not None and champion_value is not None:
        for key, margin in (("max_regression", th.max_regression),
                            ("min_improvement", th.min_improvement)):
            _compare(metric, margin, key, delta, v, champion_value, pct, passes, fails, details)

    status: Status
    if fails:
        status = "fail"
    elif passes:
        status = "pass"
    else:
        status = "skip"
    lines = fails + passes if fails else passes
    if not lines:
        lines = [value_text]
    message = "; ".join(lines + notes)
    if status == "fail":
        message += "."
        hint = _advice(metric, fails, details)
        if hint:
            message += " " + hint

    if compared and delta is not None:
        ci = (delta.lower, delta.upper)
        method = delta.method
    else:
        ci = (value.lower, value.upper)
        method = value.method
    return CheckResult(
        id=cid, family=FAMILY, name=check.metric, status=status, blocking=check.blocking,
        message=message, metric=metric.name, candidate=v, champion=champion_value,
        delta=delta.estimate if delta is not None else None, ci=ci, confidence=conf,
        threshold=th.as_dict(), method=method, details=details, line=check.line)


def _compare(metric: Metric, margin: float | None, key: str, delta: Interval, v: float,
             champion: float, pct: str, passes: list[str], fails: list[str],
             details: dict[str, Any]) -> None:
    if margin is None or delta.lower is None:
        return
    need = -margin if key == "max_regression" else margin
    orient = "" if metric.higher_is_better else " (lower is better, so Δ = champion − candidate)"
    head = (f"Δ vs champion = {_signed(delta.estimate)}{orient} (candidate {_f(v)}, champion "
            f"{_f(champion)}), one-sided {pct} lower bound {_signed(delta.lower)}")
    if delta.method.endswith("+discordance-floor"):
        details["discordance_floor"] = True
    if delta.lower >= need:
        passes.append(f"{head} ≥ {need:+g} ({key} {margin:g})")
        return
    text = f"{head} < {need:+g} allowed by {key} {margin:g}"
    if not math.isfinite(delta.lower):
        text += (f" — inconclusive: {delta.n} rows are too few for a paired comparison (at "
                 f"least {MIN_COMPARISON_ROWS} are needed; evaluate on more rows)")
        details[f"rows_to_resolve_{key}"] = max(MIN_COMPARISON_ROWS, delta.n + 1)
    elif delta.estimate >= need:
        rows = delta.rows_to_resolve(-need)
        if key == "max_regression":
            text += (" — inconclusive: the point estimate is within the margin but the data "
                     "are too few to rule out a larger regression")
        else:
            text += (f" — inconclusive: the candidate looks better, but the data are too few "
                     f"to show an improvement of at least {margin:g}")
        if rows is not None:
            details[f"rows_to_resolve_{key}"] = rows
            text += f" (about {rows:,} rows would resolve it at this effect size)"
    elif key == "min_improvement":
        text += f" — the candidate is not shown to improve by {margin:g}"
    fails.append(text)


def _advice(metric: Metric, fails: list[str], details: dict[str, Any]) -> str:
    if any("inconclusive" in f for f in fails):
        return "Evaluate on more rows, or accept a larger margin if that is the intent."
    if any("Δ vs champion" in f for f in fails):
        return (f"The candidate is worse than the champion on {metric.name} on the same rows; "
                f"keep the champion or retrain.")
    return "The candidate misses the suite's bound; retrain or revise the threshold."
