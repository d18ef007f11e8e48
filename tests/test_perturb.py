"""Perturbations (evalgate.perturb): each one's statistical properties — the share of rows it
touches, the size of what it does, the dtypes it keeps — and that it is pure and seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalgate.errors import CheckError
from evalgate.families.robustness import perturb
from evalgate.families.robustness.perturb import (
    PERTURBATIONS,
    UNSEEN,
    apply,
    changed_rows,
    column_kind,
    select,
)

N = 20_000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = N
    cat = rng.choice(["a", "b", "c", "d"], n, p=[0.55, 0.25, 0.15, 0.05])
    return pd.DataFrame({
        "age": rng.integers(18, 80, n),                            # int64
        "hours": rng.normal(40, 10, n),                           # float64
        "small": rng.normal(0, 1, n).astype(np.float32),          # float32
        "count": pd.array(rng.integers(0, 9, n), dtype="Int64"),  # nullable integer
        "cat": pd.array(cat, dtype="str"),
        "grade": pd.Categorical(rng.choice(["x", "y", "z"], n)),
        "flag": rng.random(n) < 0.3,
        "y": (rng.random(n) < 0.5).astype(np.int64),
    })


def run(name: str, frame: pd.DataFrame, columns: list[str], seed: int = 0,
        **params: object) -> pd.DataFrame:
    return apply(name, frame, columns, params, np.random.default_rng(seed))


def binomial_ok(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """``count`` is within ``sigmas`` standard deviations of Binomial(n, p)'s mean."""
    return abs(count - n * p) <= sigmas * np.sqrt(n * p * (1 - p)) + 1


# --------------------------------------------------------------------------- generic


def test_registry_lists_the_issue_s_perturbations() -> None:
    assert list(PERTURBATIONS) == ["gaussian_noise", "scale", "missing_values", "category_swap",
                                   "unseen_category", "outliers", "rounding", "shuffle"]


def test_column_kinds_and_selectors(frame) -> None:
    kinds = {c: column_kind(frame[c]) for c in frame.columns}
    assert kinds == {"age": "numeric", "hours": "numeric", "small": "numeric",
                     "count": "numeric", "cat": "categorical", "grade": "categorical",
                     "flag": "categorical", "y": "numeric"}
    feats = ["age", "cat", "hours", "flag"]
    assert select(frame, feats, "numeric") == ["age", "hours"]
    assert select(frame, feats, "categorical") == ["cat", "flag"]
    assert select(frame, feats, "all") == feats


CASES = [
    ("gaussian_noise", ["age", "hours", "small", "count"], {}),
    ("scale", ["age", "hours"], {"factor": 100, "rate": 0.5}),
    ("missing_values", ["age", "cat", "grade"], {"rate": 0.2}),
    ("category_swap", ["cat", "grade", "flag"], {"rate": 0.2}),
    ("unseen_category", ["cat", "grade"], {"rate": 0.2}),
    ("outliers", ["age", "hours"], {"rate": 0.05}),
    ("rounding", ["hours"], {"decimals": -1, "rate": 0.5}),
    ("shuffle", ["age", "cat"], {}),
]


@pytest.mark.parametrize("name,columns,params", CASES, ids=[c[0] for c in CASES])
def test_pure_seeded_and_local(frame, name, columns, params) -> None:
    before = frame.copy(deep=True)
    a = run(name, frame, columns, seed=3, **params)
    b = run(name, frame, columns, seed=3, **params)
    c = run(name, frame, columns, seed=4, **params)
    pd.testing.assert_frame_equal(frame, before)  # the input is untouched
    pd.testing.assert_frame_equal(a, b)  # same seed, same frame
    assert not a[columns].equals(c[columns])  # another seed, another realisation
    assert list(a.columns) == list(frame.columns) and len(a) == len(frame)
    assert a.index.equals(frame.index)
    for col in frame.columns.difference(columns):
        pd.testing.assert_series_equal(a[col], frame[col])  # other columns untouched
    assert changed_rows(frame, a, columns).any()


# --------------------------------------------------------------------------- numeric


def test_gaussian_noise_scale_is_in_units_of_each_column_std(frame) -> None:
    out = run("gaussian_noise", frame, ["hours", "small"], scale=0.5)
    for col in ("hours", "small"):
        noise = out[col].to_numpy(np.float64) - frame[col].to_numpy(np.float64)
        assert out[col].dtype == frame[col].dtype
        assert abs(noise.mean()) < 5 * 0.5 * frame[col].std() / np.sqrt(N)
        assert noise.std() == pytest.approx(0.5 * frame[col].std(), rel=0.03)
        assert np.count_nonzero(noise) > 0.99 * N


def test_gaussian_noise_keeps_integer_columns_integers(frame) -> None:
    out = run("gaussian_noise", frame, ["age", "count"], scale=0.2)
    assert out["age"].dtype == np.int64 and out["count"].dtype == "Int64"
    noise = (out["age"] - frame["age"]).to_numpy()
    # rounding N(0, (0.2 σ)²) to integers: σ(age) ≈ 17.9, so the rounded noise has sd ≈ 3.6
    assert noise.std() == pytest.approx(0.2 * frame["age"].std(), rel=0.05)
    assert abs(noise.mean()) < 0.1


def test_gaussian_noise_rate_touches_that_share_of_rows(frame) -> None:
    out = run("gaussian_noise", frame, ["hours"], scale=0.1, rate=0.3)
    touched = int((out["hours"] != frame["hours"]).sum())
    assert binomial_ok(touched, N, 0.3)


def test_gaussian_noise_on_a_constant_column_changes_nothing() -> None:
    f = pd.DataFrame({"k": np.full(100, 7.0)})
    pd.testing.assert_frame_equal(run("gaussian_noise", f, ["k"], scale=1.0), f)


def test_scale_multiplies_the_touched_rows(frame) -> None:
    out = run("scale", frame, ["hours", "age"], factor=100, rate=0.25)
    ratio = out["hours"] / frame["hours"]
    touched = np.isclose(ratio, 100)
    assert np.all(touched | np.isclose(ratio, 1))
    assert binomial_ok(int(touched.sum()), N, 0.25)
    assert out["age"].dtype == np.int64
    assert set(np.unique(out["age"] / frame["age"])) <= {1.0, 100.0}


def test_outliers_lie_beyond_the_observed_range_on_both_sides(frame) -> None:
    out = run("outliers", frame, ["age", "hours"], rate=0.05, factor=1.0)
    for col in ("age", "hours"):
        lo, hi = frame[col].min(), frame[col].max()
        moved = out[col] != frame[col]
        assert binomial_ok(int(moved.sum()), N, 0.05)
        values = out.loc[moved, col]
        assert ((values > hi) | (values < lo)).all()
        assert (values > hi).mean() == pytest.approx(0.5, abs=0.1)
        assert (values <= hi + (hi - lo) + 1).all() and (values >= lo - (hi - lo) - 1).all()
    assert out["age"].dtype == np.int64


def test_outliers_one_side() -> None:
    f = pd.DataFrame({"x": np.arange(1000, dtype=np.int64)})
    out = run("outliers", f, ["x"], rate=1.0, side="high", factor=0.5)
    assert (out["x"] >= 1000).all() and (out["x"] <= 999 + 500).all()


def test_rounding_loses_precision_only(frame) -> None:
    out = run("rounding", frame, ["hours", "age"], decimals=-1)
    assert np.all(out["hours"] % 10 == 0)
    assert np.abs(out["hours"] - frame["hours"]).max() <= 5
    assert out["age"].dtype == np.int64 and np.all(out["age"] % 10 == 0)
    one = run("rounding", frame, ["hours"], decimals=1)
    np.testing.assert_array_equal(one["hours"], np.round(frame["hours"], 1))


# --------------------------------------------------------------------------- any / text


def test_missing_values_rate_per_column_independently(frame) -> None:
    out = run("missing_values", frame, ["age", "cat", "grade", "hours"], rate=0.2)
    masks = {c: out[c].isna().to_numpy() for c in ("age", "cat", "grade", "hours")}
    for c, m in masks.items():
        assert binomial_ok(int(m.sum()), N, 0.2), c
    both = int((masks["age"] & masks["cat"]).sum())
    assert binomial_ok(both, N, 0.04)  # independent: 0.2 × 0.2
    assert out["age"].dtype == np.float64  # NaN needs a float
    assert out["cat"].dtype == frame["cat"].dtype and out["grade"].dtype == frame["grade"].dtype
    kept = ~masks["age"]
    np.testing.assert_array_equal(out["age"][kept], frame["age"][kept])


def test_category_swap_draws_another_value_by_frequency(frame) -> None:
    out = run("category_swap", frame, ["cat", "grade"], rate=0.3)
    old, new = frame["cat"].to_numpy(object), out["cat"].to_numpy(object)
    swapped = old != new
    assert binomial_ok(int(swapped.sum()), N, 0.3)
    assert set(new) == set(old)  # observed values only
    assert out["cat"].dtype == frame["cat"].dtype and out["grade"].dtype == frame["grade"].dtype
    # rows that were "a" get b, c, d in proportion to their frequencies among the others
    freq = frame["cat"].value_counts(normalize=True)
    from_a = pd.Series(new[swapped & (old == "a")]).value_counts(normalize=True)
    others = freq.drop("a") / freq.drop("a").sum()
    for v in ("b", "c", "d"):
        assert from_a[v] == pytest.approx(others[v], abs=0.03), v
    assert "a" not in from_a.index


def test_category_swap_handles_missing_and_single_values() -> None:
    f = pd.DataFrame({"c": pd.array(["u", None, "v", "u"] * 250, dtype="str"),
                      "one": pd.array(["k"] * 1000, dtype="str")})
    out = run("category_swap", f, ["c", "one"], rate=1.0)
    assert out["c"].isna().sum() == 250  # missing stays missing
    present = f["c"].notna()
    assert (out["c"][present] != f["c"][present]).all()  # every present value changed
    pd.testing.assert_series_equal(out["one"], f["one"])  # nothing to swap to


def test_category_swap_on_booleans_flips_them(frame) -> None:
    out = run("category_swap", frame, ["flag"], rate=1.0)
    assert out["flag"].dtype == bool
    assert (out["flag"] != frame["flag"]).all()


def test_unseen_category(frame) -> None:
    out = run("unseen_category", frame, ["cat", "grade"], rate=0.1)
    for col in ("cat", "grade"):
        unseen = out[col] == UNSEEN
        assert binomial_ok(int(unseen.sum()), N, 0.1)
        assert UNSEEN not in set(frame[col])
        kept = ~unseen.to_numpy()
        np.testing.assert_array_equal(out[col].to_numpy(object)[kept],
                                      frame[col].to_numpy(object)[kept])
    assert out["cat"].dtype == frame["cat"].dtype
    assert isinstance(out["grade"].dtype, pd.CategoricalDtype)
    custom = run("unseen_category", frame, ["cat"], rate=1.0, value="Martian")
    assert (custom["cat"] == "Martian").all()


def test_shuffle_permutes_and_breaks_the_relation_to_the_target() -> None:
    rng = np.random.default_rng(5)
    y = rng.random(N) < 0.5
    f = pd.DataFrame({"signal": y * 2.0 + rng.normal(0, 1, N), "y": y.astype(int),
                      "cat": pd.array(np.where(y, "p", "q"), dtype="str")})
    out = run("shuffle", f, ["signal", "cat"])
    assert sorted(out["signal"]) == sorted(f["signal"])
    assert out["cat"].value_counts().equals(f["cat"].value_counts())
    assert np.corrcoef(f["signal"], f["y"])[0, 1] > 0.6
    assert abs(np.corrcoef(out["signal"], out["y"])[0, 1]) < 0.05
    # each column by its own permutation: the two shuffled columns are unrelated too
    assert abs(np.corrcoef(out["signal"], out["cat"] == "p")[0, 1]) < 0.05
    assert out["cat"].dtype == f["cat"].dtype


def test_defaults_fill_missing_parameters(frame) -> None:
    assert PERTURBATIONS["gaussian_noise"].with_defaults({}) == {"scale": 0.1, "rate": 1.0}
    with pytest.raises(CheckError, match="scale needs factor"):
        PERTURBATIONS["scale"].with_defaults({})
    out = run("missing_values", frame, ["hours"])
    assert binomial_ok(int(out["hours"].isna().sum()), N, 0.1)


def test_changed_rows_treats_missing_as_equal_to_missing() -> None:
    a = pd.DataFrame({"x": [1.0, np.nan, 3.0, np.nan], "s": ["a", "b", None, None]})
    b = pd.DataFrame({"x": [1.0, np.nan, 4.0, 2.0], "s": ["a", "c", None, None]})
    np.testing.assert_array_equal(changed_rows(a, b, ["x", "s"]), [False, True, True, True])
    assert perturb.changed_rows(a, a, ["x", "s"]).sum() == 0

