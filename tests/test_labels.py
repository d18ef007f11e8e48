"""Labels and outputs the gate does not understand are errors, never a quiet zero.

A model trained on codes (0/1, 0..k-1) meets data that keeps words through
``data.label_map``; without it the gate refuses the model and prints the line to add. Outputs
that are not probabilities, an output chosen by chance, a column named twice and a fraction
fed to an integer input are errors too. Every hostile case here PROMOTEd (or scored zero)
before these rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from onnx import TensorProto, helper
from sklearn.metrics import accuracy_score, roc_auc_score

from conftest import ADULT_TEST, read_verdict
from evalgate.data import Dataset, Target, encode_target, load_dataset, read_table
from evalgate.errors import DataError, ModelLoadError, ModelOutputError, SpecError
from evalgate.families import load_suite
from evalgate.models import ModelInfo, RawPrediction, load_model
from evalgate.models.onnx import choose_output
from evalgate.models.outputs import PROBA_RANGE_ATOL, proba_sum_atol
from evalgate.models.predictions import (
    Predictions,
    canonical,
    class_universe,
    suggest_label_map,
)
from evalgate.spec import DataSpec

ROWS = 3000
WORDS = '["<=50K", ">50K"]'
MAP_LINE = 'label_map: {"<=50K": 0, ">50K": 1}'
CHECKS = """\
  performance:
    roc_auc:  {min: 0.5}
    accuracy: {min: 0.5}
    log_loss: {max: 5.0}
"""
LABEL_CHECKS = """\
  performance:
    accuracy: {min: 0.5}
"""
MULTI_CHECKS = """\
  performance:
    accuracy: {min: 0.0, max_regression: 0.5}
"""
GRADES = ("class_0", "class_1", "class_2")


# =========================================================================== tiny ONNX models


def _save(path: Path, nodes: list, outputs: list, *, inputs: list | None = None,
          inits: list | None = None, classes: str | None = WORDS, ml: bool = False) -> Path:
    graph = helper.make_graph(
        nodes, path.stem,
        inputs or [helper.make_tensor_value_info("age", TensorProto.FLOAT, [None, 1])],
        outputs, initializer=inits or [])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("ai.onnx.ml", 2)] if ml
                                               else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    if classes is not None:
        helper.set_model_props(model, {"classes": classes})
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _const(name: str, values: list[float]) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.FLOAT, [1, len(values)], values)


def _out(name: str, kind: int = TensorProto.FLOAT, width: int | None = 2) -> Any:
    return helper.make_tensor_value_info(name, kind, [None, width] if width else [None])


def age_model(path: Path, *, classes: str | None = WORDS, scale: float = 1.0,
              label: str | None = "int", proba: bool = True, scores: str | None = None,
              age_type: int = TensorProto.FLOAT) -> Path:
    """P(>50K) = sigmoid((age - 40) / 10), monotone in age, so its ROC AUC is that of age.

    ``scale`` multiplies the probability table; ``label``: ``"int"`` (argmax index),
    ``"yesno"`` (strings), or ``None``; ``scores``: a second float output (the logits)
    listed ``"before"`` or ``"after"`` the probabilities, or ``"only"`` in place of them
    under a name no rule knows."""
    inits = [_const("c40", [40.0]), _const("tenth", [0.1]), _const("one", [1.0]),
             _const("k", [scale])]
    nodes = []
    age = "age"
    inputs = None
    if age_type != TensorProto.FLOAT:
        inputs = [helper.make_tensor_value_info("age", age_type, [None, 1])]
        nodes.append(helper.make_node("Cast", ["age"], ["agef"], to=TensorProto.FLOAT))
        age = "agef"
    nodes += [helper.make_node("Sub", [age, "c40"], ["d"]),
              helper.make_node("Mul", ["d", "tenth"], ["z"]),
              helper.make_node("Sigmoid", ["z"], ["p"]),
              helper.make_node("Sub", ["one", "p"], ["q"]),
              helper.make_node("Concat", ["q", "p"], ["pq"], axis=1),
              helper.make_node("Mul", ["pq", "k"], ["probabilities"]),
              helper.make_node("Neg", ["z"], ["nz"]),
              helper.make_node("Concat", ["nz", "z"], ["scores"], axis=1),
              helper.make_node("ArgMax", ["pq"], ["label"], axis=1, keepdims=0)]
    outputs = []
    ml = False
    if label == "int":
        outputs.append(_out("label", TensorProto.INT64, None))
    elif label == "yesno":
        nodes.append(helper.make_node("LabelEncoder", ["label"], ["answer"], domain="ai.onnx.ml",
                                      keys_int64s=[0, 1], values_strings=["no", "yes"],
                                      default_string="?"))
        outputs.append(_out("answer", TensorProto.STRING, None))
        ml = True
    if scores == "before":
        outputs.append(_out("scores"))
    if proba and scores != "only":
        outputs.append(_out("probabilities"))
    if scores in ("after", "only"):
        outputs.append(_out("scores"))
    if scores == "only":
        nodes.append(helper.make_node("Identity", ["z"], ["logits"]))
        outputs.append(_out("logits", width=1))
    return _save(path, nodes, outputs, inputs=inputs, inits=inits, classes=classes, ml=ml)


def grade_model(path: Path, *, classes: str | None = "[0, 1, 2]") -> Path:
    """Three classes from age: softmax of (-1, 0, 1)·(age - 40)/10."""
    inits = [_const("c40", [40.0]), _const("w", [-0.1, 0.0, 0.1])]
    nodes = [helper.make_node("Sub", ["age", "c40"], ["d"]),
             helper.make_node("Mul", ["d", "w"], ["z"]),
             helper.make_node("Softmax", ["z"], ["probabilities"], axis=1),
             helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0)]
    return _save(path, nodes, [_out("label", TensorProto.INT64, None),
                               _out("probabilities", width=3)], inits=inits, classes=classes)


def _sigmoid(age: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(age - 40) / 10))


# =========================================================================== fixtures


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT_TEST).head(ROWS)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, adult: pd.DataFrame) -> dict[str, Path]:
    """Data and models shared by the module (absolute paths, so any project can use them)."""
    folder = tmp_path_factory.mktemp("labels")
    out: dict[str, Path] = {}
    out["binary"] = folder / "adult.csv"
    adult.to_csv(out["binary"], index=False)
    graded = adult.assign(grade=np.select([adult["age"] < 35, adult["age"] < 50],
                                          GRADES[:2], GRADES[2]))
    out["multi"] = folder / "graded.csv"
    graded.to_csv(out["multi"], index=False)
    out["words"] = age_model(folder / "words.onnx")
    out["codes"] = age_model(folder / "codes.onnx", classes="[0, 1]")
    out["labels01"] = age_model(folder / "labels01.onnx", classes=None, proba=False)
    out["yesno"] = age_model(folder / "yesno.onnx", classes=None, proba=False, label="yesno")
    out["grade_codes"] = grade_model(folder / "grade_codes.onnx")
    out["grade_words"] = grade_model(folder / "grade_words.onnx", classes=json.dumps(GRADES))
    return out


def project(gate_project: Any, *, label_map: str | None = None, task: str = "binary",
            **kwargs: Any) -> Path:
    """``suites/adult.yaml`` from conftest's fixture, with ``label_map`` under ``data:``."""
    kwargs.setdefault("champion", None)
    kwargs.setdefault("checks", CHECKS)
    path = gate_project(**kwargs)
    text = path.read_text()
    if label_map is not None:
        text = text.replace("  sensitive: [sex, race]\n",
                            f"  sensitive: [sex, race]\n  {label_map}\n")
    if task != "binary":
        text = text.replace("task: binary", f"task: {task}")
        text = "".join(line for line in text.splitlines(keepends=True)
                       if "positive_label" not in line)
    path.write_text(text)
    return path


def blocked(pytester: pytest.Pytester, result: pytest.RunResult, *needles: str) -> dict:
    """One clear error in every check: exit 1, no traceback, BLOCK last, each needle shown."""
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "Traceback" not in out and "internal error" not in out, out
    assert result.outlines[-1].startswith("evalgate: BLOCK ("), result.outlines[-1]
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block"
    checks = [c for s in verdict["suites"] for c in s["checks"]]
    assert {c["status"] for c in checks} == {"error"}
    for needle in needles:
        assert needle in out, f"{needle!r} not in output:\n{out}"
        assert all(needle in c["message"] for c in checks), checks[0]["message"]
    return verdict


def promoted(pytester: pytest.Pytester, result: pytest.RunResult) -> dict:
    out = result.stdout.str()
    assert result.ret == 0, out
    assert result.outlines[-1].startswith("evalgate: PROMOTE"), result.outlines[-1]
    return read_verdict(pytester.path)


def judged(pytester: pytest.Pytester, result: pytest.RunResult) -> dict:
    """Every check ran to a decision (a zero-width comparison may be held inconclusive)."""
    out = result.stdout.str()
    assert "Traceback" not in out, out
    verdict = read_verdict(pytester.path)
    assert "error" not in {c["status"] for s in verdict["suites"] for c in s["checks"]}, out
    return verdict


def values(verdict: dict) -> dict[str, tuple]:
    return {c["metric"]: (c["status"], c["candidate"], c["champion"], c["delta"],
                          tuple(c["ci"]) if c["ci"] else None)
            for s in verdict["suites"] for c in s["checks"]}


# =========================================================================== binary label_map


def test_codes_with_label_map_score_exactly_like_words(pytester, gate_project, files, adult):
    project(gate_project, data=files["binary"])
    words = promoted(pytester, pytester.runpytest(f"--evalgate={files['words']}"))

    project(gate_project, data=files["binary"], label_map=MAP_LINE)
    codes = promoted(pytester, pytester.runpytest(f"--evalgate={files['codes']}"))

    assert values(codes) == values(words)
    y = (adult["income"] == ">50K").to_numpy()
    auc = values(codes)["roc_auc"][1]
    assert auc == pytest.approx(roc_auc_score(y, adult["age"]), abs=1e-12)
    assert values(codes)["accuracy"][1] == pytest.approx(
        accuracy_score(y, _sigmoid(adult["age"].to_numpy()) > 0.5), abs=1e-12)
    assert codes["candidate"]["inputs"]["classes"] == {"via": "label_map", "model_only": []}
    assert words["candidate"]["inputs"]["classes"]["via"] == "direct"


def test_candidate_on_codes_and_champion_on_words_meet(pytester, gate_project, files):
    project(gate_project, data=files["binary"], label_map=MAP_LINE, champion=files["words"],
            checks=CHECKS.replace("{min: 0.5}", "{min: 0.5, max_regression: 0.01}"))
    verdict = judged(pytester, pytester.runpytest(f"--evalgate={files['codes']}"))
    checks = verdict["suites"][0]["checks"]
    assert [c["delta"] for c in checks] == [0.0, 0.0, None]  # log_loss has no comparison
    assert verdict["candidate"]["inputs"]["classes"]["via"] == "label_map"
    assert verdict["champion"]["inputs"]["classes"]["via"] == "direct"


def test_codes_without_label_map_block_with_the_line_to_add(pytester, gate_project, files):
    project(gate_project, data=files["binary"])
    result = pytester.runpytest(f"--evalgate={files['codes']}")
    blocked(pytester, result, "codes.onnx", "do not include the positive label '>50K'",
            "model classes: (0, 1)", "data labels: ('<=50K', '>50K')", MAP_LINE)


def test_suggested_line_fixes_it(pytester, gate_project, files):
    project(gate_project, data=files["binary"])
    result = pytester.runpytest(f"--evalgate={files['codes']}")
    message = read_verdict(pytester.path)["suites"][0]["checks"][0]["message"]
    line = message[message.index("label_map: {"):]
    project(gate_project, data=files["binary"], label_map=line)
    assert result.ret == 1
    promoted(pytester, pytester.runpytest(f"--evalgate={files['codes']}"))


def test_label_only_model_emitting_codes_is_refused(pytester, gate_project, files):
    """Today: every 0/1 reads as "not >50K", accuracy 0.76 ≥ 0.5, PROMOTE."""
    project(gate_project, data=files["binary"], checks=LABEL_CHECKS)
    result = pytester.runpytest(f"--evalgate={files['labels01']}")
    blocked(pytester, result, "labels01.onnx", "labels the suite does not know: 0, 1",
            MAP_LINE)


def test_label_only_model_emitting_codes_with_label_map(pytester, gate_project, files, adult):
    project(gate_project, data=files["binary"], checks=LABEL_CHECKS, label_map=MAP_LINE)
    verdict = promoted(pytester, pytester.runpytest(f"--evalgate={files['labels01']}"))
    y = (adult["income"] == ">50K").to_numpy()
    expected = accuracy_score(y, _sigmoid(adult["age"].to_numpy()) > 0.5)
    assert values(verdict)["accuracy"][1] == pytest.approx(expected, abs=1e-12)
    assert expected != pytest.approx(1 - y.mean())  # not "every row negative"


def test_label_only_model_emitting_yes_no_is_refused(pytester, gate_project, files):
    project(gate_project, data=files["binary"], checks=LABEL_CHECKS)
    result = pytester.runpytest(f"--evalgate={files['yesno']}")
    blocked(pytester, result, "yesno.onnx", "'no', 'yes'",
            'label_map: {"<=50K": "no", ">50K": "yes"}')


def test_yes_no_with_label_map(pytester, gate_project, files, adult):
    project(gate_project, data=files["binary"], checks=LABEL_CHECKS,
            label_map='label_map: {"<=50K": "no", ">50K": "yes"}')
    verdict = promoted(pytester, pytester.runpytest(f"--evalgate={files['yesno']}"))
    y = (adult["income"] == ">50K").to_numpy()
    assert values(verdict)["accuracy"][1] == pytest.approx(
        accuracy_score(y, _sigmoid(adult["age"].to_numpy()) > 0.5), abs=1e-12)


def test_label_map_naming_a_label_not_in_the_data(pytester, gate_project, files):
    project(gate_project, data=files["binary"], label_map='label_map: {"<=50k": 0, ">50K": 1}')
    result = pytester.runpytest(f"--evalgate={files['codes']}")
    blocked(pytester, result, "data.label_map maps '<=50k', which does not occur in the target "
                              "'income'")


# =========================================================================== multiclass


def test_multiclass_codes_against_word_labels_are_refused(pytester, gate_project, files):
    """Today: accuracy 0.0 for candidate and champion alike, Δ = 0, PROMOTE."""
    project(gate_project, data=files["multi"], target="grade", task="multiclass",
            champion=files["grade_codes"], checks=MULTI_CHECKS)
    result = pytester.runpytest(f"--evalgate={files['grade_codes']}")
    blocked(pytester, result, "grade_codes.onnx", "model classes: (0, 1, 2)",
            "data labels: ('class_0', 'class_1', 'class_2')",
            'label_map: {"class_0": 0, "class_1": 1, "class_2": 2}')


def test_multiclass_codes_with_label_map(pytester, gate_project, files, adult):
    project(gate_project, data=files["multi"], target="grade", task="multiclass",
            champion=files["grade_words"], checks=MULTI_CHECKS,
            label_map='label_map: {"class_0": 0, "class_1": 1, "class_2": 2}')
    verdict = judged(pytester, pytester.runpytest(f"--evalgate={files['grade_codes']}"))
    age = adult["age"].to_numpy(dtype=float)
    truth = np.select([age < 35, age < 50], [0, 1], 2)
    predicted = np.argmax(np.outer(age - 40, [-0.1, 0.0, 0.1]), axis=1)
    _, cand, champ, delta, _ = values(verdict)["accuracy"]
    assert cand == pytest.approx(accuracy_score(truth, predicted), abs=1e-12) and cand > 0.3
    assert champ == cand and delta == 0.0
    assert verdict["candidate"]["inputs"]["classes"]["via"] == "label_map"
    assert verdict["champion"]["inputs"]["classes"]["via"] == "direct"


# =========================================================================== probabilities


@pytest.mark.parametrize("scale, phrase", [
    (3.0, "outside [0, 1]"), (-1.0, "outside [0, 1]"), (0.5, "that do not sum to 1"),
], ids=["times3", "negative", "half"])
def test_probabilities_that_are_not_probabilities(pytester, gate_project, files, tmp_path,
                                                  scale, phrase):
    """Today ×3 and ×0.5 PROMOTE; negative ones crash the report naming no model."""
    project(gate_project, data=files["binary"])
    model = age_model(tmp_path / f"scaled{scale:g}.onnx", scale=scale)
    result = pytester.runpytest(f"--evalgate={model}")
    verdict = blocked(pytester, result, model.name, f"probabilities {phrase}",
                      f"of {ROWS} rows (first at data row 1: [")
    message = verdict["suites"][0]["checks"][0]["message"]
    assert str(model) in message


def test_scaled_champion_probabilities_block_too(pytester, gate_project, files, tmp_path):
    model = age_model(tmp_path / "half.onnx", scale=0.5)
    project(gate_project, data=files["binary"], champion=model)
    result = pytester.runpytest(f"--evalgate={files['words']}")
    blocked(pytester, result, "half.onnx", "do not sum to 1")


def _info() -> ModelInfo:
    return ModelInfo(path="m.onnx", sha256="0" * 64, format="onnx", size=1)


INCOME = Target(y=np.array([0, 1, 1, 0], dtype=np.int8), classes=("<=50K", ">50K"))


def test_float32_rounding_passes_and_is_clipped():
    p = np.array([0.0, 0.3, 1.0, 0.7], dtype=np.float32)
    proba = np.column_stack([1 - p, p]).astype(np.float64)
    proba[0] += [-3e-7, 5e-7]  # a few float32 ulps off
    raw = RawPrediction(proba=proba, classes=("<=50K", ">50K"))
    preds = canonical(raw, "binary", INCOME, _info(), 4)
    assert preds.score is not None and preds.score.min() >= 0 and preds.score.max() <= 1
    assert PROBA_RANGE_ATOL >= 1e-6 and proba_sum_atol(2) == pytest.approx(2e-4)
    assert proba_sum_atol(10_000) == 1e-2


@pytest.mark.parametrize("proba, phrase", [
    ([[0.5, 0.5], [0.2, 0.9], [0.5, 0.5], [0.5, 0.5]],
     "do not sum to 1 (within 0.0002; row 2 sums to 1.1)"),
    ([[0.5, 0.5], [0.5, 0.5], [1.2, -0.2], [0.5, 0.5]],
     "outside [0, 1] for 1 of 4 rows (first at data row 3: [1.2, -0.2])"),
], ids=["sum", "range"])
def test_bad_probabilities_name_the_row_and_values(proba, phrase):
    raw = RawPrediction(proba=np.array(proba), classes=("<=50K", ">50K"))
    with pytest.raises(ModelOutputError) as err:
        canonical(raw, "binary", INCOME, _info(), 4)
    assert phrase in str(err.value) and str(err.value).startswith("m.onnx: ")


def test_single_probability_column_above_one_is_refused(tmp_path, adult):
    """A binary model with one float column: read as P(positive), so it must lie in [0, 1]."""
    inits = [_const("tenth", [0.1])]
    model = _save(tmp_path / "onecol.onnx", [helper.make_node("Mul", ["age", "tenth"], ["p"])],
                  [_out("p", width=1)], inits=inits, classes=WORDS)
    loaded = load_model(model)
    raw = loaded.predict(adult, ["age"])
    with pytest.raises(ModelOutputError, match=r"outside \[0, 1\]"):
        canonical(raw, "binary", Target(y=np.zeros(ROWS, dtype=np.int8),
                                        classes=("<=50K", ">50K")), loaded.info, ROWS)


# =========================================================================== output choice


def test_two_float_outputs_without_a_rule_are_refused(pytester, gate_project, files, tmp_path):
    project(gate_project, data=files["binary"])
    model = age_model(tmp_path / "twofloat.onnx", scores="only")
    result = pytester.runpytest(f"--evalgate={model}")
    blocked(pytester, result, "twofloat.onnx", "2 float outputs (scores, logits)",
            "no rule picks one")


@pytest.mark.parametrize("where", ["before", "after"])
def test_probabilities_are_read_whatever_the_output_order(pytester, gate_project, files,
                                                           tmp_path, where):
    """Today the ``scores`` output placed first is scored as if it were probabilities."""
    project(gate_project, data=files["binary"])
    plain = promoted(pytester, pytester.runpytest(f"--evalgate={files['words']}"))
    model = age_model(tmp_path / f"scores_{where}.onnx", scores=where)
    assert [o.name for o in onnx.load(model).graph.output][1 if where == "before" else 2] \
        == "scores"
    verdict = promoted(pytester, pytester.runpytest(f"--evalgate={model}"))
    assert values(verdict) == values(plain)


def test_output_rule_units():
    assert choose_output("m", "float", ["scores", "Probabilities"], ("probabilities",)) \
        == "Probabilities"
    assert choose_output("m", "float", ["a", "fed"], ("probabilities",), "fed") == "fed"
    assert choose_output("m", "float", ["only"], ("probabilities",)) == "only"
    assert choose_output("m", "float", [], ("probabilities",)) is None
    with pytest.raises(ModelLoadError, match=r"m: the model has 2 label outputs \(a, b\)"):
        choose_output("m", "label", ["a", "b"], ("label",))
    with pytest.raises(ModelLoadError, match="2 float outputs named like 'proba'"):
        choose_output("m", "float", ["proba", "PROBA"], ("proba",))


# =========================================================================== data shape


def test_duplicate_column_names_block(pytester, gate_project, files, adult):
    data = pytester.path / "twice.csv"
    frame = adult.assign(second=adult["income"])
    text = frame.to_csv(index=False).replace(",second\n", ",income\n", 1)
    data.write_text(text)
    assert "income.1" in pd.read_csv(data).columns  # what pandas would silently do
    project(gate_project, data=data)
    result = pytester.runpytest(f"--evalgate={files['words']}")
    blocked(pytester, result, "twice.csv", "names 1 column more than once: 'income' "
                                           "(columns 15, 16)")


def test_duplicate_column_names_in_parquet(tmp_path):
    path = tmp_path / "twice.parquet"
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4]), pa.array([5, 6])],
                                 names=["age", "sex", "age"])
    pq.write_table(table, path)
    with pytest.raises(DataError, match=r"more than once: 'age' \(columns 1, 3\)"):
        read_table(path)


def test_fractional_value_fed_to_an_int64_input(pytester, gate_project, adult, tmp_path):
    data = tmp_path / "fraction.csv"
    frame = adult.assign(age=adult["age"].astype(float))
    frame.loc[41, "age"] = 37.5
    frame.to_csv(data, index=False)
    model = age_model(tmp_path / "intage.onnx", age_type=TensorProto.INT64)
    project(gate_project, data=data)
    result = pytester.runpytest(f"--evalgate={model}")
    blocked(pytester, result, "intage.onnx", "column 'age' holds 37.5 at data row 42",
            "tensor(int64)")


def test_whole_floats_are_fed_to_an_int64_input(adult, tmp_path):
    model = load_model(age_model(tmp_path / "intage.onnx", age_type=TensorProto.INT64))
    whole = model.predict(adult.assign(age=adult["age"].astype(float)), ["age"])
    ints = model.predict(adult, ["age"])
    np.testing.assert_array_equal(whole.proba, ints.proba)


# =========================================================================== suite keys


def _suite(tmp_path: Path, data_csv: Path, body: str, task: str = "binary") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"task: {task}\ndata:\n  path: {json.dumps(str(data_csv))}\n"
                    f"  target: income\n{body}checks:\n  performance:\n"
                    f"    accuracy: {{min: 0.5}}\n")
    return path


@pytest.mark.parametrize("body, line, phrase", [
    ("  label_map: [0, 1]\n", 5, "label_map: expected a mapping, got a list"),
    ("  label_map: {}\n", 5, "the label_map is empty"),
    ('  label_map:\n    "<=50K": 0\n    ">50K": 0\n', 7,
     "data labels '<=50K' and '>50K' both map to model class 0"),
    ('  label_map:\n    1: a\n    "1": b\n', 7, "data label '1' is mapped twice"),
    ('  label_map: {">50K": [1]}\n', 5, "expected a single model class for '>50K'"),
], ids=["list", "empty", "two-labels-one-class", "label-twice", "nested"])
def test_bad_label_map_is_a_spec_error_at_its_line(tmp_path, files, body, line, phrase):
    path = _suite(tmp_path, files["binary"], body)
    with pytest.raises(SpecError) as err:
        load_suite(path)
    assert err.value.line == line and phrase in str(err.value), str(err.value)


def test_label_map_is_refused_for_regression(tmp_path, files):
    path = _suite(tmp_path, files["binary"], "  label_map: {a: 1}\n", task="regression")
    with pytest.raises(SpecError, match="label_map applies to classification tasks only"):
        load_suite(path)


def test_label_map_is_read_in_order(tmp_path, files):
    path = _suite(tmp_path, files["binary"],
                  '  positive_label: ">50K"\n  label_map: {"<=50K": 0, ">50K": 1}\n')
    assert load_suite(path).data.label_map == (("<=50K", 0), (">50K", 1))


def test_label_map_whose_unmapped_label_collides(files):
    data = load_dataset(DataSpec(path=files["multi"], target="grade", positive_label=None,
                                 sensitive=(), features=None, line=1))
    with pytest.raises(DataError, match="'class_0' and 'class_1' both stand for model class "
                                        "'class_0'"):
        encode_target(data, "multiclass", label_map=(("class_1", "class_0"),))


# =========================================================================== unit: classes


def _target(classes: tuple, label_map: tuple = (), labels: tuple | None = None) -> Target:
    return Target(y=np.zeros(4, dtype=np.int64), classes=classes, labels=labels,
                  label_map=tuple((str(k), v) for k, v in label_map))


def test_suggestion_by_suffix_and_by_sorted_order():
    grades = _target(("class_0", "class_1", "class_10"))
    assert suggest_label_map(grades, (10, 1, 0)) == \
        'label_map: {"class_0": 0, "class_1": 1, "class_10": 10}'
    abc = _target(("A", "B", "C"))
    assert suggest_label_map(abc, (2, 0, 1)) == 'label_map: {"A": 0, "B": 1, "C": 2}'
    negative_first = _target((">50K", "<=50K"))  # positive_label "<=50K"
    assert suggest_label_map(negative_first, (1, 0)) == 'label_map: {">50K": 0, "<=50K": 1}'
    assert suggest_label_map(abc, (0, 1)) is None  # two classes for three labels


def test_multiclass_too_few_classes_says_no_map_can_fix_it():
    raw = RawPrediction(proba=np.full((4, 2), 0.5), classes=(0, 1))
    with pytest.raises(ModelOutputError, match="No label_map can fix this: the model has 2 "
                                               "classes for 3 data labels"):
        canonical(raw, "multiclass", _target(("A", "B", "C")), _info(), 4)


def test_model_only_classes_are_kept_and_listed():
    data = _target(("A", "B"), label_map=(("A", 0), ("B", 1)), labels=("A", "B"))
    raw = RawPrediction(proba=np.array([[0.7, 0.2, 0.1]] * 4), classes=(0, 1, 2))
    universe = class_universe(data, [raw])
    assert universe == ("A", "B", 2)
    full = Target(y=data.y, classes=universe, labels=data.labels, label_map=data.label_map)
    preds = canonical(raw, "multiclass", full, _info(), 4)
    assert preds.classes is not None and preds.classes.as_dict() == {
        "via": "label_map", "model_only": [2]}
    np.testing.assert_array_equal(preds.score, raw.proba)


def test_label_map_wins_over_direct_when_both_cover():
    """Data coded 0/1 the other way round: the map the suite gives is the one used."""
    target = Target(y=np.array([1, 0, 1, 0], dtype=np.int8), classes=(0, 1),
                    label_map=(("0", 1), ("1", 0)))
    raw = RawPrediction(proba=np.array([[0.9, 0.1], [0.2, 0.8], [0.9, 0.1], [0.2, 0.8]]),
                        classes=(0, 1))
    preds = canonical(raw, "binary", target, _info(), 4)
    np.testing.assert_allclose(preds.score, [0.9, 0.2, 0.9, 0.2])
    assert preds.label.tolist() == [1, 0, 1, 0]


def test_label_outside_both_classes_is_never_a_negative():
    raw = RawPrediction(labels=np.array(["<=50K", ">50K", "maybe", "<=50K"]))
    with pytest.raises(ModelOutputError, match="labels the suite does not know: 'maybe'"):
        canonical(raw, "binary", INCOME, _info(), 4)


# =========================================================================== unit: indices


PROBA4 = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])


def test_integer_labels_read_as_indices_when_provable():
    raw = RawPrediction(labels=np.array([0, 1, 1, 0]), proba=PROBA4, classes=("<=50K", ">50K"))
    assert canonical(raw, "binary", INCOME, _info(), 4).label.tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize("labels, proba, classes, phrase", [
    ([0, 1, 1, 0], None, ("<=50K", ">50K"), "evalgate cannot prove it"),
    ([1, 0, 1, 0], PROBA4, ("<=50K", ">50K"), "not among its classes"),
    ([0, 1, 1, 0], PROBA4, (1, 2), "not among its classes (1, 2)"),
], ids=["no-probabilities", "disagrees-with-argmax", "classes-overlap"])
def test_integer_labels_are_not_guessed_as_indices(labels, proba, classes, phrase):
    """Classes (1, 2) and labels 0/1: today 1 is read as the index of class 2."""
    target = INCOME if isinstance(classes[0], str) else Target(
        y=np.zeros(4, dtype=np.int8), classes=(1, 2))
    raw = RawPrediction(labels=np.array(labels), proba=proba, classes=classes)
    with pytest.raises(ModelOutputError) as err:
        canonical(raw, "binary", target, _info(), 4)
    assert phrase in str(err.value)


def test_integer_classes_in_another_order_read_argmax_labels_as_indices():
    """Classes [1, 0] and an ArgMax label output: label 0 is column 0, class 1. Read as the
    class 0 itself, such a champion's accuracy was its complement (0.22 for 0.78), and a
    worse candidate was promoted. Labels that are the classes themselves stay values."""
    target = Target(y=np.array([1, 0, 0, 1], dtype=np.int8), classes=(0, 1))
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])  # columns: 1, then 0
    argmax = RawPrediction(labels=np.array([0, 1, 1, 0]), proba=proba, classes=(1, 0))
    preds = canonical(argmax, "binary", target, _info(), 4)
    assert preds.label.tolist() == [1, 0, 0, 1]  # every row right
    np.testing.assert_allclose(preds.score, [0.9, 0.2, 0.4, 0.7])
    values = RawPrediction(labels=np.array([1, 0, 0, 1]), proba=proba, classes=(1, 0))
    assert canonical(values, "binary", target, _info(), 4).label.tolist() == [1, 0, 0, 1]


def test_dataset_reader_is_unchanged_for_a_clean_file(files, adult):
    data: Dataset = load_dataset(DataSpec(path=files["binary"], target="income",
                                          positive_label=">50K", sensitive=(), features=None,
                                          line=1))
    assert list(data.frame.columns) == list(adult.columns)
    assert encode_target(data, "binary", ">50K").data_labels == ("<=50K", ">50K")


@pytest.mark.parametrize("output", ["labels", "proba"])
def test_the_suggested_map_follows_the_predictions_not_the_names_order(output: str) -> None:
    """A model trained with 1 for the data's *negative* label: the names' order would
    suggest "<=50K": 0, ">50K": 1 and invert every prediction; the message proposes the
    assignment under which the predictions agree with the labels, and says how often."""
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.25).astype(np.int64)           # 1 = ">50K", the positive label
    predicted = np.where(rng.random(1000) < 0.9, 1 - y, y)  # the model's 1 means "<=50K"
    target = Target(y=y, classes=("<=50K", ">50K"))
    proba = np.column_stack([1 - predicted, predicted]).astype(np.float64) * 0.8 + 0.1
    raw = (RawPrediction(labels=predicted, classes=(0, 1)) if output == "labels"
           else RawPrediction(proba=proba, classes=(0, 1)))
    info = ModelInfo(path="m.onnx", sha256="x", format="onnx", size=1)
    with pytest.raises(ModelOutputError) as caught:
        canonical(raw, "binary", target, info, 1000)
    message = str(caught.value)
    assert 'label_map: {"<=50K": 1, ">50K": 0}' in message, message
    agree = np.mean(predicted == 1 - y)
    assert f"agree with the labels on {agree:.1%} of 1,000 rows" in message
    assert suggest_label_map(target, (0, 1)) == 'label_map: {"<=50K": 0, ">50K": 1}'  # inverted


# ================================================================ labels vs probabilities


ABC = Target(y=np.array([0, 1, 2, 0, 1, 2] * 50, dtype=np.int64), classes=("a", "b", "c"))


def _abc_table(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.random((n, 3)) + np.eye(3)[ABC.y[:n]] * 2
    return raw / raw.sum(axis=1, keepdims=True)


def test_multiclass_labels_that_disagree_with_the_probabilities_are_refused():
    """Probability columns really in the order [b, c, a] under classes [a, b, c], labels
    right: accuracy read the labels, AUC and log loss the misordered table, and a worse
    candidate was promoted against such a champion."""
    table = _abc_table(np.random.default_rng(1), 300)
    labels = np.array(["a", "b", "c"])[table.argmax(axis=1)]
    good = RawPrediction(labels=labels, proba=table, classes=("a", "b", "c"))
    assert canonical(good, "multiclass", ABC, _info(), 300).label.tolist() == \
        table.argmax(axis=1).tolist()
    misordered = RawPrediction(labels=labels, proba=table[:, [1, 2, 0]],
                               classes=("a", "b", "c"))
    with pytest.raises(ModelOutputError, match=r"not a most probable class of its own "
                                               r"probabilities on 300 of 300 rows \(100\.0%"):
        canonical(misordered, "multiclass", ABC, _info(), 300)


def test_multiclass_a_few_near_ties_and_exact_ties_are_allowed():
    table = _abc_table(np.random.default_rng(2), 300)
    labels = table.argmax(axis=1)
    labels[:3] = (labels[:3] + 1) % 3  # 1% of the rows: an honest converter's near ties
    table[3] = [0.4, 0.4, 0.2]
    labels[3] = 1  # an exact tie: either class is a most probable one
    raw = RawPrediction(labels=np.array(["a", "b", "c"])[labels], proba=table,
                        classes=("a", "b", "c"))
    canonical(raw, "multiclass", ABC, _info(), 300)
    labels[4] = (labels[4] + 1) % 3  # one row more than 1%
    raw = RawPrediction(labels=np.array(["a", "b", "c"])[labels], proba=table,
                        classes=("a", "b", "c"))
    with pytest.raises(ModelOutputError, match="on 4 of 300 rows"):
        canonical(raw, "multiclass", ABC, _info(), 300)


def test_binary_labels_must_be_a_threshold_rule_of_the_score():
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.3).astype(np.int8)
    target = Target(y=y, classes=("<=50K", ">50K"))
    p = np.clip(0.3 * y + 0.6 * rng.random(400), 0, 1)
    proba = np.column_stack([1 - p, p])
    words = np.array(["<=50K", ">50K"])
    at_03 = RawPrediction(labels=words[(p >= 0.3).astype(int)], proba=proba,
                          classes=("<=50K", ">50K"))  # a threshold other than 0.5: fine
    assert canonical(at_03, "binary", target, _info(), 400).label.tolist() == \
        (p >= 0.3).astype(int).tolist()
    swapped = RawPrediction(labels=words[(p >= 0.3).astype(int)], proba=proba[:, ::-1],
                            classes=("<=50K", ">50K"))
    with pytest.raises(ModelOutputError, match="no threshold rule of its own probability of "
                                               "'>50K'"):
        canonical(swapped, "binary", target, _info(), 400)
    oracle = RawPrediction(labels=words[y], proba=proba[:, ::-1], classes=("<=50K", ">50K"))
    with pytest.raises(ModelOutputError, match="misplaces"):
        canonical(oracle, "binary", target, _info(), 400)


@pytest.mark.parametrize("classes", [("a", "b", "c", "a"), (0, 1, 2, "1")],
                         ids=["same-word", "int-and-text"])
def test_classes_that_repeat_are_refused(classes):
    """Four columns for classes [a, b, c, a]: the gate kept the last 'a' column and dropped
    the first's mass, and read a 76% accurate model as 100%."""
    proba = np.full((300, 4), 0.25)
    raw = RawPrediction(proba=proba, classes=classes)
    target = ABC if isinstance(classes[0], str) else Target(y=ABC.y, classes=(0, 1, 2))
    with pytest.raises(ModelOutputError, match="twice"):
        canonical(raw, "multiclass", target, _info(), 300)


# ================================================================ inputs and outputs: messages


def test_a_value_beyond_float32_is_refused_naming_the_column(adult, tmp_path):
    """1e44 fed to a tensor(float) input became inf in evalgate's cast, and the model was
    blamed for NaN or infinite predictions."""
    model = load_model(age_model(tmp_path / "age.onnx"))
    frame = adult.assign(age=adult["age"].astype(float))
    frame.loc[41, "age"] = -1e44
    with pytest.raises(ModelOutputError, match=r"column 'age' holds -1e\+44 at data row 42 "
                                               r"\(1 such rows\), beyond the range of model "
                                               r"input 'age' \(tensor\(float\)"):
        model.predict(frame, ["age"])
    frame.loc[41, "age"] = 3e38  # within float32's range: fed
    assert model.predict(frame, ["age"]).proba is not None


def test_an_integer_output_on_a_regression_suite_is_named(adult, tmp_path):
    """A regressor rounding its output to int64 was called "a classifier"."""
    path = _save(tmp_path / "rounds.onnx",
                 [helper.make_node("Cast", ["age"], ["variable"], to=TensorProto.INT64)],
                 [_out("variable", TensorProto.INT64, 1)], classes=None)
    model = load_model(path)
    raw = model.predict(adult.head(4), ["age"])
    target = Target(y=np.zeros(4), classes=None)
    with pytest.raises(ModelOutputError, match="the model's output 'variable' is an integer "
                                               r"tensor \(int64\), which evalgate reads as "
                                               "class labels"):
        canonical(raw, "regression", target, model.info, 4)


# ================================================================ labels the wrong way round


COMPARE_ONLY = """\
  performance:
    roc_auc:  {max_regression: 0.01}
    accuracy: {max_regression: 0.01}
"""


def test_an_inverted_label_map_is_refused(pytester, gate_project, files, tmp_path):
    """A label_map written the wrong way round made both models read below chance, and every
    comparison flipped: a worse candidate PROMOTEd on a suite of comparisons."""
    worse = age_model(tmp_path / "worse.onnx", classes="[0, 1]", scale=1.0)
    project(gate_project, data=files["binary"], champion=files["codes"], checks=COMPARE_ONLY,
            label_map='label_map: {"<=50K": 1, ">50K": 0}')
    blocked(pytester, pytester.runpytest(f"--evalgate={worse}"),
            "the labels look reversed: the champion's ROC AUC on them is 0.",
            "check data.positive_label ('>50K' here) and data.label_map")
    project(gate_project, data=files["binary"], champion=files["codes"], checks=COMPARE_ONLY,
            label_map=MAP_LINE)  # the right way round: judged
    judged(pytester, pytester.runpytest(f"--evalgate={worse}"))


def test_below_chance_only_beyond_sampling_error():
    from evalgate.models.chance import reversed_labels

    rng = np.random.default_rng(5)
    y = (rng.random(2000) < 0.3).astype(np.int8)
    target = Target(y=y, classes=("<=50K", ">50K"))
    noise = Predictions(label=np.zeros(2000, np.int8), score=rng.random(2000))  # AUC ≈ 0.5
    assert reversed_labels(target, {"candidate": noise, "champion": noise}, 0.95) is None
    anti = Predictions(label=1 - y, score=np.clip(0.7 - 0.4 * y + 0.2 * rng.random(2000), 0, 1))
    # the champion decides; without one, the candidate
    assert reversed_labels(target, {"candidate": anti, "champion": noise}, 0.95) is None
    assert "candidate's ROC AUC" in (reversed_labels(target, {"candidate": anti}, 0.95) or "")
    few = Target(y=y[:6], classes=("<=50K", ">50K"))
    small = Predictions(label=1 - y[:6], score=anti.score[:6])
    assert reversed_labels(few, {"candidate": small}, 0.95) is None  # 6 rows prove nothing
    y = np.r_[np.zeros(10, np.int8), np.ones(10, np.int8)]  # separated, the wrong way round
    apart = Predictions(label=1 - y, score=1.0 - y * 0.5)
    found = reversed_labels(Target(y=y, classes=("a", "b")), {"candidate": apart}, 0.95)
    assert found is not None and "upper bound 0.3690 < 0.5" in found  # 1 − 0.01^(1/10)
