"""The model adapter protocol: what identifies a model file (:class:`ModelInfo`), a model's
answer in its own terms (:class:`RawPrediction`), what the engine needs of a model
(:class:`Model`), and reading a model file's bytes safely."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .._files import stat_regular
from ..errors import ModelLoadError


@dataclass(frozen=True)
class ModelInfo:
    """What identifies a model file: where, which bytes, which format."""

    path: str
    sha256: str
    format: str
    size: int
    #: what the file declares it takes and gives (inputs, outputs, classes, producer), in
    #: the verdict as the model's ``signature``; ``None`` where the format declares nothing
    signature: Mapping[str, Any] | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "sha256": self.sha256,
                                 "format": self.format}
        if self.signature is not None:
            entry["signature"] = dict(self.signature)
        return entry


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

    #: text labels may come as a categorical (codes into one string per class)
    labels: np.ndarray | pd.Categorical | None = None
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

    def with_threads(self, threads: int) -> Model:
        """The same model with its runtime pinned to ``threads`` intra-op threads (for
        timing), made once per thread count and reused; itself where the format has no such
        setting."""
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
