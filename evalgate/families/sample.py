"""Seeded samples of the evaluation rows that are the same for any partitioning: the rows
whose positions hash lowest (:class:`Sample`, a :class:`~.base.Reduction`) — the drift
family's domain classifier sample, and the *pool* of rows the latency and stress families
time the models on (:func:`pool`): they measure the model, not the data, so a pool of at most
:data:`POOL_ROWS` rows serves any dataset, and the Dask engine sends the pool to the driver
instead of every row.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.read import read_header
from ..errors import DataError, EvalgateError
from ..spec import Suite
from .base import EvalContext, Reduction

#: the latency and stress families draw their rows from at most this many
POOL_ROWS = 100_000
POOL = "rows:pool"

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def mix(keys: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 of the row keys offset by the seed: a well-spread uint64 per row."""
    z = np.asarray(keys, dtype=np.uint64) + np.uint64((seed * _GOLDEN) & _MASK64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


@dataclass(frozen=True)
class Sample:
    """At most ``size`` rows of ``columns``: those whose keys — positions in the dataset —
    hash lowest under ``seed``, in that order. A simple random sample without replacement,
    the same rows for any partitioning or split into files (a hash of the rows' contents
    would keep or drop repeated rows all together, and depend on a column's dtype)."""

    name: str
    columns: tuple[str, ...]
    size: int
    seed: int

    @property
    def key(self) -> str:
        return self.name

    def of(self, frame: pd.DataFrame, keys: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
        cols = [c for c in self.columns if c in frame.columns]
        h = mix(keys, self.seed)
        at = np.arange(len(h)) if len(h) <= self.size else \
            np.argpartition(h, self.size - 1)[:self.size]
        return h[at], frame.iloc[at][cols].reset_index(drop=True)

    def merge(self, states: Sequence[tuple[np.ndarray, pd.DataFrame]]) -> pd.DataFrame:
        # an empty partition's frame (a header-only CSV) has no dtypes to give the others
        kept = [s for s in states if len(s[0])] or list(states[:1])
        h = np.concatenate([s[0] for s in kept])
        frame = pd.concat([s[1] for s in kept], ignore_index=True)
        order = np.argsort(h, kind="stable")[:self.size]  # keys differ, so hashes do
        return frame.iloc[order].reset_index(drop=True)


def suite_features(suite: Suite) -> tuple[str, ...]:
    """The suite's features as its data's header gives them (``()`` when it cannot be read:
    every family then says so)."""
    data = suite.data
    if data.features is not None:
        return data.features
    try:
        header = read_header(data.sources[0])
    except DataError:
        return ()
    never = {data.target, data.key, *data.exclude}
    return tuple(c for c in header if c not in never)


def pool_reductions(suite: Suite, plans: Sequence[object]) -> list[Reduction]:
    """The pool (:data:`POOL_ROWS` rows of the features), for a family that times models."""
    return [Sample(POOL, suite_features(suite), POOL_ROWS,
                   zlib.crc32(f"{suite.seed}:{POOL}".encode()))]


def pool(ctx: EvalContext) -> pd.DataFrame:
    """The pool of rows the engine reduced the evaluation rows to, in hash order."""
    found = ctx.states.get(POOL)
    if not isinstance(found, pd.DataFrame) or ctx.data is None:
        raise EvalgateError("the engine gave no pool of rows to time the models on")
    return found


#: the most rows the timed calls of one measurement draw; past it the batches repeat (a
#: batch of 4,096 rows: 64 batches)
TIMED_ROWS = 1 << 18


def timed_rows(ctx: EvalContext, rng: np.random.Generator, batch_size: int,
               calls: int) -> pd.DataFrame:
    """The rows of ``calls`` timed calls, ``batch_size`` after ``batch_size`` (at most
    :data:`TIMED_ROWS` rows), drawn from the pool with replacement: a fresh batch for each
    call. The order-statistic bounds take the calls as independent draws of the model's time
    on the data; a few batches repeated would let a model slow on some rows (one in fifty,
    say) go unseen — 16 batches of one row missed them 72% of the time."""
    frame = pool(ctx)
    count = max(1, min(calls, TIMED_ROWS // batch_size))
    idx = rng.integers(0, len(frame), size=count * batch_size)
    return frame.iloc[idx].reset_index(drop=True)

