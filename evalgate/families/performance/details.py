"""The typed ``details`` of a performance check (verdict.json ``checks[].details``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...records import Record


@dataclass(frozen=True)
class PerformanceDetails(Record):
    """The candidate's value interval, and what a failed comparison would need."""

    kind: ClassVar[str] = "performance details"
    #: rows the metric was computed on
    n: int
    #: the candidate's value: [lower, upper], the side that is not bounded null
    candidate_ci: tuple[float | None, float | None]
    candidate_method: str
    higher_is_better: bool
    #: Δ's bound was lowered to the discordance floor (paired confusion metrics)
    discordance_floor: bool = False
    #: about how many rows would resolve an inconclusive comparison
    rows_to_resolve_max_regression: int | None = None
    rows_to_resolve_min_improvement: int | None = None


def read(check: Mapping[str, Any]) -> PerformanceDetails:
    return PerformanceDetails.from_dict(check["details"], f"{check.get('id')}.details")
