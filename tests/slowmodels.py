"""A pickled test model that takes its time: every call sleeps. Only loadable with
--evalgate-trust-pickle."""

from __future__ import annotations

import time

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
