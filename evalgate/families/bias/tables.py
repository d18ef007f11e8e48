"""Per-group numbers: the disaggregation of one metric by one grouping, for each model.

- :func:`prepare` codes each row once per run: for classification its joint cell — (truth,
  candidate label, champion label), each model's cell as in :data:`evalgate.metrics.RATE_CELLS`;
  for regression each model's residual.
- :func:`disaggregate` counts the joint cells of every group by one ``bincount`` (sums of
  per-row losses for regression) and reads each component metric's :class:`Table` off them:
  the value per group with its interval — Wilson's score interval for a rate (its cells from
  the metric registry), the normal interval of a mean loss (MAE; RMSE through √MSE).
- :func:`left_out` says which groups take no part in the gap, and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...metrics import Rate, get_metric
from ...stats import mover_ratio, newcombe, wilson
from ...stats.gaps import PairedShift
from ..base import EvalContext
from .groups import Groups

Array = np.ndarray


def rate_of(task: str, metric: str) -> Rate:
    """The registry's rate definition of the component metric ``metric``."""
    rate = get_metric(metric, task).rate  # type: ignore[arg-type]
    assert rate is not None, f"{metric} is not a rate"
    return rate


@dataclass(frozen=True, eq=False)
class Prepared:
    """Per-run arrays shared by every check: per-row cells (classification) or per-row
    losses (regression) of each model."""

    task: str
    models: tuple[str, ...]          # "candidate" (, "champion")
    joint: Array | None = None       # classification: joint cell of each row
    cells: int = 0                   # cells per model (4 binary, 2 multiclass)
    residual: tuple[Array, ...] = ()  # regression: y − prediction per model


def prepare(ctx: EvalContext) -> Prepared:
    task = ctx.suite.task
    preds = [ctx.candidate] + ([ctx.champion] if ctx.champion is not None else [])
    models = ("candidate", "champion")[:len(preds)]
    y = ctx.target.y
    if task == "regression":
        return Prepared(task, models, residual=tuple(y.astype(np.float64) - p.label
                                                     for p in preds))
    if task == "binary":
        cells = 4
        per = [2 * y.astype(np.int64) + p.label.astype(np.int64) for p in preds]
    else:
        cells = 2
        per = [(p.label.astype(np.int64) == y.astype(np.int64)).astype(np.int64)
               for p in preds]
    joint = per[0]
    for p in per[1:]:
        joint = joint * cells + p
    return Prepared(task, models, joint=joint, cells=cells)


@dataclass
class Table:
    """One component metric per group for one model."""

    value: Array
    lower: Array
    upper: Array
    den: Array          # rows in the denominator (regression: rows)
    num: Array | None   # rates: rows in the numerator
    se: Array | None    # regression: standard error of the group value


@dataclass(frozen=True, eq=False)
class Disaggregated:
    """One metric by one grouping: each model's tables (one per component metric), and the
    counts they were read from."""

    tables: dict[str, list[Table]]
    #: classification: counts per (group, joint cell)
    joint_counts: Array | None
    #: binary: positives per group
    positives: Array | None


def rate_values(cells: Array, rate: Rate) -> tuple[Array, Array, Array]:
    """A rate's value, numerator and denominator from cell counts (..., cells)."""
    num = cells[..., list(rate.num)].sum(axis=-1)
    den = cells[..., list(rate.den)].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return value, num, den


def model_cells(joint_counts: Array, prepared: Prepared) -> list[Array]:
    """Per-model cell counts (..., cells) from joint counts (..., cells ** models)."""
    c = prepared.cells
    if len(prepared.models) == 1:
        return [joint_counts]
    t = joint_counts.reshape((*joint_counts.shape[:-1], c, c))
    return [t.sum(axis=-1), t.sum(axis=-2)]


def paired_shifts(joint_counts: Array, prepared: Prepared,
                  comps: Sequence[str]) -> list[PairedShift] | None:
    """Each component's discordant counts per group from joint counts (groups, cells²) of
    the candidate (first) and the champion — ``None`` when a component's denominator moves
    with the model (precision: predicted positives), which no paired count bounds."""
    rates = [rate_of(prepared.task, comp) for comp in comps]
    if len(prepared.models) != 2 or any(r.model_dependent for r in rates):
        return None
    c = prepared.cells
    t = joint_counts.reshape((*joint_counts.shape[:-1], c, c))
    shifts = []
    for rate in rates:
        event = np.zeros(c, dtype=bool)
        event[list(rate.num)] = True
        inside = np.zeros(c, dtype=bool)
        inside[list(rate.den)] = True
        only_cand = np.outer(event & inside, ~event & inside)
        only_champ = np.outer(~event & inside, event & inside)
        shifts.append(PairedShift(b=t[..., only_cand].sum(axis=-1),
                                  c=t[..., only_champ].sum(axis=-1),
                                  n=t[..., inside, :].sum(axis=(-2, -1))))
    return shifts


def reg_value(metric: str, mean_loss: Array) -> Array:
    """A regression metric from mean losses: RMSE is √MSE."""
    return np.sqrt(np.maximum(mean_loss, 0)) if metric == "rmse" else mean_loss


def loss(metric: str, residual: Array) -> Array:
    """The per-row loss whose mean a regression metric reads."""
    rows: Array = residual * residual if metric == "rmse" else np.abs(residual)
    return rows


def disaggregate(prepared: Prepared, groups: Groups, metric: str, comps: Sequence[str],
                 z: float) -> Disaggregated:
    """Each model's tables of ``metric`` (its components ``comps``) by ``groups``, by one
    ``bincount`` over the rows; intervals one-sided at Φ(z) on each end."""
    G = groups.size
    if prepared.task == "regression":
        tables = {}
        for m, res in zip(prepared.models, prepared.residual):
            lo = loss(metric, res)
            s1 = np.bincount(groups.code, weights=lo, minlength=G)
            s2 = np.bincount(groups.code, weights=lo * lo, minlength=G)
            tables[m] = [regression_table(metric, groups.count, s1, s2, z)]
        return Disaggregated(tables, None, None)
    assert prepared.joint is not None
    K = prepared.cells ** len(prepared.models)
    joint_counts = np.bincount(groups.code * K + prepared.joint,
                               minlength=G * K).reshape(G, K).astype(np.float64)
    per_model = model_cells(joint_counts, prepared)
    tables = {m: [_rate_table(cells, rate_of(prepared.task, comp), z) for comp in comps]
              for m, cells in zip(prepared.models, per_model)}
    positives = (per_model[0][:, 2] + per_model[0][:, 3]) if prepared.task == "binary" \
        else None
    return Disaggregated(tables, joint_counts, positives)


def _rate_table(cells: Array, rate: Rate, z: float) -> Table:
    value, num, den = rate_values(cells, rate)
    lo, hi = wilson(num, den, z)
    return Table(value, lo, hi, den, num, None)


def regression_table(metric: str, count: Array, s1: Array, s2: Array, z: float) -> Table:
    """Per-group MAE or RMSE from the sums of the losses and of their squares, with the
    normal interval of the mean loss (RMSE: its square root; se by the delta method)."""
    n = count.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, s1 / np.where(n > 0, n, 1), np.nan)
        var = np.where(n > 1, (s2 - n * mean * mean) / np.where(n > 1, n - 1, 1), np.nan)
        se_mean = np.sqrt(np.maximum(var, 0) / n)
    lo_m, hi_m = mean - z * se_mean, mean + z * se_mean
    if metric == "rmse":
        value = np.sqrt(np.maximum(mean, 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.where(value > 0, se_mean / (2 * value), np.nan)
        lower, upper = np.sqrt(np.maximum(lo_m, 0)), np.sqrt(np.maximum(hi_m, 0))
    else:
        value, se, lower, upper = mean, se_mean, np.maximum(lo_m, 0), hi_m
    return Table(value, lower, upper, count, None, se)


# --------------------------------------------------------------------------- left out


def left_out(groups: Groups, dis: Disaggregated, *, task: str, comps: Sequence[str],
             models: Sequence[str], min_group_size: int, min_denominator: int
             ) -> list[str | None]:
    """Why each group is left out of the gap (``None``: it is judged): fewer rows than
    ``min_group_size``; for regression a single row; for a rate fewer rows in its denominator
    than ``min_denominator`` under any of ``models`` (the models judged). The first reason
    found is kept."""
    count = groups.count
    reasons: list[str | None] = [None] * groups.size
    for g in np.flatnonzero(count < min_group_size):
        reasons[g] = ("no rows" if count[g] == 0 else
                      f"{count[g]} rows < min_group_size {min_group_size}")
    if task == "regression":
        for g in np.flatnonzero(count == 1):
            reasons[g] = reasons[g] or "a single row has no interval"
        return reasons
    for c_index, comp in enumerate(comps):
        rate = rate_of(task, comp)
        if rate.model_dependent:  # a model's own choice: not a reason (model_shortfalls)
            continue
        den = dis.tables[models[0]][c_index].den
        for g in np.flatnonzero(den < min_denominator):
            if reasons[g] is None:
                reasons[g] = (f"{int(den[g])} {rate.per} < min_denominator "
                              f"{min_denominator} ({comp})")
    return reasons


def model_shortfalls(groups: Groups, dis: Disaggregated, reasons: Sequence[str | None], *,
                     task: str, comps: Sequence[str], models: Sequence[str],
                     min_denominator: int) -> list[tuple[int, str]]:
    """The groups a model's own predictions leave too few rows to judge — a denominator that
    depends on the model (precision: its predicted positives) under ``min_denominator`` in a
    group the data would judge — each as (group, "the candidate's 4 predicted positives <
    min_denominator 10 (precision)"). Left out, such a group would let a candidate drop it
    from its own gap by predicting few positives there: a judged check is inconclusive
    instead (an informational one leaves it out)."""
    out: list[tuple[int, str]] = []
    if task == "regression":
        return out
    for c_index, comp in enumerate(comps):
        rate = rate_of(task, comp)
        if not rate.model_dependent:
            continue
        for m in models:
            den = dis.tables[m][c_index].den
            for g in map(int, np.flatnonzero(den < min_denominator)):
                if reasons[g] is None:
                    out.append((g, f"the {m}'s {int(den[g])} {rate.per} < min_denominator "
                                   f"{min_denominator} ({comp})"))
    return out


# --------------------------------------------------------------------------- gap intervals


def difference_ci(t: Table, hi: int, lo: int, z: float,
                  regression: bool) -> tuple[float | None, float | None]:
    """The interval of value[hi] − value[lo] between two independent groups: Newcombe's
    hybrid score interval for rates, the normal interval for mean losses."""
    if regression:
        assert t.se is not None
        d = float(t.value[hi] - t.value[lo])
        h = z * math.sqrt(float(t.se[hi]) ** 2 + float(t.se[lo]) ** 2)
        return finite(d - h), finite(d + h)
    assert t.num is not None
    lo_b, hi_b = newcombe(float(t.num[hi]), float(t.den[hi]), float(t.num[lo]),
                          float(t.den[lo]), z)
    return finite(lo_b), finite(hi_b)


def ratio_ci(t: Table, hi: int, lo: int, z: float,
             regression: bool) -> tuple[float | None, float | None]:
    """The interval of value[lo] / value[hi] between two independent groups: MOVER-R on the
    Wilson intervals for rates, the normal interval of the log ratio for mean losses."""
    p1, p2 = float(t.value[lo]), float(t.value[hi])
    if p2 <= 0:
        return None, None
    if not regression:
        lower, upper = mover_ratio(p1, float(t.lower[lo]), float(t.upper[lo]),
                                   p2, float(t.lower[hi]), float(t.upper[hi]))
        return (None if lower is None else finite(lower)), (None if upper is None
                                                             else finite(upper))
    assert t.se is not None
    if p1 <= 0:
        return 0.0, None
    s = math.sqrt((float(t.se[lo]) / p1) ** 2 + (float(t.se[hi]) / p2) ** 2)
    return finite(p1 / p2 * math.exp(-z * s)), finite(p1 / p2 * math.exp(z * s))


def finite(x: Any) -> float | None:
    """``x`` as a float, ``None`` when it is not finite."""
    v = float(x)
    return v if math.isfinite(v) else None
