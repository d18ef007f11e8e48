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
KEYS = ("suites", "report", "registry", "timeout_s", "signing_key", "attempts", "engine",
        "workers", "trusted_types")
#: how the k-th candidate tried against one champion on one dataset is judged
#: (evalgate.stats.spending): at α, the verdict stating the inflation; or at α / (k (k + 1))
ATTEMPT_POLICIES = ("warn", "spend")
#: the schemes of a model reference (``registry:NAME@champion``, ``mlflow:NAME@3``)
REFERENCE_SCHEMES = ("registry", "mlflow")


# ------------------------------------------------------------------ the engine
# ``local`` (in memory, the default), ``dask`` (a LocalCluster the gate starts and closes) or
# ``dask://HOST:PORT`` (an existing Dask scheduler): from ``--evalgate-engine`` / ``evalgate
# run --engine``, else ``[tool.evalgate] engine``; ``--evalgate-workers`` / ``[tool.evalgate]
# workers`` size the LocalCluster.

ENGINES = ("local", "dask", "dask://HOST:PORT")
#: the most worker processes a LocalCluster may be asked for
MAX_WORKERS = 1024


@dataclass(frozen=True)
class EngineChoice:
    """``kind`` is "local" or "dask"; ``address`` the scheduler of an existing cluster
    (``tcp://HOST:PORT``), ``None`` for a LocalCluster; ``workers`` its worker processes
    (``None``: one per core)."""

    kind: str = "local"
    address: str | None = None
    workers: int | None = None

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    def describe(self) -> str:
        if self.is_local:
            return "local"
        if self.address is not None:
            return f"dask at {self.address}"
        return f"dask (LocalCluster, {self.workers or 'one per core'} workers)"


def parse_engine(text: str, workers: int | None = None) -> EngineChoice:
    """The engine named by ``text``; ``ValueError`` with what is accepted otherwise."""
    value = str(text).strip()
    if workers is not None:
        check_workers(workers)
    if value == "local":
        if workers is not None:
            raise ValueError("workers apply to the dask engine; the local engine runs in this "
                             "process")
        return EngineChoice()
    if value == "dask":
        return EngineChoice("dask", None, workers)
    if value.startswith("dask://"):
        host = value.removeprefix("dask://")
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
            raise ValueError(f"{value!r} is not a scheduler address; write dask://HOST:PORT "
                             f"(e.g. dask://scheduler:8786)")
        if workers is not None:
            raise ValueError("workers size a LocalCluster; an existing cluster "
                             f"({value}) has its own")
        return EngineChoice("dask", f"tcp://{host}", None)
    raise ValueError(f"{value!r} is not an engine; use {', '.join(ENGINES)}")


def check_workers(value: object) -> int:
    """A LocalCluster's worker count: a whole number from 1 to :data:`MAX_WORKERS`."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number of workers")
    try:
        n = int(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a number of workers") from None
    if not 1 <= n <= MAX_WORKERS:
        raise ValueError(f"{n} workers is outside 1–{MAX_WORKERS}")
    return n


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
    #: ``[tool.evalgate] engine``: "local" (default), "dask" or "dask://HOST:PORT"
    engine: str = "local"
    #: ``[tool.evalgate] workers``: a LocalCluster's worker processes (None: one per core)
    workers: int | None = None
    #: ``[tool.evalgate] trusted_types``: types a skops file may hold beyond skops' defaults
    trusted_types: tuple[str, ...] = ()


def read_settings(root: Path, pyproject: Path | None = None) -> Settings:
    """Settings of the project at ``root`` (its pyproject.toml's ``[tool.evalgate]``)."""
    pyproject = pyproject or root / "pyproject.toml"
    table = _table(pyproject) if pyproject.is_file() else {}
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
    engine, workers = _engine(pyproject, table)
    trusted = table.get("trusted_types", [])
    if not isinstance(trusted, list) or not all(isinstance(t, str) and t for t in trusted):
        raise EvalgateError(f"{pyproject}: [tool.evalgate] trusted_types: a list of type names "
                            f"(\"sklearn.tree._tree.Tree\"), got {trusted!r}")
    env_key = os.environ.get("EVALGATE_SIGNING_KEY")
    signing_key = _text(pyproject, table, "signing_key", "", empty=True)
    key = Path(env_key).resolve() if env_key else (
        base / signing_key if signing_key else None)
    return Settings(root=root,
                    suites=base / _text(pyproject, table, "suites", DEFAULT_SUITES),
                    report=base / _text(pyproject, table, "report", DEFAULT_REPORT),
                    registry=base / _text(pyproject, table, "registry", DEFAULT_REGISTRY),
                    timeout_s=timeout_s,
                    signing_key=key, attempts=str(attempts), engine=engine, workers=workers,
                    trusted_types=tuple(trusted))


def _table(pyproject: Path) -> dict[str, Any]:
    """``[tool.evalgate]`` of ``pyproject``: a table of known keys."""
    try:
        doc = tomllib.loads(pyproject.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EvalgateError(f"{pyproject}: cannot read [tool.evalgate]: {exc}") from None
    tool = doc.get("tool", {})
    if not isinstance(tool, dict):
        raise EvalgateError(f"{pyproject}: [tool] must be a table, got {_kind(tool)}")
    table = tool.get("evalgate", {})
    if not isinstance(table, dict):
        raise EvalgateError(f"{pyproject}: [tool.evalgate] must be a table, got "
                            f"{_kind(table)}; write its keys (suites = \"suites\", …) under "
                            f"a [tool.evalgate] header")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise EvalgateError(f"{pyproject}: unknown key(s) in [tool.evalgate]: "
                            f"{', '.join(unknown)}; valid keys: {', '.join(KEYS)}")
    return table


def _text(pyproject: Path, table: dict[str, Any], key: str, default: str, *,
          empty: bool = False) -> str:
    """A path or name of ``[tool.evalgate]``: a string (non-empty unless ``empty``)."""
    value = table.get(key, default)
    if not isinstance(value, str) or not (value or empty):
        got = "an empty string" if value == "" else _kind(value)
        raise EvalgateError(f"{pyproject}: [tool.evalgate] {key}: expected a "
                            f"{'path' if key != 'engine' else 'name'} in quotes (a string), "
                            f"got {got}")
    return value


def _kind(value: object) -> str:
    """What a TOML value is, for a message."""
    if isinstance(value, dict):
        return "a table"
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a number"),
             (str, "a string"), (list, "a list"))
    what = next((name for t, name in kinds if isinstance(value, t)), type(value).__name__)
    return f"{what} ({value!r})"


def _engine(pyproject: Path, table: dict[str, Any]) -> tuple[str, int | None]:
    engine = _text(pyproject, table, "engine", "local")
    workers = table.get("workers")
    try:
        parse_engine(str(engine))
    except ValueError as exc:
        raise EvalgateError(f"{pyproject}: [tool.evalgate] engine: {exc}") from None
    try:
        return str(engine), None if workers is None else check_workers(workers)
    except ValueError as exc:
        raise EvalgateError(f"{pyproject}: [tool.evalgate] workers: {exc}") from None


def engine_choice(settings: Settings, engine: str | None, workers: int | None) -> EngineChoice:
    """The engine of a run: the command line's ``engine`` and ``workers`` over the project's;
    ``ValueError`` when they do not fit (workers for the local engine or an existing
    cluster, given on the command line)."""
    text = engine if engine is not None else settings.engine
    if workers is None and not text.startswith("dask://") and text != "local":
        workers = settings.workers  # the project's size of its LocalCluster
    return parse_engine(text, workers)


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
