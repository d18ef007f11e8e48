"""The seeded row samples the engines reduce rows to (evalgate.families.sample): the same rows
for any partitioning, and a simple random sample — repeated rows are kept or dropped one by
one, not all together."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from evalgate.families.base import row_keys
from evalgate.families.sample import Sample


def test_any_partitioning_gives_the_same_sample() -> None:
    frame = pd.DataFrame({"x": np.arange(5000.0), "c": ["a", "b"] * 2500})
    sample = Sample("s", ("x", "c"), 300, seed=7)
    whole = sample.merge([sample.of(frame, row_keys(0, len(frame)))])
    cuts = [0, 1, 1200, 1200, 4999, 5000]
    parts = [sample.of(frame.iloc[a:b], row_keys(a, b - a))
             for a, b in itertools.pairwise(cuts)]
    pd.testing.assert_frame_equal(sample.merge(parts), whole)
    assert len(whole) == 300 and whole["x"].is_unique


def test_repeated_rows_are_sampled_in_their_share() -> None:
    """90% of the rows are one repeated row: about 90% of the sample is that row (a hash of
    the contents would put all of them in the sample, or none)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": np.where(rng.random(50_000) < 0.9, -1.0, rng.normal(size=50_000))})
    shares = []
    for seed in range(5):
        s = Sample("s", ("x",), 1000, seed=seed)
        got = s.merge([s.of(frame, row_keys(0, len(frame)))])
        shares.append(float((got["x"] == -1.0).mean()))
    assert all(0.85 < share < 0.95 for share in shares), shares
