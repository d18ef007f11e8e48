"""A pickled test model that takes its time: every call sleeps. Only loadable with
--evalgate-trust-pickle."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd


class Sleepy:
    """A binary classifier on ``age`` that sleeps ``seconds`` per call."""

    classes_ = np.array(["<=50K", ">50K"])

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        time.sleep(self.seconds)
        age = pd.to_numeric(X["age"], errors="coerce").fillna(40).to_numpy(dtype=float)
        p = 1 / (1 + np.exp(-(age - 40) / 10))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


class DiesOnce:
    """A binary classifier on ``age`` whose process dies (``os._exit``) the first ``times``
    times it predicts, across processes: each death first claims the file ``marker.K``
    (created exclusively, so two workers racing cannot both take the same death); for the
    Dask engine's fault tests."""

    classes_ = np.array(["<=50K", ">50K"])

    def __init__(self, marker: str, times: int = 1) -> None:
        self.marker = marker
        self.times = times

    def deaths(self) -> int:
        return sum(Path(f"{self.marker}.{k}").exists() for k in range(self.times))

    def _maybe_die(self) -> None:
        import os

        for k in range(self.times):
            try:
                fd = os.open(f"{self.marker}.{k}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os._exit(1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._maybe_die()
        age = pd.to_numeric(X["age"], errors="coerce").fillna(40).to_numpy(dtype=float)
        p = 1 / (1 + np.exp(-(age - 40) / 10))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
