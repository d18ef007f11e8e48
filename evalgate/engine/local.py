"""The in-memory engine: one suite's rows in one pandas frame, predicted once per model and
data variant, every family run on the cached predictions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import Dataset, encode_target, load_dataset
from ..data.fingerprint import row_hashes, rows_digest, sketch
from ..data.read import load_estimate_from
from ..data.repeats import KEY as REPEATS_KEY
from ..data.repeats import RepeatedRows, repeated_problem
from ..errors import DataError, ModelLoadError, SpecError
from ..families import CheckPlan, CheckResult, EvalContext, error_result, registered
from ..families.base import Family, Reduction, row_keys, salted
from ..models import Model, RawPrediction
from ..models.chance import reversed_labels
from ..models.predictions import Predictions, canonical, class_universe
from ..models.text import shared_feeds
from ..spec import Suite
from .isolate import run_family
from .outcome import Clock, SuiteOutcome, finite_or_error
from .trials import Spending, Trial, hashed_columns

if TYPE_CHECKING:
    from .gate import Gate

NO_CHAMPION = ("no champion given (a first release): comparisons are skipped and the value "
               "thresholds alone decide")


def load_models(gate: Gate, suite: Suite, outcome: SuiteOutcome) -> dict[str, Model]:
    """The candidate and (when there is one) the champion, recorded in ``outcome``."""
    candidate = gate.model(gate.candidate_ref)
    outcome.candidate = candidate.info
    models = {"candidate": candidate}
    champion_path = gate.champion_path(suite)
    if champion_path is not None:
        try:
            models["champion"] = gate.model(champion_path)
        except ModelLoadError as exc:
            raise ModelLoadError(exc.path, f"champion: {exc.problem}") from None
        outcome.champion = models["champion"].info
        outcome.champion_registry = gate.registry_source(champion_path)
    return models


def evaluate(gate: Gate, suite: Suite, plans: Sequence[CheckPlan],
             outcome: SuiteOutcome) -> list[CheckResult]:
    """Every planned check of ``suite``; each family isolated (:func:`run_family`)."""
    clock = Clock(outcome.timings)
    gate.progress(f"{suite.name}: loading the models")
    models = load_models(gate, suite, outcome)
    clock.lap("load_models")

    reductions = _reductions(suite, plans)
    data, raws, hashes, inputs, states = _read_and_predict(gate, suite, plans, models,
                                                           reductions)
    clock.lap("read_and_predict")
    outcome.dataset = data
    repeated = repeated_problem(suite.data, states.pop(REPEATS_KEY, np.zeros(0, np.uint64)))
    if repeated is not None:
        raise DataError(suite.data.path, repeated)
    labelled = None
    if data.target is None:  # no labels: the classes are those of the labelled rows
        reference = outcome.labelled = load_estimate_from(suite.data, data.features)
        _no_copies(suite, reference)
        labelled = (reference, encode_target(reference, suite.task, suite.data.positive_label,
                                             suite.data.label_map))
        target = dataclasses.replace(labelled[1], y=np.zeros(0, dtype=np.int8))
    else:
        target = encode_target(data, suite.task, suite.data.positive_label,
                               suite.data.label_map)
    outcome.inputs = inputs
    if suite.task == "multiclass":
        target = dataclasses.replace(target, classes=class_universe(target, list(raws.values())))
    preds: dict[str, Predictions] = {}
    for role, raw in raws.items():
        preds[role] = canonical(raw, suite.task, target, models[role].info, data.rows)
        match = preds[role].classes
        if match is not None:
            outcome.inputs[role] = {**outcome.inputs[role], "classes": match.as_dict()}
    reversed_problem = reversed_labels(target, preds, suite.confidence)
    if reversed_problem is not None:
        raise SpecError(suite.path, suite.data.line, "data", reversed_problem)
    del raws, raw  # the canonical predictions are what is judged; the raw ones can go
    release_memory()
    outcome.target, outcome.predictions = target, preds
    clock.lap("predict")

    variants: dict[tuple[str, str], Predictions] = {}
    current = ["checks"]  # the family at work, for the progress line

    def predict(role: str, frame: Any, variant: str) -> Predictions:
        """Canonical predictions of ``role`` on ``frame``, once per (role, variant)."""
        key = (role, variant)
        if key not in variants:
            gate.progress(f"{suite.name}: {current[0]}: predicting {len(frame):,} {variant} "
                          f"rows with the {role}")
            raw = models[role].predict(frame, data.features)
            variants[key] = canonical(raw, suite.task, target, models[role].info, len(frame))
        return variants[key]

    trial, spending = _trial(gate, suite, plans, models, data, hashes)
    if spending is not None:
        outcome.spending = spending
        if spending.alpha_used < spending.alpha:  # judged at the level the tries leave
            suite = dataclasses.replace(suite, confidence=1 - spending.alpha_used)
    ctx = EvalContext(suite=suite, target=target, candidate=preds["candidate"],
                      champion=preds.get("champion"), no_champion_reason=NO_CHAMPION,
                      data=data, predict=predict, models=models, labelled=labelled,
                      states=states, run_cache=gate.run_cache)
    outcome.states = states
    results = _run_families(gate, suite, plans, ctx, clock, current)
    if trial is not None and spending is not None and gate.ledger is not None:
        gate.ledger.record(trial, spending, "promote" if _passed(results) else "block")
    return results


def _run_families(gate: Gate, suite: Suite, plans: Sequence[CheckPlan], ctx: EvalContext,
                  clock: Clock, current: list[str]) -> list[CheckResult]:
    """Each family on its plans, isolated; past the deadline its checks are errors. On a
    distributed engine a line per family says where a long run is."""
    results: list[CheckResult] = []
    for family in registered():
        mine = [p for p in plans if p.family == family.name]
        if not mine:
            continue
        if gate.out_of_time():
            late = gate.late_message(f"the {family.name} checks ran")
            results.extend(error_result(suite, p, late) for p in mine)
            continue
        current[0] = family.name
        gate.progress(f"{suite.name}: {family.name}: {len(mine)} "
                      f"check{'s' if len(mine) != 1 else ''}")
        results.extend(finite_or_error(r) for r in _once_per_run(gate, family, ctx, mine))
        clock.lap(family.name)
        if gate.engine is not None:
            gate.engine.say(f"evalgate: {suite.name}: {family.name} checked "
                            f"({len(mine)} checks, {clock.timings[family.name]:.1f} s)")
    return results


def _once_per_run(gate: Gate, family: Family, ctx: EvalContext, plans: Sequence[CheckPlan]
                  ) -> list[CheckResult]:
    """``family`` on ``plans``, each check that reads no model (``Family.model_free``) taken
    from the run's earlier judging of it where there was one: the same suite file, level and
    seed, the same rows, and the same contents of the files the check reads. A result that
    is an error is not kept (the next challenger's gate tries again)."""
    if family.model_free is None:
        return run_family(family, ctx, plans)
    key = {name: ctx.run_key("model-free", family.name, name, *inputs)
           for name, inputs in family.model_free(plans).items()}
    known = {name: ctx.run_cache[k] for name, k in key.items() if k in ctx.run_cache}
    fresh = iter(run_family(family, ctx, [p for p in plans if p.name not in known]))
    out = [known[p.name] if p.name in known else next(fresh) for p in plans]
    for p, r in zip(plans, out, strict=True):
        if p.name in key and r.status != "error":
            ctx.run_cache.setdefault(key[p.name], r)
    return out


def _reductions(suite: Suite, plans: Sequence[CheckPlan]) -> list[Reduction]:
    """What the planned families ask the rows to be reduced to (:class:`Reduction`)."""
    out: dict[str, Reduction] = {}
    if suite.data.repeated_rows is None:  # copies narrow every interval: counted on every engine
        out[REPEATS_KEY] = RepeatedRows(suite.data)
    for family in registered():
        mine = [p for p in plans if p.family == family.name]
        if mine and family.reductions is not None:
            for r in family.reductions(suite, mine):
                out.setdefault(r.key, r)  # asked twice (latency and stress: the pool): once
    return list(out.values())


def _read_and_predict(gate: Gate, suite: Suite, plans: Sequence[CheckPlan],
                      models: dict[str, Model], reductions: Sequence[Reduction]
                      ) -> tuple[Dataset, dict[str, RawPrediction], np.ndarray | None,
                                 dict[str, dict[str, Any]], dict[str, Any]]:
    """The suite's rows, each model's raw predictions of them, how each model was fed and the
    families' reductions of the rows: read and predicted here (the local engine), or by the
    distributed engine's workers, partition by partition — then with the rows' hashes for
    the ledger, and only the columns the checks read."""
    if gate.engine is None:
        gate.progress(f"{suite.name}: reading the data")
        data = load_dataset(suite.data)
        raws = {}
        with shared_feeds():  # a text column is converted once for both models
            for role, m in models.items():
                gate.progress(f"{suite.name}: predicting {data.rows:,} rows with the {role}")
                raws[role] = gate.raw_predictions(m, data)
        keys = row_keys(0, data.rows)
        states = {r.key: r.merge([r.of(data.frame, keys)]) for r in salted(reductions,
                                                                            data.sha256)}
        return (data, raws, None, {role: m.describe_inputs() for role, m in models.items()},
                states)
    reads_rows = {f.name for f in registered() if f.reads_rows}
    scan = gate.engine.scan(
        suite.data, models, trust_pickle=gate.trust_pickle, trusted_types=gate.trusted_types,
        keep_features=any(p.family in reads_rows for p in plans),
        hash_rows=gate.ledger is not None and "champion" in models,
        deadline=gate.deadline, label=suite.name, reductions=tuple(reductions))
    return scan.dataset, scan.raws, scan.hashes, scan.inputs, scan.states



def release_memory() -> None:
    """Hand the memory freed so far back to the operating system (glibc keeps freed blocks
    of a few MB in its heap otherwise, and the process's resident size with them); a no-op
    where there is no glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        return


def _no_copies(suite: Suite, labelled: Dataset) -> None:
    """The labelled rows CBPE is calibrated on, refused as the evaluation rows are when they
    repeat (:mod:`evalgate.data.repeats`): copies narrow every estimated bound."""
    if suite.data.repeated_rows is not None or suite.data.estimate_from is None:
        return
    spec = dataclasses.replace(suite.data, path=suite.data.estimate_from.path,
                               target=suite.data.estimate_from.target,
                               features=labelled.features, exclude=(), key=None, files=())
    r = RepeatedRows(spec).salted(labelled.sha256)
    problem = repeated_problem(spec, r.of(labelled.frame, row_keys(0, labelled.rows)))
    if problem is not None:
        raise DataError(spec.path, f"the labelled rows (data.estimate_from): {problem}")


def _trial(gate: Gate, suite: Suite, plans: Sequence[CheckPlan], models: dict[str, Model],
           data: Dataset, hashes: np.ndarray | None
           ) -> tuple[Trial | None, Spending | None]:
    """This suite as a try against the champion, and what the ledger makes of it (``None``
    without a champion or a ledger: nothing to count). ``hashes``: the rows' hashes, sorted,
    when the engine computed them (over the same columns: :func:`hashed_columns`)."""
    if gate.ledger is None or "champion" not in models:
        return None, None
    if hashes is None:
        columns = hashed_columns(models["champion"].describe_inputs(), data.features,
                                 data.target)
        hashes = row_hashes(data.frame[columns])
    trial = Trial(suite=suite.name, suite_sha256=suite.sha256,
                  candidate=models["candidate"].info.sha256,
                  champion=models["champion"].info.sha256, dataset=data.sha256,
                  rows=data.rows, row_hashes=hashes, sketch=sketch(hashes),
                  rows_sha256=rows_digest(hashes),
                  checks=tuple(sorted({f"{p.family}::{p.name}" for p in plans})),
                  seed=suite.seed, n_resamples=suite.n_resamples,
                  confidence=suite.confidence)
    # α as the suite wrote it (1 − 0.95 is 0.050000000000000044 in floating point)
    return trial, gate.ledger.spend(trial, round(1 - suite.confidence, 12))


def _passed(results: Sequence[CheckResult]) -> bool:
    """Whether this suite's checks alone would promote (the rule of evalgate.verdict.decide:
    no blocking check failed or errored, and one passed)."""
    blocking = [r.status for r in results if r.blocking]
    return "pass" in blocking and not {"fail", "error"} & set(blocking)
