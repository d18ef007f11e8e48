"""Labels as the gate compares them: equal labels of different types meet (``1``, ``1.0``,
``np.int64(1)`` all read ``"1"``), and are shown as the Python values they hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def label_key(value: Any) -> str:
    """A key under which equal labels of different types meet: ``1``, ``1.0``, ``np.int64(1)``
    all read ``"1"``; strings are themselves."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def sorted_labels(values: Sequence[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=label_key)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages: 1, not np.int64(1))."""
    return value.item() if isinstance(value, np.generic) else value


def show_values(values: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(repr(plain(v)) for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")
