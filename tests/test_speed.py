"""Speed without changing a number (issue 19): what replaced a library call or an earlier
search gives its very floats (or the same counts, cells and strings), remembered replicates
are the ones drawn, and a performance gate imports no scikit-learn, scipy.stats or onnx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]


@st.composite
def scored(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < draw(st.floats(0.05, 0.95))).astype(np.int8)
    y[0], y[1] = 0, 1  # both classes
    kind = draw(st.sampled_from(["float32", "ties", "coarse"]))
    if kind == "float32":
        score = rng.random(n).astype(np.float32)
    elif kind == "ties":
        score = rng.integers(0, 3, n).astype(np.float64)
    else:
        score = np.round(rng.random(n), 1)
    return y, score


@settings(max_examples=200, deadline=None)
@given(scored())
def test_the_curves_are_scikit_learns(case: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.metrics import precision_recall_curve, roc_curve

    from evalgate.report import plots

    y, score = case
    fpr, tpr, _ = roc_curve(y == 1, score)
    precision, recall, _ = precision_recall_curve(y == 1, score)
    assert plots.roc_points(y, score) == plots._thin(fpr, tpr)
    assert plots.pr_points(y, score) == plots._thin(recall[::-1], precision[::-1])


@settings(max_examples=200, deadline=None)
@given(scored())
def test_midranks_are_scipys_rankdata(case: tuple[np.ndarray, np.ndarray]) -> None:
    from scipy.stats import rankdata

    from evalgate.metrics.ranking import midranks

    _, score = case
    assert np.array_equal(midranks(score), rankdata(score))


def test_the_special_functions_are_scipy_stats_own() -> None:
    from scipy import special
    from scipy import stats as sps

    from evalgate.stats.bootstrap import poisson1_cdf

    rng = np.random.default_rng(0)
    q = rng.random(5000)
    df = rng.integers(1, 100_000, 5000).astype(float)
    assert np.array_equal(sps.t.ppf(q, df), special.stdtrit(df, q))
    a, b = rng.integers(1, 500, 5000).astype(float), rng.integers(1, 50_000, 5000).astype(float)
    assert np.array_equal(sps.beta.ppf(q, a, b), special.betaincinv(a, b, q))
    assert np.array_equal(poisson1_cdf(), np.cumsum(sps.poisson.pmf(np.arange(32), 1.0)))


@pytest.mark.e2e
def test_a_performance_gate_imports_no_sklearn_scipy_stats_or_onnx(tmp_path: Path) -> None:
    import yaml

    doc = yaml.safe_load((ROOT / "suites/adult.yaml").read_text())
    doc["checks"] = {"performance": doc["checks"]["performance"]}
    doc["data"]["path"] = str(ROOT / "examples/data/adult_test.csv.gz")
    doc["champion"] = str(ROOT / "examples/models/champion.onnx")
    (tmp_path / "perf.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "evalgate", "run",
         str(ROOT / "examples/models/candidate.onnx"), "--suites", "perf.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "evalgate.stats.means" in imported  # the statistics did load
    assert not {m for m in imported if m == "sklearn" or m.startswith("sklearn.")}
    assert "scipy.stats" not in imported
    assert "onnx" not in imported and "ml_dtypes" not in imported  # onnx_proto parses the files


def test_the_environment_lists_what_importlib_metadata_says() -> None:
    from importlib import metadata

    from evalgate.verdict.evidence import environment

    slow = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
                   if d.metadata["Name"]}, key=str.lower)
    assert environment()["distributions"] == slow



def test_text_columns_are_the_strings_pandas_gives() -> None:
    """Arrow-backed text reaches onnxruntime through its distinct values: the same strings as
    ``to_numpy`` (a missing value ""), in the rows' order, and converted once for two models
    inside shared_feeds."""
    import pandas as pd

    from evalgate.models import text as onnx_model

    values = ["b", None, "a", "b", "ü", "", "a", None] * 1100  # long enough to factorise
    assert len(values) >= onnx_model._FACTORIZE_FROM
    frame = pd.DataFrame({"t": pd.array(values, dtype=pd.StringDtype("pyarrow")),
                          "o": pd.Series(values, dtype=object).fillna("")})
    want = frame["t"].to_numpy(dtype=object, na_value="")
    got = onnx_model._text(frame["t"])
    assert got.dtype == object and list(got) == list(want) == list(frame["o"])
    assert all(type(v) is str for v in got)
    with onnx_model.shared_feeds():
        first = onnx_model.shared_text(frame, "t")
        assert onnx_model.shared_text(frame, "t") is first
        other = frame.copy()
        assert onnx_model.shared_text(other, "t") is not first
    assert onnx_model.shared_text(frame, "t") is not first  # outside: nothing kept


def test_a_missing_text_value_is_fed_as_empty_whatever_the_dtype() -> None:
    """A file whose text column is empty on every row reads as float64 NaN: fed as NaN it
    met the model as "nan" alone, and as "" once concatenated with other files — the same
    rows predicted differently by their neighbours (and by the engine)."""
    import pandas as pd

    from evalgate.models.text import _text

    for col in (pd.Series([np.nan, np.nan]), pd.Series([np.nan, "x"], dtype=object),
                pd.Series([None, 3], dtype=object), pd.Series([np.nan, 2.5])):
        got = list(_text(col))
        assert got[0] == "" and all(type(v) is str for v in got), (col.dtype, got)


def _cells_by_search(y: np.ndarray, preds: list[np.ndarray]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The average-precision cells as evalgate found them before (sorted values, binary
    search, first rows by np.unique): the reference for the faster search."""
    key = y.astype(np.int64)
    size = 2
    for p in preds:
        values = np.unique(p)
        key += np.searchsorted(values, p) * size
        size *= len(values)
    keys = np.unique(key)
    unit = np.searchsorted(keys, key)
    found, at = np.unique(unit, return_index=True)
    first = np.full(len(keys), -1, dtype=np.int64)
    first[found] = at
    return unit, first, np.bincount(unit, minlength=len(keys)).astype(np.float64)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(16, 3000), st.sampled_from([2, 5, 40]),
       st.sampled_from([1, 7, 1 << 20]), st.booleans())
def test_ap_cells_are_the_binary_searchs(seed: int, n: int, levels: int, chunk: int,
                                         lean: bool) -> None:
    """The cells (np.unique's inverse, or the lean search of large inputs, in any chunks)
    are those the binary search found."""
    import importlib

    ap = importlib.import_module("evalgate.stats.ap")
    delong = importlib.import_module("evalgate.stats.delong")
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int8)
    preds = [rng.integers(0, levels, n) / levels, np.round(rng.random(n), 1)]
    old = ap.FIRST_CHUNK, delong.INVERSE_MAX_ROWS, delong.CHUNK
    ap.FIRST_CHUNK, delong.CHUNK = chunk, chunk
    delong.INVERSE_MAX_ROWS = 0 if lean else old[1]
    try:
        got = ap._cells_of(y, preds)
    finally:
        ap.FIRST_CHUNK, delong.INVERSE_MAX_ROWS, delong.CHUNK = old
    want = _cells_by_search(y, preds)
    if got is None:  # more than n/8 distinct scores or cells: the rows are the units
        assert max(len(np.unique(p)) for p in preds) * 8 > n or len(want[1]) * 8 > n
        return
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def test_a_remembered_resampling_is_the_one_drawn() -> None:
    """Inside ``remembered``, the second call with equal inputs and an equal generator state
    is not recomputed, returns equal copies and leaves the generator where the first left it;
    a changed input or state is computed afresh; outside, nothing is kept."""
    from evalgate.stats import memo
    from evalgate.stats.ap import ap_bootstrap
    from evalgate.stats.bootstrap import resampled_means

    calls = []

    @memo.memoized
    def draw(rng: np.random.Generator, x: np.ndarray, k: int) -> np.ndarray:
        calls.append(1)
        return np.asarray(rng.random(k) + x.sum())

    x = np.arange(5.0)
    with memo.remembered():
        a_rng, b_rng = np.random.default_rng(3), np.random.default_rng(3)
        a = draw(a_rng, x, 4)
        a[0] = -1.0  # the caller's copy: what was remembered is unchanged
        b = draw(b_rng, x.copy(), 4)
        assert len(calls) == 1 and b[0] != -1.0
        assert a_rng.random() == b_rng.random()  # both moved on alike
        draw(np.random.default_rng(3), x + 1, 4)  # another input
        draw(np.random.default_rng(4), x, 4)  # another state
        assert len(calls) == 3
    draw(np.random.default_rng(3), x, 4)
    assert len(calls) == 4
    y = (np.random.default_rng(0).random(500) < 0.3).astype(np.int8)
    preds = [np.random.default_rng(s).random(500) for s in (1, 2)]
    cols = np.column_stack(preds)
    fresh = (ap_bootstrap(y, preds, np.random.default_rng(9), 200),
             resampled_means(np.random.default_rng(9), cols, 200))
    with memo.remembered():
        for _ in range(2):
            got = (ap_bootstrap(y, preds, np.random.default_rng(9), 200),
                   resampled_means(np.random.default_rng(9), cols, 200))
            assert all(np.array_equal(g, f) for g, f in zip(got[0][:2], fresh[0][:2]))
            assert np.array_equal(got[1], fresh[1])
