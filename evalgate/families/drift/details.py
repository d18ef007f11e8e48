"""The typed ``details`` of a drift check (verdict.json ``checks[].details``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...records import Record, optional
from ..domain import Feature


@dataclass(frozen=True)
class Shares(Record):
    """Both samples on the column's bins, for the report: a label and each sample's share
    of present values per bin (numeric bins grouped into at most 20 for display)."""

    kind: ClassVar[str] = "drift shares"
    labels: tuple[str, ...]
    reference: tuple[float, ...]
    evaluation: tuple[float, ...]


@dataclass(frozen=True)
class Missing(Record):
    """Missing-value shares: reference, evaluation, and the upper bound of the increase."""

    kind: ClassVar[str] = "missing shares"
    reference: float
    evaluation: float
    increase_upper: float


@dataclass(frozen=True)
class DriftDetails(Record):
    """One column's (or the predictions', or the label's) drift."""

    kind: ClassVar[str] = "drift details"
    column: str
    #: numeric | categorical (the column's kind, from the reference)
    column_kind: str
    method: str
    #: the distance of the two samples as measured, the same-distribution noise floor at
    #: these sizes, the estimate with the floor removed, and its one-sided bounds (null when
    #: the evaluation rows have no value in the column)
    raw: float | None
    noise_floor: float | None
    estimate: float | None
    lower: float | None
    upper: float | None
    max_drift: float
    reference_rows: int
    evaluation_rows: int
    shares: Shares
    missing: Missing | None = optional()
    #: share of present categorical values the reference never had, and its upper bound
    unseen: float | None = optional()
    unseen_upper: float | None = optional()
    #: rows (of the evaluation set) that would place the drift on one side of δ
    rows_to_resolve: int | None = optional()
    #: the champion's drift of its own predictions (prediction drift only)
    champion_estimate: float | None = optional()


@dataclass(frozen=True)
class MultivariateDetails(Record):
    """The domain classifier: how well it tells reference rows from evaluation rows."""

    kind: ClassVar[str] = "multivariate drift details"
    auc: float
    lower: float
    upper: float
    max_auc: float
    reference_rows: int
    evaluation_rows: int
    folds: int
    features: tuple[Feature, ...]
    method: str


def read(check: Mapping[str, Any]) -> DriftDetails | MultivariateDetails:
    where = f"{check.get('id')}.details"
    data = check["details"]
    if isinstance(data, Mapping) and "auc" in data:
        return MultivariateDetails.from_dict(data, where)
    return DriftDetails.from_dict(data, where)
