"""verdict.json as typed records (DESIGN.md §4): what the gate writes, and what every reader
— ``evalgate report``, ``signoff``, ``promote``, ``history`` — gets back from :func:`parse`.

The fields of DESIGN.md §4 come first, in its order; the extensions after. A field made with
:func:`~evalgate.records.optional` is absent from the JSON while it is ``None`` (a check's
``method``, a model's ``registry``, …). Each family's ``details`` stay a JSON object here and
are typed by that family (:meth:`evalgate.families.base.Family.details_of`); a suite's
``plots`` by :mod:`evalgate.report.plots`.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..engine.trials import Spending
from ..errors import VerdictError
from ..records import MALFORMED, Record, optional

SCHEMA = "evalgate.verdict/1"
SCHEMA_PREFIX = "evalgate.verdict/"
Status = Literal["pass", "fail", "error", "skip"]
STATUSES: tuple[Status, ...] = typing.get_args(Status)
Decision = Literal["promote", "block"]

# messages tests import
NOT_JSON = "not a verdict (invalid JSON"
NOT_A_VERDICT = "not an evalgate verdict"
MALFORMED_VERDICT = "a malformed evalgate verdict"


@dataclass(frozen=True)
class RegistryRef(Record):
    """Where a champion came from when it is a registry reference."""

    kind: ClassVar[str] = "registry reference"
    ref: str
    name: str
    version: int
    #: the registered version's lineage: training data, params, code, author, parent
    lineage: Mapping[str, Any] | None = optional()


@dataclass(frozen=True)
class ModelEntry(Record):
    kind: ClassVar[str] = "model"
    path: str
    sha256: str | None
    format: str | None
    #: how data columns are fed to the model, and how its classes stand for the data's labels
    inputs: Mapping[str, Any] | None = optional()
    registry: RegistryRef | None = optional()
    #: what the file declares: inputs (name, type, shape), outputs, classes, producer
    signature: Mapping[str, Any] | None = optional()


@dataclass(frozen=True)
class DataFileEntry(Record):
    """One file of a dataset read from a glob or a folder."""

    kind: ClassVar[str] = "data file"
    path: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class LabelledEntry(Record):
    kind: ClassVar[str] = "labelled rows"
    path: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class DatasetEntry(Record):
    kind: ClassVar[str] = "dataset"
    path: str
    #: over the files' bytes in reading (sorted path) order; one file: its own sha256
    sha256: str
    rows: int
    #: where ``data.path`` is a glob or a folder: each file, in reading order
    files: tuple[DataFileEntry, ...] | None = optional()
    #: ``data.key``: the column naming each row (checked: never missing, never twice)
    key: str | None = optional()
    #: rows without labels (``data.target: null``): the labelled rows
    #: (``data.estimate_from``) the performance checks were estimated from
    labelled: LabelledEntry | None = optional()


@dataclass(frozen=True)
class CheckEntry(Record):
    kind: ClassVar[str] = "check"
    id: str
    family: str
    status: Status
    blocking: bool
    metric: str | None
    candidate: float | None
    champion: float | None
    delta: float | None
    ci: tuple[float | None, float | None] | None
    confidence: float | None
    threshold: Mapping[str, Any]
    message: str
    method: str | None = optional()
    line: int | None = optional()
    #: the family's typed details as a JSON object (see the module's docstring)
    details: Mapping[str, Any] | None = optional()


@dataclass(frozen=True)
class SuiteFile(Record):
    """A file a suite read (its own file, its data, a drift reference …) and its sha256."""

    kind: ClassVar[str] = "suite file"
    role: str
    path: str
    sha256: str | None


@dataclass(frozen=True)
class SuiteEntry(Record):
    kind: ClassVar[str] = "suite"
    name: str
    file: str
    sha256: str | None
    dataset: DatasetEntry | None
    checks: tuple[CheckEntry, ...]
    task: str | None = optional()
    seed: int | None = optional()
    confidence: float | None = optional()
    n_resamples: int | None = optional()
    #: the champion's path when the suite compared with one
    champion: str | None = optional()
    #: that champion's sha256 (each suite's own: promote refuses a verdict whose suites
    #: compared with different champions)
    champion_sha256: str | None = optional()
    #: the data behind the report's pictures (:class:`evalgate.report.plots.SuitePlots`)
    plots: Mapping[str, Any] | None = optional()
    #: why the suite could not be evaluated
    error: str | None = optional()
    #: which try against the champion this suite was, and the level it was judged at
    spending: Spending | None = optional()
    #: the suite as the gate resolved it: every default explicit (:mod:`.evidence`)
    resolved: Mapping[str, Any] | None = optional()
    #: every file the suite read, with its sha256
    files: tuple[SuiteFile, ...] | None = optional()


@dataclass(frozen=True)
class Provenance(Record):
    kind: ClassVar[str] = "provenance"
    evalgate: str
    python: str
    packages: Mapping[str, str]
    seed: int | None
    started_at: str
    duration_s: float | None
    platform: str
    #: the engine that ran the gate: ``{"name": "local"}``, or ``{"name": "dask", "workers":
    #: N}`` (and ``address`` for an existing cluster)
    engine: Mapping[str, Any] | None = optional()
    #: the project's git commit, branch, whether tracked files were changed, untracked files
    git: Mapping[str, Any] | None = optional()
    #: Python, OS, CPU, every installed distribution and its lock hash, onnxruntime
    environment: Mapping[str, Any] | None = optional()


@dataclass(frozen=True)
class SummaryEntry(Record):
    kind: ClassVar[str] = "summary"
    total: int
    failed: int
    decided: int
    reasons: tuple[str, ...]
    complete: bool
    not_run: tuple[str, ...]
    #: true on the verdict a run writes before it starts
    in_progress: bool | None = optional()


@dataclass(frozen=True)
class GateEntry(Record):
    kind: ClassVar[str] = "gate"
    #: the suite file or folder the gate found its suites in, which promote re-plans
    suites: str | None


@dataclass(frozen=True)
class Signature(Record):
    kind: ClassVar[str] = "signature"
    algorithm: str
    key_id: str
    value: str


@dataclass(frozen=True)
class ProfileRef(Record):
    """``profile.json`` beside the verdict: the evaluation data's bins and counts, bound to
    the verdict by its sha256 (the registry stores it when the candidate is promoted)."""

    kind: ClassVar[str] = "profile reference"
    file: str
    sha256: str


@dataclass(frozen=True)
class Verdict(Record):
    """One verdict.json."""

    kind: ClassVar[str] = "verdict"
    schema: str
    decision: Decision
    candidate: ModelEntry
    champion: ModelEntry | None
    suites: tuple[SuiteEntry, ...]
    provenance: Provenance
    summary: SummaryEntry
    gate: GateEntry | None = optional()
    #: the how-many-th candidate judged against this champion on this dataset (the largest
    #: over the suites; null when no ledger counted it, or without a champion)
    attempt: int | None = optional()
    #: the reference profile written beside this verdict (evalgate.verdict.profile)
    profile: ProfileRef | None = optional()
    signature: Signature | None = optional()

    @property
    def checks(self) -> tuple[CheckEntry, ...]:
        """Every check of every suite, in order."""
        return tuple(c for s in self.suites for c in s.checks)

    @property
    def in_progress(self) -> bool:
        return bool(self.summary.in_progress)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(raw: bytes | str, path: Path | str) -> tuple[dict[str, Any], Verdict]:
    """The document and the typed verdict of verdict.json bytes; anything else is one
    :class:`~evalgate.errors.VerdictError` naming the file and what is wrong with it."""
    try:
        doc = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise VerdictError(f"{path}: {NOT_JSON}: {exc})") from None
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith(SCHEMA_PREFIX):
        raise VerdictError(f"{path}: {NOT_A_VERDICT} (no schema \"{SCHEMA_PREFIX}…\")")
    try:
        return doc, Verdict.from_dict(doc, "verdict")
    except VerdictError as exc:
        problem = str(exc).removeprefix(f"{MALFORMED}: ")
        raise VerdictError(f"{path}: {MALFORMED_VERDICT}: {problem}") from None


def read(path: Path) -> tuple[bytes, dict[str, Any], Verdict]:
    """A verdict.json file: its bytes, its document and its typed verdict."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise VerdictError(f"{path}: cannot read the verdict: {exc.strerror or exc}") from None
    doc, verdict = parse(raw, path)
    return raw, doc, verdict

