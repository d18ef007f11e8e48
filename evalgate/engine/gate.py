"""The gate: one run over the suites. :class:`Gate` loads each model once, resolves the
champion, keeps every cache of the run, applies the deadline, and evaluates each suite with
every family isolated from the others (:mod:`.local`, :mod:`.isolate`).

Bad input never escapes as a traceback: a suite that cannot be evaluated turns each of its
checks into an ``error`` result carrying one clear message.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import is_reference
from ..data import Dataset
from ..errors import TAMPERED, EvalgateError, ModelLoadError, SpecError
from ..families import error_result, load_suite, plan_checks
from ..models import Model, RawPrediction, load_model, model_warnings, set_deadline
from ..models import deadline as model_deadline
from ..spec import Suite
from .outcome import SuiteOutcome, spec_error_result
from .trials import Ledger

if TYPE_CHECKING:
    from .dask import DaskEngine


class Resolved(Protocol):
    """A registry reference resolved to one model file and the sha256 its bytes must have."""

    @property
    def ref(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def path(self) -> Path: ...
    @property
    def sha256(self) -> str: ...
    @property
    def lineage(self) -> Mapping[str, Any] | None: ...


#: turns ``registry:NAME@champion`` or ``mlflow:NAME@3`` into the model file it names
Resolver = Callable[[str], Resolved]
NO_RESOLVER = ("{ref}: this gate cannot resolve registry references (no registry given); "
               "name the champion's model file instead")


class Gate:
    """One gate run: the candidate, an optional champion override, and the caches.

    ``resolve`` turns a registry reference (``registry:NAME@champion``) into the file it
    names; the front ends pass :func:`evalgate.registry.resolver`. ``ledger`` counts the
    candidates tried against a champion and the looks at one candidate on growing rows, and
    sets the level each suite's comparisons are judged at (:mod:`evalgate.stats.spending`)."""

    def __init__(self, candidate: str | Path, *, champion: str | Path | None = None,
                 seed: int | None = None, trust_pickle: bool = False,
                 resolve: Resolver | None = None, no_champion: bool = False,
                 timeout_s: float | None = None, ledger: Ledger | None = None,
                 engine: DaskEngine | None = None, trusted_types: Sequence[str] = (),
                 progress: Callable[[str], None] | None = None):
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
        #: the type names a skops model file may hold beyond skops' defaults
        self.trusted_types = tuple(trusted_types)
        #: where the gate says what it is working on (a front end's progress line)
        self.progress: Callable[[str], None] = progress or (lambda line: None)
        #: judge without any champion (a first release), whatever the suites say
        self.no_champion = no_champion
        self.resolve = resolve
        #: counts the tries against each champion (evalgate.registry.attempts); None: uncounted
        self.ledger = ledger
        #: the distributed engine that scans the data (``None``: the local engine, in memory)
        self.engine = engine
        #: references resolved in this run (each once, so every suite sees the same version)
        self.references: dict[str, Resolved | EvalgateError] = {}
        self._expected: dict[Path, Resolved] = {}  # resolved file → the sha256 it must have
        self._models: dict[Path, Model | EvalgateError] = {}
        self._predictions: dict[tuple[str, str, tuple[str, ...]], RawPrediction] = {}
        #: what is judged or measured once for the run (``EvalContext.run_cache``: the checks
        #: that read no model, the champion's malformed-input outcomes): a challenger's gate
        #: (:func:`~evalgate.engine.challengers.sibling`) shares the dict
        self.run_cache: dict[Any, Any] = {}
        self.outcomes: list[SuiteOutcome] = []

    # ----------------------------------------------------------------- caches

    def model(self, path: Path) -> Model:
        key = path.resolve()
        if key not in self._models:
            try:
                self._models[key] = load_model(path, trust_pickle=self.trust_pickle,
                                               trusted_types=self.trusted_types)
            except EvalgateError as exc:
                self._models[key] = exc
        found = self._models[key]
        if isinstance(found, EvalgateError):
            raise found
        expected = self._expected.get(key)
        if expected is not None and found.info.sha256 != expected.sha256:
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

    def registry_source(self, path: Path) -> dict[str, Any] | None:
        """``{ref, name, version}`` (and the version's ``lineage``) when ``path`` is a
        champion resolved from a registry."""
        found = self._expected.get(path.resolve())
        if found is None:
            return None
        source = {"ref": found.ref, "name": found.name, "version": found.version}
        return {**source, "lineage": dict(found.lineage)} if found.lineage else source

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
            self.references[ref] = self._resolve(ref)
        found = self.references[ref]
        if isinstance(found, EvalgateError):
            raise found
        return Path(found.path)

    def _resolve(self, ref: str) -> Resolved | EvalgateError:
        if self.resolve is None:
            return ModelLoadError(ref, NO_RESOLVER.format(ref=ref).removeprefix(f"{ref}: "))
        try:
            found = self.resolve(ref)
        except EvalgateError as exc:
            return ModelLoadError(ref, str(exc).removeprefix(f"{ref}: "))
        self._expected[Path(found.path).resolve()] = found
        return found

    def out_of_time(self) -> bool:
        """Whether the gate's deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def late_message(self, what: str) -> str:
        return f"the gate's time limit of {self.timeout_s:g} s was reached before {what}"

    def run_suite(self, suite: Suite, selected: Collection[str] | None = None) -> SuiteOutcome:
        """Evaluate ``suite`` (only the ``selected`` check ids, when given). Past the gate's
        deadline every check is ``error``; model calls are cut at the deadline."""
        from .local import evaluate

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
                outcome.results = evaluate(self, suite, plans, outcome)
        except EvalgateError as exc:
            outcome.error = str(exc)
            outcome.results = [error_result(suite, p, str(exc)) for p in plans]
        except Exception as exc:
            outcome.error = f"internal error ({type(exc).__name__}: {exc}); please report it"
            outcome.results = [error_result(suite, p, outcome.error) for p in plans]
        finally:
            set_deadline(*previous)
        outcome.duration_s = time.perf_counter() - started
        self.outcomes.append(outcome)
        return outcome


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
