"""A check's numbers on one line, for the terminal (``evalgate run``, ``pytest -v``), and as
JUnit properties — the same words the report uses, so a threshold reads the same everywhere
(``allow_nan_output false``, not ``0``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..families import CheckResult as Numbers


def value_text(value: Any) -> str:
    """A threshold's value as the suite would write it: ``false``, ``0.85``, ``~``."""
    if value is None:
        return "~"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # every digit written, none invented: 0.005, 1e-06, 5
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return str(value)


def thresholds_text(threshold: Mapping[str, Any]) -> str:
    """``min 0.85, max_regression 0.005``."""
    return ", ".join(f"{k} {value_text(v)}" for k, v in threshold.items())


def bound(result: Numbers) -> float | None:
    """The bound that decides: Δ's lower bound when there is a Δ, else the candidate's bound
    on its bad side (whichever side its interval has)."""
    if result.ci is None:
        return None
    lower, upper = result.ci
    if result.delta is not None:
        return lower
    return lower if lower is not None else upper


def numbers_line(result: Numbers) -> str:
    """``roc_auc 0.9262, champion 0.9050, Δ +0.02117 (bound +0.01211); min 0.85,
    max_regression 0.005`` — empty for a check without numbers."""
    parts = []
    if result.candidate is not None:
        parts.append(f"{result.metric or result.name} {_num(result.candidate)}")
    if result.champion is not None:
        parts.append(f"champion {_num(result.champion)}")
    b = bound(result)
    if result.delta is not None:
        parts.append(f"Δ {_num(result.delta, signed=True)}"
                     + (f" (bound {_num(b, signed=True)})" if b is not None else ""))
    elif b is not None and result.candidate is not None:
        parts.append(f"bound {_num(b)}")
    text = ", ".join(parts)
    if result.threshold:
        text += ("; " if text else "") + thresholds_text(result.threshold)
    return text


def failure_text(result: Numbers, message: str, confidence: float | None, where: str) -> str:
    """A failed check as pytest shows it: the message, the thresholds, the interval."""
    lines = [message]
    if result.threshold:
        lines.append("threshold: " + thresholds_text(result.threshold))
    if result.ci is not None and result.method:
        lo, hi = result.ci
        lines.append(f"interval: [{_bound_text(lo)}, {_bound_text(hi)}] at {confidence} "
                     f"one-sided ({result.method})")
    lines.append(f"suite: {where}")
    return "\n".join(lines)


def _bound_text(x: float | None) -> str:
    return "open" if x is None else f"{x:.4f}"


def properties(result: Numbers) -> list[tuple[str, str]]:
    """The check's numbers as JUnit ``<properties>`` (absent numbers left out)."""
    out = [(k, _num(v)) for k, v in (("candidate", result.candidate),
                                      ("champion", result.champion),
                                      ("delta", result.delta), ("bound", bound(result)))
           if v is not None]
    if result.threshold:
        out.append(("threshold", thresholds_text(result.threshold)))
    if result.method:
        out.append(("method", result.method))
    return out


def _num(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "~"
    if not math.isfinite(x):
        return "−∞" if x < 0 else "∞"
    return f"{x:+.4g}" if signed else f"{x:.4g}"
