"""Resampling remembered within a block.

A resampling function given the same inputs and a generator in the same state returns the
same replicates and leaves the generator in the same state: inside :func:`remembered`, the
second such call returns the first one's results (copies) and moves the generator on to where
the first call left it — so nothing downstream can tell. A run with challengers judges each
challenger's performance checks twice, at the run's adjusted level and at the suite's own
(the leaderboard's unadjusted bounds), on the same predictions with the same seeds: the
bootstrap replicates, which do not depend on the level, are drawn once.

Inputs are recognised by content (dtype, shape and a BLAKE2 digest of the bytes), never by
identity; outside a block, and in threads the block did not start, nothing is kept.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

#: what was drawn, by (function, generator state, inputs' digests) → (result, state after)
Memo = dict[tuple[Any, ...], tuple[Any, Any]]

_MEMO: ContextVar[Memo | None] = ContextVar("evalgate_resampling_memo", default=None)


@contextmanager
def remembered(memo: Memo | None = None) -> Iterator[None]:
    """Within this block, a :func:`memoized` function called again with equal inputs and an
    equal generator state is not recomputed; ``memo`` (a dict) carries what was remembered
    from one block to another (a pytest session's hooks)."""
    token = _MEMO.set({} if memo is None else memo)
    try:
        yield
    finally:
        _MEMO.reset(token)


class _Unknown(Exception):
    """An argument that cannot be recognised by content: the call is not remembered."""


def _digest(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:  # its bytes are pointers, not content
            raise _Unknown
        data = np.ascontiguousarray(value)
        return ("array", data.dtype.str, data.shape,
                hashlib.blake2b(data.data.cast("B"), digest_size=20).digest())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_digest(v) for v in value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    raise _Unknown


def _state(rng: np.random.Generator) -> Any:
    return _digest_state(rng.bit_generator.state)


def _digest_state(state: Any) -> Any:
    if isinstance(state, dict):
        return tuple(sorted((k, _digest_state(v)) for k, v in state.items()))
    if isinstance(state, np.ndarray):
        return ("array", state.dtype.str, state.tobytes())
    return state


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def memoized(fn: F) -> F:
    """``fn`` remembered inside :func:`remembered`; ``fn`` takes exactly one
    ``np.random.Generator`` among its positional arguments and arrays, lists of arrays and
    plain values otherwise."""

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        memo = _MEMO.get()
        if memo is None:
            return fn(*args)
        [rng] = [a for a in args if isinstance(a, np.random.Generator)]
        try:
            key = (fn.__module__, fn.__qualname__, _state(rng),
                   tuple(_digest(a) for a in args if a is not rng))
        except _Unknown:
            return fn(*args)
        found = memo.get(key)
        if found is None:
            result = fn(*args)
            memo[key] = (_copy(result), rng.bit_generator.state)
            return result
        result, after = found
        rng.bit_generator.state = after
        return _copy(result)

    return wrapper  # type: ignore[return-value]
