"""MLflow's model registry as the home of the champion (``pip install 'evalgate[mlflow]'``).

- ``mlflow:NAME@champion`` (or ``@3``) resolves through the registry MLflow is configured for
  (``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``): the version's artifacts are downloaded
  from that store into evalgate's cache (``$XDG_CACHE_HOME/evalgate/mlflow``, or
  ``~/.cache/…``), the model file among them is found (one ``.onnx``/``.skops`` file), and its
  sha256 must equal the version's ``evalgate.sha256`` tag. A version without that tag cannot
  be checked and is refused (set the tag, or promote the version with evalgate).
- ``evalgate promote CANDIDATE --to mlflow:NAME`` checks the verdict as the local registry
  does (:func:`evalgate.registry.policy.checked_candidate`; ``--require-signed PUBKEY`` for a
  signature), finds the version holding these bytes (by ``evalgate.sha256``) or logs the
  candidate as a run artifact and creates one, then moves the ``champion`` alias and records
  the verdict on the version as tags (``evalgate.verdict_sha256``, ``evalgate.verdict`` —
  decision, champion, key metrics — ``evalgate.reviewer`` when a bound sign-off exists, and
  ``evalgate.signature_key_id`` when a signature was required); the verdict file is logged as
  an artifact of the run too.
- ``evalgate rollback mlflow:NAME [--to N]`` moves ``champion`` back to the previous champion
  (or to version N, which must have been champion), with the local registry's refusals, once
  the target's bytes match its ``evalgate.sha256`` tag; ``evalgate history mlflow:NAME`` lists
  the versions with their evalgate tags, the champion moves and each promoted version's key
  metrics (:class:`evalgate.registry.History`, as the local registry's).

MLflow keeps no log of alias moves, so evalgate keeps its own: each promote and rollback through
evalgate writes one **registered-model tag** ``evalgate.move.NNNNNN`` (a sequence number) whose
value is a JSON object shaped like a local audit entry (``seq``, ``at``, ``user``, ``action``,
``alias``, ``version``, ``from``, and the verdict's sha256 and reviewer, or the reason). A tag
per move, rather than one tag holding a list, keeps every value small and never rewrites an
earlier move. The champion stack is replayed from these tags with the local registry's
:func:`evalgate.registry.records.apply`; a move's ``from`` is the champion it replaced, so a
champion set before evalgate recorded moves, or set by hand in MLflow, still counts as one
(and is what a rollback returns to). The move is written just before the alias is set (the
commit); a move whose alias change never happened (the command was killed in between: the
alias still names its ``from``) is ignored, and discarded by the next change.

MLflow has no transactions: the alias is re-read just before it is set (compare-and-swap on
the version it names), which narrows a race to that gap but cannot close it; the local
registry's lock closes it. Nor does it chain the tags: evalgate's record here is as trustworthy
as the permissions on the MLflow server, unlike the local registry's hash-chained log.

``mlflow`` is imported here only, inside functions, and only when such a reference is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._io import sha256_file
from ..errors import TAMPERED, ChampionChanged, IntegrityError, PromotionRefused, RegistryError
from .policy import CHAMPION_CHANGED, Signoff, VerdictFile, checked_candidate
from .records import FORMATS, History, State, apply, short
from .references import CHAMPION, Reference, Resolved
from .storage import now, user

SHA_TAG = "evalgate.sha256"
VERDICT_TAG = "evalgate.verdict"
VERDICT_SHA_TAG = "evalgate.verdict_sha256"
REVIEWER_TAG = "evalgate.reviewer"
KEY_ID_TAG = "evalgate.signature_key_id"
EXPERIMENT = "evalgate"
MAX_TAG = 5000  # MLflow's limit on a tag value
MISSING = ("mlflow: references need the MLflow client: pip install 'evalgate[mlflow]' "
           "(or mlflow-skinny)")


def _client() -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise RegistryError(MISSING) from None
    return MlflowClient()


def _mlflow_error() -> type[Exception]:
    from mlflow.exceptions import MlflowException

    error: type[Exception] = MlflowException
    return error


def cache_root() -> Path:
    """Where downloaded MLflow versions are kept (``$XDG_CACHE_HOME/evalgate/mlflow``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evalgate" / "mlflow"


def _version_by_alias(client: Any, name: str, alias: str) -> Any | None:
    """The version ``alias`` names, or None when the model or the alias does not exist."""
    error = _mlflow_error()
    try:
        model = client.get_registered_model(name)
    except error as exc:
        if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise RegistryError(f"mlflow:{name}: {exc}") from None
    number = dict(getattr(model, "aliases", {}) or {}).get(alias)
    if number is None:
        return None
    return client.get_model_version(name, str(number))


def _version(client: Any, ref: Reference) -> Any:
    error = _mlflow_error()
    try:
        if ref.version is not None:
            return client.get_model_version(ref.name, str(ref.version))
        assert ref.alias is not None
        found = _version_by_alias(client, ref.name, ref.alias)
    except error as exc:
        raise RegistryError(f"{ref}: {exc}") from None
    if found is None:
        raise RegistryError(f"{ref}: MLflow has no model {ref.name!r} with alias "
                            f"{ref.alias!r}")
    return found


def _model_file(folder: Path, ref: Reference) -> Path:
    if folder.is_file():
        return folder
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)
    if len(files) > 1:
        files = [p for p in files if p.stem == "model"] or files
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise RegistryError(f"{ref}: expected one model file ({', '.join(FORMATS)}) among the "
                            f"version's artifacts, found {found}")
    return files[0]


def resolve(ref: Reference) -> Resolved:
    """Download the version ``ref`` names (once; cached by version and sha256) and check it."""
    client = _client()
    import mlflow.artifacts

    error = _mlflow_error()
    mv = _version(client, ref)
    tags = dict(mv.tags or {})
    expected = tags.get(SHA_TAG)
    if not expected:
        raise RegistryError(f"{ref}: version {mv.version} has no {SHA_TAG} tag, so its bytes "
                            f"cannot be checked; tag it with the model file's sha256 or promote "
                            f"it with `evalgate promote … --to mlflow:{ref.name}`")
    folder = re.sub(r"[^A-Za-z0-9_-]", "_", ref.name)  # MLflow names may hold "/" or ".."
    target = cache_root() / folder / f"{mv.version}-{expected[:16]}"
    if target.is_dir():
        try:
            path = _model_file(target, ref)
            if sha256_file(path) == expected:
                return Resolved(str(ref), ref.name, int(mv.version), path, expected)
        except RegistryError:
            pass
        shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
    try:
        try:
            uri = client.get_model_version_download_uri(ref.name, mv.version)
            mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp))
        except (error, OSError) as exc:
            raise RegistryError(f"{ref}: cannot download version {mv.version}: {exc}") from None
        path = _model_file(tmp, ref)
        actual = sha256_file(path)
        if actual != expected:
            raise RegistryError(f"{ref}: version {mv.version}'s model file {TAMPERED} "
                                f"({short(expected)}; downloaded {short(actual)})")
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Resolved(str(ref), ref.name, int(mv.version), target / path.relative_to(tmp),
                    expected)


def _verdict_tag(verdict: VerdictFile, signoff: Signoff | None) -> str:
    doc: dict[str, Any] = {"sha256": verdict.sha256, "decision": verdict.decision,
                           "champion_sha256": verdict.champion_sha256,
                           "reviewer": signoff.reviewer if signoff else None,
                           "metrics": dict(verdict.metrics)}
    text = json.dumps(doc, separators=(",", ":"))
    if len(text) > MAX_TAG:
        doc["metrics"] = "too many for a tag: see the verdict artifact"
        text = json.dumps(doc, separators=(",", ":"))
    return text


def promote(name: str, candidate: Path, verdict: VerdictFile, *,
            require_signed: Sequence[Any] = ()) -> dict[str, Any]:
    """Set ``champion`` of MLflow model ``name`` to the candidate, if ``verdict`` allows it
    (the checks of :func:`evalgate.registry.policy.checked_candidate`; with
    ``require_signed``, a valid signature by one of those public keys, recorded as the
    ``evalgate.signature_key_id`` tag). The move is recorded as an ``evalgate.move.N`` tag."""
    checked = checked_candidate(candidate, verdict, trusted_keys=require_signed)
    candidate, sha = checked.path, checked.sha256
    signoff, signoff_note = checked.signoff, checked.signoff_note
    client = _client()
    error = _mlflow_error()
    try:
        current = _version_by_alias(client, name, CHAMPION)
    except error as exc:
        raise RegistryError(f"mlflow:{name}: {exc}") from None
    current_sha = dict(current.tags or {}).get(SHA_TAG) if current is not None else None
    previous = int(current.version) if current is not None else None
    if current is not None and current_sha == sha:  # e.g. a retry
        return {"name": name, "version": previous, "previous": previous,
                "signoff_note": signoff_note, "noop": True}
    _check_champion(name, verdict, previous, current_sha)
    try:
        version = _find_or_create(client, name, candidate, sha, verdict)
        # the verdict is recorded on the version before the alias (the commit) moves
        client.set_model_version_tag(name, version, VERDICT_SHA_TAG, verdict.sha256)
        client.set_model_version_tag(name, version, VERDICT_TAG, _verdict_tag(verdict, signoff))
        if signoff is not None:
            client.set_model_version_tag(name, version, REVIEWER_TAG, signoff.reviewer)
        if checked.key_id is not None:
            client.set_model_version_tag(name, version, KEY_ID_TAG, checked.key_id)
        _move(client, name, previous, "promotion", "re-run the gate", {
            "action": "promote", "alias": CHAMPION, "version": int(version), "sha256": sha,
            "from": previous, "verdict": {"sha256": verdict.sha256},
            "signoff": {"reviewer": signoff.reviewer} if signoff is not None else None,
            "signature": {"key_id": checked.key_id} if checked.key_id is not None else None})
    except error as exc:
        raise RegistryError(f"mlflow:{name}: {exc}") from None
    return {"name": name, "version": int(version), "previous": previous,
            "signoff_note": signoff_note, "noop": False, "key_id": checked.key_id}


def _check_champion(name: str, verdict: VerdictFile, current: int | None,
                    current_sha: str | None) -> None:
    """The compare half of compare-and-swap: the verdict's champion is the current one."""
    where = f"mlflow:{name}@champion"
    if verdict.champion_sha256 is None and current is not None:
        raise ChampionChanged(f"{CHAMPION_CHANGED}: the verdict was judged without a champion, "
                              f"but version {current} is the champion of mlflow:{name}; "
                              f"re-run the gate against {where}")
    if verdict.champion_sha256 is not None and current is None:
        raise PromotionRefused(f"the verdict compared with a champion (sha256 "
                               f"{short(verdict.champion_sha256)}), but mlflow:{name} has no "
                               "champion; a first release needs a verdict judged without one")
    if current is not None and current_sha != verdict.champion_sha256:
        raise ChampionChanged(f"{CHAMPION_CHANGED}: the verdict was judged against sha256 "
                              f"{short(verdict.champion_sha256)}, but the champion of "
                              f"mlflow:{name} is version {current} (sha256 "
                              f"{short(current_sha)}); re-run the gate against {where}")


def _find_or_create(client: Any, name: str, candidate: Path, sha: str,
                    verdict: VerdictFile) -> str:
    error = _mlflow_error()
    try:
        client.create_registered_model(name)
    except error as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise
    for mv in client.search_model_versions(f"name='{name}'"):
        if dict(mv.tags or {}).get(SHA_TAG) == sha:
            return str(mv.version)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = (experiment.experiment_id if experiment is not None
                     else client.create_experiment(EXPERIMENT))
    run = client.create_run(experiment_id, tags={SHA_TAG: sha, "evalgate.model": name})
    run_id = run.info.run_id
    client.log_artifact(run_id, str(candidate), artifact_path="model")
    client.log_artifact(run_id, str(verdict.path), artifact_path="evalgate")
    client.set_terminated(run_id)
    mv = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id,
                                     tags={SHA_TAG: sha})
    return str(mv.version)


# --------------------------------------------------------------------------- champion moves

MOVE_TAG = "evalgate.move."
#: a rollback's reason is cut to this many characters, so a move always fits in one tag
MAX_REASON = 1000


def _move_key(seq: int) -> str:
    return f"{MOVE_TAG}{seq:06d}"


def _moves(name: str, tags: Mapping[str, str]) -> list[dict[str, Any]]:
    """evalgate's record of champion moves (``evalgate.move.N`` tags), oldest first."""
    moves = []
    for key, value in tags.items():
        if not key.startswith(MOVE_TAG):
            continue
        try:
            move = json.loads(value)
            ok = (isinstance(move, dict) and move.get("seq") == int(key[len(MOVE_TAG):])
                  and move.get("action") in ("promote", "rollback")
                  and type(move.get("version")) is int
                  and (move.get("from") is None or type(move.get("from")) is int))
        except ValueError:
            ok = False
        if not ok:
            raise IntegrityError(f"mlflow:{name}: the registered model's tag {key} is not a "
                                 "champion move evalgate wrote: it was edited outside evalgate; "
                                 "delete or restore it")
        moves.append(move)
    return sorted(moves, key=lambda m: int(m["seq"]))


def _pending(moves: list[dict[str, Any]], current: int | None) -> dict[str, Any] | None:
    """The last move, if its alias change never happened (the alias still names its
    ``from``): a command was killed between recording it and moving the alias."""
    last = moves[-1] if moves else None
    if last is not None and last["version"] != current and last.get("from") == current:
        return last
    return None


def _pushed(state: State, number: int | None) -> State:
    """``state`` with ``number`` on top of the champion stack (it was champion then)."""
    if number is None or (state.champions and state.champions[-1] == number):
        return state
    return replace(state, champions=(*state.champions, number))


def _champions(moves: Sequence[Mapping[str, Any]], current: int | None) -> tuple[int, ...]:
    """The champion stack the committed moves lead to, ending at the current champion."""
    state = State()
    for move in moves:
        state = apply(_pushed(state, move.get("from")), move)
    return _pushed(state, current).champions


def _move(client: Any, name: str, current: int | None, during: str, then: str,
          move: dict[str, Any]) -> None:
    """Record ``move`` and set the alias, if ``champion`` still names ``current``: an
    interrupted move is discarded first; the alias is set last (the commit)."""
    again = _version_by_alias(client, name, CHAMPION)
    if (int(again.version) if again else None) != current:
        raise ChampionChanged(
            f"{CHAMPION_CHANGED}: the champion of mlflow:{name} moved from version "
            f"{current if current is not None else 'none'} to "
            f"{again.version if again else 'none'} during this {during}; {then}")
    moves = _moves(name, dict(client.get_registered_model(name).tags or {}))
    pending = _pending(moves, current)
    if pending is not None:
        client.delete_registered_model_tag(name, _move_key(int(pending["seq"])))
        moves.pop()
    seq = int(moves[-1]["seq"]) + 1 if moves else 1
    doc = {"seq": seq, "at": now(), "user": user(), **move}
    client.set_registered_model_tag(name, _move_key(seq), json.dumps(doc, separators=(",", ":")))
    client.set_registered_model_alias(name, CHAMPION, str(move["version"]))


def rollback(name: str, to: int | None = None, reason: str = "") -> tuple[int, int]:
    """Move ``champion`` of MLflow model ``name`` back: to the previous champion, or to ``to``
    (an earlier champion), once its bytes match its ``evalgate.sha256`` tag. Returns
    (from, to)."""
    client = _client()
    error = _mlflow_error()
    try:
        found = _version_by_alias(client, name, CHAMPION)
        if found is None:
            raise RegistryError(f"mlflow:{name} has no champion to roll back")
        current = int(found.version)
        moves = _moves(name, dict(client.get_registered_model(name).tags or {}))
        if _pending(moves, current) is not None:
            moves.pop()
        to = _rollback_target(client, name, current, to, moves)
        resolve(Reference("mlflow", name, None, to))  # its bytes are the ones it records
        _move(client, name, current, "rollback", "nothing was changed, try again", {
            "action": "rollback", "alias": CHAMPION, "version": to, "from": current,
            "reason": reason[:MAX_REASON]})
    except error as exc:
        raise RegistryError(f"mlflow:{name}: {exc}") from None
    return current, to


def _rollback_target(client: Any, name: str, current: int, to: int | None,
                     moves: Sequence[Mapping[str, Any]]) -> int:
    """The version a rollback moves ``champion`` to; the local registry's refusals."""
    champions = _champions(moves, current)
    if to is None:
        if len(champions) < 2:
            raise RegistryError(f"mlflow:{name} has no previous champion to roll back to "
                                f"(version {current} is the first evalgate recorded)")
        return champions[-2]
    if to == current:
        raise RegistryError(f"version {to} is already the champion of mlflow:{name}")
    been = set(champions) | {int(m["version"]) for m in moves} | {
        int(m["from"]) for m in moves if m.get("from") is not None}
    if to not in been:
        _model_version(client, name, to)
        raise RegistryError(f"mlflow:{name} version {to} has never been champion; only a "
                            "passing verdict can make it one (`evalgate promote --to "
                            f"mlflow:{name}`)")
    return to


def _model_version(client: Any, name: str, number: int) -> Any:
    """Version ``number`` of ``name``; :class:`RegistryError` listing the versions if none."""
    error = _mlflow_error()
    try:
        return client.get_model_version(name, str(number))
    except error as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
    have = sorted(int(mv.version) for mv in client.search_model_versions(f"name='{name}'"))
    raise RegistryError(f"mlflow:{name} has no version {number} (versions: "
                        f"{', '.join(map(str, have)) or 'none'})")


# --------------------------------------------------------------------------- history


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


def registry_uri() -> str:
    """The MLflow model registry evalgate talks to (for messages)."""
    _client()
    import mlflow

    return str(mlflow.get_registry_uri())


def history(name: str) -> History:
    """The versions of MLflow model ``name`` (with their evalgate tags), its aliases, the
    champion moves made through evalgate and the key metrics of each promoted version's
    verdict (its ``evalgate.verdict`` tag)."""
    client = _client()
    error = _mlflow_error()
    try:
        model = client.get_registered_model(name)
        found = client.search_model_versions(f"name='{name}'")
    except error as exc:
        if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"no model named {name!r} in MLflow's registry "
                                f"{registry_uri()}") from None
        raise RegistryError(f"mlflow:{name}: {exc}") from None
    versions = sorted((MlflowVersion.of(mv) for mv in found), key=lambda v: v.number)
    aliases = {str(a): int(v) for a, v in dict(getattr(model, "aliases", {}) or {}).items()}
    moves = _moves(name, dict(model.tags or {}))
    if _pending(moves, aliases.get(CHAMPION)) is not None:
        moves.pop()
    by_number = {v.number: v for v in versions}
    metrics: dict[int, Mapping[str, float]] = {}
    for move in moves:
        if move["action"] == "promote" and move["version"] in by_number:
            metrics[move["version"]] = _metrics(by_number[move["version"]].tags)
    return History(name, tuple(versions), aliases, tuple(moves), metrics)


def _metrics(tags: Mapping[str, str]) -> dict[str, float]:
    """The key metrics the ``evalgate.verdict`` tag records ({} when it holds none)."""
    try:
        found = json.loads(tags.get(VERDICT_TAG, "{}")).get("metrics")
    except (ValueError, AttributeError):
        return {}
    return {str(k): float(v) for k, v in found.items()
            if isinstance(v, (int, float))} if isinstance(found, dict) else {}
