"""Mergeable ROC AUC states (stats/scoretable.py): the exact table's AUC is DeLong's, any
split of the rows merges to the same table, and a binned table's AUC is within its recorded
error bound of the exact one (property tests)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalgate.stats.delong import delong
from evalgate.stats.scoretable import ScoreTable

BIG = 10**9  # never bucket


@st.composite
def rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(4, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    g = np.random.default_rng(seed)
    y = g.random(n) < draw(st.floats(0.05, 0.95))
    y[:2], y[2:4] = True, False  # both classes present
    levels = draw(st.sampled_from([3, 20, 1000, 0]))  # ties, or continuous scores
    score = g.random(n) + 0.4 * y
    if levels:
        score = np.round(score * levels) / levels
    return y.astype(int), score.astype(np.float32).astype(np.float64)


@settings(max_examples=200, deadline=None)
@given(rows())
def test_the_exact_table_gives_delongs_auc(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, score = data
    aucs, _ = delong(y, [score])
    assert ScoreTable.of(y, score, BIG).auc() == pytest.approx(float(aucs[0]), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(rows(), st.integers(1, 7), st.integers(1, 50))
def test_any_split_merges_to_the_same_table(data: tuple[np.ndarray, np.ndarray], parts: int,
                                            max_distinct: int) -> None:
    y, score = data
    whole = ScoreTable.of(y, score, max_distinct)
    cuts = np.linspace(0, len(y), parts + 1).astype(int)
    pieces = [ScoreTable.of(y[a:b], score[a:b], max_distinct)
              for a, b in itertools.pairwise(cuts) if b > a]
    merged = pieces[0]
    for p in reversed(pieces[1:]):  # any order
        merged = merged.merge(p, max_distinct)
    assert merged.exact == whole.exact
    np.testing.assert_array_equal(merged.keys, whole.keys)
    np.testing.assert_array_equal(merged.pos, whole.pos)
    np.testing.assert_array_equal(merged.neg, whole.neg)
    final = merged.coarsened(max_distinct)
    assert final.auc() == whole.coarsened(max_distinct).auc()


@settings(max_examples=300, deadline=None)
@given(rows(), st.integers(1, 12))
def test_a_binned_auc_is_within_its_recorded_bound(data: tuple[np.ndarray, np.ndarray],
                                                   max_distinct: int) -> None:
    y, score = data
    exact = ScoreTable.of(y, score, BIG).auc()
    binned = ScoreTable.of(y, score, max_distinct).coarsened(max_distinct)
    assert len(binned.keys) <= max_distinct
    assert abs(binned.auc() - exact) <= binned.error_bound() + 1e-12
    assert 0.0 <= binned.error_bound() <= 0.5


def test_a_table_within_its_limit_is_exact_and_has_no_error() -> None:
    y = np.array([1, 0, 1, 0, 1, 0])
    score = np.array([0.9, 0.1, 0.8, 0.8, 0.3, 0.2])
    t = ScoreTable.of(y, score, 10)
    assert t.exact and t.error_bound() == 0.0
    assert t.auc() == pytest.approx((3 + 2.5 + 2) / 9)
    assert not ScoreTable.of(y, score, 3).exact
    with pytest.raises(ValueError, match="positives and negatives"):
        ScoreTable.of(np.ones(3), np.arange(3.0), 10).auc()


@settings(max_examples=150, deadline=None)
@given(rows(), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_delong_from_states_is_delong_for_any_split(data: tuple[np.ndarray, np.ndarray],
                                                    parts: int, seed: int) -> None:
    """Two passes over any split of the rows — score tables, then placement sums looked up
    in the merged tables — give the in-memory DeLong's AUCs and covariance (1e-12), the
    placements being its very components; and the same floats for any split."""
    from evalgate.stats.delong import components
    from evalgate.stats.delong_states import (
        PlacementSums,
        delong_from_states,
        placement_sums,
        placements,
    )

    y, score = data
    other = np.round(score * 0.7 + np.random.default_rng(seed).random(len(y)) * 0.3, 2)
    scores = [score, other]
    cuts = np.linspace(0, len(y), parts + 1).astype(int)
    pieces = list(itertools.pairwise(cuts))

    def run(order: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        tables = []
        for s in scores:
            t = None
            for a, b in order:
                part = ScoreTable.of(y[a:b], s[a:b], BIG)
                t = part if t is None else t.merge(part, BIG)
            tables.append(t)
        sums = PlacementSums.empty(2)
        for a, b in order:
            sums.merge(placement_sums(tables, y[a:b], [s[a:b] for s in scores]))
        return delong_from_states(tables, sums)

    aucs, cov = run(pieces)
    want_aucs, want_cov = delong(y, scores)
    np.testing.assert_allclose(aucs, want_aucs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cov, want_cov, rtol=0, atol=1e-12)
    again_aucs, again_cov = run(list(reversed(pieces)))
    np.testing.assert_array_equal(again_aucs, aucs)
    np.testing.assert_array_equal(again_cov, cov)
    _, v10, v01 = components(y, scores)
    table = ScoreTable.of(y, score, BIG)
    mine10, mine01 = placements(table, y, score)
    np.testing.assert_array_equal(mine10, v10[0])
    np.testing.assert_array_equal(mine01, v01[0])
