"""Project settings: ``[tool.evalgate]`` in pyproject.toml, and where things go by default."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import EvalgateError

DEFAULT_SUITES = "suites"
DEFAULT_REPORT = "reports"
DEFAULT_REGISTRY = "registry"
KEYS = ("suites", "report", "registry", "timeout_s", "signing_key", "attempts")
#: how the k-th candidate tried against one champion on one dataset is judged
#: (evalgate.stats.spending): at α, the verdict stating the inflation; or at α / (k (k + 1))
ATTEMPT_POLICIES = ("warn", "spend")
#: the schemes of a model reference (``registry:NAME@champion``, ``mlflow:NAME@3``)
REFERENCE_SCHEMES = ("registry", "mlflow")
#: the whole gate's default time limit (seconds): generous, but a model that never answers
#: cannot hold a CI job forever
DEFAULT_TIMEOUT_S = 3600.0
MAX_TIMEOUT_S = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Settings:
    root: Path
    suites: Path
    report: Path
    registry: Path  # the local model registry (evalgate.registry)
    timeout_s: float = DEFAULT_TIMEOUT_S  # the whole gate's time limit
    #: the Ed25519 private key that signs verdict.json (``EVALGATE_SIGNING_KEY`` overrides)
    signing_key: Path | None = None
    #: ``[tool.evalgate] attempts``: "warn" (default) or "spend" (:data:`ATTEMPT_POLICIES`)
    attempts: str = "warn"


def read_settings(root: Path, pyproject: Path | None = None) -> Settings:
    """Settings of the project at ``root`` (its pyproject.toml's ``[tool.evalgate]``)."""
    pyproject = pyproject or root / "pyproject.toml"
    table: dict[str, Any] = {}
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text("utf-8")).get("tool", {}).get("evalgate", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise EvalgateError(f"{pyproject}: cannot read [tool.evalgate]: {exc}") from None
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise EvalgateError(f"{pyproject}: unknown key(s) in [tool.evalgate]: "
                                f"{', '.join(unknown)}; valid keys: {', '.join(KEYS)}")
    base = pyproject.parent if pyproject.is_file() else root
    timeout = table.get("timeout_s", DEFAULT_TIMEOUT_S)
    try:
        timeout_s = check_timeout(timeout)
    except ValueError as exc:
        raise EvalgateError(f"{pyproject}: [tool.evalgate] timeout_s: {exc}") from None
    attempts = table.get("attempts", "warn")
    if attempts not in ATTEMPT_POLICIES:
        raise EvalgateError(f"{pyproject}: [tool.evalgate] attempts: {attempts!r} is not one of "
                            f"{', '.join(ATTEMPT_POLICIES)}")
    env_key = os.environ.get("EVALGATE_SIGNING_KEY")
    key = Path(env_key).resolve() if env_key else (
        base / str(table["signing_key"]) if table.get("signing_key") else None)
    return Settings(root=root,
                    suites=base / str(table.get("suites", DEFAULT_SUITES)),
                    report=base / str(table.get("report", DEFAULT_REPORT)),
                    registry=base / str(table.get("registry", DEFAULT_REGISTRY)),
                    timeout_s=timeout_s,
                    signing_key=key, attempts=str(attempts))


def check_timeout(value: Any) -> float:
    """A whole-gate time limit in seconds: a positive number up to :data:`MAX_TIMEOUT_S`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number of seconds") from None
    if not value > 0 or value > MAX_TIMEOUT_S:
        raise ValueError(f"{value:g} is outside (0, {MAX_TIMEOUT_S:g}] seconds")
    return float(value)


#: files that mark a project's root folder when no pyproject.toml is found on the way up
ROOT_MARKERS = (".git", "pytest.ini", "tox.ini", "setup.cfg")


def project_root(start: Path) -> Path:
    """The project folder of ``start``: the nearest folder at or above it holding a
    pyproject.toml, or else one of :data:`ROOT_MARKERS`; ``start`` itself when none is found.

    ``pytest --evalgate`` and ``evalgate run`` both use it, from the folder they were invoked
    in, so that they gate the same suites with the same settings wherever the model file lies
    (pytest's own rootdir follows its path arguments, the candidate's path among them)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def project_settings(start: Path) -> Settings:
    """:func:`read_settings` of :func:`project_root` of ``start``."""
    return read_settings(project_root(start))


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def is_reference(value: object) -> bool:
    """Whether ``value`` is a model reference (``registry:…``, ``mlflow:…``), not a path."""
    return isinstance(value, str) and ":" in value and \
        value.split(":", 1)[0] in REFERENCE_SCHEMES
