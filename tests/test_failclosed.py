"""Fail closed: bad input gives one clear message, an ``error`` in verdict.json, a BLOCK line
and exit status 1 — never a pass, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

from conftest import ADULT_TEST, CANDIDATE, CHAMPION, read_verdict


def nan_model(path: Path) -> Path:
    """A binary classifier reading ``age`` whose probabilities are NaN (age × NaN)."""
    nan = helper.make_tensor("nan", TensorProto.FLOAT, [1, 2], [np.nan, np.nan])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["age", "nan"], ["probabilities"]),
         helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0)],
        "nan_model",
        [helper.make_tensor_value_info("age", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializer=[nan])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"classes": '["<=50K", ">50K"]'})
    onnx.save(model, path)
    return path


def assert_blocked(pytester: pytest.Pytester, result: pytest.RunResult, *needles: str) -> dict:
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "Traceback" not in out
    for needle in needles:
        assert needle in out, f"{needle!r} not in output:\n{out}"
    assert result.outlines[-1].startswith("evalgate: BLOCK ("), result.outlines[-1]
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block"
    statuses = {c["status"] for s in verdict["suites"] for c in s["checks"]}
    assert statuses == {"error"}
    for needle in needles:
        assert any(needle in c["message"] for s in verdict["suites"] for c in s["checks"])
    return verdict


def test_truncated_onnx(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    bad = pytester.path / "truncated.onnx"
    bad.write_bytes(CANDIDATE.read_bytes()[: CANDIDATE.stat().st_size // 2])
    result = pytester.runpytest(f"--evalgate={bad}")
    result.assert_outcomes(errors=3)
    assert_blocked(pytester, result, "truncated.onnx", "not a valid ONNX file")


def test_text_file_named_onnx(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    bad = pytester.path / "notes.onnx"
    bad.write_text("this is not a model\n" * 20)
    result = pytester.runpytest(f"--evalgate={bad}")
    result.assert_outcomes(errors=3)
    assert_blocked(pytester, result, "notes.onnx", "not a valid ONNX file")


def test_missing_candidate(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    result = pytester.runpytest("--evalgate=nowhere.onnx")
    assert_blocked(pytester, result, "nowhere.onnx: model file not found")


def test_champion_path_that_does_not_exist(pytester: pytest.Pytester, gate_project) -> None:
    gate_project(champion=pytester.path / "models" / "old.onnx")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    result.assert_outcomes(errors=3)
    assert_blocked(pytester, result, "old.onnx: champion: model file not found")


def test_model_inputs_do_not_match_the_data(pytester: pytest.Pytester, gate_project) -> None:
    data = pytester.path / "no_education.csv"
    pd.read_csv(ADULT_TEST).drop(columns=["education"]).head(500).to_csv(data, index=False)
    gate_project(data=data)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    verdict = assert_blocked(pytester, result, "model inputs do not match the data",
                             "no column for 'education'")
    message = verdict["suites"][0]["checks"][0]["message"]
    assert "Model inputs: age, workclass, education," in message
    assert "Data feature columns: age, workclass, fnlwgt," in message


def test_missing_target_column(pytester: pytest.Pytester, gate_project) -> None:
    gate_project(target="incme")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert_blocked(pytester, result, "target column 'incme' not found (did you mean 'income'?)")


def test_empty_dataset(pytester: pytest.Pytester, gate_project) -> None:
    data = pytester.path / "empty.csv"
    pd.read_csv(ADULT_TEST).head(0).to_csv(data, index=False)
    gate_project(data=data)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert_blocked(pytester, result, "empty.csv: the dataset has no rows")


def test_nan_probabilities(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    model = nan_model(pytester.path / "nan.onnx")
    result = pytester.runpytest(f"--evalgate={model}")
    assert_blocked(pytester, result, "NaN or infinite probabilities for 16281 of 16281 rows")


def test_nan_from_the_champion_blocks_too(pytester: pytest.Pytester, gate_project) -> None:
    model = nan_model(pytester.path / "nan.onnx")
    gate_project(champion=model)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert_blocked(pytester, result, "nan.onnx: the model returned NaN")


def test_pickle_refused_without_trust(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    bad = pytester.path / "model.pkl"
    bad.write_bytes(b"\x80\x04K\x01.")
    result = pytester.runpytest(f"--evalgate={bad}")
    assert_blocked(pytester, result, "--evalgate-trust-pickle")


def test_invalid_suite_is_an_error_item(pytester: pytest.Pytester, gate_project) -> None:
    suite = gate_project()
    suite.write_text(suite.read_text().replace("roc_auc:", "roc_acu:"))
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "adult.yaml:" in out and "roc_acu: unknown metric 'roc_acu' (did you mean " \
        "'roc_auc'?)" in out
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block"
    assert verdict["suites"][0]["checks"][0]["status"] == "error"
    assert result.outlines[-1].startswith("evalgate: BLOCK (1 of 1 checks failed)")
    assert result.ret == 1


def test_bad_suite_does_not_hide_a_good_one(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    (pytester.path / "suites" / "broken.yaml").write_text("task: binary\nchecks: [1]\n")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    result.assert_outcomes(passed=3, errors=1)
    assert result.ret == 1
    assert result.outlines[-1].startswith("evalgate: BLOCK (1 of 4 checks failed)")


def test_error_in_one_suite_only_errors_that_suite(pytester: pytest.Pytester,
                                                    gate_project) -> None:
    gate_project()
    other = (pytester.path / "suites" / "adult.yaml").read_text()
    other = other.replace('suite: "adult-income"', 'suite: "other"')
    other = other.replace(str(CHAMPION), str(pytester.path / "gone.onnx"))
    (pytester.path / "suites" / "other.yaml").write_text(other)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    result.assert_outcomes(passed=3, errors=3)
