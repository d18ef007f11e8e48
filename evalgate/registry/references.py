"""Model references: ``registry:NAME@ALIAS``, ``registry:NAME@3`` and ``mlflow:NAME@ALIAS``
(the alias defaults to ``champion``), the names and aliases they may hold, and what a resolved
reference gives back (:class:`Resolved`: one model file and the sha256 its bytes must have).

Resolving a reference needs the registry it names: :func:`evalgate.registry.resolve` and
:func:`evalgate.registry.resolver` dispatch to the local registry (:mod:`.local`) or to MLflow
(:mod:`.mlflow`). This module imports neither, so both can import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import REFERENCE_SCHEMES
from ..errors import RegistryError

CHAMPION = "champion"
SCHEMES = REFERENCE_SCHEMES

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_ALIAS_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
#: a version number as references and commands write it: 3 or v3 (ASCII digits only)
_VERSION_RE = re.compile(r"[vV]?([0-9]{1,18})")


def version_of_text(text: str) -> int | None:
    """The version number ``text`` writes (``3``, ``v3``), else None."""
    m = _VERSION_RE.fullmatch(text)
    return int(m.group(1)) if m else None


def check_name(name: str) -> str:
    """``name`` if it is a valid model name, else :class:`RegistryError` saying what is."""
    if not _NAME_RE.fullmatch(name or ""):
        raise RegistryError(f"invalid model name {name!r}: use letters, digits, '.', '_', '-' "
                            "(starting with a letter or digit, at most 100 characters)")
    return name


def check_alias(alias: str, *, removing: bool = False) -> str:
    """``alias`` if it is a valid alias, else :class:`RegistryError` saying what is.
    ``removing``: an alias named like a version (``v2``, allowed before stop 30) may still be
    removed, never set."""
    if not _ALIAS_RE.fullmatch(alias or ""):
        raise RegistryError(f"invalid alias {alias!r}: use letters, digits, '_', '-', starting "
                            "with a letter (a number names a version: @3)")
    if version_of_text(alias) is not None and not removing:
        raise RegistryError(f"invalid alias {alias!r}: it reads as a version number (@3 and "
                            "@v3 both name version 3); choose another name")
    return alias


@dataclass(frozen=True)
class Reference:
    """``registry:NAME@ALIAS``, ``registry:NAME@3`` or ``mlflow:NAME@ALIAS`` (alias defaults to
    ``champion``)."""

    scheme: str
    name: str
    alias: str | None
    version: int | None

    def __str__(self) -> str:
        return f"{self.scheme}:{self.name}@{self.alias if self.version is None else self.version}"


def parse_reference(text: str) -> Reference:
    """The reference ``text`` writes; :class:`RegistryError` when it is not one."""
    scheme, sep, rest = text.partition(":")
    if not sep or scheme not in SCHEMES:
        raise RegistryError(f"{text!r} is not a model reference; write registry:NAME@champion, "
                            "registry:NAME@3 or mlflow:NAME@champion")
    name, at, selector = rest.partition("@")
    if scheme == "registry":
        check_name(name)
    elif not name or "'" in name:
        raise RegistryError(f"{text!r}: the model name is missing or holds a quote")
    if not at:
        selector = CHAMPION
    number = version_of_text(selector)
    if number is not None:
        if number < 1:
            raise RegistryError(f"{text!r}: versions start at 1")
        return Reference(scheme, name, None, number)
    return Reference(scheme, name, check_alias(selector), None)


def mlflow_name(text: str) -> str | None:
    """NAME, for ``mlflow:NAME`` (how ``rollback`` and ``history`` name an MLflow model); None
    for any other text (the name of a model in the local registry)."""
    if not text.startswith("mlflow:"):
        return None
    ref = parse_reference(text)
    if ref.version is not None or ref.alias != CHAMPION:
        raise RegistryError(f"{text!r}: name the MLflow model (mlflow:{ref.name}), not one of "
                            "its versions or aliases")
    return ref.name


def local_only(text: str, verb: str) -> None:
    """Refuse ``mlflow:NAME`` for a verb that reads the local registry's files alone."""
    if text.startswith("mlflow:"):
        raise RegistryError(f"{text}: {verb} reads the local registry (its stored verdicts and "
                            "profiles); for an MLflow model, `evalgate history "
                            f"{text.split('@')[0]}` lists what evalgate recorded there")


@dataclass(frozen=True)
class Resolved:
    """A reference resolved to one model file and the sha256 its bytes must have."""

    ref: str
    name: str
    version: int
    path: Path
    sha256: str
    #: the registered version's lineage (training data, params, code, author …), if any
    lineage: Mapping[str, Any] | None = None
