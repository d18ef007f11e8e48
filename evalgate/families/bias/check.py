"""The bias family: per-group metrics, the gap between groups with an interval, and no
fairness regression against the champion (DESIGN.md §2, §3; suite keys in
:mod:`.spec`).

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

Modules: :mod:`.groups` (coding the rows by group), :mod:`.tables` (per-group numbers, who is
left out), :mod:`.resample` (the paired stratified bootstrap), this one (plan, run, judge).

Group labels are user data: messages show them through :func:`~.groups.show` (``repr``:
quoted, control characters escaped, long ones cut); ``details`` carries them raw for JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...errors import EvalgateError, StatsError
from ...spec import Suite
from ...stats import Interval, z_of
from ...stats.gaps import Gap, gap, gap_comparison
from ..base import CheckPlan, CheckResult, EvalContext, error_result
from ..judge import MORE_ROWS, Clauses, compare, delta_text, limit_clause, no_champion, percent
from .groups import Groups, group_rows, reference_group, show
from .resample import cells_replicates, regression_replicates
from .spec import BiasMetric, BiasSpec, Grouping, components
from .tables import (
    Disaggregated,
    Prepared,
    Table,
    difference_ci,
    disaggregate,
    finite,
    left_out,
    prepare,
    rate_of,
    ratio_ci,
)

FAMILY = "bias"


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
            prepared = prepared or prepare(ctx)
            found = _groups_of(ctx, spec, grouping, groups)
            out.append(evaluate(ctx, spec, grouping, metric, found, prepared))
        except EvalgateError as exc:
            # an error blocks even for an informational metric: the suite is not what it says
            out.append(error_result(ctx.suite, replace(p, blocking=spec.blocking), str(exc)))
    return out


def _groups_of(ctx: EvalContext, spec: BiasSpec, grouping: Grouping,
               cache: dict[str, Groups | EvalgateError]) -> Groups:
    """The rows coded by ``grouping``, once per run (a failure too: each of its checks
    reports it)."""
    if grouping.name not in cache:
        try:
            cache[grouping.name] = group_rows(ctx.data, spec, grouping)
        except EvalgateError as exc:
            cache[grouping.name] = exc
    found = cache[grouping.name]
    if isinstance(found, EvalgateError):
        raise found
    return found


# --------------------------------------------------------------------------- one check


@dataclass(frozen=True, eq=False)
class Subject:
    """One check: what it judges, on which groups, and what follows from the suite."""

    ctx: EvalContext
    spec: BiasSpec
    grouping: Grouping
    metric: BiasMetric
    groups: Groups
    prepared: Prepared

    @property
    def name(self) -> str:
        return self.spec.check_name(self.grouping, self.metric)

    @property
    def cid(self) -> str:
        return self.ctx.suite.check_id(FAMILY, self.name)

    @property
    def confidence(self) -> float:
        return self.ctx.suite.confidence

    @property
    def z(self) -> float:
        return z_of(self.confidence)

    @property
    def comps(self) -> tuple[str, ...]:
        return components(self.metric.name)

    @property
    def regression(self) -> bool:
        return self.prepared.task == "regression"

    @property
    def statistic(self) -> str:
        """The gap statistic judged against the champion: the ratio when ``min_ratio`` is the
        only value threshold, else the difference."""
        m = self.metric
        return "ratio" if m.min_ratio is not None and m.max_difference is None else "difference"

    @property
    def compares(self) -> bool:
        return self.metric.max_regression is not None and self.ctx.champion is not None

    @property
    def judged_models(self) -> tuple[str, ...]:
        """The models whose denominators decide who is left out."""
        return self.prepared.models if self.compares else self.prepared.models[:1]

    @property
    def per(self) -> list[str]:
        """What each component's denominator counts."""
        if self.regression:
            return ["rows"] * len(self.comps)
        return [rate_of(self.prepared.task, k).per for k in self.comps]

    @property
    def title(self) -> str:
        return f"{self.metric.name} by {self.grouping.name}"


@dataclass
class Judged:
    """What one model's numbers say, for the message and details."""

    tables: list[Table]
    gap: Gap


def evaluate(ctx: EvalContext, spec: BiasSpec, grouping: Grouping, metric: BiasMetric,
             groups: Groups, prepared: Prepared) -> CheckResult:
    """One check: disaggregate, leave out what cannot be judged, measure each model's gap,
    judge the thresholds, say what to do."""
    s = Subject(ctx, spec, grouping, metric, groups, prepared)
    dis = disaggregate(prepared, groups, metric.name, s.comps, s.z)
    reasons = left_out(groups, dis, task=prepared.task, comps=s.comps, models=s.judged_models,
                       min_group_size=spec.min_group_size,
                       min_denominator=spec.min_denominator)
    eligible = np.array([r is None for r in reasons], dtype=bool)
    ref = reference_group(spec, grouping, groups, ctx.data)
    details = _facts(s, dis, reasons, eligible, ref)
    undecided = _undecided(s, reasons, eligible, ref, details)
    if undecided is not None:
        return undecided
    judged = {m: Judged(t, gap([tb.value for tb in t], eligible, ref))
              for m, t in dis.tables.items()}
    gaps = {m: _gap_details(j, s) for m, j in judged.items()}
    details["gap"] = gaps
    value = _statistic(judged["candidate"].gap, s.statistic)
    if not math.isfinite(value):
        raise StatsError(f"the {metric.name} gap is undefined on this data")
    clauses = _judge_values(s, gaps["candidate"], judged["candidate"].gap)
    champion_value = None
    delta: Interval | None = None
    if metric.max_regression is not None and ctx.champion is None:
        no_champion(clauses, ctx.no_champion_reason)
    if s.compares:
        champion_value = _statistic(judged["champion"].gap, s.statistic)
        delta = _delta(s, dis, judged, eligible, ref, details["n"])
        _judge_regression(s, clauses, delta, value, champion_value, details)
    return _result(s, clauses, reasons, details, value, champion_value, delta)


def _statistic(g: Gap, statistic: str) -> float:
    return float(g.difference if statistic == "difference" else g.ratio)


def _base(s: Subject) -> dict[str, Any]:
    """The fields every result of this check shares."""
    return dict(id=s.cid, family=FAMILY, name=s.name,
                blocking=s.spec.blocking and s.metric.judged, metric=s.metric.name,
                confidence=s.confidence, threshold=s.metric.threshold(), line=s.grouping.line)


def _facts(s: Subject, dis: Disaggregated, reasons: list[str | None], eligible: np.ndarray,
           ref: int | None) -> dict[str, Any]:
    """The details known before any gap: the grouping, the metric, the per-group table."""
    return {
        "grouping": s.grouping.name, "columns": list(s.grouping.columns),
        "metric": s.metric.name, "components": list(s.comps), "statistic": s.statistic,
        "reference": None if ref is None else s.groups.labels[ref],
        "min_group_size": s.spec.min_group_size, "min_denominator": s.spec.min_denominator,
        "n": int(s.groups.count[eligible].sum()),
        "groups": _group_rows(s.groups, s.comps, dis.tables, dis.positives, reasons,
                              s.prepared.models),
    }


def _undecided(s: Subject, reasons: list[str | None], eligible: np.ndarray, ref: int | None,
               details: dict[str, Any]) -> CheckResult | None:
    """The result of a check no gap can decide: a single group in the data (an inconclusive
    fail), or fewer than two groups judged, or a reference group left out (a skip)."""
    groups, name = s.groups, s.grouping.name
    if groups.size < 2:  # not a group too small: the data cannot show a gap (DESIGN.md §3)
        only = show(groups.labels[0]) if groups.size else "none"
        msg = (f"{s.title}: inconclusive — {name} has a single group ({only}) in the data: "
               f"there is nothing to compare; evaluate on data with the other groups of "
               f"{name}, or drop it from bias.groups")
        return CheckResult(status="fail", message=msg, details=details, **_base(s))
    kept = int(eligible.sum())
    if ref is not None and not eligible[ref]:
        why = (f"the reference group {show(groups.labels[ref])} is left out "
               f"({reasons[ref]}): it cannot be judged")
    elif kept < 2:
        why = f"fewer than two groups of {name} can be judged ({kept} of {groups.size})"
    else:
        return None
    msg = f"{s.title}: skipped — {why}"
    left_text = _left_out_text(groups, reasons)
    if left_text:
        msg += f"; left out: {left_text}"
    return CheckResult(status="skip", message=msg, details=details, **_base(s))


def _delta(s: Subject, dis: Disaggregated, judged: dict[str, Judged], eligible: np.ndarray,
           ref: int | None, n: int) -> Interval:
    """Δ = champion gap − candidate gap (ratio: candidate − champion) with its one-sided
    lower bound from the paired bootstrap stratified by group."""
    rng = s.ctx.rng(s.cid)
    n_resamples = s.ctx.suite.n_resamples
    if s.regression:
        cand_reps, champ_reps, method = regression_replicates(
            s.metric.name, s.groups, eligible, rng, s.prepared, n_resamples)
    else:
        assert dis.joint_counts is not None
        cand_reps, champ_reps = cells_replicates(dis.joint_counts, eligible, s.comps, rng,
                                                 s.prepared, n_resamples)
        method = "paired-stratified-bootstrap-cells"
    e_ref = None if ref is None else int(np.count_nonzero(eligible[:ref]))
    theta, bound, se = gap_comparison(
        [t.value[eligible] for t in judged["candidate"].tables],
        [t.value[eligible] for t in judged["champion"].tables],
        cand_reps, champ_reps, e_ref, s.statistic, s.confidence, n)
    return Interval(theta, bound, None, se, f"{method}-directional", n)


# --------------------------------------------------------------------------- judging

#: what to do when the candidate's gap is beyond a bound, or wider than the champion's
VALUE_ADVICE = ("The candidate treats these groups differently beyond the suite's bound; "
                "retrain (e.g. rebalance or constrain it) or revise the threshold.")
REGRESSION_ADVICE = ("The candidate treats these groups less equally than the champion on the "
                     "same rows; keep the champion or retrain.")


def _judge_values(s: Subject, cg: dict[str, Any], g: Gap) -> Clauses:
    """The candidate's gap against ``max_difference`` and ``min_ratio`` (a metric with
    neither shows its gap first)."""
    metric, pct = s.metric, percent(s.confidence)
    clauses = Clauses()
    if metric.max_difference is None and metric.min_ratio is None:
        lead = _describe(cg, s.statistic, pct)
        if not metric.judged:
            lead += f" (informational: no threshold is set for {metric.name})"
        clauses.info.append(lead)
    if metric.max_difference is not None:
        limit_clause(clauses, float(g.difference), key="max_difference",
                     limit=metric.max_difference, upper=True,
                     text=_describe(cg, "difference", pct))
    if metric.min_ratio is not None:
        limit_clause(clauses, float(g.ratio), key="min_ratio", limit=metric.min_ratio,
                     upper=False, text=_describe(cg, "ratio", pct))
    return clauses


def _judge_regression(s: Subject, clauses: Clauses, delta: Interval, value: float,
                      champion: float, details: dict[str, Any]) -> None:
    """Whether ``max_regression`` holds, by the lower bound of Δ (positive = fairer)."""
    margin = s.metric.max_regression
    assert margin is not None
    orient = ("champion gap − candidate gap" if s.statistic == "difference"
              else "candidate ratio − champion ratio")
    head = delta_text(delta, s.confidence, detail=(
        f"{orient}, positive = candidate fairer; candidate {value:.4f}, champion "
        f"{champion:.4f}"))
    compare(clauses, delta, key="max_regression", margin=margin, head=head, details=details,
            larger="a larger loss of fairness")


def _advice(clauses: Clauses) -> str:
    """What to do, by the kinds of failure."""
    if "value" in clauses.kinds:
        return VALUE_ADVICE
    if "regression" in clauses.kinds:
        return REGRESSION_ADVICE
    return MORE_ROWS


def _result(s: Subject, clauses: Clauses, reasons: list[str | None],
            details: dict[str, Any], value: float, champion_value: float | None,
            delta: Interval | None) -> CheckResult:
    title = s.title
    if len(s.comps) > 1:
        title += f" (the worse of {' and '.join(s.comps)})"
    left_text = _left_out_text(s.groups, reasons)
    message = clauses.message(lead=title, advice=_advice(clauses),
                              tail=f"left out: {left_text}" if left_text else "")
    cg = details["gap"]["candidate"]
    key = "difference_ci" if s.statistic == "difference" else "ratio_ci"
    if delta is not None:
        ci: tuple[float | None, float | None] = (delta.lower, None)
        method_name = delta.method
    else:
        ci = (None, cg[key][1]) if s.statistic == "difference" else (cg[key][0], None)
        method_name = cg["method" if s.statistic == "difference" else "ratio_method"]
    details["candidate_ci"] = cg[key]
    details["candidate_method"] = method_name if delta is None else cg["method"]
    details["informational"] = not s.metric.judged
    return CheckResult(status=clauses.status(informational=not s.metric.judged),
                       message=message, candidate=value, champion=champion_value,
                       delta=delta.estimate if delta is not None else None, ci=ci,
                       method=method_name, details=details, **_base(s))


# --------------------------------------------------------------------------- texts and details


def _describe(g: dict[str, Any], statistic: str, pct: str) -> str:
    """A gap in words: its value, the groups at its ends, and its bound."""
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


def _left_out_text(groups: Groups, reasons: list[str | None], limit: int = 5) -> str:
    """The groups left out with their reasons, the first ``limit`` of them."""
    left = [(groups.labels[g], why) for g, why in enumerate(reasons) if why is not None]
    shown = [f"{show(lab)} ({why})" for lab, why in left[:limit]]
    if len(left) > limit:
        shown.append(f"… {len(left) - limit} more (see details)")
    return ", ".join(shown)


def _group_rows(groups: Groups, comps: Sequence[str], tables: dict[str, list[Table]],
                positives: np.ndarray | None, reasons: list[str | None],
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
                row[m] = {"value": finite(t.value[g]),
                          "ci": [finite(t.lower[g]), finite(t.upper[g])],
                          "denominator": int(t.den[g]),
                          "numerator": None if t.num is None else int(t.num[g])}
            rows.append(row)
    return rows


def _gap_details(j: Judged, s: Subject) -> dict[str, Any]:
    """One model's gap: its difference and ratio, the groups at their ends, intervals."""
    gp, groups, per = j.gap, s.groups, s.per
    assert gp.diff_ends is not None and gp.ratio_ends is not None
    out: dict[str, Any] = {"difference": finite(gp.difference), "ratio": finite(gp.ratio)}
    for stat, ends in (("difference", gp.diff_ends), ("ratio", gp.ratio_ends)):
        c, hi, lo = ends
        t = j.tables[c]
        out[f"{stat}_ends"] = {"metric": s.comps[c], "high": _end(groups, t, hi, per[c]),
                               "low": _end(groups, t, lo, per[c])}
        if not (np.isfinite(t.value[hi]) and np.isfinite(t.value[lo])):
            out[f"{stat}_ci"] = [None, None]
        elif stat == "difference":
            out["difference_ci"] = list(difference_ci(t, hi, lo, s.z, s.regression))
        else:
            out["ratio_ci"] = list(ratio_ci(t, hi, lo, s.z, s.regression))
    out["method"] = "normal" if s.regression else "newcombe"
    out["ratio_method"] = "delta-log" if s.regression else "mover-r-wilson"
    return out


def _end(groups: Groups, t: Table, g: int, per: str) -> dict[str, Any]:
    """One group at an end of a gap."""
    return {"group": groups.labels[g], "value": finite(t.value[g]), "count": int(groups.count[g]),
            "denominator": int(t.den[g]), "per": per}
