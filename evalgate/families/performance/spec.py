"""The ``checks.performance`` section of a suite (DESIGN.md §2): one entry per metric, each
with its thresholds (DESIGN.md §3)::

    performance:
      roc_auc:  {min: 0.85, max_regression: 0.005}
      log_loss: {max: 0.45, max_regression: 0.01, blocking: false}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...errors import UnknownMetricError
from ...metrics import Task, get_metric
from ...spec import DataSpec, Reader, Threshold
from ...stats.cbpe import ESTIMATED

THRESHOLD_KEYS = ("min", "max", "max_regression", "min_improvement", "blocking")


@dataclass(frozen=True)
class MetricCheck:
    """A performance check: one metric and its threshold."""

    metric: str
    threshold: Threshold
    blocking: bool
    line: int

    @property
    def name(self) -> str:
        return self.metric


def parse(r: Reader, section: Any, line: int, task: Task,
          data: DataSpec) -> tuple[MetricCheck, ...]:
    perf = r.mapping(section, line, "performance")
    if not perf:
        raise r.fail(perf.line, "performance", "no metrics: name at least one")
    out = [_metric_check(r, perf, str(name), task, data) for name in perf]
    if data.target is None and data.estimate_from is None:
        raise r.fail(data.line, "estimate_from",
                     "the rows have no labels (target: null), so the performance checks are "
                     "estimated (CBPE) and need labelled rows to calibrate on: add "
                     "estimate_from: {path: HOLDOUT, target: COLUMN} to data")
    return tuple(out)


def _metric_check(r: Reader, perf: Any, name: str, task: Task, data: DataSpec) -> MetricCheck:
    line = perf.line_of(name)
    try:
        metric = get_metric(str(name), task)
    except UnknownMetricError as exc:
        raise r.fail(line, str(name), exc.message) from None
    spec = r.mapping(perf[name], line, str(name))
    r.only_keys(spec, THRESHOLD_KEYS, f"the {name} check")
    values = {k: r.number(spec, k) for k in THRESHOLD_KEYS[:4] if k in spec}
    blocking = r.boolean(spec, "blocking") if "blocking" in spec else True
    if not values:
        raise r.fail(line, str(name), "no threshold: give at least one of "
                     "min, max, max_regression, min_improvement")
    lo, hi = metric.bounds
    for key in ("min", "max"):
        v = values.get(key)
        if v is not None and not lo <= v <= hi:
            raise r.fail(spec.line_of(key), key,
                         f"impossible threshold {v} for {name}, whose values lie in "
                         f"[{lo:g}, {hi:g}]")
    if "min" in values and "max" in values and values["min"] > values["max"]:
        raise r.fail(spec.line_of("min"), "min",
                     f"min ({values['min']:g}) is above max ({values['max']:g}): "
                     f"no value can pass")
    for key in ("max_regression", "min_improvement"):
        v = values.get(key)
        if v is not None and v < 0:
            raise r.fail(spec.line_of(key), key, f"must be zero or more, got {v:g}")
        if v is not None and math.isfinite(hi - lo) and v > hi - lo:
            raise r.fail(spec.line_of(key), key,
                         f"{v:g} exceeds the whole range of {name} ([{lo:g}, {hi:g}])")
    if data.target is None:
        _estimable(r, spec, metric.name, line, values)
    return MetricCheck(metric=metric.name, threshold=Threshold(**values),
                       blocking=blocking, line=line)


def _estimable(r: Reader, spec: Any, name: str, line: int, values: dict[str, float]) -> None:
    """Without labels, a check must be one CBPE estimates, bounded by value alone."""
    if name not in ESTIMATED:
        raise r.fail(line, name, f"{name} cannot be estimated without labels (data.target is "
                                 f"null); CBPE estimates {', '.join(ESTIMATED)}")
    for key in ("max_regression", "min_improvement"):
        if key in values:
            raise r.fail(spec.line_of(key), key,
                         "a comparison with the champion needs labels (data.target is "
                         "null): an estimate bounds the candidate's value, not a paired "
                         "difference; keep min/max for rows without labels")
