"""CBPE (evalgate.stats.cbpe): performance estimated without labels from a reliability table.
Formulas against brute force; the bounds' coverage where calibration holds; refusals."""

from __future__ import annotations

import numpy as np
import pytest

from evalgate.errors import StatsError
from evalgate.stats.cbpe import ESTIMATED, Calibration, estimate, fit_calibration


def calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose every value is the true probability of a positive."""
    rng = np.random.default_rng(seed)
    score = rng.beta(0.7, 1.6, size=n)
    return (rng.random(n) < score).astype(int), score


def test_the_table_cuts_at_the_threshold_and_keeps_bins_large() -> None:
    y, score = calibrated(20_000, 0)
    cal = fit_calibration(y, score)
    assert 0.5 in cal.edges.tolist()
    assert cal.rows.sum() == 20_000 and cal.positives.sum() == y.sum()
    assert cal.rows.min() >= 100 and len(cal.rows) <= 50
    labelled_positive = np.flatnonzero(cal.edges == 0.5)[0] + 1
    b = cal.bin_of(score)
    assert ((b >= labelled_positive) == (score >= 0.5)).all()  # one label per bin
    assert cal.error < 0.02  # calibrated scores: a small calibration error
    assert Calibration.from_dict(cal.as_dict()).as_dict() == cal.as_dict()


def test_the_estimates_are_the_expected_confusion_matrix() -> None:
    """Each row a positive with its bin's rate: E[TP] = Σ rate·[labelled positive], …; ROC
    AUC with fractional labels, the rows of one bin tied (brute force over all pairs)."""
    y, score = calibrated(4_000, 1)
    cal = fit_calibration(y, score)
    batch = calibrated(600, 2)[1]
    p = cal.rate[cal.bin_of(batch)]
    lab = batch >= 0.5
    tp, fp = np.sum(p * lab), np.sum((1 - p) * lab)
    fn, tn = np.sum(p * ~lab), np.sum((1 - p) * ~lab)
    b = cal.bin_of(batch)
    above = (b[:, None] > b[None, :]) + 0.5 * (b[:, None] == b[None, :])
    auc = np.sum(p[:, None] * (1 - p[None, :]) * above) / (p.sum() * (1 - p).sum())
    want = {"accuracy": (tp + tn) / len(batch), "precision": tp / (tp + fp),
            "recall": tp / (tp + fn), "f1": 2 * tp / (2 * tp + fp + fn), "roc_auc": auc}
    rng = np.random.default_rng(0)
    for metric in ESTIMATED:
        found = estimate(metric, cal, batch, 0.95, rng, draws=500)
        assert found.estimate == pytest.approx(want[metric], rel=1e-9, abs=1e-12), metric
        assert found.lower < found.estimate < found.upper


@pytest.mark.parametrize("metric", ["accuracy", "f1", "roc_auc"])
def test_the_bounds_cover_the_realised_value_where_calibration_holds(metric: str) -> None:
    """200 trials, each a labelled sample fitting the table and a batch whose labels are drawn
    from the scores, bounded before its labels are seen: the realised value lies within each
    one-sided 95% bound about 95% of the time."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    rng = np.random.default_rng(4)
    below = above = 0
    for seed in range(200):
        cal = fit_calibration(*calibrated(8_000, 1000 + seed))
        yb, sb = calibrated(1_000, 100 + seed)
        found = estimate(metric, cal, sb, 0.95, rng, draws=1000)
        truth = (roc_auc_score(yb, sb) if metric == "roc_auc" else
                 (accuracy_score if metric == "accuracy" else f1_score)(yb, sb >= 0.5))
        below += truth < found.lower
        above += truth > found.upper
    assert below <= 20 and above <= 20  # nominal 10 each; 20 is beyond 3 standard errors
    assert below + above >= 8           # and not a vacuous interval


def test_what_cbpe_cannot_do_is_refused() -> None:
    y, score = calibrated(2_000, 5)
    cal = fit_calibration(y, score)
    rng = np.random.default_rng(0)
    with pytest.raises(StatsError, match="log_loss cannot be estimated without labels"):
        estimate("log_loss", cal, score, 0.95, rng)
    with pytest.raises(StatsError, match="finite score for every row"):
        estimate("accuracy", cal, np.array([0.2, np.nan]), 0.95, rng)
    with pytest.raises(StatsError, match="both classes"):
        fit_calibration(np.zeros(1000, dtype=int), score[:1000])
    bad = cal.as_dict()
    bad["positives"][0] = bad["rows"][0] + 1
    with pytest.raises(StatsError, match="malformed calibration"):
        Calibration.from_dict(bad)
    with pytest.raises(StatsError, match="malformed calibration"):
        Calibration.from_dict({"edges": [0.5]})


def test_no_labelled_score_above_the_threshold_leaves_that_side_without_a_bin() -> None:
    """A model that never scores 0.5 on the labelled rows: the table has no bin above the
    threshold (an empty bin's rate would be 0/0), and batch rows scored above it fall in the
    top bin below."""
    y, score = calibrated(3000, 6)
    score = score * 0.4
    cal = fit_calibration(y, score)
    assert 0.5 not in cal.edges.tolist() and (cal.rows > 0).all()
    found = estimate("accuracy", cal, np.array([0.1, 0.3, 0.7]), 0.95,
                     np.random.default_rng(0), draws=200)
    assert 0 <= found.lower <= found.estimate <= found.upper <= 1
