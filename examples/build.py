"""Build the shipped UCI Adult example for evalgate, reproducibly.

Run from anywhere (paths are relative to this file's folder)::

    pip install -e '.[build]'
    python examples/build.py

Inputs (committed, gzip-compressed copies of the raw UCI files):

    data/adult.data.gz   32,561 rows, training split
    data/adult.test.gz   16,281 rows, test split (junk first line, labels end in '.')

Outputs:

    data/adult_test.csv.gz   cleaned test split, all 15 columns (incl. sex, race, fnlwgt)
    data/adult_train.csv.gz  cleaned training split, the same columns (the drift reference)
    data/batch_2024_05.csv.gz, batch_2024_06.csv.gz   production batches for evalgate monitor
    models/champion.onnx     StandardScaler + OneHotEncoder -> LogisticRegression
    models/candidate.onnx    passthrough + OneHotEncoder   -> HistGradientBoostingClassifier
    manifest.json            sha256/size of every file, library versions, seeds, features,
                             ONNX input names, test metrics

Every output is byte-deterministic for a given platform and set of library versions: gzip
headers carry mtime=0, the ONNX graphs carry fixed names/doc strings, and training runs with
fixed seeds on one thread (multi-threaded reductions may otherwise change the last bits).
Each ONNX model is checked against its scikit-learn pipeline on the test split before the
script succeeds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import skl2onnx
import sklearn
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
MODELS = HERE / "models"

RAW_TRAIN = DATA / "adult.data.gz"
RAW_TEST = DATA / "adult.test.gz"
TEST_CSV = DATA / "adult_test.csv.gz"
TRAIN_CSV = DATA / "adult_train.csv.gz"  # the drift family's reference
BATCH_OK = DATA / "batch_2024_05.csv.gz"        # a production batch like the gate's data
BATCH_DRIFTED = DATA / "batch_2024_06.csv.gz"   # one from an older, longer-working population
BATCH_ROWS = 5000
CHAMPION = MODELS / "champion.onnx"
CANDIDATE = MODELS / "candidate.onnx"
MANIFEST = HERE / "manifest.json"

# UCI column names, hyphens kept.
COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]
TARGET = "income"
LABELS = ["<=50K", ">50K"]
POSITIVE = ">50K"
# fnlwgt is a census sampling weight, not a feature.
NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = [
    "workclass", "education", "marital-status", "occupation", "relationship",
    "race", "sex", "native-country",
]
FEATURES = [c for c in COLUMNS if c in NUMERIC or c in CATEGORICAL]  # UCI order

N_TRAIN, N_TEST = 32_561, 16_281
SEED = 0
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}

LR_PARAMS = dict(max_iter=2000, random_state=SEED)
HGB_PARAMS = dict(
    max_iter=250, learning_rate=0.1, max_leaf_nodes=31, early_stopping=False, random_state=SEED
)

# Agreement required between each ONNX model and its scikit-learn pipeline.
MAX_PROBA_DIFF = 1e-4
MIN_LABEL_AGREEMENT = 0.999


# --------------------------------------------------------------------------- data


def write_batches(test: pd.DataFrame) -> None:
    """Two production batches for ``evalgate monitor``, drawn from the test split (rows the
    models were not trained on): one as it is (like the gate's data), one from a population
    four years older working four more hours a week (drifted)."""
    rng = np.random.default_rng(SEED)
    picked = rng.choice(len(test), 2 * BATCH_ROWS, replace=False)
    ok = test.iloc[np.sort(picked[:BATCH_ROWS])]
    drifted = test.iloc[np.sort(picked[BATCH_ROWS:])].copy()
    drifted["age"] = np.minimum(drifted["age"] + 4, 90)
    drifted["hours-per-week"] = np.minimum(drifted["hours-per-week"] + 4, 99)
    for frame, path in ((ok, BATCH_OK), (drifted, BATCH_DRIFTED)):
        frame.to_csv(path, index=False, lineterminator="\n",
                     compression={"method": "gzip", "mtime": 0})


def read_raw(path: Path, *, junk_header: bool) -> pd.DataFrame:
    """Read one raw UCI file: no header, ', '-separated, '?' kept as a category."""
    text = gzip.decompress(path.read_bytes()).decode("ascii")
    if junk_header:
        first, text = text.split("\n", 1)
        if not first.startswith("|"):
            raise SystemExit(f"{path.name}: expected a junk first line, got {first!r}")
    df = pd.read_csv(
        io.StringIO(text),
        header=None,
        names=COLUMNS,
        skipinitialspace=True,
        keep_default_na=False,  # '?' and everything else stay plain strings
        na_values=[],
        dtype={c: str for c in COLUMNS if c not in [*NUMERIC, "fnlwgt"]},
    )
    for col in df.columns:
        if df[col].dtype.kind in "iu":
            df[col] = df[col].astype("int64")
        else:
            df[col] = df[col].astype(object).str.strip()
    df[TARGET] = df[TARGET].str.rstrip(".")  # test labels are '<=50K.' / '>50K.'
    return df


def check_frame(df: pd.DataFrame, n_rows: int, name: str) -> None:
    problems = []
    if len(df) != n_rows:
        problems.append(f"{len(df)} rows, expected {n_rows}")
    if df.isna().any().any():
        problems.append("contains NaN")
    labels = set(df[TARGET].unique())
    if labels != set(LABELS):
        problems.append(f"labels {sorted(labels)}, expected {LABELS}")
    ints = [*NUMERIC, "fnlwgt"]
    if not all(df[c].dtype == np.int64 for c in ints):
        problems.append(f"non-integer numeric columns: {df[ints].dtypes.to_dict()}")
    if problems:
        raise SystemExit(f"{name}: " + "; ".join(problems))


# --------------------------------------------------------------------------- models


def make_champion() -> Pipeline:
    pre = ColumnTransformer(
        [
            # Unscaled numerics (capital-gain up to 99,999) keep lbfgs from converging.
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(**LR_PARAMS))])


def make_candidate() -> Pipeline:
    pre = ColumnTransformer(
        [
            # No scaler before trees: ONNX compares thresholds in float32, and scaled
            # thresholds then disagree with scikit-learn's float64 ones near split points.
            # Raw integer features and x.5 thresholds are exact in float32.
            ("num", "passthrough", NUMERIC),
            # One-hot, not HGB's native categorical_features: skl2onnx converts native
            # categorical splits without error but wrongly.
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ]
    )
    return Pipeline([("pre", pre), ("clf", HistGradientBoostingClassifier(**HGB_PARAMS))])


def fit(pipe: Pipeline, train: pd.DataFrame) -> Pipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # fail, don't ship unconverged
        # One thread: parallel float reductions would make the bits depend on core count.
        with threadpool_limits(limits=1):
            pipe.fit(train[FEATURES], train[TARGET])
    if list(pipe.classes_) != LABELS:
        raise SystemExit(f"unexpected classes {list(pipe.classes_)}")
    return pipe


def export(pipe: Pipeline, name: str, doc: str, path: Path) -> bytes:
    initial_types = [
        (c, FloatTensorType([None, 1]) if c in NUMERIC else StringTensorType([None, 1]))
        for c in FEATURES
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = to_onnx(
            pipe,
            initial_types=initial_types,
            target_opset=TARGET_OPSET,
            name=name,  # default is a random uuid4 -> non-deterministic bytes
        )
    # skl2onnx emits opset_import in set-iteration order (varies with PYTHONHASHSEED): sort it.
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    for domain, version in opsets:
        model.opset_import.add(domain=domain, version=version)
    model.doc_string = doc
    model.graph.doc_string = doc
    model.producer_name = "skl2onnx"
    model.producer_version = skl2onnx.__version__
    model.domain = "evalgate.examples"
    model.model_version = 1
    onnx.checker.check_model(model)
    data = model.SerializeToString(deterministic=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def norm(name: str) -> str:
    """The loader's tolerant name matching: lowercase, non-alphanumerics -> '_'."""
    return re.sub(r"[^0-9a-z]", "_", name.lower())


def input_mapping(session: ort.InferenceSession) -> dict[str, str]:
    """Map each feature column to its ONNX input name."""
    by_norm = {norm(i.name): i.name for i in session.get_inputs()}
    missing = [c for c in FEATURES if norm(c) not in by_norm]
    if missing or len(by_norm) != len(FEATURES):
        raise SystemExit(f"ONNX inputs {list(by_norm.values())} do not match features {FEATURES}")
    return {c: by_norm[norm(c)] for c in FEATURES}


def onnx_predict(session: ort.InferenceSession, mapping: dict[str, str], df: pd.DataFrame):
    feeds = {
        mapping[c]: (
            df[c].to_numpy(np.float32) if c in NUMERIC else df[c].to_numpy(object)
        ).reshape(-1, 1)
        for c in FEATURES
    }
    label, proba = session.run(None, feeds)  # ZipMap: list of {label: probability}
    p = np.array([row[POSITIVE] for row in proba], dtype=np.float64)
    return np.asarray(label), p


def verify(name: str, pipe: Pipeline, model_bytes: bytes, test: pd.DataFrame):
    """Compare ONNX with scikit-learn on the test split; return (mapping, session, p_onnx)."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    mapping = input_mapping(session)
    label_onnx, p_onnx = onnx_predict(session, mapping, test)
    p_skl = pipe.predict_proba(test[FEATURES])[:, LABELS.index(POSITIVE)]
    label_skl = pipe.predict(test[FEATURES])
    max_diff = float(np.max(np.abs(p_onnx - p_skl)))
    agreement = float(np.mean(label_onnx == label_skl))
    print(f"{name}: max |p_onnx - p_sklearn| = {max_diff:.2e}, label agreement = {agreement:.5f}")
    if not (max_diff < MAX_PROBA_DIFF and agreement >= MIN_LABEL_AGREEMENT):
        raise SystemExit(
            f"{name}: ONNX disagrees with scikit-learn (max diff {max_diff:.3g} >= "
            f"{MAX_PROBA_DIFF} or agreement {agreement:.5f} < {MIN_LABEL_AGREEMENT})"
        )
    return mapping, session, p_onnx


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 6),
        "accuracy": round(float(accuracy_score(y, p >= 0.5)), 6),
        "log_loss": round(float(log_loss(y, p, labels=[0, 1])), 6),
    }


# --------------------------------------------------------------------------- manifest


def file_entry(path: Path) -> dict:
    data = path.read_bytes()
    return {
        "path": path.relative_to(HERE).as_posix(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def io_signature(session: ort.InferenceSession) -> dict:
    return {
        "inputs": {i.name: i.type for i in session.get_inputs()},
        "outputs": {o.name: o.type for o in session.get_outputs()},
    }


def main() -> None:
    train = read_raw(RAW_TRAIN, junk_header=False)
    test = read_raw(RAW_TEST, junk_header=True)
    check_frame(train, N_TRAIN, RAW_TRAIN.name)
    check_frame(test, N_TEST, RAW_TEST.name)

    # Cleaned test split; fixed mtime and line ending -> same bytes on every OS.
    TEST_CSV.parent.mkdir(parents=True, exist_ok=True)
    test.to_csv(
        TEST_CSV, index=False, lineterminator="\n", compression={"method": "gzip", "mtime": 0}
    )
    train.to_csv(
        TRAIN_CSV, index=False, lineterminator="\n", compression={"method": "gzip", "mtime": 0}
    )
    write_batches(test)

    y_test = (test[TARGET] == POSITIVE).to_numpy(int)
    models = {}
    for key, make, path, doc in [
        ("champion", make_champion, CHAMPION,
         "evalgate example champion: UCI Adult, StandardScaler+OneHotEncoder -> "
         "LogisticRegression. Built by examples/build.py."),
        ("candidate", make_candidate, CANDIDATE,
         "evalgate example candidate: UCI Adult, passthrough+OneHotEncoder -> "
         "HistGradientBoostingClassifier. Built by examples/build.py."),
    ]:
        pipe = fit(make(), train)
        model_bytes = export(pipe, f"adult_{key}", doc, path)
        mapping, session, p = verify(key, pipe, model_bytes, test)
        m = metrics(y_test, p)
        print(
            f"{key}: ROC AUC {m['roc_auc']:.4f}  accuracy {m['accuracy']:.4f}  "
            f"log loss {m['log_loss']:.4f}  ({path.stat().st_size / 1e6:.2f} MB)"
        )
        models[key] = {
            "file": path.relative_to(HERE).as_posix(),
            "estimator": type(pipe[-1]).__name__,
            "params": {k: v for k, v in pipe[-1].get_params().items()
                       if k in (LR_PARAMS if key == "champion" else HGB_PARAMS)},
            "input_names": mapping,
            **io_signature(session),
            "test_metrics": m,
        }

    manifest = {
        "description": "UCI Adult example for evalgate, built by examples/build.py",
        "paths_relative_to": "examples/",
        "files": [
            file_entry(p)
            for p in (RAW_TRAIN, RAW_TEST, TEST_CSV, TRAIN_CSV, BATCH_OK, BATCH_DRIFTED,
                      CHAMPION, CANDIDATE)
        ],
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
        },
        "seeds": {"random_state": SEED},
        "target_opset": TARGET_OPSET,
        "data": {
            "train_rows": N_TRAIN,
            "test_rows": N_TEST,
            "target": TARGET,
            "labels": LABELS,
            "positive_label": POSITIVE,
            "columns": COLUMNS,
        },
        "features": {"numeric": NUMERIC, "categorical": CATEGORICAL, "all": FEATURES},
        "metrics_note": "test split, computed from the ONNX models' P(>50K) with onnxruntime",
        "models": models,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {MANIFEST.relative_to(HERE.parent)}")


if __name__ == "__main__":
    sys.exit(main())
