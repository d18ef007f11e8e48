"""Suite files: YAML → typed, validated, frozen suite objects.

Every mistake raises :class:`~evalgate.errors.SpecError` naming the file, the line and the
key, with the valid choices where there is a list of them. The format is DESIGN.md §2.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._files import file_kind
from ._yaml import MAX_BYTES, LineDict, LineList, load_yaml
from .errors import SpecError, did_you_mean
from .metrics import TASKS, Task, UnknownMetricError, get_metric

FAMILIES = ("performance", "robustness", "bias", "latency", "stress")
#: family → "module:function" that validates its section of ``checks``:
#: ``parse(reader, section, line, task, data) -> spec object`` (kept in ``Suite.families``)
FAMILY_PARSERS: dict[str, str] = {
    "robustness": "evalgate.spec_robustness:parse",
    "bias": "evalgate.spec_bias:parse",
    "latency": "evalgate.spec_latency:parse_latency",
    "stress": "evalgate.spec_latency:parse_stress",
}


def _available(family: str) -> bool:
    """A family runs when both its section parser and its check module are installed."""
    if family == "performance":
        return True
    target = FAMILY_PARSERS.get(family)
    if target is None:
        return False
    here = Path(__file__).parent
    parser_file = here / (target.split(":")[0].split(".")[-1] + ".py")
    return parser_file.is_file() and (here / "checks" / f"{family}.py").is_file()


#: families this version can run; a suite that declares another is refused, never ignored
IMPLEMENTED_FAMILIES = tuple(f for f in FAMILIES if _available(f))

TOP_KEYS = ("suite", "description", "task", "data", "champion", "confidence", "seed",
            "n_resamples", "checks")
DATA_KEYS = ("path", "target", "positive_label", "label_map", "sensitive", "features")
THRESHOLD_KEYS = ("min", "max", "max_regression", "min_improvement", "blocking")
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")

DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 2000
#: the most bootstrap replicates a suite may ask for (each replicate is a pass over the rows)
MAX_RESAMPLES = 100_000


@dataclass(frozen=True)
class Threshold:
    """The bounds of one check (DESIGN.md §3). ``None`` means not set."""

    min: float | None = None
    max: float | None = None
    max_regression: float | None = None
    min_improvement: float | None = None

    @property
    def compares(self) -> bool:
        """Whether the check compares with the champion."""
        return self.max_regression is not None or self.min_improvement is not None

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in (("min", self.min), ("max", self.max),
                                  ("max_regression", self.max_regression),
                                  ("min_improvement", self.min_improvement)) if v is not None}


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


@dataclass(frozen=True)
class DataSpec:
    path: Path
    target: str
    positive_label: Any
    sensitive: tuple[str, ...]
    features: tuple[str, ...] | None
    line: int
    #: ``data.label_map`` as (data label, model class) pairs, in the file's order
    label_map: tuple[tuple[Any, Any], ...] = ()


@dataclass(frozen=True)
class Suite:
    """One validated suite file."""

    name: str
    path: Path
    sha256: str
    task: Task
    data: DataSpec
    champion: str | None
    champion_line: int | None
    confidence: float
    seed: int
    n_resamples: int
    performance: tuple[MetricCheck, ...] = field(default_factory=tuple)
    description: str = ""
    #: the parsed sections of the other families, by family name
    families: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def check_id(self, family: str, name: str) -> str:
        return f"{self.name}::{family}::{name}"


# --------------------------------------------------------------------------- helpers


class Reader:
    """Validation helpers bound to one file (family parsers use them too)."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, line: int | None, key: str | None, problem: str) -> SpecError:
        return SpecError(self.path, line, key, problem)

    def mapping(self, value: Any, line: int, key: str) -> LineDict:
        if not isinstance(value, LineDict):
            raise self.fail(line, key, f"expected a mapping, got {_kind(value)}")
        return value

    def only_keys(self, d: LineDict, allowed: tuple[str, ...], where: str) -> None:
        for key in d:
            if key not in allowed:
                raise self.fail(
                    d.line_of(key), str(key),
                    f"unknown key in {where}{did_you_mean(str(key), allowed)}; "
                    f"valid keys: {', '.join(allowed)}")

    def required(self, d: LineDict, key: str, where: str) -> Any:
        if key not in d or d[key] is None:
            line = d.line_of(key) if key in d else d.line
            raise self.fail(line, key, f"missing required key in {where}")
        return d[key]

    def string(self, d: LineDict, key: str) -> str:
        value = d[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(d.line_of(key), key, f"expected a non-empty string, got {_kind(value)}")
        return value

    def number(self, d: LineDict, key: str) -> float:
        value = d[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(d.line_of(key), key, f"expected a number, got {_kind(value)}")
        if not math.isfinite(value):
            raise self.fail(d.line_of(key), key, f"expected a finite number, got {value}")
        return float(value)

    def integer(self, d: LineDict, key: str, minimum: int, maximum: int | None = None) -> int:
        value = d[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(d.line_of(key), key, f"expected a whole number, got {_kind(value)}")
        if value < minimum:
            raise self.fail(d.line_of(key), key, f"must be at least {minimum}, got {value}")
        if maximum is not None:
            self.at_most(d, key, value, maximum)
        return value

    def at_most(self, d: LineDict, key: str, value: float, maximum: float) -> float:
        """``value`` of ``d[key]``, refused above ``maximum`` (a knob that costs time or
        memory: the maxima keep every gate run bounded)."""
        if value > maximum:
            raise self.fail(d.line_of(key), key,
                            f"{_plain(value)} is above the maximum {_plain(maximum)}")
        return value

    def boolean(self, d: LineDict, key: str) -> bool:
        value = d[key]
        if not isinstance(value, bool):
            raise self.fail(d.line_of(key), key, f"expected true or false, got {_kind(value)}")
        return value

    def names(self, d: LineDict, key: str) -> tuple[str, ...]:
        value = d[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(d.line_of(key), key,
                            f"expected a list of column names, got {_kind(value)}")
        if len(set(value)) != len(value):
            dup = next(v for v in value if value.count(v) > 1)
            raise self.fail(d.line_of(key), key, f"column {dup!r} is listed twice")
        return tuple(value)


def _plain(x: float) -> str:
    """A number as written: ``10000000``, ``0.5``, ``1e+300``."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (LineDict, dict)):
        return "a mapping"
    if isinstance(value, (LineList, list)):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------- loading


def load_suite(path: Path | str) -> Suite:
    """Read and validate one suite file."""
    path = Path(path)
    raw = _read_suite_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(path, None, None, "the suite file is not UTF-8 text") from None
    doc = load_yaml(text, path)
    r = Reader(path)
    if doc is None:
        raise r.fail(None, None, "the suite file is empty")
    top = r.mapping(doc, getattr(doc, "line", 1), "suite file")
    r.only_keys(top, TOP_KEYS, "the suite")

    name = r.string(top, "suite") if "suite" in top else path.stem
    if "::" in name:
        raise r.fail(top.line_of("suite"), "suite", "a suite name may not contain '::'")
    description = r.string(top, "description") if "description" in top else ""

    task = r.required(top, "task", "the suite")
    if task not in TASKS:
        raise r.fail(top.line_of("task"), "task",
                     f"unknown task {task!r}{did_you_mean(str(task), TASKS)}; "
                     f"valid tasks: {', '.join(TASKS)}")

    data = _data(r, top, task)

    champion, champion_line = None, None
    if top.get("champion") is not None:
        champion = r.string(top, "champion")
        champion_line = top.line_of("champion")

    confidence = DEFAULT_CONFIDENCE
    if "confidence" in top:
        confidence = r.number(top, "confidence")
        if not 0.5 < confidence < 1:
            raise r.fail(top.line_of("confidence"), "confidence",
                         f"must lie strictly between 0.5 and 1 (a one-sided level such as "
                         f"0.95), got {confidence}")
    seed = r.integer(top, "seed", 0) if "seed" in top else DEFAULT_SEED
    n_resamples = (r.integer(top, "n_resamples", 100, MAX_RESAMPLES) if "n_resamples" in top
                   else DEFAULT_RESAMPLES)

    checks = r.mapping(r.required(top, "checks", "the suite"), top.line_of("checks"), "checks")
    if not checks:
        raise r.fail(checks.line, "checks", "no checks: declare at least one family")
    r.only_keys(checks, FAMILIES, "checks")
    for family in checks:
        if family not in IMPLEMENTED_FAMILIES:
            raise r.fail(checks.line_of(family), family,
                         f"the {family} family is not available in this version of evalgate "
                         f"(available: {', '.join(IMPLEMENTED_FAMILIES)})")
    performance: tuple[MetricCheck, ...] = ()
    if "performance" in checks:
        performance = _performance(r, checks, task)
    families: dict[str, Any] = {}
    for family, target in FAMILY_PARSERS.items():
        if family in checks and family in IMPLEMENTED_FAMILIES:
            module, func = target.split(":")
            parse = getattr(importlib.import_module(module), func)
            families[family] = parse(r, checks[family], checks.line_of(family), task, data)

    return Suite(name=name, path=path, sha256=hashlib.sha256(raw).hexdigest(), task=task,
                 data=data, champion=champion, champion_line=champion_line,
                 confidence=confidence, seed=seed, n_resamples=n_resamples,
                 performance=performance, description=description, families=families)


def _read_suite_bytes(path: Path) -> bytes:
    """The suite file's bytes: a regular file of at most :data:`~evalgate._yaml.MAX_BYTES`."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(path, None, None, f"the suite is {file_kind(info.st_mode)}, "
                                              "not a regular file")
        if info.st_size > MAX_BYTES:
            raise SpecError(path, None, None, f"the suite file has {info.st_size:,} bytes, "
                                              f"above the limit of {MAX_BYTES:,} (1 MiB)")
        with path.open("rb") as f:
            return f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError(path, None, None, f"cannot read the suite file: {exc.strerror}") from None


def _data(r: Reader, top: LineDict, task: Task) -> DataSpec:
    d = r.mapping(r.required(top, "data", "the suite"), top.line_of("data"), "data")
    r.only_keys(d, DATA_KEYS, "data")
    rel = r.string(d, "path") if "path" in d else None
    if rel is None:
        raise r.fail(d.line, "path", "missing required key in data")
    path = (r.path.parent / rel).resolve()
    if not any(rel.lower().endswith(s) for s in DATA_SUFFIXES):
        raise r.fail(d.line_of("path"), "path",
                     f"unsupported data file {rel!r}; use one of {', '.join(DATA_SUFFIXES)}")
    if not path.is_file():
        raise r.fail(d.line_of("path"), "path",
                     f"data file {rel!r} not found (looked for {path})")
    r.required(d, "target", "data")
    target = r.string(d, "target")
    positive = d.get("positive_label")
    if positive is not None:
        if task != "binary":
            raise r.fail(d.line_of("positive_label"), "positive_label",
                         f"positive_label applies to task binary only (this suite is {task})")
        if isinstance(positive, (LineDict, LineList)):
            raise r.fail(d.line_of("positive_label"), "positive_label",
                         f"expected a single label, got {_kind(positive)}")
    sensitive = r.names(d, "sensitive") if d.get("sensitive") is not None else ()
    features = r.names(d, "features") if d.get("features") is not None else None
    if features is not None:
        if not features:
            raise r.fail(d.line_of("features"), "features", "the feature list is empty")
        if target in features:
            raise r.fail(d.line_of("features"), "features",
                         f"the target {target!r} cannot also be a feature")
    if target in sensitive:
        raise r.fail(d.line_of("sensitive"), "sensitive",
                     f"the target {target!r} cannot be a sensitive column")
    label_map = _label_map(r, d, task) if d.get("label_map") is not None else ()
    return DataSpec(path=path, target=target, positive_label=positive, sensitive=sensitive,
                    features=features, line=d.line, label_map=label_map)


def _label_map(r: Reader, d: LineDict, task: Task) -> tuple[tuple[Any, Any], ...]:
    """``data.label_map: {data label: model class}``: scalars on both sides, no label given
    twice, no two labels for one class. Whether each label occurs in the data is checked
    when the data is read (:func:`evalgate.data.encode_target`)."""
    from .data import label_key  # data imports this module

    line = d.line_of("label_map")
    if task == "regression":
        raise r.fail(line, "label_map", "label_map applies to classification tasks only "
                                        "(this suite is regression)")
    m = r.mapping(d["label_map"], line, "label_map")
    if not m:
        raise r.fail(line, "label_map", "the label_map is empty; map each data label to the "
                                        "model's class, e.g. label_map: {\"no\": 0, \"yes\": 1}")
    labels: dict[str, Any] = {}
    classes: dict[str, Any] = {}
    for label, cls in m.items():
        at = m.line_of(label)
        for what, value in (("data label", label), ("model class", cls)):
            if value is None or isinstance(value, (LineDict, LineList, dict, list)) or (
                    isinstance(value, float) and not math.isfinite(value)):
                raise r.fail(at, "label_map", f"expected a single {what} for {label!r}, got "
                                              f"{_kind(value)}")
        if label_key(label) in labels:
            raise r.fail(at, "label_map", f"data label {label!r} is mapped twice (also as "
                                          f"{labels[label_key(label)]!r})")
        if label_key(cls) in classes:
            raise r.fail(at, "label_map", f"data labels {classes[label_key(cls)]!r} and "
                                          f"{label!r} both map to model class {cls!r}; each "
                                          f"class stands for one label")
        labels[label_key(label)] = label
        classes[label_key(cls)] = label
    return tuple(m.items())


def _performance(r: Reader, checks: LineDict, task: Task) -> tuple[MetricCheck, ...]:
    perf = r.mapping(checks["performance"], checks.line_of("performance"), "performance")
    if not perf:
        raise r.fail(perf.line, "performance", "no metrics: name at least one")
    out = []
    for name in perf:
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
        out.append(MetricCheck(metric=metric.name, threshold=Threshold(**values),
                               blocking=blocking, line=line))
    return tuple(out)


SUITE_SUFFIXES = (".yaml", ".yml")


def is_suite_file(path: Path) -> bool:
    """A ``.yaml``/``.yml`` file, in any letter case."""
    return path.suffix.lower() in SUITE_SUFFIXES


def find_suites(path: Path) -> list[Path]:
    """The suite files at ``path``: the file itself, or every ``.yaml``/``.yml`` file (any
    letter case) below it, in every subfolder — hidden ones and those pytest does not recurse
    into (``build/``, ``venv/``) too: the gate is every suite there is."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if is_suite_file(p) and p.is_file())
    return []


def threshold_text(threshold: Threshold | Mapping[str, float]) -> str:
    items = threshold.as_dict() if isinstance(threshold, Threshold) else dict(threshold)
    return ", ".join(f"{k} {v:g}" for k, v in items.items())
