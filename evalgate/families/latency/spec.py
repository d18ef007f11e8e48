"""The ``latency`` section of a suite (DESIGN.md §2), validated.

```yaml
latency:
  batch_sizes: [1, 256]
  p99_ms: {1: 5.0}              # bound on the candidate's p99 per call, per batch size
  min_rows_per_s: {256: 20000}
  max_slowdown: 1.5             # upper bound of candidate/champion median time ratio
  threads: 1                    # onnxruntime intra-op threads while timing (default 1)
  budget_s: 20                  # time for the whole family, both models (default 20)
  max_calls: 662                # calls per model and batch size at most (default 662)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...metrics import Task
from ...spec import DataSpec, LineDict, Reader

LATENCY_KEYS = ("batch_sizes", "p50_ms", "p90_ms", "p99_ms", "min_rows_per_s",
                "max_slowdown", "threads", "budget_s", "max_calls", "warmup", "blocking")

DEFAULT_BUDGET_S = 20.0
#: calls per model and batch size at most, unless ``max_calls`` says otherwise
DEFAULT_MAX_CALLS = 662
#: the largest ``max_calls`` accepted
MAX_CALLS_LIMIT = 1_000_000

# The largest value of each knob that costs time or memory: a run stays bounded (a latency
# family at most 10 minutes, a load test at most 5 minutes of 10,000 calls/s), while real
# use fits well inside.
MAX_BUDGET_S = 600.0
MAX_THREADS = 256
MAX_WARMUP = 10_000
#: rows per call while timing (the latency family keeps 16 such batches in memory)
MAX_BATCH_SIZE = 100_000


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


def parse(r: Reader, section: Any, line: int, task: Task, data: DataSpec) -> LatencySpec:
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
    slowdown = r.positive(d, "max_slowdown")
    if slowdown is not None and slowdown < 1:
        raise r.fail(d.line_of("max_slowdown"), "max_slowdown",
                     f"a ratio of at least 1 (1.5 = 50% slower allowed), got {slowdown:g}")
    threads = r.integer(d, "threads", 1, MAX_THREADS) if "threads" in d else 1
    budget = r.positive(d, "budget_s", DEFAULT_BUDGET_S, MAX_BUDGET_S)
    warmup = r.integer(d, "warmup", 0, MAX_WARMUP) if "warmup" in d else 10
    max_calls = r.integer(d, "max_calls", 1, MAX_CALLS_LIMIT) if "max_calls" in d \
        else DEFAULT_MAX_CALLS
    blocking = r.boolean(d, "blocking") if "blocking" in d else True
    lines = {bs: d.line_of("batch_sizes") for bs in sizes}
    assert budget is not None
    return LatencySpec(batch_sizes=sizes, percentile_ms=pct, min_rows_per_s=rows,
                       max_slowdown=slowdown, threads=threads, budget_s=budget, warmup=warmup,
                       blocking=blocking, line=line, lines=lines, max_calls=max_calls)


