"""Model adapters (ONNX, skops, pickle, fake) and the canonicalisation of their answers."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from evalgate.data import Target
from evalgate.errors import ModelLoadError, ModelOutputError
from evalgate.models import ModelInfo, RawPrediction, load_model
from evalgate.models.fake import FakeModel
from evalgate.models.predictions import canonical, class_universe
from tests import modelzoo as mz

FEATURES = list(mz.FEATURES)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> mz.Zoo:
    return mz.Zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="module")
def frame(zoo: mz.Zoo) -> pd.DataFrame:
    return zoo.frame


@pytest.fixture(scope="module")
def matrix_model(zoo: mz.Zoo) -> tuple[Pipeline, Path]:
    """A pipeline fit on a plain numeric array, saved with one input ``X`` of [None, 3]."""
    X = zoo.frame[list(mz.NUMERIC)].to_numpy()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    pipe.fit(X, zoo.frame["income"])
    path = mz.save_onnx_matrix(pipe, X.shape[1], zoo.folder / "matrix.onnx", zipmap=False)
    return pipe, path


# =========================================================================== ONNX classifiers


@pytest.mark.parametrize("zipmap", [True, False], ids=["zipmap", "tensor"])
@pytest.mark.parametrize("target", ["income", "label", "grade"],
                         ids=["binary-str", "binary-int", "multiclass"])
@pytest.mark.parametrize("kind", ["logreg", "forest"])
def test_onnx_classifier_matches_sklearn(zoo, frame, kind, target, zipmap):
    path = zoo.onnx(kind, target, zipmap=zipmap)
    assert ("ZipMap" in mz.onnx_ops(path)) is zipmap  # the conversion option took effect
    sk = zoo.fitted(kind, target)

    raw = load_model(path).predict(frame, FEATURES)

    assert raw.values is None
    assert raw.classes == tuple(sk.classes_.tolist())
    assert [type(c) for c in raw.classes] == [type(c) for c in sk.classes_.tolist()]
    assert raw.proba.dtype == np.float64
    assert raw.proba.shape == (len(frame), len(sk.classes_))
    np.testing.assert_allclose(raw.proba, sk.predict_proba(frame[FEATURES]), atol=1e-5)
    assert raw.labels.tolist() == sk.predict(frame[FEATURES]).tolist()


def test_onnx_binary_classes_are_ints_for_an_int_target(zoo, frame):
    raw = load_model(zoo.onnx("logreg", "label")).predict(frame, FEATURES)
    assert raw.classes == (0, 1)
    assert set(raw.labels.tolist()) == {0, 1}


def test_onnx_mlp_without_zipmap_reports_sklearn_classes(zoo, frame):
    sk = zoo.fitted("mlp", "income")
    raw = load_model(zoo.onnx("mlp", "income", zipmap=False)).predict(frame, FEATURES)
    assert raw.classes == tuple(sk.classes_.tolist())  # got (0, 1), labels are '<=50K'/'>50K'


def test_onnx_mlp_without_zipmap_scores_the_positive_class(zoo, frame, tmp_path):
    shifted = frame.assign(label=frame["label"] + 1)  # classes 1 and 2
    sk = mz.fit(mz.classifier("mlp"), shifted, "label")
    path = mz.save_onnx(sk, shifted, tmp_path / "mlp12.onnx", zipmap=False)
    model = load_model(path)
    target = Target(y=(shifted["label"] == 1).to_numpy().astype(np.int8), classes=(2, 1))

    preds = canonical(model.predict(shifted, FEATURES), "binary", target, model.info,
                      len(shifted))

    np.testing.assert_allclose(preds.score, sk.predict_proba(shifted[FEATURES])[:, 0],
                               atol=1e-5)


# =========================================================================== ONNX regression


@pytest.mark.parametrize("kind", ["linear", "gbr"])
def test_onnx_regression_matches_sklearn(zoo, frame, kind):
    sk = zoo.fitted(kind, "price")
    model = load_model(zoo.onnx(kind, "price"))

    raw = model.predict(frame, FEATURES)

    assert not model.is_classifier
    assert raw.labels is None and raw.proba is None and raw.classes is None
    assert raw.values.dtype == np.float64 and raw.values.shape == (len(frame),)
    np.testing.assert_allclose(raw.values, sk.predict(frame[FEATURES]), rtol=1e-4)


# =========================================================================== ONNX inputs


def test_single_matrix_input_is_fed_by_position(frame, matrix_model):
    pipe, path = matrix_model
    model = load_model(path)

    raw = model.predict(frame, list(mz.NUMERIC))

    expected = pipe.predict_proba(frame[list(mz.NUMERIC)].to_numpy())
    np.testing.assert_allclose(raw.proba, expected, atol=1e-5)
    assert raw.classes == ("<=50K", ">50K")
    assert model.describe_inputs() == {
        "mode": "by-position", "mapping": {"X": "age,hours-per-week,capital-gain"}}


def test_single_matrix_input_refuses_a_feature_count_mismatch(frame, matrix_model):
    model = load_model(matrix_model[1])
    with pytest.raises(ModelOutputError) as err:
        model.predict(frame, ["age", "hours-per-week"])
    assert "3 columns" in str(err.value)
    assert "2 features" in str(err.value)


def test_single_matrix_input_refuses_a_text_column(frame, matrix_model):
    model = load_model(matrix_model[1])
    with pytest.raises(ModelOutputError, match=r"columns sex are not numeric"):
        model.predict(frame, ["age", "hours-per-week", "sex"])


def test_renamed_inputs_are_matched_after_normalising(zoo, frame):
    path = zoo.onnx("logreg", "income")
    assert "hours_per_week" in mz.onnx_input_names(path)  # skl2onnx renamed it
    model = load_model(path)

    model.predict(frame, FEATURES)

    described = model.describe_inputs()
    assert described["mode"] == "by-name"
    assert described["mapping"]["hours_per_week"] == "hours-per-week"
    assert described["mapping"]["sex"] == "sex"


def test_inputs_are_matched_by_name_not_by_order(zoo, frame):
    model = load_model(zoo.onnx("logreg", "income"))
    reordered = frame[list(reversed(frame.columns))]

    raw = model.predict(reordered, list(reversed(FEATURES)))

    expected = zoo.fitted("logreg", "income").predict_proba(frame[FEATURES])
    np.testing.assert_allclose(raw.proba, expected, atol=1e-5)


def test_integer_column_is_fed_to_a_float_input(zoo, frame):
    ints = frame.assign(age=frame["age"].astype(np.int64))
    raw = load_model(zoo.onnx("logreg", "income")).predict(ints, FEATURES)
    expected = zoo.fitted("logreg", "income").predict_proba(frame[FEATURES])
    np.testing.assert_allclose(raw.proba, expected, atol=1e-5)


def test_missing_text_values_are_fed_like_unknown_categories(zoo, frame):
    holes = frame.assign(workclass=frame["workclass"].where(frame.index % 7 != 0))
    assert holes["workclass"].isna().sum() > 0
    raw = load_model(zoo.onnx("logreg", "income")).predict(holes, FEATURES)
    expected = zoo.fitted("logreg", "income").predict_proba(holes[FEATURES])
    np.testing.assert_allclose(raw.proba, expected, atol=1e-5)


def test_missing_column_lists_model_inputs_and_data_columns(zoo, frame):
    model = load_model(zoo.onnx("logreg", "income"))
    features = [f for f in FEATURES if f != "sex"]

    with pytest.raises(ModelOutputError) as err:
        model.predict(frame, features)

    message = str(err.value)
    assert "no column for 'sex'" in message
    assert "Model inputs: age, hours_per_week, capital_gain, workclass, sex" in message
    assert f"Data feature columns: {', '.join(features)}" in message


def test_text_column_fed_to_a_float_input_is_refused(zoo, frame):
    model = load_model(zoo.onnx("logreg", "income"))
    texts = frame.assign(age=frame["age"].astype(str))

    with pytest.raises(ModelOutputError) as err:
        model.predict(texts, FEATURES)

    assert "column 'age'" in str(err.value)
    assert "expects tensor(float)" in str(err.value)


def test_predictions_are_the_same_in_chunks(zoo, frame, monkeypatch):
    model = load_model(zoo.onnx("forest", "grade"))
    whole = model.predict(frame, FEATURES)
    monkeypatch.setattr("evalgate.models.onnx._CHUNK", 64)  # 300 rows → 5 chunks

    chunked = model.predict(frame, FEATURES)

    # onnxruntime may sum tree votes in another order per batch: float32 noise only
    np.testing.assert_allclose(chunked.proba, whole.proba, atol=1e-6)
    np.testing.assert_array_equal(chunked.labels, whole.labels)


# =========================================================================== fail-closed loading


def _onnx_bytes(zoo: mz.Zoo) -> bytes:
    return zoo.onnx("logreg", "income").read_bytes()


def _graphless_onnx() -> bytes:
    import onnx

    return onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], [])).SerializeToString()


def _unknown_op_onnx() -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])
    node = helper.make_node("NoSuchOperator", ["x"], ["y"], domain="example.nowhere")
    graph = helper.make_graph([node], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("example.nowhere", 1)])
    return model.SerializeToString()


BROKEN_FILES = {
    # id: (file name, how to make it (None: leave it missing), a phrase the message must hold)
    "truncated-onnx": ("model.onnx", lambda zoo, p: p.write_bytes(
        _onnx_bytes(zoo)[:len(_onnx_bytes(zoo)) // 2]), "not a valid ONNX file"),
    "text-as-onnx": ("model.onnx", lambda zoo, p: p.write_text("not a model\n"),
                     "not a valid ONNX file"),
    "graphless-onnx": ("model.onnx", lambda zoo, p: p.write_bytes(_graphless_onnx()),
                       "holds no graph"),
    "unknown-op-onnx": ("model.onnx", lambda zoo, p: p.write_bytes(_unknown_op_onnx()),
                        "onnxruntime cannot load the model"),
    "empty-onnx": ("model.onnx", lambda zoo, p: p.write_bytes(b""), "the model file is empty"),
    "missing-onnx": ("model.onnx", None, "model file not found"),
    "missing-unknown-ext": ("model.bin", None, "model file not found"),
    "directory-onnx": ("model.onnx", lambda zoo, p: p.mkdir(), "is a directory"),
    "unknown-ext": ("model.h5", lambda zoo, p: p.write_bytes(b"\x89HDF"),
                    "unknown model format; evalgate reads .onnx, .skops"),
    "text-as-skops": ("model.skops", lambda zoo, p: p.write_text("not a model\n"),
                      "not a valid skops file"),
    "truncated-skops": ("model.skops", lambda zoo, p: p.write_bytes(
        zoo.skops("logreg", "income").read_bytes()[:2000]), "not a valid skops file"),
    "empty-skops": ("model.skops", lambda zoo, p: p.write_bytes(b""), "the model file is empty"),
    "skops-of-a-dict": ("model.skops", lambda zoo, p: mz.save_skops({"weights": [1, 2]}, p),
                        "holds a dict, not a fitted estimator"),
}


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_broken_model_file_raises_model_load_error(zoo, tmp_path, case):
    name, make, phrase = BROKEN_FILES[case]
    path = tmp_path / name
    if make is not None:
        make(zoo, path)

    with pytest.raises(ModelLoadError) as err:
        load_model(path)

    message = str(err.value)
    assert err.value.path == path
    assert message.startswith(f"{path}: ")
    assert phrase in message
    assert "Traceback" not in message and 'File "' not in message


def test_plain_directory_raises_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError) as err:
        load_model(tmp_path)
    assert err.value.path == tmp_path


# =========================================================================== model info


@pytest.mark.parametrize("fmt", ["onnx", "skops"])
def test_model_info_fingerprints_the_file(zoo, fmt):
    path = zoo.onnx("logreg", "income") if fmt == "onnx" else zoo.skops("logreg", "income")
    data = path.read_bytes()

    info = load_model(path).info

    assert info == ModelInfo(path=str(path), sha256=hashlib.sha256(data).hexdigest(),
                             format=fmt, size=len(data))
    entry = info.as_dict()
    signature = entry.pop("signature")
    assert entry == {"path": str(path), "sha256": info.sha256, "format": fmt}
    # what the file declares: its inputs by name (every data column the model was fitted on)
    assert "age" in [i["name"] for i in signature["inputs"]]
    assert signature["classes"] == ["<=50K", ">50K"]


# =========================================================================== skops


@pytest.mark.parametrize("target", ["income", "label", "grade"])
def test_skops_classifier_predicts_like_the_original(zoo, frame, target):
    sk = zoo.fitted("logreg", target)

    raw = load_model(zoo.skops("logreg", target)).predict(frame, FEATURES)

    assert raw.classes == tuple(sk.classes_.tolist())
    assert raw.labels.tolist() == sk.predict(frame[FEATURES]).tolist()
    np.testing.assert_array_equal(raw.proba, sk.predict_proba(frame[FEATURES]))
    assert raw.values is None


def test_skops_regressor_predicts_like_the_original(zoo, frame):
    sk = zoo.fitted("linear", "price")

    raw = load_model(zoo.skops("linear", "price")).predict(frame, FEATURES)

    assert not raw.is_classifier
    np.testing.assert_array_equal(raw.values, sk.predict(frame[FEATURES]))


def test_skops_classifier_without_predict_proba_gives_labels_only(zoo, frame, tmp_path):
    X = frame[list(mz.NUMERIC)]
    svc = Pipeline([("scale", StandardScaler()), ("svc", LinearSVC())]).fit(X, frame["grade"])
    path = mz.save_skops(svc, tmp_path / "svc.skops")

    raw = load_model(path).predict(frame, list(mz.NUMERIC))

    assert raw.proba is None
    assert raw.classes == ("A", "B", "C")
    assert raw.labels.tolist() == svc.predict(X).tolist()


def test_skops_model_takes_its_own_columns_by_name(zoo, frame):
    model = load_model(zoo.skops("logreg", "income"))

    raw = model.predict(frame, [*list(reversed(FEATURES)), "price"])

    expected = zoo.fitted("logreg", "income").predict_proba(frame[FEATURES])
    np.testing.assert_array_equal(raw.proba, expected)
    assert model.describe_inputs() == {"mode": "by-name",
                                       "mapping": {f: f for f in FEATURES}}


def test_skops_model_missing_column_lists_inputs_and_columns(zoo, frame):
    model = load_model(zoo.skops("logreg", "income"))
    with pytest.raises(ModelOutputError) as err:
        model.predict(frame, ["age", "sex"])
    message = str(err.value)
    assert "no column for 'hours-per-week', 'capital-gain', 'workclass'" in message
    assert f"Model inputs: {', '.join(FEATURES)}" in message
    assert "Data feature columns: age, sex" in message


def test_skops_model_prediction_failure_is_model_output_error(zoo, frame):
    model = load_model(zoo.skops("logreg", "income"))
    texts = frame.assign(age="old")
    with pytest.raises(ModelOutputError, match="the model failed to predict: ValueError"):
        model.predict(texts, FEATURES)


def test_skops_tree_model_is_refused_by_default(zoo):
    with pytest.raises(ModelLoadError, match=r"not trusted by default: sklearn\.tree"):
        load_model(zoo.skops("forest", "income"))


def test_skops_tree_model_loads_when_trusted(zoo, frame):
    model = load_model(zoo.skops("forest", "income"), trust_pickle=True)
    expected = zoo.fitted("forest", "income").predict_proba(frame[FEATURES])
    np.testing.assert_array_equal(model.predict(frame, FEATURES).proba, expected)


def test_skops_types_are_trusted_by_name_and_no_further(zoo, frame):
    """Named types are trusted exactly: all of them load the model, one short is refused
    naming only what is left, and a name that is not in the file trusts nothing else."""
    import skops.io as sio

    path = zoo.skops("forest", "income")
    needed = sio.get_untrusted_types(file=path)
    assert needed
    model = load_model(path, trusted_types=needed)
    expected = zoo.fitted("forest", "income").predict_proba(frame[FEATURES])
    np.testing.assert_array_equal(model.predict(frame, FEATURES).proba, expected)
    with pytest.raises(ModelLoadError) as err:
        load_model(path, trusted_types=[*needed[1:], "sklearn.tree._classes.Unheard"])
    text = str(err.value)
    assert f"not trusted by default: {needed[0]};" in text
    assert not any(t in text.split(";")[0] for t in needed[1:])
    assert "--evalgate-trust-type" in text and "trusted_types" in text


def test_trusted_types_come_from_pyproject_and_the_options(tmp_path, zoo) -> None:
    """``[tool.evalgate] trusted_types`` and ``--trust-type`` add up; a bad list is named."""
    import skops.io as sio

    from evalgate.config import read_settings
    from evalgate.engine import Gate
    from evalgate.errors import EvalgateError

    path = zoo.skops("forest", "income")
    needed = list(sio.get_untrusted_types(file=path))
    listed = ", ".join(f'"{t}"' for t in needed)
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\ntrusted_types = []\n")
    none = read_settings(tmp_path).trusted_types
    assert none == ()
    with pytest.raises(ModelLoadError):
        Gate(path, trusted_types=none).model(path)
    assert Gate(path, trusted_types=(*none, *needed)).model(path).info.format == "skops"
    (tmp_path / "pyproject.toml").write_text(f"[tool.evalgate]\ntrusted_types = [{listed}]\n")
    settings = read_settings(tmp_path)
    assert settings.trusted_types == tuple(needed)
    assert Gate(path, trusted_types=settings.trusted_types).model(path).info.format == "skops"
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\ntrusted_types = \"all\"\n")
    with pytest.raises(EvalgateError, match=r"trusted_types: a list of type names"):
        read_settings(tmp_path)


# =========================================================================== pickle / joblib


@pytest.mark.parametrize("suffix", [".joblib", ".pkl", ".pickle"])
def test_pickle_is_refused_without_trust(zoo, suffix):
    path = zoo.pickled("logreg", "income", suffix)
    with pytest.raises(ModelLoadError) as err:
        load_model(path)
    assert err.value.path == path
    assert "--evalgate-trust-pickle" in str(err.value)


class _Booby:
    """Unpickling this creates a directory: proof that the pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_refused_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "pickle-ran"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Booby(marker)))

    with pytest.raises(ModelLoadError):
        load_model(path)

    assert not marker.exists()


@pytest.mark.parametrize("suffix, fmt", [(".joblib", "joblib"), (".pkl", "pickle")])
def test_trusted_pickle_loads_and_predicts(zoo, frame, suffix, fmt):
    model = load_model(zoo.pickled("logreg", "grade", suffix), trust_pickle=True)

    raw = model.predict(frame, FEATURES)

    expected = zoo.fitted("logreg", "grade").predict_proba(frame[FEATURES])
    np.testing.assert_array_equal(raw.proba, expected)
    assert model.info.format == fmt


def test_trusted_garbage_pickle_raises_model_load_error(tmp_path):
    path = tmp_path / "model.joblib"
    path.write_bytes(b"this is not a pickle")
    with pytest.raises(ModelLoadError, match="cannot unpickle the model"):
        load_model(path, trust_pickle=True)


# =========================================================================== fake model


def test_fake_model_counts_calls_and_passes_the_frame(frame):
    seen = []

    def fn(f: pd.DataFrame) -> RawPrediction:
        seen.append(len(f))
        return RawPrediction(values=np.zeros(len(f)))

    model = FakeModel(fn, name="zero")
    assert model.calls == 0

    model.predict(frame, FEATURES)
    raw = model.predict(frame.head(10), FEATURES)

    assert model.calls == 2
    assert seen == [len(frame), 10]
    assert raw.values.shape == (10,)
    assert model.info.path == "<zero>" and model.info.format == "fake"
    assert model.describe_inputs()["mode"] == "fake"


# =========================================================================== canonical predictions

INFO = ModelInfo(path="<model>", sha256="0" * 64, format="fake", size=0)
INCOME = Target(y=np.array([1, 0, 1, 0, 0], dtype=np.int8), classes=("<=50K", ">50K"))
PROBA = np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6], [0.9, 0.1], [0.6, 0.4]])


def test_binary_from_string_labels_scores_the_positive_label():
    raw = RawPrediction(labels=np.array([">50K", "<=50K", ">50K", "<=50K", "<=50K"]),
                        proba=PROBA, classes=("<=50K", ">50K"))

    preds = canonical(raw, "binary", INCOME, INFO, 5)

    assert preds.label.tolist() == [1, 0, 1, 0, 0]
    np.testing.assert_array_equal(preds.score, PROBA[:, 1])


def test_binary_score_is_the_positive_column_when_it_is_listed_first():
    raw = RawPrediction(labels=np.array([">50K", "<=50K", ">50K", "<=50K", "<=50K"]),
                        proba=PROBA[:, ::-1], classes=(">50K", "<=50K"))

    preds = canonical(raw, "binary", INCOME, INFO, 5)

    np.testing.assert_array_equal(preds.score, PROBA[:, 1])
    assert preds.label.tolist() == [1, 0, 1, 0, 0]


def test_binary_labels_meet_across_int_and_float_types():
    target = Target(y=np.array([1, 0, 1], dtype=np.int8), classes=(0, 1))
    raw = RawPrediction(labels=np.array([1.0, 0.0, 0.0]), proba=PROBA[:3],
                        classes=(np.int64(0), np.int64(1)))

    preds = canonical(raw, "binary", target, INFO, 3)

    assert preds.label.tolist() == [1, 0, 0]
    np.testing.assert_array_equal(preds.score, PROBA[:3, 1])


def test_binary_probabilities_only_are_thresholded_at_one_half():
    raw = RawPrediction(proba=PROBA, classes=("<=50K", ">50K"))
    preds = canonical(raw, "binary", INCOME, INFO, 5)
    assert preds.label.tolist() == [1, 0, 1, 0, 0]


def test_binary_model_without_the_positive_label_is_refused():
    raw = RawPrediction(proba=PROBA, classes=("no", "yes"))
    with pytest.raises(ModelOutputError) as err:
        canonical(raw, "binary", INCOME, INFO, 5)
    assert "('no', 'yes') do not include the positive label '>50K'" in str(err.value)


def test_binary_suite_refuses_a_three_class_model():
    raw = RawPrediction(proba=np.full((5, 3), 1 / 3), classes=("<=50K", ">50K", "other"))
    with pytest.raises(ModelOutputError, match="binary, but the model has 3 classes"):
        canonical(raw, "binary", INCOME, INFO, 5)


def test_nan_probabilities_name_how_many_rows_and_the_first():
    proba = PROBA.copy()
    proba[2, 0] = np.nan
    proba[4, 1] = np.nan
    raw = RawPrediction(proba=proba, classes=("<=50K", ">50K"))

    with pytest.raises(ModelOutputError) as err:
        canonical(raw, "binary", INCOME, INFO, 5)

    assert "NaN or infinite probabilities for 2 of 5 rows (first at data row 3)" in str(err.value)


def test_infinite_regression_values_are_refused():
    target = Target(y=np.zeros(4), classes=None)
    raw = RawPrediction(values=np.array([1.0, np.inf, 2.0, -np.inf]))
    with pytest.raises(ModelOutputError, match=r"2 of 4 rows \(first at data row 2\)"):
        canonical(raw, "regression", target, INFO, 4)


@pytest.mark.parametrize("raw, task", [
    (RawPrediction(proba=PROBA[:4], classes=("<=50K", ">50K")), "binary"),
    (RawPrediction(labels=np.array([">50K"] * 4), classes=("<=50K", ">50K")), "binary"),
    (RawPrediction(values=np.zeros(4)), "regression"),
], ids=["proba", "labels", "values"])
def test_wrong_row_count_is_refused(raw, task):
    target = INCOME if task == "binary" else Target(y=np.zeros(5), classes=None)
    with pytest.raises(ModelOutputError, match="returned 4 predictions for 5 rows"):
        canonical(raw, task, target, INFO, 5)


def test_regression_suite_refuses_a_classifier():
    raw = RawPrediction(labels=np.array([">50K"] * 5), proba=PROBA, classes=("<=50K", ">50K"))
    target = Target(y=np.zeros(5), classes=None)
    with pytest.raises(ModelOutputError, match="task is regression, but the model is a "
                                               "classifier"):
        canonical(raw, "regression", target, INFO, 5)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_classification_suite_refuses_a_regressor(task):
    with pytest.raises(ModelOutputError, match=rf"task is {task}, .*\(is it a regressor\?\)"):
        canonical(RawPrediction(values=np.zeros(5)), task, INCOME, INFO, 5)


def test_multiclass_table_follows_the_data_classes_then_model_only_classes():
    data = Target(y=np.array([0, 1, 2, 0]), classes=("A", "B", "C"))
    proba = np.array([[0.1, 0.6, 0.2, 0.1],   # columns in the model's order: D, A, B, C
                      [0.1, 0.2, 0.6, 0.1],
                      [0.7, 0.1, 0.1, 0.1],
                      [0.1, 0.1, 0.1, 0.7]])
    raw = RawPrediction(labels=np.array(["A", "B", "D", "C"]), proba=proba,
                        classes=("D", "A", "B", "C"))

    universe = class_universe(data, [raw])
    preds = canonical(raw, "multiclass", Target(y=data.y, classes=universe), INFO, 4)

    assert universe == ("A", "B", "C", "D")
    assert preds.label.tolist() == [0, 1, 3, 2]
    np.testing.assert_array_equal(preds.score, proba[:, [1, 2, 3, 0]])


def test_multiclass_label_outside_the_universe_is_refused():
    data = Target(y=np.array([0, 1, 2]), classes=("A", "B", "C"))
    raw = RawPrediction(labels=np.array(["A", "Z", "C"]))
    with pytest.raises(ModelOutputError, match=r"labels the suite does not know: .*'Z'"):
        canonical(raw, "multiclass", data, INFO, 3)


def test_multiclass_unknown_label_message_shows_plain_labels():
    data = Target(y=np.array([0, 1, 2]), classes=("A", "B", "C"))
    raw = RawPrediction(labels=np.array(["A", "Z", "C"]))
    with pytest.raises(ModelOutputError) as err:
        canonical(raw, "multiclass", data, INFO, 3)
    assert str(err.value).endswith("labels the suite does not know: 'Z'")


def test_label_indices_with_string_classes_are_read_as_indices() -> None:
    """Some converters emit the argmax index as the label while the classes are strings."""
    from evalgate.data import Target
    from evalgate.errors import ModelOutputError
    from evalgate.models import ModelInfo, RawPrediction
    from evalgate.models.predictions import canonical

    info = ModelInfo(path="m.onnx", sha256="0" * 64, format="onnx", size=1)
    target = Target(y=np.array([0, 1, 1], dtype=np.int8), classes=("<=50K", ">50K"))
    raw = RawPrediction(labels=np.array([0, 1, 1]), proba=np.array(
        [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]), classes=("<=50K", ">50K"))
    preds = canonical(raw, "binary", target, info, 3)
    assert preds.label.tolist() == [0, 1, 1]
    bad = RawPrediction(labels=np.array(["a", "b", "b"]), proba=raw.proba, classes=raw.classes)
    with pytest.raises(ModelOutputError, match="not among its classes"):
        canonical(bad, "binary", target, info, 3)
