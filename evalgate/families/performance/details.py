"""The typed ``details`` of a performance check (verdict.json ``checks[].details``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...records import Record, optional


@dataclass(frozen=True)
class TailDetails(Record):
    """The tail diagnostic of a mean metric (docs/stats-tails.md): of Δ's paired per-row
    differences (RMSE, R²: of their influence functions), or of the candidate's own rows when
    there is no comparison."""

    kind: ClassVar[str] = "tail diagnostic"
    #: Σe³ / (Σe²)^{3/2}, e = x − x̄: the skewness of the mean (negative: a left tail)
    skewness: float
    #: the t interval's estimated excess miss rate at this skewness (Edgeworth)
    t_error: float
    #: (Σe²)² / Σe⁴: about how many rows carry the variance
    effective_rows: float
    #: the tail decided: the t interval was not trusted (from 50,000 rows: the bootstrap ran)
    heavy: bool
    #: rows the tail-exact bootstrap resampled one by one (absent: it did not run)
    exact_rows: int | None = optional()


@dataclass(frozen=True)
class ConfidentWrong(Record):
    """Rows on which a model gave the true class less than 1% (log loss): what a mean hides."""

    kind: ClassVar[str] = "confident-wrong rows"
    #: a row counts when its loss exceeds this (−log 0.01)
    loss_above: float
    candidate: int
    champion: int | None = None


@dataclass(frozen=True)
class EstimatedDetails(Record):
    """A value estimated without labels (CBPE): what it rests on."""

    kind: ClassVar[str] = "estimate details"
    #: labelled rows (``data.estimate_from``) the reliability table was fitted on
    reference_rows: int
    #: the candidate's expected calibration error on them (rows-weighted |score − share|)
    calibration_error: float
    #: the table's score bins
    bins: int
    #: a domain classifier's ROC AUC telling the labelled rows from these, its upper bound,
    #: and the limit above which nothing is estimated
    support_auc: float
    support_upper: float
    max_support_auc: float


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
    #: mean metrics: the tail diagnostic that chose the method
    tail: TailDetails | None = optional()
    #: log loss: each model's count of confident-wrong rows
    confident_wrong: ConfidentWrong | None = optional()
    #: rows without labels: the value is estimated (CBPE), on these grounds
    estimated: EstimatedDetails | None = optional()


def read(check: Mapping[str, Any]) -> PerformanceDetails:
    return PerformanceDetails.from_dict(check["details"], f"{check.get('id')}.details")
