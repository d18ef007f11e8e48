"""Drift checks: each column, the candidate's predictions, the label, and a domain classifier,
evaluation rows against the reference (docs/statistics.md, "Drift").

A drift is judged like any threshold of DESIGN.md §3, with the burden of proof: ``fail`` when
the lower bound of the drift is above δ (``max_drift``), ``pass`` when its upper bound is
within δ, otherwise *inconclusive* (a fail) with the rows that would resolve it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..._io import sha256_files
from ...data import Dataset
from ...data.memory import too_large
from ...data.read import read_files
from ...errors import DataError, EvalgateError, SpecError
from ...spec import Suite
from ...stats.drift import (
    DEFAULT_METHOD,
    Bins,
    Drift,
    Histogram,
    column_kind,
    drift,
    histogram,
    reference_bins,
)
from ...stats.intervals import z_of
from ...stats.proportions import newcombe, wilson_bounds
from ..base import CheckPlan, CheckResult, EvalContext, Reduction, error_result
from ..domain import MAX_ROWS
from ..judge import INCONCLUSIVE, Clauses, percent
from ..sample import Sample, suite_features
from .details import DriftDetails, Missing, Shares
from .spec import FAMILY, DriftSpec, unknown_key
from .states import Columns, SharedRows, column_states

#: the share of evaluation rows the reference may hold before drift against it is refused
#: (the shipped Adult split shares 0.16% of its rows with the training data)
SHARED_ROWS_MAX = 0.5
#: check names that are not columns
SPECIAL = ("prediction", "label", "multivariate")
#: numeric bins are grouped into this many for the report's bars
SHOWN_BINS = 20
ADVICE = ("The evaluation data differ from the reference by more than max_drift allows: "
          "check the data pipeline, or retrain on data like these.")


def plan(suite: Suite) -> list[CheckPlan]:
    spec: DriftSpec | None = suite.families.get(FAMILY)
    if spec is None:
        return []
    columns = spec.columns if spec.columns is not None else suite_features(suite)
    line = spec.lines.get("columns", spec.line)
    plans = [CheckPlan(FAMILY, f"{c} (column)" if c in SPECIAL else c, line, spec.blocking,
                       subject=(spec, "column", c)) for c in columns]
    for name, wanted in (("prediction", spec.prediction), ("label", spec.label),
                         ("multivariate", spec.max_auc)):
        if wanted is not None:
            plans.append(CheckPlan(FAMILY, name, spec.lines.get(name, spec.line),
                                   spec.blocking, subject=(spec, name, None)))
    return plans


#: the last reference read, by its files' (path, size, mtime): the engine's reductions and
#: the checks read it once
_LAST: dict[tuple[tuple[str, int, int], ...], pd.DataFrame] = {}


def _stat_key(spec: DriftSpec) -> tuple[tuple[str, int, int], ...]:
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns)
                 for f in spec.reference.files if f.exists())


#: the reference files' sha256, by their (path, size, mtime): hashed once while they stand
_SHA256: dict[tuple[tuple[str, int, int], ...], str] = {}


def reference_sha256(spec: DriftSpec) -> str:
    """The sha256 of the reference files' bytes, hashed again whenever they change (the
    same-bytes guard and the run's shared results read it; one hash of each file's state)."""
    key = _stat_key(spec)
    if key not in _SHA256:
        _SHA256.clear()
        _SHA256[key] = sha256_files(spec.reference.files)[0]
    return _SHA256[key]


def load_reference(spec: DriftSpec) -> pd.DataFrame:
    """The reference rows (every file, in order); too large for memory is refused first."""
    key = _stat_key(spec)
    if key in _LAST:
        return _LAST[key]
    problem = too_large(spec.reference.files)
    if problem is not None:
        raise DataError(spec.reference.path, problem)
    frame, _ = read_files(spec.reference.files)
    if len(frame) == 0:
        raise DataError(spec.reference.path, "the reference has no rows")
    frame.columns = [str(c) for c in frame.columns]
    _LAST.clear()
    _LAST[key] = frame
    return frame


def model_free(plans: Sequence[CheckPlan]) -> dict[str, tuple[str, ...]]:
    """Every drift check but the prediction's compares the rows with the reference alone:
    those, each with the reference's sha256 as it is now (none when it cannot be read: each
    challenger's checks then say why)."""
    free = [p for p in plans if p.subject[1] != "prediction"]
    if not free:
        return {}
    spec: DriftSpec = free[0].subject[0]
    try:
        reference = reference_sha256(spec)
    except OSError:
        return {}
    return {p.name: (reference,) for p in free}


def reductions(suite: Suite, plans: Sequence[CheckPlan]) -> list[Reduction]:
    """Each planned column's histogram on the reference's bins, and the domain classifier's
    sample of rows (:mod:`.states`) — none when the reference cannot be read (the checks
    then say why)."""
    spec: DriftSpec = plans[0].subject[0]
    try:
        reference = load_reference(spec)
    except EvalgateError:
        return []
    bins = []
    for p in plans:
        _, what, column = p.subject
        if what != "column" or column not in reference.columns:
            continue
        kind = column_kind(reference[column])
        bins.append((column, reference_bins(reference[column], kind)))
    out: list[Reduction] = [Columns(tuple(bins))]
    # whole rows (every feature, and the target), not the columns judged: two columns alone
    # repeat across any two samples of the same population
    row = [*suite_features(suite), *([suite.data.target] if suite.data.target else [])]
    common = [c for c in row if c in reference.columns]
    if common:
        out.append(SharedRows.of_reference(reference, common))
    if spec.max_auc is not None:
        columns = spec.columns if spec.columns is not None else suite_features(suite)
        out.append(Sample("drift:sample", tuple(columns), MAX_ROWS,
                          zlib.crc32(f"{suite.seed}:{suite.check_id(FAMILY, 'multivariate')}"
                                     .encode())))
    return out


def run(ctx: EvalContext, plans: Sequence[CheckPlan]) -> list[CheckResult]:
    spec: DriftSpec = plans[0].subject[0]
    if ctx.data is not None and reference_sha256(spec) == ctx.data.sha256:
        raise DataError(spec.reference.path, "the reference is the evaluation data itself (the "
                                             "same bytes): drift against itself proves nothing; "
                                             "point reference at the training data or an "
                                             "earlier evaluation set")
    found, seen = ctx.states.get("drift:shared") or (0, 0)
    if seen and found / seen >= SHARED_ROWS_MAX:
        raise DataError(spec.reference.path, f"the reference holds {found / seen:.0%} of the "
                                             f"evaluation rows (by value, {found:,} of {seen:,} "
                                             f"looked up): drift against the rows themselves "
                                             f"proves nothing; point reference at the training "
                                             f"data or an earlier evaluation set")
    if ctx.data is not None:
        unknown = spec.unknown_keys(spec.columns if spec.columns is not None
                                    else ctx.data.features)
        if unknown:
            section, key = unknown[0]
            raise SpecError(ctx.suite.path, spec.lines.get(section, spec.line), key,
                            f"{section}: {unknown_key(key, ctx.data.features)}")
    reference = load_reference(spec)
    results = []
    for p in plans:
        try:
            results.append(_one(ctx, p, spec, reference))
        except EvalgateError as exc:
            results.append(error_result(ctx.suite, p, str(exc)))
    return results


def _one(ctx: EvalContext, p: CheckPlan, spec: DriftSpec, reference: pd.DataFrame
         ) -> CheckResult:
    _, what, column = p.subject
    if what == "column":
        data = _data(ctx)
        if column not in reference.columns:
            raise DataError(spec.reference.path, f"the reference has no column {column!r} "
                                                 f"(its columns: {', '.join(reference.columns)})")
        state = (column_states(ctx.states) or {}).get(column)
        if state is None:
            raise DataError(data.path, f"the evaluation data have no column {column!r}")
        ref = reference[column]
        return _judge(ctx, p, spec, column, ref, state[0], spec.method.get(column),
                      spec.delta(column, column_kind(ref)), bins=state[1])
    if what == "label":
        data = _data(ctx)
        assert data.target is not None  # the spec refuses label: without labels
        ref, ev = _pair(spec, reference, data, data.target, what="target")
        kind = "numeric" if ctx.suite.task == "regression" else "categorical"
        assert spec.label is not None
        return _judge(ctx, p, spec, data.target, ref, ev, None, spec.label, kind=kind,
                      column_check=False)
    if what == "prediction":
        return _prediction(ctx, p, spec, reference)
    from .multivariate import multivariate

    return multivariate(ctx, p, spec, reference)


def _data(ctx: EvalContext) -> Dataset:
    if ctx.data is None:
        raise EvalgateError("the drift family needs the evaluation rows")
    return ctx.data


def _pair(spec: DriftSpec, reference: pd.DataFrame, data: Dataset, column: str,
          what: str = "column") -> tuple[pd.Series, pd.Series]:
    if column not in reference.columns:
        raise DataError(spec.reference.path, f"the reference has no {what} {column!r} "
                                             f"(its columns: {', '.join(reference.columns)})")
    if column not in data.frame.columns:
        raise DataError(data.path, f"the evaluation data have no column {column!r}")
    return reference[column], data.frame[column]


def _prediction(ctx: EvalContext, p: CheckPlan, spec: DriftSpec, reference: pd.DataFrame
                ) -> CheckResult:
    data = _data(ctx)
    if ctx.predict is None:
        raise EvalgateError("the drift family needs the models to predict the reference")
    missing = [c for c in data.features if c not in reference.columns]
    if missing:
        raise DataError(spec.reference.path, f"the reference lacks the feature {missing[0]!r} "
                                             f"the models read")
    values = []
    for role, preds in (("candidate", ctx.candidate), ("champion", ctx.champion)):
        if preds is None:
            continue
        on_reference = ctx.predict(role, reference, "drift-reference")
        values.append((_as_values(on_reference, ctx.suite.task),
                       _as_values(preds, ctx.suite.task)))
    kind = "categorical" if ctx.suite.task == "multiclass" else "numeric"
    assert spec.prediction is not None
    (ref, ev), champ = values[0], values[1] if len(values) > 1 else None
    champion_estimate = None
    if champ is not None:
        bins = reference_bins(champ[0], kind)  # type: ignore[arg-type]
        found = drift(DEFAULT_METHOD[kind], histogram(champ[0], bins),
                      histogram(champ[1], bins), bins, ctx.suite.confidence,
                      ctx.rng(ctx.suite.check_id(FAMILY, "prediction:champion")))
        champion_estimate = found.estimate
    return _judge(ctx, p, spec, "prediction", pd.Series(ref), pd.Series(ev), None,
                  spec.prediction, kind=kind, champion_estimate=champion_estimate,
                  column_check=False)


def _as_values(preds: Any, task: str) -> np.ndarray:
    """What a model's predictions are compared on: P(positive), the predicted class, the
    predicted value."""
    if task == "binary" and preds.score is not None:
        return np.asarray(preds.score, dtype=np.float64)
    return np.asarray(preds.label)


def _judge(ctx: EvalContext, p: CheckPlan, spec: DriftSpec, column: str, ref: pd.Series,
           ev: pd.Series | Histogram, method: str | None, delta: float, kind: str | None = None,
           champion_estimate: float | None = None, column_check: bool = True,
           bins: Bins | None = None) -> CheckResult:
    """``ev``: the evaluation values, or their histogram on ``bins`` (the engine's state)."""
    kind = kind or column_kind(ref)
    method = method or DEFAULT_METHOD[kind]
    if method == "wasserstein" and kind == "categorical":
        raise EvalgateError(f"{column}: the Wasserstein distance needs a numeric column; "
                            f"{column!r} is categorical in the reference (use js, psi or ks)")
    if bins is None:
        bins = reference_bins(ref, kind)  # type: ignore[arg-type]
    hr = histogram(ref, bins)
    he = ev if isinstance(ev, Histogram) else histogram(ev, bins)
    if hr.present == 0:
        raise DataError(spec.reference.path, f"the reference has no value in {column!r}")
    cid = ctx.suite.check_id(FAMILY, p.name)
    conf = ctx.suite.confidence
    clauses = Clauses()
    found: Drift | None = None
    if he.present == 0:
        clauses.add(False, f"{column}: no value present in the evaluation rows "
                           f"({he.missing:,} of {he.rows:,} missing)")
    else:
        found = drift(method, hr, he, bins, conf, ctx.rng(cid))
        _drift_clause(clauses, found, delta, column)
    missing = _missing_clause(clauses, spec, hr, he, conf) if column_check else None
    unseen, unseen_upper = (_unseen_clause(clauses, spec, he, bins, conf) if column_check
                            else (None, None))
    details = DriftDetails(
        column=column, column_kind=kind, method=method,
        raw=found.raw if found else None, noise_floor=found.floor if found else None,
        estimate=found.estimate if found else None,
        lower=found.lower if found else None, upper=found.upper if found else None,
        max_drift=delta, reference_rows=hr.rows, evaluation_rows=he.rows,
        shares=_shares(bins, hr, he), missing=missing, unseen=unseen,
        unseen_upper=unseen_upper,
        rows_to_resolve=_rows_to_resolve(found, delta, he.present) if found else None,
        champion_estimate=champion_estimate)
    threshold: dict[str, Any] = {"max_drift": delta}
    if spec.max_missing_increase is not None:
        threshold["max_missing_increase"] = spec.max_missing_increase
    if unseen is not None and spec.max_unseen is not None:
        threshold["max_unseen"] = spec.max_unseen
    return CheckResult(
        id=cid, family=FAMILY, name=p.name, status=clauses.status(), blocking=p.blocking,
        message=clauses.message(advice=ADVICE if not clauses.inconclusive else
                                "Evaluate on more rows to place the drift on one side of "
                                "max_drift."),
        metric=method, candidate=found.estimate if found else None,
        ci=(found.lower, found.upper) if found else None, confidence=conf,
        threshold=threshold, method=f"{method}-bootstrap" if found else None,
        details=details, line=p.line)


def _drift_clause(clauses: Clauses, d: Drift, delta: float, column: str) -> None:
    pct = percent(d.confidence)
    text = (f"{column}: {d.method} drift {d.estimate:.4f} (one-sided {pct} bounds "
            f"{d.lower:.4f} … {d.upper:.4f}; measured {d.raw:.4f}, noise floor {d.floor:.4f} "
            f"at {d.reference_rows:,} reference and {d.evaluation_rows:,} evaluation values)")
    verdict = d.judge(delta)
    if verdict == "pass":
        clauses.add(True, f"{text}: upper bound ≤ max_drift {delta:g}")
    elif verdict == "fail":
        clauses.add(False, f"{text}: lower bound above max_drift {delta:g}")
    elif d.floor >= delta:
        clauses.add(False, f"{text}: inconclusive — at these rows the noise floor is not "
                           f"below max_drift {delta:g}, so no bound can place the drift under "
                           f"it; evaluate on more rows", INCONCLUSIVE)
    else:
        need = _rows_to_resolve(d, delta, d.evaluation_rows)
        clauses.add(False, f"{text}: inconclusive — the bounds straddle max_drift {delta:g}; "
                           f"about {need:,} evaluation rows would resolve it", INCONCLUSIVE)


def _rows_to_resolve(d: Drift, delta: float, n: int) -> int | None:
    """Evaluation rows that would put the interval on one side of δ at the observed drift
    (its width shrinking as 1/√n)."""
    if d.judge(delta) != "inconclusive":
        return None
    if d.estimate < delta:
        half, gap = d.upper - d.estimate, delta - d.estimate
    else:
        half, gap = d.estimate - d.lower, d.estimate - delta
    if gap <= 0:
        return None
    return math.ceil(n * (half / gap) ** 2)


def _missing_clause(clauses: Clauses, spec: DriftSpec, hr: Histogram, he: Histogram,
                    conf: float) -> Missing | None:
    if spec.max_missing_increase is None:
        return None
    _, upper = newcombe(he.missing, he.rows, hr.missing, hr.rows, z_of(conf))
    mr, me = hr.missing / hr.rows, he.missing / he.rows
    limit = spec.max_missing_increase
    clauses.add(upper <= limit,
                f"missing values {me:.2%} vs the reference's {mr:.2%}: increase upper bound "
                f"{upper:+.4f} {'≤' if upper <= limit else 'is above'} max_missing_increase "
                f"{limit:g}")
    return Missing(mr, me, upper)


def _unseen_clause(clauses: Clauses, spec: DriftSpec, he: Histogram, bins: Bins,
                   conf: float) -> tuple[float | None, float | None]:
    if bins.kind != "categorical" or he.present == 0:
        return None, None
    k = int(he.counts[-1])
    share = k / he.present
    _, upper = wilson_bounds(k, he.present, conf)
    if spec.max_unseen is not None:
        limit = spec.max_unseen
        clauses.add(upper <= limit, f"values the reference never had: {k:,} ({share:.2%}), "
                                    f"upper bound {upper:.4f} "
                                    f"{'≤' if upper <= limit else 'is above'} max_unseen "
                                    f"{limit:g}")
    return share, upper


def _shares(bins: Bins, hr: Histogram, he: Histogram) -> Shares:
    """Both samples' shares per bin, numeric bins grouped into ``SHOWN_BINS`` for display."""
    rc, ec = hr.counts.astype(float), he.counts.astype(float)
    if bins.kind == "categorical":
        labels = [*bins.categories, "(unseen)"]
    else:
        assert bins.edges is not None
        size = max(1, math.ceil(len(rc) / SHOWN_BINS))
        groups = np.arange(len(rc)) // size
        rc = np.bincount(groups, weights=rc)
        ec = np.bincount(groups, weights=ec)
        edges = bins.edges
        labels = []
        for g in range(len(rc)):
            hi = (g + 1) * size - 1
            labels.append(f"≤ {edges[hi]:.4g}" if hi < len(edges) else
                          f"> {edges[-1]:.4g}" if len(edges) else "all")
    return Shares(tuple(labels), tuple(float(x) for x in rc / max(rc.sum(), 1)),
                  tuple(float(x) for x in ec / max(ec.sum(), 1)))

