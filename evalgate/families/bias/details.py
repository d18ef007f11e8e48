"""A bias check's details, as typed records: what verdict.json keeps of it and the report
draws (``details`` of a check of the bias family).

::

    BiasDetails      grouping, columns, metric, components, statistic, reference,
                     min_group_size, min_denominator, n, informational, candidate_ci,
                     candidate_method, rows_to_resolve_max_regression
      groups[]       GroupRow: one per (group, component metric): count, positives,
                     left_out, and each model's ModelValue (value, ci, denominator, numerator)
      gap            Gaps: each model's ModelGap — difference and ratio, the groups at their
                     ends (Ends of two End), their intervals and methods

A check that no gap can decide (a single group, fewer than two groups judged) has no
``gap``, ``candidate_ci`` or ``candidate_method``. :func:`read` reads a verdict's details back
strictly: a renamed or missing field is a :class:`~evalgate.errors.VerdictError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ...metrics import Per
from ...records import Record
from ...stats.gaps import Gap
from .groups import Groups
from .tables import Table, difference_ci, finite, ratio_ci

#: an interval's ends; an open or undefined end is ``None``
Bounds = tuple[float | None, float | None]
Statistic = Literal["difference", "ratio"]


@dataclass(frozen=True)
class ModelValue(Record):
    """One model's value of one component metric in one group, with its interval and counts
    (rates: the rows in the denominator and the numerator; regression: rows, no numerator)."""

    kind: ClassVar[str] = "bias group value"
    value: float | None
    ci: Bounds
    denominator: int
    numerator: int | None


@dataclass(frozen=True)
class GroupRow(Record):
    """One group for one component metric: its rows, positives (binary), why it is left out
    of the gap (``None``: judged), and each model's value."""

    kind: ClassVar[str] = "bias group"
    group: str
    #: the group's value of each column of the grouping
    key: tuple[str, ...]
    metric: str
    count: int
    positives: int | None
    left_out: str | None
    candidate: ModelValue
    champion: ModelValue | None


@dataclass(frozen=True)
class End(Record):
    """The group at one end of a gap."""

    kind: ClassVar[str] = "bias gap end"
    group: str
    value: float | None
    count: int
    denominator: int
    #: what the denominator counts
    per: Per


@dataclass(frozen=True)
class Ends(Record):
    """The groups a gap lies between, and the component metric it was found on."""

    kind: ClassVar[str] = "bias gap ends"
    metric: str
    high: End
    low: End


@dataclass(frozen=True)
class ModelGap(Record):
    """One model's gap: the difference (largest − smallest, or the largest distance to the
    reference) and the ratio (smallest / largest), their ends and intervals."""

    kind: ClassVar[str] = "bias gap"
    difference: float | None
    ratio: float | None
    difference_ends: Ends
    difference_ci: Bounds
    ratio_ends: Ends
    ratio_ci: Bounds
    #: the difference's interval: newcombe (rates) or normal (mean losses)
    method: str
    #: the ratio's interval: mover-r-wilson (rates) or delta-log (mean losses)
    ratio_method: str

    def ci(self, statistic: Statistic) -> Bounds:
        return self.difference_ci if statistic == "difference" else self.ratio_ci

    def method_of(self, statistic: Statistic) -> str:
        return self.method if statistic == "difference" else self.ratio_method


@dataclass(frozen=True)
class Gaps(Record):
    """Each model's gap (the champion's when there is one)."""

    kind: ClassVar[str] = "bias gaps"
    candidate: ModelGap
    champion: ModelGap | None = None


@dataclass(frozen=True)
class BiasDetails(Record):
    """The details of one bias check (one grouping, one metric)."""

    kind: ClassVar[str] = "bias details"
    grouping: str
    columns: tuple[str, ...]
    metric: str
    #: the metrics whose gaps make it up (``equalized_odds``: TPR and FPR)
    components: tuple[str, ...]
    #: the gap statistic compared with the champion
    statistic: Statistic
    #: the reference group's label, if the grouping has one
    reference: str | None
    min_group_size: int
    min_denominator: int
    #: rows of the groups judged
    n: int
    groups: tuple[GroupRow, ...]
    #: a metric with no threshold: reported, not judged
    informational: bool = False
    gap: Gaps | None = None
    #: the interval of the candidate's gap statistic, and its method
    candidate_ci: Bounds | None = None
    candidate_method: str | None = None
    #: an inconclusive comparison: about how many rows would resolve it
    rows_to_resolve_max_regression: int | None = None


def read(check: Mapping[str, Any]) -> BiasDetails:
    """The typed details of a bias check's verdict.json entry; a malformed one is a
    :class:`~evalgate.errors.VerdictError` naming the field."""
    return BiasDetails.from_dict(check.get("details"), f"{check.get('id') or 'bias'}.details")


# --------------------------------------------------------------------------- building


def group_table(groups: Groups, comps: Sequence[str], tables: Mapping[str, list[Table]],
               positives: np.ndarray | None, reasons: Sequence[str | None]
               ) -> tuple[GroupRow, ...]:
    """The per-group table, long format: one row per (group, component metric)."""
    return tuple(
        GroupRow(group=groups.labels[g], key=groups.keys[g], metric=comp,
                 count=int(groups.count[g]),
                 positives=None if positives is None else int(positives[g]),
                 left_out=reasons[g], candidate=_model_value(tables["candidate"][c], g),
                 champion=_model_value(tables["champion"][c], g) if "champion" in tables
                 else None)
        for g in range(groups.size) for c, comp in enumerate(comps))


def _model_value(t: Table, g: int) -> ModelValue:
    return ModelValue(value=finite(t.value[g]), ci=(finite(t.lower[g]), finite(t.upper[g])),
                      denominator=int(t.den[g]),
                      numerator=None if t.num is None else int(t.num[g]))


def model_gap(tables: Sequence[Table], gp: Gap, groups: Groups, comps: Sequence[str],
              per: Sequence[Per], z: float, regression: bool) -> ModelGap:
    """One model's gap ``gp`` over its ``tables`` (one per component): the groups at its
    ends and the intervals between them."""
    assert gp.diff_ends is not None and gp.ratio_ends is not None
    found: dict[str, tuple[Ends, Bounds]] = {}
    for stat, (c, hi, lo) in (("difference", gp.diff_ends), ("ratio", gp.ratio_ends)):
        t = tables[c]
        ends = Ends(metric=comps[c], high=_end(groups, t, hi, per[c]),
                    low=_end(groups, t, lo, per[c]))
        if not (np.isfinite(t.value[hi]) and np.isfinite(t.value[lo])):
            found[stat] = ends, (None, None)
        elif stat == "difference":
            found[stat] = ends, difference_ci(t, hi, lo, z, regression)
        else:
            found[stat] = ends, ratio_ci(t, hi, lo, z, regression)
    return ModelGap(difference=finite(gp.difference), ratio=finite(gp.ratio),
                    difference_ends=found["difference"][0], difference_ci=found["difference"][1],
                    ratio_ends=found["ratio"][0], ratio_ci=found["ratio"][1],
                    method="normal" if regression else "newcombe",
                    ratio_method="delta-log" if regression else "mover-r-wilson")


def _end(groups: Groups, t: Table, g: int, per: Per) -> End:
    return End(group=groups.labels[g], value=finite(t.value[g]), count=int(groups.count[g]),
               denominator=int(t.den[g]), per=per)
