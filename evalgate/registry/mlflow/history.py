"""What evalgate recorded on an MLflow model, read back: its versions with their ``evalgate.*``
tags, the changes made through evalgate, each promoted version's numbers — and ``audit verify``:
the changes' hash chain, and MLflow's aliases against the ones the changes lead to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...errors import IntegrityError, RegistryError
from ..audit import Verification
from ..records import History
from ..references import CHAMPION
from .client import SHA_TAG, client, code_of, failed, mlflow_error, registry_uri
from .moves import Move, moved_outside, pending, read
from .release import VERDICT_TAG


@dataclass(frozen=True)
class MlflowVersion:
    """One MLflow model version as a history lists it."""

    name: str
    number: int
    sha256: str  # its evalgate.sha256 tag ("" when it has none)
    created_at: str
    created_by: str
    source: str
    notes: str  # its description
    tags: Mapping[str, str]  # its evalgate.* tags

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.number, "sha256": self.sha256,
                "created_at": self.created_at, "created_by": self.created_by,
                "source": self.source, "notes": self.notes, "tags": dict(self.tags)}

    @classmethod
    def of(cls, mv: Any) -> MlflowVersion:
        tags = {k: str(v) for k, v in dict(mv.tags or {}).items() if k.startswith("evalgate.")}
        ms = getattr(mv, "creation_timestamp", None)
        created = (datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
                   if isinstance(ms, int) else "")
        return cls(name=str(mv.name), number=int(mv.version), sha256=tags.get(SHA_TAG, ""),
                   created_at=created, created_by=str(getattr(mv, "user_id", "") or ""),
                   source=str(mv.source or ""), notes=str(mv.description or ""), tags=tags)


def _read(name: str) -> tuple[Any, list[Any]]:
    c = client()
    try:
        return c.get_registered_model(name), c.search_model_versions(f"name='{name}'")
    except mlflow_error() as exc:
        if code_of(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"no model named {name!r} in MLflow's registry "
                                f"{registry_uri()}") from None
        failed(f"mlflow:{name}", exc)


def _aliases(model: Any) -> dict[str, int]:
    return {str(a): int(v) for a, v in dict(getattr(model, "aliases", {}) or {}).items()}


def history(name: str) -> History:
    """The versions of MLflow model ``name`` (with their evalgate tags), its aliases, the
    changes made through evalgate and the key metrics of each promoted version's verdict (its
    ``evalgate.verdict`` tag)."""
    model, found = _read(name)
    versions = sorted((MlflowVersion.of(mv) for mv in found), key=lambda v: v.number)
    state = read(name, model)
    aliases = dict(state.aliases)
    moves = state.moves
    by_number = {v.number: v for v in versions}
    metrics: dict[int, Mapping[str, float]] = {}
    events = []
    for m in moves:
        events.append(dict(m.data))
        if m.data["action"] == "promote" and m.data["version"] in by_number:
            metrics[m.data["version"]] = _metrics(by_number[m.data["version"]].tags)
    return History(name, tuple(versions), aliases, tuple(events), metrics)


def _metrics(tags: Mapping[str, str]) -> dict[str, float]:
    """The key metrics the ``evalgate.verdict`` tag records ({} when it holds none)."""
    try:
        found = json.loads(tags.get(VERDICT_TAG, "{}")).get("metrics")
    except (ValueError, AttributeError):
        return {}
    return {str(k): float(v) for k, v in found.items()
            if isinstance(v, (int, float))} if isinstance(found, dict) else {}


def verify(name: str) -> Verification:
    """The changes' hash chain; the aliases they lead to against MLflow's (an alias moved
    outside evalgate since the last change is a problem); each promoted version's sha256 tag
    against the one its promotion recorded."""
    model, found = _read(name)
    aliases = _aliases(model)
    problems: list[str] = []
    notes: list[str] = []
    try:
        state = read(name, model)
    except IntegrityError as exc:
        return Verification(f"mlflow:{name}", 0, "", (str(exc),), ())
    moves = list(state.recorded)
    stale = pending(moves, aliases, state.done)
    if stale is not None:
        notes.append(f"change {stale.seq} ({stale.data['action']} to version "
                     f"{stale.data['version']}) was recorded but its alias never moved (the "
                     "command was interrupted); the next change discards it")
        moves = moves[:-1]
    problems += _chain(moves, notes)
    if state.done is not None and state.done > state.last:
        problems.append(f"change {state.done} was marked done, but the last change recorded is "
                        f"#{state.last}: a change was deleted")
    managed = {m.alias for m in moves if m.alias is not None}
    for alias in sorted(managed | ({CHAMPION} & set(aliases))):
        problem = moved_outside(name, state, alias)
        if problem is not None:
            problems.append(problem)
    shas = {int(mv.version): dict(mv.tags or {}).get(SHA_TAG) for mv in found}
    for m in moves:
        if m.data["action"] == "promote" and m.data.get("sha256") and \
                shas.get(m.data["version"]) != m.data["sha256"]:
            problems.append(f"version {m.data['version']}'s {SHA_TAG} tag is not the sha256 "
                            f"its promotion (#{m.seq}) recorded: it was changed")
    head = moves[-1].digest if moves else ""
    return Verification(f"mlflow:{name}", len(moves), head, tuple(problems), tuple(notes))


def _chain(moves: list[Move], notes: list[str]) -> list[str]:
    """Each change's ``prev`` against the sha256 of the change before it."""
    problems = []
    before: Move | None = None
    for m in moves:
        if "prev" not in m.data:
            notes.append(f"change {m.seq} predates the hash chain (no prev)")
        elif m.data["prev"] != (before.digest if before is not None else None):
            problems.append(f"change {m.seq}'s link does not match the change before it "
                            f"({'#' + str(before.seq) if before else 'none'}): a change was "
                            "edited or deleted")
        before = m
    return problems
