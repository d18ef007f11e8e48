"""The ``checks.robustness`` section of a suite (DESIGN.md §2): perturbations, counterfactual
invariance and monotonic properties, validated into frozen objects.

    robustness:
      perturbations:                 # one check per entry
        gaussian_noise: {columns: numeric, scale: 0.1}
        missing_values: {columns: [age, hours-per-week], rate: 0.1, max_flip_rate: 0.02}
        noise_large:    {type: gaussian_noise, scale: 0.5}   # a second, named instance
      max_flip_rate: 0.05            # family defaults of the gates, overridable per entry
                                     # (a key set to ~ in an entry removes the family's)
      max_regression: {roc_auc: 0.02}
      max_flip_rate_increase: 0.01   # vs the champion, paired on the same perturbed rows
      tolerance: 0.05                # regression only: a flip is a relative move beyond it
      blocking: true
      invariant_to: [race]           # or {race: {max_flip_rate: 0.01}}
      monotonic: {education-num: increasing}   # or {col: {direction: …, tolerance: …}}

Names (perturbations, selectors, metrics, directions) are checked here; columns against the
data at run time, unless ``data.features`` lists them (then here too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import UnknownMetricError, did_you_mean
from ...metrics import Task, get_metric
from ...spec import DataSpec, LineDict, LineList, Reader
from .perturb import PERTURBATIONS, REQUIRED, SELECTORS, Param, Perturbation

GATE_KEYS = ("max_flip_rate", "max_regression", "max_flip_rate_increase", "tolerance",
             "blocking")
FAMILY_KEYS = ("perturbations", *GATE_KEYS, "invariant_to", "monotonic")
INVARIANCE_KEYS = ("max_flip_rate", "max_flip_rate_increase", "tolerance", "blocking")
MONOTONIC_KEYS = ("direction", "tolerance", "examples", "rows", "class", "blocking")
DIRECTIONS = ("increasing", "decreasing")
#: names a perturbation entry may not take (they name the property checks)
RESERVED = ("invariant_to", "monotonic")

#: a regression prediction "flips" when it moves by more than this share of itself
DEFAULT_TOLERANCE = 0.05
#: the monotonic property allows a wrong-way move up to this (score units, or relative for
#: regression)
DEFAULT_MONOTONIC_TOLERANCE = 1e-3
#: hypothesis examples per monotonic property (besides the rows swept in one batch)
DEFAULT_EXAMPLES = 100
#: rows of the data swept over the column's grid in one batch per model
DEFAULT_ROWS = 200
#: the most hypothesis examples and swept rows a monotonic property may ask for (each example
#: is a model call; the rows are predicted once per grid point)
MAX_EXAMPLES = 10_000
MAX_ROWS = 100_000


@dataclass(frozen=True)
class Gates:
    """The thresholds of one perturbation or invariance check (family values filled in)."""

    max_flip_rate: float | None = None
    max_flip_rate_increase: float | None = None
    max_regression: tuple[tuple[str, float], ...] = ()
    tolerance: float | None = None  # regression suites only
    blocking: bool = True

    @property
    def empty(self) -> bool:
        return (self.max_flip_rate is None and self.max_flip_rate_increase is None
                and not self.max_regression)

    def as_dict(self) -> dict[str, float]:
        """Flat numbers for verdict.json (``max_regression.roc_auc: 0.02``)."""
        out: dict[str, float] = {}
        if self.max_flip_rate is not None:
            out["max_flip_rate"] = self.max_flip_rate
        for metric, margin in self.max_regression:
            out[f"max_regression.{metric}"] = margin
        if self.max_flip_rate_increase is not None:
            out["max_flip_rate_increase"] = self.max_flip_rate_increase
        if self.tolerance is not None:
            out["tolerance"] = self.tolerance
        return out


@dataclass(frozen=True)
class PerturbationSpec:
    name: str  # the check's name: the key in ``perturbations``
    kind: str  # the perturbation (``type``, or the key itself)
    columns: str | tuple[str, ...]  # a selector or column names
    params: Mapping[str, Any]
    gates: Gates
    line: int
    columns_line: int

    @property
    def perturbation(self) -> Perturbation:
        return PERTURBATIONS[self.kind]


@dataclass(frozen=True)
class InvarianceSpec:
    column: str
    gates: Gates
    line: int

    @property
    def name(self) -> str:
        return f"invariant_to::{self.column}"


@dataclass(frozen=True)
class MonotonicSpec:
    column: str
    direction: str
    tolerance: float
    examples: int
    rows: int
    cls: Any  # multiclass: the class whose probability must be monotonic
    blocking: bool
    line: int

    @property
    def name(self) -> str:
        return f"monotonic::{self.column}"


@dataclass(frozen=True)
class RobustnessSpec:
    perturbations: tuple[PerturbationSpec, ...] = ()
    invariant_to: tuple[InvarianceSpec, ...] = ()
    monotonic: tuple[MonotonicSpec, ...] = ()
    line: int = 0


# --------------------------------------------------------------------------- parse


def parse(r: Reader, section: Any, line: int, task: Task, data: DataSpec) -> RobustnessSpec:
    sec = r.mapping(section, line, "robustness")
    r.only_keys(sec, FAMILY_KEYS, "robustness")
    if not any(k in sec for k in ("perturbations", "invariant_to", "monotonic")):
        raise r.fail(line, "robustness",
                     "nothing to check: give perturbations, invariant_to or monotonic")
    family = _gates(r, sec, task, Gates())

    perturbations: list[PerturbationSpec] = []
    if "perturbations" in sec:
        p = r.mapping(sec["perturbations"], sec.line_of("perturbations"), "perturbations")
        if not p:
            raise r.fail(sec.line_of("perturbations"), "perturbations",
                         f"no perturbations: name at least one of {', '.join(PERTURBATIONS)}")
        for name in p:
            perturbations.append(_perturbation(r, p, str(name), task, data, family))

    invariant: list[InvarianceSpec] = []
    if "invariant_to" in sec:
        invariant = _invariance(r, sec, task, data, family)

    monotonic: list[MonotonicSpec] = []
    if "monotonic" in sec:
        monotonic = _monotonic(r, sec, task, data, family.blocking)
    return RobustnessSpec(tuple(perturbations), tuple(invariant), tuple(monotonic), line)


def _gates(r: Reader, d: LineDict, task: Task, base: Gates) -> Gates:
    """Read the gate keys present in ``d`` over ``base``: a key given replaces the inherited
    value whole, and a key given as null (``~``) removes it."""
    values: dict[str, Any] = {}
    for key in ("max_flip_rate", "max_flip_rate_increase"):
        if key in d:
            values[key] = None if d[key] is None else _share(r, d, key)
    if "max_regression" in d:
        values["max_regression"] = () if d["max_regression"] is None else _max_regression(
            r, d, task)
    if "tolerance" in d:
        if task != "regression":
            raise r.fail(d.line_of("tolerance"), "tolerance",
                         f"tolerance applies to regression suites (a flip there is a relative "
                         f"move beyond it); in a {task} suite a flip is a changed label")
        values["tolerance"] = None if d["tolerance"] is None else _nonnegative(r, d, "tolerance")
    if "blocking" in d:
        values["blocking"] = r.boolean(d, "blocking")
    merged: dict[str, Any] = {"max_flip_rate": base.max_flip_rate,
              "max_flip_rate_increase": base.max_flip_rate_increase,
              "max_regression": base.max_regression, "tolerance": base.tolerance,
              "blocking": base.blocking}
    merged.update(values)
    return Gates(**merged)


def _share(r: Reader, d: LineDict, key: str) -> float:
    v = r.number(d, key)
    if not 0 <= v <= 1:
        raise r.fail(d.line_of(key), key, f"a share of rows must lie in [0, 1], got {v:g}")
    return v


def _nonnegative(r: Reader, d: LineDict, key: str) -> float:
    v = r.number(d, key)
    if v < 0:
        raise r.fail(d.line_of(key), key, f"must be zero or more, got {v:g}")
    return v


def _max_regression(r: Reader, d: LineDict, task: Task) -> tuple[tuple[str, float], ...]:
    line = d.line_of("max_regression")
    value = d["max_regression"]
    if not isinstance(value, LineDict):
        raise r.fail(line, "max_regression",
                     "expected a mapping of metric to the largest allowed drop, such as "
                     "{roc_auc: 0.02}")
    if not value:
        raise r.fail(line, "max_regression", "no metric: name at least one, e.g. {roc_auc: 0.02}")
    out = []
    for name in value:
        try:
            metric = get_metric(str(name), task)
        except UnknownMetricError as exc:
            raise r.fail(value.line_of(name), str(name), exc.message) from None
        margin = r.number(value, name)
        lo, hi = metric.bounds
        if margin < 0:
            raise r.fail(value.line_of(name), str(name), f"must be zero or more, got {margin:g}")
        if math.isfinite(hi - lo) and margin > hi - lo:
            raise r.fail(value.line_of(name), str(name),
                         f"{margin:g} exceeds the whole range of {name} ([{lo:g}, {hi:g}])")
        out.append((metric.name, margin))
    return tuple(out)


def _check_columns(r: Reader, names: tuple[str, ...], line: int, key: str,
                   data: DataSpec) -> None:
    for c in names:
        if c == data.target:
            raise r.fail(line, key, f"{c!r} is the target, not a feature")
        if data.features is not None and c not in data.features:
            raise r.fail(line, key, f"column {c!r} is not among data.features"
                                    f"{did_you_mean(c, data.features)}; features: "
                                    f"{', '.join(data.features)}")


def _perturbation(r: Reader, parent: LineDict, name: str, task: Task, data: DataSpec,
                  family: Gates) -> PerturbationSpec:
    line = parent.line_of(name)
    raw = parent[name]
    d = LineDict() if raw is None else r.mapping(raw, line, name)
    if raw is None:
        d.line, d.key_lines = line, {}
    kind = _kind(r, d, name, line)
    pert = PERTURBATIONS[kind]
    own = tuple(p.name for p in pert.params)
    r.only_keys(d, ("type", "columns", *own, *GATE_KEYS), f"the {name} perturbation")
    params = _params(r, d, pert, name)
    columns, columns_line = _columns(r, d, pert, kind, line, data)
    gates = _gates(r, d, task, family)
    if gates.empty:
        raise r.fail(line, name,
                     "no threshold: set max_flip_rate, max_regression or max_flip_rate_increase "
                     "here or for the whole robustness section")
    return PerturbationSpec(name=name, kind=kind, columns=columns, params=params, gates=gates,
                            line=line, columns_line=columns_line)


def _kind(r: Reader, d: LineDict, name: str, line: int) -> str:
    """The perturbation an entry applies: its ``type``, or the entry's name itself."""
    if "type" not in d:
        if name in PERTURBATIONS:
            return name
        raise r.fail(line, name,
                     f"unknown perturbation {name!r}{did_you_mean(name, PERTURBATIONS)}; valid "
                     f"perturbations: {', '.join(PERTURBATIONS)} (or give the entry a type:)")
    kind = d["type"]
    if not isinstance(kind, str) or kind not in PERTURBATIONS:
        raise r.fail(d.line_of("type"), "type",
                     f"unknown perturbation {kind!r}{did_you_mean(str(kind), PERTURBATIONS)}"
                     f"; valid perturbations: {', '.join(PERTURBATIONS)}")
    if name in PERTURBATIONS and name != kind:
        raise r.fail(d.line_of("type"), "type",
                     f"the entry {name!r} names a perturbation; give another name to an "
                     f"entry of type {kind!r}")
    if "::" in name or name in RESERVED:
        raise r.fail(line, name, f"{name!r} cannot name a perturbation entry (reserved "
                                 f"words: {', '.join(RESERVED)}; no '::')")
    return kind


def _params(r: Reader, d: LineDict, pert: Perturbation, name: str) -> dict[str, Any]:
    """The perturbation's parameters given in the entry (a required one must be)."""
    params: dict[str, Any] = {}
    for p in pert.params:
        if p.name in d:
            params[p.name] = _param(r, d, p)
        elif p.default is REQUIRED:
            raise r.fail(d.line, p.name, f"missing required key in the {name} perturbation "
                                         f"({p.doc})")
    return params


def _columns(r: Reader, d: LineDict, pert: Perturbation, kind: str, line: int,
             data: DataSpec) -> tuple[str | tuple[str, ...], int]:
    """The entry's ``columns`` (a selector or column names) and the line they are on."""
    columns: str | tuple[str, ...] = pert.default_columns
    columns_line = d.line_of("columns") if "columns" in d else line
    if "columns" in d:
        value = d["columns"]
        if isinstance(value, str) and value in SELECTORS:
            columns = value
        elif isinstance(value, str):
            raise r.fail(columns_line, "columns",
                         f"unknown column selector {value!r}{did_you_mean(value, SELECTORS)}; "
                         f"use {', '.join(SELECTORS)} or a list of columns such as [{value}]")
        else:
            columns = r.names(d, "columns")
            if not columns:
                raise r.fail(columns_line, "columns", "the column list is empty")
            _check_columns(r, columns, columns_line, "columns", data)
    if isinstance(columns, str) and pert.applies_to != "any" and columns not in (
            pert.applies_to, "all"):
        raise r.fail(columns_line, "columns",
                     f"{kind} applies to {pert.applies_to} columns, not {columns}")
    return columns, columns_line


def _param(r: Reader, d: LineDict, p: Param) -> Any:
    key = p.name
    if p.kind == "rate":
        v = r.number(d, key)
        if not 0 <= v <= 1:
            raise r.fail(d.line_of(key), key, f"a rate must lie in [0, 1], got {v:g}")
        return v
    if p.kind == "nonnegative":
        return _nonnegative(r, d, key)
    if p.kind == "positive":
        v = r.number(d, key)
        if v <= 0:
            raise r.fail(d.line_of(key), key, f"must be above zero, got {v:g}")
        return v
    if p.kind == "integer":
        value = d[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise r.fail(d.line_of(key), key, f"expected a whole number, got {value!r}")
        if not -15 <= value <= 15:
            raise r.fail(d.line_of(key), key, f"must lie in [-15, 15], got {value}")
        return value
    if p.kind == "choice":
        value = d[key]
        if value not in p.choices:
            raise r.fail(d.line_of(key), key,
                         f"unknown value {value!r}{did_you_mean(str(value), p.choices)}; "
                         f"valid: {', '.join(p.choices)}")
        return value
    return r.string(d, key)


def _invariance(r: Reader, sec: LineDict, task: Task, data: DataSpec,
                family: Gates) -> list[InvarianceSpec]:
    line = sec.line_of("invariant_to")
    value = sec["invariant_to"]
    out = []
    base = Gates(max_flip_rate=family.max_flip_rate,
                 max_flip_rate_increase=family.max_flip_rate_increase,
                 tolerance=family.tolerance, blocking=family.blocking)
    if isinstance(value, LineDict):
        if not value:
            raise r.fail(line, "invariant_to", "no columns: name at least one")
        for col in value:
            cline = value.line_of(col)
            _check_columns(r, (str(col),), cline, "invariant_to", data)
            sub = value[col]
            gates = base
            if sub is not None:
                sub = r.mapping(sub, cline, str(col))
                r.only_keys(sub, INVARIANCE_KEYS, f"invariant_to {col}")
                gates = _gates(r, sub, task, base)
            out.append(_invariance_spec(r, str(col), gates, cline))
        return out
    names = r.names(sec, "invariant_to")
    if not names:
        raise r.fail(line, "invariant_to", "no columns: name at least one")
    lines = value.item_lines if isinstance(value, LineList) else [line] * len(names)
    for col, cline in zip(names, lines):
        _check_columns(r, (col,), cline, "invariant_to", data)
        out.append(_invariance_spec(r, col, base, cline))
    return out


def _invariance_spec(r: Reader, col: str, gates: Gates, line: int) -> InvarianceSpec:
    if gates.max_flip_rate is None and gates.max_flip_rate_increase is None:
        raise r.fail(line, "invariant_to",
                     f"no threshold for invariant_to {col}: set max_flip_rate (the largest "
                     f"share of rows whose prediction may change) or max_flip_rate_increase, "
                     f"for the robustness section or as {{{col}: {{max_flip_rate: …}}}}")
    return InvarianceSpec(column=col, gates=gates, line=line)


def _monotonic(r: Reader, sec: LineDict, task: Task, data: DataSpec,
               blocking: bool) -> list[MonotonicSpec]:
    line = sec.line_of("monotonic")
    m = r.mapping(sec["monotonic"], line, "monotonic")
    if not m:
        raise r.fail(line, "monotonic", "no columns: give {column: increasing|decreasing}")
    out = []
    for col in m:
        cline = m.line_of(col)
        _check_columns(r, (str(col),), cline, "monotonic", data)
        value = m[col]
        tolerance, examples, rows, cls, block = (DEFAULT_MONOTONIC_TOLERANCE, DEFAULT_EXAMPLES,
                                                 DEFAULT_ROWS, None, blocking)
        if isinstance(value, LineDict):
            r.only_keys(value, MONOTONIC_KEYS, f"monotonic {col}")
            direction = _direction(r, r.required(value, "direction", f"monotonic {col}"),
                                   value.line_of("direction"))
            if "tolerance" in value:
                tolerance = _nonnegative(r, value, "tolerance")
            if "examples" in value:
                examples = r.integer(value, "examples", 1, MAX_EXAMPLES)
            if "rows" in value:
                rows = r.integer(value, "rows", 1, MAX_ROWS)
            if "blocking" in value:
                block = r.boolean(value, "blocking")
            if "class" in value:
                if task != "multiclass":
                    score = ("the positive-class probability" if task == "binary"
                             else "the prediction")
                    raise r.fail(value.line_of("class"), "class",
                                 f"class applies to multiclass suites (this suite is {task}: "
                                 f"the score tested is {score})")
                cls = value["class"]
                if cls is None or isinstance(cls, (LineDict, LineList)):
                    raise r.fail(value.line_of("class"), "class", "expected a single label")
        else:
            direction = _direction(r, value, cline)
        if task == "multiclass" and cls is None:
            raise r.fail(cline, str(col),
                         "a multiclass suite has no single score: write {direction: "
                         "increasing, class: LABEL} to test that class's probability")
        out.append(MonotonicSpec(column=str(col), direction=direction, tolerance=tolerance,
                                 examples=examples, rows=rows, cls=cls, blocking=block,
                                 line=cline))
    return out


def _direction(r: Reader, value: Any, line: int) -> str:
    if value not in DIRECTIONS:
        raise r.fail(line, "monotonic",
                     f"unknown direction {value!r}{did_you_mean(str(value), DIRECTIONS)}; "
                     f"valid: {', '.join(DIRECTIONS)}")
    return str(value)
