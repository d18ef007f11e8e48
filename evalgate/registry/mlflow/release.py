"""Promote, roll back and alias an MLflow model through evalgate — the local registry's policy
(a complete PROMOTE verdict for these bytes, judged against the current champion, signed and
approved where required) — and what a promotion leaves on MLflow: the verdict, its summary,
report, sign-off and reference profile as artifacts of the version's run, the gate's numbers
as run metrics, and ``evalgate.*`` version tags."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ChampionChanged, IntegrityError, PromotionRefused, RegistryError
from ..policy import CHAMPION_CHANGED, Signoff, VerdictFile, checked_candidate
from ..profiles import profile_bytes
from ..records import fmt_keys, short
from ..references import CHAMPION, Reference, check_alias
from .client import (
    SHA_TAG,
    client,
    code_of,
    failed,
    mlflow_error,
    model_version,
    version_by_alias,
)
from .moves import MAX_REASON, Move, Read, champions, commit, moved_outside, read, replayed
from .versions import (
    AUTHOR_TAG,
    MAX_TAG,
    ensure_model,
    find,
    find_or_create,
    finish,
    resolve,
)

VERDICT_TAG = "evalgate.verdict"
VERDICT_SHA_TAG = "evalgate.verdict_sha256"
DECISION_TAG = "evalgate.decision"
SUITE_SHA_TAG = "evalgate.suite_sha256"
DATASET_SHA_TAG = "evalgate.dataset_sha256"
SIGNED_OFF_TAG = "evalgate.signed_off_by"
REVIEWER_TAG = "evalgate.reviewer"
KEY_ID_TAG = "evalgate.signature_key_id"
RUN_TAG = "evalgate.run_id"
#: the files next to verdict.json logged with it (those that exist)
EVIDENCE = ("verdict.json", "summary.md", "evalgate-report.html", "signoff.json")


@dataclass(frozen=True)
class _Entry:
    data: Mapping[str, Any]


@dataclass(frozen=True)
class _Found:
    lineage: Mapping[str, Any]
    created_by: str  # the MLflow user who created the version ("" when MLflow has none)


class _Policies:
    """An MLflow model as :func:`evalgate.registry.approvals.enforce` reads a registry: its
    recorded changes (the approval policy among them) and each version's author."""

    def __init__(self, c: Any, name: str, moves: Sequence[Move]):
        self.c, self.name, self.moves = c, name, moves

    def entries(self) -> list[_Entry]:
        return [_Entry(m.data) for m in self.moves]

    def find(self, sha: str) -> _Found | None:
        mv = find(self.c, self.name, sha)
        if mv is None:
            return None
        return _Found({"author": dict(mv.tags or {}).get(AUTHOR_TAG)},
                      str(getattr(mv, "user_id", "") or ""))


def _state(c: Any, name: str) -> Read:
    """What the command judges on (nothing recorded when the model does not exist)."""
    error = mlflow_error()
    try:
        model = c.get_registered_model(name)
    except error as exc:
        if code_of(exc) == "RESOURCE_DOES_NOT_EXIST":
            return read(name, None)
        raise
    return read(name, model)


def promote(name: str, candidate: Path, verdict: VerdictFile, *,
            require_signed: Sequence[Any] = ()) -> dict[str, Any]:
    """Set ``champion`` of MLflow model ``name`` to the candidate, if ``verdict`` allows it;
    the verdict's evidence goes with it (see the module)."""
    from ..approvals import enforce

    c = client()
    try:
        seen = _state(c, name)
        policy_keys = [pem for _, pem in replayed(seen.moves).require_signed]
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)
    checked = checked_candidate(candidate, verdict, trusted_keys=policy_keys)
    also = verdict.check_signed(require_signed) if require_signed else None  # both must hold
    key_id = checked.key_id or also
    sha = checked.sha256
    try:
        # the champion evalgate's changes lead to, present or removed: else refused
        problem = moved_outside(name, seen)
        if problem is not None:
            raise IntegrityError(f"{problem}; move it back in MLflow, or record the move with "
                                 f"`evalgate rollback mlflow:{name} --to N`")
        current = version_by_alias(c, name, CHAMPION)
        current_sha = dict(current.tags or {}).get(SHA_TAG) if current is not None else None
        previous = int(current.version) if current is not None else None
        if current is not None and current_sha == sha:
            return _already(name, seen, previous, checked.signoff_note)
        _check_champion(name, verdict, previous, current_sha)
        enforce(_Policies(c, name, seen.moves), verdict, sha)
        profile_bytes(verdict)  # a missing or changed profile refuses, before anything moves
        mv, _ = find_or_create(c, name, checked.path, sha)
        version = str(mv.version)
        _record(c, name, mv, verdict, checked.signoff, key_id)
        commit(c, name, seen, {CHAMPION: previous}, "promotion", "re-run the gate", {
            "action": "promote", "alias": CHAMPION, "version": int(version), "sha256": sha,
            "from": previous, "verdict": {"sha256": verdict.sha256},
            "signoff": ({"reviewer": checked.signoff.reviewer}
                        if checked.signoff is not None else None),
            "signature": {"key_id": key_id} if key_id is not None else None})
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)
    return {"name": name, "version": int(version), "previous": previous,
            "signoff_note": checked.signoff_note, "noop": False, "key_id": key_id}


def _already(name: str, seen: Read, current: int | None, note: str) -> dict[str, Any]:
    """The champion already holds the candidate's bytes: a retry of a promotion evalgate
    recorded is nothing to do; without such a record it is refused (an alias set by hand on
    these bytes is no promotion)."""
    promoted = any(m.data["action"] in ("promote", "rollback") and m.data["version"] == current
                   for m in seen.moves)
    if not promoted:
        raise IntegrityError(f"mlflow:{name}@champion is version {current}, which holds these "
                             "bytes, but evalgate recorded no promotion of it: it was set "
                             "outside evalgate; move it back in MLflow, or roll back with "
                             f"`evalgate rollback mlflow:{name} --to N`")
    return {"name": name, "version": current, "previous": current, "signoff_note": note,
            "noop": True}


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


# --------------------------------------------------------------------------- the evidence


def verdict_tag(verdict: VerdictFile, signoff: Signoff | None) -> str:
    doc: dict[str, Any] = {"sha256": verdict.sha256, "decision": verdict.decision,
                           "champion_sha256": verdict.champion_sha256,
                           "reviewer": signoff.reviewer if signoff else None,
                           "metrics": dict(verdict.metrics)}
    text = json.dumps(doc, separators=(",", ":"))
    if len(text) > MAX_TAG:
        doc["metrics"] = "too many for a tag: see the verdict artifact"
        text = json.dumps(doc, separators=(",", ":"))
    return text


def _joined(values: Sequence[str | None]) -> str:
    return ",".join(dict.fromkeys(v for v in values if v))[:MAX_TAG]


def run_metrics(doc: Mapping[str, Any]) -> dict[str, float]:
    """The gate's numbers as MLflow run metrics: per check with a value, ``ID`` (the
    candidate's), ``ID.champion``, ``ID.delta`` and ``ID.delta_bound`` (Δ's one-sided bound;
    the value's own bound when no champion was compared)."""
    out: dict[str, float] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                abs(float(value)) != float("inf") and value == value:
            out[_metric_key(key)] = float(value)

    for suite in doc.get("suites") or ():
        for check in suite.get("checks") or ():
            cid = str(check.get("id") or "")
            if not cid or "candidate" not in check:
                continue
            put(cid, check.get("candidate"))
            put(f"{cid}.champion", check.get("champion"))
            put(f"{cid}.delta", check.get("delta"))
            ci = check.get("ci") or (None, None)
            bound = ci[0] if check.get("delta") is not None or (
                check.get("details") or {}).get("higher_is_better", True) else ci[1]
            put(f"{cid}.{'delta_bound' if check.get('delta') is not None else 'bound'}", bound)
    return out


def _metric_key(key: str) -> str:
    """A check id as an MLflow metric name (letters, digits, ``_-. /:`` kept)."""
    return "".join(ch if ch.isalnum() or ch in "_-. /:" else "_" for ch in key)[:250]


def _record(c: Any, name: str, mv: Any, verdict: VerdictFile, signoff: Signoff | None,
            key_id: str | None) -> None:
    """The verdict on the version, before the alias (the commit) moves: artifacts and metrics
    on its run (one evalgate creates when the version has none), then its tags."""
    from mlflow.entities import Metric

    version = str(mv.version)
    run_id = getattr(mv, "run_id", None) or dict(mv.tags or {}).get(RUN_TAG)
    if not run_id:
        experiment = c.get_experiment_by_name("evalgate")
        experiment_id = (experiment.experiment_id if experiment is not None
                         else c.create_experiment("evalgate"))
        run_id = c.create_run(experiment_id, tags={"evalgate.model": name}).info.run_id
        finish(c, run_id)
        c.set_model_version_tag(name, version, RUN_TAG, run_id)
    folder = verdict.path.parent
    profile = verdict.doc.get("profile")
    named = [str(profile.get("file"))] if isinstance(profile, Mapping) else []
    for file in (*EVIDENCE, *named):
        path = verdict.path if file == "verdict.json" else folder / file
        if path.is_file():
            c.log_artifact(run_id, str(path), artifact_path=f"evalgate/{verdict.sha256[:12]}")
    stamp = int(time.time() * 1000)
    metrics = [Metric(k, v, stamp, 0) for k, v in run_metrics(verdict.doc).items()]
    for at in range(0, len(metrics), 1000):
        c.log_batch(run_id, metrics=metrics[at:at + 1000])
    reviewers = [a.get("reviewer") for a in (signoff.approvals if signoff else ())] or [
        signoff.reviewer if signoff else None]
    tags = {VERDICT_SHA_TAG: verdict.sha256, VERDICT_TAG: verdict_tag(verdict, signoff),
            DECISION_TAG: verdict.decision,
            SUITE_SHA_TAG: _joined([s.sha256 for s in verdict.suites]),
            DATASET_SHA_TAG: _joined([s.dataset_sha256 for s in verdict.suites]),
            SIGNED_OFF_TAG: _joined([str(r) for r in reviewers if r])}
    if signoff is not None:
        tags[REVIEWER_TAG] = signoff.reviewer
    if key_id is not None:
        tags[KEY_ID_TAG] = key_id
    for key, value in tags.items():
        if value:
            c.set_model_version_tag(name, version, key, value)


# --------------------------------------------------------------------------- other changes


def rollback(name: str, to: int | None = None, reason: str = "") -> tuple[int, int]:
    """Move ``champion`` back: to the previous champion, or to ``to`` (an earlier champion),
    once its bytes match its ``evalgate.sha256`` tag. Returns (from, to)."""
    c = client()
    try:
        found = version_by_alias(c, name, CHAMPION)
        if found is None:
            raise RegistryError(f"mlflow:{name} has no champion to roll back")
        current = int(found.version)
        seen = _state(c, name)
        to = _rollback_target(c, name, current, to, seen.moves)
        resolve(Reference("mlflow", name, None, to))  # its bytes are the ones it records
        commit(c, name, seen, {CHAMPION: current}, "rollback", "nothing was changed, try again", {
            "action": "rollback", "alias": CHAMPION, "version": to, "from": current,
            "reason": reason[:MAX_REASON]})
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)
    return current, to


def _rollback_target(c: Any, name: str, current: int, to: int | None,
                     moves: Sequence[Move]) -> int:
    """The version a rollback moves ``champion`` to; the local registry's refusals."""
    stack = champions(moves, current)
    if to is None:
        if len(stack) < 2:
            raise RegistryError(f"mlflow:{name} has no previous champion to roll back to "
                                f"(version {current} is the first evalgate recorded)")
        return stack[-2]
    if to == current:
        raise RegistryError(f"version {to} is already the champion of mlflow:{name}")
    champion_moves = [m.data for m in moves if m.alias == CHAMPION]
    been = set(stack) | {int(m["version"]) for m in champion_moves} | {
        int(m["from"]) for m in champion_moves if m.get("from") is not None}
    if to not in been:
        model_version(c, name, to)
        raise RegistryError(f"mlflow:{name} version {to} has never been champion; only a "
                            "passing verdict can make it one (`evalgate promote --to "
                            f"mlflow:{name}`)")
    return to


def set_alias(name: str, alias: str, number: int | None) -> int | None:
    """Point ``alias`` (not ``champion``) of MLflow model ``name`` at version ``number``
    (None removes it), recorded as a change. Returns the version it named before."""
    check_alias(alias)
    if alias == CHAMPION:
        raise RegistryError("the champion alias moves only with `evalgate promote` (a "
                            "passing verdict) or `evalgate rollback`")
    c = client()
    try:
        if number is not None:
            model_version(c, name, number)
        seen = _state(c, name)
        before = seen.aliases.get(alias)
        if before != number:
            commit(c, name, seen, {alias: before}, "alias change",
                   "nothing was changed, try again",
                   {"action": "alias", "alias": alias, "version": number, "from": before})
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)
    return before


def set_policy(name: str, entry: Mapping[str, Any]) -> None:
    """Record an approval policy (:func:`evalgate.registry.approvals.policy_entry`) as a
    change of MLflow model ``name``; ``promote`` enforces the latest."""
    c = client()
    try:
        ensure_model(c, name)
        commit(c, name, _state(c, name), {}, "policy change", "nothing was changed, try again",
               dict(entry))
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)


def require_signed(name: str, keys: Sequence[Path], *,
                   force: bool = False) -> tuple[str, str]:
    """Make promoting MLflow model ``name`` require a verdict signed by one of ``keys``
    (public PEM files; none: no signature), recorded as a change; dropping a required key
    needs ``force``. Returns the key ids required (before, after)."""
    from ...verdict.signing import key_id, load_public_key, public_pem

    wanted: dict[str, str] = {}
    for path in keys:
        k = load_public_key(Path(path))
        wanted[key_id(k)] = public_pem(k)
    c = client()
    try:
        ensure_model(c, name)
        seen = _state(c, name)
        before = replayed(seen.moves).require_signed
        dropped = sorted({k for k, _ in before} - set(wanted))
        if dropped and not force:
            raise RegistryError(f"mlflow:{name} requires verdicts signed by "
                                f"{fmt_keys(before)}; this would stop requiring "
                                f"{', '.join(dropped)}: pass --force to do so (it is recorded)")
        if before != tuple(wanted.items()):
            commit(c, name, seen, {}, "policy change", "nothing was changed, try again", {
                "action": "policy", "require_signed": [
                    {"key_id": k, "public_key": pem} for k, pem in wanted.items()]})
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)
    return fmt_keys(before), fmt_keys(tuple(wanted.items()))


def policy(name: str) -> Mapping[str, Any] | None:
    """The latest approval policy recorded for MLflow model ``name`` (None: none)."""
    c = client()
    try:
        moves = _state(c, name).moves
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)
    return next((m.data for m in reversed(moves) if m.data["action"] == "approval-policy"),
                None)
