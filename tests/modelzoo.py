"""Tiny scikit-learn models on small synthetic data, saved as ONNX, skops and joblib.

Everything is seeded and small (a few hundred rows), so a test module can train and convert
what it needs once (module- or session-scoped fixtures) in well under a second per model.

The synthetic frame mimics the shipped Adult example: numeric columns with hyphenated names
(``hours-per-week``, which skl2onnx renames ``hours_per_week``), string categorical columns,
and one target column per task:

- ``income``  — binary, string labels ``"<=50K"`` / ``">50K"``;
- ``label``   — binary, integers 0 / 1;
- ``grade``   — multiclass, ``"A"`` / ``"B"`` / ``"C"``;
- ``price``   — regression, floats around 200 (far from zero, for relative comparisons).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ("age", "hours-per-week", "capital-gain")
CATEGORICAL = ("workclass", "sex")
FEATURES = NUMERIC + CATEGORICAL
TARGETS = ("income", "label", "grade", "price")
POSITIVE = ">50K"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def make_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Features plus one target column per task; numerics are float64, text is ``str``."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(np.float64)
    hours = rng.normal(40, 10, n).round(1)
    gain = np.where(rng.random(n) < 0.2, rng.integers(1, 50, n) * 100.0, 0.0)
    workclass = rng.choice(["Private", "Self-emp", "Gov"], n)
    sex = rng.choice(["Male", "Female"], n)
    z = (0.05 * (age - 45) + 0.1 * (hours - 40) + 0.0005 * gain
         + 0.8 * (sex == "Male") - 0.5 * (workclass == "Gov"))
    noisy = z + rng.normal(0, 1, n)
    income = np.where(noisy > 0, ">50K", "<=50K")
    grade = np.select([noisy < -0.7, noisy < 0.7], ["C", "B"], "A")
    price = 200 + 2 * (age - 45) + 3 * (hours - 40) + 0.01 * gain + 15 * (sex == "Male") \
        + rng.normal(0, 5, n)
    return pd.DataFrame({
        "age": age, "hours-per-week": hours, "capital-gain": gain,
        "workclass": pd.array(workclass, dtype="str"), "sex": pd.array(sex, dtype="str"),
        "income": pd.array(income, dtype="str"), "label": (noisy > 0).astype(np.int64),
        "grade": pd.array(grade, dtype="str"), "price": price,
    })


# --------------------------------------------------------------------------- estimators


def _preprocess(scale: bool) -> ColumnTransformer:
    # No scaler before trees: ONNX compares thresholds in float32.
    numeric: Any = StandardScaler() if scale else "passthrough"
    return ColumnTransformer([
        ("num", numeric, list(NUMERIC)),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORICAL)),
    ])


def classifier(kind: str = "logreg") -> Pipeline:
    """An unfitted classification pipeline: ``logreg``, ``forest`` or ``mlp``."""
    if kind == "logreg":
        return Pipeline([("pre", _preprocess(scale=True)),
                         ("clf", LogisticRegression(max_iter=1000))])
    if kind == "forest":
        return Pipeline([("pre", _preprocess(scale=False)),
                         ("clf", RandomForestClassifier(n_estimators=10, max_depth=4,
                                                        random_state=0))])
    if kind == "mlp":
        return Pipeline([("pre", _preprocess(scale=True)),
                         ("clf", MLPClassifier(hidden_layer_sizes=(8,), max_iter=2000,
                                               random_state=0))])
    raise ValueError(f"unknown classifier kind {kind!r}")


def regressor(kind: str = "linear") -> Pipeline:
    """An unfitted regression pipeline on unscaled numerics: ``linear`` or ``gbr``."""
    if kind == "linear":
        return Pipeline([("pre", _preprocess(scale=False)), ("reg", LinearRegression())])
    if kind == "gbr":
        return Pipeline([("pre", _preprocess(scale=False)),
                         ("reg", GradientBoostingRegressor(n_estimators=30, max_depth=3,
                                                           random_state=0))])
    raise ValueError(f"unknown regressor kind {kind!r}")


def fit(pipe: Pipeline, frame: pd.DataFrame, target: str,
        features: Sequence[str] = FEATURES) -> Pipeline:
    return pipe.fit(frame[list(features)], frame[target])


# --------------------------------------------------------------------------- saving


def initial_types(frame: pd.DataFrame, features: Sequence[str] = FEATURES) -> list[tuple]:
    """One ONNX input per column: float for numerics, string for text."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [(c, FloatTensorType([None, 1]) if pd.api.types.is_numeric_dtype(frame[c])
             else StringTensorType([None, 1])) for c in features]


def _convert(model: Any, types: list[tuple], options: dict | None) -> Any:
    from skl2onnx import convert_sklearn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return convert_sklearn(model, initial_types=types, target_opset=TARGET_OPSET,
                               options=options, name="evalgate-test")


def save_onnx(pipe: Pipeline, frame: pd.DataFrame, path: Path, *, zipmap: bool = True,
              features: Sequence[str] = FEATURES) -> Path:
    """Convert a fitted pipeline with one input per column; ``zipmap=False`` keeps the
    probabilities a tensor."""
    options = None if zipmap else {id(pipe.steps[-1][1]): {"zipmap": False}}
    onx = _convert(pipe, initial_types(frame, features), options)
    path.write_bytes(onx.SerializeToString())
    return path


def save_onnx_matrix(model: Any, n_features: int, path: Path, *, zipmap: bool = True,
                     name: str = "X") -> Path:
    """Convert a model fitted on a numeric numpy array: one input ``[None, n_features]``."""
    from skl2onnx.common.data_types import FloatTensorType

    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    options = None if zipmap else {id(final): {"zipmap": False}}
    onx = _convert(model, [(name, FloatTensorType([None, n_features]))], options)
    path.write_bytes(onx.SerializeToString())
    return path


def save_skops(model: Any, path: Path) -> Path:
    sio.dump(model, path)
    return path


def save_joblib(model: Any, path: Path) -> Path:
    joblib.dump(model, path)
    return path


def onnx_ops(path: Path) -> set[str]:
    """The operator types in an ONNX file's graph."""
    import onnx

    return {n.op_type for n in onnx.load(str(path)).graph.node}


def onnx_input_names(path: Path) -> list[str]:
    import onnx

    return [i.name for i in onnx.load(str(path)).graph.input]


class Zoo:
    """Lazily trains and saves models into one folder, each at most once.

    Meant to live in a module- or session-scoped fixture::

        @pytest.fixture(scope="module")
        def zoo(tmp_path_factory):
            return Zoo(tmp_path_factory.mktemp("zoo"))
    """

    def __init__(self, folder: Path, frame: pd.DataFrame | None = None):
        self.folder = Path(folder)
        self.frame = make_frame() if frame is None else frame
        self._fitted: dict[tuple[str, str], Pipeline] = {}
        self._files: dict[tuple[Any, ...], Path] = {}

    def fitted(self, kind: str, target: str) -> Pipeline:
        """A pipeline of ``kind`` (see :func:`classifier`, :func:`regressor`) fit on ``target``."""
        key = (kind, target)
        if key not in self._fitted:
            pipe = regressor(kind) if kind in ("linear", "gbr") else classifier(kind)
            self._fitted[key] = fit(pipe, self.frame, target)
        return self._fitted[key]

    def onnx(self, kind: str, target: str, *, zipmap: bool = True) -> Path:
        key = ("onnx", kind, target, zipmap)
        if key not in self._files:
            path = self.folder / f"{kind}-{target}-{'zipmap' if zipmap else 'tensor'}.onnx"
            self._files[key] = save_onnx(self.fitted(kind, target), self.frame, path,
                                         zipmap=zipmap)
        return self._files[key]

    def skops(self, kind: str, target: str) -> Path:
        key = ("skops", kind, target)
        if key not in self._files:
            self._files[key] = save_skops(self.fitted(kind, target),
                                          self.folder / f"{kind}-{target}.skops")
        return self._files[key]

    def pickled(self, kind: str, target: str, suffix: str = ".joblib") -> Path:
        key = ("pickle", kind, target, suffix)
        if key not in self._files:
            self._files[key] = save_joblib(self.fitted(kind, target),
                                           self.folder / f"{kind}-{target}{suffix}")
        return self._files[key]
