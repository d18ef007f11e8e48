"""Counterfactual invariance checks (``invariant_to``).

For every row, a counterfactual row with each other observed value of the column (the most
frequent :data:`MAX_COUNTERFACTUAL_VALUES`); a row counts as flipped when any of its
counterfactuals flips. Gated like a perturbation by the flip gates of :mod:`.check`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...data import plain
from ...models.predictions import Predictions
from ..base import CheckResult, EvalContext
from ..judge import MORE_ROWS, Clauses
from .common import (
    FAMILY,
    candidate_on,
    champion_on,
    data_of,
    flip_gates,
    flip_result,
    flips_of,
    inconclusive_result,
    require_feature,
)
from .details import InvarianceDetails, InvarianceExample, ValueFlips
from .spec import InvarianceSpec

#: invariant_to tries at most this many values of a column (the most frequent ones)
MAX_COUNTERFACTUAL_VALUES = 20
#: flipped rows listed in the details of an invariance check
MAX_EXAMPLES = 5


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


def evaluate(ctx: EvalContext, spec: InvarianceSpec) -> CheckResult:
    """An invariance check: the candidate's (and the champion's) flips over counterfactual
    values of the column."""
    task, gates = ctx.suite.task, spec.gates
    require_feature(ctx, spec.column, spec.line, "invariant_to")
    frame = data_of(ctx).frame
    n = len(frame)
    cf, source, value, uniques, distinct = counterfactuals(frame, spec.column)
    if distinct < 2:
        return inconclusive_result(
            ctx, spec.name, gates.blocking, spec.line, gates.as_dict(),
            f"{spec.column} has a single value in the data, so there is no counterfactual to "
            f"try; evaluate on data with other values of {spec.column}, or drop it from "
            f"invariant_to")
    variant = f"{FAMILY}::{spec.name}"
    cand = candidate_on(ctx, cf, variant, f"counterfactual rows of {spec.column}")
    clauses = Clauses()
    champ = champion_on(ctx, cf, variant, clauses)

    pair_flips = flips_of(task, ctx.candidate.label[source], cand.label, gates.tolerance)
    flips = np.bincount(source, weights=pair_flips, minlength=n) > 0
    champ_flips = None
    if champ is not None and ctx.champion is not None:
        champ_pairs = flips_of(task, ctx.champion.label[source], champ.label, gates.tolerance)
        champ_flips = np.bincount(source, weights=champ_pairs, minlength=n) > 0
    if distinct > MAX_COUNTERFACTUAL_VALUES:
        clauses.notes.append(f"{spec.column} has {distinct} values; the "
                             f"{MAX_COUNTERFACTUAL_VALUES} most frequent were tried")
    found, paired = flip_gates(ctx, gates, flips, champ_flips, f"counterfactual {spec.column}",
                               clauses)
    per_value = _per_value(value, uniques, pair_flips)
    details = InvarianceDetails(
        **found.flip_fields(), column=spec.column, values_tried=len(per_value),
        distinct_values=distinct, counterfactual_rows=len(cf),
        pair_flips=int(pair_flips.sum()),
        pair_flip_rate=float(pair_flips.mean()) if len(cf) else 0.0, per_value=per_value,
        examples=_flip_examples(ctx, spec.column, source, value, uniques, pair_flips, cand))
    advice = MORE_ROWS if clauses.inconclusive else (
        f"The candidate's predictions depend on {spec.column}; if it must not, retrain "
        f"without it (and its proxies) or constrain the model.")
    message = clauses.message(
        fallback=f"counterfactual {spec.column} flip rate {found.flip_rate:.4f}", advice=advice)
    return flip_result(ctx, spec.name, gates, spec.line, clauses, message, details, paired)


def _per_value(value: np.ndarray, uniques: pd.Index,
               pair_flips: np.ndarray) -> dict[str, ValueFlips]:
    """For each value tried: its counterfactual rows and how many of them flipped."""
    tried = np.bincount(value, minlength=len(uniques))
    flipped = np.bincount(value, weights=pair_flips, minlength=len(uniques))
    return {str(plain(uniques[j])): ValueFlips(rows=int(tried[j]), flips=int(flipped[j]),
                                               flip_rate=float(flipped[j] / tried[j]))
            for j in np.flatnonzero(tried)}


def _flip_examples(ctx: EvalContext, column: str, source: np.ndarray, value: np.ndarray,
                   uniques: pd.Index, pair_flips: np.ndarray,
                   cand: Predictions) -> tuple[InvarianceExample, ...]:
    frame = data_of(ctx).frame
    out = []
    for k in np.flatnonzero(pair_flips)[:MAX_EXAMPLES]:
        row = int(source[k])
        out.append(InvarianceExample(data_row=row + 1, from_=plain(frame[column].iloc[row]),
                                     to=plain(uniques[value[k]]),
                                     before=_shown(ctx, ctx.candidate, row),
                                     after=_shown(ctx, cand, int(k))))
    return tuple(out)


def _shown(ctx: EvalContext, pred: Predictions, i: int) -> Any:
    """One prediction for a message: the class label, or the value (regression)."""
    if ctx.suite.task == "regression":
        return float(pred.label[i])
    classes = ctx.target.classes or ()
    code = int(pred.label[i])
    return plain(classes[code]) if code < len(classes) else code
