"""The latency family: per batch size, honest percentiles of the candidate's per-call time,
rows/s, and the candidate/champion slowdown measured interleaved (A B, B A, …) so that drift
of the machine hits both models alike."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..spec import Suite
from ..spec_latency import LatencySpec
from ..timing import min_samples, ratio_upper_bound, summarise
from . import CheckPlan, CheckResult, EvalContext, Status, error_result

FAMILY = "latency"
#: calls aimed for per model and batch size: enough to trust p99 (662)
TARGET_CALLS = min_samples(0.99)
#: fewest interleaved pairs for a slowdown bound
MIN_PAIRS = 30


def _spec(suite: Suite) -> LatencySpec | None:
    return suite.families.get(FAMILY)  # type: ignore[return-value]


def plan(suite: Suite) -> list[CheckPlan]:
    spec = _spec(suite)
    if spec is None:
        return []
    return [CheckPlan(FAMILY, f"batch_{bs}", spec.line, spec.blocking) for bs in spec.batch_sizes]


def conditions(threads: int | None) -> dict[str, Any]:
    """Where and how the times were measured."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:  # pragma: no cover
        ort = None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"threads": threads, "cpu": cpu, "cpus": os.cpu_count(),
            "python": platform.python_version(), "onnxruntime": ort, "load_average": load}


def timing_models(ctx: EvalContext, threads: int) -> dict[str, Any]:
    """The models as loaded for timing: ONNX sessions reloaded with pinned threads."""
    from ..models import load_model

    out = {}
    for role, model in ctx.models.items():
        if model.info.format == "onnx":
            out[role] = load_model(Path(model.info.path), threads=threads)
        else:
            out[role] = model
    return out


def run(ctx: EvalContext, selected: Collection[str] | None) -> list[CheckResult]:
    spec = _spec(ctx.suite)
    if spec is None:
        return []
    plans = [p for p in plan(ctx.suite)
             if selected is None or ctx.suite.check_id(FAMILY, p.name) in selected]
    if not plans:
        return []
    try:
        models = timing_models(ctx, spec.threads)
    except Exception as exc:  # noqa: BLE001 - a model that cannot be reloaded is an error
        return [error_result(ctx.suite, p, f"cannot load the models for timing: {exc}")
                for p in plans]
    budget = spec.budget_s / len(plans)
    out = []
    for p in plans:
        bs = int(p.name.split("_", 1)[1])
        try:
            out.append(_measure(ctx, spec, p, bs, models, budget))
        except Exception as exc:  # noqa: BLE001 - fail closed
            out.append(error_result(ctx.suite, p, f"{type(exc).__name__}: {exc}"))
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
    while i < TARGET_CALLS and clock() - start < budget:
        batch = batches[i % len(batches)]
        order = roles if i % 2 == 0 else roles[::-1]  # A B, B A, …: order effects cancel
        for role in order:
            t = clock()
            models[role].predict(batch, features)
            times[role].append(clock() - t)
        i += 1
    stats = {role: summarise(times[role], bs) for role in roles}
    cand = stats["candidate"]
    fails: list[str] = []
    passes: list[str] = []
    undecided: list[str] = []
    trusted = cand["trustworthy"]
    assert isinstance(trusted, list)
    for name, limits in spec.percentile_ms.items():
        if bs not in limits:
            continue
        value, limit = float(cand[f"{name}_ms"]), limits[bs]  # type: ignore[arg-type]
        if name not in trusted:
            undecided.append(f"{name} is not trustworthy after {cand['calls']} calls (it needs "
                             f"{min_samples(dict(p50=.5, p90=.9, p99=.99)[name])}); raise "
                             f"latency.budget_s")
        elif value <= limit:
            passes.append(f"{name} {value:.3f} ms ≤ {limit:g} ms")
        else:
            fails.append(f"{name} {value:.3f} ms is above {limit:g} ms")
    if bs in spec.min_rows_per_s:
        rows, need = float(cand["rows_per_s"]), spec.min_rows_per_s[bs]  # type: ignore[arg-type]
        (passes if rows >= need else fails).append(
            f"{rows:,.0f} rows/s {'≥' if rows >= need else 'is below'} {need:,.0f}")
    details: dict[str, Any] = {"batch_size": bs, "candidate": cand,
                               "champion": stats.get("champion"), "budget_s": budget,
                               "conditions": conditions(spec.threads)}
    if spec.max_slowdown is not None:
        if "champion" not in stats:
            undecided.append(f"slowdown not measured: {ctx.no_champion_reason}")
        elif len(times["champion"]) < MIN_PAIRS:
            undecided.append(f"slowdown: only {len(times['champion'])} call pairs in the budget "
                             f"(needs {MIN_PAIRS})")
        else:
            ratio, upper = ratio_upper_bound(times["candidate"], times["champion"],
                                             suite.confidence, rng)
            details.update(ratio=ratio, ratio_upper=upper)
            text = (f"candidate/champion median time {ratio:.2f}x, one-sided "
                    f"{suite.confidence:.0%} upper bound {upper:.2f}x")
            if upper <= spec.max_slowdown:
                passes.append(f"{text} ≤ {spec.max_slowdown:g}x")
            else:
                fails.append(f"{text} is above max_slowdown {spec.max_slowdown:g}x")
    summary = (f"p50 {float(cand['p50_ms']):.3f} ms, p99 {float(cand['p99_ms']):.3f} ms, "  # type: ignore[arg-type]
               f"{float(cand['rows_per_s']):,.0f} rows/s over {cand['calls']} calls of "  # type: ignore[arg-type]
               f"{bs} row{'s' if bs != 1 else ''} (trustworthy: {', '.join(trusted) or 'none'})")
    status: Status
    if fails:
        status = "fail"
    elif undecided:
        status = "skip"
    else:
        status = "pass"
    message = "; ".join(fails + undecided + passes + [summary])
    threshold: dict[str, Any] = {f"{n}_ms": v[bs] for n, v in spec.percentile_ms.items()
                                 if bs in v}
    if bs in spec.min_rows_per_s:
        threshold["min_rows_per_s"] = spec.min_rows_per_s[bs]
    if spec.max_slowdown is not None:
        threshold["max_slowdown"] = spec.max_slowdown
    return CheckResult(
        id=cid, family=FAMILY, name=p.name, status=status, blocking=p.blocking,
        message=message, metric="p99_ms", candidate=float(cand["p99_ms"]),  # type: ignore[arg-type]
        champion=float(stats["champion"]["p99_ms"]) if "champion" in stats else None,  # type: ignore[arg-type]
        confidence=suite.confidence, threshold=threshold,
        method="interleaved-timing" if "champion" in stats else "timing",
        details=details, line=p.line)
