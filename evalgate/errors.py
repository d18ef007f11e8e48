"""The exceptions evalgate raises on bad input.

Every problem a user can fix is one of these, carrying what it concerns, so that the gate
prints one clear message and blocks instead of a traceback::

    EvalgateError
    ├── SpecError           a suite file is invalid (file, line, key, valid choices)
    ├── DataError           a dataset cannot be read or does not fit the suite
    ├── ModelLoadError      a model file cannot be loaded (missing, truncated, foreign, untrusted)
    ├── ModelOutputError    a model's inputs or outputs do not fit (mismatch, NaN, wrong shape)
    └── RegistryError       (evalgate.registry) a registry operation cannot proceed
        ├── PromotionRefused    the verdict does not allow this promotion
        │   └── ChampionChanged the champion moved since the verdict was judged
        └── IntegrityError      a file or the audit log no longer matches its record
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class EvalgateError(Exception):
    """Root of every error evalgate reports to the user."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class SpecError(EvalgateError):
    """A suite file is invalid. ``str()`` reads ``file:line: key: problem``."""

    def __init__(self, path: Path | str, line: int | None, key: str | None, problem: str):
        self.path = Path(path)
        self.line = line
        self.key = key
        self.problem = problem
        super().__init__(self.located(str(self.path)))

    def located(self, path_text: str) -> str:
        """The message with the file shown as ``path_text`` (e.g. relative to the cwd)."""
        where = f"{path_text}:{self.line}" if self.line else path_text
        what = f" {self.key}:" if self.key else ""
        return f"{where}:{what} {self.problem}"


class DataError(EvalgateError):
    """A dataset cannot be read, or does not fit its suite or a model."""

    def __init__(self, path: Path | str | None, problem: str):
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)


class ModelLoadError(EvalgateError):
    """A model file is missing, unreadable, of a foreign format or untrusted."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelOutputError(EvalgateError):
    """A model's inputs do not match the data, or its outputs are unusable (NaN, shape)."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
