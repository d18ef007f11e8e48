"""Pickled test models for tests/test_hardening.py: one that never answers, one that warns on
every call. Only loadable with --evalgate-trust-pickle."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pandas as pd

from tests.crashy import AbortsOnNaN


class NeverAnswers(AbortsOnNaN):
    """A binary classifier on ``age`` whose every call blocks forever."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        threading.Event().wait()
        raise AssertionError("unreachable")


class Warns(AbortsOnNaN):
    """A well-behaved binary classifier on ``age`` that warns on every call, as sklearn does
    (e.g. "X does not have valid feature names")."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        warnings.warn("X does not have valid feature names", UserWarning, stacklevel=2)
        warnings.warn("this call is deprecated", DeprecationWarning, stacklevel=2)
        return super().predict_proba(X)
