"""What one suite produced (:class:`SuiteOutcome`), and the checks the engine applies to every
result whatever its family."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Dataset, Target
from ..errors import SpecError
from ..families import CheckResult
from ..models import ModelInfo
from ..models.predictions import Predictions
from ..spec import Suite
from .trials import Spending

#: the one check of a suite file that could not be read (``suites/x.yaml::suite``)
SUITE_ITEM = "suite"


@dataclass(eq=False)
class SuiteOutcome:
    """Everything one suite produced, for the verdict and the report."""

    file: Path
    suite: Suite | None
    results: list[CheckResult]
    candidate: ModelInfo | None = None
    champion: ModelInfo | None = None
    dataset: Dataset | None = None
    #: rows without labels: the labelled rows the performance was estimated from
    labelled: Dataset | None = None
    #: the families' reductions of the rows (:class:`~evalgate.families.base.Reduction`)
    states: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    #: where the champion came from when it is a registry reference: ref, name, version
    champion_registry: dict[str, Any] | None = None
    #: the encoded target and each model's predictions on the clean rows (the report's curves)
    target: Target | None = None
    predictions: Mapping[str, Predictions] = field(default_factory=dict)
    #: which try this suite was (attempt, look) and the level its comparisons were judged at
    spending: Spending | None = None

    @property
    def name(self) -> str:
        return self.suite.name if self.suite is not None else self.file.stem


def spec_error_result(path: Path, exc: SpecError) -> CheckResult:
    """The one result of a suite file that could not be read."""
    return CheckResult(id=f"{path.stem}::{SUITE_ITEM}", family=SUITE_ITEM, name=SUITE_ITEM,
                       status="error", blocking=True, message=str(exc), line=exc.line)


def finite_or_error(result: CheckResult) -> CheckResult:
    """A ``pass`` whose value, champion value, Δ or interval bound is NaN or infinite is an
    ``error``: nothing passes on a number that is not one."""
    if result.status != "pass":
        return result
    named: list[tuple[str, Any]] = [("value", result.candidate),
                                    ("champion's value", result.champion),
                                    ("difference", result.delta)]
    if result.ci is not None:
        named += [("lower bound", result.ci[0]), ("upper bound", result.ci[1])]
    bad = [f"{what} is {float(v)}" for what, v in named
           if isinstance(v, (int, float, np.number)) and not np.isfinite(float(v))]
    if not bad:
        return result
    return dataclasses.replace(result, status="error", message=(
        f"{'; '.join(bad)}: a check cannot pass on a number that is not finite "
        f"({result.message})"))


def check_seconds(outcome: SuiteOutcome, check_id: str) -> float:
    """The computing time one check of ``outcome`` accounts for: its family's time shared
    evenly among the family's checks, plus the stages every check needs (loading the models,
    reading and predicting the rows) shared among all its checks. Summed over the checks it
    is the suite's whole time; the families compute together, so a share is all one can say
    of a single check."""
    mine = next((r for r in outcome.results if r.id == check_id), None)
    if mine is None:
        return 0.0
    per_family: dict[str, int] = {}
    for r in outcome.results:
        per_family[r.family] = per_family.get(r.family, 0) + 1
    shared = sum(v for k, v in outcome.timings.items() if k not in per_family)
    return (shared / len(outcome.results)
            + outcome.timings.get(mine.family, 0.0) / per_family[mine.family])


class Clock:
    """Accumulates the seconds spent in each stage into ``timings``."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.t
        self.t = now


def only_ran(outcome: SuiteOutcome, ran: set[tuple[Path, str]]) -> SuiteOutcome:
    """``outcome`` with the results of the checks whose items ran, by (resolved suite file,
    check id); the others are reported as not run."""
    path = outcome.file.resolve()
    results = [r for r in outcome.results if (path, r.id) in ran]
    if len(results) == len(outcome.results):
        return outcome
    return dataclasses.replace(outcome, results=results)
