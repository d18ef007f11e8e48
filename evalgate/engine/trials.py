"""What the engine tells the ledger of tries, and what it gets back (:mod:`evalgate.stats.
spending`): each suite judged against a champion is a *trial* — this candidate, this champion,
these rows — and the ledger (:mod:`evalgate.registry.attempts`, passed in by the front ends)
says which attempt and which look it is, and so the level its comparisons are judged at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from ..records import Record


@dataclass(frozen=True)
class Trial:
    """One suite judged against a champion."""

    suite: str
    suite_sha256: str
    candidate: str  # sha256 of the model file
    champion: str
    dataset: str  # sha256 of the data
    rows: int
    #: every row's hash, sorted (to tell whether an earlier trial's rows are among these)
    row_hashes: np.ndarray
    #: the rows' sketch (evalgate.data.fingerprint.sketch), what the ledger keeps of them
    sketch: tuple[int, ...]


@dataclass(frozen=True)
class Spending(Record):
    """Which try this was, and the level its comparisons were judged at."""

    kind: ClassVar[str] = "spending"
    #: the how-many-th distinct candidate judged against this champion on this dataset
    attempt: int | None
    #: the how-many-th evaluation of this candidate against this champion on growing rows
    look: int
    policy: str
    alpha: float
    alpha_used: float
    note: str


class Ledger(Protocol):
    """Counts the tries (the front ends pass :class:`evalgate.registry.attempts.AttemptLedger`)."""

    def spend(self, trial: Trial, alpha: float) -> Spending: ...

    def record(self, trial: Trial, spending: Spending, decision: str) -> None: ...
