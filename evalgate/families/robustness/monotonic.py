"""Monotonic properties (``monotonic: {column: increasing}``): a property test of the candidate.

1. A batch sweep: sampled rows × the column's observed grid, one prediction per model; a
   swept row *violates* the property when some rise of the column moves the score the wrong
   way by more than the tolerance.
2. A search with hypothesis (seeded from the suite seed, no database, nothing printed) moving
   real rows within the observed range — preferring the brackets where the sweep saw a
   violation — and shrinking a failure to a minimal counterexample: the row, the value before
   and after, the score before and after.

The check fails on any counterexample; the share of swept rows that violate the property is
its value (with a Wilson interval), the champion's is shown beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ...data import label_key, plain
from ...errors import CheckError, SpecError
from ...models.predictions import Predictions
from ...stats import wilson_bounds as wilson
from ..base import CheckResult, EvalContext
from ..judge import Clauses
from . import perturb
from .common import (
    FAMILY,
    candidate_on,
    champion_on,
    data_of,
    inconclusive_result,
    predictor,
    require_feature,
)
from .details import VIOLATION_RATE, Counterexample, Direction, MonotonicDetails
from .spec import MonotonicSpec

#: the monotonic sweep uses every observed value up to this many, else as many quantiles
MAX_GRID = 64
#: what to do about a broken property
ADVICE = ("Constrain the model (monotonic constraints) or retrain, or drop the property if the "
          "relation is not meant to be monotonic.")

Score = Callable[[Predictions], np.ndarray]
#: a move: (data row, the column's value before, after)
Case = tuple[int, float, float]
#: a move that breaks the property, and the score before and after it
Found = tuple[Case, float, float]


class _Violation(Exception):
    def __init__(self, case: Case, before: float, after: float):
        super().__init__(case)
        self.case, self.before, self.after = case, before, after


@dataclass(frozen=True)
class _Column:
    """The observed values of the column a property is about."""

    name: str
    finite: np.ndarray  # its finite values
    integral: bool  # whole numbers only

    @property
    def lo(self) -> float:
        return float(self.finite.min())

    @property
    def hi(self) -> float:
        return float(self.finite.max())


@dataclass(frozen=True)
class _Sweep:
    """What the batch sweep saw: the rows swept, the grid, the candidate's violations (as
    brackets to search, and the violating rows), the champion's count."""

    sample: np.ndarray
    grid: np.ndarray
    known: list[Case]
    violating: int
    champion_violating: int | None


def evaluate(ctx: EvalContext, spec: MonotonicSpec) -> CheckResult:
    """A monotonic property: the sweep, then the search; ``fail`` on a counterexample."""
    column = _column(ctx, spec)
    if column.finite.size == 0 or column.lo == column.hi:
        return inconclusive_result(
            ctx, spec.name, spec.blocking, spec.line, {"tolerance": spec.tolerance},
            f"{spec.column} takes a single value in the data, so there is no move to test; "
            f"evaluate on data where {spec.column} varies, or drop it from monotonic")
    score, score_name = _score_fn(ctx, spec)
    clauses = Clauses()
    sweep = _sweep(ctx, spec, column, score, clauses)
    found, calls = _search(ctx, spec, column, score, sweep.known)
    details = _details(ctx, spec, column, sweep, score_name, calls, found)
    _judge(clauses, spec, details, sweep, ctx.suite.task == "regression")
    return CheckResult(
        id=ctx.suite.check_id(FAMILY, spec.name), family=FAMILY, name=spec.name,
        status=clauses.status(), blocking=spec.blocking,
        message=clauses.message(advice=ADVICE), metric=VIOLATION_RATE,
        candidate=details.violation_rate, ci=(None, details.violation_rate_ci[1]),
        confidence=ctx.suite.confidence, threshold={"tolerance": spec.tolerance},
        method="property", details=details, line=spec.line)


def _column(ctx: EvalContext, spec: MonotonicSpec) -> _Column:
    """The property's column, checked: a numeric feature of the data."""
    require_feature(ctx, spec.column, spec.line, "monotonic")
    col = data_of(ctx).frame[spec.column]
    if perturb.column_kind(col) != "numeric":
        raise SpecError(ctx.suite.path, spec.line, spec.column,
                        f"monotonic needs a numeric column; {spec.column!r} holds {col.dtype}")
    x = col.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = x[np.isfinite(x)]
    return _Column(spec.column, finite, bool(np.all(finite == np.round(finite))))


def _sweep(ctx: EvalContext, spec: MonotonicSpec, column: _Column, score: Score,
           clauses: Clauses) -> _Sweep:
    """One batch per model: sampled rows × the column's grid."""
    frame = data_of(ctx).frame
    regression = ctx.suite.task == "regression"
    rng = ctx.rng(ctx.suite.check_id(FAMILY, spec.name))
    grid = _grid(column.finite)
    n = len(frame)
    sample = np.sort(rng.choice(n, size=min(spec.rows, n), replace=False))
    rows = _with_values(frame, np.repeat(sample, len(grid)), spec.column,
                       np.tile(grid, len(sample)))
    variant = f"{FAMILY}::{spec.name}::sweep"
    cand = score(candidate_on(ctx, rows, variant, f"the {spec.column} sweep")).reshape(
        len(sample), len(grid))
    known, violating = _sweep_violations(spec, regression, cand, sample, grid)
    champ_count = None
    champ_pred = champion_on(ctx, rows, variant, clauses)
    if champ_pred is not None:
        champ = score(champ_pred).reshape(len(sample), len(grid))
        champ_count = len(_sweep_violations(spec, regression, champ, sample, grid)[1])
    return _Sweep(sample, grid, known, len(violating), champ_count)


def _search(ctx: EvalContext, spec: MonotonicSpec, column: _Column, score: Score,
            known: list[Case]) -> tuple[Found | None, int]:
    """Hypothesis on real rows moved within the observed range, shrunk to a minimal failure;
    a violation the sweep saw when the search missed it. With the model calls made."""
    frame = data_of(ctx).frame
    predict = predictor(ctx)

    def scores(case: Case) -> tuple[float, float]:
        row, a, b = case
        two = _with_values(frame, np.array([row, row]), spec.column, np.array([a, b]))
        pred = predict("candidate", two, f"{FAMILY}::{spec.name}::{row}:{a!r}:{b!r}")
        s = score(pred)
        return float(s[0]), float(s[1])

    cid = ctx.suite.check_id(FAMILY, spec.name)
    found, calls = _hypothesis_search(spec, ctx.suite.task == "regression", scores, len(frame),
                                      column.lo, column.hi, column.integral, known,
                                      int(ctx.rng(f"{cid}::hypothesis").integers(2**32)))
    if found is None and known:  # hypothesis missed what the sweep saw: report the sweep's
        found = (known[0], *scores(known[0]))
    return found, calls


def _details(ctx: EvalContext, spec: MonotonicSpec, column: _Column, sweep: _Sweep,
             score_name: str, calls: int, found: Found | None) -> MonotonicDetails:
    swept, k = len(sweep.sample), sweep.violating
    lo_ci, hi_ci = wilson(k, swept, ctx.suite.confidence)
    champ = sweep.champion_violating
    return MonotonicDetails(
        column=spec.column, direction=cast(Direction, spec.direction),
        tolerance=spec.tolerance, score=score_name, observed_range=(column.lo, column.hi),
        rows_swept=swept, grid_size=len(sweep.grid), violating_rows=k, violation_rate=k / swept,
        violation_rate_ci=(lo_ci, hi_ci), examples_budget=spec.examples, model_calls=calls,
        method="sweep + hypothesis (shrunk)", champion_violating_rows=champ,
        champion_violation_rate=None if champ is None else champ / swept,
        counterexample=None if found is None else _counterexample(ctx, spec, column, found))


def _counterexample(ctx: EvalContext, spec: MonotonicSpec, column: _Column,
                    found: Found) -> Counterexample:
    data = data_of(ctx)
    (row, a, b), before, after = found
    return Counterexample(
        data_row=row + 1, row={c: plain(data.frame[c].iloc[row]) for c in data.features},
        column=spec.column, before=_plain_number(a, column.integral),
        after=_plain_number(b, column.integral), score_before=before, score_after=after,
        wrong_way=(before - after) if spec.direction == "increasing" else (after - before))


def _judge(clauses: Clauses, spec: MonotonicSpec, d: MonotonicDetails, sweep: _Sweep,
           regression: bool) -> None:
    """The property's clause: every move tried kept it, or the counterexample."""
    swept = len(sweep.sample)
    champ = ("" if d.champion_violating_rows is None
             else f" (champion: {d.champion_violating_rows} of {swept})")
    tol = f"{spec.tolerance:g} of the prediction" if regression else f"{spec.tolerance:g}"
    ce = d.counterexample
    if ce is None:
        clauses.add(True, f"{d.score} is {spec.direction} in {spec.column} on every move "
                          f"tried: {swept} rows × {len(sweep.grid)} values swept, "
                          f"{spec.examples} hypothesis examples, tolerance {tol}{champ}")
        return
    verb = "lowers" if spec.direction == "increasing" else "raises"
    clauses.add(False, f"{d.score} is not {spec.direction} in {spec.column}: at data row "
                       f"{ce.data_row}, moving {spec.column} from {ce.before} to {ce.after} "
                       f"{verb} {d.score} from {ce.score_before:.4f} to {ce.score_after:.4f} "
                       f"(tolerance {tol}); {d.violating_rows} of {swept} swept rows have "
                       f"such a move{champ}")


def _score_fn(ctx: EvalContext, spec: MonotonicSpec) -> tuple[Score, str]:
    """The score the property is about, and its name for messages."""
    task = ctx.suite.task
    if task == "regression":
        return (lambda p: p.label), "the prediction"
    classes = ctx.target.classes or ()
    if task == "binary":
        return _probabilities, f"P({plain(classes[1])})"
    keys = [label_key(c) for c in classes]
    if label_key(spec.cls) not in keys:
        raise SpecError(ctx.suite.path, spec.line, "class",
                        f"class {spec.cls!r} is not a class of the target "
                        f"({', '.join(repr(plain(c)) for c in classes)})")
    j = keys.index(label_key(spec.cls))
    return (lambda p: _probabilities(p)[:, j]), f"P({plain(classes[j])})"


def _probabilities(p: Predictions) -> np.ndarray:
    if p.score is None:
        raise CheckError("the monotonic property needs the model's probabilities; "
                         "this model gives labels only")
    return p.score


def _wrong_way(spec: MonotonicSpec, regression: bool, before: np.ndarray,
               after: np.ndarray) -> np.ndarray:
    """How far the score moved the wrong way beyond the tolerance, when the feature rose
    from ``before``'s value to ``after``'s (> 0: a violation)."""
    move = after - before if spec.direction == "increasing" else before - after
    tol = spec.tolerance * np.abs(before) if regression else spec.tolerance
    wrong: np.ndarray = -move - tol
    return wrong


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


def _plain_number(v: float, integral: bool) -> float | int:
    return round(v) if integral and float(v).is_integer() else float(v)


def _sweep_violations(spec: MonotonicSpec, regression: bool, s: np.ndarray, sample: np.ndarray,
                      grid: np.ndarray) -> tuple[list[Case], np.ndarray]:
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
                       scores: Callable[[Case], tuple[float, float]],
                       n: int, lo: float, hi: float, integral: bool,
                       known: list[Case], seed: int) -> tuple[Found | None, int]:
    """Search (row, before, after) moves with hypothesis; shrink a failure to a minimal one.

    Cases come from the whole observed range, or (preferred by the shrinker) from inside a
    bracket where the sweep saw a violation, so a failure the sweep found is shrunk to the
    smallest move that still fails. Seeded, no example database, nothing printed."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st
    from hypothesis.errors import HypothesisException

    @st.composite
    def cases(draw: Any) -> Case:
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

    def prop(case: Case) -> None:
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
