"""The decision (DESIGN.md §3): ``promote`` iff the run is complete, no blocking check failed
or errored, and at least one blocking check passed — re-derivable from a verdict's statuses
alone, which is how ``evalgate promote`` checks it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..families import CheckResult

Decision = Literal["promote", "block"]


@dataclass(frozen=True)
class Summary:
    """The decision and why (DESIGN.md §3): promote iff the run is complete, no blocking
    check failed or errored, and at least one blocking check passed."""

    decision: Decision
    total: int  # checks planned: those with a result and those that did not run
    failed: int  # blocking checks that failed or errored
    reasons: tuple[str, ...]
    not_run: tuple[str, ...] = ()
    decided: int = 0  # blocking checks that passed

    @property
    def complete(self) -> bool:
        return not self.not_run

    @property
    def line(self) -> str:
        if self.decision == "promote":
            return "evalgate: PROMOTE"
        parts = []
        if self.failed:
            parts.append(f"{self.failed} of {self.total} checks failed")
        if self.not_run:
            parts.append(partial_reason(len(self.not_run), self.total))
        if not parts:
            parts.append(NO_CHECKS if self.total == 0 else NO_DECISION)
        return f"evalgate: BLOCK ({'; '.join(parts)})"


#: the reasons a verdict blocks without a failing check (DESIGN.md §1, §3)
NO_DECISION = "no blocking check decided"


NO_CHECKS = "no checks ran"


IN_PROGRESS = "run in progress: the gate has not finished (or was interrupted)"


def partial_reason(not_run: int, total: int) -> str:
    return f"partial run: {not_run} of {total} checks did not run"


def decide(results: Sequence[CheckResult], *, not_run: Iterable[str] = ()) -> Summary:
    """The decision over every planned check: ``results`` of the checks that ran, and the
    ids of those that were planned but ``not_run`` (deselected, ignored, cut short)."""
    return decide_statuses([(r.id, r.status, r.blocking) for r in results], not_run=not_run)


def decide_statuses(checks: Iterable[tuple[str, str, bool]], *,
                    not_run: Iterable[str] = ()) -> Summary:
    """:func:`decide` on ``(id, status, blocking)`` triples — the form a verdict.json holds,
    so that ``promote`` re-derives the decision from the statuses instead of trusting it."""
    checks = list(checks)
    missing = tuple(dict.fromkeys(not_run))
    blocking = [(i, s) for i, s, b in checks if b is not False]
    failures = [(i, s) for i, s in blocking if s != "pass" and s != "skip"]
    decided = sum(1 for _, s in blocking if s == "pass")
    total = len(checks) + len(missing)
    reasons = [f"{i}: {s}" for i, s in failures]
    if missing:
        reasons.append(partial_reason(len(missing), total))
        reasons += [f"{m}: did not run" for m in missing]
    if not failures and not missing and not decided:
        reasons.append(NO_CHECKS if total == 0 else
                       f"{NO_DECISION}: nothing shows the candidate may be promoted")
    decision: Decision = "block" if reasons else "promote"
    return Summary(decision, total, len(failures), tuple(reasons), missing, decided)
