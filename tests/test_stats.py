"""evalgate.stats against independent references, by simulation, and as the gate uses it.

References: a naive O(m·n) DeLong written from the definition; scipy.stats.bootstrap (BCa);
statsmodels (Wald interval of a proportion, McNemar's exact test); the paired difference of
proportions' analytic standard error. Coverage: the one-sided 95% lower bound of Δ against the
true Δ of a binormal generator (bench/coverage.py, shared with the benchmark).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from evalgate import stats
from evalgate.data import Target
from evalgate.families import EvalContext
from evalgate.families.performance import check as performance
from evalgate.families.performance.spec import MetricCheck
from evalgate.metrics import Metric, get_metric
from evalgate.models.predictions import Predictions
from evalgate.spec import DataSpec, Suite, Threshold
from evalgate.stats import (
    ASYMPTOTIC_MIN_ROWS,
    Interval,
    StatsError,
    assess,
    bca_bound,
    delong,
    intervals,
)
from evalgate.stats.intervals import bootstrap_interval
from evalgate.stats.proportions import tango_bounds
from evalgate.stats.scorefloor import per_row_bound

ROOT = Path(__file__).resolve().parents[1]


if str(ROOT / "bench") not in sys.path:  # the simulations' generators, shared with bench/
    sys.path.insert(0, str(ROOT / "bench"))
from sim import Cell, run  # noqa: E402
from sim import binormal as cov  # noqa: E402
from sim.regular import drawer  # noqa: E402

CONF = 0.95


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def binormal(mu_cand: float, mu_champ: float, n: int, seed: int, rho: float = 0.6,
             prevalence: float = 0.3) -> dict[str, np.ndarray]:
    gen = cov.Binormal(prevalence=prevalence, rho=rho,
                       cand=cov.calibrated(mu_cand, prevalence),
                       champ=cov.calibrated(mu_champ, prevalence))
    return gen.draw(rng(seed), n)


def mu_for_auc(auc: float) -> float:
    """Binormal separation with true AUC Φ(μ/√2) = auc."""
    return math.sqrt(2) * float(sps.norm.ppf(auc))


# =========================================================================== DeLong


def naive_delong(y: np.ndarray, scores: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong, DeLong & Clarke-Pearson (1988) from the definition, by all m·n pairs.

    ψ(x, z) = 1 if x > z, 1/2 if x = z, 0 otherwise; V10(x_i) = mean_j ψ(x_i, z_j),
    V01(z_j) = mean_i ψ(x_i, z_j); AUC = mean ψ; S10, S01 = sample covariances (m−1, n−1) of
    the structural components across models; cov = S10/m + S01/n.
    """
    pos = y == 1
    m, n = int(pos.sum()), int((~pos).sum())
    k = len(scores)
    v10 = np.zeros((k, m))
    v01 = np.zeros((k, n))
    aucs = np.zeros(k)
    for r, s in enumerate(scores):
        x, z = s[pos], s[~pos]
        for i in range(m):
            for j in range(n):
                psi = 1.0 if x[i] > z[j] else 0.5 if x[i] == z[j] else 0.0
                v10[r, i] += psi / n
                v01[r, j] += psi / m
        aucs[r] = v10[r].sum() / m
    s10 = np.zeros((k, k))
    s01 = np.zeros((k, k))
    for r in range(k):
        for q in range(k):
            s10[r, q] = np.sum((v10[r] - aucs[r]) * (v10[q] - aucs[q])) / (m - 1)
            s01[r, q] = np.sum((v01[r] - aucs[r]) * (v01[q] - aucs[q])) / (n - 1)
    return aucs, s10 / m + s01 / n


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_delong_equals_naive_pairwise_definition(k: int, ties: bool) -> None:
    g = rng(10 * k + ties)
    n = 600  # from 200 of the rarer class (and AUC ≤ 0.95), assess uses plain DeLong
    y = (g.random(n) < 0.4).astype(np.int8)
    assert min(y.sum(), n - y.sum()) >= 200
    base = g.standard_normal(n)
    scores = [0.8 * y + 0.6 * base + g.standard_normal(n) * (0.5 + 0.2 * r) for r in range(k)]
    if ties:
        scores = [np.round(s, 0) for s in scores]  # a handful of distinct values: many ties
        assert all(len(np.unique(s)) < 10 for s in scores)
    aucs, c = delong(y, scores)
    want_aucs, want_cov = naive_delong(y, scores)
    assert c.shape == (k, k)
    np.testing.assert_allclose(aucs, want_aucs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c, want_cov, rtol=0, atol=1e-12)
    # ...and assess's AUC interval is the normal bound from exactly these numbers
    if k >= 2:
        d = assess(get_metric("roc_auc", "binary"), y, scores[0], scores[1], confidence=CONF,
                   rng=rng(0), n_resamples=100).delta
        assert d is not None and d.method == "delong"
        se = math.sqrt(want_cov[0, 0] + want_cov[1, 1] - 2 * want_cov[0, 1])
        assert d.estimate == pytest.approx(want_aucs[0] - want_aucs[1], abs=1e-12)
        assert d.se == pytest.approx(se, rel=1e-9)
        assert d.lower == pytest.approx(d.estimate - sps.norm.ppf(CONF) * se, abs=1e-12)


def test_delong_needs_two_of_each_class() -> None:
    with pytest.raises(StatsError, match="two positive"):
        delong(np.array([1, 0, 0, 0]), [np.array([0.9, 0.1, 0.2, 0.3])])


# =========================================================================== scipy BCa


def _two_probability_models(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = rng(seed)
    y = (g.random(n) < 0.4).astype(np.int8)
    z1 = g.standard_normal(n)
    z2 = 0.7 * z1 + math.sqrt(1 - 0.49) * g.standard_normal(n)  # correlated errors
    pa = special.expit(1.3 * (1.1 * y + z1) - 1.0)
    pb = special.expit(1.0 * (1.0 * y + z2) - 0.9)
    return y, pa, pb


# scipy's and evalgate's bootstraps draw different resamples. With 9,999 of them the BCa bound's
# Monte-Carlo SD is 0.025–0.032 bootstrap SEs for either (measured over 20 seeds on these data,
# with no systematic offset: mean difference < 0.01 SE), so the difference has SD ≈ 0.04 SE and
# 0.15 SE is ≈ 3.5 SDs.
MC_TOLERANCE_SE = 0.15


@pytest.mark.parametrize("seed", [7, 8])
def test_log_loss_delta_bound_matches_scipy_bca(seed: int) -> None:
    y, pa, pb = _two_probability_models(300, seed)
    m = get_metric("log_loss", "binary")
    assert m.per_row is not None
    la, lb = m.per_row(y, pa), m.per_row(y, pb)
    ref = sps.bootstrap((la, lb), lambda a, b, axis=-1: np.mean(b - a, axis=axis),
                        paired=True, vectorized=True, method="BCa", alternative="greater",
                        confidence_level=0.95, n_resamples=9999, rng=rng(seed))
    d = assess(m, y, pa, pb, confidence=0.95, rng=rng(1000 + seed), n_resamples=9999).delta
    assert d is not None and d.lower is not None
    assert d.method == "paired-bootstrap-bca"
    assert d.upper is None
    assert d.estimate == pytest.approx(float(np.mean(lb - la)), abs=1e-12)  # sign −1
    tol = MC_TOLERANCE_SE * ref.standard_error
    assert abs(d.lower - ref.confidence_interval.low) < tol
    assert d.se == pytest.approx(ref.standard_error, rel=0.05)


@pytest.mark.parametrize("seed", [7, 8])
def test_brier_value_upper_bound_matches_scipy_bca(seed: int) -> None:
    y, pa, _ = _two_probability_models(300, seed)
    m = get_metric("brier_score", "binary")
    assert m.per_row is not None
    ref = sps.bootstrap((m.per_row(y, pa),), np.mean, vectorized=True, method="BCa",
                        alternative="less", confidence_level=0.95, n_resamples=9999,
                        rng=rng(seed))
    v = assess(m, y, pa, confidence=0.95, rng=rng(1000 + seed), n_resamples=9999).value
    assert v.method == "bootstrap-bca"
    assert v.lower is None and v.upper is not None  # lower is better: the bad side is up
    assert abs(v.upper - ref.confidence_interval.high) < MC_TOLERANCE_SE * ref.standard_error


# =========================================================================== statsmodels


def _two_classifiers(n: int, acc_cand: float, acc_champ: float, seed: int,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels right with the given rates, errors correlated through a shared uniform."""
    g = rng(seed)
    y = (g.random(n) < 0.4).astype(np.int8)
    u = g.random(n)
    shared = np.where(g.random(n) < 0.6, u, g.random(n))
    cand = np.where(u < acc_cand, y, 1 - y).astype(np.int8)
    champ = np.where(shared < acc_champ, y, 1 - y).astype(np.int8)
    return y, cand, champ


def test_accuracy_value_bound_matches_wald_interval() -> None:
    y, cand, _ = _two_classifiers(1000, 0.8, 0.8, seed=3)
    v = assess(get_metric("accuracy", "binary"), y, cand, confidence=0.95, rng=rng(0),
               n_resamples=9999).value
    k = int((cand == y).sum())
    lo, _ = proportion_confint(k, len(y), alpha=0.10, method="normal")  # one-sided 95%
    se = math.sqrt(k / len(y) * (1 - k / len(y)) / len(y))
    assert v.method == "bootstrap-cells-bca"
    assert v.estimate == k / len(y)
    assert v.se == pytest.approx(se, rel=0.05)
    # BCa vs Wald: Monte-Carlo error plus the lattice of a proportion (steps of 1/n)
    assert v.lower is not None and abs(v.lower - lo) < 0.1 * se + 1 / len(y)


def test_paired_accuracy_se_matches_discordant_pairs_formula() -> None:
    y, cand, champ = _two_classifiers(2000, 0.82, 0.78, seed=4)
    ra, rb = cand == y, champ == y
    b, c = int(np.sum(ra & ~rb)), int(np.sum(~ra & rb))
    n = len(y)
    se = math.sqrt((b + c) - (b - c) ** 2 / n) / n
    d = assess(get_metric("accuracy", "binary"), y, cand, champ, confidence=0.95, rng=rng(1),
               n_resamples=9999).delta
    assert d is not None and d.se is not None
    assert d.estimate == pytest.approx((b - c) / n, abs=1e-12)
    assert d.se == pytest.approx(se, rel=0.05)


@pytest.mark.parametrize(("acc_cand", "acc_champ", "direction"),
                         [(0.86, 0.78, 1), (0.78, 0.86, -1), (0.80, 0.80, 0)])
def test_paired_accuracy_agrees_with_exact_mcnemar(acc_cand: float, acc_champ: float,
                                                   direction: int) -> None:
    y, cand, champ = _two_classifiers(800, acc_cand, acc_champ, seed=5)
    ra, rb = cand == y, champ == y
    table = [[int(np.sum(ra & rb)), int(np.sum(ra & ~rb))],
             [int(np.sum(~ra & rb)), int(np.sum(~ra & ~rb))]]
    p = mcnemar(table, exact=True).pvalue
    b, c = table[0][1], table[1][0]
    d = assess(get_metric("accuracy", "binary"), y, cand, champ, confidence=0.95, rng=rng(2),
               n_resamples=2000).delta
    assert d is not None and d.lower is not None
    # the same direction as the discordant counts
    assert np.sign(d.estimate) == np.sign(b - c)
    if direction == 1:  # McNemar rejects and the bound shows the candidate better
        assert p < 0.01 and b > c and d.lower > 0
    elif direction == -1:  # McNemar rejects the other way; the bound is well below zero
        assert p < 0.01 and b < c and d.lower < 0 and d.estimate < 0
    else:  # no evidence either way: McNemar does not reject, the bound does not clear 0
        assert p > 0.1 and d.lower < 0


# =========================================================================== coverage


@pytest.mark.parametrize("metric", cov.METRICS)
def test_generator_true_values(metric: str) -> None:
    """The generator's closed forms / integrals against one seeded sample of 1,000,000 rows
    (tolerance 4 standard errors), and accuracy's closed form Φ(μ/2) by integration."""
    gen = cov.default()
    d = gen.draw(rng(2024), 1_000_000)
    m = get_metric(metric, "binary")
    kind = cov.PREDICTION[metric]
    y = d["y"]
    for who, model in (("cand", gen.cand), ("champ", gen.champ)):
        pred = d[f"{who}_{kind}"]
        truth = gen.true_value(metric, model)
        if metric == "roc_auc":
            aucs, c = delong(y, [pred])
            est, se = float(aucs[0]), math.sqrt(c[0, 0])
        else:
            rows = (pred == y).astype(float) if metric == "accuracy" else m.per_row(y, pred)
            est, se = float(rows.mean()), float(rows.std() / math.sqrt(len(y)))
        assert abs(est - truth) < 4 * se, (who, est, truth, se)
    if metric == "accuracy":
        mu = gen.cand.mu
        prevalence = gen.prevalence
        by_integration = (prevalence * sps.norm.sf(mu / 2, loc=mu)
                          + (1 - prevalence) * sps.norm.cdf(mu / 2))
        assert gen.true_value("accuracy", gen.cand) == pytest.approx(by_integration, abs=1e-14)
    assert gen.true_delta(metric) > 0.02  # a real, positive difference


def _coverage(metric: str, runs: int, rows: int, n_resamples: int) -> float:
    gen = cov.default()
    truth = gen.true_delta(metric)
    cell = Cell("coverage", metric, truth, 0.0, drawer(gen, metric, rows, 0.0,
                                                       n_resamples=n_resamples))
    return run(cell, runs).covered / runs


@pytest.mark.parametrize("metric", cov.METRICS)
def test_lower_bound_coverage_short(metric: str) -> None:
    """200 seeded runs: coverage of a 95% bound in [0.90, 0.99] (binomial SD ≈ 0.015)."""
    rate = _coverage(metric, runs=200, rows=500, n_resamples=500)
    assert 0.90 <= rate <= 0.99, rate


@pytest.mark.slow
@pytest.mark.parametrize("metric", cov.METRICS)
def test_lower_bound_coverage_1000_runs(metric: str) -> None:
    """1,000 seeded runs of 1,000 rows, 1,000 resamples: coverage in 95% ± 2%."""
    rate = _coverage(metric, runs=1000, rows=1000, n_resamples=1000)
    assert 0.93 <= rate <= 0.97, rate


# =========================================================================== the gate


def _labels(g: np.random.Generator, n: int, k: int) -> np.ndarray:
    y = g.integers(0, k, size=n)
    y[:k] = np.arange(k)
    return y


def _identical_cases() -> list[tuple[str, str, int]]:
    return [
        ("binary", "roc_auc", 300),
        ("binary", "accuracy", 300),
        ("binary", "f1", 300),
        ("binary", "matthews_corrcoef", 300),
        ("binary", "log_loss", 300),
        ("binary", "brier_score", 300),
        ("binary", "log_loss", ASYMPTOTIC_MIN_ROWS),  # paired t
        ("binary", "average_precision", 300),
        ("multiclass", "f1_macro", 300),
        ("multiclass", "log_loss", 300),
        ("multiclass", "roc_auc", 120),  # generic, row bootstrap
        ("regression", "mae", 300),
        ("regression", "rmse", 300),
        ("regression", "r2", 300),
        ("regression", "rmse", ASYMPTOTIC_MIN_ROWS),  # delta method
        ("regression", "r2", ASYMPTOTIC_MIN_ROWS),
        ("regression", "median_absolute_error", 120),  # generic, row bootstrap
    ]


def _predictions(task: str, metric: Metric, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    g = rng(seed)
    if task == "regression":
        y = g.normal(size=n)
        return y, y + g.normal(size=n)
    if task == "binary":
        y = _labels(g, n, 2).astype(np.int8)
        p = special.expit(1.2 * y - 0.6 + g.standard_normal(n))
        return y, p if metric.needs == "score" else (p >= 0.5).astype(np.int8)
    y = _labels(g, n, 3)
    logits = g.standard_normal((n, 3)) + np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p if metric.needs == "score" else p.argmax(axis=1)


@pytest.mark.parametrize(("task", "name", "n"), _identical_cases())
def test_identical_models_give_exactly_zero(task: str, name: str, n: int) -> None:
    m = get_metric(name, task)  # type: ignore[arg-type]
    y, pred = _predictions(task, m, n, seed=n)
    a = assess(m, y, pred, pred.copy(), confidence=CONF, rng=rng(0), n_resamples=200)
    d = a.delta
    assert d is not None
    assert a.champion_value == a.value.estimate
    if m.kind == "confusion":
        # no discordant row: the rows cannot rule out disagreement of up to Tango's bound
        # with b = c = 0, counted against the candidate — never a bound of exactly 0
        # (issue 11: no zero-width luck)
        tango = float(tango_bounds(0, 0, n, CONF)[0])
        assert d.estimate == 0.0 and d.upper is None and d.lower is not None
        assert 5 * tango < d.lower < 0
        if name == "accuracy":
            assert d.lower == tango and d.method == "tango-score"
        else:
            assert d.method == "bootstrap-cells-percentile+discordance-floor"
        return
    bound = per_row_bound(m, y, pred)
    if bound is not None:
        # no row where the scores differ: the rows cannot rule out a share of them up to its
        # exact bound, each moving Δ by at most ``bound`` — never a bound of exactly 0
        u = float(1 - (1 - CONF) ** (1 / n))
        assert d.estimate == 0.0 and d.upper is None
        assert d.lower == pytest.approx(-u * bound, rel=1e-9) and d.lower < 0
        assert d.method.endswith("+discordance")
        same = assess(m, y, pred, pred.copy(), confidence=CONF, rng=rng(0), n_resamples=200,
                      same_model=True).delta
        assert same is not None and same.lower == 0.0  # the champion's very file
        return
    assert d.estimate == 0.0 and d.lower == 0.0 and d.upper is None
    assert d.lower >= -0.0  # so max_regression 0 passes, and any larger margin too
    if m.kind not in ("auc",) and n < ASYMPTOTIC_MIN_ROWS:
        assert d.method.endswith("-percentile")  # every replicate is 0: BCa is degenerate


def _suite(*checks: MetricCheck, seed: int = 0, n_resamples: int = 1000) -> Suite:
    return Suite(name="sim", path=Path("sim.yaml"), sha256="0" * 64, task="binary",
                 data=DataSpec(path=Path("sim.csv"), target="y", positive_label=1,
                               sensitive=(), features=None, line=3),
                 champion="champion.onnx", champion_line=8, confidence=CONF, seed=seed,
                 n_resamples=n_resamples, families={"performance": tuple(checks)})


def _context(suite: Suite, d: dict[str, np.ndarray]) -> EvalContext:
    def preds(who: str) -> Predictions:
        p = special.expit(d[f"{who}_score"])
        return Predictions(label=(p >= 0.5).astype(np.int8), score=p)

    return EvalContext(suite=suite, target=Target(y=d["y"], classes=(0, 1)),
                       candidate=preds("cand"), champion=preds("champ"))


def test_identical_models_pass_max_regression_zero_through_the_check() -> None:
    d = binormal(1.0, 1.0, 1000, seed=1)
    d["champ_score"] = d["cand_score"].copy()
    checks = [MetricCheck(name, Threshold(max_regression=0.0), True, i + 10)
              for i, name in enumerate(("roc_auc", "accuracy", "log_loss", "f1"))]
    suite = _suite(*checks, n_resamples=300)
    for result in performance.run(_context(suite, d), performance.plan(suite)):
        # scores that agree on every row of 1,000 leave disagreement unseen on up to 0.3% of
        # the rows: the discordance floor, never a bound of exactly 0
        assert result.status == "fail" and "inconclusive" in result.message
        assert result.delta == 0.0 and result.ci[0] is not None and result.ci[0] < 0
    # a margin as wide as the exact bound on unseen disagreement passes them
    margins = {"roc_auc": 0.01, "accuracy": 0.01, "log_loss": 0.15, "f1": 0.01}
    loose = _suite(*[MetricCheck(name, Threshold(max_regression=margins[name]), True, i + 10)
                     for i, name in enumerate(margins)], n_resamples=300)
    for result in performance.run(_context(loose, d), performance.plan(loose)):
        assert result.status == "pass", result.message


def test_two_points_worse_auc_at_20000_rows_blocks_max_regression_001() -> None:
    auc_champ = float(sps.norm.cdf(1.0 / math.sqrt(2)))
    d = binormal(mu_for_auc(auc_champ - 0.02), 1.0, 20_000, seed=11)
    delta = assess(get_metric("roc_auc", "binary"), d["y"], d["cand_score"], d["champ_score"],
                   confidence=CONF, rng=rng(0), n_resamples=100).delta
    assert delta is not None and delta.lower is not None and delta.se is not None
    assert abs(delta.estimate + 0.02) < 4 * delta.se  # the sample shows the true −0.02
    assert delta.lower < -0.01
    check = MetricCheck("roc_auc", Threshold(max_regression=0.01), True, 10)
    result = performance.evaluate(_context(_suite(check), d), check)
    assert result.status == "fail" and result.blocks
    assert result.ci is not None and result.ci[0] == pytest.approx(delta.lower, abs=1e-12)


@pytest.fixture(scope="module")
def slightly_better() -> dict[str, np.ndarray]:
    """A candidate truly better by 0.2 points of AUC, on 500 rows (seed 9: Δ̂ ≈ +0.0018)."""
    auc_champ = float(sps.norm.cdf(1.0 / math.sqrt(2)))
    return binormal(mu_for_auc(auc_champ + 0.002), 1.0, 500, seed=9)


def test_slightly_better_candidate_is_not_shown_better(
        slightly_better: dict[str, np.ndarray]) -> None:
    d = slightly_better
    delta = assess(get_metric("roc_auc", "binary"), d["y"], d["cand_score"], d["champ_score"],
                   confidence=CONF, rng=rng(0), n_resamples=100).delta
    assert delta is not None and delta.lower is not None
    assert delta.estimate > 0  # the point estimate favours the candidate...
    assert delta.lower < 0  # ...but not enough to pass min_improvement 0

    check = MetricCheck("roc_auc", Threshold(min_improvement=0.0), True, 10)
    result = performance.evaluate(_context(_suite(check), d), check)
    assert result.status == "fail" and result.blocks
    assert result.delta == pytest.approx(delta.estimate, abs=1e-12)
    text = result.message.lower()
    assert "is better" not in text and "better than the champion" not in text
    assert "≥ +0 (min_improvement" not in result.message  # no passing clause either
    assert "inconclusive" in text
    assert result.details.rows_to_resolve_min_improvement == delta.rows_to_resolve(0.0)


@pytest.mark.parametrize("margin", [0.0, 0.005])
def test_rows_to_resolve_would_in_fact_resolve(slightly_better: dict[str, np.ndarray],
                                               margin: float) -> None:
    d = slightly_better
    m = get_metric("roc_auc", "binary")
    delta = assess(m, d["y"], d["cand_score"], d["champ_score"], confidence=CONF, rng=rng(0),
                   n_resamples=100).delta
    assert delta is not None and delta.lower is not None
    assert delta.lower < -margin  # unresolved now
    rows = delta.rows_to_resolve(margin)
    assert rows is not None
    h = delta.estimate - delta.lower
    n = delta.n
    assert rows == math.ceil(n * (h / (delta.estimate + margin)) ** 2)
    assert delta.estimate - h * math.sqrt(n / rows) >= -margin - 1e-12  # by the formula
    assert delta.estimate - h * math.sqrt(n / (rows * 0.9)) < -margin  # and not far too many
    # in fact: the same rows repeated ⌈rows/n⌉ times keep Δ̂ and resolve it
    reps = math.ceil(rows / n)
    big = assess(m, np.tile(d["y"], reps), np.tile(d["cand_score"], reps),
                 np.tile(d["champ_score"], reps), confidence=CONF, rng=rng(0),
                 n_resamples=100).delta
    assert big is not None and big.lower is not None
    assert big.estimate == pytest.approx(delta.estimate, abs=1e-12)
    assert big.lower >= -margin


def test_rows_to_resolve_edge_cases() -> None:
    assert Interval(-0.02, -0.03, None, 0.01, "x", 100).rows_to_resolve(0.01) is None
    assert Interval(0.01, None, 0.02, 0.01, "x", 100).rows_to_resolve(0.01) is None
    assert Interval(0.01, 0.01, None, 0.0, "x", 100).rows_to_resolve(0.0) == 100


@pytest.mark.parametrize("name", ["log_loss", "accuracy", "average_precision", "roc_auc"])
def test_same_seed_same_numbers_different_seed_different_bounds(name: str) -> None:
    m = get_metric(name, "binary")
    d = binormal(1.1, 1.0, 400, seed=3)
    kind = {"label": "label", "score": "proba"}[m.needs]

    def run(seed: int) -> stats.Assessment:
        return assess(m, d["y"], d[f"cand_{kind}"], d[f"champ_{kind}"], confidence=CONF,
                      rng=rng(seed), n_resamples=300)

    a, b, c = run(5), run(5), run(6)
    assert a == b  # every field of every interval, bit for bit
    assert a.delta is not None and c.delta is not None
    if m.kind == "auc":
        assert a == c  # DeLong has no randomness
    else:
        if name == "accuracy":  # Δ from Tango's interval has no randomness either
            assert a.delta == c.delta
        else:
            assert a.delta.lower != c.delta.lower
        bad_side = (lambda v: v.lower) if m.higher_is_better else (lambda v: v.upper)
        assert bad_side(a.value) is not None
        assert bad_side(a.value) != bad_side(c.value)


def test_results_do_not_depend_on_check_order_or_selection() -> None:
    d = binormal(1.1, 1.0, 600, seed=4)
    names = ("roc_auc", "accuracy", "log_loss", "average_precision", "brier_score", "f1")
    checks = [MetricCheck(name, Threshold(max_regression=0.01), True, 10 + i)
              for i, name in enumerate(names)]

    def results(order: Sequence[MetricCheck], selected: set[str] | None = None,
                ) -> dict[str, dict[str, object]]:
        suite = _suite(*order, n_resamples=300)
        plans = [p for p in performance.plan(suite)
                 if selected is None or suite.check_id(p.family, p.name) in selected]
        return {r.id: r.as_dict() for r in performance.run(_context(suite, d), plans)}

    forward = results(checks)
    backward = results(checks[::-1])
    assert forward == backward
    one = "sim::performance::log_loss"
    assert results(checks, {one}) == {one: forward[one]}
    other = _suite(*checks, seed=1, n_resamples=300)
    moved = {r.id: r.as_dict()
             for r in performance.run(_context(other, d), performance.plan(other))}
    assert moved[one]["ci"] != forward[one]["ci"]  # the suite seed does matter


# =========================================================================== BCa


def test_bca_bound_falls_back_when_all_replicates_are_equal() -> None:
    reps = np.full(500, 0.3)
    bound, bca = bca_bound(0.3, reps, np.linspace(0, 1, 20), None, 0.95, lower=True)
    assert (bound, bca) == (0.3, False)


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("theta", [-1.0, 2.0])
def test_bca_bound_falls_back_when_estimate_is_outside_replicates(theta: float,
                                                                  lower: bool) -> None:
    reps = rng(0).random(999)
    jack = rng(1).normal(size=50)
    bound, bca = bca_bound(theta, reps, jack, None, 0.95, lower=lower)
    assert bca is False
    assert bound == pytest.approx(float(np.percentile(reps, 5 if lower else 95)), abs=1e-12)


def test_bca_bound_applies_and_matches_the_formula() -> None:
    g = rng(2)
    reps = g.normal(1.0, 0.1, size=4000) ** 2
    jack = g.normal(1.0, 0.01, size=200) ** 3
    theta = 1.01
    bound, bca = bca_bound(theta, reps, jack, None, 0.95, lower=True)
    assert bca is True
    z0 = sps.norm.ppf(np.mean(reps < theta))
    dev = jack.mean() - jack
    a = np.sum(dev**3) / (6 * np.sum(dev**2) ** 1.5)
    z = sps.norm.ppf(0.05)
    want = np.percentile(reps, 100 * sps.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))
    assert bound == pytest.approx(want, rel=1e-9)


def test_bca_bound_ignores_undefined_replicates_and_refuses_all_undefined() -> None:
    reps = np.r_[rng(3).normal(size=300), np.nan, np.inf]
    jack = rng(4).normal(size=30)
    assert bca_bound(0.0, reps, jack, None, 0.95, True) == bca_bound(
        0.0, reps[:300], jack, None, 0.95, True)
    with pytest.raises(StatsError):
        bca_bound(0.0, np.full(10, np.nan), jack, None, 0.95, True)


def test_degenerate_bca_is_recorded_as_percentile() -> None:
    # a perfect classifier: every replicate's accuracy is 1
    y = np.array([0, 1] * 50, dtype=np.int8)
    v = assess(get_metric("accuracy", "binary"), y, y.copy(), confidence=CONF, rng=rng(0),
               n_resamples=200).value
    assert v.method == "bootstrap-cells-percentile" and v.lower == 1.0
    # the estimate outside its replicates
    iv = bootstrap_interval(5.0, rng(0).random(200), rng(1).random(20), None, CONF,
                                   True, "paired-bootstrap", 20)
    assert iv.method == "paired-bootstrap-percentile"
    assert iv.lower == pytest.approx(float(np.percentile(rng(0).random(200), 5)), abs=1e-12)
    iv = bootstrap_interval(0.5, rng(0).random(200), rng(1).random(20), None, CONF,
                                   False, "bootstrap", 20)
    assert iv.method == "bootstrap-bca" and iv.upper is not None and iv.lower is None


def _acceleration(jack: np.ndarray, weights: np.ndarray | None) -> float:
    """BCa's acceleration exactly as bca_bound computes it from its arguments."""
    w = np.ones_like(jack) if weights is None else weights
    dev = np.sum(w * jack) / np.sum(w) - jack
    return float(np.sum(w * dev**3) / (6 * np.sum(w * dev**2) ** 1.5))


def test_grouped_jackknife_acceleration_matches_the_row_jackknife(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the mean of a skewed sample through the generic path, so the exact row jackknife is known
    n = 2000
    x = rng(0).lognormal(0.0, 1.2, size=n)
    m = Metric("mean_pred", "regression", False, "label", "generic",
               lambda y, p: float(np.mean(p)))
    seen: list[tuple[np.ndarray, np.ndarray | None]] = []
    real = stats.bca_bound

    def spy(theta: float, reps: np.ndarray, jack: np.ndarray, weights: np.ndarray | None,
            confidence: float, lower: bool) -> tuple[float, bool]:
        seen.append((jack.copy(), None if weights is None else weights.copy()))
        return real(theta, reps, jack, weights, confidence, lower)

    monkeypatch.setattr(intervals, "bca_bound", spy)
    assess(m, np.zeros(n), x, confidence=CONF, rng=rng(1), n_resamples=200)
    (jack, weights), = seen
    row = _acceleration((x.sum() - x) / (n - 1), None)
    assert row > 0.01  # clearly skewed
    assert _acceleration(jack, weights) == pytest.approx(row, rel=0.3)


def test_average_precision_cell_bootstrap_matches_a_naive_row_bootstrap() -> None:
    """AP's bootstrap (rows merged into weighted cells, sort once) has the spread of a plain
    row bootstrap of the metric function (each SD's Monte-Carlo error ≈ 1.6% at 2,000)."""
    y, pa, pb = _two_probability_models(300, 7)
    pa, pb = np.round(pa, 2), np.round(pb, 2)  # ties, so rows do merge
    m = get_metric("average_precision", "binary")
    a = assess(m, y, pa, pb, confidence=CONF, rng=rng(0), n_resamples=2000)
    g = rng(1)
    value, diff = [], []
    for _ in range(2000):
        i = g.integers(0, len(y), size=len(y))
        va, vb = m.fn(y[i], pa[i]), m.fn(y[i], pb[i])
        value.append(va)
        diff.append(va - vb)
    assert a.delta is not None
    assert a.value.estimate == m.fn(y, pa)
    assert a.value.se == pytest.approx(np.std(value, ddof=1), rel=0.08)
    assert a.delta.se == pytest.approx(np.std(diff, ddof=1), rel=0.08)


def _three_classes(rare: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """600 rows, class 2 with ``rare`` of them; the candidate worse on class 2 only."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(300 - rare // 2, int), np.ones(300 - rare + rare // 2, int),
              np.full(rare, 2)]
    def table(noise: float) -> np.ndarray:
        z = rng.standard_normal((600, 3)) * noise + 2.0 * np.eye(3)[y]
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)
    return y, table(1.5), table(1.0)


def test_multiclass_roc_auc_with_a_rare_class_is_inconclusive() -> None:
    """Class 2 with 3 rows of 600: the paired row bootstrap bounded Δ at −0.007 and a truly
    worse candidate passed about 10% of the time at 95%. Like a binary AUC with fewer than
    10 positives, Δ is now unbounded and the check says which class is too small."""
    metric = get_metric("roc_auc", "multiclass")
    y, cand, champ = _three_classes(3)
    result = assess(metric, y, cand, champ, confidence=CONF, rng=np.random.default_rng(0),
                    n_resamples=200)
    assert result.delta is not None and result.delta.lower == -math.inf
    assert result.delta.method == "too-few-in-a-class"
    assert result.value.lower is not None and result.value.lower < result.value.estimate
    check = MetricCheck("roc_auc", Threshold(max_regression=0.5), True, 10)
    suite = replace(_suite(check, n_resamples=200), task="multiclass")
    ctx = EvalContext(suite=suite, target=Target(y=y, classes=("a", "b", "c")),
                      candidate=Predictions(label=cand.argmax(axis=1), score=cand),
                      champion=Predictions(label=champ.argmax(axis=1), score=champ))
    checked = performance.evaluate(ctx, check)
    assert checked.status == "fail"
    assert "inconclusive: class 'c' has 3 rows" in checked.message, checked.message
    y, cand, champ = _three_classes(10)  # ten rows of each class: compared as before
    result = assess(metric, y, cand, champ, confidence=CONF, rng=np.random.default_rng(0),
                    n_resamples=200)
    assert result.delta is not None and math.isfinite(result.delta.lower or -math.inf)
