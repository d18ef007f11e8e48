"""What the latency and stress families share: the models as loaded for timing, where and how
times were measured, and the judgement of a percentile by its order-statistic bounds."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..records import Record
from ..stats.timing import (
    QUANTILE_METHOD,
    QuantileBound,
    Verdict,
    calls_to_resolve,
    quantile_bounds,
)
from .base import EvalContext
from .judge import percent


@dataclass(frozen=True)
class Conditions(Record):
    """Where and how the times were measured."""

    kind: ClassVar[str] = "measuring conditions"
    threads: int | None
    cpu: str
    cpus: int | None
    python: str
    onnxruntime: str | None
    load_average: float | None


@dataclass(frozen=True)
class TimingSummary(Record):
    """Percentiles (nearest rank, ms), mean, rows/s and call count of one model's calls, and
    the percentiles that many calls bound at 99% confidence."""

    kind: ClassVar[str] = "timing summary"
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p999_ms: float | None = field(metadata={"key": "p99.9_ms"})
    mean_ms: float | None
    rows_per_s: float
    calls: int
    trustworthy: tuple[str, ...]

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> TimingSummary:
        """From :func:`evalgate.stats.timing.summarise`'s mapping."""
        return cls.from_dict({k: (None if isinstance(v, float) and v != v else v)
                              for k, v in summary.items()}, cls.kind)


@dataclass(frozen=True)
class PercentileBound(Record):
    """A percentile of the calls made with its order-statistic bounds (seconds)."""

    kind: ClassVar[str] = "percentile bound"
    q: float
    n: int
    confidence: float
    estimate: float | None
    lower: float | None
    upper: float | None
    lower_rank: int | None
    upper_rank: int | None
    method: str

    @classmethod
    def of(cls, bound: QuantileBound) -> PercentileBound:
        return cls.from_dict(bound.as_dict(), cls.kind)


def conditions(threads: int | None) -> Conditions:
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
    return Conditions(threads=threads, cpu=cpu, cpus=os.cpu_count(),
                      python=platform.python_version(), onnxruntime=ort, load_average=load)


def timing_models(ctx: EvalContext, threads: int) -> dict[str, Any]:
    """The models as timed: each pinned to ``threads`` intra-op threads (the session made
    once per model and thread count, shared by latency and stress)."""
    return {role: model.with_threads(threads) for role, model in ctx.models.items()}


def judge_percentile(name: str, seconds: Sequence[float], q: float, limit_ms: float,
                     confidence: float, advice: Callable[[int | None], str]
                     ) -> tuple[Verdict, str, QuantileBound]:
    """Judge the ``q`` percentile of the calls (``seconds``) against ``limit_ms`` by its
    order-statistic bounds (DESIGN.md §3): fail when the lower bound is above the limit,
    pass when the upper bound is within it, else inconclusive, with ``advice(calls)`` on
    how many calls would resolve it. The verdict, the clause for the message, the bound."""
    bound = quantile_bounds(seconds, q, confidence)
    verdict = bound.judge(limit_ms / 1000)
    pct = percent(confidence)
    n = bound.n

    def ms(x: float | None, inf: str) -> str:
        return inf if x is None else f"{x * 1000:.3f} ms"

    head = f"{name} {bound.estimate * 1000:.3f} ms over {n} call{'s' if n != 1 else ''}"
    if verdict == "pass":
        return verdict, (f"{head}, one-sided {pct} upper bound {ms(bound.upper, '')} (call "
                         f"{bound.upper_rank} of {n} sorted) ≤ {limit_ms:g} ms"), bound
    if verdict == "fail":
        return verdict, (f"{head}: its one-sided {pct} lower bound {ms(bound.lower, '')} (call "
                         f"{bound.lower_rank} of {n} sorted) is above {limit_ms:g} ms"), bound
    needed = calls_to_resolve(seconds, q, limit_ms / 1000, confidence)
    return verdict, (f"{name} inconclusive against {limit_ms:g} ms: {head}, one-sided {pct} "
                     f"bounds [{ms(bound.lower, '−∞')}, {ms(bound.upper, '∞')}] "
                     f"({QUANTILE_METHOD}) straddle the limit; {advice(needed)}"), bound
