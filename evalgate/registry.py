"""The local model registry: versions, aliases, promotion, rollback, and a hash-chained audit log.

It needs no server: a folder (``registry/``, or ``[tool.evalgate] registry``) with one folder per
model name::

    registry/churn/
      .lock              locked (filelock) by every command that changes ``churn``
      state.json         the committed state: aliases, champion stack, audit head (count + hash)
      audit.jsonl        append-only JSON lines; each carries the sha256 of the line before it
      versions/3/        one complete version: model.onnx + version.json (never edited)
      verdicts/<sha>.json         a copy of each verdict that allowed a promotion
      verdicts/<sha>.signoff.json the sign-off that went with it, when it was bound to the verdict

Every change runs under the lock and follows one protocol, so a crash at any point leaves the
registry readable and consistent:

1. new files go to a temporary name, are flushed (fsync) and renamed into place; a version
   folder is built as ``versions/.tmp-*`` and renamed to ``versions/N`` only when complete;
2. the change is appended to ``audit.jsonl`` as one line (fsync);
3. ``state.json`` is replaced atomically (compare-and-swap on the audit head). This is the
   commit point: readers only ever read ``state.json``, so an alias never names a version
   whose files are incomplete.

A command killed between 2 and 3 leaves at most one uncommitted line at the end of the log;
the next change discards it (it never took effect) before appending. A version folder renamed
into place whose ``register`` entry was not committed is adopted by the next change (a
``register`` entry with ``"recovered": true``). More than one uncommitted line, or a log that
does not end at the head recorded in ``state.json``, is tampering: writes are refused and
``evalgate audit verify`` says where the chain breaks.

Every read checks the same things, not only ``evalgate audit verify``: ``state.json`` must be
what its log leads to (chain intact and anchored at its head, the aliases and champion stack
replayed from the entries), and a version's sha256 is the one its ``register`` entry records
(``version.json`` must agree). A mismatch refuses ``resolve`` (so a gate against
``registry:NAME@…``), ``alias``, ``promote`` and ``rollback`` with :class:`IntegrityError`
naming the file and what differs, so a hand edit is never laundered by the next change.

Only a passing, complete verdict for exactly these bytes, judged against exactly the current
champion, moves ``champion`` forward (:meth:`ModelRegistry.promote`; what "passing" must prove
is :mod:`evalgate.promotion`); ``rollback`` moves it back to an earlier champion; other aliases
(``staging``) are free.

The registry-wide policy (``evalgate registry init [--require-signed PUBKEY …]``) lives in
``registry/.policy/`` with the same protocol and hash chain (:class:`RegistryPolicy`): the
public keys one of which must have signed a promoted verdict. Each model's entries record where
the policy's log ended, so removing the requirement by hand (editing or deleting
``.policy/``) is detected as tampering.

Test hook: ``EVALGATE_TEST_CRASH_AT=<step>`` (one of :data:`CRASH_STEPS`) makes the process
``os._exit(137)`` at that step of a change, so tests can kill a promotion anywhere.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._io import fsync_dir, sha256_file, write_atomic
from .config import is_reference  # noqa: F401 - re-exported
from .errors import (
    TAMPERED,
    ChampionChanged,
    IntegrityError,
    PromotionRefused,
    RegistryError,
    did_you_mean,
)
from .promotion import (  # noqa: F401 - re-exported
    _NAME_RE,
    CHAMPION,
    CHAMPION_CHANGED,
    CHANGED_SINCE,
    EDITED,
    FORMATS,
    IN_PROGRESS,
    INCOMPLETE,
    MALFORMED,
    NOT_PROMOTE,
    OTHER_MODEL,
    SCHEMES,
    SIGNOFF_NAME,
    VERDICT_SCHEMA_PREFIX,
    Checked,
    Reference,
    Resolved,
    Signoff,
    VerdictFile,
    check_alias,
    check_name,
    checked_candidate,
    key_metrics,
    model_format,
    parse_reference,
    short,
)

ZERO_HASH = "0" * 64
#: the registry-wide policy's folder (a name no model can have)
POLICY_DIR = ".policy"
_CHUNK = 1 << 20
STATE_SCHEMA = "evalgate.registry/1"
VERSION_SCHEMA = "evalgate.version/1"
LOCK_TIMEOUT_S = 60.0
CRASH_ENV = "EVALGATE_TEST_CRASH_AT"
#: where EVALGATE_TEST_CRASH_AT can kill a change, in the order a promotion meets them
CRASH_STEPS = (
    "locked",            # lock held, state recovered, nothing written
    "version-copied",    # model bytes in versions/.tmp-*, version.json not yet written
    "version-written",   # temporary version folder complete, not yet renamed
    "version-renamed",   # versions/N in place, its register entry not yet appended
    "register-appended", # register entry in the log, state.json not yet replaced
    "register-committed",  # state.json replaced: the version is registered
    "verdict-stored",    # verdict copy written, promote entry not yet appended
    "promote-appended",  # promote entry in the log, state.json not yet replaced
    "promote-committed",  # state.json replaced: the alias has moved (lock still held)
)

# --------------------------------------------------------------------------- small helpers


def _crash_point(step: str) -> None:
    """Test hook: ``EVALGATE_TEST_CRASH_AT=step`` kills the process here (see CRASH_STEPS)."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(137)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "unknown")


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def fingerprint(path: Path) -> dict[str, Any]:
    """The training data's fingerprint: sha256 of a file, or of a folder's (path, sha256) list."""
    if path.is_file():
        return {"path": str(path), "sha256": sha256_file(path), "size": path.stat().st_size}
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        listing = "".join(f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n" for p in files)
        return {"path": str(path), "sha256": hashlib.sha256(listing.encode()).hexdigest(),
                "files": len(files), "size": sum(p.stat().st_size for p in files)}
    raise RegistryError(f"{path}: training data not found")


def input_signature(path: Path, fmt: str) -> list[dict[str, Any]] | None:
    """The model's inputs (name, type, shape) as onnxruntime reports them; None for non-ONNX."""
    if fmt != "onnx":
        return None
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RegistryError(f"{path}: not a loadable ONNX model: {first}") from None
    return [{"name": i.name, "type": i.type,
             "shape": [d if isinstance(d, int) else None for d in (i.shape or [])]}
            for i in session.get_inputs()]


def resolve(text: str, root: Path) -> Resolved:
    """Resolve a ``registry:`` or ``mlflow:`` reference to a model file (bytes not yet checked:
    the caller compares ``sha256`` with the bytes it loads)."""
    ref = parse_reference(text)
    if ref.scheme == "mlflow":
        from .mlflow_registry import resolve as resolve_mlflow

        return resolve_mlflow(ref)
    reg = ModelRegistry(root, ref.name)
    if not reg.exists():
        names = Registry(root).names()
        known = f" (models: {', '.join(names)})" if names else " (it holds no models)"
        raise RegistryError(f"{text}: no model named {ref.name!r} in the registry "
                            f"{root}{did_you_mean(ref.name, names)}{known}")
    if ref.version is not None:
        number = ref.version
    else:
        state = reg.checked_state()
        assert ref.alias is not None
        if ref.alias not in state.aliases:
            have = ", ".join(f"{a}=v{v}" for a, v in sorted(state.aliases.items())) or "none"
            raise RegistryError(f"{text}: {ref.name} has no alias {ref.alias!r} (aliases: {have})")
        number = state.aliases[ref.alias]
    v = reg.version(number)
    return Resolved(ref=text, name=ref.name, version=v.number, path=v.path, sha256=v.sha256)


# --------------------------------------------------------------------------- records


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
    #: the registry policy only (:class:`RegistryPolicy`): the public keys whose signature a
    #: promoted verdict must carry, as ``(key_id, PEM)`` pairs
    require_signed: tuple[tuple[str, str], ...] = ()

    def to_json(self, name: str) -> bytes:
        doc: dict[str, Any] = {"schema": STATE_SCHEMA, "name": name,
                               "aliases": dict(self.aliases), "champions": list(self.champions),
                               "audit": {"entries": self.entries, "head": self.head}}
        if self.require_signed:
            doc["require_signed"] = [{"key_id": k, "public_key": pem}
                                     for k, pem in self.require_signed]
        return _dumps(doc)


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
                       require_signed=_keys_of(entry))
    return replace(state, aliases=aliases, champions=tuple(champions))


def _keys_of(entry: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The ``require_signed`` keys of a policy entry (or state.json) as (key_id, PEM) pairs."""
    try:
        return tuple((str(k["key_id"]), str(k["public_key"])) for k in entry["require_signed"])
    except (KeyError, TypeError) as exc:
        raise IntegrityError(f"policy entry {entry.get('seq')!r}: unreadable require_signed "
                             f"({exc!r}): the entry was edited") from None


@dataclass(frozen=True)
class Promotion:
    name: str
    version: Version
    previous: int | None
    registered: bool
    signoff: Signoff | None
    signoff_note: str
    verdict_sha256: str
    noop: bool = False
    #: the trusted key that signed the verdict (None: no signature was required)
    key_id: str | None = None


@dataclass(frozen=True)
class Verification:
    name: str
    entries: int
    head: str
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class History:
    name: str
    versions: tuple[Version, ...]
    aliases: Mapping[str, int]
    events: tuple[Mapping[str, Any], ...]  # promote / rollback / alias entries, oldest first
    metrics: Mapping[int, Mapping[str, float]]  # version → metrics of the verdict promoting it

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": dict(self.aliases),
                "versions": [v.record() for v in self.versions],
                "events": [dict(e) for e in self.events],
                "metrics": {str(k): dict(v) for k, v in self.metrics.items()}}


# --------------------------------------------------------------------------- the registry


class Registry:
    """The registry folder: one :class:`ModelRegistry` per model name."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and _NAME_RE.fullmatch(p.name))

    def model(self, name: str) -> ModelRegistry:
        return ModelRegistry(self.root, name)

    def policy(self) -> tuple[tuple[str, str], ...]:
        """The public keys (key id, PEM) one of which must have signed a promoted verdict;
        read through the policy's hash-chained log (:class:`IntegrityError` if edited)."""
        policy = RegistryPolicy(self.root)
        if not policy.exists():
            return ()
        return policy.checked_state().require_signed

    def init(self, require_signed: Sequence[Path] = (), *,
             force: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Create the registry folder and set its policy: promote requires a verdict signed by
        one of the ``require_signed`` public keys (none: no signature required). Loosening an
        existing requirement needs ``force``. Recorded in the policy's log, and its new head in
        every model's log. Returns the key ids required (before, after)."""
        from .verdict.signing import key_id, load_public_key, public_pem

        keys: dict[str, str] = {}
        for path in require_signed:
            k = load_public_key(Path(path))
            keys[key_id(k)] = public_pem(k)
        wanted = tuple(keys.items())
        policy = RegistryPolicy(self.root)
        with policy._locked() as state:
            before = state.require_signed
            dropped = sorted({k for k, _ in before} - set(keys))
            if dropped and not force:
                raise RegistryError(
                    f"{self.root}: the registry requires verdicts signed by "
                    f"{_fmt_keys(before)}; this would stop requiring {', '.join(dropped)}: pass "
                    "--force to do so (it is recorded in the audit log)")
            if before != wanted or state.entries == 0:
                policy._change(state, {"action": "policy", "require_signed": [
                    {"key_id": k, "public_key": pem} for k, pem in wanted]})
        anchor = policy._policy_anchor_of_self()
        for name in self.names():
            model = self.model(name)
            with model._locked() as st:
                if model._last_anchor() != anchor:
                    model._change(st, {"action": "policy"})
        return tuple(k for k, _ in before), tuple(keys)

    def infer_name(self, verdict: VerdictFile) -> str | None:
        """The model a verdict's champion belongs to: its ``champion.registry`` record, else its
        path below this registry, else its sha256 (the one name whose champion, or else whose
        versions, hold it)."""
        recorded = verdict.champion_registry or {}
        if str(recorded.get("ref", "registry:")).startswith("registry:") and recorded.get(
                "name") in self.names():
            return str(recorded["name"])
        if verdict.champion_path:
            try:
                rel = (Path.cwd() / verdict.champion_path).resolve().relative_to(
                    self.root.resolve())
            except ValueError:
                rel = None
            if rel is not None and len(rel.parts) == 4 and rel.parts[1] == "versions":
                return rel.parts[0]
        if verdict.champion_sha256:
            names = self.names()
            champions = [n for n in names
                         if (c := self.model(n).champion()) is not None
                         and c.sha256 == verdict.champion_sha256]
            if len(champions) == 1:
                return champions[0]
            holders = [n for n in names if self.model(n).find(verdict.champion_sha256)]
            if not champions and len(holders) == 1:
                return holders[0]  # a former champion: promote will call the verdict stale
        return None


class ModelRegistry:
    """The versions, aliases and audit log of one model name."""

    def __init__(self, root: Path, name: str):
        self.root = Path(root)
        self.name = check_name(name)
        self._lay_out(self.root / name)

    def _lay_out(self, directory: Path) -> None:
        """The files of one hash-chained record under ``directory``."""
        self.dir = directory
        self.versions_dir = self.dir / "versions"
        self.verdicts_dir = self.dir / "verdicts"
        self.state_path = self.dir / "state.json"
        self.audit_path = self.dir / "audit.jsonl"

    @property
    def hint(self) -> str:
        return f"run `evalgate audit verify {self.name}`"

    # ----------------------------------------------------------------- reading (no lock)

    def exists(self) -> bool:
        return self.state_path.is_file() or self.versions_dir.is_dir()

    def state(self) -> State:
        try:
            raw = self.state_path.read_bytes()
        except FileNotFoundError:
            return State()
        try:
            doc = json.loads(raw)
            audit = doc["audit"]
            return State(aliases={str(k): int(v) for k, v in doc["aliases"].items()},
                         champions=tuple(int(v) for v in doc.get("champions", ())),
                         entries=int(audit["entries"]), head=str(audit["head"]),
                         require_signed=_keys_of(doc) if "require_signed" in doc else ())
        except (ValueError, KeyError, TypeError, AttributeError, IntegrityError) as exc:
            raise IntegrityError(f"{self.state_path}: unreadable registry state ({exc!r})") \
                from None

    def versions(self, *, check: bool = True) -> list[Version]:
        """Complete versions, oldest first (temporary folders are never listed). ``check``:
        each registered version's sha256 is the one its register entry in the log records."""
        if not self.versions_dir.is_dir():
            return []
        out = []
        for d in self.versions_dir.iterdir():
            if d.name.isdigit() and (d / "version.json").is_file():
                out.append(Version.read(self.name, d))
        if check and out:
            registered = self.registered()
            for v in out:
                self._check_recorded(v, registered)
        return sorted(out, key=lambda v: v.number)

    def version(self, number: int) -> Version:
        """Version ``number``, once its version.json agrees with the log's register entry."""
        d = self.versions_dir / str(number)
        if not (d / "version.json").is_file():
            have = ", ".join(str(v.number) for v in self.versions(check=False)) or "none"
            raise RegistryError(f"{self.name} has no version {number} (versions: {have})")
        v = Version.read(self.name, d)
        registered = self.registered()
        if number not in registered:
            raise RegistryError(f"{self.name} version {number} is not registered: its "
                                "registration was not committed (an interrupted command); "
                                "the next change records it")
        self._check_recorded(v, registered)
        return v

    def registered(self) -> dict[int, str]:
        """version → the sha256 its committed register entry records."""
        return {version_of(e.data): str(e.data.get("sha256")) for e in self.entries()
                if e.action == "register"}

    def _check_recorded(self, v: Version, registered: Mapping[int, str]) -> None:
        logged = registered.get(v.number)
        if logged is not None and logged != v.sha256:
            raise IntegrityError(
                f"{v.dir / 'version.json'}: records sha256 {short(v.sha256)}, but its register "
                f"entry in {self.audit_path} records {short(logged)}: version.json was edited "
                f"outside evalgate; run `evalgate audit verify {self.name}`")

    def find(self, sha256: str | None) -> Version | None:
        return next((v for v in self.versions() if v.sha256 == sha256), None) if sha256 else None

    def champion(self) -> Version | None:
        number = self.checked_state().aliases.get(CHAMPION)
        return self.version(number) if number is not None else None

    def checked_state(self) -> State:
        """state.json, once it agrees with the hash-chained log (chain intact, anchored at its
        head, aliases and champion stack those the log leads to); :class:`IntegrityError`
        naming the file and what differs otherwise. At most one uncommitted entry (left by an
        interrupted command) is tolerated: it never took effect."""
        state = self.state()
        committed, tail, _, size = self._read_log(state.entries)
        self._check_integrity(state, committed, tail, size)
        return state

    def _check_integrity(self, state: State, committed: Sequence[Entry],
                         tail: Sequence[Entry], size: int) -> None:
        problems = self._chain_problems(committed)
        if size < 0:
            problems.append(f"the log is shorter than the {state.entries} committed entries")
        elif (committed[-1].digest if committed else ZERO_HASH) != state.head:
            problems.append("the last committed entry does not match state.json's head")
        if len(tail) > 1:
            problems.append(f"{len(tail)} uncommitted entries (at most one can be left by an "
                            "interrupted command)")
        elif tail and self._chain_problems(tail, start=state.entries, prev=state.head):
            problems.append("an uncommitted entry that does not continue the chain")
        if problems:
            raise IntegrityError(f"{self.audit_path}: the audit log was modified ("
                                 f"{problems[0]}); refusing to use {self.name}: {self.hint}")
        replayed, _, errors = _replay(committed)
        if errors:
            raise IntegrityError(f"{self.audit_path}: {errors[0]}")
        what = None
        if dict(replayed.aliases) != dict(state.aliases):
            what = (f"its aliases ({_fmt_aliases(state.aliases)}) are not those the audit log "
                    f"leads to ({_fmt_aliases(replayed.aliases)})")
        elif replayed.champions != state.champions:
            what = (f"its champion stack {list(state.champions)} is not the one the audit log "
                    f"leads to {list(replayed.champions)}")
        elif replayed.require_signed != state.require_signed:
            what = (f"its required signing keys ({_fmt_keys(state.require_signed)}) are not "
                    f"those the audit log leads to ({_fmt_keys(replayed.require_signed)})")
        if what is not None:
            raise IntegrityError(f"{self.state_path}: {what}: state.json was edited outside "
                                 f"evalgate; refusing to use {self.name}: {self.hint}")
        problem = self._anchor_problem(committed)
        if problem:
            raise IntegrityError(problem)

    def _anchor_problem(self, committed: Sequence[Entry]) -> str | None:
        """The registry policy this log last recorded must still be in the policy's log."""
        anchor = next((e.data["policy"] for e in reversed(committed)
                       if isinstance(e.data.get("policy"), dict)), None)
        if anchor is None:
            return None
        policy = RegistryPolicy(self.root)
        try:
            n, head = int(anchor["entries"]), str(anchor["head"])
        except (KeyError, TypeError, ValueError):
            return f"{self.audit_path}: an entry's policy anchor was edited"
        entries = policy.entries() if policy.state_path.is_file() else []
        if len(entries) < n or entries[n - 1].digest != head:
            return (f"{policy.state_path}: the registry's policy (signatures required to "
                    f"promote) was removed or rewritten outside evalgate: the audit log of "
                    f"{self.name} recorded policy entry {n} ({short(head)}), which "
                    f"{policy.audit_path} no longer holds; restore {policy.dir} from a backup")
        return None

    def _read_log(self, committed: int) -> tuple[list[Entry], list[Entry], bytes, int]:
        """(committed entries, complete lines after them, a torn last line, committed bytes)."""
        try:
            data = self.audit_path.read_bytes()
        except FileNotFoundError:
            data = b""
        lines = data.split(b"\n")
        partial = lines.pop()  # b"" when the file ends with a newline
        if len(lines) < committed:
            return [self._entry(raw) for raw in lines], [], partial, -1
        entries = [self._entry(raw) for raw in lines]
        size = sum(len(raw) + 1 for raw in lines[:committed])
        return entries[:committed], entries[committed:], partial, size

    @staticmethod
    def _entry(raw: bytes) -> Entry:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {"invalid": True}
        return Entry(data=data, raw=raw)

    def entries(self) -> list[Entry]:
        return self._read_log(self.state().entries)[0]

    # ----------------------------------------------------------------- verification

    @staticmethod
    def _chain_problems(entries: Sequence[Entry], start: int = 0,
                        prev: str = ZERO_HASH) -> list[str]:
        problems = []
        for i, e in enumerate(entries, start=start + 1):
            if e.data.get("invalid"):
                problems.append(f"entry {i}: not a JSON object (the line was edited)")
            elif e.data.get("seq") != i:
                problems.append(f"entry {i}: its seq is {e.data.get('seq')!r}, expected {i} "
                                "(an entry was removed or inserted before it)")
            if e.data.get("prev") != prev:
                what = "the start of the log" if prev == ZERO_HASH else f"entry {i - 1}"
                problems.append(f"entry {i}: its prev hash does not match {what} ({what} was "
                                f"edited, or an entry between them was removed)")
            prev = e.digest
        return problems

    def verify(self, *, check_files: bool = True) -> Verification:
        """Check the hash chain, the anchor in state.json, the aliases replayed from the log,
        and (``check_files``) every version's bytes."""
        state = self.state()
        committed, tail, partial, _ = self._read_log(state.entries)
        problems = self._chain_problems(committed)
        notes = []
        if len(committed) < state.entries:
            problems.append(f"the log holds {len(committed)} entries but the registry state "
                            f"records {state.entries}: entries were removed from the end")
        elif (committed[-1].digest if committed else ZERO_HASH) != state.head:
            problems.append(f"entry {state.entries} does not hash to the head recorded in "
                            f"state.json ({short(state.head)}): the last entry was edited")
        if len(tail) > 1:
            problems.append(f"{len(tail)} entries after the last committed one "
                            f"(#{state.entries}): entries were added outside evalgate")
        elif tail and self._chain_problems(tail, start=state.entries, prev=state.head):
            problems.append(f"entry {state.entries + 1}, after the last committed one, does not "
                            "continue the chain: it was added outside evalgate")
        elif tail:
            notes.append(f"entry {state.entries + 1} was written by a command that stopped "
                         "before committing it; it never took effect and the next change "
                         "discards it")
        if partial:
            notes.append("the log ends in a partly written line (an interrupted command); the "
                         "next change discards it")
        replayed, registered, errors = _replay(committed)
        problems += errors
        if not problems:
            if dict(replayed.aliases) != dict(state.aliases):
                problems.append(f"the aliases in state.json ({_fmt_aliases(state.aliases)}) are "
                                f"not those the log leads to ({_fmt_aliases(replayed.aliases)})")
            elif replayed.champions != state.champions:
                problems.append("the champion stack in state.json is not the one the log "
                                "leads to")
            elif replayed.require_signed != state.require_signed:
                problems.append("the required signing keys in state.json are not those the "
                                "log leads to")
            anchor = self._anchor_problem(committed)
            if anchor:
                problems.append(anchor)
        versions = {v.number: v for v in self.versions(check=False)}
        for number in sorted(set(replayed.aliases.values())):
            if number not in versions:
                problems.append(f"an alias names version {number}, which is missing")
        for number, v in versions.items():
            if number not in registered:
                notes.append(f"version {number} is complete but its registration was not "
                             "committed (an interrupted command); the next change records it")
            elif registered[number] != v.sha256:
                problems.append(f"version {number}: version.json records sha256 "
                                f"{short(v.sha256)}, the log {short(registered[number])}")
            if check_files:
                try:
                    v.verify()
                except IntegrityError as exc:
                    problems.append(str(exc))
        for number in registered:
            if number not in versions:
                problems.append(f"version {number} is in the log but its folder is missing")
        return Verification(self.name, state.entries, state.head, tuple(problems), tuple(notes))

    # ----------------------------------------------------------------- history

    def history(self) -> History:
        entries = self.entries()
        metrics: dict[int, Mapping[str, float]] = {}
        events = []
        for e in entries:
            if e.action in ("promote", "rollback", "alias"):
                events.append(e.data)
            if e.action == "promote":
                metrics[version_of(e.data)] = (e.data.get("verdict") or {}).get("metrics", {})
        return History(self.name, tuple(self.versions()), dict(self.checked_state().aliases),
                       tuple(events), metrics)

    # ----------------------------------------------------------------- changes

    @contextmanager
    def _locked(self) -> Iterator[State]:
        """Hold ``.lock`` (an OS file lock, released by the kernel if the process dies) and
        yield the recovered state."""
        from filelock import FileLock, Timeout

        self.dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.dir / ".lock", timeout=LOCK_TIMEOUT_S)
        try:
            lock.acquire(poll_interval=0.02)
        except Timeout:
            raise RegistryError(f"{self.dir}: locked by another evalgate command for more than "
                                f"{LOCK_TIMEOUT_S:.0f} s") from None
        try:
            state = self._recover()
            _crash_point("locked")
            yield state
        finally:
            lock.release()

    def _recover(self) -> State:
        """Under the lock: discard an uncommitted log line, remove temporary folders, and
        record versions whose registration was not committed. Refuse a tampered log, or a
        state.json that is not the one the log leads to."""
        state = self.state()
        committed, tail, partial, size = self._read_log(state.entries)
        self._check_integrity(state, committed, tail, size)
        if tail or partial:
            with open(self.audit_path, "r+b") as f:
                f.truncate(size)
                f.flush()
                os.fsync(f.fileno())
        if self.versions_dir.is_dir():
            for d in self.versions_dir.iterdir():
                if d.name.startswith(".tmp-"):
                    shutil.rmtree(d, ignore_errors=True)
        registered = {version_of(e.data) for e in committed if e.action == "register"}
        for v in self.versions():
            if v.number not in registered:
                v.verify()  # adopt only a version whose bytes are the ones it records
                state = self._change(state, {"action": "register", "version": v.number,
                                             "sha256": v.sha256, "recovered": True})
        return state

    def _append(self, state: State, fields: Mapping[str, Any]) -> Entry:
        entry = {"seq": state.entries + 1, "prev": state.head, "at": _now(), "name": self.name,
                 "user": _user(), **fields}
        anchor = self._policy_anchor()
        if anchor is not None:
            entry["policy"] = anchor
        raw = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        created = not self.audit_path.exists()
        fd = os.open(self.audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(raw + b"\n")
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.dir)
        _crash_point(f"{fields['action']}-appended")
        return Entry(data=entry, raw=raw)

    def _last_anchor(self) -> dict[str, Any] | None:
        return next((dict(e.data["policy"]) for e in reversed(self.entries())
                     if isinstance(e.data.get("policy"), dict)), None)

    def _policy_anchor(self) -> dict[str, Any] | None:
        """Where the registry policy's log ends: recorded in each entry, so that removing the
        policy (a signature requirement) by hand is detected."""
        policy = RegistryPolicy(self.root).state()
        return {"entries": policy.entries, "head": policy.head} if policy.entries else None

    def _commit(self, old: State, new: State) -> None:
        """Replace state.json, if it still is ``old`` (compare-and-swap on the audit head)."""
        on_disk = self.state()
        if (on_disk.entries, on_disk.head) != (old.entries, old.head):
            raise ChampionChanged(f"{CHAMPION_CHANGED}: {self.name} was changed by another "
                                  "command meanwhile; nothing was changed, try again")
        write_atomic(self.state_path, new.to_json(self.name))

    def _change(self, state: State, fields: Mapping[str, Any]) -> State:
        """Append one audit entry and commit the state it leads to."""
        entry = self._append(state, fields)
        new = replace(apply(state, entry.data), entries=state.entries + 1, head=entry.digest)
        self._commit(state, new)
        _crash_point(f"{fields['action']}-committed")
        return new

    def _register(self, state: State, model: Path, sha: str, *, data: Path | None = None,
                  notes: str = "", derived_from: int | None = None) -> tuple[Version, bool, State]:
        existing = self.find(sha)
        if existing is not None:
            existing.verify()
            return existing, False, state
        fmt = model_format(model)
        if derived_from is not None:
            self.version(derived_from)
        number = max((v.number for v in self.versions()), default=0) + 1
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{number}-", dir=self.versions_dir))
        try:
            filename = f"model{model.suffix.lower()}"
            h = hashlib.sha256()
            size = 0
            with open(model, "rb") as src, open(tmp / filename, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            if h.hexdigest() != sha:
                raise RegistryError(f"{model}: the file changed while it was being registered")
            _crash_point("version-copied")
            v = Version(name=self.name, number=number, dir=self.versions_dir / str(number),
                        file=filename, sha256=sha, size=size, format=fmt,
                        inputs=input_signature(tmp / filename, fmt), created_at=_now(),
                        created_by=_user(), source=str(model.resolve()),
                        lineage={"data": fingerprint(data) if data is not None else None,
                                 "derived_from": derived_from},
                        notes=notes)
            write_atomic(tmp / "version.json", _dumps(v.record()))
            fsync_dir(tmp)
            _crash_point("version-written")
            os.rename(tmp, v.dir)
            fsync_dir(self.versions_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _crash_point("version-renamed")
        state = self._change(state, {"action": "register", "version": number, "sha256": sha,
                                     "derived_from": derived_from})
        return v, True, state

    def register(self, model: Path, *, data: Path | None = None, notes: str = "",
                 derived_from: int | None = None) -> tuple[Version, bool]:
        """Store ``model`` as the next version; the same bytes give back the existing one.
        ``derived_from`` defaults to the current champion."""
        model = Path(model)
        if not model.is_file():
            raise RegistryError(f"{model}: model file not found")
        model_format(model)
        sha = sha256_file(model)
        with self._locked() as state:
            if derived_from is None:
                derived_from = state.aliases.get(CHAMPION)
            v, created, _ = self._register(state, model, sha, data=data, notes=notes,
                                           derived_from=derived_from)
            return v, created

    def set_alias(self, alias: str, number: int | None) -> int | None:
        """Point ``alias`` at version ``number`` (None removes it); not ``champion``, which
        only promote and rollback move. Returns the version it named before."""
        check_alias(alias)
        if alias == CHAMPION:
            raise RegistryError("the champion alias moves only with `evalgate promote` (a "
                                "passing verdict) or `evalgate rollback`")
        with self._locked() as state:
            if number is not None:
                self.version(number)
            before = state.aliases.get(alias)
            if before == number:
                return before
            self._change(state, {"action": "alias", "alias": alias, "version": number,
                                 "from": before})
            return before

    def promote(self, candidate: Path, verdict: VerdictFile, *,
                require_signed: Sequence[Any] = ()) -> Promotion:
        """Make ``candidate`` the champion, if ``verdict`` allows it (see the module docs).
        A verdict must be signed by a key the registry requires (``registry init
        --require-signed``), and also by one of ``require_signed`` when given."""
        policy_keys = [pem for _, pem in Registry(self.root).policy()]
        checked = checked_candidate(candidate, verdict, trusted_keys=policy_keys)
        key = verdict.check_signed(require_signed) if require_signed else None
        key = checked.key_id or key
        candidate, sha = checked.path, checked.sha256
        signoff, signoff_note = checked.signoff, checked.signoff_note
        with self._locked() as state:
            current_number = state.aliases.get(CHAMPION)
            current = self.version(current_number) if current_number is not None else None
            if current is not None and current.sha256 == sha:  # e.g. a retry after a crash
                return Promotion(self.name, current, current.number, False, signoff,
                                 signoff_note, verdict.sha256, noop=True)
            self._check_champion(verdict, current)
            version, created, state = self._register(state, candidate, sha,
                                                     derived_from=current_number)
            version.verify()
            write_atomic(self.verdicts_dir / f"{verdict.sha256}.json", verdict.raw)
            if signoff is not None:
                write_atomic(self.verdicts_dir / f"{verdict.sha256}.signoff.json",
                              signoff.path.read_bytes())
            _crash_point("verdict-stored")
            self._change(state, {
                "action": "promote", "alias": CHAMPION, "version": version.number,
                "sha256": version.sha256, "from": current_number,
                "verdict": verdict.summary(),
                "signoff": signoff.as_dict() if signoff is not None else None,
                "signature": {"key_id": key} if key is not None else None})
            return Promotion(self.name, version, current_number, created, signoff, signoff_note,
                             verdict.sha256, key_id=key)

    def _check_champion(self, verdict: VerdictFile, current: Version | None) -> None:
        """The compare half of compare-and-swap: the verdict's champion is the current one."""
        ref = f"registry:{self.name}@champion"
        if verdict.champion_sha256 is None:
            if current is not None:
                raise ChampionChanged(
                    f"{CHAMPION_CHANGED}: the verdict was judged without a champion (a first "
                    f"release), but {self.name} version {current.number} is the champion now; "
                    f"re-run the gate against {ref}")
            return
        if current is None:
            raise PromotionRefused(
                f"{verdict.path}: the verdict compared with a champion (sha256 "
                f"{short(verdict.champion_sha256)}), but {self.name} has no champion in the "
                "registry; a first release needs a verdict judged without a champion")
        if current.sha256 != verdict.champion_sha256:
            judged = self.find(verdict.champion_sha256)
            what = (f"{self.name} version {judged.number}" if judged is not None else
                    f"a model outside the registry (sha256 {short(verdict.champion_sha256)})")
            raise ChampionChanged(
                f"{CHAMPION_CHANGED}: the verdict was judged against {what}, but the champion of "
                f"{self.name} is now version {current.number}; the verdict is stale, re-run the "
                f"gate against {ref}")

    def rollback(self, to: int | None = None, reason: str = "") -> tuple[int, int]:
        """Move ``champion`` back: to the previous champion, or to ``to`` (an earlier
        champion). Returns (from, to)."""
        with self._locked() as state:
            current = state.aliases.get(CHAMPION)
            if current is None:
                raise RegistryError(f"{self.name} has no champion to roll back")
            if to is None:
                if len(state.champions) < 2:
                    raise RegistryError(f"{self.name} has no previous champion to roll back to "
                                        f"(version {current} is the first)")
                to = state.champions[-2]
            elif to == current:
                raise RegistryError(f"version {to} is already the champion of {self.name}")
            else:
                been = {version_of(e.data) for e in self.entries()
                        if e.action in ("promote", "rollback")}
                if to not in been:
                    self.version(to)
                    raise RegistryError(f"{self.name} version {to} has never been champion; "
                                        "only a passing verdict can make it one "
                                        "(`evalgate promote`)")
            self.version(to).verify()
            self._change(state, {"action": "rollback", "alias": CHAMPION, "version": to,
                                 "from": current, "reason": reason})
            return current, to


class RegistryPolicy(ModelRegistry):
    """The registry-wide policy (``registry/.policy/``: state.json, audit.jsonl, .lock), kept
    with the same protocol and hash chain as a model's log. Its only change is ``policy``
    (which public keys a promoted verdict must be signed by). Every model's log entries record
    where this log ended (``"policy": {"entries", "head"}``), so deleting or rewriting it is
    detected as tampering by the next read of any model changed since."""

    def __init__(self, root: Path):  # no model name to check
        self.root = Path(root)
        self.name = "the registry policy"
        self._lay_out(self.root / POLICY_DIR)

    @property
    def hint(self) -> str:
        return f"restore {self.dir} from a backup"

    def _policy_anchor(self) -> dict[str, Any] | None:
        return None

    def _policy_anchor_of_self(self) -> dict[str, Any] | None:
        state = self.checked_state()
        return {"entries": state.entries, "head": state.head} if state.entries else None


def _fmt_aliases(aliases: Mapping[str, int]) -> str:
    return ", ".join(f"{a}=v{v}" for a, v in sorted(aliases.items())) or "none"


def _fmt_keys(keys: Sequence[tuple[str, str]]) -> str:
    return ", ".join(k for k, _ in keys) or "none"


def _replay(committed: Sequence[Entry]) -> tuple[State, dict[int, str], list[str]]:
    """The state the committed entries lead to, the sha256 each registered version has, and
    the entries that cannot be applied."""
    replayed = State()
    registered: dict[int, str] = {}
    problems: list[str] = []
    for e in committed:
        try:
            replayed = apply(replayed, e.data)
            if e.action == "register":
                registered[version_of(e.data)] = str(e.data.get("sha256"))
        except (IntegrityError, KeyError) as exc:
            problems.append(str(exc))
    return replayed, registered, problems


def resolver(root: Path | None = None) -> Callable[[str], Resolved]:
    """The engine's way to resolve ``registry:``/``mlflow:`` references: local ones in the
    registry at ``root`` (default: the project's), MLflow ones through MLflow."""
    return lambda text: resolve(text, registry_root(root))


def registry_root(configured: Path | None = None) -> Path:
    """The registry folder: ``configured``, else the project's setting (``registry/``)."""
    if configured is not None:
        return configured
    from .config import project_settings

    return project_settings(Path.cwd()).registry
