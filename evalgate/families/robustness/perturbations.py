"""Perturbation checks: the data perturbed once, both models on the same perturbed rows.

A perturbation is drawn once, seeded by the suite seed and the check id, and both models
predict that same frame (``ctx.predict``, cached per (model, variant)). Its gates:
``max_flip_rate`` and ``max_flip_rate_increase`` (the flip gates of :mod:`.check`), and
``max_regression: {metric: m}``, which bounds the drop of the candidate's metric from the
clean to the perturbed rows: Δ = perturbed − clean (oriented so that positive is better) on
the same rows, by the paired one-sided bound of :func:`evalgate.stats.assess`, judged by
:func:`evalgate.families.judge.compare`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import SpecError
from ...metrics import get_metric
from ...models.predictions import Predictions
from ...stats import assess
from ..base import CheckResult, EvalContext
from ..judge import MORE_ROWS, Clauses, compare, delta_text
from . import perturb
from .common import (
    FAMILY,
    candidate_on,
    champion_on,
    data_of,
    flip_gates,
    flip_result,
    flips_of,
    require_feature,
)
from .details import MetricUnderPerturbation, Perturbation, PerturbationDetails, finite
from .spec import PerturbationSpec


def perturbation_columns(ctx: EvalContext, spec: PerturbationSpec) -> list[str]:
    """The data columns a perturbation applies to, checked against the data."""
    data = data_of(ctx)
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
        require_feature(ctx, c, spec.columns_line, "columns")
        kind = perturb.column_kind(frame[c])
        if pert.applies_to != "any" and kind != pert.applies_to:
            raise SpecError(ctx.suite.path, spec.columns_line, "columns",
                            f"{spec.kind} applies to {pert.applies_to} columns, but {c!r} is "
                            f"{kind} ({frame[c].dtype})")
    return list(spec.columns)


def perturbed_frame(ctx: EvalContext, spec: PerturbationSpec) -> tuple[pd.DataFrame, list[str]]:
    """The perturbed data of ``spec``: one realisation, seeded by the suite seed and check id."""
    data = data_of(ctx)
    cols = perturbation_columns(ctx, spec)
    rng = ctx.rng(ctx.suite.check_id(FAMILY, spec.name))
    return perturb.apply(spec.kind, data.frame, cols, spec.params, rng), cols


def evaluate(ctx: EvalContext, spec: PerturbationSpec) -> CheckResult:
    """A perturbation check: flips of both models on the perturbed rows, and each metric of
    ``max_regression`` from clean to perturbed."""
    task = ctx.suite.task
    frame, cols = perturbed_frame(ctx, spec)
    variant = f"{FAMILY}::{spec.name}"
    cand = candidate_on(ctx, frame, variant, f"rows perturbed by {spec.name}")
    clauses = Clauses()
    champ = champion_on(ctx, frame, variant, clauses)
    gates = spec.gates

    flips = flips_of(task, ctx.candidate.label, cand.label, gates.tolerance)
    champ_flips = None
    if champ is not None and ctx.champion is not None:
        champ_flips = flips_of(task, ctx.champion.label, champ.label, gates.tolerance)
    changed = perturb.changed_rows(data_of(ctx).frame, frame, cols)
    n_changed = int(changed.sum())
    if n_changed == 0:  # no flip on unchanged rows proves nothing
        clauses.add(False, f"inconclusive: {spec.name} changed no row (its columns "
                           f"{', '.join(cols)} hold no value it alters at these settings), so "
                           f"nothing shows the candidate withstands it; perturb columns it "
                           f"changes, or drop it", "inconclusive")
    found, paired = flip_gates(ctx, gates, flips, champ_flips, spec.name, clauses)
    metrics = {name: _metric_under(ctx, spec, cand, champ, name, margin, clauses)
               for name, margin in gates.max_regression}
    details = PerturbationDetails(
        **found.flip_fields(),
        perturbation=Perturbation(type=spec.kind, columns=tuple(cols),
                                  params=spec.perturbation.with_defaults(spec.params)),
        rows_perturbed=n_changed,
        flip_rate_among_perturbed=(float(np.count_nonzero(flips & changed)) / n_changed
                                   if n_changed else None),
        metrics=metrics or None)
    advice = MORE_ROWS if clauses.inconclusive else (
        f"The candidate is fragile under {spec.name} ({', '.join(cols)}); make it robust to "
        f"such input, or revise the threshold if this perturbation is not a realistic risk.")
    message = clauses.message(fallback=f"{spec.name} flip rate {found.flip_rate:.4f}",
                              advice=advice)
    return flip_result(ctx, spec.name, gates, spec.line, clauses, message, details, paired)


def _metric_under(ctx: EvalContext, spec: PerturbationSpec, cand: Predictions,
                  champ: Predictions | None, name: str, margin: float,
                  clauses: Clauses) -> MetricUnderPerturbation:
    """``max_regression`` of one metric: Δ = perturbed − clean of the candidate on the same
    rows, judged by its paired one-sided bound."""
    suite = ctx.suite
    metric = get_metric(name, suite.task)
    y = ctx.target.y
    res = assess(metric, y, cand.for_metric(metric), ctx.candidate.for_metric(metric),
                 confidence=suite.confidence,
                 rng=ctx.rng(f"{suite.check_id(FAMILY, spec.name)}::{name}"),
                 n_resamples=suite.n_resamples)
    delta = res.delta
    assert delta is not None and res.champion_value is not None
    clean, pert = res.champion_value, res.value.estimate
    orient = "" if metric.higher_is_better else "lower is better, so Δ = clean − perturbed"
    head = delta_text(delta, suite.confidence, detail=orient,
                      name=f"{name} {clean:.4f} → {pert:.4f} under {spec.name}, Δ")
    found: dict[str, int] = {}
    passed = compare(clauses, delta, key="max_regression", margin=margin, head=head,
                     details=found, larger="a larger drop")
    champion: dict[str, float | None] = {}
    if champ is not None and ctx.champion is not None:
        champion = {"champion_clean": finite(metric.fn(y, ctx.champion.for_metric(metric))),
                    "champion_perturbed": finite(metric.fn(y, champ.for_metric(metric)))}
    return MetricUnderPerturbation(
        clean=finite(clean), perturbed=finite(pert), delta=finite(delta.estimate),
        lower=finite(delta.lower), method=delta.method, max_regression=margin,
        higher_is_better=metric.higher_is_better, passed=passed,
        rows_to_resolve_max_regression=found.get("rows_to_resolve_max_regression"),
        **champion)
