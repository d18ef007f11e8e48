"""Corpus: models whose labels or outputs the gate must not misread (issue 11 §1, §4).

Each case builds one hostile model (most are the shipped candidate with its outputs edited, so
that every metric would pass if the gate read them the way the old code did) and a suite on
1,500 Adult rows; the gate must block with one clear message naming the model file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from onnx import TensorProto

from tests.failclosed.corpus import (
    ACCURACY,
    CANDIDATE,
    CHAMPION,
    FifoWatch,
    adult,
    age_classifier,
    age_multiclass,
    age_regressor,
    assert_blocked,
    candidate_variant,
    gate,
    label_only,
    multiclass_frame,
    suite_yaml,
    write_csv,
    write_suite,
)

#: score and label checks, without log_loss (which rejects some outputs for its own reasons)
ROC_ACC = """\
  performance:
    roc_auc:  {min: 0.85, max_regression: 0.02}
    accuracy: {min: 0.80, max_regression: 0.03}
"""


@dataclass(frozen=True)
class Hostile:
    """One hostile model case: the candidate, the suite text, the words of the message."""

    candidate: Path
    suite: str
    needles: tuple[str, ...]
    absent: tuple[str, ...] = ()


def _data(tmp: Path) -> Path:
    return write_csv(tmp / "adult.csv")


def codes_without_label_map(tmp: Path) -> Hostile:
    model = candidate_variant(tmp / "codes.onnx", classes=[0, 1])
    return Hostile(model, suite_yaml(data=_data(tmp), champion=CHAMPION),
                   ("codes.onnx", "label_map:", "<=50K"))


def champion_codes_without_label_map(tmp: Path) -> Hostile:
    champion = candidate_variant(tmp / "champion-codes.onnx", classes=[0, 1])
    return Hostile(CANDIDATE, suite_yaml(data=_data(tmp), champion=champion),
                   ("champion-codes.onnx", "label_map:"))


def wrong_label_map(tmp: Path) -> Hostile:
    model = candidate_variant(tmp / "codes.onnx", classes=[0, 1])
    text = suite_yaml(data=_data(tmp), data_extra='  label_map: {">50K": 2, "<=50K": 0}')
    return Hostile(model, text, ("codes.onnx", "label_map"), absent=("unknown key",))


def label_map_misses_a_label(tmp: Path) -> Hostile:
    model = candidate_variant(tmp / "codes.onnx", classes=[0, 1])
    text = suite_yaml(data=_data(tmp), data_extra='  label_map: {">50K": 1}')
    return Hostile(model, text, ("codes.onnx", "<=50K"), absent=("unknown key",))


def multiclass_words_vs_codes(tmp: Path) -> Hostile:
    data = write_csv(tmp / "grades.csv", multiclass_frame())
    model = age_multiclass(tmp / "grades.onnx")
    champion = age_multiclass(tmp / "grades-old.onnx", variant="old")
    checks = "  performance:\n    accuracy: {max_regression: 0.01}\n"
    text = suite_yaml(data=data, task="multiclass", target="grade", champion=champion,
                      checks=checks, sensitive="")
    return Hostile(model, text, ("grades.onnx", "label_map:", "class_0"))


def label_only_codes(tmp: Path) -> Hostile:
    model = label_only(tmp / "labels01.onnx", (0, 1))
    return Hostile(model, suite_yaml(data=_data(tmp), checks=ACCURACY),
                   ("labels01.onnx", "label_map:"))


def label_only_yes_no(tmp: Path) -> Hostile:
    model = label_only(tmp / "yesno.onnx", ("no", "yes"))
    return Hostile(model, suite_yaml(data=_data(tmp), checks=ACCURACY),
                   ("yesno.onnx", "yes", ">50K"))


def tree_labels_only_codes(tmp: Path) -> Hostile:
    model = candidate_variant(tmp / "tree01.onnx", classes=[0, 1], outputs=())
    return Hostile(model, suite_yaml(data=_data(tmp), checks=ACCURACY),
                   ("tree01.onnx", "label_map:"))


def _proba(name: str, expr: str, *needles: str) -> Callable[[Path], Hostile]:
    def build(tmp: Path) -> Hostile:
        model = candidate_variant(tmp / name, outputs=(("probabilities", expr),))
        return Hostile(model, suite_yaml(data=_data(tmp), champion=CHAMPION, checks=ROC_ACC),
                       (name, *needles))
    build.__name__ = name.removesuffix(".onnx")
    return build


def scores_before_probabilities(tmp: Path) -> Hostile:
    model = candidate_variant(tmp / "scores.onnx",
                              outputs=(("scores", "p"), ("probabilities", "p*3")))
    return Hostile(model, suite_yaml(data=_data(tmp), champion=CHAMPION, checks=ROC_ACC),
                   ("scores.onnx", "probabilities"))


def two_unnamed_float_outputs(tmp: Path) -> Hostile:
    model = candidate_variant(tmp / "two.onnx", outputs=(("out_a", "p"), ("out_b", "p*1")))
    return Hostile(model, suite_yaml(data=_data(tmp), champion=CHAMPION),
                   ("two.onnx", "out_a", "out_b"))


def wrong_row_count(tmp: Path) -> Hostile:
    model = candidate_variant(tmp / "short.onnx", drop_last_row=True)
    return Hostile(model, suite_yaml(data=_data(tmp), champion=CHAMPION),
                   ("short.onnx", "1499"))


def regressor_on_binary_suite(tmp: Path) -> Hostile:
    model = age_regressor(tmp / "regressor.onnx")
    return Hostile(model, suite_yaml(data=_data(tmp)), ("regressor.onnx", "regress"))


def classifier_on_regression_suite(tmp: Path) -> Hostile:
    checks = "  performance:\n    mae: {max: 100}\n"
    text = suite_yaml(data=_data(tmp), task="regression", target="fnlwgt",
                      checks=checks, sensitive="")
    return Hostile(CANDIDATE, text, ("candidate.onnx", "classifier"))


def fractional_values_for_int64_input(tmp: Path) -> Hostile:
    frame = adult()
    frame["age"] = frame["age"] + 0.5
    data = write_csv(tmp / "fractional.csv", frame)
    model = age_classifier(tmp / "int-age.onnx", input_type=TensorProto.INT64)
    checks = "  performance:\n    roc_auc: {min: 0.6}\n    accuracy: {min: 0.6}\n"
    return Hostile(model, suite_yaml(data=data, checks=checks), ("int-age.onnx", "int64"))


def model_file_is_a_directory(tmp: Path) -> Hostile:
    folder = tmp / "folder.onnx"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(CANDIDATE.read_bytes())
    return Hostile(folder, suite_yaml(data=_data(tmp)), ("folder.onnx",))


CASES: list[Callable[[Path], Hostile]] = [
    codes_without_label_map,
    champion_codes_without_label_map,
    wrong_label_map,
    label_map_misses_a_label,
    multiclass_words_vs_codes,
    label_only_codes,
    label_only_yes_no,
    tree_labels_only_codes,
    _proba("times3.onnx", "p*3", "probabilit"),
    _proba("half.onnx", "p*0.5", "sum"),
    _proba("negative.onnx", "p-0.3", "probabilit"),
    _proba("unnormalised.onnx", "p*cols", "sum"),
    _proba("nan.onnx", "p*nan", "NaN"),
    _proba("inf.onnx", "p+inf", "infinite"),
    scores_before_probabilities,
    two_unnamed_float_outputs,
    wrong_row_count,
    regressor_on_binary_suite,
    classifier_on_regression_suite,
    fractional_values_for_int64_input,
    model_file_is_a_directory,
]


@pytest.mark.parametrize("build", CASES, ids=[c.__name__ for c in CASES])
def test_hostile_model_blocks(pt: pytest.Pytester, build: Callable[[Path], Hostile]) -> None:
    case = build(pt.path / "in")
    write_suite(pt.path, case.suite)
    run = gate(pt, f"--evalgate={case.candidate}")
    assert_blocked(run, pt.path / "reports", *case.needles, absent=case.absent)


def test_model_path_is_a_fifo(pt: pytest.Pytester) -> None:
    """A FIFO as the candidate must be refused, not opened (opening one waits forever)."""
    write_suite(pt.path, suite_yaml(data=write_csv(pt.path / "adult.csv")))
    with FifoWatch(pt.path / "pipe.onnx") as watch:
        run = gate(pt, f"--evalgate={watch.path}")
    hang = ["the gate opened the FIFO (it hangs without a writer)"] if watch.opened else []
    assert_blocked(run, pt.path / "reports", "pipe.onnx", problems=hang)
