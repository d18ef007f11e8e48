"""A model made of a Python function: the test double of the adapter protocol."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ._calls import call_with_limit
from .base import ModelInfo, RawPrediction


class FakeModel:
    """``FakeModel(lambda frame: RawPrediction(...), name="…")`` behaves like a loaded model."""

    def __init__(self, fn: Callable[[pd.DataFrame], RawPrediction], name: str = "fake"):
        self._fn = fn
        digest = hashlib.sha256(name.encode()).hexdigest()
        self.info = ModelInfo(path=f"<{name}>", sha256=digest, format="fake", size=0)
        self.calls = 0

    def predict(self, frame: pd.DataFrame, features: Sequence[str]) -> RawPrediction:
        self.calls += 1
        return call_with_limit(lambda: self._fn(frame), self.info.path)

    def with_threads(self, threads: int) -> FakeModel:
        """Itself: its runtime has no thread setting evalgate pins."""
        return self

    def describe_inputs(self) -> dict[str, Any]:
        return {"mode": "fake", "mapping": {}}
