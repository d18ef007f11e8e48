"""The typed ``details`` of the stress checks (verdict.json ``checks[].details``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...records import Record
from ..measure import Conditions, PercentileBound, TimingSummary


@dataclass(frozen=True)
class LoadDetails(Record):
    """Open-loop load: what was offered, what was achieved, latency from the scheduled
    arrival."""

    kind: ClassVar[str] = "load details"
    offered_rate: float
    achieved_rate: float
    sent: int
    completed: int
    errors: int
    first_error: str | None
    latency: TimingSummary
    workers: int
    batch_size: int
    conditions: Conditions
    p99_bound: PercentileBound | None = None


@dataclass(frozen=True)
class MemoryDetails(Record):
    """Peak resident memory growth while predicting a batch in a child process; ``error``
    when this platform cannot say."""

    kind: ClassVar[str] = "memory details"
    rows: int | None = None
    growth_mb: float | None = None
    rss_before_mb: float | None = None
    peak_mb: float | None = None
    method: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class CaseOutcome(Record):
    """How one model met one malformed input: finite, error (a clean refusal), nan_output,
    crash, not_applicable or not_measured."""

    kind: ClassVar[str] = "malformed-input outcome"
    outcome: str
    message: str


@dataclass(frozen=True)
class MalformedDetails(Record):
    kind: ClassVar[str] = "malformed details"
    cases: tuple[str, ...]
    #: model role → case → outcome
    outcomes: Mapping[str, Mapping[str, CaseOutcome]]
    #: the candidate's outcomes counted by kind
    counts: Mapping[str, int]


@dataclass(frozen=True)
class ConsistencyDetails(Record):
    kind: ClassVar[str] = "consistency details"
    rows: int
    singles: int
    max_single_vs_batch: float
    tolerance_used: str
    output_precision: str
    max_allowed: float | None


#: the details record of each stress check, by its name
DETAILS: dict[str, type[Record]] = {"load": LoadDetails, "memory": MemoryDetails,
                                    "malformed": MalformedDetails,
                                    "consistency": ConsistencyDetails}


def read(check: Mapping[str, Any]) -> Record:
    name = str(check.get("id", "")).rsplit("::", 1)[-1]
    record = DETAILS.get(name)
    if record is None:
        from ...errors import VerdictError

        raise VerdictError(f"{check.get('id')}: no stress check is named {name!r}")
    return record.from_dict(check["details"], f"{check.get('id')}.details")
