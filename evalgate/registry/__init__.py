"""The model registry: versions, aliases, promotion bound to a verdict, rollback, and an audit
log; locally in a folder (:mod:`.local`) or in MLflow's model registry (:mod:`.mlflow`).

The package's modules, each depending only on those listed before it:

- :mod:`.references` — ``registry:NAME@ALIAS`` / ``mlflow:NAME@3`` references, names, aliases;
- :mod:`.records` — versions, the committed state, audit entries, and how entries replay;
- :mod:`.policy` — what a verdict must prove before it moves a champion (both registries);
- :mod:`.storage` — the local registry's files, lock, durable writes and crash points;
- :mod:`.audit` — reading and verifying a hash-chained log, integrity checks on every read;
- :mod:`.local` — :class:`ModelRegistry`, :class:`Registry`, :class:`RegistryPolicy`;
- :mod:`.mlflow` — the same verbs on MLflow (``mlflow`` imported inside its functions only).

This module is the public API, and the one place that knows both registries: :func:`resolve`
sends a reference to the one its scheme names.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .._io import fsync_dir, sha256_file, write_atomic
from ..config import REFERENCE_SCHEMES, is_reference, project_settings
from ..errors import (
    TAMPERED,
    ChampionChanged,
    IntegrityError,
    PromotionRefused,
    RegistryError,
    did_you_mean,
)
from .audit import POLICY_DIR, AuditLog, LogCheck, LogRead, Verification, chain_problems
from .local import ModelRegistry, Promotion, Registry, RegistryPolicy, resolve_local
from .policy import (
    CHAMPION_CHANGED,
    CHANGED_SINCE,
    DECISIONS,
    EDITED,
    IN_PROGRESS,
    INCOMPLETE,
    MALFORMED,
    NOT_FOUND_HERE,
    NOT_PROMOTE,
    OTHER_MODEL,
    SIGNOFF_NAME,
    STATUSES,
    VERDICT_SCHEMA_PREFIX,
    Checked,
    Signoff,
    SuiteRecord,
    VerdictFile,
    checked_candidate,
    key_metrics,
)
from .records import (
    FORMATS,
    STATE_SCHEMA,
    VERSION_SCHEMA,
    ZERO_HASH,
    Entry,
    History,
    State,
    Version,
    VersionInfo,
    apply,
    model_format,
    replay,
    short,
    version_of,
)
from .references import (
    _NAME_RE,
    CHAMPION,
    SCHEMES,
    Reference,
    Resolved,
    check_alias,
    check_name,
    mlflow_name,
    parse_reference,
)
from .storage import (
    CRASH_ENV,
    CRASH_STEPS,
    LOCK_TIMEOUT_S,
    fingerprint,
    input_signature,
)


def resolve(text: str, root: Path) -> Resolved:
    """Resolve a ``registry:`` or ``mlflow:`` reference to a model file (bytes not yet checked:
    the caller compares ``sha256`` with the bytes it loads)."""
    ref = parse_reference(text)
    if ref.scheme == "mlflow":
        from . import mlflow  # only for an mlflow: reference (an import of 30 ms)

        return mlflow.resolve(ref)
    return resolve_local(text, ref, root)


def resolver(root: Path | None = None) -> Callable[[str], Resolved]:
    """The engine's way to resolve ``registry:``/``mlflow:`` references: local ones in the
    registry at ``root`` (default: the project's), MLflow ones through MLflow."""
    return lambda text: resolve(text, registry_root(root))


def registry_root(configured: Path | None = None) -> Path:
    """The registry folder: ``configured``, else the project's setting (``registry/``)."""
    if configured is not None:
        return configured
    return project_settings(Path.cwd()).registry


__all__ = [
    "CHAMPION",
    "CHAMPION_CHANGED",
    "CHANGED_SINCE",
    "CRASH_ENV",
    "CRASH_STEPS",
    "DECISIONS",
    "EDITED",
    "FORMATS",
    "INCOMPLETE",
    "IN_PROGRESS",
    "LOCK_TIMEOUT_S",
    "MALFORMED",
    "NOT_FOUND_HERE",
    "NOT_PROMOTE",
    "OTHER_MODEL",
    "POLICY_DIR",
    "REFERENCE_SCHEMES",
    "SCHEMES",
    "SIGNOFF_NAME",
    "STATE_SCHEMA",
    "STATUSES",
    "TAMPERED",
    "VERDICT_SCHEMA_PREFIX",
    "VERSION_SCHEMA",
    "ZERO_HASH",
    "_NAME_RE",
    "AuditLog",
    "ChampionChanged",
    "Checked",
    "Entry",
    "History",
    "IntegrityError",
    "LogCheck",
    "LogRead",
    "ModelRegistry",
    "Promotion",
    "PromotionRefused",
    "Reference",
    "Registry",
    "RegistryError",
    "RegistryPolicy",
    "Resolved",
    "Signoff",
    "State",
    "SuiteRecord",
    "VerdictFile",
    "Verification",
    "Version",
    "VersionInfo",
    "apply",
    "chain_problems",
    "check_alias",
    "check_name",
    "checked_candidate",
    "did_you_mean",
    "fingerprint",
    "fsync_dir",
    "input_signature",
    "is_reference",
    "key_metrics",
    "mlflow_name",
    "model_format",
    "parse_reference",
    "registry_root",
    "replay",
    "resolve",
    "resolve_local",
    "resolver",
    "sha256_file",
    "short",
    "version_of",
    "write_atomic",
]
