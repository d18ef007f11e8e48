"""The registry's records as data: a version (``versions/N/version.json``), the committed state
(``state.json``), one audit entry, and how entries replay into a state.

:func:`apply` is the one definition of what a change does to the aliases and the champion stack
(promote pushes, rollback pops back to its target); the local registry replays its audit log
with it, and the MLflow registry replays evalgate's record of champion moves with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .._io import sha256_file
from ..errors import TAMPERED, IntegrityError, RegistryError
from ..models.formats import FORMATS as MODEL_FORMATS
from ..models.formats import format_of
from .references import CHAMPION

ZERO_HASH = "0" * 64
STATE_SCHEMA = "evalgate.registry/1"
VERSION_SCHEMA = "evalgate.version/1"
#: model formats by file suffix, from the one table evalgate.models reads them by
FORMATS = {suffix: f.name for f in MODEL_FORMATS for suffix in f.suffixes}


def short(sha: str | None) -> str:
    """The first 12 hex digits of a sha256, for messages (``none`` for no sha256)."""
    return f"{sha[:12]}…" if sha else "none"


def model_format(path: Path) -> str:
    """The format of a model file, by its suffix; :class:`RegistryError` for an unknown one."""
    fmt = format_of(path)
    if fmt is None:
        raise RegistryError(f"{path}: unknown model format; the registry stores "
                            f"{', '.join(FORMATS)} files")
    return fmt.name


def dumps(obj: Any) -> bytes:
    """``obj`` as the registry writes its JSON files (indented, UTF-8, a final newline)."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def fmt_aliases(aliases: Mapping[str, int]) -> str:
    """``champion=v2, staging=v3`` (``none`` for no aliases), for messages."""
    return ", ".join(f"{a}=v{v}" for a, v in sorted(aliases.items())) or "none"


def fmt_keys(keys: Sequence[tuple[str, str]]) -> str:
    """The key ids of ``(key_id, PEM)`` pairs (``none`` for no keys), for messages."""
    return ", ".join(k for k, _ in keys) or "none"


@dataclass(frozen=True)
class Version:
    """One registered version (``versions/N/version.json``); never changes once written."""

    name: str
    number: int
    dir: Path
    file: str
    sha256: str
    size: int
    format: str
    inputs: list[dict[str, Any]] | None
    created_at: str
    created_by: str
    source: str
    lineage: dict[str, Any]
    notes: str

    @property
    def path(self) -> Path:
        return self.dir / self.file

    @classmethod
    def read(cls, name: str, directory: Path) -> Version:
        """The version recorded in ``directory/version.json`` (:class:`IntegrityError` when
        it cannot be read)."""
        path = directory / "version.json"
        try:
            doc = json.loads(path.read_bytes())
            return cls(name=name, number=int(doc["version"]), dir=directory,
                       file=str(doc["file"]), sha256=str(doc["sha256"]), size=int(doc["size"]),
                       format=str(doc["format"]), inputs=doc.get("inputs"),
                       created_at=doc.get("created_at", ""), created_by=doc.get("created_by", ""),
                       source=doc.get("source", ""), lineage=doc.get("lineage") or {},
                       notes=doc.get("notes") or "")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IntegrityError(f"{path}: unreadable version record ({exc!r})") from None

    def record(self) -> dict[str, Any]:
        """The content of version.json."""
        return {"schema": VERSION_SCHEMA, "name": self.name, "version": self.number,
                "file": self.file, "sha256": self.sha256, "size": self.size,
                "format": self.format, "inputs": self.inputs, "created_at": self.created_at,
                "created_by": self.created_by, "source": self.source, "lineage": self.lineage,
                "notes": self.notes}

    def verify(self) -> None:
        """Refuse a version whose model file no longer holds the registered bytes."""
        try:
            actual = sha256_file(self.path)
        except OSError as exc:
            raise IntegrityError(f"{self.path}: {self.name} version {self.number}'s model file "
                                 f"cannot be read: {exc.strerror or exc}") from None
        if actual != self.sha256:
            raise IntegrityError(f"{self.path}: {self.name} version {self.number} {TAMPERED} "
                                 f"({short(self.sha256)}; the file now has {short(actual)}): it "
                                 "was modified after registration")


@dataclass(frozen=True)
class State:
    """``state.json``: what is committed. ``entries``/``head`` anchor the end of the audit log."""

    aliases: Mapping[str, int] = field(default_factory=dict)
    champions: tuple[int, ...] = ()  # champion stack: promote pushes, rollback pops
    entries: int = 0
    head: str = ZERO_HASH
    #: the registry policy only (:class:`evalgate.registry.RegistryPolicy`): the public keys
    #: whose signature a promoted verdict must carry, as ``(key_id, PEM)`` pairs
    require_signed: tuple[tuple[str, str], ...] = ()

    def to_json(self, name: str) -> bytes:
        """The content of state.json."""
        doc: dict[str, Any] = {"schema": STATE_SCHEMA, "name": name,
                               "aliases": dict(self.aliases), "champions": list(self.champions),
                               "audit": {"entries": self.entries, "head": self.head}}
        if self.require_signed:
            doc["require_signed"] = [{"key_id": k, "public_key": pem}
                                     for k, pem in self.require_signed]
        return dumps(doc)

    @classmethod
    def read(cls, path: Path) -> State:
        """The state in ``path`` (an empty state when there is no file yet;
        :class:`IntegrityError` when it cannot be read)."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls()
        try:
            doc = json.loads(raw)
            audit = doc["audit"]
            return cls(aliases={str(k): int(v) for k, v in doc["aliases"].items()},
                       champions=tuple(int(v) for v in doc.get("champions", ())),
                       entries=int(audit["entries"]), head=str(audit["head"]),
                       require_signed=keys_of(doc) if "require_signed" in doc else ())
        except (ValueError, KeyError, TypeError, AttributeError, IntegrityError) as exc:
            raise IntegrityError(f"{path}: unreadable registry state ({exc!r})") from None


@dataclass(frozen=True)
class Entry:
    """One audit line: ``raw`` are its exact bytes, ``digest`` their sha256."""

    data: Mapping[str, Any]
    raw: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def action(self) -> str:
        return str(self.data.get("action"))

    @classmethod
    def parse(cls, raw: bytes) -> Entry:
        """The entry a log line holds; a line that is not a JSON object reads as
        ``{"invalid": true}`` (the chain check reports it)."""
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {"invalid": True}
        return cls(data=data, raw=raw)


def version_of(entry: Mapping[str, Any]) -> int:
    """The version an audit entry names; a malformed entry is an :class:`IntegrityError`."""
    try:
        return int(entry["version"])
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(f"audit entry {entry.get('seq')!r} ({entry.get('action')!r}) "
                             "names no version: the entry was edited") from None


def apply(state: State, entry: Mapping[str, Any]) -> State:
    """The state after ``entry`` (aliases and champion stack; not the audit anchor)."""
    aliases = dict(state.aliases)
    champions = list(state.champions)
    action = entry.get("action")
    if action == "promote":
        aliases[CHAMPION] = version_of(entry)
        champions.append(version_of(entry))
    elif action == "rollback":
        target = version_of(entry)
        aliases[CHAMPION] = target
        if target in champions:
            del champions[len(champions) - champions[::-1].index(target):]
        else:
            champions.append(target)
    elif action == "alias":
        if entry.get("version") is None:
            aliases.pop(str(entry["alias"]), None)
        else:
            aliases[str(entry["alias"])] = version_of(entry)
    elif action == "policy" and "require_signed" in entry:
        return replace(state, aliases=aliases, champions=tuple(champions),
                       require_signed=keys_of(entry))
    return replace(state, aliases=aliases, champions=tuple(champions))


def keys_of(entry: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The ``require_signed`` keys of a policy entry (or state.json) as (key_id, PEM) pairs."""
    try:
        return tuple((str(k["key_id"]), str(k["public_key"])) for k in entry["require_signed"])
    except (KeyError, TypeError) as exc:
        raise IntegrityError(f"policy entry {entry.get('seq')!r}: unreadable require_signed "
                             f"({exc!r}): the entry was edited") from None


def replay(committed: Sequence[Entry]) -> tuple[State, dict[int, str], list[str]]:
    """The state the committed entries lead to, the sha256 each registered version has, and
    the entries that cannot be applied."""
    replayed = State()
    registered: dict[int, str] = {}
    problems: list[str] = []
    for e in committed:
        try:
            replayed = apply(replayed, e.data)
            if e.action == "register":
                number = version_of(e.data)
                if number in registered:  # a number is never given twice
                    raise IntegrityError(f"entry {e.data.get('seq')!r}: version {number} "
                                         "registered twice")
                registered[number] = str(e.data.get("sha256"))
        except (IntegrityError, KeyError) as exc:
            problems.append(str(exc))
    return replayed, registered, problems


class VersionInfo(Protocol):
    """What a history lists of each version: a local :class:`Version`, or an MLflow model
    version (:class:`evalgate.registry.mlflow.MlflowVersion`)."""

    @property
    def number(self) -> int: ...

    @property
    def sha256(self) -> str: ...

    @property
    def created_at(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def notes(self) -> str: ...

    def record(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class History:
    """A model's versions, its aliases now, the alias moves (oldest first) and the key metrics
    of the verdict that promoted each version."""

    name: str
    versions: tuple[VersionInfo, ...]
    aliases: Mapping[str, int]
    events: tuple[Mapping[str, Any], ...]  # promote / rollback / alias entries, oldest first
    metrics: Mapping[int, Mapping[str, float]]  # version → metrics of the verdict promoting it

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": dict(self.aliases),
                "versions": [v.record() for v in self.versions],
                "events": [dict(e) for e in self.events],
                "metrics": {str(k): dict(v) for k, v in self.metrics.items()}}
