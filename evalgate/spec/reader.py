"""Validation helpers bound to one suite file: every mistake is a
:class:`~evalgate.errors.SpecError` naming the file, the line and the key (family parsers use
them too)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import SpecError, did_you_mean
from .loader import LineDict, LineList

T = TypeVar("T")


class Reader:
    """Validation helpers bound to one file (family parsers use them too)."""

    def __init__(self, path: Path):
        self.path = path
        #: the mistakes found so far by :meth:`attempt`; :meth:`done` raises them together
        self.errors: list[SpecError] = []

    def fail(self, line: int | None, key: str | None, problem: str) -> SpecError:
        return SpecError(self.path, line, key, problem)

    def attempt(self, read: Callable[..., T], *args: Any, default: T | None = None
                ) -> T | None:
        """``read(*args)``, or — when it finds a mistake — ``default``, the mistake kept, so
        that one reading reports every independent mistake of a file."""
        try:
            return read(*args)
        except SpecError as exc:
            self.errors.append(exc)
            return default

    def done(self) -> None:
        """Raise every mistake :meth:`attempt` kept, as one :class:`SpecError`."""
        if self.errors:
            raise SpecError.of(self.errors)

    def mapping(self, value: Any, line: int, key: str) -> LineDict:
        if not isinstance(value, LineDict):
            raise self.fail(line, key, f"expected a mapping, got {kind_of(value)}")
        return value

    def only_keys(self, d: LineDict, allowed: tuple[str, ...], where: str) -> None:
        unknown = [self.fail(d.line_of(key), str(key),
                             f"unknown key in {where}{did_you_mean(str(key), allowed)}; "
                             f"valid keys: {', '.join(allowed)}")
                   for key in d if key not in allowed]
        if unknown:
            raise SpecError.of(unknown)

    def required(self, d: LineDict, key: str, where: str) -> Any:
        if key not in d or d[key] is None:
            line = d.line_of(key) if key in d else d.line
            raise self.fail(line, key, f"missing required key in {where}")
        return d[key]

    def string(self, d: LineDict, key: str) -> str:
        value = d[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(d.line_of(key), key,
                            f"expected a non-empty string, got {kind_of(value)}")
        return value

    def number(self, d: LineDict, key: str) -> float:
        value = d[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(d.line_of(key), key, f"expected a number, got {kind_of(value)}")
        if not math.isfinite(value):
            raise self.fail(d.line_of(key), key, f"expected a finite number, got {value}")
        return float(value)

    def integer(self, d: LineDict, key: str, minimum: int, maximum: int | None = None) -> int:
        value = d[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(d.line_of(key), key, f"expected a whole number, got {kind_of(value)}")
        if value < minimum:
            raise self.fail(d.line_of(key), key, f"must be at least {minimum}, got {value}")
        if maximum is not None:
            self.at_most(d, key, value, maximum)
        return value

    def at_most(self, d: LineDict, key: str, value: float, maximum: float) -> float:
        """``value`` of ``d[key]``, refused above ``maximum`` (a knob that costs time or
        memory: the maxima keep every gate run bounded)."""
        if value > maximum:
            raise self.fail(d.line_of(key), key,
                            f"{plain_number(value)} is above the maximum {plain_number(maximum)}")
        return value

    def positive(self, d: LineDict, key: str, default: float | None = None,
                 maximum: float | None = None) -> float | None:
        """``d[key]`` as a number above 0 (at most ``maximum``), or ``default`` if absent."""
        if key not in d:
            return default
        v = self.number(d, key)
        if v <= 0:
            raise self.fail(d.line_of(key), key, f"must be above 0, got {v:g}")
        return v if maximum is None else self.at_most(d, key, v, maximum)

    def subsection(self, d: LineDict, key: str) -> LineDict:
        """``d[key]`` as a mapping; a bare ``key:`` (nothing) means all defaults."""
        if d[key] is not None:
            return self.mapping(d[key], d.line_of(key), key)
        empty = LineDict()
        empty.line = d.line_of(key)
        empty.key_lines = {}
        return empty

    def boolean(self, d: LineDict, key: str) -> bool:
        value = d[key]
        if not isinstance(value, bool):
            hint = ("; yes/no/on/off are text in YAML 1.2, write true or false"
                    if str(value).lower() in ("yes", "no", "on", "off", "y", "n") else "")
            raise self.fail(d.line_of(key), key,
                            f"expected true or false, got {kind_of(value)}{hint}")
        return value

    def names(self, d: LineDict, key: str) -> tuple[str, ...]:
        value = d[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(d.line_of(key), key,
                            f"expected a list of column names, got {kind_of(value)}")
        if len(set(value)) != len(value):
            dup = next(v for v in value if value.count(v) > 1)
            raise self.fail(d.line_of(key), key, f"column {dup!r} is listed twice")
        return tuple(value)


def plain_number(x: float) -> str:
    """A number as written: ``10000000``, ``0.5``, ``1e+300``."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (LineDict, dict)):
        return "a mapping"
    if isinstance(value, (LineList, list)):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"

