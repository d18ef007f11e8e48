"""The ``stress`` section of a suite (DESIGN.md §2), validated.

```yaml
stress:
  load: {rate: 200, duration_s: 3, workers: 2, batch_size: 1, p99_ms: 50, max_error_rate: 0}
  memory: {batch_size: 16281, max_memory_mb: 300}
  malformed: {allow_nan_output: false}
  consistency: {tolerance: 1.0e-6}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import did_you_mean
from ...metrics import Task
from ...spec import DataSpec, Reader

STRESS_KEYS = ("load", "memory", "malformed", "consistency", "blocking")
LOAD_KEYS = ("rate", "duration_s", "workers", "batch_size", "p99_ms", "max_error_rate")
MEMORY_KEYS = ("batch_size", "max_memory_mb")
MALFORMED_KEYS = ("cases", "allow_nan_output", "timeout_s")
CONSISTENCY_KEYS = ("tolerance", "rows")
#: the malformed-input cases, in the order they run
MALFORMED_CASES = ("nan", "inf", "huge", "empty", "one_row", "unseen_category", "wrong_dtype")


MAX_DURATION_S = 300.0
MAX_RATE = 10_000.0
MAX_WORKERS = 64
#: rows the memory check predicts in its child process
MAX_MEMORY_BATCH = 1_000_000
MAX_CONSISTENCY_ROWS = 100_000
#: rows per call of the load test
MAX_BATCH_SIZE = 100_000
MAX_MALFORMED_TIMEOUT_S = 600.0


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


def parse(r: Reader, section: Any, line: int, task: Task, data: DataSpec) -> StressSpec:
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
        rate = r.positive(s, "rate", maximum=MAX_RATE)
        err = r.number(s, "max_error_rate") if "max_error_rate" in s else 0.0
        if not 0 <= err <= 1:
            raise r.fail(s.line_of("max_error_rate"), "max_error_rate",
                         f"a share between 0 and 1, got {err:g}")
        assert rate is not None
        load = LoadSpec(rate=rate,
                        duration_s=r.positive(s, "duration_s", 3.0, MAX_DURATION_S) or 3.0,
                        workers=r.integer(s, "workers", 1, MAX_WORKERS) if "workers" in s
                        else 2,
                        batch_size=r.integer(s, "batch_size", 1, MAX_BATCH_SIZE)
                        if "batch_size" in s else 1,
                        p99_ms=r.positive(s, "p99_ms"), max_error_rate=err,
                        line=d.line_of("load"))
    if "memory" in d:
        s = r.mapping(d["memory"], d.line_of("memory"), "memory")
        r.only_keys(s, MEMORY_KEYS, "stress.memory")
        memory = MemorySpec(
            batch_size=r.integer(s, "batch_size", 1, MAX_MEMORY_BATCH) if "batch_size" in s
            else None,
            max_memory_mb=r.positive(s, "max_memory_mb"), line=d.line_of("memory"))
    if "malformed" in d:
        s = r.subsection(d, "malformed")
        r.only_keys(s, MALFORMED_KEYS, "stress.malformed")
        cases: tuple[str, ...] = MALFORMED_CASES
        if "cases" in s:
            cases = r.names(s, "cases")
            if not cases:
                raise r.fail(s.line_of("cases"), "cases", "an empty list tries nothing, and "
                             "the check would pass on no evidence; leave cases out for all "
                             f"of them ({', '.join(MALFORMED_CASES)})")
            for c in cases:
                if c not in MALFORMED_CASES:
                    raise r.fail(s.line_of("cases"), "cases",
                                 f"unknown case {c!r}{did_you_mean(c, MALFORMED_CASES)}; "
                                 f"valid cases: {', '.join(MALFORMED_CASES)}")
        malformed = MalformedSpec(
            cases=tuple(cases),
            allow_nan_output=r.boolean(s, "allow_nan_output") if "allow_nan_output" in s
            else False,
            timeout_s=r.positive(s, "timeout_s", 60.0, MAX_MALFORMED_TIMEOUT_S) or 60.0,
            line=d.line_of("malformed"))
    if "consistency" in d:
        s = r.subsection(d, "consistency")
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


