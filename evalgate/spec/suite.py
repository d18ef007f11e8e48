"""Suite files: YAML → a typed, validated, frozen :class:`Suite` (DESIGN.md §2).

The top level (``suite``, ``task``, ``data``, ``champion``, ``confidence``, …) is read here;
each family's section of ``checks`` is read by that family's parser, passed in by the caller
(:func:`evalgate.families.load_suite` passes every registered family), so that this package
knows no family. Every mistake raises :class:`~evalgate.errors.SpecError` naming the file, the
line and the key, with the valid choices where there is a list of them.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from .._files import file_kind
from ..data.labels import label_key
from ..data.sources import SourceProblem, resolve
from ..errors import SpecError, did_you_mean
from ..metrics import TASKS, Task
from .loader import MAX_BYTES, LineDict, LineList, load_yaml
from .reader import Reader, kind_of

#: the families DESIGN.md names; one this installation lacks is refused as not available
#: (never ignored), any other name as an unknown key
KNOWN_FAMILIES = ("performance", "robustness", "bias", "latency", "stress", "drift")
#: the families a suite whose rows have no labels (``data.target: null``) may hold
UNLABELLED_FAMILIES = ("performance", "latency", "stress", "drift")
TOP_KEYS = ("suite", "description", "task", "data", "champion", "confidence", "seed",
            "n_resamples", "value_thresholds", "primary", "checks")
#: what ``min``/``max`` (and the bias family's ``max_difference``/``min_ratio``, robustness's
#: ``max_flip_rate``) are judged on: the point estimate (DESIGN.md §3), or its one-sided bound
VALUE_THRESHOLDS = ("estimate", "bound")
DATA_KEYS = ("path", "target", "positive_label", "label_map", "sensitive", "features",
             "exclude", "key", "estimate_from", "repeated_rows")
ESTIMATE_KEYS = ("path", "target", "max_support_auc")
#: CBPE is refused when a classifier tells the labelled rows from the evaluation rows
#: with a ROC AUC above this: the rows left the labelled rows' support
DEFAULT_MAX_SUPPORT_AUC = 0.9
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 2000
#: the most bootstrap replicates a suite may ask for (each replicate is a pass over the rows)
MAX_RESAMPLES = 100_000
#: the fewest bootstrap replicates that must lie beyond a one-sided bound, (1 − confidence)
#: · n_resamples: with fewer, the bound is (next to) the most extreme replicate, at whatever
#: confidence the suite states (100 at 0.95 leaves exactly 5)
MIN_TAIL_REPLICATES = 5


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
class DataSpec:
    path: Path
    #: ``None``: the rows have no labels (``target: null``); performance is estimated
    target: str | None
    positive_label: Any
    sensitive: tuple[str, ...]
    features: tuple[str, ...] | None
    line: int
    #: ``data.label_map`` as (data label, model class) pairs, in the file's order
    label_map: tuple[tuple[Any, Any], ...] = ()
    #: where ``path`` is a glob or a folder: its data files, in reading (sorted path) order
    files: tuple[Path, ...] = ()

    #: ``data.estimate_from``: the labelled rows CBPE is calibrated on (``target: null``)
    estimate_from: EstimateFrom | None = None
    #: ``data.exclude``: columns that are neither target nor feature
    exclude: tuple[str, ...] = ()
    #: ``data.key``: a column that identifies each row (unique, never missing, not a feature)
    key: str | None = None
    #: ``data.repeated_rows: independent``: rows that repeat are independent draws, not
    #: copies (:mod:`evalgate.data.repeats`)
    repeated_rows: str | None = None

    @property
    def sources(self) -> tuple[Path, ...]:
        """The files the rows are read from, in order."""
        return self.files or (self.path,)


@dataclass(frozen=True)
class EstimateFrom:
    """``data.estimate_from``: labelled rows the model did not train on (a hold-out set),
    on which the candidate's reliability table is fitted when the evaluation rows have no
    labels; ``max_support_auc``: above this domain-classifier AUC the rows left their
    support and nothing is estimated."""

    path: Path
    target: str
    max_support_auc: float
    line: int


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
    description: str = ""
    #: ``value_thresholds``: "estimate" (default) or "bound" (:data:`VALUE_THRESHOLDS`)
    value_thresholds: str = "estimate"
    #: each family's parsed section of ``checks``, by family name, in the order families run
    families: Mapping[str, Any] = field(default_factory=dict)
    #: ``primary``: the performance metric challengers are ranked on (``--pick best``;
    #: ``None``: the first performance check)
    primary: str | None = None

    @property
    def by_bound(self) -> bool:
        """Whether value thresholds are judged on one-sided bounds (burden of proof)."""
        return self.value_thresholds == "bound"

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def check_id(self, family: str, name: str) -> str:
        return f"{self.name}::{family}::{name}"


class SectionParser(Protocol):
    """Reads one family's section of ``checks`` into that family's spec object."""

    def __call__(self, r: Reader, section: Any, line: int, task: Task,
                 data: DataSpec) -> Any: ...


def read_suite(path: Path | str, sections: Mapping[str, SectionParser]) -> Suite:
    """Read and validate one suite file; ``sections`` maps each family this installation
    runs to the parser of its section of ``checks``."""
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
    # each part is read on its own, so that one reading names every independent mistake
    r.attempt(r.only_keys, top, TOP_KEYS, "the suite")
    name = r.attempt(_name, r, top, default=path.stem) or path.stem
    description = r.attempt(lambda: r.string(top, "description") if "description" in top
                            else "", default="") or ""
    task = r.attempt(_task, r, top)
    data = r.attempt(_data, r, top, task) if task is not None else None
    champion = r.attempt(lambda: r.string(top, "champion")) \
        if top.get("champion") is not None else None
    confidence = r.attempt(_confidence, r, top, default=DEFAULT_CONFIDENCE)
    seed = r.attempt(lambda: r.integer(top, "seed", 0) if "seed" in top else DEFAULT_SEED)
    n_resamples = r.attempt(lambda: r.integer(top, "n_resamples", 100, MAX_RESAMPLES)
                            if "n_resamples" in top else DEFAULT_RESAMPLES)
    if confidence is not None and n_resamples is not None:
        r.attempt(_enough_resamples, r, top, confidence, n_resamples)
    value_thresholds = r.attempt(_value_thresholds, r, top, default="estimate")
    checks = r.attempt(lambda: r.mapping(r.required(top, "checks", "the suite"),
                                         top.line_of("checks"), "checks"))
    families = (_sections(r, checks, sections, task, data)
                if checks is not None and task is not None and data is not None else {})
    primary = r.attempt(_primary, r, top, families) if "primary" in top else None
    r.done()  # every mistake found above, at once
    assert task is not None and data is not None and seed is not None
    assert confidence is not None and n_resamples is not None and value_thresholds is not None
    return Suite(name=name, path=path, sha256=hashlib.sha256(raw).hexdigest(), task=task,
                 data=data, champion=champion,
                 champion_line=top.line_of("champion") if champion is not None else None,
                 confidence=confidence, seed=seed, n_resamples=n_resamples,
                 description=description, value_thresholds=value_thresholds,
                 families=families, primary=primary)


def _primary(r: Reader, top: LineDict, families: Mapping[str, Any]) -> str:
    """``primary``: one of the suite's performance checks (by its metric's name)."""
    name = r.string(top, "primary")
    have = [c.metric for c in families.get("performance", ())]
    if name not in have:
        raise r.fail(top.line_of("primary"), "primary",
                     f"primary {name!r} names no performance check of this suite"
                     f"{did_you_mean(name, have)}; its performance checks: "
                     f"{', '.join(have) or 'none'}")
    return name


def _name(r: Reader, top: LineDict) -> str:
    if "suite" not in top:
        return r.path.stem
    name = r.string(top, "suite")
    if "::" in name:
        raise r.fail(top.line_of("suite"), "suite", "a suite name may not contain '::'")
    return name


def _task(r: Reader, top: LineDict) -> Task:
    task = r.required(top, "task", "the suite")
    if task not in TASKS:
        raise r.fail(top.line_of("task"), "task",
                     f"unknown task {task!r}{did_you_mean(str(task), TASKS)}; "
                     f"valid tasks: {', '.join(TASKS)}")
    return cast(Task, task)


def _confidence(r: Reader, top: LineDict) -> float:
    if "confidence" not in top:
        return DEFAULT_CONFIDENCE
    confidence = r.number(top, "confidence")
    if not 0.5 < confidence < 1:
        raise r.fail(top.line_of("confidence"), "confidence",
                     f"must lie strictly between 0.5 and 1 (a one-sided level such as "
                     f"0.95), got {confidence}")
    return confidence


def _enough_resamples(r: Reader, top: LineDict, confidence: float, n_resamples: int) -> None:
    """At least :data:`MIN_TAIL_REPLICATES` bootstrap replicates beyond each one-sided bound:
    with fewer the bound is the most extreme replicate (a ~99% bound labelled 99.999%)."""
    # 1 − 0.95 is inexact in floating point: the need to 9 significant digits
    need = math.ceil(float(f"{MIN_TAIL_REPLICATES / (1 - confidence):.9g}"))
    if n_resamples >= need:
        return
    tail = (1 - confidence) * n_resamples
    key = "n_resamples" if "n_resamples" in top else "confidence"
    said = (f"n_resamples {n_resamples}{'' if key == 'n_resamples' else ' (the default)'} at "
            f"confidence {confidence:g} leaves {tail:.3g} replicate"
            f"{'' if f'{tail:.3g}' == '1' else 's'} beyond the bound; at least "
            f"{MIN_TAIL_REPLICATES} are needed, else the bound is the most extreme replicate "
            f"whatever the confidence says: at confidence {confidence:g} n_resamples must be "
            f"at least {need}")
    if need > MAX_RESAMPLES:
        said += (f", above the maximum {MAX_RESAMPLES}; use a confidence at most "
                 f"{1 - MIN_TAIL_REPLICATES / MAX_RESAMPLES:g}")
    raise r.fail(top.line_of(key), key, said)


def _value_thresholds(r: Reader, top: LineDict) -> str:
    if "value_thresholds" not in top:
        return "estimate"
    value = r.string(top, "value_thresholds")
    if value not in VALUE_THRESHOLDS:
        raise r.fail(top.line_of("value_thresholds"), "value_thresholds",
                     f"unknown value {value!r}{did_you_mean(value, VALUE_THRESHOLDS)}; valid: "
                     f"{', '.join(VALUE_THRESHOLDS)}")
    return value


def _sections(r: Reader, checks: LineDict, sections: Mapping[str, SectionParser], task: Task,
              data: DataSpec) -> dict[str, Any]:
    """Each family's section of ``checks``, read by its parser, in the order of
    ``sections``; a section with a mistake is left out, the mistake kept in ``r``."""
    if not checks:
        raise r.fail(checks.line, "checks", "no checks: declare at least one family")
    refused = set()
    for family in checks:
        problem = _family_problem(r, checks, str(family), tuple(sections), data)
        if problem is not None:
            r.errors.append(problem)
            refused.add(family)
    out: dict[str, Any] = {}
    for name, parse in sections.items():
        if name in checks and name not in refused:
            found = r.attempt(parse, r, checks[name], checks.line_of(name), task, data)
            if found is not None:
                out[name] = found
    return out


def _family_problem(r: Reader, checks: LineDict, family: str, available: tuple[str, ...],
                    data: DataSpec) -> SpecError | None:
    """Why ``family``'s section cannot be read here, or ``None``."""
    line = checks.line_of(family)
    if family not in available and family not in KNOWN_FAMILIES:
        return r.fail(line, family, f"unknown key in checks{did_you_mean(family, available)}; "
                                    f"valid keys: {', '.join(available)}")
    if data.target is None and family not in UNLABELLED_FAMILIES:
        return r.fail(line, family, f"the {family} checks need labels, and data.target is "
                                    f"null; without labels a suite may hold "
                                    f"{', '.join(UNLABELLED_FAMILIES)} checks")
    if family not in available:
        return r.fail(line, family, f"the {family} family is not available in this version "
                                    f"of evalgate (available: {', '.join(available)})")
    return None


def _read_suite_bytes(path: Path) -> bytes:
    """The suite file's bytes: a regular file of at most :data:`~evalgate._yaml.MAX_BYTES`."""
    try:
        if path.is_symlink() and not path.exists():
            raise SpecError(path, None, None, f"the suite is a symbolic link to "
                                              f"{os.readlink(path)}, which does not exist")
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
    try:
        sources = resolve(rel, r.path.parent)
    except SourceProblem as exc:
        raise r.fail(d.line_of("path"), "path", str(exc)) from None
    target = _target(r, d, task)
    positive = d.get("positive_label")
    if positive is not None:
        if task != "binary":
            raise r.fail(d.line_of("positive_label"), "positive_label",
                         f"positive_label applies to task binary only (this suite is {task})")
        if isinstance(positive, (LineDict, LineList)):
            raise r.fail(d.line_of("positive_label"), "positive_label",
                         f"expected a single label, got {kind_of(positive)}")
    sensitive = r.names(d, "sensitive") if d.get("sensitive") is not None else ()
    features = r.names(d, "features") if d.get("features") is not None else None
    if features is not None:
        if not features:
            raise r.fail(d.line_of("features"), "features", "the feature list is empty")
        if target is not None and target in features:
            raise r.fail(d.line_of("features"), "features",
                         f"the target {target!r} cannot also be a feature")
    if target is not None and target in sensitive:
        raise r.fail(d.line_of("sensitive"), "sensitive",
                     f"the target {target!r} cannot be a sensitive column")
    label_map = _label_map(r, d, task) if d.get("label_map") is not None else ()
    exclude, key = _not_features(r, d, target, features, sensitive)
    estimate_from = None
    if d.get("estimate_from") is not None:
        if target is not None:
            raise r.fail(d.line_of("estimate_from"), "estimate_from",
                         "estimate_from applies when the rows have no labels (target: null); "
                         "with a target, performance is measured, not estimated")
        estimate_from = _estimate_from(r, d)
    return DataSpec(path=sources.path, target=target, positive_label=positive,
                    sensitive=sensitive, features=features, line=d.line, label_map=label_map,
                    files=sources.files if sources.many else (), estimate_from=estimate_from,
                    exclude=exclude, key=key, repeated_rows=_repeated_rows(r, d))


def _repeated_rows(r: Reader, d: LineDict) -> str | None:
    """``data.repeated_rows``: ``independent`` or absent (:mod:`evalgate.data.repeats`)."""
    if d.get("repeated_rows") is None:
        return None
    value = r.string(d, "repeated_rows")
    if value != "independent":
        raise r.fail(d.line_of("repeated_rows"), "repeated_rows",
                     f"repeated_rows {value!r}: the one value is 'independent' (rows that "
                     f"repeat are independent draws, not copies)")
    return value


def _not_features(r: Reader, d: LineDict, target: str | None, features: tuple[str, ...] | None,
                  sensitive: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """``data.exclude`` and ``data.key``: columns the models are never fed."""
    exclude = r.names(d, "exclude") if d.get("exclude") is not None else ()
    key = r.string(d, "key") if d.get("key") is not None else None
    for name, what, line in [*((c, "excluded", d.line_of("exclude")) for c in exclude),
                             *(((key, "the key", d.line_of("key")),) if key else ())]:
        field = "exclude" if what == "excluded" else "key"
        if name == target:
            raise r.fail(line, field, f"the target {target!r} cannot be {what}")
        if features is not None and name in features:
            raise r.fail(line, field, f"{name!r} is {what} and listed in features: a column "
                                      f"the models read cannot be {what}")
        if what == "the key" and name in sensitive:
            raise r.fail(line, field, f"{name!r} is the key and a sensitive column; a row id "
                                      f"identifies rows, it does not group them")
    return exclude, key


def _estimate_from(r: Reader, d: LineDict) -> EstimateFrom:
    line = d.line_of("estimate_from")
    e = r.mapping(d["estimate_from"], line, "estimate_from")
    r.only_keys(e, ESTIMATE_KEYS, "estimate_from")
    r.required(e, "path", "estimate_from")
    r.required(e, "target", "estimate_from")
    try:
        sources = resolve(r.string(e, "path"), r.path.parent)
    except SourceProblem as exc:
        raise r.fail(e.line_of("path"), "path", str(exc)) from None
    limit = DEFAULT_MAX_SUPPORT_AUC
    if "max_support_auc" in e:
        limit = r.number(e, "max_support_auc")
        if not 0.5 < limit <= 1:
            raise r.fail(e.line_of("max_support_auc"), "max_support_auc",
                         f"must lie in (0.5, 1] (a ROC AUC; 0.5 is rows like the labelled "
                         f"ones), got {limit:g}")
    if sources.many:
        raise r.fail(e.line_of("path"), "path", "estimate_from takes one data file (its bytes "
                                                "are recorded and re-checked at promotion)")
    return EstimateFrom(path=sources.path, target=r.string(e, "target"),
                        max_support_auc=limit, line=line)


def _target(r: Reader, d: LineDict, task: Task) -> str | None:
    """``data.target``: a column, or null for rows without labels — a binary suite whose
    performance is estimated (CBPE), which then needs ``positive_label``."""
    if "target" not in d:
        raise r.fail(d.line, "target", "missing required key in data")
    if d["target"] is not None:
        return r.string(d, "target")
    if task != "binary":
        raise r.fail(d.line_of("target"), "target",
                     f"target: null (rows without labels) applies to task binary only, "
                     f"whose performance can be estimated; this suite is {task}")
    if d.get("positive_label") is None:
        raise r.fail(d.line_of("target"), "target",
                     "target: null needs positive_label: the class whose probability the "
                     "model's score is")
    return None


def _label_map(r: Reader, d: LineDict, task: Task) -> tuple[tuple[Any, Any], ...]:
    """``data.label_map: {data label: model class}``: scalars on both sides, no label given
    twice, no two labels for one class. Whether each label occurs in the data is checked
    when the data is read (:func:`evalgate.data.encode_target`)."""
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
                                              f"{kind_of(value)}")
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
