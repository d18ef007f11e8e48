"""ROC AUC with few positives or near 1, and average precision with few positives and at a
million rows (docs/stats-auc.md), against independent computations:

- DeLong's structural components and covariance from the pairwise definition, O(m·n);
- the logit-scale delta-method variance of θ = logit(A) − logit(B) from that covariance
  matrix and θ's gradient, and the bound read back on the AUC scale with scipy's logit;
- the stratified bootstrap's cells against resampling the rows themselves, replicate by
  replicate, and its spread against a brute-force stratified bootstrap;
- average precision's packed Poisson path against the plain reweighting, its Poisson weights
  against the 16-bit table, its few-positive bound against the expanded percentile computed
  here and its replicates against a brute-force bootstrap of rows;
- the true AP of the simulation's generator against a Monte Carlo AP;
- the rule's regimes, the inconclusive message, and a short false-pass simulation.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special
from scipy import stats as sps

from evalgate import stats
from evalgate.data import Target
from evalgate.families import EvalContext
from evalgate.families.performance import check as performance
from evalgate.families.performance.spec import MetricCheck
from evalgate.metrics import get_metric
from evalgate.models.predictions import Predictions
from evalgate.spec import DataSpec, Suite, Threshold
from evalgate.stats import ap as ap_stats
from evalgate.stats import assess, delong
from evalgate.stats import auc as auc_stats
from evalgate.stats.auc_bootstrap import _cells, stratified_aucs
from evalgate.stats.delong import components

CONF = 0.95
AUC = get_metric("roc_auc", "binary")
AP = get_metric("average_precision", "binary")


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def fixed_counts(positives: int, negatives: int, auc_cand: float, auc_champ: float,
                 seed: int, rho: float = 0.6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binormal scores on exactly ``positives`` and ``negatives`` rows."""
    g = rng(seed)
    y = np.r_[np.ones(positives, np.int8), np.zeros(negatives, np.int8)]
    z1 = g.standard_normal(len(y))
    z2 = rho * z1 + math.sqrt(1 - rho**2) * g.standard_normal(len(y))
    mu = [math.sqrt(2) * float(sps.norm.ppf(a)) for a in (auc_cand, auc_champ)]
    return y, mu[0] * y + z1, mu[1] * y + z2


# =========================================================================== DeLong


def naive_components(y: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """V10, V01 from ψ(x, z) = 1 if x > z, ½ if equal, 0 otherwise, over all m·n pairs."""
    x, z = s[y == 1], s[y != 1]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    return float(psi.mean()), psi.mean(axis=1), psi.mean(axis=0)


@pytest.mark.parametrize("ties", [False, True])
def test_components_and_covariance_follow_the_pairwise_definition(ties: bool) -> None:
    y, a, b = fixed_counts(17, 40, 0.9, 0.93, seed=1)
    if ties:
        a, b = np.round(a, 0), np.round(b, 0)
    aucs, v10, v01 = components(y, [a, b])
    for r, s in enumerate((a, b)):
        want, w10, w01 = naive_components(y, s)
        assert aucs[r] == pytest.approx(want, abs=1e-12)
        np.testing.assert_allclose(v10[r], w10, atol=1e-12)
        np.testing.assert_allclose(v01[r], w01, atol=1e-12)
    _, cov = delong(y, [a, b])
    n10, n01 = [naive_components(y, s)[1] for s in (a, b)], [naive_components(y, s)[2]
                                                             for s in (a, b)]
    want_cov = np.cov(np.vstack(n10)) / 17 + np.cov(np.vstack(n01)) / 40
    np.testing.assert_allclose(cov, want_cov, atol=1e-12)


def midrank_components(y: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Sun & Xu's midranks as scipy ranks them (evalgate's implementation before the
    binary-search one): the floats the gate's verdicts were computed with."""
    pos = y == 1
    m, n = int(pos.sum()), int((~pos).sum())
    x, z = s[pos], s[~pos]
    tx, tz_ = sps.rankdata(x), sps.rankdata(z)
    t = sps.rankdata(np.concatenate([x, z]))
    return ((t[:m].sum() - m * (m + 1) / 2) / (m * n), (t[:m] - tx) / n,
            1.0 - (t[m:] - tz_) / m)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 300), st.integers(2, 300),
       st.sampled_from([0, 1, 3, None]), st.booleans(), st.sampled_from([1, 7, 1 << 20]))
def test_components_are_the_midranks_very_floats(seed: int, m: int, n: int,
                                                  decimals: int | None, lean: bool,
                                                  chunk: int) -> None:
    """The per-distinct-score components equal the midrank ones bit for bit — ties (rounded
    scores) or none, each row's distinct score found by np.unique's inverse or by the lean
    binary search in any chunks — so no verdict's number moved with them."""
    import importlib

    module = importlib.import_module("evalgate.stats.delong")
    g = np.random.default_rng(seed)
    y = g.permutation(np.r_[np.ones(m, dtype=np.int8), np.zeros(n, dtype=np.int8)])
    scores = [g.normal(size=m + n) + y for _ in range(2)]
    if decimals is not None:
        scores = [np.round(s, decimals) for s in scores]
    saved = module.INVERSE_MAX_ROWS, module.CHUNK
    module.INVERSE_MAX_ROWS, module.CHUNK = (0 if lean else saved[0]), chunk
    try:
        aucs, v10, v01 = components(y, scores)
    finally:
        module.INVERSE_MAX_ROWS, module.CHUNK = saved
    for r, sc in enumerate(scores):
        want, w10, w01 = midrank_components(y, sc)
        assert aucs[r] == want
        assert np.array_equal(v10[r], w10) and np.array_equal(v01[r], w01)


def test_logit_delta_method_matches_an_independent_computation() -> None:
    """delong-logit: θ = logit A − logit B, Var θ = gᵀ Cov g with g = (1/(A(1−A)),
    −1/(B(1−B))), the t quantile with Satterthwaite's degrees of freedom, and the bound read
    back at the less favourable of the two AUCs."""
    y, a, b = fixed_counts(150, 2000, 0.955, 0.965, seed=2)
    d = assess(AUC, y, a, b, confidence=CONF, rng=rng(0), n_resamples=100).delta
    assert d is not None and d.lower is not None and d.method == "delong-logit"
    A, w10a, w01a = naive_components(y, a)
    B, w10b, w01b = naive_components(y, b)
    m, n = len(w10a), len(w01a)
    cov = np.cov(np.vstack([w10a, w10b])) / m + np.cov(np.vstack([w01a, w01b])) / n
    g = np.array([1 / (A * (1 - A)), -1 / (B * (1 - B))])
    var = float(g @ cov @ g)
    p10 = float(np.var(g[0] * w10a + g[1] * w10b, ddof=1)) / m  # the two parts of var
    p01 = float(np.var(g[0] * w01a + g[1] * w01b, ddof=1)) / n
    assert p10 + p01 == pytest.approx(var, rel=1e-9)
    df = var**2 / (p10**2 / (m - 1) + p01**2 / (n - 1))
    theta_lower = special.logit(A) - special.logit(B) - sps.t.ppf(CONF, df) * math.sqrt(var)
    at_champion = float(special.expit(special.logit(B) + theta_lower) - B)
    at_candidate = float(A - special.expit(special.logit(A) - theta_lower))
    assert d.estimate == pytest.approx(A - B, abs=1e-12)
    assert d.lower == pytest.approx(min(at_champion, at_candidate), abs=1e-10)
    assert at_champion < at_candidate  # θ < 0 here: read at the lower AUC, the champion's


def test_delong_regime_is_plain_delong() -> None:
    """At and above DELONG_FROM in the rarer class with AUCs up to LOGIT_ABOVE, the bounds
    are DeLong's estimate − z·se, as before."""
    y, a, b = fixed_counts(400, 900, 0.86, 0.87, seed=3)
    out = assess(AUC, y, a, b, confidence=CONF, rng=rng(0), n_resamples=100)
    aucs, cov = delong(y, [a, b])
    z = float(sps.norm.ppf(CONF))
    assert out.delta is not None and out.delta.method == out.value.method == "delong"
    se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert out.delta.lower == aucs[0] - aucs[1] - z * se
    assert out.value.lower == aucs[0] - z * math.sqrt(cov[0, 0])


# =========================================================================== the rule


@pytest.mark.parametrize(("k", "auc", "method"), [
    (2, 0.7, "too-few"), (9, 0.99, "too-few"), (10, 0.7, "stratified-bootstrap-logit"),
    (99, 0.5, "stratified-bootstrap-logit"), (100, 0.7, "delong-logit"),
    (199, 0.7, "delong-logit"), (200, 0.95, "delong"), (200, 0.951, "delong-logit"),
    (5000, 0.04, "delong-logit"), (5000, 0.9, "delong")])
def test_regime(k: int, auc: float, method: str) -> None:
    assert auc_stats.regime(k, auc) == method


def _suite(*checks: MetricCheck) -> Suite:
    return Suite(name="sim", path=Path("sim.yaml"), sha256="0" * 64, task="binary",
                 data=DataSpec(path=Path("sim.csv"), target="y", positive_label=1,
                               sensitive=(), features=None, line=3),
                 champion="champion.onnx", champion_line=8, confidence=CONF, seed=0,
                 n_resamples=300, families={"performance": tuple(checks)})


def _context(suite: Suite, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> EvalContext:
    def preds(s: np.ndarray) -> Predictions:
        p = special.expit(s)
        return Predictions(label=(p >= 0.5).astype(np.int8), score=p)

    return EvalContext(suite=suite, target=Target(y=y, classes=(0, 1)),
                       candidate=preds(a), champion=preds(b))


def test_too_few_positives_is_inconclusive_and_says_what_would_resolve_it() -> None:
    y, a, b = fixed_counts(6, 3000, 0.99, 0.95, seed=4)  # looks much better: still no pass
    check = MetricCheck("roc_auc", Threshold(max_regression=0.05), True, 10)
    result = performance.evaluate(_context(_suite(check), y, a, b), check)
    assert result.status == "fail" and result.method == "too-few-positives"
    assert result.ci is not None and result.ci[0] == -math.inf
    assert "inconclusive: 6 positives and 3,000 negatives" in result.message
    assert f"at least {auc_stats.MIN_PER_CLASS} of each" in result.message
    assert "evaluate on more positives" in result.message
    want = math.ceil(3006 * auc_stats.MIN_PER_CLASS / 6)
    assert result.details.rows_to_resolve_max_regression == want
    assert f"about {want:,} rows" in result.message
    # the candidate's own value still has its (logit) interval
    assert result.details.candidate_method == "delong-logit"
    lower = result.details.candidate_ci[0]
    assert lower is not None and 0 < lower < result.candidate


def test_too_few_negatives_names_negatives() -> None:
    y, a, b = fixed_counts(3000, 4, 0.99, 0.95, seed=5)
    d = assess(AUC, y, a, b, confidence=CONF, rng=rng(0), n_resamples=100).delta
    assert d is not None and d.method == "too-few-negatives" and d.lower == -math.inf


def test_perfect_separation_by_both_gives_the_exact_floor() -> None:
    y = np.r_[np.ones(20, np.int8), np.zeros(500, np.int8)]
    g = rng(6)
    a = np.where(y == 1, 5 + g.random(len(y)), g.random(len(y)))
    b = np.where(y == 1, 7 + g.random(len(y)), g.random(len(y)))
    out = assess(AUC, y, a, b, confidence=CONF, rng=rng(0), n_resamples=200)
    floor = -(1 - (1 - CONF) ** (1 / 20))
    assert out.delta is not None and out.delta.estimate == 0.0
    assert out.delta.lower == pytest.approx(floor, abs=1e-12)  # −0.139: margins below fail
    assert out.value.estimate == 1.0 and out.value.lower == pytest.approx(1 + floor, abs=1e-12)
    same = assess(AUC, y, a, a.copy(), confidence=CONF, rng=rng(0), n_resamples=200,
                  same_model=True).delta
    assert same is not None and same.lower == 0.0  # the champion's very file: never worse


def test_identical_scores_give_the_discordance_floor_in_every_regime() -> None:
    """Scores that agree on every row: Δ̂ = 0, and the bound is what the rows cannot rule
    out — a share u of rows (its exact bound) scored otherwise, each moving the AUC by up to
    1/min(P, N) — exactly 0 only for the champion's very file."""
    for positives in (12, 150, 400):
        y, a, _ = fixed_counts(positives, 900, 0.97, 0.97, seed=positives)
        d = assess(AUC, y, a, a.copy(), confidence=CONF, rng=rng(0), n_resamples=200).delta
        u = 1 - (1 - CONF) ** (1 / len(y))
        assert d is not None and d.estimate == 0.0, d
        assert d.lower == pytest.approx(-u * len(y) / min(positives, len(y) - positives))
        same = assess(AUC, y, a, a.copy(), confidence=CONF, rng=rng(0), n_resamples=200,
                      same_model=True).delta
        assert same is not None and same.lower == 0.0


def test_bootstrap_regime_is_deterministic() -> None:
    y, a, b = fixed_counts(30, 700, 0.96, 0.98, seed=7)

    def run(seed: int) -> stats.Assessment:
        return auc_stats.auc_assessment(AUC, y, a, b, CONF, len(y), rng(seed), 300)

    one, two, other = run(1), run(1), run(2)
    assert one == two and one.delta is not None and other.delta is not None
    assert one.delta.method == "stratified-bootstrap-logit"
    assert one.delta.lower != other.delta.lower
    # assess does not pass its generator to the AUC path (stats/assessment.py): the
    # generator is then seeded by the data — the same data, the same numbers, any seed
    via = [assess(AUC, y, a, b, confidence=CONF, rng=rng(s), n_resamples=300) for s in (1, 2)]
    assert via[0] == via[1] == auc_stats.auc_assessment(AUC, y, a, b, CONF, len(y))


# =========================================================================== stratified bootstrap


@pytest.mark.parametrize(("positives", "negatives"), [(12, 300), (300, 15)])
def test_cells_resample_exactly_as_rows(positives: int, negatives: int) -> None:
    """Each replicate's AUC from the cells equals the AUC of the resampled rows themselves
    (ties included): merging the larger class into cells changes nothing."""
    y, a, b = fixed_counts(positives, negatives, 0.9, 0.95, seed=8)
    a, b = np.round(a, 1), np.round(b, 1)
    pos = y == 1
    small_is_pos = positives <= negatives
    sign = 1.0 if small_is_pos else -1.0
    sm, lg = (pos, ~pos) if small_is_pos else (~pos, pos)
    first, counts = _cells([sign * a[sm], sign * b[sm]], [sign * a[lg], sign * b[lg]])
    g = rng(9)
    small_idx, large_idx = np.flatnonzero(sm), np.flatnonzero(lg)
    # which cell each large-class row belongs to: the one whose representative places alike
    for _ in range(20):
        i = g.choice(small_idx, len(small_idx))
        j = g.choice(large_idx, len(large_idx))
        rows = np.r_[i, j]
        for s in (a, b):
            want = naive_components(y[rows], s[rows])[0]
            sm_s, lg_s = sign * s[sm], sign * s[lg]
            ws = np.bincount(np.searchsorted(small_idx, i), minlength=len(small_idx))
            placed = [(np.sum(sm_s > t), np.sum(sm_s == t)) for t in lg_s]
            reps = [placed[f] for f in first]
            wc = np.zeros(len(first))
            for jj in np.searchsorted(large_idx, j):
                wc[reps.index(placed[jj])] += 1
            psi = (sm_s[:, None] > lg_s[first][None, :]) + 0.5 * (sm_s[:, None] ==
                                                                  lg_s[first][None, :])
            got = float(ws @ psi @ wc) / (len(small_idx) * len(large_idx))
            assert got == pytest.approx(want, abs=1e-12)
    assert counts.sum() == len(large_idx)


def test_stratified_bootstrap_matches_a_brute_force_one() -> None:
    """Resampling positives and negatives separately, by rows and by definition: the same
    mean and spread (Monte Carlo SD of an SD at 2,000 replicates ≈ 1.6%)."""
    y, a, b = fixed_counts(15, 200, 0.93, 0.96, seed=10)
    reps = stratified_aucs(y, [a, b], rng(11), 2000)
    g = rng(12)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    brute = []
    for _ in range(2000):
        rows = np.r_[g.choice(pos, len(pos)), g.choice(neg, len(neg))]
        brute.append([AUC.fn(y[rows], s[rows]) for s in (a, b)])
    want = np.array(brute)
    np.testing.assert_allclose(reps.std(axis=0), want.std(axis=0), rtol=0.08)
    np.testing.assert_allclose(reps.mean(axis=0), want.mean(axis=0), atol=0.004)
    diff, want_diff = reps[:, 0] - reps[:, 1], want[:, 0] - want[:, 1]
    assert diff.std() == pytest.approx(want_diff.std(), rel=0.08)


@pytest.mark.parametrize(("champion", "positives", "margin"), [(0.98, 20, 0.02),
                                                                (0.90, 10, 0.05)])
def test_false_pass_short_simulation(champion: float, positives: int, margin: float) -> None:
    """200 seeded draws at a true Δ of exactly −margin pass at most 10% of the time
    (bench/coverage.py --only auc runs 1,000 per cell; before: 14% and 12%)."""
    passes = 0
    for i in range(200):
        y, a, b = fixed_counts(positives, 1000, champion - margin, champion, seed=1000 + i)
        d = assess(AUC, y, a, b, confidence=CONF, rng=rng(i), n_resamples=500).delta
        assert d is not None and d.lower is not None
        passes += d.lower >= -margin
    assert passes / 200 <= 0.10


# =========================================================================== average precision


def test_poisson_bytes_follow_the_16_bit_table() -> None:
    w = ap_stats.poisson_bytes(np.random.Generator(np.random.SFC64(1)), (64, 125_000))
    freq = np.bincount(w.ravel(), minlength=9) / w.size
    table = np.bincount(ap_stats._TABLE16, minlength=9) / 65536
    se = np.sqrt(table * (1 - table) / w.size)
    assert np.all(np.abs(freq - table) <= 5 * se + 1e-12)
    assert table[0] == pytest.approx(math.exp(-1), abs=2e-5)
    again = ap_stats.poisson_bytes(np.random.Generator(np.random.SFC64(1)), (64, 125_000))
    assert np.array_equal(w, again)


@pytest.mark.parametrize("decimals", [None, 2])
def test_packed_path_equals_plain_reweighting(decimals: int | None) -> None:
    g = rng(13)
    n = 5000
    y = (g.random(n) < 0.2).astype(np.int8)
    a = special.expit(1.2 * y + g.standard_normal(n))
    b = special.expit(0.9 * y + g.standard_normal(n))
    if decimals is not None:
        a, b = np.round(a, decimals), np.round(b, decimals)  # runs of tied scores
    layout = np.empty(n, np.int64)
    layout[np.argsort(-a, kind="mergesort")] = np.arange(n)
    w = ap_stats.poisson_bytes(np.random.Generator(np.random.SFC64(2)), (7, n))
    for s in (a, b):
        model = ap_stats._WeightedAP(y, s, layout)
        plain = model(w)
        np.testing.assert_allclose(model.packed(ap_stats.pack(w))[:7], plain, rtol=0,
                                   atol=1e-7)  # float32 precision, summed in float64
        order = np.argsort(layout)  # the layout's rows, in the original order
        for r in range(3):  # ... and each equals the weighted AP by definition
            rows = order[w[r] > 0]  # (rows drawn 0 times are not there)
            want = AP.fn(y[rows], s[rows], w[r][w[r] > 0].astype(float))
            assert plain[r] == pytest.approx(want, abs=1e-12)


def test_poisson_path_at_50000_rows_is_deterministic() -> None:
    g = rng(14)
    n = 60_000
    y = (g.random(n) < 0.1).astype(np.int8)
    a, b = 1.3 * y + g.standard_normal(n), 1.2 * y + g.standard_normal(n)
    one = assess(AP, y, a, b, confidence=CONF, rng=rng(3), n_resamples=200)
    two = assess(AP, y, a, b, confidence=CONF, rng=rng(3), n_resamples=200)
    assert one == two and one.delta is not None
    assert one.delta.method.startswith("paired-poisson-bootstrap")


def test_ap_with_few_positives_is_the_expanded_percentile_of_a_row_bootstrap() -> None:
    """Under FEW_BELOW positives: the α′ = Φ(t_{α,k−1}·√(k/(k−1))) quantile of the paired
    replicates, which spread as a brute-force bootstrap of rows does."""
    g = rng(15)
    n = 600
    y = (g.random(n) < 0.08).astype(np.int8)
    a, b = 1.5 * y + g.standard_normal(n), 1.3 * y + g.standard_normal(n)
    k = int(y.sum())
    assert ap_stats.few(y) == k
    out = assess(AP, y, a, b, confidence=CONF, rng=rng(17), n_resamples=2000)
    assert out.delta is not None and out.delta.method == "paired-bootstrap-expanded-percentile"
    reps, jack, _, scheme = ap_stats.ap_bootstrap(y, [a, b], rng(17), 2000)
    assert jack is None and scheme == "bootstrap"
    level = sps.norm.cdf(sps.t.ppf(1 - CONF, k - 1) * math.sqrt(k / (k - 1)))
    assert level < 1 - CONF
    diff = reps[:, 0] - reps[:, 1]
    assert out.delta.lower == pytest.approx(np.percentile(diff, 100 * level), abs=1e-12)
    assert out.value.lower == pytest.approx(np.percentile(reps[:, 0], 100 * level), abs=1e-12)
    brute = []
    for _ in range(2000):
        rows = g.integers(0, n, size=n)
        brute.append(AP.fn(y[rows], a[rows]) - AP.fn(y[rows], b[rows]))
    assert diff.std() == pytest.approx(np.std(brute), rel=0.08)
    # from FEW_BELOW on: BCa, as before
    many = (g.random(4000) < 0.3).astype(np.int8)
    assert ap_stats.few(many) is None
    s1, s2 = 1.5 * many + g.standard_normal(4000), 1.3 * many + g.standard_normal(4000)
    d = assess(AP, many, s1, s2, confidence=CONF, rng=rng(18), n_resamples=300).delta
    assert d is not None and d.method == "paired-bootstrap-bca"


def test_true_ap_of_the_generator_matches_monte_carlo() -> None:
    from bench.sim.auc import AP_CHAMPION_MU, AP_PREVALENCE, true_ap

    g = rng(2024)
    n = 2_000_000
    y = (g.random(n) < AP_PREVALENCE).astype(np.int8)
    mc = AP.fn(y, AP_CHAMPION_MU * y + g.standard_normal(n))
    # SD of the AP of 200,000 positives here ≈ 0.0010 (the spread of smaller samples / √n)
    assert abs(mc - true_ap(AP_CHAMPION_MU, AP_PREVALENCE)) < 0.004
