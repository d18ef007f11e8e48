"""The bias family: per-group metrics, the gap between groups with an interval, and no
fairness regression against the champion (DESIGN.md §2, §3; suite keys in
:mod:`evalgate.spec_bias`).

One check per (grouping, metric); its id reads ``suite::bias::sex::selection_rate``, or
``suite::bias::sex&race::selection_rate`` for an intersection.

How a check is computed:

- **Groups.** Rows are coded by group once per grouping (``pandas.factorize``, mixed-radix
  codes for intersections); missing values form their own group, labelled ``(missing)``;
  a categorical column keeps its unused categories and a binned column its empty bins, as
  groups of 0 rows. Only the intersections that occur are listed.
- **Disaggregation** is one ``bincount`` over the rows: counts per (group, joint cell), a
  cell being (truth, candidate label, champion label) for classification; sums of per-row
  losses per group for regression. The numbers equal fairlearn's ``MetricFrame`` (tested).
- **Per group:** rows, positives (binary), the metric, and its interval — Wilson's score
  interval for rates, the normal interval of a mean (MAE; RMSE through √MSE) for
  regression; each end is a one-sided bound at the suite's ``confidence``.
- **Left out:** a group with fewer than ``min_group_size`` rows, or whose rate has fewer than
  ``min_denominator`` rows in its denominator (positives for TPR/FNR, negatives for FPR/TNR,
  predicted positives for precision — under each model judged), is listed with the reason and
  takes no part in the gap. Fewer than two groups left: the check is ``skip``. A grouping
  with a single group in the data is ``fail`` (inconclusive): no gap can be shown.
- **Gap:** ``difference`` = largest − smallest group value, ``ratio`` = smallest / largest
  (1 when both are 0); against a ``reference`` group, the largest distance to it and the
  smallest ratio with it. ``equalized_odds`` takes the larger TPR/FPR difference (the
  smaller ratio). The difference's interval is Newcombe's hybrid score interval for the two
  groups at its ends (independent proportions), the ratio's is MOVER-R on their Wilson
  intervals (Donner & Zou 2012); for regression, normal intervals of independent means.
- **Thresholds:** ``max_difference`` / ``min_ratio`` bound the candidate's point estimate.
  ``max_regression: m`` compares the check's gap statistic — the difference, or the ratio when
  ``min_ratio`` is its only value threshold — with the champion's on the same rows:
  Δ = champion gap − candidate gap (ratio: candidate − champion), positive = the candidate
  is fairer; it passes iff the one-sided lower bound of Δ at ``confidence`` is ≥ −m.
- **The bound** comes from a paired bootstrap stratified by group (each group keeps its size
  in every replicate; both models see the same resampled rows): for classification one
  multinomial draw per group over its joint cells, so a replicate costs O(groups × cells)
  whatever the row count; for regression, rows resampled within each group (below 50,000
  rows) or normal draws of each group's pair of mean losses (from 50,000). A gap is a max
  of contrasts, not differentiable where they tie, where the plain bootstrap fails (it
  flatters any candidate of a champion at parity), so the bound is built from the
  directional derivative of Δ with estimated tied sets, and — for differences — also from
  the gap of the paired per-group shift; see :func:`gap_comparison`.
- A metric with no threshold is reported, not judged: ``pass`` with its numbers, marked
  informational. Without a champion, ``max_regression`` is skipped (the value thresholds
  decide; a check with nothing else to judge is ``skip``).

Group labels are user data: messages show them through :func:`show` (``repr``: quoted,
control characters escaped, long ones cut); ``details`` carries them raw for JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...errors import DataError, EvalgateError, StatsError, did_you_mean
from ...spec import Suite
from ...stats import ASYMPTOTIC_MIN_ROWS, Interval, mover_ratio, newcombe, wilson, z_of
from ...stats.gaps import Gap, gap, gap_comparison
from ..base import CheckPlan, CheckResult, EvalContext, Status, error_result
from .spec import BiasMetric, BiasSpec, Grouping

FAMILY = "bias"
MISSING = "(missing)"
_LABEL_LIMIT = 60
_MAX_ELEMENTS = 1 << 22  # replicates × rows per block of the regression row bootstrap

Array = np.ndarray


def plan(suite: Suite) -> list[CheckPlan]:
    spec: BiasSpec | None = suite.families.get(FAMILY)
    if spec is None:
        return []
    # a metric with no threshold is informational: it never blocks, and never counts as a
    # blocking check that decided (DESIGN.md §3)
    return [CheckPlan(FAMILY, spec.check_name(g, m), g.line, spec.blocking and m.judged,
                      subject=(spec, g, m))
            for g in spec.groupings for m in spec.metrics]


def run(ctx: EvalContext, plans: Sequence[CheckPlan]) -> list[CheckResult]:
    out: list[CheckResult] = []
    prepared: Prepared | None = None
    groups: dict[str, Groups | EvalgateError] = {}
    for p in plans:
        spec, grouping, metric = p.subject
        try:
            if prepared is None:
                prepared = prepare(ctx)
            if grouping.name not in groups:
                try:
                    groups[grouping.name] = group_rows(ctx, spec, grouping)
                except EvalgateError as exc:
                    groups[grouping.name] = exc
            found = groups[grouping.name]
            if isinstance(found, EvalgateError):
                raise found
            out.append(evaluate(ctx, spec, grouping, metric, found, prepared))
        except EvalgateError as exc:
            # an error blocks even for an informational metric: the suite is not what it says
            out.append(error_result(ctx.suite, replace(p, blocking=spec.blocking), str(exc)))
    return out


def show(label: str) -> str:
    """A group label fit for a terminal line: quoted, escaped, at most 60 characters."""
    text = repr(str(label))
    return text if len(text) <= _LABEL_LIMIT else text[:_LABEL_LIMIT - 2] + "…" + text[0]


# --------------------------------------------------------------------------- intervals


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True, eq=False)
class Groups:
    """The rows of one grouping as codes 0..G-1, with a label per group."""

    name: str
    code: Array
    labels: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]  # per group, the label of each column (for reference)
    count: Array

    @property
    def size(self) -> int:
        return len(self.labels)


def _column_codes(frame: Any, column: str, bins: tuple[float, ...] | int | None,
                  path: Any) -> tuple[Array, list[str]]:
    import pandas as pd

    from ...data import label_key

    col = frame[column]
    if bins is not None:
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise DataError(path, f"bias bins need a numeric column, but {column!r} is "
                                  f"{col.dtype}")
        x = col.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(x)
        if isinstance(bins, int):
            if missing.all():
                raise DataError(path, f"column {column!r} has no values to bin")
            qs = np.nanquantile(x, np.arange(1, bins) / bins)
            cuts = tuple(float(q) for q in np.unique(qs))
        else:
            cuts = bins
        edges = np.asarray(cuts)
        code = np.searchsorted(edges, x, side="right")
        labels = [f"< {cuts[0]:g}"]
        labels += [f"[{a:g}, {b:g})" for a, b in zip(cuts, cuts[1:])]
        labels += [f"≥ {cuts[-1]:g}"]
    elif isinstance(col.dtype, pd.CategoricalDtype):
        code = col.cat.codes.to_numpy().astype(np.int64)
        labels = [label_key(v) for v in col.cat.categories]
        missing = code < 0
    else:
        try:
            code, uniques = pd.factorize(col, sort=True)
        except TypeError:  # values that do not sort together: order them by their text
            code, uniques = pd.factorize(col, sort=False)
            order = np.argsort([label_key(v) for v in uniques], kind="stable")
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            code = np.where(code >= 0, rank[np.maximum(code, 0)], -1)
            uniques = [uniques[i] for i in order]
        code = np.asarray(code, dtype=np.int64)
        labels = [label_key(v) for v in uniques]
        missing = code < 0
    code = np.asarray(code, dtype=np.int64)
    if missing.any():
        code = np.where(missing, len(labels), code)
        labels.append(MISSING)
    return code, labels


def group_rows(ctx: EvalContext, spec: BiasSpec, grouping: Grouping) -> Groups:
    """Code the rows by ``grouping``; a missing column is a :class:`DataError`."""
    data = ctx.data
    if data is None:
        raise DataError(None, "the bias family needs the dataset")
    frame = data.frame
    columns = [str(c) for c in frame.columns]
    for col in grouping.columns:
        if col not in frame.columns:
            raise DataError(data.path, f"bias group column {col!r} not found"
                                       f"{did_you_mean(col, columns)}; the file has columns: "
                                       f"{', '.join(columns)}")
    parts = [_column_codes(frame, c, spec.bins.get(c), data.path) for c in grouping.columns]
    if len(parts) == 1:
        code, labels = parts[0]
        keys = [(lab,) for lab in labels]
    else:
        code = np.zeros(len(frame), dtype=np.int64)
        for c, labs in parts:
            code = code * len(labs) + c
        present, code = np.unique(code, return_inverse=True)
        code = code.reshape(-1)
        keys = []
        for value in present:
            key = []
            for _, labs in reversed(parts):
                value, digit = divmod(int(value), len(labs))
                key.append(labs[digit])
            keys.append(tuple(reversed(key)))
        labels = [" & ".join(k) for k in keys]
    count = np.bincount(code, minlength=len(labels))
    return Groups(grouping.name, code, tuple(labels), tuple(tuple(k) for k in keys), count)


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Rate:
    """A rate as cells of the per-row code 2·truth + label (binary): [tn, fp, fn, tp]."""

    name: str
    num: tuple[int, ...]
    den: tuple[int, ...]
    per: str  # what its denominator counts
    model_dependent: bool = False


BINARY_RATES = {r.name: r for r in (
    Rate("selection_rate", (1, 3), (0, 1, 2, 3), "rows"),
    Rate("true_positive_rate", (3,), (2, 3), "positives"),
    Rate("false_positive_rate", (1,), (0, 1), "negatives"),
    Rate("false_negative_rate", (2,), (2, 3), "positives"),
    Rate("true_negative_rate", (0,), (0, 1), "negatives"),
    Rate("precision", (3,), (1, 3), "predicted positives", model_dependent=True),
    Rate("accuracy", (0, 3), (0, 1, 2, 3), "rows"),
)}
#: multiclass cells: [wrong, right]
MULTICLASS_RATES = {"accuracy": Rate("accuracy", (1,), (0, 1), "rows")}
#: the metrics each shortcut stands for
COMPOSITES = {"demographic_parity": ("selection_rate",),
              "equalized_odds": ("true_positive_rate", "false_positive_rate")}


def components(metric: str) -> tuple[str, ...]:
    return COMPOSITES.get(metric, (metric,))


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


def _rate_values(cells: Array, rate: Rate) -> tuple[Array, Array, Array]:
    num = cells[..., list(rate.num)].sum(axis=-1)
    den = cells[..., list(rate.den)].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return value, num, den


def _model_cells(joint_counts: Array, prepared: Prepared) -> list[Array]:
    """Per-model cell counts (..., cells) from joint counts (..., cells ** models)."""
    c = prepared.cells
    if len(prepared.models) == 1:
        return [joint_counts]
    t = joint_counts.reshape(joint_counts.shape[:-1] + (c, c))
    return [t.sum(axis=-1), t.sum(axis=-2)]


def _reg_value(metric: str, mean_loss: Array) -> Array:
    return np.sqrt(np.maximum(mean_loss, 0)) if metric == "rmse" else mean_loss


def _loss(metric: str, residual: Array) -> Array:
    return residual * residual if metric == "rmse" else np.abs(residual)


# --------------------------------------------------------------------------- gaps


# --------------------------------------------------------------------------- evaluate


@dataclass
class Judged:
    """What one model's numbers say, for the message and details."""

    tables: list[Table]
    gap: Gap


def evaluate(ctx: EvalContext, spec: BiasSpec, grouping: Grouping, metric: BiasMetric,
             groups: Groups, prepared: Prepared) -> CheckResult:
    suite = ctx.suite
    name = spec.check_name(grouping, metric)
    cid = suite.check_id(FAMILY, name)
    conf = suite.confidence
    z = z_of(conf)
    pct = f"{conf:.0%}" if conf * 100 == int(conf * 100) else f"{conf:.1%}"
    comps = components(metric.name)
    regression = prepared.task == "regression"
    statistic = "ratio" if metric.min_ratio is not None and metric.max_difference is None \
        else "difference"
    compares = metric.max_regression is not None and ctx.champion is not None
    judged_models = prepared.models if compares else prepared.models[:1]
    G = groups.size

    # ---- disaggregation: one bincount over the rows
    tables: dict[str, list[Table]] = {}
    joint_counts: Array | None = None
    if regression:
        for m, res in zip(prepared.models, prepared.residual):
            loss = _loss(metric.name, res)
            s1 = np.bincount(groups.code, weights=loss, minlength=G)
            s2 = np.bincount(groups.code, weights=loss * loss, minlength=G)
            tables[m] = [_regression_table(metric.name, groups.count, s1, s2, z)]
        positives = None
    else:
        assert prepared.joint is not None
        K = prepared.cells ** len(prepared.models)
        joint_counts = np.bincount(groups.code * K + prepared.joint,
                                   minlength=G * K).reshape(G, K).astype(np.float64)
        rates = BINARY_RATES if prepared.task == "binary" else MULTICLASS_RATES
        per_model = _model_cells(joint_counts, prepared)
        for m, cells in zip(prepared.models, per_model):
            tables[m] = []
            for comp in comps:
                rate_value, num, den = _rate_values(cells, rates[comp])
                lo, hi = wilson(num, den, z)
                tables[m].append(Table(rate_value, lo, hi, den, num, None))
        positives = (per_model[0][:, 2] + per_model[0][:, 3]) if prepared.task == "binary" \
            else None

    # ---- who is left out, and why (a reason is only written for the groups left out)
    count = groups.count
    reasons: list[str | None] = [None] * G
    for g in np.flatnonzero(count < spec.min_group_size):
        reasons[g] = ("no rows" if count[g] == 0 else
                      f"{count[g]} rows < min_group_size {spec.min_group_size}")
    if regression:
        for g in np.flatnonzero(count == 1):
            reasons[g] = reasons[g] or "a single row has no interval"
    else:
        rates = BINARY_RATES if prepared.task == "binary" else MULTICLASS_RATES
        for c_index, comp in enumerate(comps):
            rate = rates[comp]
            for m in judged_models:
                den = tables[m][c_index].den
                for g in np.flatnonzero(den < spec.min_denominator):
                    if reasons[g] is None:
                        who = f"the {m}'s " if rate.model_dependent else ""
                        reasons[g] = (f"{who}{int(den[g])} {rate.per} < min_denominator "
                                      f"{spec.min_denominator} ({comp})")
    eligible = np.array([r is None for r in reasons], dtype=bool)

    ref = _reference(spec, grouping, groups, ctx)
    details: dict[str, Any] = {
        "grouping": grouping.name, "columns": list(grouping.columns), "metric": metric.name,
        "components": list(comps), "statistic": statistic,
        "reference": None if ref is None else groups.labels[ref],
        "min_group_size": spec.min_group_size, "min_denominator": spec.min_denominator,
        "n": int(groups.count[eligible].sum()),
        "groups": _group_rows(groups, comps, tables, positives, reasons, prepared.models),
    }
    threshold = metric.threshold()
    base: dict[str, Any] = dict(id=cid, family=FAMILY, name=name,
                                blocking=spec.blocking and metric.judged, metric=metric.name,
                                confidence=conf, threshold=threshold, line=grouping.line)
    left_out = [(groups.labels[g], reasons[g]) for g in range(G) if reasons[g] is not None]
    left_text = _left_out_text(left_out)

    kept = int(eligible.sum())
    skip_reason = None
    if G < 2:  # not a group too small: the data cannot show a gap at all (DESIGN.md §3)
        only = show(groups.labels[0]) if G else "none"
        msg = (f"{metric.name} by {grouping.name}: inconclusive — {grouping.name} has a single "
               f"group ({only}) in the data: there is nothing to compare; evaluate on data with "
               f"the other groups of {grouping.name}, or drop it from bias.groups")
        return CheckResult(status="fail", message=msg, details=details, **base)
    if ref is not None and not eligible[ref]:
        skip_reason = (f"the reference group {show(groups.labels[ref])} is left out "
                       f"({reasons[ref]}): it cannot be judged")
    elif kept < 2:
        skip_reason = (f"fewer than two groups of {grouping.name} can be judged "
                       f"({kept} of {G})")
    if skip_reason is not None:
        msg = f"{metric.name} by {grouping.name}: skipped — {skip_reason}"
        if left_text:
            msg += f"; left out: {left_text}"
        return CheckResult(status="skip", message=msg, details=details, **base)

    # ---- the gaps, their intervals
    if regression:
        per = ["rows"] * len(comps)
    else:
        rates = BINARY_RATES if prepared.task == "binary" else MULTICLASS_RATES
        per = [rates[k].per for k in comps]
    judged: dict[str, Judged] = {}
    for m in prepared.models:
        t = tables[m]
        judged[m] = Judged(t, gap([tb.value for tb in t], eligible, ref))
    cand = judged["candidate"]
    gap_info: dict[str, Any] = {}
    for m, j in judged.items():
        gap_info[m] = _gap_details(j, groups, comps, z, regression, per)
    details["gap"] = gap_info
    cg = gap_info["candidate"]
    value = float(cand.gap.difference if statistic == "difference" else cand.gap.ratio)
    if not math.isfinite(value):
        raise StatsError(f"the {metric.name} gap is undefined on this data")

    clauses: list[str] = []  # each threshold's verdict, in order
    failed: list[str] = []  # the kinds of the failing ones (see _advice)
    notes: list[str] = []
    lead: str | None = None
    if metric.max_difference is None and metric.min_ratio is None:
        lead = _describe(cg, statistic, pct, groups)
        if not metric.judged:
            lead += f" (informational: no threshold is set for {metric.name})"
    if metric.max_difference is not None:
        d = float(cand.gap.difference)
        ok = d <= metric.max_difference
        text = _describe(cg, "difference", pct, groups)
        _add(clauses, failed, ok,
             f"{text} {'≤' if ok else 'exceeds'} max_difference {metric.max_difference:g}",
             "value")
    if metric.min_ratio is not None:
        r = float(cand.gap.ratio)
        ok = r >= metric.min_ratio
        text = _describe(cg, "ratio", pct, groups)
        _add(clauses, failed, ok,
             f"{text} {'≥' if ok else 'is below'} min_ratio {metric.min_ratio:g}", "value")

    champion_value = None
    delta: Interval | None = None
    if metric.max_regression is not None and ctx.champion is None:
        notes.append(f"comparison with the champion skipped: {ctx.no_champion_reason}")
    if compares:
        champ = judged["champion"]
        champion_value = float(champ.gap.difference if statistic == "difference"
                               else champ.gap.ratio)
        rng = ctx.rng(cid)
        if regression:
            cand_reps, champ_reps, method = _regression_replicates(
                metric.name, groups, eligible, rng, prepared, suite.n_resamples)
        else:
            assert joint_counts is not None
            cand_reps, champ_reps = _cells_replicates(joint_counts, eligible, comps, rng,
                                                      prepared, suite.n_resamples)
            method = "paired-stratified-bootstrap-cells"
        e_ref = None if ref is None else int(np.count_nonzero(eligible[:ref]))
        theta, bound, se = gap_comparison(
            [t.value[eligible] for t in cand.tables], [t.value[eligible] for t in champ.tables],
            cand_reps, champ_reps, e_ref, statistic, conf, details["n"])
        delta = Interval(theta, bound, None, se, f"{method}-directional", details["n"])
        ok, text = _compare(metric, statistic, delta, value, champion_value, pct, details)
        assert metric.max_regression is not None  # compares implies it
        _add(clauses, failed, ok, text,
             "inconclusive" if delta.estimate >= -metric.max_regression else "regression")

    status: Status
    if failed:
        status = "fail"
    elif clauses or not metric.judged:
        status = "pass"
    else:
        status = "skip"
    lines = ([lead] if lead else []) + clauses + notes
    title = f"{metric.name} by {grouping.name}"
    if len(comps) > 1:
        title += f" (the worse of {' and '.join(comps)})"
    message = f"{title}: " + "; ".join(lines)
    if left_text:
        message += f"; left out: {left_text}"
    if status == "fail":
        message += ". " + _advice(failed)
    if delta is not None:
        ci: tuple[float | None, float | None] = (delta.lower, None)
        method_name = delta.method
    else:
        ci = ((None, cg["difference_ci"][1]) if statistic == "difference"
              else (cg["ratio_ci"][0], None))
        method_name = cg["method" if statistic == "difference" else "ratio_method"]
    details["candidate_ci"] = cg["difference_ci" if statistic == "difference" else "ratio_ci"]
    details["candidate_method"] = method_name if delta is None else cg["method"]
    details["informational"] = not metric.judged
    return CheckResult(status=status, message=message, candidate=value,
                       champion=champion_value,
                       delta=delta.estimate if delta is not None else None, ci=ci,
                       method=method_name, details=details, **base)


def _regression_table(metric: str, count: Array, s1: Array, s2: Array, z: float) -> Table:
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


def _reference(spec: BiasSpec, grouping: Grouping, groups: Groups,
               ctx: EvalContext) -> int | None:
    if not all(c in spec.reference for c in grouping.columns):
        return None
    key = tuple(spec.reference[c] for c in grouping.columns)
    for g, k in enumerate(groups.keys):
        if k == key:
            return g
    want = " & ".join(key)
    path = ctx.data.path if ctx.data is not None else None
    shown = ", ".join(show(lab) for lab in groups.labels[:20])
    more = f", … ({groups.size} in all)" if groups.size > 20 else ""
    raise DataError(path, f"bias reference group {show(want)} does not occur in "
                          f"{grouping.name}{did_you_mean(want, groups.labels)}; its groups: "
                          f"{shown}{more}")


def _group_rows(groups: Groups, comps: Sequence[str], tables: dict[str, list[Table]],
                positives: Array | None, reasons: list[str | None],
                models: Sequence[str]) -> list[dict[str, Any]]:
    """The per-group table, long format: one row per (group, component metric)."""
    rows = []
    for g in range(groups.size):
        for ci, comp in enumerate(comps):
            row: dict[str, Any] = {
                "group": groups.labels[g], "key": list(groups.keys[g]), "metric": comp,
                "count": int(groups.count[g]),
                "positives": None if positives is None else int(positives[g]),
                "left_out": reasons[g],
            }
            for m in ("candidate", "champion"):
                if m not in models:
                    row[m] = None
                    continue
                t = tables[m][ci]
                row[m] = {"value": _f(t.value[g]), "ci": [_f(t.lower[g]), _f(t.upper[g])],
                          "denominator": int(t.den[g]),
                          "numerator": None if t.num is None else int(t.num[g])}
            rows.append(row)
    return rows


def _f(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _gap_details(j: Judged, groups: Groups, comps: Sequence[str], z: float,
                 regression: bool, per: Sequence[str]) -> dict[str, Any]:
    gp = j.gap
    assert gp.diff_ends is not None and gp.ratio_ends is not None
    out: dict[str, Any] = {"difference": _f(gp.difference), "ratio": _f(gp.ratio)}
    for stat, ends in (("difference", gp.diff_ends), ("ratio", gp.ratio_ends)):
        c, hi, lo = ends
        t = j.tables[c]
        out[f"{stat}_ends"] = {
            "metric": comps[c],
            "high": {"group": groups.labels[hi], "value": _f(t.value[hi]),
                     "count": int(groups.count[hi]), "denominator": int(t.den[hi]),
                     "per": per[c]},
            "low": {"group": groups.labels[lo], "value": _f(t.value[lo]),
                    "count": int(groups.count[lo]), "denominator": int(t.den[lo]),
                    "per": per[c]},
        }
        defined = bool(np.isfinite(t.value[hi]) and np.isfinite(t.value[lo]))
        if not defined:
            out[f"{stat}_ci"] = [None, None]
        elif stat == "difference":
            if regression:
                assert t.se is not None
                d = float(t.value[hi] - t.value[lo])
                h = z * math.sqrt(float(t.se[hi]) ** 2 + float(t.se[lo]) ** 2)
                out["difference_ci"] = [_f(d - h), _f(d + h)]
            else:
                assert t.num is not None
                lo_b, hi_b = newcombe(float(t.num[hi]), float(t.den[hi]), float(t.num[lo]),
                                      float(t.den[lo]), z)
                out["difference_ci"] = [_f(lo_b), _f(hi_b)]
        else:
            p1, p2 = float(t.value[lo]), float(t.value[hi])
            if p2 <= 0:
                out["ratio_ci"] = [None, None]
            elif regression:
                assert t.se is not None
                if p1 <= 0:
                    out["ratio_ci"] = [0.0, None]
                else:
                    s = math.sqrt((float(t.se[lo]) / p1) ** 2 + (float(t.se[hi]) / p2) ** 2)
                    out["ratio_ci"] = [_f(p1 / p2 * math.exp(-z * s)),
                                       _f(p1 / p2 * math.exp(z * s))]
            else:
                lower, upper = mover_ratio(p1, float(t.lower[lo]), float(t.upper[lo]),
                                           p2, float(t.lower[hi]), float(t.upper[hi]))
                out["ratio_ci"] = [lower, upper]
    out["method"] = "normal" if regression else "newcombe"
    out["ratio_method"] = "delta-log" if regression else "mover-r-wilson"
    return out


def _describe(g: dict[str, Any], statistic: str, pct: str, groups: Groups) -> str:
    ends = g[f"{statistic}_ends"]
    hi, lo = ends["high"], ends["low"]
    comp = ends["metric"]

    def side(e: dict[str, Any]) -> str:
        counts = f"n={e['count']:,}"
        if e["per"] != "rows":
            counts = f"{e['denominator']:,} {e['per']} of {e['count']:,} rows"
        return f"{show(e['group'])} ({_num(e['value'])}, {counts})"

    if statistic == "difference":
        bound = g["difference_ci"][1]
        bound_text = f", {pct} upper bound {_num(bound)}" if bound is not None else ""
        return (f"{comp} gap {_num(g['difference'])} between {side(hi)} and {side(lo)}"
                f"{bound_text}")
    bound = g["ratio_ci"][0]
    bound_text = f", {pct} lower bound {_num(bound)}" if bound is not None else ""
    return f"{comp} ratio {_num(g['ratio'])}: {side(lo)} over {side(hi)}{bound_text}"


def _num(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.4f}"


def _left_out_text(left_out: list[tuple[str, str | None]], limit: int = 5) -> str:
    shown = [f"{show(lab)} ({why})" for lab, why in left_out[:limit]]
    if len(left_out) > limit:
        shown.append(f"… {len(left_out) - limit} more (see details)")
    return ", ".join(shown)


def _compare(metric: BiasMetric, statistic: str, delta: Interval, value: float,
             champion: float, pct: str, details: dict[str, Any]) -> tuple[bool, str]:
    """Whether ``max_regression`` holds, and the clause that says so."""
    margin = metric.max_regression
    assert margin is not None and delta.lower is not None
    orient = ("champion gap − candidate gap" if statistic == "difference"
              else "candidate ratio − champion ratio")
    head = (f"Δ vs champion = {delta.estimate:+.4f} ({orient}, positive = candidate fairer; "
            f"candidate {value:.4f}, champion {champion:.4f}), one-sided {pct} lower bound "
            f"{delta.lower:+.4f}")
    if delta.lower >= -margin:
        return True, f"{head} ≥ {-margin:+g} (max_regression {margin:g})"
    text = f"{head} < {-margin:+g} allowed by max_regression {margin:g}"
    if delta.estimate >= -margin:
        rows = delta.rows_to_resolve(margin)
        text += (" — inconclusive: the point estimate is within the margin but the data are "
                 "too few to rule out a larger loss of fairness")
        if rows is not None:
            details["rows_to_resolve_max_regression"] = rows
            text += f" (about {rows:,} rows would resolve it at this effect size)"
    return False, text


def _add(clauses: list[str], failed: list[str], ok: bool, text: str, kind: str) -> None:
    clauses.append(text)
    if not ok:
        failed.append(kind)


def _advice(failed: list[str]) -> str:
    """What to do, by the kinds of failure: ``value``, ``regression``, ``inconclusive``."""
    if "value" in failed:
        return ("The candidate treats these groups differently beyond the suite's bound; "
                "retrain (e.g. rebalance or constrain it) or revise the threshold.")
    if "regression" in failed:
        return ("The candidate treats these groups less equally than the champion on the same "
                "rows; keep the champion or retrain.")
    return "Evaluate on more rows, or accept a larger margin if that is the intent."


# --------------------------------------------------------------------------- bootstrap


def _cells_replicates(joint_counts: Array, eligible: Array, comps: Sequence[str],
                      rng: np.random.Generator, prepared: Prepared, n_resamples: int
                      ) -> tuple[list[Array], list[Array]]:
    """Each model's group values in replicates drawn as one multinomial per group over its
    joint cells (truth, candidate cell, champion cell): a paired bootstrap stratified by
    group, whose cost does not depend on the number of rows."""
    rates = BINARY_RATES if prepared.task == "binary" else MULTICLASS_RATES
    counts = joint_counts[eligible]  # (E, K)
    sizes = counts.sum(axis=1)
    draws = rng.multinomial(sizes.astype(np.int64), counts / sizes[:, None],
                            size=(n_resamples, len(sizes))).astype(np.float64)
    ca, cb = _model_cells(draws, prepared)
    return ([_rate_values(ca, rates[k])[0] for k in comps],
            [_rate_values(cb, rates[k])[0] for k in comps])


def _regression_replicates(metric: str, groups: Groups, eligible: Array,
                           rng: np.random.Generator, prepared: Prepared, n_resamples: int
                           ) -> tuple[list[Array], list[Array], str]:
    """Each model's group values in replicates of rows resampled within each group (the
    same rows for both models); from 50,000 rows, normal draws of each group's pair of mean
    losses (their sampling distribution by the central limit theorem), at a cost
    independent of the row count."""
    idx = np.flatnonzero(eligible)
    E = len(idx)
    remap = np.full(groups.size, -1, dtype=np.int64)
    remap[idx] = np.arange(E)
    code = remap[groups.code]
    rows = np.flatnonzero(code >= 0)
    code = code[rows]
    losses = [_loss(metric, r[rows]) for r in prepared.residual]
    n = len(rows)
    sizes = np.bincount(code, minlength=E).astype(np.float64)
    if n >= ASYMPTOTIC_MIN_ROWS:
        means = [np.bincount(code, weights=la, minlength=E) / sizes for la in losses]
        dev = [la - m[code] for la, m in zip(losses, means)]
        ca, cb = (np.bincount(code, weights=d * d, minlength=E) for d in dev)
        cab = np.bincount(code, weights=dev[0] * dev[1], minlength=E)
        sa = np.sqrt(ca / (sizes - 1) / sizes)
        sb = np.sqrt(cb / (sizes - 1) / sizes)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.clip(np.nan_to_num(cab / np.sqrt(ca * cb)), -1, 1)
        z1 = rng.standard_normal((n_resamples, E))
        z2 = rng.standard_normal((n_resamples, E))
        ma = means[0] + sa * z1
        mb = means[1] + sb * (rho * z1 + np.sqrt(1 - rho * rho) * z2)
        return [_reg_value(metric, ma)], [_reg_value(metric, mb)], \
            "paired-stratified-normal-bootstrap"
    order = np.argsort(code, kind="stable")
    sorted_a, sorted_b = losses[0][order], losses[1][order]
    counts = sizes.astype(np.int64)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    row_start, row_size = np.repeat(starts, counts), np.repeat(sizes, counts)
    ma, mb = np.empty((n_resamples, E)), np.empty((n_resamples, E))
    step = max(1, _MAX_ELEMENTS // max(n, 1))
    for s0 in range(0, n_resamples, step):
        b = min(step, n_resamples - s0)
        pick = row_start + (rng.random((b, n)) * row_size).astype(np.int64)
        ma[s0:s0 + b] = np.add.reduceat(sorted_a[pick], starts, axis=1) / sizes
        mb[s0:s0 + b] = np.add.reduceat(sorted_b[pick], starts, axis=1) / sizes
    return [_reg_value(metric, ma)], [_reg_value(metric, mb)], "paired-stratified-bootstrap"
