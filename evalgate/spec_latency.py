"""The ``latency`` and ``stress`` sections of a suite (DESIGN.md §2), validated.

```yaml
latency:
  batch_sizes: [1, 256]
  p99_ms: {1: 5.0}              # bound on the candidate's p99 per call, per batch size
  min_rows_per_s: {256: 20000}
  max_slowdown: 1.5             # upper bound of candidate/champion median time ratio
  threads: 1                    # onnxruntime intra-op threads while timing (default 1)
  budget_s: 20                  # time for the whole family, both models (default 20)
  max_calls: 662                # calls per model and batch size at most (default 662)
stress:
  load: {rate: 200, duration_s: 3, workers: 2, batch_size: 1, p99_ms: 50, max_error_rate: 0}
  memory: {batch_size: 16281, max_memory_mb: 300}
  malformed: {allow_nan_output: false}
  consistency: {tolerance: 1.0e-6}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._yaml import LineDict
from .errors import did_you_mean
from .metrics import Task
from .spec import DataSpec, Reader

LATENCY_KEYS = ("batch_sizes", "p50_ms", "p90_ms", "p99_ms", "min_rows_per_s",
                "max_slowdown", "threads", "budget_s", "max_calls", "warmup", "blocking")
STRESS_KEYS = ("load", "memory", "malformed", "consistency", "blocking")
LOAD_KEYS = ("rate", "duration_s", "workers", "batch_size", "p99_ms", "max_error_rate")
MEMORY_KEYS = ("batch_size", "max_memory_mb")
MALFORMED_KEYS = ("cases", "allow_nan_output", "timeout_s")
CONSISTENCY_KEYS = ("tolerance", "rows")
#: the malformed-input cases, in the order they run
MALFORMED_CASES = ("nan", "inf", "huge", "empty", "one_row", "unseen_category", "wrong_dtype")

DEFAULT_BUDGET_S = 20.0
#: calls per model and batch size at most, unless ``max_calls`` says otherwise
DEFAULT_MAX_CALLS = 662
#: the largest ``max_calls`` accepted
MAX_CALLS_LIMIT = 1_000_000

# The largest value of each knob that costs time or memory: a run stays bounded (a latency
# family at most 10 minutes, a load test at most 5 minutes of 10,000 calls/s), while real
# use fits well inside.
MAX_BUDGET_S = 600.0
MAX_DURATION_S = 300.0
MAX_RATE = 10_000.0
MAX_WORKERS = 64
MAX_THREADS = 256
MAX_WARMUP = 10_000
#: rows per call while timing (the latency family keeps 16 such batches in memory)
MAX_BATCH_SIZE = 100_000
#: rows the memory check predicts in its child process
MAX_MEMORY_BATCH = 1_000_000
MAX_CONSISTENCY_ROWS = 100_000
MAX_MALFORMED_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class LatencySpec:
    batch_sizes: tuple[int, ...]
    percentile_ms: Mapping[str, Mapping[int, float]]  # "p99" → {batch size: ms}
    min_rows_per_s: Mapping[int, float]
    max_slowdown: float | None
    threads: int
    budget_s: float
    warmup: int
    blocking: bool
    line: int
    lines: Mapping[int, int] = field(default_factory=dict)  # batch size → line
    max_calls: int = DEFAULT_MAX_CALLS


@dataclass(frozen=True)
class LoadSpec:
    rate: float
    duration_s: float
    workers: int
    batch_size: int
    p99_ms: float | None
    max_error_rate: float
    line: int


@dataclass(frozen=True)
class MemorySpec:
    batch_size: int | None
    max_memory_mb: float | None
    line: int


@dataclass(frozen=True)
class MalformedSpec:
    cases: tuple[str, ...]
    allow_nan_output: bool
    timeout_s: float
    line: int


@dataclass(frozen=True)
class ConsistencySpec:
    tolerance: float
    rows: int
    line: int


@dataclass(frozen=True)
class StressSpec:
    load: LoadSpec | None
    memory: MemorySpec | None
    malformed: MalformedSpec | None
    consistency: ConsistencySpec | None
    blocking: bool
    line: int


def _positive(r: Reader, d: LineDict, key: str, default: float | None = None,
              maximum: float | None = None) -> float | None:
    if key not in d:
        return default
    v = r.number(d, key)
    if v <= 0:
        raise r.fail(d.line_of(key), key, f"must be above 0, got {v:g}")
    return v if maximum is None else r.at_most(d, key, v, maximum)


def _by_batch(r: Reader, d: LineDict, key: str, sizes: tuple[int, ...]) -> dict[int, float]:
    m = r.mapping(d[key], d.line_of(key), key)
    out = {}
    for bs in m:
        if isinstance(bs, bool) or not isinstance(bs, int) or bs not in sizes:
            raise r.fail(m.line_of(bs), key, f"{bs!r} is not one of batch_sizes "
                                             f"{list(sizes)}")
        v = r.number(m, bs)  # type: ignore[arg-type]  # batch-size keys are ints
        if v <= 0:
            raise r.fail(m.line_of(bs), key, f"must be above 0, got {v:g}")
        out[bs] = v
    return out


def parse_latency(r: Reader, section: Any, line: int, task: Task, data: DataSpec) -> LatencySpec:
    d = r.mapping(section, line, "latency")
    r.only_keys(d, LATENCY_KEYS, "latency")
    r.required(d, "batch_sizes", "latency")
    raw = d["batch_sizes"]
    if not isinstance(raw, list) or not raw or not all(
            isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in raw):
        raise r.fail(d.line_of("batch_sizes"), "batch_sizes",
                     "expected a list of whole numbers above 0, such as [1, 256]")
    for b in raw:
        r.at_most(d, "batch_sizes", b, MAX_BATCH_SIZE)
    if len(set(raw)) != len(raw):
        raise r.fail(d.line_of("batch_sizes"), "batch_sizes", "a batch size is listed twice")
    sizes = tuple(raw)
    pct = {p: _by_batch(r, d, f"{p}_ms", sizes) for p in ("p50", "p90", "p99") if f"{p}_ms" in d}
    rows = _by_batch(r, d, "min_rows_per_s", sizes) if "min_rows_per_s" in d else {}
    slowdown = _positive(r, d, "max_slowdown")
    if slowdown is not None and slowdown < 1:
        raise r.fail(d.line_of("max_slowdown"), "max_slowdown",
                     f"a ratio of at least 1 (1.5 = 50% slower allowed), got {slowdown:g}")
    threads = r.integer(d, "threads", 1, MAX_THREADS) if "threads" in d else 1
    budget = _positive(r, d, "budget_s", DEFAULT_BUDGET_S, MAX_BUDGET_S)
    warmup = r.integer(d, "warmup", 0, MAX_WARMUP) if "warmup" in d else 10
    max_calls = r.integer(d, "max_calls", 1, MAX_CALLS_LIMIT) if "max_calls" in d \
        else DEFAULT_MAX_CALLS
    blocking = r.boolean(d, "blocking") if "blocking" in d else True
    lines = {bs: d.line_of("batch_sizes") for bs in sizes}
    assert budget is not None
    return LatencySpec(batch_sizes=sizes, percentile_ms=pct, min_rows_per_s=rows,
                       max_slowdown=slowdown, threads=threads, budget_s=budget, warmup=warmup,
                       blocking=blocking, line=line, lines=lines, max_calls=max_calls)


def parse_stress(r: Reader, section: Any, line: int, task: Task, data: DataSpec) -> StressSpec:
    d = r.mapping(section, line, "stress")
    r.only_keys(d, STRESS_KEYS, "stress")
    if not any(k in d for k in STRESS_KEYS[:4]):
        raise r.fail(d.line, "stress", "name at least one of load, memory, malformed, "
                                       "consistency")
    load = memory = malformed = consistency = None
    if "load" in d:
        s = r.mapping(d["load"], d.line_of("load"), "load")
        r.only_keys(s, LOAD_KEYS, "stress.load")
        r.required(s, "rate", "stress.load")
        rate = _positive(r, s, "rate", maximum=MAX_RATE)
        err = r.number(s, "max_error_rate") if "max_error_rate" in s else 0.0
        if not 0 <= err <= 1:
            raise r.fail(s.line_of("max_error_rate"), "max_error_rate",
                         f"a share between 0 and 1, got {err:g}")
        assert rate is not None
        load = LoadSpec(rate=rate,
                        duration_s=_positive(r, s, "duration_s", 3.0, MAX_DURATION_S) or 3.0,
                        workers=r.integer(s, "workers", 1, MAX_WORKERS) if "workers" in s
                        else 2,
                        batch_size=r.integer(s, "batch_size", 1, MAX_BATCH_SIZE)
                        if "batch_size" in s else 1,
                        p99_ms=_positive(r, s, "p99_ms"), max_error_rate=err,
                        line=d.line_of("load"))
    if "memory" in d:
        s = r.mapping(d["memory"], d.line_of("memory"), "memory")
        r.only_keys(s, MEMORY_KEYS, "stress.memory")
        memory = MemorySpec(
            batch_size=r.integer(s, "batch_size", 1, MAX_MEMORY_BATCH) if "batch_size" in s
            else None,
            max_memory_mb=_positive(r, s, "max_memory_mb"), line=d.line_of("memory"))
    if "malformed" in d:
        s = _section(r, d, "malformed")
        r.only_keys(s, MALFORMED_KEYS, "stress.malformed")
        cases: tuple[str, ...] = MALFORMED_CASES
        if "cases" in s:
            cases = r.names(s, "cases")
            for c in cases:
                if c not in MALFORMED_CASES:
                    raise r.fail(s.line_of("cases"), "cases",
                                 f"unknown case {c!r}{did_you_mean(c, MALFORMED_CASES)}; "
                                 f"valid cases: {', '.join(MALFORMED_CASES)}")
        malformed = MalformedSpec(
            cases=tuple(cases),
            allow_nan_output=r.boolean(s, "allow_nan_output") if "allow_nan_output" in s
            else False,
            timeout_s=_positive(r, s, "timeout_s", 60.0, MAX_MALFORMED_TIMEOUT_S) or 60.0,
            line=d.line_of("malformed"))
    if "consistency" in d:
        s = _section(r, d, "consistency")
        r.only_keys(s, CONSISTENCY_KEYS, "stress.consistency")
        tol = r.number(s, "tolerance") if "tolerance" in s else 1e-6
        if tol < 0:
            raise r.fail(s.line_of("tolerance"), "tolerance", f"must be 0 or more, got {tol:g}")
        consistency = ConsistencySpec(tolerance=tol,
                                      rows=r.integer(s, "rows", 2, MAX_CONSISTENCY_ROWS)
                                      if "rows" in s else 256,
                                      line=d.line_of("consistency"))
    return StressSpec(load=load, memory=memory, malformed=malformed, consistency=consistency,
                      blocking=r.boolean(d, "blocking") if "blocking" in d else True, line=line)


def _section(r: Reader, d: LineDict, key: str) -> LineDict:
    """``d[key]`` as a mapping; a bare ``key:`` (nothing) means all defaults."""
    if d[key] is not None:
        return r.mapping(d[key], d.line_of(key), key)
    empty = LineDict()
    empty.line = d.line_of(key)
    empty.key_lines = {}
    return empty
