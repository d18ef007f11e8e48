"""The typed ``details`` of a latency check (verdict.json ``checks[].details``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...records import Record
from ..measure import Conditions, PercentileBound, TimingSummary


@dataclass(frozen=True)
class LatencyDetails(Record):
    """One batch size: both models' call times, the percentile bounds judged, the slowdown."""

    kind: ClassVar[str] = "latency details"
    batch_size: int
    candidate: TimingSummary
    champion: TimingSummary | None
    #: seconds this batch size was given, and how long its timing loop ran
    budget_s: float
    elapsed_s: float
    max_calls: int
    #: by percentile name (p50, p90, p99): the bound of the candidate's percentile judged
    percentiles: Mapping[str, PercentileBound]
    conditions: Conditions
    #: candidate/champion time ratio judged and its one-sided upper bound
    ratio: float | None = None
    ratio_upper: float | None = None
    ratio_method: str | None = None
    #: the ratio judged (``ratio``, ``ratio_upper``): of ``median`` or of ``mean`` call times,
    #: the stricter upper bound; and the mean's, always
    ratio_of: str = "median"
    mean_ratio: float | None = None
    mean_ratio_upper: float | None = None


def read(check: Mapping[str, Any]) -> LatencyDetails:
    return LatencyDetails.from_dict(check["details"], f"{check.get('id')}.details")
