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

MLflow has no transactions: the alias is re-read just before it is set (compare-and-swap on
the version it names), which narrows a race to that gap but cannot close it; the local
registry's lock closes it.

``mlflow`` is imported here only, inside functions, and only when such a reference is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io import sha256_file
from ..errors import TAMPERED, ChampionChanged, PromotionRefused, RegistryError
from .policy import CHAMPION_CHANGED, Signoff, VerdictFile, checked_candidate
from .records import FORMATS, short
from .references import CHAMPION, Reference, Resolved

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
    (the checks of :func:`evalgate.registry.policy.checked_candidate`; with ``require_signed``, a
    valid signature by one of those public keys, recorded as the ``evalgate.signature_key_id``
    tag)."""
    checked = checked_candidate(candidate, verdict, trusted_keys=require_signed)
    candidate, sha = checked.path, checked.sha256
    signoff, signoff_note = checked.signoff, checked.signoff_note
    client = _client()
    error = _mlflow_error()
    where = f"mlflow:{name}@champion"
    try:
        current = _version_by_alias(client, name, CHAMPION)
    except error as exc:
        raise RegistryError(f"mlflow:{name}: {exc}") from None
    current_sha = dict(current.tags or {}).get(SHA_TAG) if current is not None else None
    if current is not None and current_sha == sha:  # e.g. a retry
        return {"name": name, "version": int(current.version),
                "previous": int(current.version), "signoff_note": signoff_note, "noop": True}
    if verdict.champion_sha256 is None and current is not None:
        raise ChampionChanged(f"{CHAMPION_CHANGED}: the verdict was judged without a champion, "
                              f"but version {current.version} is the champion of mlflow:{name}; "
                              f"re-run the gate against {where}")
    if verdict.champion_sha256 is not None and current is None:
        raise PromotionRefused(f"the verdict compared with a champion (sha256 "
                               f"{short(verdict.champion_sha256)}), but mlflow:{name} has no "
                               "champion; a first release needs a verdict judged without one")
    if current is not None and current_sha != verdict.champion_sha256:
        raise ChampionChanged(f"{CHAMPION_CHANGED}: the verdict was judged against sha256 "
                              f"{short(verdict.champion_sha256)}, but the champion of "
                              f"mlflow:{name} is version {current.version} (sha256 "
                              f"{short(current_sha)}); re-run the gate against {where}")
    try:
        version = _find_or_create(client, name, candidate, sha, verdict)
        # the verdict is recorded on the version before the alias (the commit) moves
        client.set_model_version_tag(name, version, VERDICT_SHA_TAG, verdict.sha256)
        client.set_model_version_tag(name, version, VERDICT_TAG, _verdict_tag(verdict, signoff))
        if signoff is not None:
            client.set_model_version_tag(name, version, REVIEWER_TAG, signoff.reviewer)
        if checked.key_id is not None:
            client.set_model_version_tag(name, version, KEY_ID_TAG, checked.key_id)
        again = _version_by_alias(client, name, CHAMPION)
        if (again.version if again else None) != (current.version if current else None):
            raise ChampionChanged(
                f"{CHAMPION_CHANGED}: the champion of mlflow:{name} moved from version "
                f"{current.version if current else 'none'} to "
                f"{again.version if again else 'none'} during this promotion; re-run the gate")
        client.set_registered_model_alias(name, CHAMPION, version)
    except error as exc:
        raise RegistryError(f"mlflow:{name}: {exc}") from None
    return {"name": name, "version": int(version),
            "previous": int(current.version) if current is not None else None,
            "signoff_note": signoff_note, "noop": False, "key_id": checked.key_id}


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
