"""Pickled test models with bad manners: one aborts the process on NaN input, one answers
differently every time. Only loadable with --evalgate-trust-pickle."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd


class AbortsOnNaN:
    """A binary classifier on ``age`` that kills its process when it sees a NaN."""

    classes_ = np.array(["<=50K", ">50K"])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        age = pd.to_numeric(X["age"], errors="coerce").to_numpy(dtype=float)
        if np.isnan(age).any():
            os.abort()
        p = 1 / (1 + np.exp(-(age - 40) / 10))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


class Jittery(AbortsOnNaN):
    """Adds fresh noise to every answer: not deterministic. The noise scales the logit (never
    flips its sign), so each answer's labels still agree with its own probabilities."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        age = X["age"].to_numpy(dtype=float)
        z = (age - 40) / 10 * (1 + np.random.default_rng().uniform(0, 0.02, len(age)))
        p = 1 / (1 + np.exp(-z))
        return np.column_stack([1 - p, p])
