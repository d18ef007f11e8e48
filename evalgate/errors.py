"""The exceptions evalgate raises, in one tree.

Every problem a user can fix is one of these, carrying what it concerns, so that the gate
prints one clear message and blocks instead of a traceback::

    EvalgateError                 root: anything the gate reports as one clear message
    ├── ConfigError               [tool.evalgate] or a command-line value is unusable
    ├── SpecError                 a suite file is invalid (file, line, key, valid choices)
    ├── DataError                 a dataset cannot be read or does not fit the suite
    ├── ModelLoadError            a model file cannot be loaded (missing, truncated, untrusted)
    ├── ModelOutputError          a model's inputs or outputs do not fit (mismatch, NaN, shape)
    ├── CheckError                a check cannot be computed from what it was given
    │   ├── StatsError            the data cannot support an interval (one class present, …)
    │   ├── UnknownMetricError    a metric name evalgate does not know (lists the valid ones)
    │   └── MetricOverflowError   a metric too large for float64 arithmetic
    ├── VerdictError              a verdict.json is malformed or cannot be written
    │   ├── OutputError           the report folder (or $GITHUB_STEP_SUMMARY) is not writable
    │   └── SigningError          a key file cannot be used
    │       └── SignatureRejected a verdict's signature is missing, untrusted or wrong
    └── RegistryError             a registry operation cannot proceed
        ├── PromotionRefused      the verdict does not allow this promotion
        │   └── ChampionChanged   the champion moved since the verdict was judged
        └── IntegrityError        a file or the audit log no longer matches its record

Families catch :class:`EvalgateError` per check (the check becomes ``error`` with the message);
anything else escaping a family is a bug, which the engine reports as an internal error of
that family without touching the other families' results.

Messages that tests match are module constants next to the code that raises them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: a file whose bytes differ from the sha256 a registry recorded for it
TAMPERED = "does not match its recorded sha256"


class EvalgateError(Exception):
    """Root of every error evalgate reports to the user."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class ConfigError(EvalgateError):
    """The project's settings (``[tool.evalgate]``) or a command-line value are unusable."""


class SpecError(EvalgateError):
    """A suite file is invalid. ``str()`` reads ``file:line: key: problem``, a line for each
    mistake when the file has several (``others``: the mistakes after the first)."""

    def __init__(self, path: Path | str, line: int | None, key: str | None, problem: str,
                 others: tuple[SpecError, ...] = ()):
        self.path = Path(path)
        self.line = line
        self.key = key
        self.problem = problem
        self.others = others
        super().__init__(self.located(str(self.path)))

    @classmethod
    def of(cls, errors: list[SpecError]) -> SpecError:
        """One error standing for ``errors`` (each flattened), in the order found (the top
        of the file first, each section in turn: a cause before what follows from it)."""
        flat = [e for err in errors for e in err.each()]
        first = flat[0]
        return cls(first.path, first.line, first.key, first.problem, tuple(flat[1:]))

    def each(self) -> list[SpecError]:
        """This mistake and the others, one error each."""
        alone = SpecError(self.path, self.line, self.key, self.problem) if self.others else self
        return [alone, *(e for o in self.others for e in o.each())]

    def __reduce__(self) -> tuple[Any, ...]:  # raised on a Dask worker, re-raised here
        return (type(self), (self.path, self.line, self.key, self.problem, self.others))

    def located(self, path_text: str) -> str:
        """The message with the file shown as ``path_text`` (e.g. relative to the cwd)."""
        where = f"{path_text}:{self.line}" if self.line else path_text
        what = f" {self.key}:" if self.key else ""
        return "\n".join([f"{where}:{what} {self.problem}",
                          *(o.located(path_text) for o in self.others)])


class DataError(EvalgateError):
    """A dataset cannot be read, or does not fit its suite or a model."""

    def __init__(self, path: Path | str | None, problem: str):
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)

    def __reduce__(self) -> tuple[Any, ...]:  # raised on a Dask worker, re-raised here
        return (type(self), (self.path, self.problem))


class ModelLoadError(EvalgateError):
    """A model file is missing, unreadable, of a foreign format or untrusted."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:  # raised on a Dask worker, re-raised here
        return (type(self), (self.path, self.problem))


class ModelOutputError(EvalgateError):
    """A model's inputs do not match the data, or its outputs are unusable (NaN, shape)."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:  # raised on a Dask worker, re-raised here
        return (type(self), (self.path, self.problem))


class EngineError(EvalgateError):
    """The engine could not run the gate: a Dask cluster unreachable, a worker lost for good,
    a dataset too large for the local engine."""


class CheckError(EvalgateError):
    """A check cannot be computed from what it was given (e.g. a metric that needs
    probabilities from a model that gives labels only)."""


class StatsError(CheckError):
    """The data cannot support an interval (e.g. a single class present)."""


class UnknownMetricError(CheckError):
    """A metric name evalgate does not know for the task; the message lists the valid names."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class MetricOverflowError(CheckError):
    """A metric (or a per-row loss) too large to put an interval on: the model's outputs are
    implausibly large (a regressor answering 1e308). The check is ``error``, never ``pass``."""


class VerdictError(EvalgateError):
    """A verdict.json is malformed, or the gate's outputs cannot be written."""


class OutputError(VerdictError):
    """The report folder (or $GITHUB_STEP_SUMMARY) cannot be written."""


class SigningError(VerdictError):
    """A key file cannot be used (missing, unreadable, not an Ed25519 key), or a document
    cannot be signed."""


class SignatureRejected(SigningError):
    """A verdict's signature is missing, by an untrusted key, or does not match."""


class RegistryError(EvalgateError):
    """A registry operation cannot be done (unknown name, bad reference, refused change)."""


class PromotionRefused(RegistryError):
    """The verdict does not allow this promotion (block, subset, another model, stale)."""


class ChampionChanged(PromotionRefused):
    """The champion moved since the verdict was judged (a stale verdict, or a lost race)."""


class IntegrityError(RegistryError):
    """A registry file was modified outside evalgate (model bytes, audit log, state)."""
