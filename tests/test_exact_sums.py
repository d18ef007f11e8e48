"""Exact sums: the same float whatever the partitioning and the order of merging."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalgate.stats.exact import ExactSums

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(finite, min_size=0, max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=6), seed=st.integers(0, 2**32 - 1))
def test_any_partitioning_and_merge_order_gives_the_correctly_rounded_sum(
        values: list[float], cuts: list[int], seed: int) -> None:
    x = np.array(values, dtype=np.float64)
    edges = sorted({min(c, len(x)) for c in cuts} | {0, len(x)})
    parts = [ExactSums.of(x[a:b]) for a, b in itertools.pairwise(edges)] or [ExactSums(1)]
    order = np.random.default_rng(seed).permutation(len(parts))
    total = ExactSums(1)
    for i in order:
        total.merge(parts[i])
    try:
        expected = math.fsum(values)
    except OverflowError:  # fsum overflows on an intermediate; the exact sum is then huge
        return
    assert total.values()[0] == expected
    assert total.rows == len(values)


def test_cancellation_that_float_addition_loses_is_kept() -> None:
    x = np.array([1e16, 1.0, -1e16, 1.0])
    assert x[0] + x[1] + x[2] + x[3] == 1.0  # left to right, one 1.0 is absorbed
    assert ExactSums.of(x).values()[0] == 2.0


def test_extreme_exponents_and_subnormals() -> None:
    x = np.array([1e308, 1e-308, 5e-324, -1e308, 2.5e-320])
    assert ExactSums.of(x).values()[0] == math.fsum(x.tolist())
    assert ExactSums.of(np.array([1.7e308, 1.7e308])).values()[0] == math.inf


def test_non_finite_values_are_counted_not_lost() -> None:
    s = ExactSums.of(np.array([[1.0, np.inf, 1.0], [np.nan, 1.0, -np.inf]]).T)
    assert s.values()[0] == math.inf and np.isnan(s.values()[1])
    assert np.isnan(ExactSums.of(np.array([np.inf, -np.inf])).values()[0])


def test_columns_are_summed_apart_and_a_mismatch_is_refused() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10_001, 3)) * np.array([1e-9, 1.0, 1e9])
    s = ExactSums.of(x[:5000]).merge(ExactSums.of(x[5000:]))
    assert s.values().tolist() == [math.fsum(col) for col in x.T.tolist()]
    from evalgate.errors import StatsError
    with pytest.raises(StatsError, match="cannot merge exact sums of 2 columns into 3"):
        s.merge(ExactSums(2))


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.one_of(st.floats(-1e300, 1e300),  # fsum's own limit
                                    st.sampled_from([math.nan, math.inf, -math.inf])),
                          st.integers(0, 4)), max_size=300),
       st.integers(1, 6))
def test_grouped_sums_are_each_groups_exact_sum_for_any_split(
        rows: list[tuple[float, int]], parts: int) -> None:
    """add_grouped: each group's sum is math.fsum of its values (NaN where one is NaN or both
    infinities meet), and parts merged in any order give the very same floats."""
    x = np.array([v for v, _ in rows], dtype=np.float64)
    g = np.array([k for _, k in rows], dtype=np.int64)
    whole = ExactSums(5)
    whole.add_grouped(x, g)
    for j in range(5):
        mine = x[g == j]
        got = whole.values()[j]
        if np.isnan(mine).any() or (np.isposinf(mine).any() and np.isneginf(mine).any()):
            assert np.isnan(got)
        elif np.isinf(mine).any():
            assert got == mine[np.isinf(mine)][0]
        else:
            assert got == math.fsum(mine)
    cuts = np.linspace(0, len(x), parts + 1).astype(int)
    pieces = []
    for a, b in itertools.pairwise(cuts):
        piece = ExactSums(5)
        piece.add_grouped(x[a:b], g[a:b])
        pieces.append(piece)
    merged = ExactSums.merged(reversed(pieces), 5)
    np.testing.assert_array_equal(merged.values(), whole.values())
