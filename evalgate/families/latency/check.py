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
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import EvalgateError
from ...spec import Suite
from ...stats.timing import (
    MAX_CALLS_ESTIMATE,
    QuantileBound,
    ratio_upper_bound,
    summarise,
)
from ..base import CheckPlan, CheckResult, EvalContext, Status, error_result
from ..judge import percent
from ..measure import conditions, judge_percentile, timing_models
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


def _batches(ctx: EvalContext, bs: int, rng: np.random.Generator, count: int = 16
             ) -> list[pd.DataFrame]:
    assert ctx.data is not None
    frame = ctx.data.frame
    idx = rng.integers(0, len(frame), size=(count, bs))
    return [frame.iloc[i].reset_index(drop=True) for i in idx]


def _measure(ctx: EvalContext, spec: LatencySpec, p: CheckPlan, bs: int,
             models: dict[str, Any], budget: float) -> CheckResult:
    suite = ctx.suite
    cid = suite.check_id(FAMILY, p.name)
    rng = ctx.rng(cid)
    assert ctx.data is not None
    features = ctx.data.features
    batches = _batches(ctx, bs, rng)
    roles = list(models)
    for role in roles:  # warm-up: first calls allocate, compile, fill caches
        for i in range(spec.warmup):
            models[role].predict(batches[i % len(batches)], features)
    times: dict[str, list[float]] = {r: [] for r in roles}
    clock = time.perf_counter
    start = clock()
    i = 0
    while i < spec.max_calls and clock() - start < budget:
        batch = batches[i % len(batches)]
        order = roles if i % 2 == 0 else roles[::-1]  # A B, B A, …: order effects cancel
        for role in order:
            t = clock()
            models[role].predict(batch, features)
            times[role].append(clock() - t)
        i += 1
    elapsed = clock() - start
    stats = {role: summarise(times[role], bs) for role in roles}
    cand = stats["candidate"]
    conf = suite.confidence
    fails: list[str] = []
    passes: list[str] = []
    notes: list[str] = []
    calls = len(times["candidate"])
    per_call_s = elapsed / max(calls, 1)  # one candidate call (and one champion call)

    def advice(needed: int | None) -> str:
        return _advice(needed, calls, per_call_s, max(1, round(spec.budget_s / budget)), spec)

    bounds: dict[str, QuantileBound] = {}
    for name, limits in spec.percentile_ms.items():
        if bs not in limits:
            continue
        verdict, text, bound = judge_percentile(name, times["candidate"], QUANTILES[name],
                                                limits[bs], conf, advice)
        bounds[name] = bound
        {"pass": passes, "fail": fails, "inconclusive": fails}[verdict].append(text)
    if bs in spec.min_rows_per_s:
        rows, need = float(cand["rows_per_s"]), spec.min_rows_per_s[bs]  # type: ignore[arg-type]
        (passes if rows >= need else fails).append(
            f"{rows:,.0f} rows/s {'≥' if rows >= need else 'is below'} {need:,.0f}")
    details: dict[str, Any] = {"batch_size": bs, "candidate": cand,
                               "champion": stats.get("champion"), "budget_s": budget,
                               "elapsed_s": elapsed, "max_calls": spec.max_calls,
                               "percentiles": {n: b.as_dict() for n, b in bounds.items()},
                               "conditions": conditions(spec.threads)}
    if spec.max_slowdown is not None:
        if "champion" not in stats:
            notes.append(f"slowdown not measured: {ctx.no_champion_reason}")
        elif len(times["champion"]) < MIN_PAIRS:
            pairs = len(times["champion"])
            fails.append(f"slowdown inconclusive: only {pairs} call pairs in the budget (a "
                         f"bound needs {MIN_PAIRS}); {advice(MIN_PAIRS)}")
        else:
            ratio, upper = ratio_upper_bound(times["candidate"], times["champion"], conf, rng)
            details.update(ratio=ratio, ratio_upper=upper,
                           ratio_method="paired bootstrap of interleaved call pairs")
            text = (f"candidate/champion median time {ratio:.2f}x, one-sided "
                    f"{percent(conf)} upper bound {upper:.2f}x")
            if upper <= spec.max_slowdown:
                passes.append(f"{text} ≤ {spec.max_slowdown:g}x")
            elif ratio <= spec.max_slowdown:
                fails.append(f"{text} is above max_slowdown {spec.max_slowdown:g}x — "
                             f"inconclusive: the ratio is within it, but {len(times['champion'])}"
                             f" call pairs cannot bound it there; raise latency.budget_s")
            else:
                fails.append(f"{text} is above max_slowdown {spec.max_slowdown:g}x")
    summary = (f"p50 {float(cand['p50_ms']):.3f} ms, p99 {float(cand['p99_ms']):.3f} ms, "  # type: ignore[arg-type]
               f"{float(cand['rows_per_s']):,.0f} rows/s over {cand['calls']} calls of "  # type: ignore[arg-type]
               f"{bs} row{'s' if bs != 1 else ''}")
    status: Status
    if fails:
        status = "fail"
    elif passes:
        status = "pass"
    else:  # nothing judged but a comparison without a champion
        status = "skip"
    message = "; ".join(fails + passes + notes + [summary])
    threshold: dict[str, Any] = {f"{n}_ms": v[bs] for n, v in spec.percentile_ms.items()
                                 if bs in v}
    if bs in spec.min_rows_per_s:
        threshold["min_rows_per_s"] = spec.min_rows_per_s[bs]
    if spec.max_slowdown is not None:
        threshold["max_slowdown"] = spec.max_slowdown
    primary = next((n for n in ("p99", "p90", "p50") if n in bounds), "p99")
    method = "interleaved-timing" if "champion" in stats else "timing"
    ci: tuple[float | None, float | None] | None = None
    if primary in bounds:
        b = bounds[primary]
        method = b.method
        ci = (None if b.lower is None else b.lower * 1000,
              None if b.upper is None else b.upper * 1000)
    return CheckResult(
        id=cid, family=FAMILY, name=p.name, status=status, blocking=p.blocking,
        message=message, metric=f"{primary}_ms", candidate=float(cand[f"{primary}_ms"]),  # type: ignore[arg-type]
        champion=float(stats["champion"][f"{primary}_ms"]) if "champion" in stats else None,  # type: ignore[arg-type]
        ci=ci, confidence=suite.confidence, threshold=threshold, method=method,
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
