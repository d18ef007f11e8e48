"""What a family plans, sees and produces.

- :class:`CheckPlan` — a check known from the suite alone (pytest collects it before any
  model is loaded); ``subject`` is the family's own spec object for it;
- :class:`EvalContext` — what a family sees: the suite, the data, the encoded target, each
  model's cached predictions, and a cached way to predict on other rows;
- :class:`CheckResult` — the outcome of one check, as it goes into verdict.json;
- :class:`Family` — a family as the engine runs it: its name, its section parser, its
  planner, its runner and its part of the report.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from ..data import Dataset, Target
from ..models.predictions import Predictions
from ..records import Record, dump
from ..spec import Suite

Status = Literal["pass", "fail", "error", "skip"]


@dataclass(frozen=True)
class CheckPlan:
    """A check known from the suite alone: its family, its name within the family, its line."""

    family: str
    name: str
    line: int | None
    blocking: bool = True
    #: the family's spec object for this check (a metric's thresholds, a perturbation, …)
    subject: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, as it goes into verdict.json (DESIGN.md §4)."""

    id: str
    family: str
    name: str
    status: Status
    blocking: bool
    message: str
    metric: str | None = None
    candidate: float | None = None
    champion: float | None = None
    delta: float | None = None
    ci: tuple[float | None, float | None] | None = None
    confidence: float | None = None
    threshold: Mapping[str, Any] = field(default_factory=dict)
    method: str | None = None
    #: the family's typed details (a :class:`~evalgate.records.Record`)
    details: Record | Mapping[str, Any] | None = None
    line: int | None = None

    @property
    def blocks(self) -> bool:
        return self.blocking and self.status in ("fail", "error")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "family": self.family, "status": self.status,
            "blocking": self.blocking, "metric": self.metric,
            "candidate": _num(self.candidate), "champion": _num(self.champion),
            "delta": _num(self.delta),
            "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
            "confidence": self.confidence, "threshold": dict(self.threshold),
            "message": self.message,
        }
        if self.method is not None:
            out["method"] = self.method
        if self.line is not None:
            out["line"] = self.line
        if isinstance(self.details, Record):
            out["details"] = self.details.to_dict()
        elif self.details:
            out["details"] = dump(self.details)
        return out


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


#: predict(role, frame, variant) → canonical predictions of "candidate" or "champion" on
#: ``frame``, computed once per (role, variant) and cached by the runner
Predict = Callable[[str, Any, str], Predictions]


@dataclass(frozen=True, eq=False)
class EvalContext:
    """What a family sees: the suite, the data, the encoded target, each model's cached
    predictions on the clean data, and a cached way to predict on other data (perturbed
    rows, counterfactuals)."""

    suite: Suite
    target: Target
    candidate: Predictions
    champion: Predictions | None
    no_champion_reason: str = "no champion"
    data: Dataset | None = None
    predict: Predict | None = None
    models: Mapping[str, Any] = field(default_factory=dict)
    #: rows without labels (``data.target: null``): the labelled rows of
    #: ``data.estimate_from`` and their encoded target, for CBPE
    labelled: tuple[Dataset, Target] | None = None
    #: the merged states of the reductions the families asked for, by key (:class:`Reduction`)
    states: Mapping[str, Any] = field(default_factory=dict)
    #: what a family measured once for the whole run, by the family's own keys (shared by
    #: every challenger's context)
    run_cache: dict[Any, Any] = field(default_factory=dict)

    def run_key(self, *parts: Any) -> tuple[Any, ...]:
        """A key of ``run_cache`` for what depends on this suite (its file, level and seed) and
        these rows alone, and on ``parts``."""
        return (self.suite.path, self.suite.sha256, self.suite.confidence, self.suite.seed,
                self.data.sha256 if self.data is not None else None, *parts)

    def rng(self, check_id: str) -> np.random.Generator:
        """A generator seeded by the suite seed and the check id: the same numbers whatever
        other checks run or are deselected."""
        return np.random.default_rng(
            np.random.SeedSequence([self.suite.seed, zlib.crc32(check_id.encode())]))


@dataclass(frozen=True)
class ErrorDetails(Record):
    """The details of a check that could not run because of a bug: where it happened."""

    kind: ClassVar[str] = "error details"
    traceback: str


def error_result(suite: Suite, plan: CheckPlan, message: str,
                 details: Record | None = None) -> CheckResult:
    return CheckResult(id=suite.check_id(plan.family, plan.name), family=plan.family,
                       name=plan.name, status="error", blocking=plan.blocking, message=message,
                       details=details, line=plan.line)


SectionParser = Callable[..., Any]
#: a check's ``details`` in verdict.json (its JSON object, with the check's other fields) →
#: the family's typed details; raises :class:`~evalgate.errors.VerdictError` when malformed
DetailsReader = Callable[[Mapping[str, Any]], Record | Mapping[str, Any] | None]


def read_details_as_is(check: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The details of a family without typed details: the JSON object as it is."""
    details = check.get("details")
    return details if isinstance(details, Mapping) else None
Planner = Callable[[Suite], list[CheckPlan]]
Runner = Callable[[EvalContext, Sequence[CheckPlan]], Iterable[CheckResult]]


class Reduction(Protocol):
    """A mergeable summary of the evaluation rows a family asks the engine for, instead of
    the rows themselves: ``of`` one partition (on a worker: it must pickle), given the
    partition's frame and its rows' keys (:func:`row_keys`); ``merge`` of every partition's
    state, in partition order, on the driver. The local engine runs it on its one frame, so
    a family sees the same state on every engine — and, where the state is exact (counts,
    exact sums, the smallest hashes), for any partitioning."""

    @property
    def key(self) -> str: ...

    def of(self, frame: Any, keys: np.ndarray) -> Any: ...

    def merge(self, states: Sequence[Any]) -> Any: ...


#: what a family asks the engine to reduce the evaluation rows to (before any family runs)
Reducer = Callable[[Suite, Sequence[CheckPlan]], Sequence[Reduction]]

def salted(reductions: Sequence[Reduction], sha256: str) -> list[Reduction]:
    """``reductions`` as run on the data whose bytes have ``sha256``: those that sample rows by
    a salted hash (``salted(sha256)``: :class:`evalgate.data.repeats.RepeatedRows`) take it.
    A reduction may also say ``keyed = False``: it reads no row's position."""
    return [r.salted(sha256) if hasattr(r, "salted") else r for r in reductions]


def row_keys(first: int, rows: int) -> np.ndarray:
    """The keys of ``rows`` consecutive rows from the dataset's row ``first``: a row's key is
    its position in the dataset (files in reading order, then rows in order) — the same
    whichever partition it falls in, and however the rows are split into files."""
    return np.arange(first, first + rows, dtype=np.uint64)


@dataclass(frozen=True)
class Family:
    """A check family as the engine runs it.

    - ``parse(reader, section, line, task, data)`` validates its section of a suite's
      ``checks`` into its spec object (kept in ``Suite.families[name]``);
    - ``plan(suite)`` lists its checks from the suite alone, each with its ``subject``;
    - ``run(ctx, plans)`` evaluates the given plans and returns one result per plan (the
      engine enforces that, and turns an unexpected exception into an ``error`` of each of
      the family's planned checks without touching the other families);
    - ``template``: its part of the report page (a Jinja2 file), or ``None``;
    - ``read_details(check)``: a check's typed details from its verdict.json entry, which the
      template receives (an error check's details are :class:`ErrorDetails`);
    - ``reads_rows``: whether ``run`` reads the feature columns of the rows (to perturb or to
      time them), beyond the predictions, the target and the sensitive columns — a
      distributed engine then brings those columns to the driver;
    - ``reductions(suite, plans)``: the :class:`Reduction` s ``run`` reads from
      ``ctx.states`` instead of rows (none: ``None``);
    - ``model_free(plans)``: of the planned checks, those whose result depends on the suite,
      its level, the rows and the files the suite names alone — no model, no prediction
      (drift of a column against the reference) — by name, each with the identity of those
      files' contents as they are now (their sha256). With several challengers against one
      champion, such a check is judged once for the run and its result given to each
      challenger while the files are the same (``None``: every check reads a model).
    """

    name: str
    parse: SectionParser
    plan: Planner
    run: Runner
    template: Path | None = None
    read_details: DetailsReader = read_details_as_is
    reads_rows: bool = False
    reductions: Reducer | None = None
    model_free: Callable[[Sequence[CheckPlan]], Mapping[str, tuple[Any, ...]]] | None = None

    def details_of(self, check: Mapping[str, Any]) -> Record | Mapping[str, Any] | None:
        """The typed details of one verdict check of this family (``None`` if it has none)."""
        details = check.get("details")
        if details is None:
            return None
        if isinstance(details, Mapping) and set(details) == {"traceback"}:
            return ErrorDetails.from_dict(details, f"{check.get('id')}.details")
        return self.read_details(check)
