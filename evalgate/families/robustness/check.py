"""The robustness family: perturbations, counterfactual invariance, monotonic properties.

One check per perturbation, per ``invariant_to`` column and per ``monotonic`` column
(``robustness::gaussian_noise``, ``robustness::invariant_to::race``,
``robustness::monotonic::education-num``).

- A **perturbation** is drawn once, seeded by the suite seed and the check id, and both models
  predict that same frame (``ctx.predict``, cached per (model, variant)). A row *flips* when
  its predicted label changes (classification) or its prediction moves by more than
  ``tolerance`` of itself (regression). Gates: ``max_flip_rate`` bounds the candidate's flip
  rate (point estimate; its Wilson interval is reported); ``max_regression: {metric: m}``
  bounds the drop of the metric from clean to perturbed rows by the paired one-sided bound of
  :func:`evalgate.stats.assess`; ``max_flip_rate_increase: m`` compares with the champion on
  the very same rows: Δ = champion flip rate − candidate flip rate, and the check passes iff
  Newcombe's paired lower bound of Δ is ≥ −m.
- **invariant_to** builds, for every row, a counterfactual row with each other observed value
  of the column (the most frequent :data:`MAX_COUNTERFACTUAL_VALUES`), and counts a row as
  flipped when any of its counterfactuals flips; gated like a perturbation.
- **monotonic** is a property test: a batch sweep of sampled rows over the column's observed
  grid (both models, one prediction each), then hypothesis (seeded from the suite seed, no
  database) moving real rows within the observed range and shrinking a failure to a minimal
  counterexample: the row, the value before and after, the score before and after.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...data import Dataset, label_key, plain
from ...errors import CheckError, EvalgateError, ModelOutputError, SpecError, did_you_mean
from ...metrics import get_metric
from ...models.predictions import Predictions
from ...spec import Suite
from ...stats import PairedFlips, assess, newcombe_paired
from ...stats import wilson_bounds as wilson
from ..base import CheckPlan, CheckResult, EvalContext, Status, error_result
from . import perturb
from .spec import (
    DEFAULT_TOLERANCE,
    Gates,
    InvarianceSpec,
    MonotonicSpec,
    PerturbationSpec,
    RobustnessSpec,
)

FAMILY = "robustness"
#: invariant_to tries at most this many values of a column (the most frequent ones)
MAX_COUNTERFACTUAL_VALUES = 20
#: the monotonic sweep uses every observed value up to this many, else as many quantiles
MAX_GRID = 64
#: flipped rows listed in the details of an invariance check
MAX_EXAMPLES = 5


def _spec(suite: Suite) -> RobustnessSpec | None:
    return suite.families.get(FAMILY)


def plan(suite: Suite) -> list[CheckPlan]:
    spec = _spec(suite)
    if spec is None:
        return []
    return ([CheckPlan(FAMILY, p.name, p.line, p.gates.blocking, subject=p)
             for p in spec.perturbations]
            + [CheckPlan(FAMILY, i.name, i.line, i.gates.blocking, subject=i)
               for i in spec.invariant_to]
            + [CheckPlan(FAMILY, m.name, m.line, m.blocking, subject=m) for m in spec.monotonic])


def run(ctx: EvalContext, plans: Sequence[CheckPlan]) -> list[CheckResult]:
    out = []
    for p in plans:
        try:
            out.append(_evaluate(ctx, p.subject))
        except EvalgateError as exc:
            out.append(error_result(ctx.suite, p, str(exc)))
    return out


def _evaluate(ctx: EvalContext, subject: Any) -> CheckResult:
    if isinstance(subject, PerturbationSpec):
        return evaluate_perturbation(ctx, subject)
    if isinstance(subject, InvarianceSpec):
        return evaluate_invariance(ctx, subject)
    return evaluate_monotonic(ctx, subject)


# --------------------------------------------------------------------------- proportions


# --------------------------------------------------------------------------- shared helpers


def _pct(confidence: float) -> str:
    return f"{confidence:.0%}" if confidence * 100 == int(confidence * 100) else \
        f"{confidence:.1%}"


def _data(ctx: EvalContext) -> Dataset:
    if ctx.data is None:
        raise CheckError("the robustness family needs the dataset; this runner gives none")
    return ctx.data


def _predict(ctx: EvalContext) -> Callable[[str, Any, str], Predictions]:
    if ctx.predict is None:
        raise CheckError("the robustness family needs to predict on other rows; this runner "
                         "cannot")
    return ctx.predict


def _flips(task: str, clean: np.ndarray, other: np.ndarray, tolerance: float | None
           ) -> np.ndarray:
    """Rows whose prediction changed: another label, or (regression) a relative move."""
    if task == "regression":
        tol = DEFAULT_TOLERANCE if tolerance is None else tolerance
        return np.abs(other - clean) > tol * np.abs(clean)
    return other != clean


def _champion(ctx: EvalContext, frame: Any, variant: str,
              notes: list[str]) -> Predictions | None:
    """The champion's predictions on ``frame``, or ``None`` (with the reason in ``notes``)."""
    if ctx.champion is None:
        return None
    predict = _predict(ctx)
    try:
        return predict("champion", frame, variant)
    except ModelOutputError as exc:
        notes.append(f"the champion cannot predict these rows ({exc.problem}), so no "
                     f"comparison with it")
        return None


def _candidate(ctx: EvalContext, frame: Any, variant: str, what: str) -> Predictions:
    try:
        return _predict(ctx)("candidate", frame, variant)
    except ModelOutputError as exc:
        raise ModelOutputError(exc.path, f"on {what}: {exc.problem}") from None


def _feature(ctx: EvalContext, column: str, line: int, key: str) -> None:
    data = _data(ctx)
    if column not in data.frame.columns:
        hint = did_you_mean(column, data.features)
        raise SpecError(ctx.suite.path, line, key,
                        f"column {column!r} is not in the data{hint}; feature columns: "
                        f"{', '.join(data.features)}")
    if column not in data.features:
        raise SpecError(ctx.suite.path, line, key, f"column {column!r} is not a feature "
                                                   f"(features: {', '.join(data.features)})")


@dataclass
class _Gated:
    """Texts collected while judging a check: what failed, what passed, facts shown first
    (``info``) and remarks shown last (``notes``)."""

    fails: list[str]
    passes: list[str]
    notes: list[str]
    info: list[str] = field(default_factory=list)

    def status(self) -> Status:
        return "fail" if self.fails else "pass" if self.passes else "skip"

    def message(self, fallback: str, advice: str) -> str:
        lines = (self.fails + self.passes) if self.fails else (self.passes or [])
        text = "; ".join((self.info + lines + self.notes) or [fallback])
        if self.fails:
            text += ". " + advice
        return text


def _flip_gates(ctx: EvalContext, gates: Gates, flips: np.ndarray,
                champ_flips: np.ndarray | None, what: str, g: _Gated,
                details: dict[str, Any]) -> tuple[PairedFlips | None, tuple[float, float]]:
    """Judge ``max_flip_rate`` and ``max_flip_rate_increase``; fill ``details``."""
    conf = ctx.suite.confidence
    pct = _pct(conf)
    n = len(flips)
    k = int(np.count_nonzero(flips))
    rate = k / n
    lo, hi = wilson(k, n, conf)
    details.update({"n": n, "flips": k, "flip_rate": rate, "flip_rate_ci": [lo, hi],
                    "flip_rate_method": "wilson"})
    head = (f"{what} flip rate {rate:.4f} ({k:,} of {n:,} rows; {pct} Wilson upper bound "
            f"{hi:.4f})")
    if gates.max_flip_rate is None:
        g.info.append(head)
    elif rate <= gates.max_flip_rate:
        g.passes.append(f"{head} ≤ max_flip_rate {gates.max_flip_rate:g}")
    else:
        g.fails.append(f"{head} is above max_flip_rate {gates.max_flip_rate:g}")
    paired = None
    if champ_flips is not None:
        paired = newcombe_paired(flips, champ_flips, conf)
        details.update({
            "champion_flips": int(np.count_nonzero(champ_flips)),
            "champion_flip_rate": paired.champion_rate,
            "champion_flip_rate_ci": list(wilson(paired.champion_rate * n, n, conf)),
            "paired": {"both": paired.both, "only_candidate": paired.only_candidate,
                       "only_champion": paired.only_champion},
            "delta_ci": [paired.lower, paired.upper], "delta_method": "newcombe-paired"})
    m = gates.max_flip_rate_increase
    if m is not None:
        if ctx.champion is None:
            g.notes.append(f"comparison with the champion skipped: {ctx.no_champion_reason}")
        elif paired is not None:
            text = (f"champion flip rate {paired.champion_rate:.4f} on the same rows, "
                    f"Δ = champion − candidate = {paired.estimate:+.4f}, one-sided {pct} lower "
                    f"bound {paired.lower:+.4f}")
            if paired.lower >= -m:
                g.passes.append(f"{text} ≥ {-m:+g} (max_flip_rate_increase {m:g})")
            else:
                more = ""
                if paired.estimate >= -m:
                    more = (" — inconclusive: the point estimate is within the margin but the "
                            "rows are too few to rule out a larger increase")
                    half = paired.estimate - paired.lower
                    rows = math.ceil(n * (half / (paired.estimate + m)) ** 2) if (
                        paired.estimate + m > 0) else None
                    if rows is not None:
                        details["rows_to_resolve_max_flip_rate_increase"] = rows
                        more += f" (about {rows:,} rows would resolve it at this effect size)"
                g.fails.append(f"{text} < {-m:+g} allowed by max_flip_rate_increase "
                               f"{m:g}{more}")
    return paired, (lo, hi)


def _result(ctx: EvalContext, name: str, gates: Gates, line: int, g: _Gated, message: str,
            rate: float, paired: PairedFlips | None, ci: tuple[float, float],
            details: dict[str, Any]) -> CheckResult:
    """The result of a flip check. As in the performance family, the champion's value, Δ and
    the interval of Δ are the top-level fields only when the check compares with the
    champion (``max_flip_rate_increase``); otherwise the champion's flips are details and
    ``ci`` bounds the candidate's flip rate."""
    common = dict(id=ctx.suite.check_id(FAMILY, name), family=FAMILY, name=name,
                  status=g.status(), blocking=gates.blocking, message=message,
                  metric="flip_rate", candidate=rate, confidence=ctx.suite.confidence,
                  threshold=gates.as_dict(), details=details, line=line)
    if paired is not None and gates.max_flip_rate_increase is not None:
        return CheckResult(champion=paired.champion_rate, delta=paired.estimate,
                           ci=(paired.lower, None), method="newcombe-paired",
                           **common)  # type: ignore[arg-type]
    return CheckResult(ci=(None, ci[1]), method="wilson", **common)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- perturbations


def perturbation_columns(ctx: EvalContext, spec: PerturbationSpec) -> list[str]:
    """The data columns a perturbation applies to, checked against the data."""
    data = _data(ctx)
    pert = spec.perturbation
    frame = data.frame
    if isinstance(spec.columns, str):
        selector = spec.columns
        if selector == "all" and pert.applies_to != "any":
            selector = pert.applies_to
        cols = perturb.select(frame, data.features, selector)  # type: ignore[arg-type]
        if not cols:
            raise SpecError(ctx.suite.path, spec.columns_line, "columns",
                            f"{spec.kind}: the data has no {selector} feature columns")
        return cols
    for c in spec.columns:
        _feature(ctx, c, spec.columns_line, "columns")
        kind = perturb.column_kind(frame[c])
        if pert.applies_to != "any" and kind != pert.applies_to:
            raise SpecError(ctx.suite.path, spec.columns_line, "columns",
                            f"{spec.kind} applies to {pert.applies_to} columns, but {c!r} is "
                            f"{kind} ({frame[c].dtype})")
    return list(spec.columns)


def perturbed_frame(ctx: EvalContext, spec: PerturbationSpec) -> tuple[pd.DataFrame, list[str]]:
    """The perturbed data of ``spec``: one realisation, seeded by the suite seed and check id."""
    data = _data(ctx)
    cols = perturbation_columns(ctx, spec)
    rng = ctx.rng(ctx.suite.check_id(FAMILY, spec.name))
    return perturb.apply(spec.kind, data.frame, cols, spec.params, rng), cols


def evaluate_perturbation(ctx: EvalContext, spec: PerturbationSpec) -> CheckResult:
    suite = ctx.suite
    data = _data(ctx)
    cid = suite.check_id(FAMILY, spec.name)
    conf, pct = suite.confidence, _pct(suite.confidence)
    frame, cols = perturbed_frame(ctx, spec)
    variant = f"{FAMILY}::{spec.name}"
    what = f"rows perturbed by {spec.name}"
    cand = _candidate(ctx, frame, variant, what)
    g = _Gated([], [], [])
    champ = _champion(ctx, frame, variant, g.notes)
    gates = spec.gates
    task = suite.task

    flips = _flips(task, ctx.candidate.label, cand.label, gates.tolerance)
    champ_flips = None
    if champ is not None and ctx.champion is not None:
        champ_flips = _flips(task, ctx.champion.label, champ.label, gates.tolerance)
    changed = perturb.changed_rows(data.frame, frame, cols)
    n_changed = int(changed.sum())
    details: dict[str, Any] = {
        "perturbation": {"type": spec.kind, "columns": cols,
                         "params": spec.perturbation.with_defaults(spec.params)},
        "rows_perturbed": n_changed,
        "flip_rate_among_perturbed": (float(np.count_nonzero(flips & changed)) / n_changed
                                      if n_changed else None),
    }
    if task == "regression":
        details["tolerance"] = DEFAULT_TOLERANCE if gates.tolerance is None else gates.tolerance
    paired, ci = _flip_gates(ctx, gates, flips, champ_flips, spec.name, g, details)

    metrics: dict[str, Any] = {}
    y = ctx.target.y
    for name, margin in gates.max_regression:
        metric = get_metric(name, task)
        res = assess(metric, y, cand.for_metric(metric), ctx.candidate.for_metric(metric),
                     confidence=conf, rng=ctx.rng(f"{cid}::{name}"),
                     n_resamples=suite.n_resamples)
        delta = res.delta
        assert delta is not None and res.champion_value is not None
        clean, pert = res.champion_value, res.value.estimate
        entry: dict[str, Any] = {"clean": clean, "perturbed": pert, "delta": delta.estimate,
                                 "lower": delta.lower, "method": delta.method,
                                 "max_regression": margin, "higher_is_better":
                                 metric.higher_is_better}
        if champ is not None and ctx.champion is not None:
            entry["champion_clean"] = float(metric.fn(y, ctx.champion.for_metric(metric)))
            entry["champion_perturbed"] = float(metric.fn(y, champ.for_metric(metric)))
        orient = ("" if metric.higher_is_better
                  else " (lower is better, so Δ = clean − perturbed)")
        text = (f"{name} {clean:.4f} → {pert:.4f} under {spec.name}, Δ = "
                f"{delta.estimate:+.4f}{orient}, one-sided {pct} lower bound {delta.lower:+.4f}")
        ok = delta.lower is not None and delta.lower >= -margin
        entry["passed"] = ok
        if ok:
            g.passes.append(f"{text} ≥ {-margin:+g} (max_regression {margin:g})")
        else:
            more = ""
            if delta.estimate >= -margin:
                more = (" — inconclusive: the point estimate is within the margin but the rows "
                        "are too few to rule out a larger drop")
                rows = delta.rows_to_resolve(margin)
                if rows is not None:
                    entry["rows_to_resolve_max_regression"] = rows
                    more += f" (about {rows:,} rows would resolve it at this effect size)"
            g.fails.append(f"{text} < {-margin:+g} allowed by max_regression {margin:g}{more}")
        metrics[name] = entry
    if metrics:
        details["metrics"] = metrics
    rate = float(np.count_nonzero(flips)) / len(flips)
    message = g.message(f"{spec.name} flip rate {rate:.4f}",
                        f"The candidate is fragile under {spec.name} "
                        f"({', '.join(cols)}); make it robust to such input, or revise the "
                        f"threshold if this perturbation is not a realistic risk.")
    return _result(ctx, spec.name, gates, spec.line, g, message, rate, paired, ci, details)


# --------------------------------------------------------------------------- invariance


def counterfactuals(frame: pd.DataFrame, column: str, limit: int = MAX_COUNTERFACTUAL_VALUES
                    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.Index, int]:
    """Every row with each other observed value of ``column`` (the ``limit`` most frequent):
    the counterfactual frame, the source row of each counterfactual row, the code of the
    value it got, the values, and how many distinct values the column has."""
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")[:limit]
    rows = [np.flatnonzero(codes != j) for j in order]
    source = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    value = np.concatenate([np.full(len(r), j) for r, j in zip(rows, order)]) if rows else \
        np.empty(0, dtype=np.int64)
    cf = frame.take(source).reset_index(drop=True)
    col = frame[column]
    values = pd.Series(uniques.take(value), name=column)
    cf[column] = values if values.dtype == col.dtype else values.astype(col.dtype)
    return cf, source, value, uniques, len(uniques)


def evaluate_invariance(ctx: EvalContext, spec: InvarianceSpec) -> CheckResult:
    suite = ctx.suite
    data = _data(ctx)
    _feature(ctx, spec.column, spec.line, "invariant_to")
    frame = data.frame
    n = len(frame)
    cf, source, value, uniques, distinct = counterfactuals(frame, spec.column)
    if distinct < 2:
        return CheckResult(id=suite.check_id(FAMILY, spec.name), family=FAMILY, name=spec.name,
                           status="fail", blocking=spec.gates.blocking,
                           message=f"inconclusive: {spec.column} has a single value in the data, "
                                   f"so there is no counterfactual to try; evaluate on data "
                                   f"with other values of {spec.column}, or drop it from "
                                   f"invariant_to", line=spec.line,
                           threshold=spec.gates.as_dict())
    variant = f"{FAMILY}::{spec.name}"
    what = f"counterfactual rows of {spec.column}"
    cand = _candidate(ctx, cf, variant, what)
    g = _Gated([], [], [])
    champ = _champion(ctx, cf, variant, g.notes)
    gates, task = spec.gates, suite.task

    pair_flips = _flips(task, ctx.candidate.label[source], cand.label, gates.tolerance)
    flips = np.bincount(source, weights=pair_flips, minlength=n) > 0
    champ_flips = None
    if champ is not None and ctx.champion is not None:
        champ_pairs = _flips(task, ctx.champion.label[source], champ.label, gates.tolerance)
        champ_flips = np.bincount(source, weights=champ_pairs, minlength=n) > 0
    tried = np.bincount(value, minlength=len(uniques))
    flipped = np.bincount(value, weights=pair_flips, minlength=len(uniques))
    per_value = {str(plain(uniques[j])): {"rows": int(tried[j]), "flips": int(flipped[j]),
                                          "flip_rate": flipped[j] / tried[j]}
                 for j in np.flatnonzero(tried)}
    details: dict[str, Any] = {
        "column": spec.column, "values_tried": len(per_value), "distinct_values": distinct,
        "counterfactual_rows": len(cf), "pair_flips": int(pair_flips.sum()),
        "pair_flip_rate": float(pair_flips.mean()) if len(cf) else 0.0,
        "per_value": per_value, "examples": _flip_examples(ctx, spec.column, source, value,
                                                             uniques, pair_flips, cand)}
    if distinct > MAX_COUNTERFACTUAL_VALUES:
        g.notes.append(f"{spec.column} has {distinct} values; the {MAX_COUNTERFACTUAL_VALUES} "
                       f"most frequent were tried")
    if task == "regression":
        details["tolerance"] = DEFAULT_TOLERANCE if gates.tolerance is None else gates.tolerance
    paired, ci = _flip_gates(ctx, gates, flips, champ_flips, f"counterfactual {spec.column}",
                             g, details)
    rate = float(flips.mean())
    message = g.message(f"counterfactual {spec.column} flip rate {rate:.4f}",
                        f"The candidate's predictions depend on {spec.column}; if it must "
                        f"not, retrain without it (and its proxies) or constrain the model.")
    return _result(ctx, spec.name, gates, spec.line, g, message, rate, paired, ci, details)


def _flip_examples(ctx: EvalContext, column: str, source: np.ndarray, value: np.ndarray,
                   uniques: pd.Index, pair_flips: np.ndarray,
                   cand: Predictions) -> list[dict[str, Any]]:
    frame = _data(ctx).frame
    out = []
    for k in np.flatnonzero(pair_flips)[:MAX_EXAMPLES]:
        row = int(source[k])
        out.append({"data_row": row + 1, "from": plain(frame[column].iloc[row]),
                    "to": plain(uniques[value[k]]),
                    "before": _shown(ctx, ctx.candidate, row),
                    "after": _shown(ctx, cand, int(k))})
    return out


def _shown(ctx: EvalContext, pred: Predictions, i: int) -> Any:
    """One prediction for a message: the class label, or the value (regression)."""
    if ctx.suite.task == "regression":
        return float(pred.label[i])
    classes = ctx.target.classes or ()
    code = int(pred.label[i])
    return plain(classes[code]) if code < len(classes) else code


# --------------------------------------------------------------------------- monotonic


class _Violation(Exception):
    def __init__(self, case: tuple[int, float, float], before: float, after: float):
        super().__init__(case)
        self.case, self.before, self.after = case, before, after


def _score_fn(ctx: EvalContext, spec: MonotonicSpec) -> tuple[Callable[[Predictions],
                                                                         np.ndarray], str]:
    """The score the property is about, and its name for messages."""
    task = ctx.suite.task
    if task == "regression":
        return (lambda p: p.label), "the prediction"
    classes = ctx.target.classes or ()
    if task == "binary":
        def binary(p: Predictions) -> np.ndarray:
            if p.score is None:
                raise CheckError("the monotonic property needs the model's probabilities; "
                                 "this model gives labels only")
            return p.score
        return binary, f"P({plain(classes[1])})"
    keys = [label_key(c) for c in classes]
    if label_key(spec.cls) not in keys:
        raise SpecError(ctx.suite.path, spec.line, "class",
                        f"class {spec.cls!r} is not a class of the target "
                        f"({', '.join(repr(plain(c)) for c in classes)})")
    j = keys.index(label_key(spec.cls))

    def multiclass(p: Predictions) -> np.ndarray:
        if p.score is None:
            raise CheckError("the monotonic property needs the model's probabilities; "
                             "this model gives labels only")
        return p.score[:, j]
    return multiclass, f"P({plain(classes[j])})"


def _wrong_way(spec: MonotonicSpec, regression: bool, before: np.ndarray,
               after: np.ndarray) -> np.ndarray:
    """How far the score moved the wrong way beyond the tolerance, when the feature rose
    from ``before``'s value to ``after``'s (> 0: a violation)."""
    move = after - before if spec.direction == "increasing" else before - after
    tol = spec.tolerance * np.abs(before) if regression else spec.tolerance
    return -move - tol


def _grid(x: np.ndarray) -> np.ndarray:
    values = np.unique(x)
    if len(values) <= MAX_GRID:
        return values
    return np.unique(np.quantile(x, np.linspace(0, 1, MAX_GRID), method="inverted_cdf"))


def _with_values(frame: pd.DataFrame, rows: np.ndarray, column: str,
                 values: np.ndarray) -> pd.DataFrame:
    """Rows ``rows`` of ``frame`` with ``column`` set to ``values`` (in the column's dtype,
    unless an integer column would have to lose a fraction)."""
    out = frame.take(rows).reset_index(drop=True)
    dtype = frame[column].dtype
    keep = not pd.api.types.is_integer_dtype(dtype) or np.all(values == np.round(values))
    out[column] = pd.Series(values, name=column).astype(dtype if keep else np.float64)
    return out


def evaluate_monotonic(ctx: EvalContext, spec: MonotonicSpec) -> CheckResult:
    suite = ctx.suite
    data, predict = _data(ctx), _predict(ctx)
    cid = suite.check_id(FAMILY, spec.name)
    _feature(ctx, spec.column, spec.line, "monotonic")
    frame = data.frame
    col = frame[spec.column]
    if perturb.column_kind(col) != "numeric":
        raise SpecError(suite.path, spec.line, spec.column,
                        f"monotonic needs a numeric column; {spec.column!r} holds {col.dtype}")
    x = col.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = x[np.isfinite(x)]
    threshold = {"tolerance": spec.tolerance}
    if finite.size == 0 or finite.min() == finite.max():
        return CheckResult(id=cid, family=FAMILY, name=spec.name, status="fail",
                           blocking=spec.blocking, line=spec.line, threshold=threshold,
                           message=f"inconclusive: {spec.column} takes a single value in the "
                                   f"data, so there is no move to test; evaluate on data where "
                                   f"{spec.column} varies, or drop it from monotonic")
    score, score_name = _score_fn(ctx, spec)
    regression = suite.task == "regression"
    integral = bool(np.all(finite == np.round(finite)))
    lo, hi = float(finite.min()), float(finite.max())
    rng = ctx.rng(cid)
    n = len(frame)

    # 1. one batch per model: sampled rows × the column's grid
    grid = _grid(finite)
    sample = np.sort(rng.choice(n, size=min(spec.rows, n), replace=False))
    sweep = _with_values(frame, np.repeat(sample, len(grid)), spec.column,
                         np.tile(grid, len(sample)))
    variant = f"{FAMILY}::{spec.name}::sweep"
    cand = score(_candidate(ctx, sweep, variant, f"the {spec.column} sweep")).reshape(
        len(sample), len(grid))
    known, cand_rows = _sweep_violations(spec, regression, cand, sample, grid)
    notes: list[str] = []
    champ_rows = None
    champ_pred = _champion(ctx, sweep, variant, notes)
    if champ_pred is not None:
        champ = score(champ_pred).reshape(len(sample), len(grid))
        champ_rows = len(_sweep_violations(spec, regression, champ, sample, grid)[1])

    # 2. hypothesis: real rows moved within the observed range, shrunk to a minimal failure
    def scores(case: tuple[int, float, float]) -> tuple[float, float]:
        row, a, b = case
        two = _with_values(frame, np.array([row, row]), spec.column, np.array([a, b]))
        pred = predict("candidate", two, f"{FAMILY}::{spec.name}::{row}:{a!r}:{b!r}")
        s = score(pred)
        return float(s[0]), float(s[1])

    found, calls = _hypothesis_search(spec, regression, scores, n, lo, hi, integral, known,
                                      int(ctx.rng(f"{cid}::hypothesis").integers(2**32)))
    if found is None and known:  # hypothesis missed what the sweep saw: report the sweep's
        found = (known[0], *scores(known[0]))

    k = len(cand_rows)
    rate = k / len(sample)
    lo_ci, hi_ci = wilson(k, len(sample), suite.confidence)
    details: dict[str, Any] = {
        "column": spec.column, "direction": spec.direction, "tolerance": spec.tolerance,
        "score": score_name, "observed_range": [lo, hi], "rows_swept": len(sample),
        "grid_size": len(grid), "violating_rows": k, "violation_rate": rate,
        "violation_rate_ci": [lo_ci, hi_ci], "examples_budget": spec.examples,
        "model_calls": calls, "method": "sweep + hypothesis (shrunk)"}
    if champ_rows is not None:
        details["champion_violating_rows"] = champ_rows
        details["champion_violation_rate"] = champ_rows / len(sample)
    champ_text = (f" (champion: {champ_rows} of {len(sample)})" if champ_rows is not None
                  else "")
    tol_text = (f"{spec.tolerance:g} of the prediction" if regression
                else f"{spec.tolerance:g}")
    status: Status
    if found is None:
        status = "pass"
        message = (f"{score_name} is {spec.direction} in {spec.column} on every move tried: "
                   f"{len(sample)} rows × {len(grid)} values swept, {spec.examples} hypothesis "
                   f"examples, tolerance {tol_text}{champ_text}")
    else:
        status = "fail"
        (row, a, b), before, after = found
        values = {c: plain(frame[c].iloc[row]) for c in data.features}
        a_shown, b_shown = _plain_number(a, integral), _plain_number(b, integral)
        details["counterexample"] = {
            "data_row": row + 1, "row": values, "column": spec.column, "before": a_shown,
            "after": b_shown, "score_before": before, "score_after": after,
            "wrong_way": (before - after) if spec.direction == "increasing" else (after - before)}
        verb = "lowers" if spec.direction == "increasing" else "raises"
        message = (f"{score_name} is not {spec.direction} in {spec.column}: at data row "
                   f"{row + 1}, moving {spec.column} from {a_shown} to {b_shown} {verb} "
                   f"{score_name} from {before:.4f} to {after:.4f} (tolerance {tol_text}); "
                   f"{k} of {len(sample)} swept rows have such a move{champ_text}. "
                   f"Constrain the model (monotonic constraints) or retrain, or drop the "
                   f"property if the relation is not meant to be monotonic.")
    if notes:
        message += " " + "; ".join(notes)
    return CheckResult(id=cid, family=FAMILY, name=spec.name, status=status,
                       blocking=spec.blocking, message=message,
                       metric="monotonic_violation_rate", candidate=rate, ci=(None, hi_ci),
                       confidence=suite.confidence, threshold=threshold, method="property",
                       details=details, line=spec.line)


def _plain_number(v: float, integral: bool) -> float | int:
    return int(round(v)) if integral and float(v).is_integer() else float(v)


def _sweep_violations(spec: MonotonicSpec, regression: bool, s: np.ndarray, sample: np.ndarray,
                      grid: np.ndarray) -> tuple[list[tuple[int, float, float]], np.ndarray]:
    """Violations among grid pairs i < j of each swept row: the pair with the smallest grid
    gap of each violating row (by gap, then row), and the violating rows' positions."""
    g = s.shape[1]
    wrong = _wrong_way(spec, regression, s[:, :, None], s[:, None, :])  # rows × i × j
    upper = np.triu(np.ones((g, g), dtype=bool), k=1)
    bad = (wrong > 0) & upper[None]
    rows = np.flatnonzero(bad.any(axis=(1, 2)))
    if rows.size == 0:
        return [], rows
    gap = np.where(bad[rows], (np.arange(g)[None, :] - np.arange(g)[:, None])[None], g + 1)
    best = gap.reshape(len(rows), -1).argmin(axis=1)
    i, j = np.divmod(best, g)
    order = np.lexsort((rows, (j - i)))
    known = [(int(sample[rows[o]]), float(grid[i[o]]), float(grid[j[o]])) for o in order]
    return known, rows


@contextmanager
def _no_local_constants() -> Iterator[None]:
    """Hypothesis (≥ 6.131) also tries constants mined from the source of every "local"
    module in ``sys.modules`` and caches them under ``.hypothesis/`` in the directory it was
    imported from. For a gate that would write into the user's project and make the search —
    and so the counterexample — depend on which modules happen to be imported (pytest run vs
    ``evalgate run``). Both are turned off for the duration of the search by giving that
    miner an empty result; restored afterwards. Without that hook (another version) the
    search runs as it is."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without it
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    constants = getattr(providers, "Constants", None)
    if original is None or constants is None:  # pragma: no cover
        yield
        return
    empty = constants()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = original


def _hypothesis_search(spec: MonotonicSpec, regression: bool,
                       scores: Callable[[tuple[int, float, float]], tuple[float, float]],
                       n: int, lo: float, hi: float, integral: bool,
                       known: list[tuple[int, float, float]], seed: int
                       ) -> tuple[tuple[tuple[int, float, float], float, float] | None, int]:
    """Search (row, before, after) moves with hypothesis; shrink a failure to a minimal one.

    Cases come from the whole observed range, or (preferred by the shrinker) from inside a
    bracket where the sweep saw a violation, so a failure the sweep found is shrunk to the
    smallest move that still fails. Seeded, no example database, nothing printed."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st
    from hypothesis.errors import HypothesisException

    @st.composite
    def cases(draw: Any) -> tuple[int, float, float]:
        if known and not draw(st.booleans()):  # False, the shrinker's favourite: a bracket
            row, a0, b0 = draw(st.sampled_from(known))
        else:
            row, a0, b0 = draw(st.integers(0, n - 1)), lo, hi
        if integral:
            a = draw(st.integers(int(a0), int(b0) - 1))
            return row, float(a), float(a + draw(st.integers(1, int(b0) - a)))
        a = draw(st.floats(a0, b0, exclude_max=True, allow_nan=False))
        step = draw(st.floats(0.0, b0 - a, exclude_min=True, allow_nan=False))
        return row, float(a), float(min(a + step, b0))

    calls = 0

    def prop(case: tuple[int, float, float]) -> None:
        nonlocal calls
        calls += 1
        before, after = scores(case)
        if _wrong_way(spec, regression, np.array(before), np.array(after)) > 0:
            raise _Violation(case, before, after)

    test = settings(max_examples=spec.examples, database=None, deadline=None,
                    derandomize=False, phases=(Phase.generate, Phase.shrink),
                    verbosity=Verbosity.quiet, print_blob=False, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck))(hseed(seed)(given(cases())(prop)))
    try:
        with _no_local_constants():
            test()
    except _Violation as v:
        return (v.case, v.before, v.after), calls
    except HypothesisException as exc:
        raise CheckError(f"the monotonic property test could not run: "
                         f"{type(exc).__name__}: {exc}") from None
    return None, calls
