"""The stress family: open-loop load, peak memory of the largest batch, malformed input run
in a child process (a crash cannot take pytest down), and prediction consistency."""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import EvalgateError
from ...records import Record
from ...spec import Suite
from ...stats.proportions import clopper_pearson_upper
from ...stats.timing import MAX_CALLS_ESTIMATE, percentile, summarise
from ..base import CheckPlan, CheckResult, EvalContext, Status, error_result
from ..judge import Clauses
from ..measure import PercentileBound, TimingSummary, conditions, judge_percentile, timing_models
from ..sample import POOL_ROWS, pool, timed_rows
from .child import Child, inputs, path_of, trust_applies
from .details import ConsistencyDetails, LoadDetails, MalformedDetails, MemoryDetails
from .load import LoadResult, open_loop
from .spec import LoadSpec, StressSpec

FAMILY = "stress"
PARTS = ("load", "memory", "malformed", "consistency")
#: the parts measured in child processes, which time nothing: run side by side
IN_CHILDREN = frozenset({"memory", "malformed"})
MALFORMED_ROWS = 8


def plan(suite: Suite) -> list[CheckPlan]:
    spec: StressSpec | None = suite.families.get(FAMILY)
    if spec is None:
        return []
    return [CheckPlan(FAMILY, part, getattr(spec, part).line, spec.blocking and _judged(spec, part),
                      subject=spec)
            for part in PARTS if getattr(spec, part) is not None]


def _judged(spec: StressSpec, part: str) -> bool:
    """Whether ``part`` has a threshold to judge: a memory check without ``max_memory_mb``
    only measures (informational: it never counts as a blocking check that decided)."""
    return not (part == "memory" and spec.memory is not None
                and spec.memory.max_memory_mb is None)


def run(ctx: EvalContext, plans: Sequence[CheckPlan]) -> list[CheckResult]:
    """Every part; those in child processes (memory, malformed: nothing timed) side by side
    first, then the timed ones (load) with nothing else running."""
    done: dict[str, CheckResult] = {}
    children = [p for p in plans if p.name in IN_CHILDREN]
    if len(children) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(children)) as threads:
            running = {p.name: threads.submit(_part, ctx, p) for p in children}
        done = {name: f.result() for name, f in running.items()}
    return [done[p.name] if p.name in done else _part(ctx, p) for p in plans]


def _part(ctx: EvalContext, p: CheckPlan) -> CheckResult:
    try:
        return _PARTS[p.name](ctx, p.subject, p, ctx.suite.check_id(FAMILY, p.name))
    except EvalgateError as exc:
        return error_result(ctx.suite, p, str(exc))


def _result(ctx: EvalContext, p: CheckPlan, cid: str, clauses: Clauses, summary: str,
            details: Record, threshold: dict[str, Any], metric: str | None = None,
            value: float | None = None) -> CheckResult:
    """The check's result: failing clauses (inconclusive ones among them: DESIGN.md §3, the
    burden of proof, never a ``skip``), passing ones, then what was measured."""
    status: Status = "fail" if clauses.failed else "pass"
    return CheckResult(id=cid, family=FAMILY, name=p.name, status=status, blocking=p.blocking,
                       message="; ".join([m for m in clauses.fails + clauses.passes + [summary]
                                          if m]), metric=metric,
                       candidate=value, confidence=ctx.suite.confidence, threshold=threshold,
                       details=details, line=p.line)


def _undecided(text: str) -> Clauses:
    """What the measurement could not resolve: a fail reported as inconclusive."""
    clauses = Clauses()
    clauses.add(False, f"inconclusive: {text}", "inconclusive")
    return clauses


def _sample(ctx: EvalContext, rng: np.random.Generator, rows: int) -> pd.DataFrame:
    assert ctx.data is not None
    frame = pool(ctx)
    idx = rng.integers(0, len(frame), size=rows)
    return frame.iloc[idx][list(ctx.data.features)].reset_index(drop=True)


# --------------------------------------------------------------------------- load


def _load(ctx: EvalContext, spec: StressSpec, p: CheckPlan, cid: str) -> CheckResult:
    load = spec.load
    assert load is not None and ctx.data is not None
    rng = ctx.rng(cid)
    model = timing_models(ctx, 1)["candidate"]
    features = ctx.data.features
    requests = _requests(ctx, rng, load)
    model.predict(requests[0], features)  # warm-up
    res = open_loop(lambda i: model.predict(requests[i % len(requests)], features),
                    rate=load.rate, duration_s=load.duration_s, workers=load.workers, rng=rng)
    # the times of the calls answered; the percentile is judged with the unanswered as +∞
    lat = TimingSummary.of(summarise([s for s in res.latencies_s if math.isfinite(s)],
                                     load.batch_size))
    p99 = percentile(res.latencies_s, 0.99) * 1000 if res.latencies_s else float("nan")
    clauses = Clauses()
    bound = None
    if load.p99_ms is not None:
        if not res.latencies_s:
            clauses.add(False, f"p99 inconclusive: no call completed in {load.duration_s:g} s, "
                               f"so there is nothing to bound it with", "inconclusive")
        else:
            def advice(needed: int | None) -> str:
                return _load_advice(needed, res.completed, res.achieved_rate, load.duration_s)

            verdict, text, bound = judge_percentile(
                "p99 (from the scheduled arrival)", res.latencies_s, 0.99, load.p99_ms,
                ctx.suite.confidence, advice)
            clauses.add(verdict == "pass", text,
                        "inconclusive" if verdict == "inconclusive" else "value")
    if res.unfinished:
        clauses.notes.append(f"{res.unfinished} call{'s' if res.unfinished != 1 else ''} "
                             f"still unanswered after the drain: errors, and +∞ in the p99")
    _error_rate(clauses, res, load.max_error_rate, ctx.suite.confidence)
    summary = (f"offered {load.rate:g}/s for {load.duration_s:g} s on {load.workers} "
               f"worker{'s' if load.workers != 1 else ''}: achieved {res.achieved_rate:.1f}/s, "
               f"p50 {_ms(lat.p50_ms, 2)}, p99 {p99:.2f} ms")
    details = LoadDetails(offered_rate=load.rate, achieved_rate=res.achieved_rate,
                          sent=res.sent, completed=res.completed, errors=res.errors,
                          first_error=res.first_error, latency=lat, workers=load.workers,
                          batch_size=load.batch_size, conditions=conditions(1),
                          p99_bound=None if bound is None else PercentileBound.of(bound))
    threshold: dict[str, Any] = {"max_error_rate": load.max_error_rate}
    ci = method = None
    if load.p99_ms is not None:
        threshold["p99_ms"] = load.p99_ms
    if bound is not None:
        method = bound.method
        ci = (None if bound.lower is None else bound.lower * 1000,
              None if bound.upper is None else bound.upper * 1000)
    result = _result(ctx, p, cid, clauses, summary, details, threshold, "p99_ms", p99)
    return replace(result, ci=ci, method=method) if bound is not None else result


def _requests(ctx: EvalContext, rng: np.random.Generator, load: LoadSpec
              ) -> list[pd.DataFrame]:
    """A fresh batch of rows for each request the test will send (about rate × duration;
    :func:`~..sample.timed_rows`): one batch sent again and again would let a model slow on
    some rows — one in fifty — show only its time on the rows drawn."""
    rows = timed_rows(ctx, rng, load.batch_size, int(load.rate * load.duration_s * 1.25) + 16)
    return [rows.iloc[i:i + load.batch_size].reset_index(drop=True)
            for i in range(0, len(rows), load.batch_size)]


def _error_rate(clauses: Clauses, res: LoadResult, limit: float, confidence: float) -> None:
    """Judge the error rate: ``max_error_rate: 0`` as written, no error at all; above 0, by
    the exact (Clopper–Pearson) one-sided upper bound of the rate — a point estimate passed a
    model whose true rate was 1.5% against 1% in 13% of runs, at a level of 5%."""
    rate, said = res.error_rate, f"{res.errors} of {res.sent}"
    first = f"; first error: {res.first_error}" if res.errors else ""
    if not res.sent:
        clauses.add(False, "error rate inconclusive: no request was sent", "inconclusive")
    elif limit == 0:
        clauses.add(res.errors == 0, f"no error in {res.sent:,} calls" if res.errors == 0
                    else f"error rate {rate:.2%} ({said}) is above 0{first}")
    else:
        upper = float(clopper_pearson_upper(res.errors, res.sent, confidence))
        head = (f"error rate {rate:.2%} ({said}), one-sided {confidence:.0%} upper bound "
                f"{upper:.2%}")
        if upper <= limit:
            clauses.add(True, f"{head} ≤ {limit:.2%}")
        elif rate <= limit:
            clauses.add(False, f"error rate inconclusive: {head} is above {limit:.2%} (more "
                               f"calls — a longer duration_s — would resolve it){first}",
                        "inconclusive")
        else:
            clauses.add(False, f"{head}; the rate is above {limit:.2%}{first}")


def _load_advice(needed: int | None, completed: int, rate: float, duration_s: float) -> str:
    """How many calls would resolve the load percentile, and the ``duration_s`` that would
    give them at the rate achieved."""
    if needed is None:
        return (f"more than {MAX_CALLS_ESTIMATE:,} calls would be needed at the share within "
                f"the limit observed: the percentile sits at the limit")
    text = f"about {needed:,} calls would resolve it, {completed:,} completed"
    if rate > 0:
        text += (f" (raise stress.load.duration_s to about {math.ceil(needed / rate * 1.1):,} "
                 f"s at the {rate:.1f}/s achieved)")
    return text


# --------------------------------------------------------------------------- child processes


# --------------------------------------------------------------------------- memory


def _memory(ctx: EvalContext, spec: StressSpec, p: CheckPlan, cid: str) -> CheckResult:
    mem = spec.memory
    assert mem is not None and ctx.data is not None
    rows = mem.batch_size or min(ctx.data.rows, POOL_ROWS)
    model = ctx.models["candidate"]
    path = path_of(model)
    threshold = {"max_memory_mb": mem.max_memory_mb} if mem.max_memory_mb else {}
    if path is None:
        return _result(ctx, p, cid, _undecided("memory is measured in a child process, which "
                                               "needs a model file; gate a model file to "
                                               "resolve it"), "", MemoryDetails(), threshold)
    frame = _sample(ctx, ctx.rng(cid), rows)
    with tempfile.TemporaryDirectory() as tmp:
        rows_path, feats = inputs(ctx, frame, Path(tmp))
        child = Child("memory", path, rows_path, feats, trust_applies(model))
        answer = child.ask(None, timeout=300)
        if answer is None:
            crashed = Clauses()
            crashed.add(False, f"predicting {rows:,} rows crashed: {child.death()}")
            return _result(ctx, p, cid, crashed, "", MemoryDetails(rows=rows), threshold)
        child.close()
    details = MemoryDetails.from_dict(answer, "the memory child's answer")
    if details.error is not None or details.growth_mb is None:
        return _result(ctx, p, cid, _undecided(f"{details.error}; run the gate where it can be "
                                               f"read (Linux, macOS) to resolve it"),
                       "", details, threshold)
    growth = details.growth_mb
    clauses = Clauses()
    if mem.max_memory_mb is not None:
        ok = growth <= mem.max_memory_mb
        clauses.add(ok, f"peak memory growth {growth:.1f} MB {'≤' if ok else 'is above'} "
                        f"{mem.max_memory_mb:g} MB")
    summary = f"predicting {rows:,} rows grew resident memory by {growth:.1f} MB at peak"
    return _result(ctx, p, cid, clauses, summary, details, threshold, "memory_mb", growth)


# --------------------------------------------------------------------------- malformed

#: malformed cases that are valid requests: a clean refusal of them is a failure
VALID_CASES = ("one_row",)


def malformed_outcomes(model: Any, base: pd.DataFrame, ctx: EvalContext, cases: tuple[str, ...],
                       timeout: float) -> dict[str, dict[str, Any]]:
    """Each case's outcome for ``model``, one child process at a time; a crash marks the case
    and a new child takes the rest."""
    path = path_of(model)
    if path is None:
        return {c: {"outcome": "not_measured", "message": "needs a model file"} for c in cases}
    trust = trust_applies(model)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows, feats = inputs(ctx, base, Path(tmp))
        child: Child | None = None
        for case in cases:
            if child is None:
                child = Child("malformed", path, rows, feats, trust)
            answer = child.ask(case, timeout)
            if answer is None:
                results[case] = {"outcome": "crash", "message": child.death()}
                child.kill()
                child = None
            else:
                results[case] = {k: v for k, v in answer.items() if k != "case"}
        if child is not None:
            child.close()
    return results


def _malformed(ctx: EvalContext, spec: StressSpec, p: CheckPlan, cid: str) -> CheckResult:
    mal = spec.malformed
    assert mal is not None
    base = _sample(ctx, ctx.rng(cid), MALFORMED_ROWS)
    from concurrent.futures import ThreadPoolExecutor

    # the champion's outcomes once for the run, whatever the challengers (the same rows,
    # cases and model)
    champion = ctx.models.get("champion")
    key = ctx.run_key("stress:malformed", champion.info.sha256) if champion is not None \
        else None
    known = ctx.run_cache.get(key) if key is not None else None
    todo = {role: m for role, m in ctx.models.items() if role != "champion" or known is None}
    with ThreadPoolExecutor(max_workers=max(1, len(todo))) as threads:  # one child each
        running = {role: threads.submit(malformed_outcomes, model, base, ctx, mal.cases,
                                        mal.timeout_s) for role, model in todo.items()}
    table = {role: known if role not in running else running[role].result()
             for role in ctx.models}
    if key is not None:
        ctx.run_cache.setdefault(key, table["champion"])
    details = MalformedDetails.from_dict(
        {"cases": list(mal.cases), "outcomes": table, "counts": {}}, "malformed outcomes")
    cand = details.outcomes["candidate"]
    counts: dict[str, int] = {}
    clauses = Clauses()
    for case, r in cand.items():
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
        if r.outcome == "crash":
            clauses.add(False, f"{case}: crashed — {r.message}")
        elif r.outcome == "nan_output" and not mal.allow_nan_output:
            clauses.add(False, f"{case}: NaN output ({r.message})")
        elif r.outcome == "error" and case in VALID_CASES:
            clauses.add(False, f"{case}: refused ({r.message}), but it is a valid request")
    if not any(r.outcome not in ("not_applicable", "not_measured") for r in cand.values()):
        clauses.add(False, "inconclusive: no case could be tried, so nothing shows the model "
                           "survives malformed input", "inconclusive")
    if not clauses.failed:
        clauses.add(True, "no crash" + ("" if mal.allow_nan_output else ", no NaN output"))
    summary = ", ".join(f"{c} → {r.outcome}" for c, r in cand.items())
    return _result(ctx, p, cid, clauses, summary,
                   dataclasses.replace(details, counts=counts),
                   {"allow_nan_output": mal.allow_nan_output})


# --------------------------------------------------------------------------- consistency


def _consistency(ctx: EvalContext, spec: StressSpec, p: CheckPlan, cid: str) -> CheckResult:
    con = spec.consistency
    assert con is not None and ctx.data is not None
    model = ctx.models["candidate"]
    features = ctx.data.features
    batch = _sample(ctx, ctx.rng(cid), con.rows)
    first, second = model.predict(batch, features), model.predict(batch, features)
    out_a, out_b = _output(first), _output(second)
    clauses = Clauses()
    if out_a.shape != out_b.shape or not np.array_equal(out_a, out_b, equal_nan=True):
        diff = float(np.nanmax(np.abs(out_a - out_b))) if out_a.shape == out_b.shape else np.inf
        clauses.add(False, f"the same {con.rows} rows predicted twice differ (max {diff:.3g})")
    else:
        clauses.add(True, "the same rows twice give identical outputs")
    singles = min(32, con.rows)
    alone = np.concatenate([_output(model.predict(batch.iloc[[i]], features))
                            for i in range(singles)])
    tol = consistency_tolerance(out_a[:singles], con.tolerance)
    excess = np.abs(alone - out_a[:singles]) - tol.allowed
    worst = float(np.max(np.abs(alone - out_a[:singles]))) if singles else 0.0
    if not singles or float(np.max(excess)) <= 0:
        clauses.add(True, f"{singles} rows predicted alone equal the batch within {tol.text}")
    else:
        at = int(np.argmax(excess))
        clauses.add(False, f"a row predicted alone differs from the same row in a batch by "
                           f"{float(np.abs(alone - out_a[:singles]).flat[at]):.3g}, above the "
                           f"{float(tol.allowed.flat[at]):.3g} allowed there ({tol.text})")
    details = ConsistencyDetails(rows=con.rows, singles=singles, max_single_vs_batch=worst,
                                 tolerance_used=tol.text, output_precision=tol.precision,
                                 max_allowed=float(np.max(tol.allowed)) if singles else None)
    return _result(ctx, p, cid, clauses, f"{con.rows} rows, {singles} alone", details,
                   {"tolerance": con.tolerance}, "max_abs_difference", worst)


#: rounding allowed between a row predicted alone and in a batch, in units of the output
#: precision's machine epsilon times max(|y|, 1) (different summation orders)
CONSISTENCY_ULPS = 8


@dataclass(frozen=True)
class Tolerance:
    """What "equal" means for ``stress.consistency``, element by element."""

    allowed: np.ndarray
    precision: str
    text: str


def output_precision(values: np.ndarray) -> np.dtype:
    """The narrowest float type every finite output is a value of (float16, float32 or
    float64): the model's output precision, as adapters hand over float64."""
    finite = values[np.isfinite(values)]
    for dtype in (np.float16, np.float32):
        with np.errstate(over="ignore"):
            if finite.size and np.array_equal(finite.astype(dtype).astype(np.float64), finite):
                return np.dtype(dtype)
    return np.dtype(np.float64)


def consistency_tolerance(reference: np.ndarray, tolerance: float) -> Tolerance:
    """``max(tolerance, CONSISTENCY_ULPS · eps(precision)) · max(|y|, 1)`` per element: the
    suite's tolerance, relative to the output's magnitude above 1 and never below the
    rounding of the output's precision (float32 outputs near 300 round at 3e-5)."""
    dtype = output_precision(reference)
    eps = float(np.finfo(dtype).eps)
    floor = CONSISTENCY_ULPS * eps
    scale = np.maximum(np.abs(np.nan_to_num(reference, nan=0.0, posinf=0.0, neginf=0.0)), 1.0)
    unit = max(tolerance, floor)
    which = (f"tolerance {tolerance:g}" if tolerance >= floor else
             f"{CONSISTENCY_ULPS} × {dtype.name} eps = {floor:.3g} (above tolerance "
             f"{tolerance:g})")
    text = f"{which} × max(|y|, 1), outputs {dtype.name}"
    return Tolerance(allowed=unit * scale, precision=dtype.name, text=text)


def _output(raw: Any) -> np.ndarray:
    arr = raw.proba if raw.proba is not None else raw.values
    return np.asarray(arr, dtype=np.float64).reshape(len(arr), -1)


_PARTS = {"load": _load, "memory": _memory, "malformed": _malformed,
          "consistency": _consistency}


def _ms(x: float | None, digits: int) -> str:
    return "—" if x is None else f"{x:.{digits}f} ms"
