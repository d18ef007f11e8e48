"""Metric values against scikit-learn, and the registry's contract."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from evalgate.metrics import (
    RATE_CELLS,
    REGISTRY,
    TASKS,
    UnknownMetricError,
    confusion,
    get_metric,
    metric_names,
    rate_metrics,
)


def _binary(seed: int, n: int = 400, ties: bool = False) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.int8)
    score = 1 / (1 + np.exp(-(1.3 * y + rng.standard_normal(n) - 0.8)))
    if ties:
        score = np.round(score, 1)
    label = (score >= 0.5).astype(np.int8)
    return y, label, score


def _multiclass(seed: int, n: int = 500, k: int = 4) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    logits = rng.standard_normal((n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    label = proba.argmax(axis=1)
    return y, label, proba


def _regression(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(3.0, 2.0, size=n)
    # MAPE's guard against |y| ≈ 0 (a target of exactly 0 is refused: see
    # test_mape_refuses_a_target_of_zero)
    y[:3] = [1e-300, 1e-20, -0.5]
    pred = y + rng.normal(0.2, 1.0, size=n)
    return y, pred


def quiet(f: Callable[..., Any], *args: Any) -> float:
    """A scikit-learn reference value, its warnings (e.g. a class never predicted) silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(f(*args))


BINARY_LABEL = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "precision": lambda y, p: skm.precision_score(y, p, zero_division=0),
    "recall": lambda y, p: skm.recall_score(y, p, zero_division=0),
    "f1": lambda y, p: skm.f1_score(y, p, zero_division=0),
    "specificity": lambda y, p: skm.recall_score(y, p, pos_label=0, zero_division=0),
    "true_positive_rate": lambda y, p: skm.recall_score(y, p, zero_division=0),
    "true_negative_rate": lambda y, p: skm.recall_score(y, p, pos_label=0, zero_division=0),
    "false_positive_rate": lambda y, p: 1 - skm.recall_score(y, p, pos_label=0),
    "false_negative_rate": lambda y, p: 1 - skm.recall_score(y, p),
    "selection_rate": lambda y, p: float(np.mean(p == 1)),
    "matthews_corrcoef": skm.matthews_corrcoef,
    "cohen_kappa": skm.cohen_kappa_score,
}
BINARY_SCORE = {
    "log_loss": lambda y, s: skm.log_loss(y, s, labels=[0, 1]),
    "brier_score": skm.brier_score_loss,
    "roc_auc": skm.roc_auc_score,
    "average_precision": skm.average_precision_score,
}
MULTICLASS_LABEL = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "f1_macro": lambda y, p: skm.f1_score(y, p, average="macro", zero_division=0),
    "f1_weighted": lambda y, p: skm.f1_score(y, p, average="weighted", zero_division=0),
    "precision_macro": lambda y, p: skm.precision_score(y, p, average="macro", zero_division=0),
    "precision_weighted": lambda y, p: skm.precision_score(y, p, average="weighted",
                                                           zero_division=0),
    "recall_macro": lambda y, p: skm.recall_score(y, p, average="macro", zero_division=0),
    "recall_weighted": lambda y, p: skm.recall_score(y, p, average="weighted", zero_division=0),
    "matthews_corrcoef": skm.matthews_corrcoef,
    "cohen_kappa": skm.cohen_kappa_score,
}
MULTICLASS_SCORE = {
    "log_loss": lambda y, p: skm.log_loss(y, p, labels=np.arange(p.shape[1])),
    "roc_auc": lambda y, p: skm.roc_auc_score(y, p, multi_class="ovr", average="macro"),
    "brier_score": lambda y, p: skm.brier_score_loss(y, p, labels=np.arange(p.shape[1])),
}
REGRESSION = {
    "mae": skm.mean_absolute_error,
    "mse": skm.mean_squared_error,
    "rmse": skm.root_mean_squared_error,
    "r2": skm.r2_score,
    "mape": skm.mean_absolute_percentage_error,
    "median_absolute_error": skm.median_absolute_error,
}


def test_every_registered_metric_has_a_reference_here() -> None:
    covered = {
        "binary": set(BINARY_LABEL) | set(BINARY_SCORE),
        "multiclass": set(MULTICLASS_LABEL) | set(MULTICLASS_SCORE),
        "regression": set(REGRESSION),
    }
    for task in TASKS:
        assert set(metric_names(task)) == covered[task], task


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(BINARY_LABEL))
def test_binary_label_metrics_equal_sklearn(name: str, seed: int) -> None:
    y, label, _ = _binary(seed)
    m = get_metric(name, "binary")
    assert m.needs == "label" and m.kind == "confusion"
    assert m.fn(y, label) == pytest.approx(quiet(BINARY_LABEL[name], y, label), abs=1e-12)
    # the vectorised table function gives the same value on a stack of tables
    tables = np.stack([confusion(y, label, 2), confusion(y, 1 - label, 2)])
    assert m.from_confusion is not None
    want = [quiet(BINARY_LABEL[name], y, label), quiet(BINARY_LABEL[name], y, 1 - label)]
    np.testing.assert_allclose(m.from_confusion(tables), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["precision", "recall", "f1", "matthews_corrcoef",
                                  "cohen_kappa", "balanced_accuracy"])
def test_binary_label_metrics_degenerate_predictions(name: str) -> None:
    """Constant predictions: zero denominators give scikit-learn's zero_division=0 values."""
    y, _, _ = _binary(3)
    for label in (np.zeros_like(y), np.ones_like(y)):
        want = quiet(BINARY_LABEL[name], y, label)
        assert get_metric(name, "binary").fn(y, label) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(BINARY_SCORE))
def test_binary_score_metrics_equal_sklearn(name: str, seed: int, ties: bool) -> None:
    y, _, score = _binary(seed, ties=ties)
    assert get_metric(name, "binary").fn(y, score) == pytest.approx(
        quiet(BINARY_SCORE[name], y, score), rel=1e-12, abs=1e-12)


def test_binary_log_loss_clips_certain_mistakes_like_sklearn() -> None:
    y = np.array([1, 0, 1, 0, 1])
    s = np.array([0.0, 1.0, 1.0, 0.0, 0.7])
    assert np.isfinite(get_metric("log_loss", "binary").fn(y, s))
    assert get_metric("log_loss", "binary").fn(y, s) == pytest.approx(
        skm.log_loss(y, s), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(MULTICLASS_LABEL))
def test_multiclass_label_metrics_equal_sklearn(name: str, seed: int) -> None:
    y, label, _ = _multiclass(seed)
    # a class that is never predicted and one that is never true: the averaging sets differ
    label = np.where(label == 3, 2, label)
    y2 = np.where(y == 0, 1, y)
    for yy in (y, y2):
        assert get_metric(name, "multiclass").fn(yy, label) == pytest.approx(
            quiet(MULTICLASS_LABEL[name], yy, label), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(MULTICLASS_SCORE))
def test_multiclass_score_metrics_equal_sklearn(name: str, seed: int) -> None:
    y, _, proba = _multiclass(seed)
    assert get_metric(name, "multiclass").fn(y, proba) == pytest.approx(
        quiet(MULTICLASS_SCORE[name], y, proba), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_metrics_equal_sklearn(name: str, seed: int) -> None:
    y, pred = _regression(seed)
    assert get_metric(name, "regression").fn(y, pred) == pytest.approx(
        quiet(REGRESSION[name], y, pred), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("task", TASKS)
def test_every_metric_has_a_direction_and_consistent_fields(task: str) -> None:
    for name, m in REGISTRY[task].items():  # type: ignore[index]
        assert m.name == name and m.task == task
        assert isinstance(m.higher_is_better, bool)
        assert m.sign == (1.0 if m.higher_is_better else -1.0)
        assert m.needs in ("label", "score")
        assert m.bounds[0] < m.bounds[1]
        if m.kind == "confusion":
            assert m.from_confusion is not None and m.needs == "label"
        if m.kind == "mean":
            assert m.per_row is not None
        assert m.doc


#: what a rate's denominator counts, as the cells that hold those rows
DENOMINATORS = {"rows": {"tn", "fp", "fn", "tp"}, "positives": {"fn", "tp"},
                "negatives": {"tn", "fp"}, "predicted positives": {"fp", "tp"}}


def test_binary_rates_count_the_cells_their_metric_divides() -> None:
    """A rate's cells give its metric's value on any table: a binary row's cell is
    2·truth + label, i.e. the flattened 2×2 table (tn, fp, fn, tp)."""
    tables = np.random.default_rng(0).integers(1, 60, size=(300, 2, 2)).astype(np.float64)
    cells = tables.reshape(-1, 4)
    rates = {name: m for name, m in REGISTRY["binary"].items() if m.rate is not None}
    assert set(rates) == {"selection_rate", "true_positive_rate", "false_positive_rate",
                          "false_negative_rate", "true_negative_rate", "precision", "accuracy",
                          "recall", "specificity"}
    for name, m in rates.items():
        rate = m.rate
        assert rate is not None and rate.cells == RATE_CELLS["binary"] == ("tn", "fp", "fn", "tp")
        value = cells[:, list(rate.num)].sum(axis=-1) / cells[:, list(rate.den)].sum(axis=-1)
        assert m.from_confusion is not None
        np.testing.assert_allclose(value, m.from_confusion(tables), rtol=1e-12, err_msg=name)
        assert set(rate.denominator) == DENOMINATORS[rate.per], name
        assert set(rate.numerator) <= set(rate.denominator), name
        assert rate.model_dependent == (name == "precision")


def test_multiclass_accuracy_is_the_share_of_right_rows() -> None:
    rate = get_metric("accuracy", "multiclass").rate
    assert rate is not None and rate.cells == ("wrong", "right") and rate.per == "rows"
    y, label, _ = _multiclass(0)
    right = float(np.sum(y == label))
    cells = np.array([len(y) - right, right])
    assert cells[list(rate.num)].sum() / cells[list(rate.den)].sum() == pytest.approx(
        get_metric("accuracy", "multiclass").fn(y, label), abs=1e-15)
    assert [m.name for m in rate_metrics("multiclass")] == ["accuracy"]
    assert rate_metrics("regression") == ()


def test_rate_metrics_list_each_rate_once_aliases_left_out() -> None:
    names = [m.name for m in rate_metrics("binary")]
    assert names == ["selection_rate", "true_positive_rate", "false_positive_rate",
                     "false_negative_rate", "true_negative_rate", "precision", "accuracy"]
    for alias, of in (("recall", "true_positive_rate"), ("specificity", "true_negative_rate")):
        m = get_metric(alias, "binary")
        assert m.alias_of == of and alias not in names
        assert m.rate == get_metric(of, "binary").rate
    assert all(m.alias_of is None for t in TASKS for m in REGISTRY[t].values()
               if m.name not in ("recall", "specificity"))


@pytest.mark.parametrize(("name", "lower_is_better"), [
    ("log_loss", True), ("brier_score", True), ("false_positive_rate", True),
    ("false_negative_rate", True), ("roc_auc", False), ("accuracy", False), ("f1", False)])
def test_directions_of_known_binary_metrics(name: str, lower_is_better: bool) -> None:
    assert get_metric(name, "binary").higher_is_better is not lower_is_better


def test_directions_of_regression_metrics() -> None:
    assert get_metric("r2", "regression").higher_is_better
    for name in ("mae", "mse", "rmse", "mape", "median_absolute_error"):
        assert not get_metric(name, "regression").higher_is_better


@pytest.mark.parametrize(("typo", "task", "closest"), [
    ("acuracy", "binary", "accuracy"), ("roc-auc", "binary", "roc_auc"),
    ("logloss", "multiclass", "log_loss"), ("f1_macr", "multiclass", "f1_macro"),
    ("rsme", "regression", "rmse")])
def test_unknown_name_suggests_the_closest(typo: str, task: str, closest: str) -> None:
    with pytest.raises(UnknownMetricError) as info:
        get_metric(typo, task)  # type: ignore[arg-type]
    msg = str(info.value)
    assert f"did you mean {closest!r}?" in msg
    assert all(n in msg for n in metric_names(task))  # type: ignore[arg-type]


def test_unknown_name_without_a_close_match_lists_the_valid_names() -> None:
    with pytest.raises(UnknownMetricError) as info:
        get_metric("zzzz", "binary")
    assert "did you mean" not in str(info.value)
    assert "accuracy" in str(info.value)


def test_binary_name_on_multiclass_lists_f1_macro() -> None:
    with pytest.raises(UnknownMetricError) as info:
        get_metric("f1", "multiclass")
    msg = str(info.value)
    assert "not defined for task multiclass" in msg
    assert "f1_macro" in msg and "f1_weighted" in msg
    with pytest.raises(UnknownMetricError, match="not defined for task regression"):
        get_metric("accuracy", "regression")


def test_mape_refuses_a_target_of_zero() -> None:
    """MAPE divided by max(|y|, eps): each row with y = 0 cost |pred| / 2.2e-16, a champion
    predicting 0.5 there scored 1.1e14, and a candidate 4× worse elsewhere passed."""
    from evalgate.errors import StatsError

    y, pred = _regression(0)
    y[[7, 40]] = 0.0
    metric = get_metric("mape", "regression")
    for fn in (metric.fn, metric.per_row):
        assert fn is not None
        with pytest.raises(StatsError, match=r"mape is undefined: 2 of 300 rows have target 0 "
                                             r"\(first at row 8\)"):
            fn(y, pred)
