"""What the robustness family's check kinds share: the data and the predictions on other
rows, flips, and the gates and result of a flip check.

- A row *flips* when its predicted label changes (classification) or its prediction moves by
  more than ``tolerance`` of itself (regression).
- A flip check's gates: ``max_flip_rate`` bounds the candidate's flip rate (point estimate;
  its Wilson interval is reported); ``max_flip_rate_increase: m`` compares with the champion
  on the very same rows: Δ = champion flip rate − candidate flip rate = (c − b)/n from the
  rows only the champion flips (c) and only the candidate flips (b), and the check passes iff
  Tango's score lower bound of Δ is ≥ −m (:func:`evalgate.families.judge.compare`): identical
  models give Δ = 0 with a bound of about −z²/n, inconclusive on few rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...data import Dataset
from ...errors import CheckError, ModelOutputError, SpecError, did_you_mean
from ...models.predictions import Predictions
from ...stats import PairedFlips
from ...stats import wilson_bounds as wilson
from ...stats.counts import tango_interval
from ...stats.proportions import tango_paired
from ..base import CheckResult, EvalContext
from ..judge import Bounds, Clauses, compare, delta_text, limit_clause, no_champion, percent
from .details import FLIP_RATE, FlipDetails, PairedTable
from .spec import (
    DEFAULT_TOLERANCE,
    Gates,
)

FAMILY = "robustness"
#: the method of Δ's interval in a comparison of flip rates
PAIRED_METHOD = "tango-score"


# --------------------------------------------------------------------------- data and models


def data_of(ctx: EvalContext) -> Dataset:
    if ctx.data is None:
        raise CheckError("the robustness family needs the dataset; this runner gives none")
    return ctx.data


def predictor(ctx: EvalContext) -> Callable[[str, Any, str], Predictions]:
    if ctx.predict is None:
        raise CheckError("the robustness family needs to predict on other rows; this runner "
                         "cannot")
    return ctx.predict


def candidate_on(ctx: EvalContext, frame: Any, variant: str, what: str) -> Predictions:
    """The candidate's predictions on ``frame`` (``what`` names those rows in an error)."""
    try:
        return predictor(ctx)("candidate", frame, variant)
    except ModelOutputError as exc:
        raise ModelOutputError(exc.path, f"on {what}: {exc.problem}") from None


def champion_on(ctx: EvalContext, frame: Any, variant: str,
                clauses: Clauses) -> Predictions | None:
    """The champion's predictions on ``frame``, or ``None`` (with the reason in the
    clauses' notes when it has a champion that cannot predict these rows)."""
    if ctx.champion is None:
        return None
    predict = predictor(ctx)
    try:
        return predict("champion", frame, variant)
    except ModelOutputError as exc:
        clauses.notes.append(f"the champion cannot predict these rows ({exc.problem}), so no "
                             f"comparison with it")
        return None


def require_feature(ctx: EvalContext, column: str, line: int, key: str) -> None:
    """Fail with the suite's file, line and key unless ``column`` is a feature of the data."""
    data = data_of(ctx)
    if column not in data.frame.columns:
        hint = did_you_mean(column, data.features)
        raise SpecError(ctx.suite.path, line, key,
                        f"column {column!r} is not in the data{hint}; feature columns: "
                        f"{', '.join(data.features)}")
    if column not in data.features:
        raise SpecError(ctx.suite.path, line, key, f"column {column!r} is not a feature "
                                                   f"(features: {', '.join(data.features)})")


def flips_of(task: str, clean: np.ndarray, other: np.ndarray, tolerance: float | None
             ) -> np.ndarray:
    """Rows whose prediction changed: another label, or (regression) a relative move."""
    if task == "regression":
        tol = DEFAULT_TOLERANCE if tolerance is None else tolerance
        moved: np.ndarray = np.abs(other - clean) > tol * np.abs(clean)
        return moved
    changed: np.ndarray = other != clean
    return changed


def flip_tolerance(task: str, gates: Gates) -> float | None:
    """The relative move that counts as a flip in a regression suite (``None`` otherwise)."""
    if task != "regression":
        return None
    return DEFAULT_TOLERANCE if gates.tolerance is None else gates.tolerance


# --------------------------------------------------------------------------- flip checks


def flip_gates(ctx: EvalContext, gates: Gates, flips: np.ndarray,
               champ_flips: np.ndarray | None, what: str,
               clauses: Clauses) -> tuple[FlipDetails, PairedFlips | None]:
    """Judge ``max_flip_rate`` and ``max_flip_rate_increase`` of the candidate's ``flips``
    (``what`` names them) and the champion's on the same rows; the facts found."""
    conf = ctx.suite.confidence
    n = len(flips)
    k = int(np.count_nonzero(flips))
    lo, hi = wilson(k, n, conf)
    _flip_rate_clause(clauses, gates, k, n, hi, what, conf, ctx.suite.by_bound)
    paired = None if champ_flips is None else tango_paired(flips, champ_flips, conf)
    found: dict[str, Any] = {}
    if gates.max_flip_rate_increase is not None:
        if ctx.champion is None:
            no_champion(clauses, ctx.no_champion_reason)
        elif paired is not None:
            _increase_clause(clauses, paired, gates.max_flip_rate_increase, conf, found)
    details = FlipDetails(
        n=n, flips=k, flip_rate=k / n, flip_rate_ci=(lo, hi), flip_rate_method="wilson",
        tolerance=flip_tolerance(ctx.suite.task, gates),
        rows_to_resolve_max_flip_rate_increase=found.get(
            "rows_to_resolve_max_flip_rate_increase"),
        **_champion_flips(champ_flips, paired, conf))
    return details, paired


def _flip_rate_clause(clauses: Clauses, gates: Gates, k: int, n: int, upper: float, what: str,
                      confidence: float, by_bound: bool) -> None:
    """``max_flip_rate`` on the candidate's flip rate — on its Wilson upper bound under
    ``value_thresholds: bound``."""
    rate = k / n
    head = (f"{what} flip rate {rate:.4f} ({k:,} of {n:,} rows; {percent(confidence)} Wilson "
            f"upper bound {upper:.4f})")
    limit = gates.max_flip_rate
    if limit is None:
        clauses.info.append(head)
        return
    limit_clause(clauses, rate, key="max_flip_rate", limit=limit, upper=True, text=head,
                 bounds=Bounds(None, upper, confidence) if by_bound else None)


def _increase_clause(clauses: Clauses, paired: PairedFlips, margin: float, confidence: float,
                     found: dict[str, Any]) -> None:
    """``max_flip_rate_increase``: Δ = champion − candidate flip rate by its paired bound."""
    delta = tango_interval(paired.only_champion, paired.only_candidate, paired.n, confidence,
                           estimate=paired.estimate)
    head = (f"champion flip rate {paired.champion_rate:.4f} on the same rows, "
            + delta_text(delta, confidence, name="Δ = champion − candidate"))
    compare(clauses, delta, key="max_flip_rate_increase", margin=margin, head=head,
            details=found, larger="a larger increase")


def _champion_flips(champ_flips: np.ndarray | None, paired: PairedFlips | None,
                    confidence: float) -> dict[str, Any]:
    """The champion's part of :class:`FlipDetails` (nothing without its flips)."""
    if champ_flips is None or paired is None:
        return {}
    n = paired.n
    return {"champion_flips": int(np.count_nonzero(champ_flips)),
            "champion_flip_rate": paired.champion_rate,
            "champion_flip_rate_ci": wilson(paired.champion_rate * n, n, confidence),
            "paired": PairedTable(both=paired.both, only_candidate=paired.only_candidate,
                                  only_champion=paired.only_champion),
            "delta_ci": (paired.lower, paired.upper), "delta_method": PAIRED_METHOD}


def flip_result(ctx: EvalContext, name: str, gates: Gates, line: int, clauses: Clauses,
                message: str, details: FlipDetails, paired: PairedFlips | None) -> CheckResult:
    """The result of a flip check. As in the performance family, the champion's value, Δ and
    the interval of Δ are the top-level fields only when the check compares with the
    champion (``max_flip_rate_increase``); otherwise the champion's flips are details and
    ``ci`` bounds the candidate's flip rate."""
    top: dict[str, Any] = {"ci": (None, details.flip_rate_ci[1]), "method": "wilson"}
    if paired is not None and gates.max_flip_rate_increase is not None:
        top = {"champion": paired.champion_rate, "delta": paired.estimate,
               "ci": (paired.lower, None), "method": PAIRED_METHOD}
    return CheckResult(
        id=ctx.suite.check_id(FAMILY, name), family=FAMILY, name=name, status=clauses.status(),
        blocking=gates.blocking, message=message, metric=FLIP_RATE, candidate=details.flip_rate,
        confidence=ctx.suite.confidence, threshold=gates.as_dict(), details=details, line=line,
        **top)


def inconclusive_result(ctx: EvalContext, name: str, blocking: bool, line: int,
                        threshold: dict[str, float], text: str) -> CheckResult:
    """A check the data cannot decide at all (a column with a single value): a ``fail``."""
    clauses = Clauses()
    clauses.add(False, f"inconclusive: {text}", "inconclusive")
    return CheckResult(id=ctx.suite.check_id(FAMILY, name), family=FAMILY, name=name,
                       status=clauses.status(), blocking=blocking, message=clauses.message(),
                       threshold=threshold, line=line)
