"""Several challengers against one champion in one run (``evalgate compare``), with the
family-wise error rate kept.

Each challenger is judged by the whole gate on the same rows, against the same champion, with
the same seeds — so the same perturbed rows and the same bootstrap draws (a check's generator
is seeded by the suite's seed and the check's id, not by the model) — and each model predicts
the rows once (the challengers' gates share the champion's model, its predictions and the
resolved references).

**The guarantee.** Judging m challengers each at level α lets a truly worse one through with
probability up to 1 − (1 − α)^m (21% for 5, 64% for 20 at α = 0.05, independent tries). Here
each challenger's comparisons are judged at α/m (Bonferroni): the probability that *any* truly
worse challenger is marked promotable stays at most α, whatever their dependence. Holm's
step-down would reject more, but it decides each challenger's level from the others' results,
so the comparisons would run again at new levels — timed checks re-measured included; one
round at α/m judges every family once per model. The level enters through the trial ledger
(:class:`Shared`), so each verdict records it (``spending``) and ``evalgate rerun`` replays it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .gate import Gate, evaluate_paths
from .outcome import SuiteOutcome
from .trials import Ledger, Spending, Trial

ADJUSTMENT = "bonferroni"


class Shared:
    """A ledger for one of ``m`` challengers judged together: each at the level its own try
    would be judged at alone — its attempt and look in the inner ledger, for this suite's
    trial — divided by ``m``. So a challenger is never judged more leniently in a comparison
    than by ``evalgate run``, however the run's other challengers were tried before or in
    what order they are named. Under the default ``warn`` policy that is α/m for each
    (α/(4^(look−1)·m) on a later look); under ``spend`` each challenger is a try of its own
    (the ledger's next attempt for a new one), so the levels also shrink along the run."""

    def __init__(self, inner: Ledger | None, m: int):
        self.inner, self.m = inner, m

    def spend(self, trial: Trial, alpha: float) -> Spending:
        base = (self.inner.spend(trial, alpha) if self.inner is not None else
                Spending(attempt=None, look=1, policy="warn", alpha=alpha, alpha_used=alpha,
                         note=""))
        used = base.alpha_used / self.m
        said = (f"judged as one of {self.m} challengers against this champion (Bonferroni): "
                f"at α = {used:.4g}, its own level {base.alpha_used:.4g} divided by {self.m}, "
                f"so that a truly worse one is marked promotable with probability at most "
                f"{base.alpha_used:.4g}")
        note = f"{base.note}; {said}" if base.note else said
        return dataclasses.replace(base, alpha_used=used, note=note)

    def record(self, trial: Trial, spending: Spending, decision: str) -> None:
        if self.inner is not None:
            self.inner.record(trial, spending, decision)


@dataclass
class Challenger:
    """One challenger's run: its name (its file's stem, made unique), its gate and outcomes,
    and the same checks' outcomes judged at the suite's own level (for the leaderboard's
    unadjusted bounds; not a verdict)."""

    name: str
    path: Path
    gate: Gate
    outcomes: list[SuiteOutcome] = field(default_factory=list)
    unadjusted: list[SuiteOutcome] = field(default_factory=list)


def names_of(paths: Sequence[Path]) -> list[str]:
    """Each challenger's name — a folder of the report's, a part of a test's id: its file's
    stem without leading dots (``challenger`` when nothing is left: a stem of ``.`` or ``..``
    would name the report folder itself or its parent), with ``-2``, ``-3`` … where names
    repeat."""
    out: list[str] = []
    for p in paths:
        stem = p.stem.lstrip(".") or "challenger"
        name, n = stem, 1
        while name in out:
            n += 1
            name = f"{stem}-{n}"
        out.append(name)
    return out


def sibling(gate: Gate, candidate: Path, ledger: Ledger | None) -> Gate:
    """A gate for ``candidate`` sharing ``gate``'s loaded models, predictions and resolved
    references (so the champion loads and predicts once), with its own ledger and outcomes."""
    other = copy.copy(gate)
    other.candidate_ref = Path(candidate)
    other.ledger = ledger
    other.outcomes = []
    return other


#: the families whose comparisons the leaderboard also shows at the suite's own level
UNADJUSTED_FAMILIES = ("performance", "bias")


def gates(gate: Gate, challengers: Sequence[Path]) -> dict[str, Gate]:
    """Each challenger's gate by its name: ``gate``'s caches shared, each judged at its own
    level divided by the number of challengers (:class:`Shared`)."""
    shared = Shared(gate.ledger, len(challengers))
    out = {}
    for name, path in zip(names_of(challengers), challengers, strict=True):
        out[name] = sibling(gate, Path(path), shared)
    return out


def run(gate: Gate, challengers: Sequence[Path], paths: list[Path]) -> list[Challenger]:
    """Every challenger judged by the gate on the suites at ``paths`` (see the module)."""
    from ..stats.memo import remembered

    runs = [Challenger(name, g.candidate_ref, g) for name, g in gates(gate, challengers).items()]
    with remembered():  # the unadjusted re-judging reuses each check's bootstrap replicates
        for c in runs:
            gate.progress(f"challenger {c.name}")
            c.outcomes = evaluate_paths(c.gate, paths)
        for c in runs:
            add_unadjusted(gate, c)
    return runs


def add_unadjusted(gate: Gate, c: Challenger) -> None:
    """``c``'s performance and bias checks again at each suite's own level, for the
    leaderboard: no ledger (nothing recorded), the predictions from the shared cache."""
    from ..families import plan_checks

    plain = sibling(gate, c.path, None)
    for outcome in c.outcomes:
        if outcome.suite is None:
            continue
        suite = outcome.suite
        selected = {suite.check_id(p.family, p.name) for p in plan_checks(suite)
                    if p.family in UNADJUSTED_FAMILIES}
        selected &= {r.id for r in outcome.results}  # the checks that ran
        if selected:
            c.unadjusted.append(plain.run_suite(gate.load(suite.path), selected))
