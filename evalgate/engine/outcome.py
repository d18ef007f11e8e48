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


class Clock:
    """Accumulates the seconds spent in each stage into ``timings``."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.t
        self.t = now
