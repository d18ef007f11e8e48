"""The ``drift`` section of a suite (DESIGN.md §2), validated.

```yaml
drift:
  reference: ../data/train.parquet      # a file, glob or folder, relative to the suite
  columns: features                     # or a list of columns (default: every feature)
  max_drift: {numeric: 0.1, categorical: 0.1, age: 0.2}   # δ; a number for all; per column
  method: {hours-per-week: psi}         # wasserstein | js | psi | ks (defaults by kind)
  max_missing_increase: 0.05            # missing share, evaluation minus reference
  max_unseen: 0.01                      # share of categorical values the reference never had
  prediction: {max_drift: 0.1}          # the candidate's predictions, evaluation vs reference
  label: {max_drift: 0.1}               # the target's distribution (both sets must have it)
  multivariate: {max_auc: 0.6}          # a classifier telling reference rows from evaluation's
  blocking: true
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...data.sources import SourceProblem, Sources, resolve
from ...errors import did_you_mean
from ...metrics import Task
from ...spec import DataSpec, LineDict, Reader
from ...spec import kind_of as _kind
from ...stats.drift import METHODS

FAMILY = "drift"
KEYS = ("reference", "columns", "max_drift", "method", "max_missing_increase", "max_unseen",
        "prediction", "label", "multivariate", "blocking")
KINDS = ("numeric", "categorical")
#: δ when ``max_drift`` says nothing for a kind: the conventional "moderate" line of both
#: default effect sizes
DEFAULT_MAX_DRIFT = 0.1
#: the domain classifier's AUC at or below which the sets count as alike, by default
DEFAULT_MAX_AUC = 0.6


@dataclass(frozen=True)
class DriftSpec:
    reference: Sources
    #: the columns named, or ``None`` for every feature (known when the data are read)
    columns: tuple[str, ...] | None
    #: δ by kind ("numeric", "categorical") and by column
    max_drift: Mapping[str, float]
    method: Mapping[str, str]
    max_missing_increase: float | None
    max_unseen: float | None
    prediction: float | None
    label: float | None
    max_auc: float | None
    blocking: bool
    line: int
    lines: Mapping[str, int] = field(default_factory=dict)

    def delta(self, column: str, kind: str) -> float:
        return self.max_drift.get(column, self.max_drift.get(kind, DEFAULT_MAX_DRIFT))

    def unknown_keys(self, columns: Sequence[str]) -> list[tuple[str, str]]:
        """``(section, key)`` for each key of ``max_drift`` and ``method`` that is neither a
        kind nor one of ``columns`` — a misspelt column (``hours_per_week``) would be
        passed over, and its column judged at the kind's δ and method instead."""
        known = {*KINDS, *columns}
        return [(section, key) for section, keys in (("max_drift", self.max_drift),
                                                     ("method", self.method))
                for key in keys if key not in known]


def _delta(r: Reader, d: LineDict, key: str) -> float:
    v = r.number(d, key)
    if not 0 < v <= 100:
        raise r.fail(d.line_of(key), key, f"δ must be above 0 (and at most 100), got {v:g}")
    return v


def _max_drift(r: Reader, d: LineDict) -> dict[str, float]:
    if "max_drift" not in d:
        return {}
    value = d["max_drift"]
    if not isinstance(value, LineDict):
        return {kind: _delta(r, d, "max_drift") for kind in KINDS}
    return {str(k): _delta(r, value, k) for k in value}


def _methods(r: Reader, d: LineDict) -> dict[str, str]:
    if "method" not in d:
        return {}
    m = r.mapping(d["method"], d.line_of("method"), "method")
    out = {}
    for col in m:
        name = m[col]
        if name not in METHODS:
            raise r.fail(m.line_of(col), str(col),
                         f"unknown drift method {name!r}; use one of {', '.join(METHODS)}")
        out[str(col)] = str(name)
    return out


def unknown_key(key: str, columns: Sequence[str]) -> str:
    """What to say of a per-column key that names no column."""
    return (f"{key!r} is neither a kind ({', '.join(KINDS)}) nor a column drift judges"
            f"{did_you_mean(key, [*KINDS, *columns])}; a misspelt column would be judged at "
            f"its kind's δ and method")


def _share(r: Reader, d: LineDict, key: str) -> float | None:
    if key not in d:
        return None
    v = r.number(d, key)
    if not 0 <= v < 1:
        raise r.fail(d.line_of(key), key, f"a share must be in [0, 1), got {v:g}")
    return v


def _sub(r: Reader, d: LineDict, key: str, inner: str) -> float | None:
    if key not in d:
        return None
    sub = r.subsection(d, key)
    r.only_keys(sub, (inner,), key)
    if inner not in sub:
        return DEFAULT_MAX_DRIFT if inner == "max_drift" else DEFAULT_MAX_AUC
    if inner == "max_auc":
        v = r.number(sub, inner)
        if not 0.5 <= v < 1:
            raise r.fail(sub.line_of(inner), inner, f"an AUC limit must be in [0.5, 1), got "
                                                    f"{v:g} (0.5: the sets cannot be told apart)")
        return v
    return _delta(r, sub, inner)


def parse(r: Reader, section: Any, line: int, task: Task, data: DataSpec) -> DriftSpec:
    d = r.mapping(section, line, FAMILY)
    r.only_keys(d, KEYS, FAMILY)
    r.required(d, "reference", FAMILY)
    text = r.string(d, "reference")
    try:
        reference = resolve(text, r.path.parent)
    except SourceProblem as exc:
        raise r.fail(d.line_of("reference"), "reference", str(exc)) from None
    columns: tuple[str, ...] | None = None
    if "columns" in d and d["columns"] != "features":
        columns = r.names(d, "columns")
        if not columns:  # no column, and the section would judge nothing, silently
            raise r.fail(d.line_of("columns"), "columns", "the column list is empty; name "
                         "the columns to judge, or write columns: features (every feature)")
        if data.target in columns:
            raise r.fail(d.line_of("columns"), "columns",
                         f"the target {data.target!r} is judged by label:, not as a column")
        if data.features is not None:
            unknown = [c for c in columns if c not in data.features]
            if unknown:
                raise r.fail(d.line_of("columns"), "columns",
                             f"{unknown[0]!r} is not among data.features "
                             f"({', '.join(data.features)})")
    elif "columns" in d and not isinstance(d["columns"], str):
        raise r.fail(d.line_of("columns"), "columns",
                     f"expected 'features' or a list of columns, got {_kind(d['columns'])}")
    blocking = r.boolean(d, "blocking") if "blocking" in d else True
    if data.target is None and d.get("label") is not None:
        raise r.fail(d.line_of("label"), "label", "the label's drift needs labels, and "
                                                  "data.target is null")
    spec = DriftSpec(
        reference=reference, columns=columns, max_drift=_max_drift(r, d),
        method=_methods(r, d), max_missing_increase=_share(r, d, "max_missing_increase"),
        max_unseen=_share(r, d, "max_unseen"),
        prediction=_sub(r, d, "prediction", "max_drift"),
        label=_sub(r, d, "label", "max_drift"),
        max_auc=_sub(r, d, "multivariate", "max_auc"), blocking=blocking, line=line,
        lines={k: d.line_of(k) for k in d})
    named = columns if columns is not None else data.features
    if named is not None:  # else the data's columns decide, when it is read (check.run)
        for section, key in spec.unknown_keys(named):
            where = d[section] if isinstance(d[section], LineDict) else d
            raise r.fail(where.line_of(key), key, unknown_key(key, named))
    return spec
