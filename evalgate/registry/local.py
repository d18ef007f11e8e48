"""The local model registry: versions, aliases, promotion, rollback, and a hash-chained audit log.

A folder per model name, changed under a lock by a crash-safe protocol (:mod:`.storage`) and
checked against its hash-chained log on every read (:mod:`.audit`). Only a passing, complete
verdict for exactly these bytes, judged against exactly the current champion, moves
``champion`` forward (:meth:`ModelRegistry.promote`; :mod:`.policy` says what it must prove);
``rollback`` moves it back; other aliases (``staging``) are free; monitoring runs are anchored
in the log (:mod:`.monitoring`).

The registry-wide policy (``registry init [--require-signed PUBKEY …]``) is ``.policy/``, a log
like a model's (:class:`RegistryPolicy`) whose end each model's entries record (tampering).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._io import sha256_file, write_atomic
from ..errors import ChampionChanged, IntegrityError, PromotionRefused, RegistryError, did_you_mean
from . import approvals, storage
from .audit import POLICY_DIR, AuditLog, Verification, version_problems
from .policy import CHAMPION_CHANGED, Signoff, VerdictFile, checked_candidate
from .profiles import profile_bytes
from .promotions import promotion_problems
from .records import (
    Entry,
    History,
    State,
    Version,
    apply,
    fmt_aliases,
    fmt_keys,
    model_format,
    short,
    version_of,
)
from .references import _NAME_RE, CHAMPION, Reference, Resolved, check_alias, check_name


@dataclass(frozen=True)
class Promotion:
    """What :meth:`ModelRegistry.promote` did."""

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


def resolve_local(text: str, ref: Reference, root: Path) -> Resolved:
    """The version ``ref`` (a ``registry:`` reference, written ``text``) names in the registry
    at ``root``, once the registry agrees with its log (bytes not yet checked: the caller
    compares ``sha256`` with the bytes it loads)."""
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
            raise RegistryError(f"{text}: {ref.name} has no alias {ref.alias!r} (aliases: "
                                f"{fmt_aliases(state.aliases)})")
        number = state.aliases[ref.alias]
    v = reg.version(number)
    return Resolved(ref=text, name=ref.name, version=v.number, path=v.path, sha256=v.sha256,
                    lineage=v.lineage)


class Registry:
    """The registry folder: one :class:`ModelRegistry` per model name."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def names(self) -> list[str]:
        """The models the registry holds, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and _NAME_RE.fullmatch(p.name))

    def model(self, name: str) -> ModelRegistry:
        """The model ``name`` (it need not exist yet)."""
        return ModelRegistry(self.root, name)

    def policy(self) -> tuple[tuple[str, str], ...]:
        """The public keys (key id, PEM) one of which must sign a promoted verdict, read from
        the policy's log (:class:`IntegrityError`: edited, or moved aside from any model)."""
        for problem in filter(None, (self.model(n).anchor_problem() for n in self.names())):
            raise IntegrityError(problem)
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
        from ..verdict.signing import key_id, load_public_key, public_pem

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
                    f"{fmt_keys(before)}; this would stop requiring {', '.join(dropped)}: pass "
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
        path below this registry, else its sha256 (:meth:`_holder`)."""
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
            return self._holder(verdict.champion_sha256)
        return None

    def _holder(self, sha256: str) -> str | None:
        """The one model whose champion holds ``sha256``, else the one whose versions do."""
        names = self.names()
        champions = [n for n in names
                     if (c := self.model(n).champion()) is not None and c.sha256 == sha256]
        if len(champions) == 1:
            return champions[0]
        holders = [n for n in names if self.model(n).find(sha256)]
        if not champions and len(holders) == 1:
            return holders[0]  # a former champion: promote will call the verdict stale
        return None


class ModelRegistry(AuditLog):
    """The versions, aliases and audit log of one model name."""

    def __init__(self, root: Path, name: str):
        super().__init__(root, Path(root) / check_name(name), name)

    def _lay_out(self, directory: Path) -> None:
        super()._lay_out(directory)
        self.versions_dir = self.dir / "versions"
        self.verdicts_dir = self.dir / "verdicts"

    def exists(self) -> bool:
        """Whether anything of this model was written yet."""
        return self.state_path.is_file() or self.versions_dir.is_dir()

    def versions(self, *, check: bool = True) -> list[Version]:
        """Complete versions, oldest first (temporary folders are never listed). ``check``:
        each registered version's sha256 is the one its register entry in the log records."""
        if not self.versions_dir.is_dir():
            return []
        out = [Version.read(self.name, d) for d in self.versions_dir.iterdir()
               if d.name.isascii() and d.name.isdigit() and (d / "version.json").is_file()]
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

    def _check_recorded(self, v: Version, registered: Mapping[int, str]) -> None:
        logged = registered.get(v.number)
        if logged is not None and logged != v.sha256:
            raise IntegrityError(
                f"{v.dir / 'version.json'}: records sha256 {short(v.sha256)}, but its register "
                f"entry in {self.audit_path} records {short(logged)}: version.json was edited "
                f"outside evalgate; run `evalgate audit verify {self.name}`")

    def find(self, sha256: str | None) -> Version | None:
        """The version holding these bytes, if any."""
        return next((v for v in self.versions() if v.sha256 == sha256), None) if sha256 else None

    def champion(self) -> Version | None:
        """The version ``champion`` names (None: no champion yet)."""
        number = self.checked_state().aliases.get(CHAMPION)
        return self.version(number) if number is not None else None

    def verify(self, *, check_files: bool = True) -> Verification:
        """``audit verify``: the log (:meth:`verify_log`), each promotion's stored verdict
        (:func:`.promotions.promotion_problems`) and (``check_files``) every version's bytes."""
        log = self.verify_log()
        versions = {v.number: v for v in self.versions(check=False)}
        problems, notes = version_problems(log, versions, check_files=check_files)
        problems += promotion_problems(self.verdicts_dir, self.entries())
        return Verification(self.name, log.state.entries, log.state.head,
                            tuple(log.problems + problems), tuple(log.notes + notes))

    def history(self) -> History:
        """The versions, the aliases now, every alias move and each promotion's metrics."""
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


    @contextmanager
    def _locked(self) -> Iterator[State]:
        """Hold ``.lock`` (an OS file lock, released by the kernel if the process dies) and
        yield the recovered state."""
        with storage.locked(self.dir):
            state = self._recover()
            storage.crash_point("locked")
            yield state

    def _recover(self) -> State:
        """Under the lock: discard an uncommitted log line, remove temporary folders, and
        record versions whose registration was not committed. Refuse a tampered log, or a
        state.json that is not the one the log leads to."""
        state = self.state()
        log = self.read_log(state.entries)
        self._check_integrity(state, log)
        if log.tail or log.partial:
            storage.truncate(self.audit_path, log.size)
        storage.remove_temporaries(self.versions_dir)
        registered = {version_of(e.data) for e in log.committed if e.action == "register"}
        for v in self.versions():
            if v.number not in registered:
                v.verify()  # adopt only a version whose bytes are the ones it records
                state = self._change(state, {"action": "register", "version": v.number,
                                             "sha256": v.sha256, "recovered": True})
        return state

    def _append(self, state: State, fields: Mapping[str, Any]) -> Entry:
        entry = {"seq": state.entries + 1, "prev": state.head, "at": storage.now(),
                 "name": self.name, "user": storage.user(), **fields}
        anchor = self._policy_anchor()
        if anchor is not None:
            entry["policy"] = anchor
        raw = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        storage.append_line(self.audit_path, raw)
        storage.crash_point(f"{fields['action']}-appended")
        return Entry(data=entry, raw=raw)

    def _last_anchor(self) -> dict[str, Any] | None:
        return next((dict(e.data["policy"]) for e in reversed(self.entries())
                     if isinstance(e.data.get("policy"), dict)), None)

    def _policy_anchor(self) -> dict[str, Any] | None:
        """Where the registry policy's log ends, recorded in each entry (:meth:`policy`)."""
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
        storage.crash_point(f"{fields['action']}-committed")
        return new

    def _register(self, state: State, model: Path, sha: str, *, data: Path | None = None,
                  notes: str = "", derived_from: int | None = None,
                  extra: Mapping[str, Any] | None = None) -> tuple[Version, bool, State]:
        existing = self.find(sha)
        if existing is not None:
            existing.verify()
            return existing, False, state
        fmt = model_format(model)
        if derived_from is not None:
            self.version(derived_from)
        number = max([*(v.number for v in self.versions()), *self.registered(), 0]) + 1
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        v = storage.store_version(self.versions_dir, Version(
            name=self.name, number=number, dir=self.versions_dir / str(number),
            file=f"model{model.suffix.lower()}", sha256=sha, size=0, format=fmt, inputs=None,
            created_at=storage.now(), created_by=storage.user(), source=str(model.resolve()),
            lineage={"data": storage.fingerprint(data) if data is not None else None,
                     "derived_from": derived_from, **(extra or {})},
            notes=notes), model)
        storage.crash_point("version-renamed")
        state = self._change(state, {"action": "register", "version": number, "sha256": sha,
                                     "derived_from": derived_from})
        return v, True, state

    def register(self, model: Path, *, data: Path | None = None, notes: str = "",
                 derived_from: int | None = None,
                 extra: Mapping[str, Any] | None = None) -> tuple[Version, bool]:
        """Store ``model`` as the next version; the same bytes give back the existing one.
        ``derived_from`` defaults to the current champion; ``extra``: more lineage (params,
        code, author, MLflow run: :func:`.lineage.training_record`)."""
        model = Path(model)
        if not model.is_file():
            raise RegistryError(f"{model}: model file not found")
        model_format(model)
        sha = sha256_file(model)
        with self._locked() as state:
            if derived_from is None:
                derived_from = state.aliases.get(CHAMPION)
            v, created, _ = self._register(state, model, sha, data=data, notes=notes,
                                           derived_from=derived_from, extra=extra)
            return v, created

    def set_alias(self, alias: str, number: int | None) -> int | None:
        """Point ``alias`` at version ``number`` (None removes it); not ``champion``, which
        only promote and rollback move. Returns the version it named before."""
        check_alias(alias, removing=number is None)
        if alias.casefold() == CHAMPION.casefold():  # "Champion" would read as the champion
            raise RegistryError("the champion alias moves only with `evalgate promote` (a "
                                "passing verdict) or `evalgate rollback`; none may mimic it")
        with self._locked() as state:
            if number is not None:
                self.version(number)
            before = state.aliases.get(alias)
            if before == number:
                return before
            self._change(state, {"action": "alias", "alias": alias, "version": number,
                                 "from": before})
            return before

    def note(self, fields: Mapping[str, Any],
             write: Callable[[], Mapping[str, Any]] | None = None) -> None:
        """Append an entry that moves no alias (an approval policy, a monitoring run's
        anchor: ``write``, run under the lock first, adds its result to the entry)."""
        with self._locked() as state:
            self._change(state, {**fields, **(write() if write is not None else {})})

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
        profile = profile_bytes(verdict)  # refused here, before anything moves
        with self._locked() as state:
            approvals.enforce(self, verdict, sha)  # the model's approval policy, if any
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
            if profile is not None:
                write_atomic(self.verdicts_dir / f"{verdict.sha256}.profile.json", profile)
            storage.crash_point("verdict-stored")
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
        """Move ``champion`` back: to the previous or an earlier champion; (from, to)."""
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
        AuditLog.__init__(self, root, Path(root) / POLICY_DIR, "the registry policy")

    @property
    def hint(self) -> str:
        return f"restore {self.dir} from a backup"

    def _policy_anchor(self) -> dict[str, Any] | None:
        return None

    def _policy_anchor_of_self(self) -> dict[str, Any] | None:
        state = self.checked_state()
        return {"entries": state.entries, "head": state.head} if state.entries else None

