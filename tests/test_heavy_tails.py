"""Heavy tails of mean metrics (docs/stats-tails.md): the diagnostic that chooses between the t
interval and the bootstrap, the tail-exact bootstrap against the row bootstrap it stands for,
the confident-wrong count of log loss, and what the performance check records."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps

from evalgate.data import Target
from evalgate.families import EvalContext
from evalgate.families.performance import check as performance
from evalgate.families.performance.details import PerformanceDetails
from evalgate.families.performance.spec import MetricCheck
from evalgate.metrics import get_metric
from evalgate.models.predictions import Predictions
from evalgate.spec import DataSpec, Suite, Threshold
from evalgate.stats import ASYMPTOTIC_MIN_ROWS, assess
from evalgate.stats.bootstrap import resampled_means, tail_resampled_means
from evalgate.stats.intervals import bootstrap_interval
from evalgate.stats.tails import (
    CONFIDENT_WRONG_LOSS,
    T_ERROR_SHARE,
    MeanAssessment,
    confident_wrong,
    diagnose,
    edgeworth_factor,
    exact_rows,
    skewness_of_mean,
)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

from sim import tails as sim_tails  # noqa: E402

CONF = 0.95
N = ASYMPTOTIC_MIN_ROWS


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# =========================================================================== the diagnostic


def test_skewness_of_mean_is_the_sample_skewness_over_root_n() -> None:
    x = rng(1).lognormal(size=5000)
    g, effective = skewness_of_mean(x)
    assert g == pytest.approx(sps.skew(x) / math.sqrt(len(x)), rel=1e-10)
    # excess kurtosis over n plus 3/n: (Σe²)²/Σe⁴ = n / (kurtosis + 3)
    assert effective == pytest.approx(len(x) / (sps.kurtosis(x) + 3), rel=1e-10)
    assert skewness_of_mean(-x)[0] == pytest.approx(-g, rel=1e-12)


def test_skewness_of_mean_stays_finite_for_huge_and_constant_values() -> None:
    x = np.r_[np.zeros(999), 1e90]
    g, effective = skewness_of_mean(x)
    assert math.isfinite(g) and g == pytest.approx(skewness_of_mean(np.r_[np.zeros(999), 1])[0])
    assert effective == pytest.approx(1.0, rel=3e-3)  # one row carries the variance
    assert skewness_of_mean(np.full(10, 3.0)) == (0.0, 10.0)


def test_edgeworth_factor_and_the_threshold() -> None:
    z = sps.norm.ppf(0.95)
    assert edgeworth_factor(0.95) == pytest.approx(sps.norm.pdf(z) * (2 * z * z + 1) / 6)
    assert edgeworth_factor(0.95) == pytest.approx(0.1102, abs=1e-4)
    # a tail whose mean's skewness is 0.02 passes at 95% (0.22 points), 0.03 does not
    assert T_ERROR_SHARE * 0.05 / edgeworth_factor(0.95) == pytest.approx(0.0227, abs=1e-4)
    assert not diagnose(_with_skewness(0.02), 0.95).heavy
    assert diagnose(_with_skewness(0.03), 0.95).heavy
    assert diagnose(_with_skewness(0.02), 0.99).heavy  # a stricter level, a stricter line


def _with_skewness(target: float) -> np.ndarray:
    """50,000 rows whose mean has skewness ``target`` (a normal bulk and a few shifted rows)."""
    x = rng(3).standard_normal(N)
    lo, hi = 0.0, 50.0
    for _ in range(80):  # bisect the size of 20 shifted rows
        mid = (lo + hi) / 2
        y = x.copy()
        y[:20] += mid
        lo, hi = (mid, hi) if skewness_of_mean(y)[0] < target else (lo, mid)
    y = x.copy()
    y[:20] += lo
    return y


# =========================================================================== the method chosen


def _confident_wrong(n: int, q: float, seed: int) -> tuple[np.ndarray, ...]:
    return sim_tails.confident_wrong("log_loss", q, 0.01).draw(rng(seed), n)


def test_a_handful_of_confident_wrong_rows_keeps_the_bootstrap_past_50000_rows() -> None:
    """The audit's regime (about five confident-wrong rows of the candidate in 50,000): the
    paired t passed this truly worse candidate (Δ = −0.01); the tail decides, the bootstrap
    runs, and it does not."""
    m = get_metric("log_loss", "binary")
    y, cand, champ = _confident_wrong(N, 1e-4, seed=1)
    assert m.per_row is not None
    d = m.per_row(y, champ) - m.per_row(y, cand)
    t_lower = d.mean() - sps.t.ppf(CONF, N - 1) * d.std(ddof=1) / math.sqrt(N)
    assert t_lower >= -0.01  # what n alone chose: a false pass
    a = assess(m, y, cand, champ, confidence=CONF, rng=rng(0), n_resamples=2000)
    assert isinstance(a, MeanAssessment) and a.tail is not None
    assert a.tail.heavy and a.tail.skewness < -0.1 and a.tail.effective_rows < 20
    assert a.delta is not None and a.delta.lower is not None
    assert a.delta.method == "paired-tail-bootstrap-bca"
    assert a.delta.lower < -0.01
    assert a.exact_rows is not None and 1024 <= a.exact_rows < N // 2


def test_well_behaved_rows_keep_the_fast_path() -> None:
    gen = sim_tails._control("log_loss", 0.01)
    d = gen.draw(rng(4), N)
    m = get_metric("log_loss", "binary")
    a = assess(m, d["y"], d["cand_proba"], d["champ_proba"], confidence=CONF, rng=rng(0),
               n_resamples=2000)
    assert isinstance(a, MeanAssessment) and a.tail is not None and not a.tail.heavy
    assert a.delta is not None and a.delta.method == "paired-t"
    assert a.value.method == "t" and a.exact_rows is None


def test_below_50000_rows_the_bootstrap_is_unchanged() -> None:
    """Below ASYMPTOTIC_MIN_ROWS the exact row bootstrap runs, heavy tail or not, and the
    diagnostic is only recorded."""
    m = get_metric("log_loss", "binary")
    y, cand, champ = _confident_wrong(N - 1, 1e-4, seed=1)
    a = assess(m, y, cand, champ, confidence=CONF, rng=rng(0), n_resamples=300)
    assert isinstance(a, MeanAssessment) and a.tail is not None and a.tail.heavy
    assert a.delta is not None and a.delta.method == "paired-bootstrap-bca"
    assert a.exact_rows is None


@pytest.mark.parametrize("metric", ["rmse", "r2", "mae"])
def test_regression_gross_errors_go_to_the_bootstrap(metric: str) -> None:
    ge = sim_tails.gross_errors("rmse" if metric == "r2" else metric, 1e-4, 50.0, 0.01)
    y, cand, champ = ge.draw(rng(5), N)
    m = get_metric(metric, "regression")
    a = assess(m, y, cand, champ, confidence=CONF, rng=rng(0), n_resamples=1000)
    assert isinstance(a, MeanAssessment) and a.tail is not None and a.tail.heavy
    assert a.delta is not None and a.delta.method == "paired-tail-bootstrap-bca"
    assert a.value.method == "tail-bootstrap-bca"
    # without gross errors: the delta method / t, as before
    clean = sim_tails.GrossErrors(0.9, 0.0, 0.0)
    y, cand, champ = clean.draw(rng(5), N)
    b = assess(m, y, cand, champ, confidence=CONF, rng=rng(0), n_resamples=1000)
    assert b.delta is not None
    assert b.delta.method == ("paired-t" if metric == "mae" else "delta-method")


def test_a_tail_too_broad_for_the_split_resamples_every_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no bulk of at least half the rows is near enough to normal (here: forced, by
    allowing fewer exact rows than the least tried), every row is resampled — the plain row
    bootstrap."""
    from evalgate.stats import tails

    monkeypatch.setattr(tails, "EXACT_ROWS_MAX", tails.EXACT_ROWS_MIN // 2)
    m = get_metric("log_loss", "binary")
    y, cand, champ = _confident_wrong(N, 1e-4, seed=1)
    a = assess(m, y, cand, champ, confidence=CONF, rng=rng(0), n_resamples=100)
    assert a.delta is not None and a.delta.method == "paired-bootstrap-bca"
    assert isinstance(a, MeanAssessment) and a.exact_rows == N


def test_the_bulk_left_is_near_normal_relative_to_the_whole() -> None:
    """Removing the rows farthest from the mean leaves a bulk whose third moment is a tiny
    share of the whole column's variance, even for an infinite-variance tail."""
    g = rng(6)
    for alpha in (1.2, 2.5):
        d = -g.pareto(alpha, N) + 0.1 * g.standard_normal(N)
        rows = exact_rows(d, CONF)
        assert rows is not None and len(rows) >= 1024
        bulk = np.ones(N, dtype=bool)
        bulk[rows] = False
        e = d - d.mean()
        rest = d[bulk] - d[bulk].mean()
        share = abs(float(np.sum(rest**3))) / float(np.sum(e**2)) ** 1.5
        assert edgeworth_factor(CONF) * share <= 0.01 * (1 - CONF)


def test_the_method_is_deterministic_and_blind_to_row_order() -> None:
    m = get_metric("log_loss", "binary")
    y, cand, champ = _confident_wrong(N, 1e-4, seed=7)
    first = assess(m, y, cand, champ, confidence=CONF, rng=rng(9), n_resamples=500)
    again = assess(m, y, cand, champ, confidence=CONF, rng=rng(9), n_resamples=500)
    assert first == again
    d = m.per_row(y, champ) - m.per_row(y, cand)  # type: ignore[misc]
    perm = rng(1).permutation(N)
    assert set(perm[exact_rows(d[perm], CONF)]) == set(exact_rows(d, CONF))  # type: ignore[index, arg-type]


# =========================================================================== tail-exact bootstrap


def test_tail_exact_bootstrap_matches_the_row_bootstrap() -> None:
    """The replicate means of the tail-exact bootstrap and of the row bootstrap (20,000 each)
    on 10,000 rows whose mean rests on a few extreme rows: quantiles within Monte Carlo error,
    and the BCa lower bounds within 0.15 bootstrap SE."""
    g = rng(11)
    n = 10_000
    d = 0.02 * g.standard_normal(n) + 0.003
    d[g.random(n) < 1e-3] -= 20.0  # about ten extreme rows
    tail = np.argsort(-np.abs(d - d.mean()), kind="stable")[:1024]
    b = 20_000
    exact = resampled_means(rng(1), d[:, None], b)[:, 0]
    split = tail_resampled_means(rng(2), d[:, None], np.sort(tail), b)[:, 0]
    se = float(exact.std())
    assert float(split.std()) == pytest.approx(se, rel=0.03)
    for p in (0.01, 0.05, 0.5, 0.95):
        assert abs(np.quantile(split, p) - np.quantile(exact, p)) < 0.06 * se, p
    jack = (d.sum() - d) / (n - 1)

    def lower(reps: np.ndarray) -> float:
        bound = bootstrap_interval(float(d.mean()), reps, jack, None, CONF, True, "x", n).lower
        assert bound is not None
        return bound

    assert abs(lower(split) - lower(exact)) < 0.15 * se


def test_tail_exact_bootstrap_keeps_the_pairing_of_columns() -> None:
    """Several columns resampled together: the bulk's normal draw has their covariance."""
    g = rng(12)
    n = 8000
    a = g.standard_normal(n)
    cols = np.column_stack([a, 0.8 * a + 0.6 * g.standard_normal(n)])
    cols[:5, 0] += 30.0
    tail = np.argsort(-np.abs(cols[:, 0] - cols[:, 0].mean()), kind="stable")[:1024]
    reps = tail_resampled_means(rng(3), cols, np.sort(tail), 20_000)
    ref = resampled_means(rng(4), cols, 20_000)
    assert np.corrcoef(reps.T)[0, 1] == pytest.approx(np.corrcoef(ref.T)[0, 1], abs=0.02)
    assert reps.mean(axis=0) == pytest.approx(cols.mean(axis=0), abs=3 * ref.std(axis=0).max())


# =========================================================================== confident-wrong rows


def test_confident_wrong_counts_rows_whose_true_class_got_below_one_percent() -> None:
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.005, 0.5, 0.995, 0.2, 0.0, 1.0])
    assert confident_wrong(get_metric("log_loss", "binary"), y, p) == 4
    assert CONFIDENT_WRONG_LOSS == pytest.approx(-math.log(0.01))
    yk = np.array([0, 1, 2])
    pk = np.array([[0.009, 0.5, 0.491], [0.2, 0.7, 0.1], [0.5, 0.495, 0.005]])
    assert confident_wrong(get_metric("log_loss", "multiclass"), yk, pk) == 2
    assert confident_wrong(get_metric("brier_score", "binary"), y, p) is None


def _suite(*checks: MetricCheck) -> Suite:
    return Suite(name="tails", path=Path("tails.yaml"), sha256="0" * 64, task="binary",
                 data=DataSpec(path=Path("t.csv"), target="y", positive_label=1,
                               sensitive=(), features=None, line=3),
                 champion="champion.onnx", champion_line=8, confidence=CONF, seed=0,
                 n_resamples=500, families={"performance": tuple(checks)})


def _run(y: np.ndarray, cand: np.ndarray, champ: np.ndarray | None,
         *checks: MetricCheck) -> dict[str, object]:
    def preds(p: np.ndarray) -> Predictions:
        return Predictions(label=(p >= 0.5).astype(np.int8), score=p)

    ctx = EvalContext(suite=_suite(*checks), target=Target(y=y, classes=(0, 1)),
                      candidate=preds(cand), champion=None if champ is None else preds(champ))
    return {r.name: r for r in performance.run(ctx, performance.plan(ctx.suite))}


def test_the_check_reports_the_tail_and_the_confident_wrong_rows() -> None:
    y, cand, champ = _confident_wrong(N, 1e-4, seed=1)
    checks = [MetricCheck("log_loss", Threshold(max_regression=0.01), True, 10),
              MetricCheck("brier_score", Threshold(max_regression=0.01), True, 11)]
    results = _run(y, cand, champ, *checks)
    ll = results["log_loss"]
    det = ll.details  # type: ignore[attr-defined]
    assert isinstance(det, PerformanceDetails) and det.tail is not None
    assert det.tail.heavy and det.tail.exact_rows is not None
    assert ll.method == "paired-tail-bootstrap-bca"  # type: ignore[attr-defined]
    m = get_metric("log_loss", "binary")
    cw = det.confident_wrong
    assert cw is not None and cw.loss_above == pytest.approx(-math.log(0.01))
    assert cw.candidate == confident_wrong(m, y, cand)
    assert cw.champion == confident_wrong(m, y, champ)
    message = ll.message  # type: ignore[attr-defined]
    assert f"candidate {cw.candidate:,}, champion {cw.champion:,}" in message
    assert "confident-wrong rows (true class given < 1%" in message
    assert "heavy tail" in message and "the bootstrap decided" in message
    assert ll.status == "fail"  # type: ignore[attr-defined]
    # typed details round-trip through verdict.json
    again = PerformanceDetails.from_dict(det.to_dict())
    assert again == det
    brier = results["brier_score"].details  # type: ignore[attr-defined]
    assert brier.confident_wrong is None and "confident_wrong" not in brier.to_dict()


def test_without_a_champion_the_candidates_count_is_reported() -> None:
    g = rng(3)
    y = (g.random(400) < 0.4).astype(np.int8)
    p = special.expit(2.0 * (y - 0.5) + g.standard_normal(400))
    p[:3] = 1 - y[:3]  # three rows certain of the wrong class
    [r] = _run(y, p, None, MetricCheck("log_loss", Threshold(max=5.0), True, 10)).values()
    det = r.details  # type: ignore[attr-defined]
    assert det.confident_wrong.candidate >= 3 and det.confident_wrong.champion is None
    assert "confident-wrong rows" in r.message and "champion" not in r.message.split(  # type: ignore[attr-defined]
        "confident-wrong")[1]
    assert det.tail is not None  # the candidate's own rows


# =========================================================================== the generators


@pytest.mark.parametrize(("metric", "task"), [("log_loss", "binary"), ("brier_score", "binary"),
                                              ("mae", "regression"), ("rmse", "regression")])
def test_simulation_truths(metric: str, task: str) -> None:
    """bench/sim/tails.py's exact Δ against one sample of 2,000,000 rows (4 standard errors),
    with ten times its share of extreme rows so that the sample holds many of them."""
    if metric in ("log_loss", "brier_score"):
        gen: sim_tails.ConfidentWrong | sim_tails.GrossErrors = sim_tails.confident_wrong(
            metric, 2e-3, 0.01)
    else:
        gen = sim_tails.gross_errors(metric, 1e-3, 20.0, 0.01)
    assert gen.truth(metric) == pytest.approx(-0.01, abs=1e-12)
    y, cand, champ = gen.draw(rng(2024), 2_000_000)
    m = get_metric(metric, task)  # type: ignore[arg-type]
    assert m.per_row is not None
    la, lb = m.per_row(y, cand), m.per_row(y, champ)
    if metric == "rmse":
        ta, tb = math.sqrt(la.mean()), math.sqrt(lb.mean())
        est, psi = tb - ta, lb / (2 * tb) - la / (2 * ta)
    else:
        est, psi = float(np.mean(lb - la)), lb - la
    assert abs(est - gen.truth(metric)) < 4 * psi.std() / math.sqrt(len(y))
