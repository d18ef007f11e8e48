"""The runner: loads each model once, predicts each dataset once per model, runs the checks.

``Gate`` holds the caches of one gate run (a pytest session or one ``evalgate run``). Bad
input never escapes as a traceback: a suite that cannot be evaluated turns each of its
checks into an ``error`` result carrying one clear message.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checks import CheckPlan, CheckResult, EvalContext, error_result, families, plan_checks
from .data import Dataset, encode_target, load_dataset
from .errors import EvalgateError, ModelLoadError, SpecError
from .models import Model, ModelInfo, RawPrediction, load_model, model_warnings, set_deadline
from .models import deadline as model_deadline
from .plots import suite_plots
from .predictions import Predictions, canonical, class_universe
from .spec import Suite, load_suite

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
    inputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    #: curves and tables behind the report's pictures (evalgate.plots)
    plots: dict[str, Any] = field(default_factory=dict)
    #: where the champion came from when it is a registry reference: ref, name, version
    champion_registry: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.suite.name if self.suite is not None else self.file.stem


def spec_error_result(path: Path, exc: SpecError) -> CheckResult:
    """The one result of a suite file that could not be read."""
    return CheckResult(id=f"{path.stem}::{SUITE_ITEM}", family=SUITE_ITEM, name=SUITE_ITEM,
                       status="error", blocking=True, message=str(exc), line=exc.line)


class Gate:
    """One gate run: the candidate, an optional champion override, and the caches."""

    def __init__(self, candidate: str | Path, *, champion: str | Path | None = None,
                 seed: int | None = None, trust_pickle: bool = False,
                 registry: Path | None = None, no_champion: bool = False,
                 timeout_s: float | None = None):
        from .registry import is_reference

        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be above 0 seconds, got {timeout_s!r}")
        #: the limit for the whole gate, counted from now (``None``: no limit)
        self.timeout_s = timeout_s
        self.deadline: float | None = (time.monotonic() + timeout_s if timeout_s is not None
                                       else None)

        self.candidate_ref = Path(candidate)
        #: a model file, or a reference (``registry:NAME@champion``, ``mlflow:NAME@3``)
        self.champion_override: Path | str | None = (
            champion if is_reference(champion) else Path(champion) if champion is not None
            else None)
        self.seed = seed
        self.trust_pickle = trust_pickle
        #: judge without any champion (a first release), whatever the suites say
        self.no_champion = no_champion
        #: the local registry folder (default: the project's ``[tool.evalgate] registry``)
        self.registry = registry
        #: references resolved in this run (each once, so every suite sees the same version)
        self.references: dict[str, Any] = {}  # ref → evalgate.registry.Resolved or the error
        self._expected: dict[Path, Any] = {}  # resolved file → its Resolved (sha256 it must have)
        self._models: dict[Path, Model | EvalgateError] = {}
        self._predictions: dict[tuple[str, str, tuple[str, ...]], RawPrediction] = {}
        self.outcomes: list[SuiteOutcome] = []

    # ----------------------------------------------------------------- caches

    def model(self, path: Path) -> Model:
        key = path.resolve()
        if key not in self._models:
            try:
                self._models[key] = load_model(path, trust_pickle=self.trust_pickle)
            except EvalgateError as exc:
                self._models[key] = exc
        found = self._models[key]
        if isinstance(found, EvalgateError):
            raise found
        expected = self._expected.get(key)
        if expected is not None and found.info.sha256 != expected.sha256:
            from .registry import TAMPERED

            raise ModelLoadError(path, f"{expected.ref} (version {expected.version}) {TAMPERED} "
                                       f"({expected.sha256[:12]}…; the file has "
                                       f"{found.info.sha256[:12]}…): it was modified after "
                                       "registration, so it is refused")
        return found

    def raw_predictions(self, model: Model, data: Dataset) -> RawPrediction:
        key = (model.info.sha256, data.sha256, data.features)
        if key not in self._predictions:
            self._predictions[key] = model.predict(data.frame, data.features)
        return self._predictions[key]

    # ----------------------------------------------------------------- suites

    def load(self, path: Path) -> Suite:
        """Load a suite, applying the run's seed override."""
        suite = load_suite(path)
        if self.seed is not None:
            suite = dataclasses.replace(suite, seed=self.seed)
        return suite

    def spec_error(self, path: Path, exc: SpecError) -> SuiteOutcome:
        """Record a suite file that could not be read: one ``error`` result, the gate blocks."""
        outcome = SuiteOutcome(file=path, suite=None, results=[spec_error_result(path, exc)],
                               error=str(exc))
        self.outcomes.append(outcome)
        return outcome

    def champion_path(self, suite: Suite) -> Path | None:
        """The champion's model file: the override, else the suite's ``champion:``; a
        ``registry:``/``mlflow:`` reference resolves to a file whose bytes :meth:`model`
        checks against the registry's sha256."""
        from .registry import RegistryError, is_reference, registry_root, resolve

        if self.no_champion:
            return None
        ref = self.champion_override if self.champion_override is not None else suite.champion
        if ref is None:
            return None
        if isinstance(ref, Path):
            return ref
        if not is_reference(ref):
            return (suite.base_dir / ref).resolve()
        if ref not in self.references:  # once per run, so every suite sees the same version
            try:
                found: Any = resolve(ref, registry_root(self.registry))
                self._expected[found.path.resolve()] = found
            except RegistryError as exc:
                found = ModelLoadError(ref, str(exc).removeprefix(f"{ref}: "))
            except EvalgateError as exc:
                found = exc
            self.references[ref] = found
        found = self.references[ref]
        if isinstance(found, EvalgateError):
            raise found
        return Path(found.path)

    def out_of_time(self) -> bool:
        """Whether the gate's deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def late_message(self, what: str) -> str:
        return f"the gate's time limit of {self.timeout_s:g} s was reached before {what}"

    def run_suite(self, suite: Suite, selected: Collection[str] | None = None) -> SuiteOutcome:
        """Evaluate ``suite`` (only the ``selected`` check ids, when given). Past the gate's
        deadline every check is ``error``; model calls are cut at the deadline."""
        started = time.perf_counter()
        plans = [p for p in plan_checks(suite)
                 if selected is None or suite.check_id(p.family, p.name) in selected]
        outcome = SuiteOutcome(file=suite.path, suite=suite, results=[])
        if self.out_of_time():
            outcome.error = self.late_message("this suite ran")
            outcome.results = [error_result(suite, p, outcome.error) for p in plans]
            self.outcomes.append(outcome)
            return outcome
        previous = model_deadline()
        set_deadline(self.deadline, self.timeout_s)
        try:
            # evalgate's warnings policy, not the host's filterwarnings: the same inputs give
            # the same verdict under pytest --evalgate and evalgate run
            with model_warnings():
                outcome.results = self._evaluate(suite, plans, selected, outcome)
        except EvalgateError as exc:
            outcome.error = str(exc)
            outcome.results = [error_result(suite, p, str(exc)) for p in plans]
        except Exception as exc:  # noqa: BLE001 - fail closed on our own bugs too
            outcome.error = f"internal error ({type(exc).__name__}: {exc}); please report it"
            outcome.results = [error_result(suite, p, outcome.error) for p in plans]
        finally:
            set_deadline(*previous)
        outcome.duration_s = time.perf_counter() - started
        self.outcomes.append(outcome)
        return outcome

    def _evaluate(self, suite: Suite, plans: list[CheckPlan], selected: Collection[str] | None,
                  outcome: SuiteOutcome) -> list[CheckResult]:
        clock = _Clock(outcome.timings)
        candidate = self.model(self.candidate_ref)
        outcome.candidate = candidate.info
        champion_path = self.champion_path(suite)
        champion = None
        if champion_path is not None:
            try:
                champion = self.model(champion_path)
            except ModelLoadError as exc:
                raise ModelLoadError(exc.path, f"champion: {exc.problem}") from None
            outcome.champion = champion.info
            found = self._expected.get(champion_path.resolve())
            if found is not None:
                outcome.champion_registry = {"ref": found.ref, "name": found.name,
                                             "version": found.version}
        clock.lap("load_models")

        data = load_dataset(suite.data)
        outcome.dataset = data
        target = encode_target(data, suite.task, suite.data.positive_label,
                               suite.data.label_map)
        clock.lap("load_data")
        raws = {"candidate": self.raw_predictions(candidate, data)}
        if champion is not None:
            raws["champion"] = self.raw_predictions(champion, data)
        outcome.inputs = {"candidate": candidate.describe_inputs()}
        if champion is not None:
            outcome.inputs["champion"] = champion.describe_inputs()
        if suite.task == "multiclass":
            target = dataclasses.replace(
                target, classes=class_universe(target, list(raws.values())))
        preds: dict[str, Predictions] = {}
        for role, raw in raws.items():
            model = candidate if role == "candidate" else champion
            assert model is not None
            preds[role] = canonical(raw, suite.task, target, model.info, data.rows)
            match = preds[role].classes
            if match is not None:
                outcome.inputs[role] = {**outcome.inputs[role], "classes": match.as_dict()}
        clock.lap("predict")
        outcome.plots = suite_plots(suite.task, target, preds,
                                    np.random.default_rng(suite.seed))

        reason = ("no champion given (a first release): comparisons are skipped and the value "
                  "thresholds alone decide")
        models = {"candidate": candidate} if champion is None else {
            "candidate": candidate, "champion": champion}
        variants: dict[tuple[str, str], Predictions] = {}

        def predict(role: str, frame: Any, variant: str) -> Predictions:
            """Canonical predictions of ``role`` on ``frame``, once per (role, variant)."""
            key = (role, variant)
            if key not in variants:
                model = models[role]
                raw = model.predict(frame, data.features)
                variants[key] = canonical(raw, suite.task, target, model.info, len(frame))
            return variants[key]

        ctx = EvalContext(suite=suite, target=target, candidate=preds["candidate"],
                          champion=preds.get("champion"), no_champion_reason=reason,
                          data=data, predict=predict, models=models)
        results: list[CheckResult] = []
        for family, (_, run) in families().items():
            if self.out_of_time():
                late = self.late_message(f"the {family} checks ran")
                results.extend(error_result(suite, p, late) for p in plans if p.family == family)
                continue
            results.extend(finite_or_error(r) for r in run(ctx, selected))
            clock.lap(family)
        return results


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


class _Clock:
    """Accumulates the seconds spent in each stage into ``timings``."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.t
        self.t = now


def evaluate_paths(gate: Gate, paths: list[Path]) -> list[SuiteOutcome]:
    """Run every suite file in ``paths`` (the CLI's path; pytest drives suites one by one)."""
    outcomes = []
    for path in paths:
        try:
            suite = gate.load(path)
        except SpecError as exc:
            outcomes.append(gate.spec_error(path, exc))
            continue
        outcomes.append(gate.run_suite(suite))
    return outcomes
