"""The burden of proof (issue 11, DESIGN.md §3): what the data cannot resolve is a ``fail``
reported as inconclusive, never a ``skip`` or a lucky pass.

- Latency and load percentiles: order-statistic (distribution-free) bounds from the calls
  made, checked against the binomial definition and by simulating their coverage.
- Paired confusion-metric comparisons: Tango's score interval on the discordant counts
  (accuracy and the rates) and the discordance floor built on it (the other metrics), so
  rows on which both models agree never give a bound of exactly 0; fewer than
  ``MIN_COMPARISON_ROWS`` rows never pass a comparison.
- ``stress.consistency``: a tolerance relative to the output's magnitude and precision.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from conftest import ADULT_TEST, CANDIDATE, read_verdict
from evalgate import stats
from evalgate.data import Target
from evalgate.families import EvalContext
from evalgate.families.performance import check as performance
from evalgate.families.performance.spec import MetricCheck
from evalgate.families.stress.check import CONSISTENCY_ULPS, consistency_tolerance, output_precision
from evalgate.metrics import get_metric
from evalgate.models.predictions import Predictions
from evalgate.spec import DataSpec, Suite, Threshold
from evalgate.stats import MIN_COMPARISON_ROWS, assess, clopper_pearson_upper
from evalgate.stats import confusion as confusion_stats
from evalgate.stats.proportions import tango_bounds
from evalgate.stats.timing import QUANTILE_METHOD, calls_to_resolve, quantile_bounds, quantile_ranks
from tests import modelzoo, slowmodels

CONF = 0.95

# =========================================================================== quantile bounds


def _ranks_by_definition(n: int, q: float, conf: float) -> tuple[int | None, int | None]:
    """l: the largest rank with P(Binom(n, q) ≥ l) ≥ conf; u: the smallest with
    P(Binom(n, q) ≤ u − 1) ≥ conf — by summing the pmf, independently of the module."""
    pmf = sps.binom.pmf(np.arange(n + 1), n, q)
    lows = [r for r in range(1, n + 1) if pmf[r:].sum() >= conf]
    highs = [r for r in range(1, n + 1) if pmf[:r].sum() >= conf]
    return (max(lows) if lows else None), (min(highs) if highs else None)


@pytest.mark.parametrize("n", [1, 2, 5, 20, 59, 100, 298, 299, 700])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_ranks_follow_the_binomial_definition(n: int, q: float) -> None:
    assert quantile_ranks(n, q, CONF) == _ranks_by_definition(n, q, CONF)


def test_known_ranks() -> None:
    assert quantile_ranks(20, 0.99, CONF) == (19, None)  # p99 has no upper bound at 20 calls
    assert quantile_ranks(298, 0.99, CONF)[1] is None
    assert quantile_ranks(299, 0.99, CONF)[1] == 299  # 0.99^299 ≤ 0.05: the largest call
    assert quantile_ranks(700, 0.99, CONF) == (688, 698)
    assert quantile_ranks(100, 0.5, CONF) == (42, 59)
    assert quantile_ranks(4, 0.5, CONF) == (None, None)  # 0.5^4 > 0.05 on both sides


def test_coverage_by_simulation_on_the_exponential(capsys: pytest.CaptureFixture[str]) -> None:
    """4,000 samples of n exponential calls: how often each one-sided bound holds the true
    quantile −log(1 − q), next to the nominal 95% and the exact binomial coverage."""
    reps = 4000
    rng = np.random.default_rng(11)
    rows = []
    for n in (20, 100, 700):
        x = np.sort(rng.exponential(size=(reps, n)), axis=1)
        for q in (0.5, 0.9, 0.99):
            truth = -math.log(1 - q)
            lo, hi = quantile_ranks(n, q, CONF)
            measured_lo = float(np.mean(x[:, lo - 1] <= truth)) if lo else 1.0
            measured_hi = float(np.mean(x[:, hi - 1] >= truth)) if hi else 1.0
            exact_lo = float(sps.binom.sf(lo - 1, n, q)) if lo else 1.0
            exact_hi = float(sps.binom.cdf(hi - 1, n, q)) if hi else 1.0
            for measured, exact in ((measured_lo, exact_lo), (measured_hi, exact_hi)):
                assert exact >= CONF
                se = math.sqrt(max(exact * (1 - exact), 1e-4) / reps)
                assert abs(measured - exact) <= 4 * se
                assert measured >= CONF - 4 * math.sqrt(CONF * (1 - CONF) / reps)
            rows.append(f"n={n:4} q={q:<5} lower x_({lo}) coverage {measured_lo:.4f} "
                        f"(exact {exact_lo:.4f}); upper "
                        + (f"x_({hi}) coverage {measured_hi:.4f} (exact {exact_hi:.4f})"
                           if hi else "∞ (too few calls)")
                        + f"; nominal {CONF}")
    with capsys.disabled():
        print("\n" + "\n".join(rows))


def test_a_limit_just_below_the_true_p99_rarely_passes() -> None:
    """The false-pass rate of the rule: the true p99 is above the limit, and the gate says
    pass in at most 1 − confidence of the runs."""
    reps, n = 4000, 700
    rng = np.random.default_rng(5)
    x = np.sort(rng.exponential(size=(reps, n)), axis=1)
    limit = -math.log(0.01) * 0.999
    _, hi = quantile_ranks(n, 0.99, CONF)
    assert hi is not None
    passed = float(np.mean(x[:, hi - 1] <= limit))
    assert passed <= 1 - CONF + 4 * math.sqrt(CONF * (1 - CONF) / reps)


def test_the_rule_fail_pass_inconclusive() -> None:
    slow = [0.010] * 3  # three calls of 10 ms against a 5 ms p99: the median is above it
    assert quantile_bounds(slow, 0.99, CONF).judge(0.005) == "fail"
    assert quantile_bounds([0.010], 0.99, CONF).judge(0.005) == "fail"  # even one call
    fast = [0.001] * 20
    bound = quantile_bounds(fast, 0.99, CONF)
    assert bound.upper is None and bound.judge(0.005) == "inconclusive"  # never a skip
    assert quantile_bounds([0.001] * 299, 0.99, CONF).judge(0.005) == "pass"
    assert bound.method == QUANTILE_METHOD == "order statistic (binomial)"


def test_calls_to_resolve_in_fact_resolve() -> None:
    assert calls_to_resolve([0.001] * 46, 0.99, 0.005, CONF) == 299
    # 90% of the calls within the limit: more calls show the p99 above it
    share = [0.001] * 9 + [0.010]
    assert quantile_bounds(share, 0.99, CONF).judge(0.005) == "inconclusive"
    need = calls_to_resolve(share, 0.99, 0.005, CONF)
    assert need is not None and need > len(share)
    k = math.floor(0.9 * need)
    more = [0.001] * k + [0.010] * (need - k)
    assert quantile_bounds(more, 0.99, CONF).judge(0.005) == "fail"
    fewer = need - 1
    k = math.floor(0.9 * fewer)
    assert quantile_bounds([0.001] * k + [0.010] * (fewer - k), 0.99, CONF).judge(
        0.005) == "inconclusive"


# =========================================================================== comparisons


def _suite(*checks: MetricCheck) -> Suite:
    return Suite(name="burden", path=Path("burden.yaml"), sha256="0" * 64, task="binary",
                 data=DataSpec(path=Path("b.csv"), target="y", positive_label=1,
                               sensitive=(), features=None, line=3),
                 champion="champion.onnx", champion_line=8, confidence=CONF, seed=0,
                 n_resamples=300, families={"performance": tuple(checks)})


def _run(y: np.ndarray, cand: np.ndarray, champ: np.ndarray, *checks: MetricCheck
         ) -> dict[str, object]:
    def preds(p: np.ndarray) -> Predictions:
        return Predictions(label=(p >= 0.5).astype(np.int8), score=p)

    ctx = EvalContext(suite=_suite(*checks), target=Target(y=y, classes=(0, 1)),
                      candidate=preds(cand), champion=preds(champ))
    return {r.name: r for r in performance.run(ctx, performance.plan(ctx.suite))}


def test_twenty_agreeing_rows_are_inconclusive_not_a_zero_width_pass() -> None:
    y = np.array([0, 1] * 10)
    p = np.where(y == 1, 0.8, 0.2)
    d = assess(get_metric("accuracy", "binary"), y, (p >= 0.5).astype(int),
               (p >= 0.5).astype(int), confidence=CONF, rng=np.random.default_rng(0),
               n_resamples=300).delta
    assert d is not None and d.estimate == 0.0
    tango = float(tango_bounds(0, 0, 20, CONF)[0])  # Tango's bound with no discordant pair
    assert d.lower == tango and d.lower < -0.13
    [r] = _run(y, p, p.copy(), MetricCheck("accuracy", Threshold(max_regression=0.005), True,
                                           10)).values()
    assert r.status == "fail" and r.blocks  # type: ignore[attr-defined]
    assert "inconclusive" in r.message  # type: ignore[attr-defined]


def test_identical_models_on_16281_rows_lose_almost_nothing() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 16_281)
    label = np.where(rng.random(16_281) < 0.85, y, 1 - y)
    d = assess(get_metric("accuracy", "binary"), y, label, label.copy(), confidence=CONF,
               rng=np.random.default_rng(0), n_resamples=300).delta
    assert d is not None
    assert d.lower == pytest.approx(-1.96e-4, rel=0.01)  # ≈ −(z² + 2·0.25·z)/n


def test_few_discordant_rows_keep_their_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rare disagreement (1% each way, Δ = 0) on 200 rows: the bound must stay below the
    true Δ in ≥ 95% of runs; the cell bootstrap alone (without Tango's interval or the
    floor) covers less often."""
    runs, n = 400, 200
    metric = get_metric("accuracy", "binary")

    def coverage() -> float:
        covered = 0
        for seed in range(runs):
            g = np.random.default_rng(seed)
            y = g.integers(0, 2, n)
            u = g.random(n)
            cand = np.where(u < 0.01, 1 - y, y)  # the candidate alone wrong
            champ = np.where((u >= 0.01) & (u < 0.02), 1 - y, y)  # the champion alone wrong
            d = assess(metric, y, cand, champ, confidence=CONF,
                       rng=np.random.default_rng(seed), n_resamples=300).delta
            assert d is not None and d.lower is not None
            covered += d.lower <= 0.0
        return covered / runs

    with_floor = coverage()
    monkeypatch.setattr(confusion_stats, "rate_interval", lambda *a, **k: None)
    monkeypatch.setattr(confusion_stats, "discordance_floor", lambda *a, **k: math.inf)
    bootstrap_only = coverage()
    assert with_floor >= CONF - 0.01
    assert bootstrap_only < CONF - 0.02 < with_floor


@pytest.mark.parametrize("name", ["accuracy", "log_loss", "brier_score", "f1"])
def test_two_rows_never_pass_a_comparison(name: str) -> None:
    y = np.array([0, 1])
    cand, champ = np.array([0.1, 0.9]), np.array([0.4, 0.6])  # the candidate wins both rows
    d = assess(get_metric(name, "binary"), y,
               cand if get_metric(name, "binary").needs == "score" else (cand >= 0.5) * 1,
               champ if get_metric(name, "binary").needs == "score" else (champ >= 0.5) * 1,
               confidence=CONF, rng=np.random.default_rng(0), n_resamples=300).delta
    assert d is not None and d.lower == -math.inf and d.method == "too-few-rows"
    [r] = _run(y, cand, champ, MetricCheck(name, Threshold(max_regression=0.5), True,
                                           10)).values()
    assert r.status == "fail", r.message  # type: ignore[attr-defined]
    assert "inconclusive: 2 rows are too few for a paired comparison" in r.message  # type: ignore[attr-defined]
    assert r.details.rows_to_resolve_max_regression == MIN_COMPARISON_ROWS  # type: ignore[attr-defined]
    json.dumps(r.as_dict())  # type: ignore[attr-defined]  # −∞ goes out as null


def test_clopper_pearson_upper_matches_scipy() -> None:
    for x, n in ((0, 20), (3, 20), (20, 20), (163, 16_281)):
        ref = sps.binomtest(x, n).proportion_ci(confidence_level=1 - 2 * (1 - CONF),
                                                method="exact").high
        assert float(clopper_pearson_upper(x, n, CONF)) == pytest.approx(ref, rel=1e-9)


# =========================================================================== consistency


def test_consistency_tolerance_scales_with_magnitude_and_precision() -> None:
    y32 = np.float32(np.linspace(250, 320, 32)).astype(np.float64)
    assert output_precision(y32) == np.float32
    tol = consistency_tolerance(y32, 1e-6)
    ulp = np.spacing(np.float32(300.0))
    assert float(tol.allowed.max()) >= 4 * ulp  # a few ulps of float32 near 300 are rounding
    assert float(tol.allowed.max()) < 1e-3  # a real difference is not
    assert tol.text == "tolerance 1e-06 × max(|y|, 1), outputs float32"
    exact = consistency_tolerance(y32, 0.0)  # never below the precision's own rounding
    assert f"{CONSISTENCY_ULPS} × float32 eps" in exact.text
    assert float(exact.allowed.max()) >= 4 * ulp
    y64 = y32 + 1e-9
    assert output_precision(y64) == np.float64
    tol64 = consistency_tolerance(y64, 1e-6)
    assert "tolerance 1e-06" in tol64.text
    assert tol64.allowed.max() == pytest.approx(1e-6 * 320 + 1e-15, rel=1e-6)
    probs = np.float32([0.2, 0.7]).astype(np.float64)
    assert consistency_tolerance(probs, 1e-6).allowed.max() == 1e-6  # unchanged below 1


# =========================================================================== end to end


@pytest.fixture(scope="module")
def sleepy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slow") / "sleepy.joblib"
    joblib.dump(slowmodels.Sleepy(0.02), path)  # 20 ms a call
    return path


def _gate(pytester: pytest.Pytester, model: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest(f"--evalgate={model}", *args)


def _checks(pytester: pytest.Pytester) -> dict[str, dict]:
    return {c["id"].split("::", 1)[1]: c for c in read_verdict(pytester.path)["suites"][0][
        "checks"]}


def test_a_slow_model_whose_p99_cannot_be_bounded_blocks(
        pytester: pytest.Pytester, gate_project, sleepy: Path) -> None:
    """Too slow to make 299 calls in the budget: today a skip and a promote; now a fail."""
    gate_project(champion=None, checks="  latency:\n    batch_sizes: [1]\n"
                                       "    p99_ms: {1: 1000}\n    budget_s: 1\n"
                                       "    warmup: 1\n")
    result = _gate(pytester, sleepy, "--evalgate-trust-pickle")
    result.assert_outcomes(failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines([("*p99 inconclusive against 1000 ms*calls would resolve "
                                  "it*raise latency.budget_s to about*"), "*evalgate: BLOCK*"])
    check = _checks(pytester)["latency::batch_1"]
    assert check["status"] == "fail" and check["method"] == QUANTILE_METHOD
    assert check["ci"][0] is not None and check["ci"][1] is None  # no upper bound yet
    bound = check["details"]["percentiles"]["p99"]
    assert bound["n"] < 299 and bound["upper"] is None and bound["lower_rank"] >= 1


def test_a_median_above_the_p99_limit_fails_at_once(
        pytester: pytest.Pytester, gate_project, sleepy: Path) -> None:
    gate_project(champion=None, checks="  latency:\n    batch_sizes: [1]\n"
                                       "    p99_ms: {1: 5}\n    budget_s: 0.3\n"
                                       "    warmup: 0\n")
    result = _gate(pytester, sleepy, "--evalgate-trust-pickle")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([("*p99 * ms over * calls: its one-sided 95% lower bound * "
                                  "is above 5 ms*")])
    check = _checks(pytester)["latency::batch_1"]
    assert "inconclusive" not in check["message"] and check["ci"][0] > 5


def test_load_p99_from_too_few_calls_is_inconclusive(
        pytester: pytest.Pytester, gate_project, sleepy: Path) -> None:
    gate_project(champion=None, checks="  stress:\n    load: {rate: 20, duration_s: 1, "
                                       "workers: 2, p99_ms: 1000}\n")
    result = _gate(pytester, sleepy, "--evalgate-trust-pickle")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([("*p99 (from the scheduled arrival) inconclusive against "
                                  "1000 ms*raise stress.load.duration_s to about*")])
    check = _checks(pytester)["stress::load"]
    assert check["method"] == QUANTILE_METHOD and check["details"]["p99_bound"]["upper"] is None


def _rows(pytester: pytest.Pytester, n: int) -> Path:
    """``n`` rows of the shipped data, half of each label."""
    path = pytester.path / f"rows{n}.csv"
    frame = pd.read_csv(ADULT_TEST)
    pd.concat([frame[frame["income"] == label].head(n // 2)
               for label in (">50K", "<=50K")]).to_csv(path, index=False)
    return path


def _twin(pytester: pytest.Pytester) -> Path:
    twin = pytester.path / "twin.onnx"  # the candidate's own bytes: both models agree
    shutil.copyfile(CANDIDATE, twin)
    return twin


def test_twenty_agreeing_rows_block_as_inconclusive(pytester: pytest.Pytester,
                                                    gate_project) -> None:
    gate_project(data=_rows(pytester, 20), champion=_twin(pytester),
                 checks="  performance:\n    accuracy: {max_regression: 0.005}\n")
    result = _gate(pytester, CANDIDATE)
    result.assert_outcomes(failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*inconclusive*", "*evalgate: BLOCK*"])
    check = _checks(pytester)["performance::accuracy"]
    assert check["delta"] == 0.0 and check["ci"][0] < -0.1
    assert check["method"] == "tango-score"


def test_two_row_data_never_passes_a_comparison(pytester: pytest.Pytester,
                                                gate_project) -> None:
    gate_project(data=_rows(pytester, 2), champion=_twin(pytester),
                 checks="  performance:\n    accuracy: {max_regression: 0.01}\n"
                        "    log_loss: {max_regression: 0.01}\n")
    result = _gate(pytester, CANDIDATE)
    result.assert_outcomes(failed=2)
    assert result.ret == 1
    for check in _checks(pytester).values():
        assert check["status"] == "fail" and check["method"] == "too-few-rows"
        assert "2 rows are too few for a paired comparison" in check["message"]
        assert check["ci"] == [None, None]


def test_a_float32_regressor_passes_consistency(pytester: pytest.Pytester) -> None:
    """A float32 ONNX regressor near 300 rounds one row alone 1 ulp (3e-5) off the batch:
    today a block under tolerance 1e-6; now within 8 float32 eps × |y|."""
    frame = modelzoo.make_frame(300)
    model = modelzoo.save_onnx(modelzoo.fit(modelzoo.regressor("gbr"), frame, "price"), frame,
                               pytester.path / "gbr.onnx")
    data = pytester.path / "reg.csv"
    frame[[*modelzoo.FEATURES, "price"]].to_csv(data, index=False)
    pytester.makeini("[pytest]\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "reg.yaml").write_text(
        f"suite: reg\ntask: regression\ndata:\n  path: {json.dumps(str(data))}\n"
        f"  target: price\nchecks:\n  stress:\n    consistency: {{tolerance: 1.0e-6}}\n")
    result = _gate(pytester, model)
    result.assert_outcomes(passed=1)
    check = _checks(pytester)["stress::consistency"]
    assert check["details"]["output_precision"] == "float32"
    assert 0 < check["details"]["max_single_vs_batch"] <= check["details"]["max_allowed"]
    assert "within tolerance 1e-06 × max(|y|, 1), outputs float32" in check["message"]


def test_discordance_floor_is_what_stats_reports() -> None:
    """The floor is a public helper: for accuracy on a table with no discordance (12 and 8
    rows per class, all right) it combines the classes' Tango bounds with b = c = 0 by
    MOVER: −√(Σ (n_t·L_t)²)/n, each row of a class costing accuracy 1/n."""
    joint = np.zeros((2, 2, 2))
    joint[0, 0, 0], joint[1, 1, 1] = 12, 8
    f = get_metric("accuracy", "binary").from_confusion
    assert f is not None
    floor = stats.discordance_floor(f, 1.0, joint, CONF)
    rows = [n_t * float(tango_bounds(0, 0, n_t, CONF)[0]) for n_t in (12, 8)]
    assert floor == pytest.approx(-math.hypot(*rows) / 20, rel=1e-9)
