"""The typed details of the robustness checks, as they go into verdict.json and come back.

- :class:`FlipDetails` — what a flip check found: the candidate's flips and their Wilson
  interval, the champion's on the same rows, the paired table and Newcombe's interval of Δ;
- :class:`PerturbationDetails` — a perturbation check: the flip facts, the perturbation as
  applied, and each metric under perturbation (:class:`MetricUnderPerturbation`);
- :class:`InvarianceDetails` — a counterfactual invariance check: the flip facts, the values
  tried and a few flipped rows (:class:`InvarianceExample`);
- :class:`MonotonicDetails` — a monotonic property: the sweep, the search and the
  counterexample (:class:`Counterexample`).

The JSON is flat (a perturbation's ``flip_rate`` sits next to its ``perturbation``), as
verdict.json has always had it. A field that used to be written only when it applied (the
champion's flips, a regression suite's ``tolerance``, …) defaults to ``None``: a verdict
written before these records existed still reads. :func:`read` picks the record by the
check's metric and name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from ...errors import VerdictError
from ...records import MALFORMED, Record

#: the ``metric`` of a perturbation or invariance check in verdict.json
FLIP_RATE = "flip_rate"
#: the ``metric`` of a monotonic check in verdict.json
VIOLATION_RATE = "monotonic_violation_rate"
#: the check-name prefix of an invariance check (``invariant_to::race``)
INVARIANCE_PREFIX = "invariant_to::"
#: the directions of a monotonic property
Direction = Literal["increasing", "decreasing"]


def finite(value: float | None) -> float | None:
    """``value`` as a float, or ``None`` where it is missing, NaN or infinite (as JSON holds
    it, so that a record equals itself read back)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclasses.dataclass(frozen=True)
class PairedTable(Record):
    """The paired 2×2 table of flips of both models on the same rows (rows flipped by
    neither are the rest)."""

    kind: ClassVar[str] = "paired flips"
    both: int
    only_candidate: int
    only_champion: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class FlipDetails(Record):
    """What a flip check found on its rows: the candidate's flips, and the champion's on the
    very same rows when it could predict them."""

    kind: ClassVar[str] = "flip details"
    n: int
    flips: int
    flip_rate: float
    flip_rate_ci: tuple[float, float]
    flip_rate_method: str
    #: a regression suite's relative move that counts as a flip (``None``: a changed label)
    tolerance: float | None = None
    champion_flips: int | None = None
    champion_flip_rate: float | None = None
    champion_flip_rate_ci: tuple[float, float] | None = None
    paired: PairedTable | None = None
    #: Newcombe's paired interval of Δ = champion rate − candidate rate
    delta_ci: tuple[float, float] | None = None
    delta_method: str | None = None
    rows_to_resolve_max_flip_rate_increase: int | None = None

    def flip_fields(self) -> dict[str, Any]:
        """The fields of :class:`FlipDetails` alone, to build a check's own details with."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(FlipDetails)}


@dataclasses.dataclass(frozen=True)
class Perturbation(Record):
    """A perturbation as applied: its type, the data columns it changed, every parameter
    (defaults made explicit)."""

    kind: ClassVar[str] = "perturbation"
    type: str
    columns: tuple[str, ...]
    params: Mapping[str, Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricUnderPerturbation(Record):
    """A metric of the candidate on the clean and the perturbed rows, and Δ (perturbed −
    clean, oriented so that positive is better) judged against ``max_regression``."""

    kind: ClassVar[str] = "metric under perturbation"
    clean: float | None
    perturbed: float | None
    delta: float | None
    lower: float | None
    method: str
    max_regression: float
    higher_is_better: bool
    passed: bool
    champion_clean: float | None = None
    champion_perturbed: float | None = None
    rows_to_resolve_max_regression: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PerturbationDetails(FlipDetails):
    """The details of a perturbation check."""

    kind: ClassVar[str] = "perturbation details"
    perturbation: Perturbation
    rows_perturbed: int
    #: the flip rate among the rows the perturbation changed (``None``: it changed none)
    flip_rate_among_perturbed: float | None
    metrics: Mapping[str, MetricUnderPerturbation] | None = None


@dataclasses.dataclass(frozen=True)
class ValueFlips(Record):
    """The counterfactual rows that got one value, and how many of them flipped."""

    kind: ClassVar[str] = "value flips"
    rows: int
    flips: int
    flip_rate: float


@dataclasses.dataclass(frozen=True)
class InvarianceExample(Record):
    """A flipped counterfactual: the data row, the value it had and got, the candidate's
    prediction before and after."""

    kind: ClassVar[str] = "invariance example"
    data_row: int
    from_: Any = dataclasses.field(metadata={"key": "from"})
    to: Any
    before: Any
    after: Any


@dataclasses.dataclass(frozen=True, kw_only=True)
class InvarianceDetails(FlipDetails):
    """The details of a counterfactual invariance check."""

    kind: ClassVar[str] = "invariance details"
    column: str
    values_tried: int
    distinct_values: int
    counterfactual_rows: int
    pair_flips: int
    pair_flip_rate: float
    per_value: Mapping[str, ValueFlips]
    examples: tuple[InvarianceExample, ...]


@dataclasses.dataclass(frozen=True)
class Counterexample(Record):
    """A move that breaks the monotonic property: the data row (1-based) and its features,
    the column's value before and after, the score before and after, and how far it moved
    the wrong way."""

    kind: ClassVar[str] = "counterexample"
    data_row: int
    row: Mapping[str, Any]
    column: str
    before: int | float
    after: int | float
    score_before: float
    score_after: float
    wrong_way: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class MonotonicDetails(Record):
    """The details of a monotonic property."""

    kind: ClassVar[str] = "monotonic details"
    column: str
    direction: Direction
    tolerance: float
    #: the score the property is about (``P(>50K)``, ``the prediction``)
    score: str
    observed_range: tuple[float, float]
    rows_swept: int
    grid_size: int
    violating_rows: int
    violation_rate: float
    violation_rate_ci: tuple[float, float]
    #: the hypothesis examples asked for, and the model calls the search made
    examples_budget: int
    model_calls: int
    method: str
    champion_violating_rows: int | None = None
    champion_violation_rate: float | None = None
    counterexample: Counterexample | None = None


def read(check: Mapping[str, Any]) -> Record:
    """The typed details of one robustness check of verdict.json (its JSON object): chosen
    by the check's metric and name; a :class:`~evalgate.errors.VerdictError` when they do not
    say which, or when the details do not match that record (a renamed key, a missing one)."""
    where = f"{check.get('id')}.details"
    return _record_of(check, where).from_dict(check.get("details"), where)


def _record_of(check: Mapping[str, Any], where: str) -> type[Record]:
    metric = check.get("metric")
    if metric == VIOLATION_RATE:
        return MonotonicDetails
    if metric == FLIP_RATE:
        invariance = f"::robustness::{INVARIANCE_PREFIX}" in str(check.get("id", ""))
        return InvarianceDetails if invariance else PerturbationDetails
    raise VerdictError(f"{MALFORMED}: {where} belong to a robustness check whose metric "
                       f"{metric!r} is neither {FLIP_RATE!r} nor {VIOLATION_RATE!r}, so "
                       f"they cannot be read")
