"""The drift family: effect sizes on the reference's bins (checked against scipy), the noise
floor and bounds (known truths: no p-value trap at large n, real shifts fail, small samples
are inconclusive), and the family through the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from conftest import ADULT_TEST, CANDIDATE, CHAMPION
from evalgate.engine import Gate, evaluate_paths
from evalgate.errors import SpecError
from evalgate.families import load_suite
from evalgate.families.drift.details import DriftDetails, MultivariateDetails, read
from evalgate.output import outcome_plots
from evalgate.stats import drift as D
from evalgate.verdict import build, now

CONF = 0.95


def judged(ref: Any, ev: Any, kind: str, method: str | None = None, seed: int = 0) -> D.Drift:
    bins = D.reference_bins(np.asarray(ref), kind)  # type: ignore[arg-type]
    return D.drift(method or D.DEFAULT_METHOD[kind], D.histogram(np.asarray(ref), bins),
                   D.histogram(np.asarray(ev), bins), bins, CONF, np.random.default_rng(seed))


# --------------------------------------------------------------------- against scipy


def test_distances_equal_scipy_on_the_same_bins() -> None:
    g = np.random.default_rng(1)
    ref, ev = g.normal(0, 2, 5000), g.normal(0.5, 2.5, 3000)
    bins = D.reference_bins(ref, "numeric")
    hr, he = D.histogram(ref, bins), D.histogram(ev, bins)
    assert hr.sums is not None and he.sums is not None
    rb, eb = hr.counts > 0, he.counts > 0
    want = sps.wasserstein_distance(hr.sums[rb] / hr.counts[rb], he.sums[eb] / he.counts[eb],
                                    hr.counts[rb], he.counts[eb]) / np.std(ref, ddof=1)
    got = D.distance("wasserstein", hr.counts, he.counts, hr, he, bins)[0]
    assert got == pytest.approx(want, rel=1e-10)
    assert abs(got - 0.5 / 2) < 0.1  # near the true W1 / σ of the shift (plus the spread)
    p, q = hr.counts / hr.counts.sum(), he.counts / he.counts.sum()
    assert D.distance("js", hr.counts, he.counts, hr, he, bins)[0] == pytest.approx(
        jensenshannon(p, q, base=2), rel=1e-10)
    idx = np.arange(bins.size)
    ks = sps.ks_2samp(np.repeat(idx, hr.counts), np.repeat(idx, he.counts)).statistic
    assert D.distance("ks", hr.counts, he.counts, hr, he, bins)[0] == pytest.approx(ks)
    deciles_p = np.add.reduceat(hr.counts, np.arange(0, bins.size, 10)) / hr.counts.sum()
    deciles_q = np.add.reduceat(he.counts, np.arange(0, bins.size, 10)) / he.counts.sum()
    psi = np.sum((np.maximum(deciles_q, 1e-4) - np.maximum(deciles_p, 1e-4))
                 * np.log(np.maximum(deciles_q, 1e-4) / np.maximum(deciles_p, 1e-4)))
    assert D.distance("psi", hr.counts, he.counts, hr, he, bins)[0] == pytest.approx(psi)


def test_bins_come_from_the_reference_alone_and_histograms_merge() -> None:
    g = np.random.default_rng(2)
    ref = g.normal(size=4000)
    bins = D.reference_bins(ref, "numeric")
    for batch in (g.normal(3, 1, 100), g.normal(-5, 9, 10_000)):
        again = D.reference_bins(ref, "numeric")
        assert again.edges is not None and bins.edges is not None
        np.testing.assert_array_equal(again.edges, bins.edges)
        parts = np.array_split(batch, 3)
        merged = D.histogram(parts[0], bins) + D.histogram(parts[1], bins) \
            + D.histogram(parts[2], bins)
        whole = D.histogram(batch, bins)
        np.testing.assert_array_equal(merged.counts, whole.counts)
        assert merged.sums is not None and whole.sums is not None
        np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12)
    cats = D.reference_bins(np.array(["a", "b", "b", None, "c"], dtype=object), "categorical")
    assert cats.categories == ("b", "a", "c")  # most frequent first
    h = D.histogram(np.array(["a", "z", None, "b"], dtype=object), cats)
    assert h.counts.tolist() == [1, 1, 0, 1] and h.missing == 1  # z is unseen


# ------------------------------------------------------------------- known truths


@pytest.mark.parametrize("n", [10_000, 1_000_000])
def test_the_same_distribution_passes_at_any_size(n: int) -> None:
    """No p-value trap: with a million rows, two samples of one distribution still pass."""
    g = np.random.default_rng(n)
    assert judged(g.normal(size=n), g.normal(size=n), "numeric").judge(0.1) == "pass"
    cats = np.array(list("abcdef"))
    p = [0.3, 0.25, 0.2, 0.1, 0.1, 0.05]
    assert judged(cats[g.choice(6, n, p=p)], cats[g.choice(6, n, p=p)],
                  "categorical").judge(0.1) == "pass"


def test_a_real_shift_fails_and_a_trivial_one_passes_at_scale() -> None:
    g = np.random.default_rng(3)
    shifted = judged(g.normal(size=5000), g.normal(0.3, 1, 5000), "numeric")
    assert shifted.judge(0.1) == "fail" and shifted.lower > 0.2
    tiny = judged(g.normal(size=1_000_000), g.normal(0.02, 1, 1_000_000), "numeric")
    assert tiny.judge(0.1) == "pass" and abs(tiny.estimate - 0.02) < 0.01


def test_two_hundred_rows_cannot_decide_a_small_shift() -> None:
    g = np.random.default_rng(4)
    small = judged(g.normal(size=200), g.normal(0.05, 1, 200), "numeric")
    assert small.judge(0.1) == "inconclusive"
    assert small.lower <= 0.1 < small.upper
    assert small.floor > 0.05  # the noise floor at 200 rows is as large as the shift


def test_the_noise_floor_is_removed_from_the_estimate() -> None:
    g = np.random.default_rng(5)
    d = judged(g.normal(size=2000), g.normal(size=2000), "numeric")
    assert d.raw > 0.02 and d.floor > 0.02  # two samples of one distribution differ
    assert d.estimate < d.raw / 2


# ------------------------------------------------------------------- through the gate


def _suite(tmp: Path, drift: str, frame_ev: pd.DataFrame, frame_ref: pd.DataFrame,
           perf: bool = True) -> Path:
    frame_ref.to_parquet(tmp / "ref.parquet", index=False)
    frame_ev.to_parquet(tmp / "ev.parquet", index=False)
    checks = "  performance:\n    roc_auc: {min: 0.8, max_regression: 0.01}\n" if perf else ""
    (tmp / "s.yaml").write_text(
        f"suite: d\ntask: binary\ndata:\n  path: ev.parquet\n  target: income\n"
        f"  positive_label: \">50K\"\n  sensitive: [sex, race]\n"
        f"champion: {json.dumps(str(CHAMPION))}\nseed: 0\nchecks:\n{checks}"
        f"  drift:\n    reference: ref.parquet\n{drift}")
    return tmp / "s.yaml"


def _verdict(suite: Path) -> dict[str, Any]:
    outcomes = evaluate_paths(Gate(CANDIDATE), [suite])
    doc = build(outcomes, candidate=CANDIDATE, seed=None, started_at=now(), duration_s=1.0,
                plots=outcome_plots(outcomes))
    out: dict[str, Any] = json.loads(json.dumps(doc))
    return out


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT_TEST)


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"].split("::", 2)[2]: c for c in doc["suites"][0]["checks"]}


@pytest.mark.e2e
def test_a_shifted_column_fails_and_the_others_pass(tmp_path: Path, adult: pd.DataFrame
                                                    ) -> None:
    ref, ev = adult.iloc[:8000].copy(), adult.iloc[8000:].copy()
    ev["hours-per-week"] = ev["hours-per-week"] + 8
    doc = _verdict(_suite(tmp_path, "    columns: [age, hours-per-week, workclass, sex]\n"
                                    "    label: {max_drift: 0.1}\n", ev, ref))
    checks = _by_name(doc)
    assert checks["hours-per-week"]["status"] == "fail"
    assert "lower bound above max_drift 0.1" in checks["hours-per-week"]["message"]
    for name in ("age", "workclass", "sex", "label"):
        assert checks[name]["status"] == "pass", checks[name]["message"]
    assert doc["decision"] == "block"
    details = read(checks["hours-per-week"])
    assert isinstance(details, DriftDetails) and details.method == "wasserstein"
    assert details.estimate == checks["hours-per-week"]["candidate"]
    assert details.lower > 0.5 and details.noise_floor < 0.05
    assert read(checks["workclass"]).method == "js"  # type: ignore[union-attr]


@pytest.mark.e2e
def test_missing_values_and_unseen_categories_are_judged(tmp_path: Path, adult: pd.DataFrame
                                                         ) -> None:
    ref, ev = adult.iloc[:8000].copy(), adult.iloc[8000:].copy()
    ev.loc[ev.index[:1500], "workclass"] = None  # the models read a missing text as unseen
    ev.loc[ev.index[2000:2400], "occupation"] = "Robot-operator"
    doc = _verdict(_suite(tmp_path, "    columns: [workclass, occupation]\n"
                                    "    max_missing_increase: 0.05\n    max_unseen: 0.01\n",
                          ev, ref))
    checks = _by_name(doc)
    assert checks["workclass"]["status"] == "fail", checks["workclass"]["message"]
    assert "is above max_missing_increase 0.05" in checks["workclass"]["message"]
    assert checks["occupation"]["status"] == "fail"
    assert "values the reference never had: 400" in checks["occupation"]["message"]
    occupation = read(checks["occupation"])
    assert isinstance(occupation, DriftDetails) and occupation.unseen_upper is not None
    assert occupation.unseen_upper > 400 / 8281 > 0.01


@pytest.mark.e2e
def test_predictions_and_the_domain_classifier(tmp_path: Path, adult: pd.DataFrame) -> None:
    ref, ev = adult.iloc[:8000].copy(), adult.iloc[8000:].copy()
    same = _verdict(_suite(tmp_path, "    columns: [age]\n    prediction: {max_drift: 0.15}\n"
                                     "    multivariate: {max_auc: 0.6}\n", ev, ref))
    checks = _by_name(same)
    assert checks["prediction"]["status"] == "pass", checks["prediction"]["message"]
    assert checks["multivariate"]["status"] == "pass", checks["multivariate"]["message"]
    mv = read(checks["multivariate"])
    assert isinstance(mv, MultivariateDetails) and 0.4 < mv.auc < 0.6
    ev["age"] = ev["age"] + 15
    moved = _verdict(_suite(tmp_path, "    columns: [age]\n    prediction: {max_drift: 0.1}\n"
                                      "    multivariate: {max_auc: 0.6}\n", ev, ref))
    checks = _by_name(moved)
    assert checks["multivariate"]["status"] == "fail"
    mv = read(checks["multivariate"])
    assert isinstance(mv, MultivariateDetails) and mv.features[0].column == "age"
    assert checks["prediction"]["status"] == "fail"
    pred = read(checks["prediction"])
    assert isinstance(pred, DriftDetails) and pred.champion_estimate is not None


@pytest.mark.e2e
def test_a_reference_without_a_column_is_an_error_naming_it(tmp_path: Path,
                                                            adult: pd.DataFrame) -> None:
    ref, ev = adult.iloc[:8000].drop(columns=["age"]), adult.iloc[8000:]
    doc = _verdict(_suite(tmp_path, "    columns: [age, sex]\n", ev, ref, perf=False))
    checks = _by_name(doc)
    assert checks["age"]["status"] == "error"
    assert "ref.parquet: the reference has no column 'age'" in checks["age"]["message"]
    assert checks["sex"]["status"] == "pass"
    assert doc["decision"] == "block"


@pytest.mark.parametrize(("drift", "said"), [
    ("    method: {age: earthmover}\n", "unknown drift method 'earthmover'"),
    ("    max_drift: 0\n", "δ must be above 0"),
    ("    columns: [income]\n", "judged by label:"),
    # an empty list planned no drift check at all, and the section passed on nothing
    ("    columns: []\n    max_drift: 0.01\n", "columns: the column list is empty"),
    ("    multivariate: {max_auc: 0.4}\n", "an AUC limit must be in [0.5, 1)"),
    ("    max_unseen: 1.5\n", "a share must be in [0, 1)"),
    ("    colums: [age]\n", "did you mean 'columns'"),
    ("    columns: [age, hours-per-week]\n    max_drift: {hours_per_week: 0.1}\n",
     "'hours_per_week' is neither a kind (numeric, categorical) nor a column drift judges "
     "(did you mean 'hours-per-week'?)"),
])
def test_suite_mistakes_name_the_line(tmp_path: Path, adult: pd.DataFrame, drift: str,
                                      said: str) -> None:
    path = _suite(tmp_path, drift, adult.iloc[:100], adult.iloc[100:200])
    with pytest.raises(SpecError, match=r"s\.yaml:") as err:
        load_suite(path)
    assert said in str(err.value)


@pytest.mark.e2e
def test_a_misspelt_column_in_max_drift_is_an_error_when_the_data_is_read(
        tmp_path: Path, adult: pd.DataFrame) -> None:
    """hours_per_week for hours-per-week: the key was passed over and the column judged at
    the kind's δ of 0.5 — a shift a δ of 0.1 fails passed, and the gate promoted."""
    ref, ev = adult.iloc[:8000], adult.iloc[8000:].assign(
        **{"hours-per-week": adult["hours-per-week"].iloc[8000:] + 3})
    doc = _verdict(_suite(tmp_path, "    max_drift: {hours_per_week: 0.1, numeric: 0.5}\n",
                          ev, ref, perf=False))
    assert doc["decision"] == "block"
    assert {c["status"] for c in doc["suites"][0]["checks"]} == {"error"}
    assert "'hours_per_week' is neither a kind" in doc["suites"][0]["checks"][0]["message"]


def test_a_reference_glob_that_matches_nothing(tmp_path: Path, adult: pd.DataFrame) -> None:
    adult.iloc[:100].to_parquet(tmp_path / "ev.parquet", index=False)
    (tmp_path / "s.yaml").write_text(
        "suite: d\ntask: binary\ndata:\n  path: ev.parquet\n  target: income\n"
        "  positive_label: \">50K\"\nchecks:\n  drift:\n    reference: train/*.parquet\n")
    with pytest.raises(SpecError, match=r"reference: the glob 'train/\*\.parquet' matches no"):
        load_suite(tmp_path / "s.yaml")


@pytest.mark.e2e
def test_a_reference_that_is_the_evaluation_data_proves_nothing(tmp_path: Path,
                                                                adult: pd.DataFrame) -> None:
    """Pointing reference at the evaluation file would pass every drift check vacuously: the
    drift checks are errors instead, and the gate blocks."""
    path = _suite(tmp_path, "    columns: [age, sex]\n", adult.iloc[:2000], adult.iloc[:2000],
                  perf=False)
    doc = _verdict(path)
    assert doc["decision"] == "block"
    for check in doc["suites"][0]["checks"]:
        assert check["status"] == "error"
        assert "the reference is the evaluation data itself" in check["message"]


@pytest.mark.e2e
def test_a_reference_holding_the_evaluation_rows_proves_nothing(tmp_path: Path,
                                                                adult: pd.DataFrame) -> None:
    """The evaluation rows shuffled (other bytes) as the reference passed every drift check
    — the column drifts, the prediction's, the domain classifier's. Rows are looked up by
    value: a reference holding half the evaluation rows or more is refused."""
    rows = adult.iloc[:2000]
    path = _suite(tmp_path, "    columns: [age, sex]\n", rows,
                  rows.sample(frac=1, random_state=0), perf=False)
    doc = _verdict(path)
    assert doc["decision"] == "block"
    for check in doc["suites"][0]["checks"]:
        assert check["status"] == "error"
        assert "the reference holds 100% of the evaluation rows" in check["message"]
    apart = _suite(tmp_path, "    columns: [age, sex]\n", adult.iloc[8000:10000],
                   adult.iloc[:8000], perf=False)
    assert {c["status"] for c in _verdict(apart)["suites"][0]["checks"]} == {"pass"}


@pytest.mark.e2e
def test_a_tiny_evaluation_set_cannot_pass_drift(tmp_path: Path, adult: pd.DataFrame) -> None:
    """Sixty rows cannot show that a column did not drift: inconclusive, a fail, never a pass
    or a skip — and the gate blocks."""
    doc = _verdict(_suite(tmp_path, "    columns: [age, hours-per-week]\n",
                          adult.iloc[8000:8060], adult.iloc[:8000], perf=False))
    checks = _by_name(doc)
    for name in ("age", "hours-per-week"):
        assert checks[name]["status"] == "fail", checks[name]["message"]
        assert "inconclusive — " in checks[name]["message"]
        assert "rows" in checks[name]["message"].split("inconclusive — ")[1]
    assert doc["decision"] == "block"


@pytest.mark.e2e
def test_rows_all_in_one_bin_cannot_pass_drift(tmp_path: Path, adult: pd.DataFrame) -> None:
    """Three rows of hours-per-week 40 resample to themselves: their bounds collapsed to
    0 … 0 once the noise floor was removed, and they passed. Rows whose noise floor is not
    below δ cannot place a drift under it."""
    later = adult.iloc[8000:]
    forty = later[later["hours-per-week"] == 40]
    few = pd.concat([forty[forty["income"] == ">50K"].iloc[:1],
                     forty[forty["income"] != ">50K"].iloc[:2]])
    doc = _verdict(_suite(tmp_path, "    columns: [hours-per-week]\n", few, adult.iloc[:8000],
                          perf=False))
    [check] = doc["suites"][0]["checks"]
    assert check["status"] == "fail" and "noise floor is not below max_drift" in \
        check["message"]


@pytest.mark.e2e
def test_a_column_with_no_value_fails_and_the_outputs_are_written(
        tmp_path: Path, adult: pd.DataFrame) -> None:
    """Every value of a column missing in the evaluation rows: that check fails (nothing to
    compare is not a pass), and verdict.json and the report are still written and read back."""
    from evalgate.cli import main
    from evalgate.verdict.model import read

    ev = adult.iloc[8000:].copy()
    ev["workclass"] = None
    suite = _suite(tmp_path, "    columns: [workclass, sex]\n", ev, adult.iloc[:8000],
                   perf=False)
    assert main(["run", str(CANDIDATE), "--suites", str(suite), "--report",
                 str(tmp_path / "rep")]) == 1
    _, _, verdict = read(tmp_path / "rep" / "verdict.json")
    by_name = {c.id.split("::", 2)[2]: c for c in verdict.checks}
    assert by_name["workclass"].status == "fail" and by_name["sex"].status == "pass"
    assert "no value present in the evaluation rows" in by_name["workclass"].message
    html = (tmp_path / "rep" / "evalgate-report.html").read_text()
    assert "<code>workclass</code>" in html and "<code>sex</code>" in html
