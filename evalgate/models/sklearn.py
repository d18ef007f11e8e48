"""scikit-learn models: through skops' safe format, or pickle/joblib when explicitly trusted."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelLoadError, ModelOutputError
from ._calls import call_with_limit
from .base import ModelInfo, RawPrediction, file_info


class SklearnModel:
    """A fitted scikit-learn estimator (usually a Pipeline) fed a DataFrame."""

    def __init__(self, info: ModelInfo, estimator: Any):
        self.info = info
        self.estimator = estimator
        if not hasattr(estimator, "predict"):
            raise ModelLoadError(info.path, f"the file holds a {type(estimator).__name__}, "
                                            f"not a fitted estimator with predict()")
        self._columns: list[str] | None = None
        self.info = dataclasses.replace(info, signature=self._signature())

    def _signature(self) -> dict[str, Any]:
        """The estimator's type, the columns it was fitted on and its classes, as it
        declares them (``None`` where it does not)."""
        est = self.estimator
        names = getattr(est, "feature_names_in_", None)
        classes = getattr(est, "classes_", None)
        return {"estimator": f"{type(est).__module__}.{type(est).__qualname__}",
                "inputs": None if names is None else [{"name": str(n)} for n in names],
                "n_features_in": (int(est.n_features_in_) if hasattr(est, "n_features_in_")
                                  else None),
                "outputs": [m for m in ("predict", "predict_proba") if hasattr(est, m)],
                "classes": None if classes is None else [str(c) for c in classes]}

    @classmethod
    def load_skops(cls, path: Path, *, trust: bool = False,
                   types: Sequence[str] = ()) -> SklearnModel:
        raw, info = file_info(path, "skops")
        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(data=raw)
        except Exception as exc:
            raise ModelLoadError(path, f"not a valid skops file: {type(exc).__name__}: {exc}"
                                 ) from None
        left = [t for t in untrusted if t not in set(types)]
        if left and not trust:
            shown = ", ".join(left)
            raise ModelLoadError(path, f"the skops file holds types that are not trusted by "
                                       f"default: {shown}; if you trust the file, trust exactly "
                                       f"these with --evalgate-trust-type T (evalgate run: "
                                       f"--trust-type T; or [tool.evalgate] trusted_types = "
                                       f"[...]), or any type with --evalgate-trust-pickle; or "
                                       f"convert the model to ONNX")
        try:
            estimator = sio.loads(raw, trusted=untrusted or None)
        except Exception as exc:
            raise ModelLoadError(path, f"skops cannot load the model: {type(exc).__name__}: "
                                       f"{exc}") from None
        return cls(info, estimator)

    @classmethod
    def load_pickle(cls, path: Path) -> SklearnModel:
        _raw, info = file_info(path, "joblib" if path.suffix == ".joblib" else "pickle")
        import joblib

        try:
            estimator = joblib.load(path)
        except Exception as exc:
            raise ModelLoadError(path, f"cannot unpickle the model: {type(exc).__name__}: "
                                       f"{exc}") from None
        return cls(info, estimator)

    def _bind(self, features: Sequence[str]) -> list[str]:
        if self._columns is None:
            wanted = getattr(self.estimator, "feature_names_in_", None)
            if wanted is None:
                self._columns = list(features)
            else:
                missing = [str(c) for c in wanted if c not in features]
                if missing:
                    raise ModelOutputError(self.info.path,
                        f"model inputs do not match the data: no column for "
                        f"{', '.join(repr(m) for m in missing)}. Model inputs: "
                        f"{', '.join(map(str, wanted))}. Data feature columns: "
                        f"{', '.join(features)}")
                self._columns = [str(c) for c in wanted]
        return self._columns

    def predict(self, frame: pd.DataFrame, features: Sequence[str]) -> RawPrediction:
        X = frame[self._bind(features)]
        est = self.estimator
        path = self.info.path
        try:
            labels = np.asarray(call_with_limit(lambda: est.predict(X), path))
            if hasattr(est, "predict_proba") and hasattr(est, "classes_"):
                proba = np.asarray(call_with_limit(lambda: est.predict_proba(X), path),
                                   dtype=np.float64)
                return RawPrediction(labels=labels, proba=proba,
                                     classes=tuple(np.asarray(est.classes_).tolist()))
        except ModelOutputError:  # the time limit: already one clear message
            raise
        except Exception as exc:
            raise ModelOutputError(self.info.path, f"the model failed to predict: "
                                                   f"{type(exc).__name__}: {exc}") from None
        if hasattr(est, "classes_"):
            return RawPrediction(labels=labels, classes=tuple(np.asarray(est.classes_).tolist()))
        return RawPrediction(values=labels.astype(np.float64))

    def timed(self, rows: pd.DataFrame, features: Sequence[str], batch_size: int
              ) -> list[Callable[[], float]]:
        """Calls of the estimator on each ``batch_size`` consecutive rows, as :meth:`predict`
        makes them, each returning the seconds the estimator's own calls took — timed in the
        thread that runs them, so the hand-over to it (the time limit's) is not counted."""
        X = rows[self._bind(features)]
        est = self.estimator
        methods = [est.predict] + ([est.predict_proba] if hasattr(est, "predict_proba")
                                   and hasattr(est, "classes_") else [])
        clock = time.perf_counter

        def call_of(batch: pd.DataFrame) -> Callable[[], float]:
            def timed_in_thread(method: Callable[[pd.DataFrame], Any]) -> float:
                began = clock()
                method(batch)
                return clock() - began

            def call() -> float:
                try:
                    seconds = 0.0
                    for method in methods:
                        seconds += call_with_limit(partial(timed_in_thread, method),
                                                   self.info.path)
                    return seconds
                except ModelOutputError:  # the time limit: already one clear message
                    raise
                except Exception as exc:
                    raise ModelOutputError(self.info.path, f"the model failed to predict: "
                                                           f"{type(exc).__name__}: {exc}"
                                           ) from None
            return call

        return [call_of(X.iloc[i:i + batch_size]) for i in range(0, len(X), batch_size)]

    def with_threads(self, threads: int) -> SklearnModel:
        """Itself: its runtime has no thread setting evalgate pins."""
        return self

    def describe_inputs(self) -> dict[str, Any]:
        return {"mode": "by-name", "mapping": {c: c for c in self._columns or []}}
