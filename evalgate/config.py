"""Project settings: ``[tool.evalgate]`` in pyproject.toml, and where things go by default."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import EvalgateError

DEFAULT_SUITES = "suites"
DEFAULT_REPORT = "reports"
DEFAULT_REGISTRY = "registry"
KEYS = ("suites", "report", "registry")


@dataclass(frozen=True)
class Settings:
    root: Path
    suites: Path
    report: Path
    registry: Path  # the local model registry (evalgate.registry)


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
    return Settings(root=root,
                    suites=base / str(table.get("suites", DEFAULT_SUITES)),
                    report=base / str(table.get("report", DEFAULT_REPORT)),
                    registry=base / str(table.get("registry", DEFAULT_REGISTRY)))


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
