"""The latency family: per batch size, honest percentiles of the candidate's per-call time,
rows/s, and the candidate/champion slowdown measured interleaved (A B, B A, …) so that drift
of the machine hits both models alike.

A percentile limit is judged by the order-statistic bounds of the calls made
(:func:`evalgate.stats.timing.quantile_bounds`): ``fail`` when the lower bound is above the limit,
``pass`` when the upper bound is within it, otherwise ``fail`` as *inconclusive* with the calls
(and the ``budget_s`` / ``max_calls``) that would resolve it — never ``skip``. Only a slowdown
without a champion is left unjudged."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import EvalgateError
from ...models import prepared_calls
from ...spec import Suite
from ...stats.timing import (
    MAX_CALLS_ESTIMATE,
    slowdown_bounds,
    summarise,
)
from ..base import CheckPlan, CheckResult, EvalContext, error_result
from ..judge import Clauses, percent
from ..measure import PercentileBound, TimingSummary, conditions, judge_percentile, timing_models
from ..sample import timed_rows
from .details import LatencyDetails
from .spec import LatencySpec

FAMILY = "latency"
#: the quantile of each percentile key (``p99_ms`` …)
QUANTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99}
#: fewest interleaved pairs for a slowdown bound
MIN_PAIRS = 30


def plan(suite: Suite) -> list[CheckPlan]:
    spec: LatencySpec | None = suite.families.get(FAMILY)
    if spec is None:
        return []
    return [CheckPlan(FAMILY, f"batch_{bs}", spec.line, spec.blocking, subject=(spec, bs))
            for bs in spec.batch_sizes]


def run(ctx: EvalContext, plans: Sequence[CheckPlan]) -> list[CheckResult]:
    if not plans:
        return []
    spec: LatencySpec = plans[0].subject[0]
    try:
        models = timing_models(ctx, spec.threads)
    except EvalgateError as exc:
        return [error_result(ctx.suite, p, f"cannot load the models for timing: {exc}")
                for p in plans]
    # each batch size gets its share of the family's budget, whichever are selected
    budget = spec.budget_s / len(spec.batch_sizes)
    out = []
    for p in plans:
        try:
            out.append(_measure(ctx, spec, p, p.subject[1], models, budget))
        except EvalgateError as exc:
            out.append(error_result(ctx.suite, p, str(exc)))
    return out


@dataclass
class _Timed:
    """Interleaved call times of the candidate and the champion on one batch size."""

    times: dict[str, list[float]]
    elapsed: float

    @property
    def calls(self) -> int:
        return len(self.times["candidate"])


def _time_calls(ctx: EvalContext, spec: LatencySpec, bs: int, models: dict[str, Any],
                budget: float, rows: pd.DataFrame) -> _Timed:
    """Warm up, then call the candidate and the champion A B, B A, … on the same batches
    until ``max_calls`` calls per model or the ``budget`` seconds: drift of the machine hits
    both alike.

    Only these two models are timed in a loop, whatever else the run judges: each call of
    one follows a call of the other or of itself, so no third model — another challenger of
    the run, heavy on memory — can slow the champion's calls more than the candidate's, or
    add the same cost to both and pull their ratio towards 1."""
    assert ctx.data is not None
    features = ctx.data.features
    roles = list(models)
    # each batch as the model takes it, converted before: the model is timed, not evalgate
    calls = {r: prepared_calls(models[r], rows, features, bs) for r in roles}
    batches = len(calls[roles[0]])
    for role in roles:  # warm-up: first calls allocate, compile, fill caches
        for i in range(spec.warmup):
            calls[role][-1 - i % batches]()
    times: dict[str, list[float]] = {r: [] for r in roles}
    clock = time.perf_counter
    start = clock()
    i = 0
    while i < spec.max_calls and clock() - start < budget:
        for role in roles if i % 2 == 0 else roles[::-1]:
            times[role].append(calls[role][i % batches]())
        i += 1
    return _Timed(times, clock() - start)


def _measure(ctx: EvalContext, spec: LatencySpec, p: CheckPlan, bs: int,
             models: dict[str, Any], budget: float) -> CheckResult:
    suite = ctx.suite
    rng = ctx.rng(suite.check_id(FAMILY, p.name))
    timed = _time_calls(ctx, spec, bs, models, budget, timed_rows(ctx, rng, bs, spec.max_calls))
    stats = {role: TimingSummary.of(summarise(t, bs)) for role, t in timed.times.items()}
    cand = stats["candidate"]
    per_call_s = timed.elapsed / max(timed.calls, 1)  # one call of each model

    def advice(needed: int | None) -> str:
        return _advice(needed, timed.calls, per_call_s, len(spec.batch_sizes), spec)

    clauses = Clauses()
    bounds: dict[str, PercentileBound] = {}
    for name, limits in spec.percentile_ms.items():
        if bs in limits:
            verdict, text, bound = judge_percentile(name, timed.times["candidate"],
                                                    QUANTILES[name], limits[bs],
                                                    suite.confidence, advice)
            bounds[name] = PercentileBound.of(bound)
            clauses.add(verdict == "pass", text,
                        "inconclusive" if verdict == "inconclusive" else "value")
    if bs in spec.min_rows_per_s:
        rows, need = cand.rows_per_s, spec.min_rows_per_s[bs]
        if timed.calls < MIN_PAIRS:  # a call or two is no measure of a throughput
            clauses.add(False, f"rows/s inconclusive: only {timed.calls} call"
                               f"{'s' if timed.calls != 1 else ''} in the budget (a "
                               f"throughput needs {MIN_PAIRS}); {advice(MIN_PAIRS)}",
                        "inconclusive")
        else:
            clauses.add(rows >= need, f"{rows:,.0f} rows/s "
                                      f"{'≥' if rows >= need else 'is below'} {need:,.0f}")
    slowdown = _slowdown(ctx, spec, timed, clauses, rng, advice)
    details = LatencyDetails(batch_size=bs, candidate=cand, champion=stats.get("champion"),
                             budget_s=budget, elapsed_s=timed.elapsed,
                             max_calls=spec.max_calls, percentiles=bounds,
                             conditions=conditions(spec.threads), **slowdown)
    return _result(ctx, spec, p, bs, clauses, details)


def _slowdown(ctx: EvalContext, spec: LatencySpec, timed: _Timed, clauses: Clauses,
              rng: np.random.Generator, advice: Callable[[int | None], str]) -> dict[str, Any]:
    """Judge ``max_slowdown`` by the upper bounds of the candidate/champion ratios of median
    and of mean time, the stricter of the two; the ratios' fields of the details."""
    if spec.max_slowdown is None:
        return {}
    if "champion" not in timed.times:
        clauses.notes.append(f"slowdown not measured: {ctx.no_champion_reason}")
        return {}
    pairs = len(timed.times["champion"])
    if pairs < MIN_PAIRS:
        clauses.add(False, f"slowdown inconclusive: only {pairs} call pairs in the budget (a "
                           f"bound needs {MIN_PAIRS}); {advice(MIN_PAIRS)}", "inconclusive")
        return {}
    conf = ctx.suite.confidence
    median, mean = slowdown_bounds(timed.times["candidate"], timed.times["champion"], conf,
                                   rng)
    # the stricter: a median near the champion's can hide a mean many times it
    (ratio, upper), which = max((median, "median"), (mean, "mean"), key=lambda r: r[0][1])
    text = (f"candidate/champion {which} time {ratio:.2f}x, one-sided {percent(conf)} upper "
            f"bound {upper:.2f}x ({'mean' if which == 'median' else 'median'} "
            f"{(mean if which == 'median' else median)[0]:.2f}x)")
    limit = spec.max_slowdown
    if upper <= limit:
        clauses.add(True, f"{text} ≤ {limit:g}x")
    elif ratio <= limit:
        clauses.add(False, f"{text} is above max_slowdown {limit:g}x — inconclusive: the "
                           f"ratio is within it, but {pairs} call pairs cannot bound it there; "
                           f"raise latency.budget_s", "inconclusive")
    else:
        clauses.add(False, f"{text} is above max_slowdown {limit:g}x")
    return {"ratio": ratio, "ratio_upper": upper, "ratio_of": which,
            "mean_ratio": mean[0], "mean_ratio_upper": mean[1],
            "ratio_method": "paired bootstrap of interleaved call pairs"}


def _result(ctx: EvalContext, spec: LatencySpec, p: CheckPlan, bs: int, clauses: Clauses,
            details: LatencyDetails) -> CheckResult:
    cand = details.candidate
    summary = (f"p50 {_ms(cand.p50_ms)}, p99 {_ms(cand.p99_ms)}, "
               f"{cand.rows_per_s:,.0f} rows/s over {cand.calls} calls of "
               f"{bs} row{'s' if bs != 1 else ''}")
    # the facts go last here: the verdicts first, then what was measured
    message = "; ".join(clauses.fails + clauses.passes + clauses.notes + [summary])
    threshold: dict[str, Any] = {f"{n}_ms": v[bs] for n, v in spec.percentile_ms.items()
                                 if bs in v}
    if bs in spec.min_rows_per_s:
        threshold["min_rows_per_s"] = spec.min_rows_per_s[bs]
    if spec.max_slowdown is not None:
        threshold["max_slowdown"] = spec.max_slowdown
    primary = next((n for n in ("p99", "p90", "p50") if n in details.percentiles), "p99")
    method = "interleaved-timing" if details.champion is not None else "timing"
    ci: tuple[float | None, float | None] | None = None
    if primary in details.percentiles:
        b = details.percentiles[primary]
        method = b.method
        ci = (None if b.lower is None else b.lower * 1000,
              None if b.upper is None else b.upper * 1000)
    key = "p99.9_ms" if primary == "p99.9" else f"{primary}_ms"
    return CheckResult(
        id=ctx.suite.check_id(FAMILY, p.name), family=FAMILY, name=p.name,
        status=clauses.status(), blocking=p.blocking, message=message,
        metric=f"{primary}_ms", candidate=cand.to_dict()[key],
        champion=details.champion.to_dict()[key] if details.champion is not None else None,
        ci=ci, confidence=ctx.suite.confidence, threshold=threshold, method=method,
        details=details, line=p.line)


def _advice(needed: int | None, calls: int, per_call_s: float, checks: int,
            spec: LatencySpec) -> str:
    """How many calls would resolve it, and the ``budget_s`` (estimated from the call rate
    observed) and ``max_calls`` that would give them."""
    if needed is None:
        return (f"more than {MAX_CALLS_ESTIMATE:,} calls would be needed at the rate within "
                f"the limit observed: the percentile sits at the limit")
    parts = []
    budget = math.ceil(needed * per_call_s * checks * 1.1)
    if budget > spec.budget_s:
        parts.append(f"latency.budget_s to about {budget:,} s")
    if needed > spec.max_calls:
        parts.append(f"latency.max_calls to {needed:,}")
    how = f" (raise {' and '.join(parts)})" if parts else ""
    return (f"about {needed:,} calls would resolve it, {calls:,} were made in the "
            f"budget{how}")


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f} ms"
