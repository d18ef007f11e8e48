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
from ...metrics import Per
from ...spec import Suite
from ...stats import Interval, z_of
from ...stats.gaps import Gap, gap, gap_comparison
from ..base import CheckPlan, CheckResult, EvalContext, error_result
from ..judge import (
    MORE_ROWS,
    Bounds,
    Clauses,
    compare,
    delta_text,
    limit_clause,
    no_champion,
    percent,
)
from .details import BiasDetails, End, Gaps, ModelGap, Statistic, group_table, model_gap
from .groups import Groups, group_rows, reference_group, show
from .resample import cells_replicates, regression_replicates
from .spec import BiasMetric, BiasSpec, Grouping, components
from .tables import (
    Disaggregated,
    Prepared,
    Table,
    disaggregate,
    left_out,
    model_shortfalls,
    paired_shifts,
    prepare,
    rate_of,
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
    def by_bound(self) -> bool:
        return self.ctx.suite.by_bound

    @property
    def comps(self) -> tuple[str, ...]:
        return components(self.metric.name)

    @property
    def regression(self) -> bool:
        return self.prepared.task == "regression"

    @property
    def statistic(self) -> Statistic:
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
    def per(self) -> list[Per]:
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
    short = model_shortfalls(groups, dis, reasons, task=prepared.task, comps=s.comps,
                             models=s.judged_models, min_denominator=spec.min_denominator)
    for g, why in short if not s.metric.judged else ():  # informational: left out
        reasons[g] = reasons[g] or why
    eligible = np.array([r is None for r in reasons], dtype=bool)
    ref = reference_group(spec, grouping, groups, ctx.data)
    facts = _facts(s, dis, reasons, eligible, ref)
    if short and s.metric.judged:
        said = "; ".join(f"{show(groups.labels[g])} ({why})" for g, why in short[:5])
        return CheckResult(status="fail", details=facts, **_base(s), message=(
            f"{s.title}: inconclusive — a model's own predictions leave too few rows to judge "
            f"{said}{' …' if len(short) > 5 else ''}: a group is left out only for the "
            f"data's sake, never for a model's (a candidate would drop a group from its gap "
            f"by predicting few positives there); lower min_denominator or evaluate on more "
            f"rows of the group"))
    undecided = _undecided(s, reasons, eligible, ref, facts)
    if undecided is not None:
        return undecided
    judged = {m: Judged(t, gap([tb.value for tb in t], eligible, ref))
              for m, t in dis.tables.items()}
    gaps = Gaps(**{m: model_gap(j.tables, j.gap, groups, s.comps, s.per, s.z, s.regression)
                   for m, j in judged.items()})
    value = _statistic(judged["candidate"].gap, s.statistic)
    if not math.isfinite(value):
        raise StatsError(f"the {metric.name} gap is undefined on this data")
    clauses = _judge_values(s, gaps.candidate, judged["candidate"].gap)
    champion_value = None
    delta: Interval | None = None
    found: dict[str, Any] = {}  # what the comparison adds to the details
    if metric.max_regression is not None and ctx.champion is None:
        no_champion(clauses, ctx.no_champion_reason)
    if s.compares:
        champion_value = _statistic(judged["champion"].gap, s.statistic)
        delta = _delta(s, dis, judged, eligible, ref, facts.n)
        _judge_regression(s, clauses, delta, value, champion_value, found)
    details = replace(facts, gap=gaps, **found)
    return _result(s, clauses, reasons, details, value, champion_value, delta)


def _statistic(g: Gap, statistic: str) -> float:
    return float(g.difference if statistic == "difference" else g.ratio)


def _base(s: Subject) -> dict[str, Any]:
    """The fields every result of this check shares."""
    return dict(id=s.cid, family=FAMILY, name=s.name,
                blocking=s.spec.blocking and s.metric.judged, metric=s.metric.name,
                confidence=s.confidence, threshold=s.metric.threshold(), line=s.grouping.line)


def _facts(s: Subject, dis: Disaggregated, reasons: list[str | None], eligible: np.ndarray,
           ref: int | None) -> BiasDetails:
    """The details known before any gap: the grouping, the metric, the per-group table."""
    return BiasDetails(
        grouping=s.grouping.name, columns=s.grouping.columns, metric=s.metric.name,
        components=s.comps, statistic=s.statistic,
        reference=None if ref is None else s.groups.labels[ref],
        min_group_size=s.spec.min_group_size, min_denominator=s.spec.min_denominator,
        n=int(s.groups.count[eligible].sum()),
        groups=group_table(s.groups, s.comps, dis.tables, dis.positives, reasons),
        informational=not s.metric.judged)


def _undecided(s: Subject, reasons: list[str | None], eligible: np.ndarray, ref: int | None,
               details: BiasDetails) -> CheckResult | None:
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
    shifts = None
    if s.regression:
        cand_reps, champ_reps, method = regression_replicates(
            s.metric.name, s.groups, eligible, rng, s.prepared, n_resamples)
    else:
        assert dis.joint_counts is not None
        cand_reps, champ_reps = cells_replicates(dis.joint_counts, eligible, s.comps, rng,
                                                 s.prepared, n_resamples)
        method = "paired-stratified-bootstrap-cells"
        shifts = paired_shifts(dis.joint_counts[eligible], s.prepared, s.comps)
    e_ref = None if ref is None else int(np.count_nonzero(eligible[:ref]))
    theta, bound, se = gap_comparison(
        [t.value[eligible] for t in judged["candidate"].tables],
        [t.value[eligible] for t in judged["champion"].tables],
        cand_reps, champ_reps, e_ref, s.statistic, s.confidence, n, shifts=shifts)
    suffix = "-directional" if shifts is None else "-directional+tango-shift"
    return Interval(theta, bound, None, se, method + suffix, n)


# --------------------------------------------------------------------------- judging

#: what to do when the candidate's gap is beyond a bound, or wider than the champion's
VALUE_ADVICE = ("The candidate treats these groups differently beyond the suite's bound; "
                "retrain (e.g. rebalance or constrain it) or revise the threshold.")
REGRESSION_ADVICE = ("The candidate treats these groups less equally than the champion on the "
                     "same rows; keep the champion or retrain.")


def _judge_values(s: Subject, cg: ModelGap, g: Gap) -> Clauses:
    """The candidate's gap against ``max_difference`` and ``min_ratio`` (a metric with
    neither shows its gap first)."""
    metric, pct = s.metric, percent(s.confidence)
    clauses = Clauses()
    if metric.max_difference is None and metric.min_ratio is None:
        lead = _describe(cg, s.statistic, pct)
        if not metric.judged:
            lead += f" (informational: no threshold is set for {metric.name})"
        clauses.info.append(lead)
    by_bound = s.by_bound
    if metric.max_difference is not None:
        limit_clause(clauses, float(g.difference), key="max_difference",
                     limit=metric.max_difference, upper=True,
                     text=_describe(cg, "difference", pct),
                     bounds=Bounds(None, cg.difference_ci[1], s.confidence) if by_bound
                     else None)
    if metric.min_ratio is not None:
        limit_clause(clauses, float(g.ratio), key="min_ratio", limit=metric.min_ratio,
                     upper=False, text=_describe(cg, "ratio", pct),
                     bounds=Bounds(cg.ratio_ci[0], None, s.confidence) if by_bound else None)
    return clauses


def _judge_regression(s: Subject, clauses: Clauses, delta: Interval, value: float,
                      champion: float, found: dict[str, Any]) -> None:
    """Whether ``max_regression`` holds, by the lower bound of Δ (positive = fairer)."""
    margin = s.metric.max_regression
    assert margin is not None
    orient = ("champion gap − candidate gap" if s.statistic == "difference"
              else "candidate ratio − champion ratio")
    head = delta_text(delta, s.confidence, detail=(
        f"{orient}, positive = candidate fairer; candidate {value:.4f}, champion "
        f"{champion:.4f}"))
    compare(clauses, delta, key="max_regression", margin=margin, head=head, details=found,
            larger="a larger loss of fairness")


def _advice(clauses: Clauses) -> str:
    """What to do, by the kinds of failure."""
    if "value" in clauses.kinds:
        return VALUE_ADVICE
    if "regression" in clauses.kinds:
        return REGRESSION_ADVICE
    return MORE_ROWS


def _result(s: Subject, clauses: Clauses, reasons: list[str | None], details: BiasDetails,
            value: float, champion_value: float | None, delta: Interval | None) -> CheckResult:
    """The result of a check whose gaps were measured: ``ci`` and ``method`` are Δ's when
    compared with the champion, else the candidate's gap statistic's on its bad side."""
    title = s.title
    if len(s.comps) > 1:
        title += f" (the worse of {' and '.join(s.comps)})"
    left_text = _left_out_text(s.groups, reasons)
    message = clauses.message(lead=title, advice=_advice(clauses),
                              tail=f"left out: {left_text}" if left_text else "")
    assert details.gap is not None
    cg = details.gap.candidate
    own = cg.ci(s.statistic)
    ci: tuple[float | None, float | None]
    if delta is not None:
        ci, method = (delta.lower, None), delta.method
    else:
        ci = (None, own[1]) if s.statistic == "difference" else (own[0], None)
        method = cg.method_of(s.statistic)
    details = replace(details, candidate_ci=own,
                      candidate_method=method if delta is None else cg.method)
    return CheckResult(status=clauses.status(informational=not s.metric.judged),
                       message=message, candidate=value, champion=champion_value,
                       delta=delta.estimate if delta is not None else None, ci=ci,
                       method=method, details=details, **_base(s))


# --------------------------------------------------------------------------- texts and details


def _describe(g: ModelGap, statistic: Statistic, pct: str) -> str:
    """A gap in words: its value, the groups at its ends, and its bound."""
    if statistic == "difference":
        ends, bound = g.difference_ends, g.difference_ci[1]
        bound_text = f", {pct} upper bound {_num(bound)}" if bound is not None else ""
        return (f"{ends.metric} gap {_num(g.difference)} between {_side(ends.high)} and "
                f"{_side(ends.low)}{bound_text}")
    ends, bound = g.ratio_ends, g.ratio_ci[0]
    bound_text = f", {pct} lower bound {_num(bound)}" if bound is not None else ""
    return (f"{ends.metric} ratio {_num(g.ratio)}: {_side(ends.low)} over {_side(ends.high)}"
            f"{bound_text}")


def _side(e: End) -> str:
    """One end of a gap in words: the group, its value, its rows."""
    counts = f"n={e.count:,}"
    if e.per != "rows":
        counts = f"{e.denominator:,} {e.per} of {e.count:,} rows"
    return f"{show(e.group)} ({_num(e.value)}, {counts})"


def _num(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.4f}"


def _left_out_text(groups: Groups, reasons: list[str | None], limit: int = 5) -> str:
    """The groups left out with their reasons, the first ``limit`` of them."""
    left = [(groups.labels[g], why) for g, why in enumerate(reasons) if why is not None]
    shown = [f"{show(lab)} ({why})" for lab, why in left[:limit]]
    if len(left) > limit:
        shown.append(f"… {len(left) - limit} more (see details)")
    return ", ".join(shown)
