"""Paired comparisons that rest on discordant counts (docs/stats-paired.md).

- Tango's score interval of a difference of paired proportions (stats.proportions):
  checked against the published example of Fagerland, Lydersen & Laake (2014), an
  independent inversion of the score test (numerical maximum likelihood, root finding),
  statsmodels' McNemar test (the score statistic at Δ = 0), its closed form at b = c = 0,
  and its exact one-sided size.
- Confusion metrics: accuracy, TPR, TNR/FPR and selection rate by Tango's interval on their
  stratum's discordant counts, counted in that stratum's unit (positives, negatives); the
  others by the cell bootstrap capped by the Tango-based discordance floor.
- Flip rates (robustness ``max_flip_rate_increase``): identical models give Δ = 0 with a bound
  that depends on the rows alone.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import optimize, special
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from evalgate.data import Target
from evalgate.families import EvalContext
from evalgate.families.judge import Clauses
from evalgate.families.performance import check as performance
from evalgate.families.performance.spec import MetricCheck
from evalgate.families.robustness import common as rb
from evalgate.families.robustness.spec import Gates
from evalgate.metrics import get_metric
from evalgate.models.predictions import Predictions
from evalgate.spec import DataSpec, Suite, Threshold
from evalgate.stats import assess, newcombe_paired
from evalgate.stats.counts import TANGO_METHOD, CountInterval
from evalgate.stats.proportions import TANGO_CORRECTION, tango_bounds, tango_paired

CONF = 0.95
Z = float(special.ndtri(CONF))


def lower(b: float, c: float, n: float, conf: float = CONF, correction: float = 0.0) -> float:
    return float(tango_bounds(b, c, n, conf, correction=correction)[0])


# =========================================================================== Tango


def test_published_example_fagerland_2014() -> None:
    """Fagerland, Lydersen & Laake (2014, Stat. Med. 33:2850), Table V: airway
    hyper-responsiveness before and after stem-cell transplantation (Bentur et al. 2009),
    (a, b, c, d) = (1, 1, 7, 12): Tango's 95% interval (−0.517, −0.026)."""
    lo, hi = tango_bounds(1, 7, 21, 0.975, correction=0.0)  # two-sided 95% = 97.5% each side
    assert round(float(lo), 3) == -0.517 and round(float(hi), 3) == -0.026


def _score_by_optimisation(b: int, c: int, n: int, d0: float) -> float:
    """Tango's statistic at Δ = d0, its restricted maximum likelihood found numerically."""
    lo_p, hi_p = max(0.0, -d0), (1 - d0) / 2  # p_c with p_b = p_c + d0 and p_b + p_c ≤ 1

    def nll(p: float) -> float:
        pb, pc, rest = p + d0, p, 1 - 2 * p - d0
        return -(b * math.log(max(pb, 1e-300)) + c * math.log(max(pc, 1e-300))
                 + (n - b - c) * math.log(max(rest, 1e-300)))

    p = optimize.minimize_scalar(nll, bounds=(lo_p, hi_p), method="bounded",
                                 options={"xatol": 1e-13}).x
    return (b - c - n * d0) / math.sqrt(n * (2 * p + d0 * (1 - d0)))


@pytest.mark.parametrize(("b", "c", "n"), [(1, 7, 21), (6, 16, 161), (40, 20, 160), (0, 3, 50),
                                           (2, 0, 30), (12, 12, 500), (0, 9, 9)])
def test_tango_inverts_the_score_test(b: int, c: int, n: int) -> None:
    """An independent inversion: the restricted MLE by numerical optimisation and the root of
    Z(d0) = z by Brent's method give the same lower bound."""
    if c == n:
        assert lower(b, c, n) == -1.0
        return
    est = (b - c) / n
    want = optimize.brentq(lambda d0: _score_by_optimisation(b, c, n, d0) - Z, -1 + 1e-9, est,
                           xtol=1e-12)
    assert lower(b, c, n) == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("correction", [0.0, 1.0])
def test_the_bound_clears_zero_exactly_when_mcnemar_rejects(correction: float) -> None:
    """At Δ = 0 Tango's statistic is McNemar's (b − c)/√(b + c) (with the correction: Yates's
    |b − c| − 1), so the lower bound is above 0 iff statsmodels' McNemar test, one-sided,
    rejects at 1 − confidence."""
    for b in range(0, 40, 3):
        for c in range(0, 40, 4):
            if b + c == 0:
                continue
            res = mcnemar([[50, b], [c, 50]], exact=False, correction=bool(correction))
            rejects = b > c and res.statistic > Z * Z
            assert (lower(b, c, 200 + b + c, correction=correction) > 0) == rejects, (b, c)


@pytest.mark.parametrize("n", [20, 100, 1000, 16_281])
@pytest.mark.parametrize("gamma", [0.0, TANGO_CORRECTION])
def test_no_discordant_pair_has_a_closed_form(n: int, gamma: float) -> None:
    """b = c = 0: (n t − γ)² = z² n t (1 − t) at t = −L; without correction L = −z²/(n + z²)."""
    a, bq, cq = n * n + Z * Z * n, -(2 * n * gamma + Z * Z * n), gamma * gamma
    t = (-bq + math.sqrt(bq * bq - 4 * a * cq)) / (2 * a)
    assert lower(0, 0, n, correction=gamma) == pytest.approx(-t, rel=1e-9)
    if gamma == 0:
        assert t == pytest.approx(Z * Z / (n + Z * Z), rel=1e-12)


def test_vectorised_symmetric_and_monotone() -> None:
    b = np.array([[0.0], [3.0], [10.0]])
    c = np.array([0.0, 2.0, 7.0, 30.0])
    lo, hi = tango_bounds(b, c, 200.0, CONF)
    assert lo.shape == hi.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert lo[i, j] == lower(b[i, 0], c[j], 200, correction=TANGO_CORRECTION)
            assert hi[i, j] == pytest.approx(-lower(c[j], b[i, 0], 200,
                                                    correction=TANGO_CORRECTION), abs=1e-15)
            assert lo[i, j] <= (b[i, 0] - c[j]) / 200 <= hi[i, j]
    assert (np.diff(lo, axis=0) > 0).all() and (np.diff(lo, axis=1) < 0).all()
    assert lower(3, 9, 100, 0.99) < lower(3, 9, 100, 0.95) < lower(3, 9, 100, 0.8)
    assert tango_bounds(0, 0, 0, CONF) == (-1.0, 1.0)  # no pair: nothing known


def _exact_size(n: int, p_b: float, p_c: float, margin: float, correction: float) -> float:
    """P(lower bound ≥ −margin) under a trinomial (b, c, rest) with the given shares."""
    k = min(n, int(n * (p_b + p_c) * 8 + 40)) + 1
    b, c = np.arange(k)[:, None], np.arange(k)[None, :]
    prob = np.nan_to_num(sps.binom.pmf(b, n, p_b) * sps.binom.pmf(c, n - b, p_c / (1 - p_b)))
    low, _ = tango_bounds(b, c, n, CONF, correction=correction)
    return float((prob * (b + c <= n) * (low >= -margin)).sum())


@pytest.mark.parametrize(("n", "discordant", "share"),
                         [(2000, 5, 0.25), (2000, 10, 0.25), (2000, 15, 0.25), (2000, 3, 0.0),
                          (1000, 2.75, 0.005), (300, 2.75, 0.005), (50, 4.25, 0.0005),
                          (100, 10, 0.5), (20, 5, 0.0)])
def test_exact_one_sided_size_at_delta_minus_m(n: int, discordant: float, share: float) -> None:
    """At a true Δ = −m (the candidate right on ``share`` of the discordant pairs) the bound
    clears −m in at most ~5% of samples, computed exactly over every (b, c)."""
    s = discordant / n
    p_b, p_c = s * share, s * (1 - share)
    assert _exact_size(n, p_b, p_c, p_c - p_b, TANGO_CORRECTION) <= 0.052


def test_plain_tango_is_liberal_where_discordance_goes_one_way() -> None:
    """Why the correction: with about three discordant pairs, all against the candidate, the
    uncorrected bound passes a model worse by the margin in 6.5% of samples."""
    p_b, p_c = 2.75 / 1000 * 0.005, 2.75 / 1000 * 0.995
    assert _exact_size(1000, p_b, p_c, p_c - p_b, 0.0) > 0.064
    assert _exact_size(1000, p_b, p_c, p_c - p_b, TANGO_CORRECTION) < 0.05


# =========================================================================== confusion metrics


def _rows(seed: int, n: int, prevalence: float, only_cand: float, only_champ: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    y = (g.random(n) < prevalence).astype(np.int8)
    base = np.where(g.random(n) < 0.85, y, 1 - y)
    u = g.random(n)
    cand = np.where(u < only_champ, 1 - y, np.where(u > 1 - only_cand, y, base))
    champ = np.where(u > 1 - only_cand, 1 - y, np.where(u < only_champ, y, base))
    return y, cand.astype(np.int8), champ.astype(np.int8)


def _delta(name: str, y: np.ndarray, cand: np.ndarray, champ: np.ndarray) -> CountInterval:
    d = assess(get_metric(name, "binary"), y, cand, champ, confidence=CONF,
               rng=np.random.default_rng(0), n_resamples=300).delta
    assert isinstance(d, CountInterval)
    return d


@pytest.mark.parametrize(("name", "stratum", "unit"),
                         [("accuracy", None, "rows"), ("recall", 1, "positives"),
                          ("true_positive_rate", 1, "positives"),
                          ("false_negative_rate", 1, "positives"),
                          ("specificity", 0, "negatives"), ("false_positive_rate", 0, "negatives"),
                          ("true_negative_rate", 0, "negatives")])
def test_rates_are_tango_on_their_stratum(name: str, stratum: int | None, unit: str) -> None:
    y, cand, champ = _rows(1, 3000, 0.2, 0.01, 0.02)
    rows = np.ones(len(y), bool) if stratum is None else y == stratum
    ra, rb_ = (cand == y) & rows, (champ == y) & rows
    b, c, n = int(np.sum(ra & ~rb_)), int(np.sum(~ra & rb_)), int(rows.sum())
    d = _delta(name, y, cand, champ)
    assert d.method == TANGO_METHOD and d.unit == unit and d.n == n
    assert d.estimate == pytest.approx((b - c) / n, abs=1e-12)
    assert d.lower == lower(b, c, n, correction=TANGO_CORRECTION)
    assert d.se == pytest.approx(math.sqrt(b + c - (b - c) ** 2 / n) / n)


def test_multiclass_accuracy_counts_right_rows_only() -> None:
    g = np.random.default_rng(3)
    y = g.integers(0, 3, 600)
    cand = np.where(g.random(600) < 0.8, y, (y + 1) % 3)
    champ = np.where(g.random(600) < 0.8, y, (y + 2) % 3)  # both wrong, differently: no b/c
    b, c = int(np.sum((cand == y) & (champ != y))), int(np.sum((cand != y) & (champ == y)))
    for name in ("accuracy", "recall_weighted"):
        d = assess(get_metric(name, "multiclass"), y, cand, champ, confidence=CONF,
                   rng=np.random.default_rng(0), n_resamples=200).delta
        assert d is not None and d.method == TANGO_METHOD
        assert d.lower == lower(b, c, 600, correction=TANGO_CORRECTION)


def test_precision_counts_predicted_positives() -> None:
    y, cand, champ = _rows(2, 3000, 0.2, 0.01, 0.01)
    d = _delta("precision", y, cand, champ)
    assert d.unit == "predicted positives"
    assert d.n == int(np.sum((cand == 1) | (champ == 1)))
    assert d.method.startswith("bootstrap-cells")


@pytest.mark.parametrize("name", ["f1", "precision", "balanced_accuracy", "matthews_corrcoef",
                                  "cohen_kappa"])
def test_agreeing_rows_are_floored_by_tango(name: str) -> None:
    """No discordant row: the bootstrap is 0 in every replicate; the Tango floor is below."""
    y, cand, _ = _rows(4, 20, 0.5, 0.0, 0.0)
    d = _delta(name, y, cand, cand.copy())
    assert d.estimate == 0.0 and d.lower is not None
    assert d.method == "bootstrap-cells-percentile+discordance-floor"
    assert -1 < d.lower <= lower(0, 0, 20, correction=TANGO_CORRECTION) / 2


def test_a_class_absent_from_the_rows_bounds_nothing() -> None:
    """f1 on rows without one positive is 0 for any model: no comparison can pass."""
    y = np.zeros(40, np.int8)
    pred = (np.arange(40) % 5 == 0).astype(np.int8)
    d = _delta("f1", y, pred, pred.copy())
    assert d.estimate == 0 and d.lower == -1.0 and d.method.endswith("+absent-class")
    assert _delta("accuracy", y, pred, pred.copy()).lower == lower(0, 0, 40, correction=0.25)


def test_agreeing_rows_twenty_inconclusive_sixteen_thousand_pass() -> None:
    for n, resolved in ((20, False), (16_281, True)):
        y, cand, _ = _rows(5, n, 0.3, 0.0, 0.0)
        for name in ("accuracy", "recall", "f1"):
            d = _delta(name, y, cand, cand.copy())
            assert d.estimate == 0.0 and d.lower is not None and d.lower < 0
            assert (d.lower >= -0.01) == resolved, (name, n, d.lower)


def test_rows_to_resolve_counts_the_stratum_at_its_scaling() -> None:
    """No discordant positive among 300: the bound grows as 1/n, not 1/√n; the answer is the
    positives at which Tango's bound reaches −m (to the search's 0.2%, rounded up)."""
    y, cand, _ = _rows(6, 1000, 0.3, 0.0, 0.0)
    d = _delta("recall", y, cand, cand.copy())
    need = d.rows_to_resolve(0.01)
    assert need is not None and need > d.n
    exact = optimize.brentq(lambda m: lower(0, 0, m, correction=TANGO_CORRECTION) + 0.01,
                            d.n, 1e7)
    assert exact <= need <= exact * 1.002 + 1
    assert d.rows_to_resolve(0.0) is None  # Δ̂ = 0 never clears a zero margin


def _suite(*checks: MetricCheck) -> Suite:
    return Suite(name="paired", path=Path("paired.yaml"), sha256="0" * 64, task="binary",
                 data=DataSpec(path=Path("p.csv"), target="y", positive_label=1,
                               sensitive=(), features=None, line=3),
                 champion="champion.onnx", champion_line=8, confidence=CONF, seed=0,
                 n_resamples=300, families={"performance": tuple(checks)})


def test_the_check_names_the_unit_and_its_count() -> None:
    y, cand, _ = _rows(7, 1000, 0.3, 0.0, 0.0)
    p = cand.astype(float) * 0.6 + 0.2
    ctx = EvalContext(suite=_suite(), target=Target(y=y, classes=(0, 1)),
                      candidate=Predictions(label=cand, score=p),
                      champion=Predictions(label=cand.copy(), score=p.copy()))
    check = MetricCheck("recall", Threshold(max_regression=0.005), True, 10)
    r = performance.evaluate(ctx, check)
    positives = int(y.sum())
    assert r.status == "fail" and "inconclusive" in r.message
    assert f"over {positives:,} positives" in r.message
    need = r.details.rows_to_resolve_max_regression
    assert need is not None and f"about {need:,} positives would resolve it" in r.message
    assert r.method == TANGO_METHOD


# =========================================================================== flips


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.5])
def test_identical_flips_depend_on_the_rows_alone(rate: float) -> None:
    flips = np.arange(100) < 100 * rate
    p = tango_paired(flips, flips.copy(), CONF)
    assert p.estimate == 0.0 and p.only_candidate == p.only_champion == 0
    assert p.lower == lower(0, 0, 100, correction=TANGO_CORRECTION)
    assert p.upper == -p.lower
    if rate == 0.5:  # Newcombe's bound follows the flip rate: exactly 0 at one half
        assert newcombe_paired(flips, flips.copy(), CONF).lower == 0.0 < -p.lower


def test_tango_paired_counts_and_orients_like_newcombe() -> None:
    g = np.random.default_rng(9)
    cand, champ = g.random(500) < 0.1, g.random(500) < 0.06
    t, nc = tango_paired(cand, champ, CONF), newcombe_paired(cand, champ, CONF)
    assert (t.n, t.both, t.only_candidate, t.only_champion) == (
        nc.n, nc.both, nc.only_candidate, nc.only_champion)
    assert t.estimate == pytest.approx(nc.estimate) and t.estimate < 0
    assert t.lower == lower(t.only_champion, t.only_candidate, 500, correction=0.25)


def _flip_check(n: int, margin: float) -> tuple[Clauses, object]:
    flips = np.random.default_rng(10).random(n) < 0.05
    suite = SimpleNamespace(confidence=CONF, task="binary", by_bound=False)
    ctx = SimpleNamespace(suite=suite, champion=object(), no_champion_reason="")
    gates = Gates(max_flip_rate=None, max_flip_rate_increase=margin)
    clauses = Clauses()
    details, _ = rb.flip_gates(ctx, gates, flips, flips.copy(), "noise", clauses)  # type: ignore[arg-type]
    return clauses, details


def test_identical_models_flip_check_inconclusive_then_pass() -> None:
    clauses, details = _flip_check(100, 0.01)
    assert clauses.inconclusive and "inconclusive" in clauses.fails[0]
    need = details.rows_to_resolve_max_flip_rate_increase  # type: ignore[attr-defined]
    assert need is not None and f"about {need:,} rows would resolve it" in clauses.fails[0]
    assert lower(0, 0, need, correction=TANGO_CORRECTION) >= -0.01
    assert lower(0, 0, need * 0.99, correction=TANGO_CORRECTION) < -0.01
    clauses, details = _flip_check(need, 0.01)
    assert not clauses.failed and clauses.passes
    assert details.delta_method == rb.PAIRED_METHOD == TANGO_METHOD  # type: ignore[attr-defined]
