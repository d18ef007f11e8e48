"""The ``checks.bias`` section of a suite (DESIGN.md §2): validated into a :class:`BiasSpec`.

::

    bias:
      groups: [sex, race, [sex, race]]   # each alone; a nested list for an intersection
      min_group_size: 30                 # rows a group needs to be judged (default 30)
      min_denominator: 10                # rows a rate's denominator needs (default 10)
      metrics: [selection_rate, true_positive_rate, false_positive_rate]
      max_difference: {selection_rate: 0.25, true_positive_rate: 0.15}
      min_ratio: {selection_rate: 0.8}   # smallest / largest group value, in (0, 1]
      max_regression: 0.02               # the gap may grow by at most this vs the champion
      reference: {sex: Male}             # gaps to this group instead of largest − smallest
      bins: {age: [25, 45, 65]}          # cut points (or a number of quantile bins)
      blocking: true

Rules (each mistake is a :class:`~evalgate.errors.SpecError` with file, line and key):

- ``groups`` lists columns, each judged alone, and lists of columns, judged as their
  intersection; it defaults to every ``data.sensitive`` column alone. Every group column must
  be listed in ``data.sensitive`` (the columns a suite declares as protected; the data loader
  then checks that they exist, with a did-you-mean). A grouping's name, used in check ids, is
  the column, or the columns joined by ``&`` (``sex&race``).
- ``metrics`` defaults to the metrics named by the thresholds, in order. ``max_difference``,
  ``min_ratio`` and ``max_regression`` take one number for every metric or a mapping
  metric → number; a metric in such a mapping must be in ``metrics`` when ``metrics`` is given.
  A metric with no threshold at all is reported, never judged (an informational ``pass``).
- Metric names per task: :data:`METRICS`. ``demographic_parity`` is the selection-rate gap and
  ``equalized_odds`` the larger of the TPR and FPR gaps (the smaller of their ratios), as
  fairlearn defines them. Multiclass suites support ``accuracy`` only.
- ``reference`` maps a group column to one of its values; a grouping of that column then
  measures each group against it (the largest distance to it, the smallest ratio with it); an
  intersection uses a reference when each of its columns has one.
- ``bins`` maps a numeric group column to increasing cut points (groups ``< a``, ``[a, b)``,
  …, ``≥ z``) or to a number of equal-frequency bins (cut at the data's quantiles).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import did_you_mean
from ...metrics import TASKS, Task, get_metric, rate_metrics
from ...spec import DataSpec, LineDict, LineList, Reader
from ...spec import kind_of as _kind

FAMILY = "bias"
KEYS = ("groups", "metrics", "min_group_size", "min_denominator", "max_difference",
        "min_ratio", "max_regression", "reference", "bins", "blocking")
THRESHOLDS = ("max_difference", "min_ratio", "max_regression")
DEFAULT_MIN_GROUP_SIZE = 30
DEFAULT_MIN_DENOMINATOR = 10
#: the most equal-frequency bins a numeric group column may be cut into
MAX_BINS = 1000
#: how an intersection's columns are joined in its name (check ids: ``bias::sex&race::…``)
JOIN = "&"

#: the metrics each shortcut stands for, as fairlearn defines them: ``demographic_parity`` is
#: the selection-rate gap, ``equalized_odds`` the larger of the TPR and FPR gaps
COMPOSITES: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
}
#: the regression metrics judged per group (the mean of a per-row loss, or its square root)
REGRESSION_METRICS = ("mae", "rmse")


def _task_metrics(task: Task) -> tuple[str, ...]:
    """The bias metrics of ``task``, from the metric registry: its rates (each counted per
    group from its cells), then the shortcuts whose components are all among them; for
    regression, MAE and RMSE."""
    if task == "regression":
        return tuple(get_metric(name, task).name for name in REGRESSION_METRICS)
    rates = tuple(m.name for m in rate_metrics(task))
    return rates + tuple(name for name, parts in COMPOSITES.items() if set(parts) <= set(rates))


#: the metrics each task supports, in the order they are listed in messages
METRICS: dict[str, tuple[str, ...]] = {task: _task_metrics(task) for task in TASKS}
#: metrics whose values are proportions (gaps and margins then lie in [0, 1])
RATES = frozenset(METRICS["binary"]) | frozenset(METRICS["multiclass"])


def components(metric: str) -> tuple[str, ...]:
    """The metrics whose gaps make up ``metric``'s: a shortcut's, or the metric itself."""
    return COMPOSITES.get(metric, (metric,))


MULTICLASS_NOTE = ("bias checks on a multiclass suite support accuracy only; per-class rates "
                   "(selection_rate, true_positive_rate, …) need a one-vs-rest binary suite "
                   "(task: binary with positive_label set to the class)")


@dataclass(frozen=True)
class Grouping:
    """One way to split the rows: a column alone, or the intersection of several."""

    columns: tuple[str, ...]
    line: int

    @property
    def name(self) -> str:
        return JOIN.join(self.columns)


@dataclass(frozen=True)
class BiasMetric:
    """One metric and its thresholds (``None`` = not set)."""

    name: str
    max_difference: float | None = None
    min_ratio: float | None = None
    max_regression: float | None = None

    @property
    def judged(self) -> bool:
        return any(v is not None for v in (self.max_difference, self.min_ratio,
                                           self.max_regression))

    def threshold(self) -> dict[str, float]:
        return {k: v for k, v in (("max_difference", self.max_difference),
                                  ("min_ratio", self.min_ratio),
                                  ("max_regression", self.max_regression)) if v is not None}


@dataclass(frozen=True)
class BiasSpec:
    """A validated ``checks.bias`` section."""

    groupings: tuple[Grouping, ...]
    metrics: tuple[BiasMetric, ...]
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    min_denominator: int = DEFAULT_MIN_DENOMINATOR
    #: column → cut points (tuple of floats) or a number of quantile bins (int)
    bins: Mapping[str, tuple[float, ...] | int] = field(default_factory=dict)
    #: column → the reference group's value, as text (``evalgate.data.label_key``)
    reference: Mapping[str, str] = field(default_factory=dict)
    blocking: bool = True
    line: int = 0

    def check_name(self, grouping: Grouping, metric: BiasMetric) -> str:
        return f"{grouping.name}::{metric.name}"


def parse(r: Reader, section: Any, line: int, task: Task, data: DataSpec) -> BiasSpec:
    d = r.mapping(section, line, FAMILY)
    r.only_keys(d, KEYS, FAMILY)
    groupings = _groupings(r, d, line, data)
    group_columns = {c for g in groupings for c in g.columns}
    min_size = r.integer(d, "min_group_size", 1) if "min_group_size" in d \
        else DEFAULT_MIN_GROUP_SIZE
    min_den = r.integer(d, "min_denominator", 1) if "min_denominator" in d \
        else DEFAULT_MIN_DENOMINATOR
    blocking = r.boolean(d, "blocking") if "blocking" in d else True
    metrics = _metrics(r, d, line, task)
    bins = _bins(r, d, group_columns) if "bins" in d else {}
    reference = _reference(r, d, group_columns) if "reference" in d else {}
    return BiasSpec(groupings=groupings, metrics=metrics, min_group_size=min_size,
                    min_denominator=min_den, bins=bins, reference=reference, blocking=blocking,
                    line=line)


@dataclass
class _Thresholds:
    """The thresholds as given: per metric (mappings), for every metric (numbers), and the
    metrics the mappings name, in order."""

    per_metric: dict[str, dict[str, float]] = field(default_factory=dict)
    uniform: dict[str, tuple[float, int]] = field(default_factory=dict)  # key → (value, line)
    named: list[str] = field(default_factory=list)


def _metrics(r: Reader, d: LineDict, line: int, task: Task) -> tuple[BiasMetric, ...]:
    """The metrics (listed, or named by the thresholds) with their thresholds."""
    valid = METRICS[task]
    listed = _metric_list(r, d, task) if "metrics" in d else None
    found = _thresholds(r, d, task, listed)
    if listed is None:
        if found.uniform and not found.named:
            key = next(iter(found.uniform))
            raise r.fail(found.uniform[key][1], key,
                         f"{key} as one number needs the bias metrics listed: add "
                         f"metrics: [...] (valid for task {task}: {', '.join(valid)})")
        if not found.named:
            raise r.fail(line, FAMILY, f"no metrics: list them in metrics (valid for task "
                                       f"{task}: {', '.join(valid)}) or name them in "
                                       f"max_difference / min_ratio / max_regression")
        listed = found.named
    metrics = []
    for name in listed:
        values = dict(found.per_metric.get(name, {}))
        for key, (number, where) in found.uniform.items():
            values.setdefault(key, _check_value(r, where, key, key, name, number))
        metrics.append(BiasMetric(name=name, **values))
    return tuple(metrics)


def _thresholds(r: Reader, d: LineDict, task: Task, listed: list[str] | None) -> _Thresholds:
    """Each threshold key: one number for every metric, or a mapping metric → number."""
    out = _Thresholds()
    for key in THRESHOLDS:
        if key not in d:
            continue
        value = d[key]
        if isinstance(value, LineDict):
            _named_thresholds(r, d, key, task, listed, out)
        elif isinstance(value, (LineList, list)) or value is None:
            raise r.fail(d.line_of(key), key,
                         f"expected a number or a mapping metric → number, got "
                         f"{_kind(value)}")
        else:
            out.uniform[key] = (r.number(d, key), d.line_of(key))
    return out


def _named_thresholds(r: Reader, d: LineDict, key: str, task: Task, listed: list[str] | None,
                      out: _Thresholds) -> None:
    """``key: {metric: number, …}`` into ``out``."""
    value = d[key]
    if not value:
        raise r.fail(d.line_of(key), key, "an empty mapping: give metric: value pairs "
                                          "or one number for every metric")
    for name in value:
        where = value.line_of(name)
        _check_metric_name(r, where, str(name), task)
        if listed is not None and name not in listed:
            raise r.fail(where, str(name),
                         f"{key} names {name}, which is not in bias metrics "
                         f"({', '.join(listed)}); add it there")
        number = _threshold(r, value, name, key, str(name))
        out.per_metric.setdefault(str(name), {})[key] = number
        if name not in out.named:
            out.named.append(str(name))


def _reference(r: Reader, d: LineDict, group_columns: set[str]) -> dict[str, str]:
    """``reference: {column: value}``, each value as text (``evalgate.data.label_key``)."""
    from ...data import label_key

    ref = r.mapping(d["reference"], d.line_of("reference"), "reference")
    reference: dict[str, str] = {}
    for col in ref:
        where = ref.line_of(col)
        if col not in group_columns:
            raise r.fail(where, str(col),
                         f"reference for {col!r}, which no grouping uses"
                         f"{did_you_mean(str(col), sorted(group_columns))}; group columns: "
                         f"{', '.join(sorted(group_columns))}")
        value = ref[col]
        if value is None or isinstance(value, (LineDict, LineList, list, dict)):
            raise r.fail(where, str(col),
                         f"expected the reference group's value, got {_kind(value)}")
        reference[str(col)] = label_key(value)
    return reference


# --------------------------------------------------------------------------- pieces


def _column(r: Reader, value: Any, line: int, data: DataSpec) -> str:
    if not isinstance(value, str) or not value.strip():
        raise r.fail(line, "groups", f"expected a column name, got {_kind(value)}")
    if "::" in value or not value.isprintable():
        raise r.fail(line, "groups", f"column {value!r} cannot name a bias grouping (check "
                                     f"ids may not contain '::' or unprintable characters)")
    if value not in data.sensitive:
        listed = ", ".join(data.sensitive) if data.sensitive else "none"
        raise r.fail(line, "groups",
                     f"column {value!r} is not listed in data.sensitive"
                     f"{did_you_mean(value, data.sensitive)}; the bias checks group by "
                     f"sensitive columns: add it to data.sensitive (listed: {listed})")
    return value


def _groupings(r: Reader, d: LineDict, line: int, data: DataSpec) -> tuple[Grouping, ...]:
    if "groups" not in d:
        if not data.sensitive:
            raise r.fail(line, "groups", "no groups: list columns in groups, or in "
                                         "data.sensitive to group by each alone")
        return tuple(Grouping((c,), line) for c in data.sensitive)
    raw = d["groups"]
    where = d.line_of("groups")
    if isinstance(raw, str):
        raw = [raw]
        lines = [where]
    elif isinstance(raw, LineList):
        lines = raw.item_lines
    else:
        raise r.fail(where, "groups", f"expected a list of columns (nested lists for "
                                      f"intersections), got {_kind(raw)}")
    if not raw:
        raise r.fail(where, "groups", "the list of groups is empty")
    out: list[Grouping] = []
    seen: dict[frozenset[str], int] = {}
    for item, line in zip(raw, lines):
        if isinstance(item, (LineList, list)):
            columns = tuple(_column(r, c, line, data) for c in item)
            if not columns:
                raise r.fail(line, "groups", "an empty intersection: list two or more columns")
            if len(set(columns)) != len(columns):
                dup = next(c for c in columns if columns.count(c) > 1)
                raise r.fail(line, "groups", f"column {dup!r} is listed twice in an "
                                             f"intersection")
        else:
            columns = (_column(r, item, line, data),)
        key = frozenset(columns)
        if key in seen:
            raise r.fail(line, "groups", f"grouping {JOIN.join(columns)!r} is listed twice "
                                         f"(first on line {seen[key]})")
        seen[key] = line
        out.append(Grouping(columns, line))
    return tuple(out)


def _check_metric_name(r: Reader, line: int, name: str, task: Task) -> None:
    valid = METRICS[task]
    if name in valid:
        return
    if task == "multiclass" and name in RATES:
        raise r.fail(line, name, MULTICLASS_NOTE)
    known = [m for t, ms in METRICS.items() if t != task for m in ms if m not in valid]
    also = f" ({name} applies to other tasks)" if name in known else ""
    raise r.fail(line, name, f"unknown bias metric {name!r} for task {task}{also}"
                             f"{did_you_mean(name, valid)}; valid bias metrics: "
                             f"{', '.join(valid)}")


def _metric_list(r: Reader, d: LineDict, task: Task) -> list[str]:
    value = d["metrics"]
    line = d.line_of("metrics")
    if isinstance(value, str):
        value, lines = [value], [line]
    elif isinstance(value, LineList):
        lines = value.item_lines
    else:
        raise r.fail(line, "metrics", f"expected a list of metric names, got {_kind(value)}")
    if not value:
        raise r.fail(line, "metrics", f"the list of metrics is empty (valid for task {task}: "
                                      f"{', '.join(METRICS[task])})")
    out: list[str] = []
    for name, where in zip(value, lines):
        if not isinstance(name, str):
            raise r.fail(where, "metrics", f"expected a metric name, got {_kind(name)}")
        _check_metric_name(r, where, name, task)
        if name in out:
            raise r.fail(where, name, f"metric {name!r} is listed twice")
        out.append(name)
    return out


def _threshold(r: Reader, d: LineDict, key: Any, what: str, metric: str) -> float:
    value = d[key]
    if isinstance(value, (LineDict, LineList, list, dict)) or value is None:
        raise r.fail(d.line_of(key), str(key), f"expected a number, got {_kind(value)}")
    return _check_value(r, d.line_of(key), str(key), what, metric, r.number(d, key))


def _check_value(r: Reader, line: int, key: str, what: str, metric: str,
                 value: float) -> float:
    rate = metric in RATES
    if what == "min_ratio":
        if not 0 < value <= 1:
            raise r.fail(line, key, f"min_ratio must lie in (0, 1] (smallest group value over "
                                    f"the largest; 0.8 is the four-fifths rule), got {value:g}")
    elif value < 0:
        raise r.fail(line, key, f"{what} must be zero or more, got {value:g}")
    elif rate and value > 1:
        raise r.fail(line, key, f"{what} {value:g} exceeds the whole range of {metric} "
                                f"(a gap between rates lies in [0, 1])")
    return value


def _bins(r: Reader, d: LineDict, group_columns: set[str]) -> dict[str, tuple[float, ...] | int]:
    spec = r.mapping(d["bins"], d.line_of("bins"), "bins")
    out: dict[str, tuple[float, ...] | int] = {}
    for col in spec:
        where = spec.line_of(col)
        if col not in group_columns:
            raise r.fail(where, str(col),
                         f"bins for {col!r}, which no grouping uses"
                         f"{did_you_mean(str(col), sorted(group_columns))}; group columns: "
                         f"{', '.join(sorted(group_columns))}")
        value = spec[col]
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 2:
                raise r.fail(where, str(col), f"a number of bins must be at least 2, "
                                              f"got {value}")
            r.at_most(spec, col, value, MAX_BINS)
            out[str(col)] = value
            continue
        if not isinstance(value, LineList) or not value:
            raise r.fail(where, str(col), f"expected a list of cut points or a number of "
                                          f"bins, got {_kind(value)}")
        if len(value) >= MAX_BINS:
            raise r.fail(where, str(col), f"{len(value)} cut points make more bins than the "
                                          f"maximum {MAX_BINS}")
        cuts = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise r.fail(where, str(col), f"cut points must be finite numbers, got "
                                              f"{_kind(v)}")
            cuts.append(float(v))
        if any(b <= a for a, b in itertools.pairwise(cuts)):
            raise r.fail(where, str(col), f"cut points must increase strictly, got "
                                          f"{', '.join(f'{c:g}' for c in cuts)}")
        out[str(col)] = tuple(cuts)
    return out
