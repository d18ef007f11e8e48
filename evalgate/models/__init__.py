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

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

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
from .base import Model, ModelInfo, RawPrediction, check_model_file, file_info

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_CALL_TIMEOUT_S", "Model", "ModelInfo", "RawPrediction", "call_timeout",
           "call_with_limit", "check_model_file", "deadline", "file_info", "load_model",
           "model_warnings", "prepared_calls", "run_onnx", "set_call_timeout", "set_deadline"]


def prepared_calls(model: Model, rows: pd.DataFrame, features: Sequence[str],
                   batch_size: int) -> list[Callable[[], float]]:
    """One call per ``batch_size`` consecutive rows of ``rows``, each predicting its batch as
    ``model.predict`` would and returning the seconds **the model itself** took — what the
    latency family times. What needs doing once is done now, for every batch at once, and is
    not timed: evalgate's conversion of the rows would be counted against the candidate and,
    being the same for both models, pull their slowdown ratio towards 1.

    ONNX: the input tensors are converted from all the rows here, each call's tensors are
    views of them, and onnxruntime's run is timed. A model with a ``timed`` method (scikit-
    learn: its columns selected here, the estimator's own calls timed in the thread that runs
    them, not the hand-over to it). Any other: ``predict`` on its batch's frame, timed."""
    from functools import partial

    starts = range(0, len(rows), batch_size)
    feed, run = getattr(model, "_feed", None), getattr(model, "_run", None)
    if feed is not None and run is not None:  # ONNX: the tensors now, onnxruntime's run later
        tensors = feed(rows, features)
        return [_clocked(partial(run, {k: v[i:i + batch_size] for k, v in tensors.items()},
                                 batch_size)) for i in starts]
    timed = getattr(model, "timed", None)
    if timed is not None:
        return timed(rows, features, batch_size)  # type: ignore[no-any-return]
    return [_clocked(partial(model.predict, rows.iloc[i:i + batch_size].reset_index(drop=True),
                             features)) for i in starts]


def _clocked(fn: Callable[[], object]) -> Callable[[], float]:
    """``fn`` as a call that returns the seconds it took."""
    import time

    def call() -> float:
        began = time.perf_counter()
        fn()
        return time.perf_counter() - began

    return call


def check_inputs(model: Model, features: Sequence[str]) -> None:
    """Match ``model``'s inputs to the data's ``features`` as predicting would, without
    predicting: ONNX by name (or position for one 2-D input), scikit-learn by
    ``feature_names_in_``; a mismatch is a :class:`~evalgate.errors.ModelOutputError`
    naming both sides. A model without a declared input signature has nothing to check."""
    bind = getattr(model, "_bind", None)
    if bind is not None:
        bind(features)


def load_model(path: Path | str, *, trust_pickle: bool = False,
               trusted_types: Sequence[str] = ()) -> Model:
    """Load a model file by its format (:data:`~evalgate.models.formats.FORMATS`); every
    failure is a :class:`ModelLoadError`. The file must be a regular file; loading runs under
    evalgate's warnings policy. ``trust_pickle``: any pickle (and any type in a skops file);
    ``trusted_types``: these type names in a skops file."""
    from .formats import SUFFIXES, format_of

    path = Path(path)
    if path.is_dir():
        raise ModelLoadError(path, "is a directory, not a model file")
    fmt = format_of(path)
    if fmt is None:
        if not path.exists():
            raise ModelLoadError(path, "model file not found")
        raise ModelLoadError(path, f"unknown model format; evalgate reads {', '.join(SUFFIXES)}")
    check_model_file(path)
    with model_warnings():
        return fmt.load(path, trust_pickle, tuple(trusted_types))
