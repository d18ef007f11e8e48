"""Rows that repeat an earlier row. Every interval the gate computes takes the rows as
independent draws: the evaluation data written twice (or a part of it copied) makes each
interval narrower by about √(copies) with no new evidence, and a truly worse candidate passes
(measured: ×10 copies of 2,000 Adult rows, a candidate worse beyond the margin passed 21% of
the time against 2.7%). So a dataset whose rows repeat more than :data:`REPEATED_ROWS_MAX` —
the rows written twice or more — is refused, unless the suite says its rows are independent
draws that happen to repeat (a few discrete features): ``data: {repeated_rows: independent}``.
Rows repeat naturally too (Adult's test split without ``fnlwgt``: 5.8%; the tests' synthetic
data: 25%), so lesser copying — a part of the rows copied — is not told from them, and not
refused.

A row repeats another when every feature and the label are equal (the key column and the
excluded columns aside: a row id does not make a copy new). The share is measured on the rows
whose hash is ≡ 0 mod :data:`SAMPLE_MOD` — every copy of a row shares its hash, so a row and
its copies are kept or left out together — which bounds what the Dask engine sends to the
driver (1/8 of a hash per row) and is the same subset on every engine and partitioning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .fingerprint import hash_rows
from .read import check_columns

if TYPE_CHECKING:
    from ..spec import DataSpec

#: the share of rows repeating an earlier one above which the data is refused: every row
#: written twice gives 50%; natural repeats stay well below (Adult's test split: 0.03%, 5.8%
#: without ``fnlwgt``)
REPEATED_ROWS_MAX = 0.4
#: repeats below this many (in the sampled rows) are never taken as copying
MIN_REPEATS = 3
#: the sampled rows: those whose hash is ≡ 0 mod this
SAMPLE_MOD = 8
KEY = "repeated-rows"
INDEPENDENT = "independent"


@dataclass(frozen=True)
class RepeatedRows:
    """The :class:`~evalgate.families.base.Reduction` of the rows to their sampled hashes."""

    spec: DataSpec
    key: str = KEY

    def of(self, frame: Any, keys: np.ndarray) -> np.ndarray:
        columns = list(check_columns(self.spec, [str(c) for c in frame.columns]))
        if self.spec.target is not None:
            columns.append(self.spec.target)
        hashes = hash_rows(frame[columns])
        kept: np.ndarray = hashes[hashes % SAMPLE_MOD == 0]
        return kept

    def merge(self, states: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate(list(states)) if states else np.zeros(0, dtype=np.uint64)


def repeated_problem(spec: DataSpec, sampled: np.ndarray) -> str | None:
    """Why the rows cannot be judged as independent draws (None: they can)."""
    if spec.repeated_rows == INDEPENDENT or sampled.size == 0:
        return None
    repeats = int(sampled.size - np.unique(sampled).size)
    share = repeats / sampled.size
    if repeats < MIN_REPEATS or share <= REPEATED_ROWS_MAX:
        return None
    what = "every feature and the label" if spec.target is not None else "every feature"
    return (f"{share:.1%} of the rows repeat an earlier row, {what} "
            f"({repeats:,} of {sampled.size:,} rows sampled by hash): copies count as "
            f"independent evidence and narrow every interval, so a worse model could pass; "
            f"remove the copies, or, if the rows are independent draws that happen to repeat "
            f"(few discrete features), say so with `data: {{repeated_rows: independent}}`")
