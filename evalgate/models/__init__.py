"""Model adapters behind one small protocol.

A model is loaded once (:func:`load_model`) and asked to ``predict(frame, features)``; it
answers a :class:`RawPrediction` in its own labels. Adapters:

- :mod:`.onnx` — ONNX through onnxruntime (``.onnx``);
- :mod:`.sklearn` — scikit-learn through skops (``.skops``); pickle/joblib only when trusted;
- :mod:`.fake` — a model made of a Python function, for tests.

A model file must be a regular file (a FIFO, a device or a folder is refused before it is
opened). Every call into model code runs under a time limit and evalgate's warnings policy
(:mod:`._calls`): :func:`set_call_timeout` sets the per-call limit (default
:data:`DEFAULT_CALL_TIMEOUT_S`), :func:`set_deadline` the gate's deadline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .._files import stat_regular
from ..errors import ModelLoadError
from ._calls import (
    DEFAULT_CALL_TIMEOUT_S,
    call_timeout,
    call_with_limit,
    deadline,
    model_warnings,
    run_onnx,
    set_call_timeout,
    set_deadline,
)

__all__ = ["DEFAULT_CALL_TIMEOUT_S", "Model", "ModelInfo", "RawPrediction", "call_timeout",
           "call_with_limit", "check_model_file", "deadline", "file_info", "load_model",
           "model_warnings", "run_onnx", "set_call_timeout", "set_deadline"]

ONNX_SUFFIXES = (".onnx",)
SKOPS_SUFFIXES = (".skops",)
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


@dataclass(frozen=True)
class ModelInfo:
    """What identifies a model file: where, which bytes, which format."""

    path: str
    sha256: str
    format: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "format": self.format}


@dataclass(frozen=True, eq=False)
class RawPrediction:
    """A model's answer in its own terms.

    Classifiers fill ``labels`` (its label output, may be ``None`` when the model has only
    probabilities), ``proba`` (n × k, float64) and ``classes`` (the label of each column);
    regressors fill ``values``. Nothing here is trusted:
    :func:`evalgate.models.predictions.canonical` refuses probabilities outside [0, 1] or rows
    that do not sum to 1, and labels or classes
    that do not stand for the data's labels.
    """

    labels: np.ndarray | None = None
    proba: np.ndarray | None = None
    classes: tuple[Any, ...] | None = None
    values: np.ndarray | None = None

    @property
    def is_classifier(self) -> bool:
        return self.proba is not None or self.labels is not None


@runtime_checkable
class Model(Protocol):
    """What the runner needs of a model."""

    info: ModelInfo

    def predict(self, frame: pd.DataFrame, features: Sequence[str]) -> RawPrediction:
        """Predict every row of ``frame`` from its ``features`` columns."""
        ...

    def describe_inputs(self) -> dict[str, Any]:
        """How data columns are fed to the model, for the verdict's provenance."""
        ...


def check_model_file(path: Path) -> None:
    """Refuse a path that is missing or not a regular file (a FIFO would block the read)."""
    try:
        found = stat_regular(path)
    except FileNotFoundError:
        raise ModelLoadError(path, "model file not found") from None
    except OSError as exc:
        raise ModelLoadError(path, f"cannot read the model file: {exc.strerror}") from None
    if isinstance(found, str):
        raise ModelLoadError(path, f"is {found}, not a model file (a model must be a regular "
                                   "file)")


def file_info(path: Path, fmt: str) -> tuple[bytes, ModelInfo]:
    check_model_file(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(path, "model file not found") from None
    except IsADirectoryError:
        raise ModelLoadError(path, "is a directory, not a model file") from None
    except OSError as exc:
        raise ModelLoadError(path, f"cannot read the model file: {exc.strerror}") from None
    if not raw:
        raise ModelLoadError(path, "the model file is empty")
    return raw, ModelInfo(path=str(path), sha256=hashlib.sha256(raw).hexdigest(), format=fmt,
                          size=len(raw))


def load_model(path: Path | str, *, trust_pickle: bool = False,
               threads: int | None = None) -> Model:
    """Load a model file by its extension; every failure is a :class:`ModelLoadError`.

    ``threads`` pins the runtime's intra-op threads where the format has them (ONNX). The
    file must be a regular file; loading runs under evalgate's warnings policy."""
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        raise ModelLoadError(path, "is a directory, not a model file")
    if name.endswith(ONNX_SUFFIXES + SKOPS_SUFFIXES + PICKLE_SUFFIXES):
        check_model_file(path)
    with model_warnings():
        return _load(path, name, trust_pickle, threads)


def _load(path: Path, name: str, trust_pickle: bool, threads: int | None) -> Model:
    if name.endswith(ONNX_SUFFIXES):
        from .onnx import OnnxModel

        return OnnxModel.load(path, threads=threads)
    if name.endswith(SKOPS_SUFFIXES):
        from .sklearn import SklearnModel

        return SklearnModel.load_skops(path, trust=trust_pickle)
    if name.endswith(PICKLE_SUFFIXES):
        from .sklearn import SklearnModel

        if not trust_pickle:
            raise ModelLoadError(path, "pickle and joblib files can run arbitrary code when "
                                       "loaded; save the model with skops (.skops) or ONNX, or "
                                       "pass --evalgate-trust-pickle (evalgate run: "
                                       "--trust-pickle) if you trust this file")
        return SklearnModel.load_pickle(path)
    if not path.exists():
        raise ModelLoadError(path, "model file not found")
    raise ModelLoadError(path, "unknown model format; evalgate reads "
                               f"{', '.join(ONNX_SUFFIXES + SKOPS_SUFFIXES + PICKLE_SUFFIXES)}")
