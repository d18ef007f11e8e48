"""What the engine tells the ledger of tries, and what it gets back (:mod:`evalgate.stats.
spending`): each suite judged against a champion is a *trial* — this candidate, this champion,
these rows — and the ledger (:mod:`evalgate.registry.attempts`, passed in by the front ends)
says which attempt and which look it is, and so the level its comparisons are judged at."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from ..records import Record


@dataclass(frozen=True)
class Trial:
    """One suite judged against a champion."""

    suite: str
    suite_sha256: str
    candidate: str  # sha256 of the model file
    champion: str
    dataset: str  # sha256 of the data's bytes
    rows: int
    #: every row's hash (:func:`hashed_columns`), sorted (to tell whether an earlier trial's
    #: rows are among these)
    row_hashes: np.ndarray
    #: the rows' sketch (evalgate.data.fingerprint.sketch), what the ledger keeps of them
    sketch: tuple[int, ...]
    #: the rows' identity by content (evalgate.data.fingerprint.rows_digest): what an attempt
    #: is counted on, whatever the file's order, format or unused columns
    rows_sha256: str
    #: the suite's checks (``family::name``, sorted): the hypotheses a look re-tests, which a
    #: new ``suite:`` name does not change
    checks: tuple[str, ...]
    #: the statistical settings the suite was judged with: the same bytes judged again with
    #: others draw the decision again (another look)
    seed: int
    n_resamples: int
    confidence: float


@dataclass(frozen=True)
class Spending(Record):
    """Which try this was, and the level its comparisons were judged at."""

    kind: ClassVar[str] = "spending"
    #: the how-many-th distinct candidate judged against this champion on this dataset
    attempt: int | None
    #: the how-many-th evaluation of this candidate against this champion on rows that hold
    #: the earlier ones (more rows, or the same judged with other statistical settings)
    look: int
    policy: str
    alpha: float
    alpha_used: float
    note: str


def hashed_columns(champion: Mapping[str, Any] | None, features: Sequence[str],
                   target: str | None) -> list[str]:
    """The columns a row's hash covers for the ledger: those the champion reads and the label.
    ``champion``: how it was fed (``Model.describe_inputs``, after it predicted). A column no
    model reads (a batch tag) is no part of the rows' identity, nor are the file's column
    order and the data's names for the champion's inputs: by name, the columns in the order
    of the inputs' names. The champion is the one model every try against it shares (each
    candidate may read other columns); where its columns are not known (fed by position, a
    fake model), every feature, by name."""
    mapping = dict((champion or {}).get("mapping") or {})
    read = sorted(features)
    if (champion or {}).get("mode") == "by-name" and mapping and all(
            isinstance(c, str) and c in features for c in mapping.values()):
        read = list(dict.fromkeys(mapping[name] for name in sorted(mapping)))
    return [*read, *([target] if target is not None else [])]


class Ledger(Protocol):
    """Counts the tries (the front ends pass :class:`evalgate.registry.attempts.AttemptLedger`)."""

    def spend(self, trial: Trial, alpha: float) -> Spending: ...

    def record(self, trial: Trial, spending: Spending, decision: str) -> None: ...
