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
excluded columns aside: a row id does not make a copy new). The share is measured on a
sample of the rows by their hash — every copy of a row shares its hash, so a row and its
copies are kept or left out together — one in :data:`SAMPLE_MOD`, which bounds what the Dask
engine sends to the driver (1/8 of a hash per row) and is the same subset on every engine and
partitioning. The sample is salted with the data's sha256 (:meth:`RepeatedRows.salted`): with
a fixed one, rows copied only from outside it would never be seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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
#: one row in this many is sampled (by its salted hash)
SAMPLE_MOD = 8
KEY = "repeated-rows"
INDEPENDENT = "independent"


#: Knuth's multiplicative constant: an odd multiplier, a bijection of the 64-bit hashes
_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class RepeatedRows:
    """The :class:`~evalgate.families.base.Reduction` of the rows to their sampled hashes."""

    spec: DataSpec
    key: str = KEY
    #: the data's sha256, which picks the sample (:meth:`salted`); "" until the engine knows it
    salt: str = ""
    #: the rows' positions are not needed (the Dask engine counts no CSV rows for it)
    keyed: bool = False

    def salted(self, sha256: str) -> RepeatedRows:
        return replace(self, salt=sha256)

    def of(self, frame: Any, keys: np.ndarray) -> np.ndarray:
        if not self.salt:
            raise RuntimeError("the repeated-rows sample is drawn once the data's sha256 is known")
        columns = list(check_columns(self.spec, [str(c) for c in frame.columns]))
        if self.spec.target is not None:
            columns.append(self.spec.target)
        hashes = hash_rows(frame[columns])
        mixed = (hashes ^ np.uint64(int(self.salt[:16], 16))) * _MIX
        kept: np.ndarray = hashes[(mixed >> np.uint64(61)) == 0]  # 1 in 8
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
