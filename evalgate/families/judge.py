"""The judging vocabulary every family shares (DESIGN.md §3), written once.

A check collects *clauses* — one per threshold, each saying value, bound, threshold and
verdict — into :class:`Clauses`; the status follows from them (any failing clause: ``fail``;
else any passing one: ``pass``; else ``skip``), and so does the message: facts first, then
the failing clauses (or the passing ones), then remarks, then what to do.

- :func:`percent` writes a confidence as a percentage (0.975 → ``97.5%``, never ``98%``);
  :func:`number` / :func:`signed` a value (4 decimals; 4 significant digits from 1e6 on);
- :func:`value_clause` judges a point estimate against ``min`` / ``max``;
- :func:`limit_clause` judges one against a threshold of any name (``max_difference``,
  ``min_ratio``), in the same words;
- :func:`compare` judges a paired difference Δ (positive = the candidate is better) against a
  margin by its one-sided lower bound: ``max_regression: m`` passes iff the bound is ≥ −m,
  ``min_improvement: m`` iff it is ≥ +m. A failing comparison whose point estimate meets the
  margin is *inconclusive* — the data are too few — and says about how many rows would
  resolve it (:meth:`evalgate.stats.Interval.rows_to_resolve`).
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..stats import MIN_COMPARISON_ROWS, Interval
from .base import Status

#: why a clause failed: a value beyond its bound, a regression shown by the data, or data too
#: few to decide
FailKind = Literal["value", "regression", "inconclusive"]
INCONCLUSIVE: FailKind = "inconclusive"
#: the advice of a check that failed only because the data could not decide
MORE_ROWS = "Evaluate on more rows, or accept a larger margin if that is the intent."
#: the margin keys of a comparison with the champion, and the side the bound must reach
MARGINS = ("max_regression", "min_improvement")


def percent(confidence: float) -> str:
    """A confidence as a percentage, as precise as it was given: 95%, 97.5%, 99.9%."""
    return f"{confidence * 100:.10g}%"


@dataclass
class Clauses:
    """What judging one check found, in the order it was found."""

    fails: list[str] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)
    #: facts shown before the verdicts (e.g. an informational value)
    info: list[str] = field(default_factory=list)
    #: remarks shown after them (e.g. a comparison skipped without a champion)
    notes: list[str] = field(default_factory=list)
    kinds: list[FailKind] = field(default_factory=list)

    def add(self, ok: bool, text: str, kind: FailKind = "value") -> None:
        """One threshold's clause: a pass, or a fail of ``kind``."""
        if ok:
            self.passes.append(text)
        else:
            self.fails.append(text)
            self.kinds.append(kind)

    @property
    def failed(self) -> bool:
        return bool(self.fails)

    @property
    def inconclusive(self) -> bool:
        """Failed only because the data could not decide."""
        return bool(self.kinds) and all(k == INCONCLUSIVE for k in self.kinds)

    def status(self, *, informational: bool = False) -> Status:
        """``fail`` on any failing clause; ``pass`` on a passing one (or when nothing is
        judged but the check is informational); else ``skip``."""
        if self.fails:
            return "fail"
        return "pass" if self.passes or informational else "skip"

    def message(self, *, fallback: str = "", advice: str = "", lead: str = "",
                tail: str = "") -> str:
        """``lead: info; fails (or passes); notes; tail``, and ``. advice`` when it failed."""
        lines = self.info + (self.fails + self.passes if self.fails else self.passes)
        text = "; ".join([*lines, *self.notes, *([tail] if tail else [])] or [fallback])
        if lead:
            text = f"{lead}: {text}" if text else lead
        if self.fails and advice:
            text = text.rstrip(".") + ". " + advice
        return text


def value_clause(clauses: Clauses, value: float, *, minimum: float | None = None,
                 maximum: float | None = None, text: str,
                 bounds: Bounds | None = None) -> None:
    """Judge ``value`` (described by ``text``) against ``min``/``max``: its point estimate,
    or — given ``bounds`` (``value_thresholds: bound``) — its one-sided bound on the side the
    threshold needs proven (``min`` by the lower bound, ``max`` by the upper)."""
    if minimum is not None:
        limit_clause(clauses, value, key="min", limit=minimum, upper=False, text=text,
                     bounds=bounds)
    if maximum is not None:
        limit_clause(clauses, value, key="max", limit=maximum, upper=True, text=text,
                     bounds=bounds)


@dataclass(frozen=True)
class Bounds:
    """A value's one-sided bounds at ``confidence``, for ``value_thresholds: bound``: the
    threshold is judged on the bound that must clear it (a missing side: inconclusive)."""

    lower: float | None
    upper: float | None
    confidence: float


def limit_clause(clauses: Clauses, value: float, *, key: str, limit: float, upper: bool,
                 text: str, bounds: Bounds | None = None) -> bool:
    """Judge ``value`` (described by ``text``) against the threshold ``key: limit`` — an upper
    limit when ``upper`` (``max``, ``max_difference``), else a lower one (``min``,
    ``min_ratio``) — on its point estimate, or on its one-sided bound when ``bounds`` are
    given (DESIGN.md §3, ``value_thresholds: bound``); add the clause, return whether it held."""
    judged = value
    if bounds is not None:
        side = "upper" if upper else "lower"
        bound = bounds.upper if upper else bounds.lower
        if bound is None or not math.isfinite(bound):
            clauses.add(False, f"{text}: inconclusive — no one-sided {side} bound to judge "
                               f"{key} {limit:g} by (value_thresholds: bound)", INCONCLUSIVE)
            return False
        judged = bound
        text = f"{text}, judged by its one-sided {percent(bounds.confidence)} {side} bound " \
               f"{bound:.4f}"
    ok = judged <= limit if upper else judged >= limit
    word = ("≤" if ok else "is above") if upper else ("≥" if ok else "is below")
    kind: FailKind = "value"
    tail = ""
    if not ok and bounds is not None and (value <= limit if upper else value >= limit):
        kind = INCONCLUSIVE  # the estimate clears it, the data cannot show it
        tail = " — inconclusive: the estimate clears it, the rows are too few to show it"
    clauses.add(ok, f"{text} {word} {key} {limit:g}{tail}", kind)
    return ok


def delta_text(delta: Interval, confidence: float, *, detail: str = "",
               name: str = "Δ vs champion") -> str:
    """``Δ vs champion = +0.0123 (detail), one-sided 95% lower bound +0.0045``."""
    shown = f" ({detail})" if detail else ""
    bound = "−∞" if delta.lower is None or not math.isfinite(delta.lower) else \
        signed(delta.lower)
    return (f"{name} = {signed(delta.estimate)}{shown}, one-sided {percent(confidence)} lower "
            f"bound {bound}")


#: from this magnitude a number is written with 4 significant digits, not 4 decimals
LARGE = 1e6


def signed(x: float) -> str:
    """``+0.0123``; from ±:data:`LARGE` on ``-7.574e+43`` (``.4f`` wrote all 44 digits)."""
    return f"{x:+.4g}" if math.isfinite(x) and abs(x) >= LARGE else f"{x:+.4f}"


def number(x: float) -> str:
    """``0.0123``; from ±:data:`LARGE` on ``7.574e+43``."""
    return f"{x:.4g}" if math.isfinite(x) and abs(x) >= LARGE else f"{x:.4f}"


def compare(clauses: Clauses, delta: Interval, *, key: str, margin: float, head: str,
            details: MutableMapping[str, Any], larger: str = "a larger regression",
            rows: str = "rows") -> bool:
    """Judge Δ (``head`` describes it) against ``key: margin`` by its lower bound; add the
    clause and return whether it passed. Δ's ``n`` counts the units that carry evidence
    (``rows``: rows, or e.g. positives for a rate), which the advice names."""
    need = margin if key == "min_improvement" else -margin
    if rows == "rows":
        rows = unit_of(delta)
    lower = -math.inf if delta.lower is None else delta.lower
    if lower >= need:
        clauses.add(True, f"{head} ≥ {need:+g} ({key} {margin:g})")
        return True
    text = f"{head} < {need:+g} allowed by {key} {margin:g}"
    kind: FailKind = "regression"  # unless the data could not decide
    if not math.isfinite(lower):
        kind = INCONCLUSIVE
        text += (f" — inconclusive: {delta.n} {rows} are too few for a paired comparison (at "
                 f"least {MIN_COMPARISON_ROWS} are needed; evaluate on more {rows})")
        details[f"rows_to_resolve_{key}"] = max(MIN_COMPARISON_ROWS, delta.n + 1)
    elif delta.estimate >= need:
        kind = INCONCLUSIVE
        if key == "min_improvement":
            text += (f" — inconclusive: the candidate looks better, but the data are too few "
                     f"to show an improvement of at least {margin:g}")
        else:
            text += (f" — inconclusive: the point estimate is within the margin but the data "
                     f"are too few to rule out {larger}")
        needed = delta.rows_to_resolve(-need)
        if needed is not None:
            details[f"rows_to_resolve_{key}"] = needed
            text += f" (about {needed:,} {rows} would resolve it at this effect size)"
    elif key == "min_improvement":
        text += f" — the candidate is not shown to improve by {margin:g}"
    clauses.add(False, text, kind)
    return False


def unit_of(delta: Interval, default: str = "rows") -> str:
    """What ``delta.n`` counts: rows, or the rows that carry a rate's evidence (positives for
    a true positive rate, negatives, predicted positives) where the interval says so."""
    unit = getattr(delta, "unit", None)
    return unit if isinstance(unit, str) else default


def no_champion(clauses: Clauses, reason: str) -> None:
    """A comparison that cannot be made without a champion: a remark, never a verdict."""
    clauses.notes.append(f"comparison with the champion skipped: {reason}")
