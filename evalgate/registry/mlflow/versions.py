"""MLflow model versions as evalgate reads and writes them: a version's bytes are checked
against its ``evalgate.sha256`` tag before use, and ``register`` logs a model file (with its
lineage) as a run's artifact and a new version."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..._io import sha256_file
from ...errors import TAMPERED, IntegrityError, RegistryError
from ..records import FORMATS, model_format, short
from ..references import Reference, Resolved
from .client import SHA_TAG, cache_root, client, code_of, failed, mlflow_error, version_of
from .moves import moved_outside, read

EXPERIMENT = "evalgate"
#: the version tags ``register`` writes from the lineage (besides ``evalgate.sha256``)
AUTHOR_TAG = "evalgate.author"
LINEAGE_TAG = "evalgate.lineage"
MAX_TAG = 5000  # MLflow's limit on a tag value


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
    c = client()
    import mlflow.artifacts

    error = mlflow_error()
    mv = version_of(c, ref)
    if ref.alias is not None:
        trusted_alias(c, ref.name, ref.alias)
    expected = dict(mv.tags or {}).get(SHA_TAG)
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
            uri = c.get_model_version_download_uri(ref.name, mv.version)
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


def trusted_alias(c: Any, name: str, alias: str) -> None:
    """Refuse an alias moved outside evalgate since evalgate last changed it: a gate against
    it would judge against a version no verdict promoted (:func:`.moves.moved_outside`)."""
    try:
        state = read(name, c.get_registered_model(name))
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)
    problem = moved_outside(name, state, alias)
    if problem is not None:
        raise IntegrityError(f"{problem}; move it back in MLflow, or record the move with "
                             f"`evalgate rollback mlflow:{name} --to N`")


def ensure_model(c: Any, name: str) -> None:
    """Create registered model ``name`` unless it exists."""
    error = mlflow_error()
    try:
        c.create_registered_model(name)
    except error as exc:
        if code_of(exc) != "RESOURCE_ALREADY_EXISTS":
            raise


def find(c: Any, name: str, sha: str) -> Any | None:
    """The version of ``name`` whose ``evalgate.sha256`` tag is ``sha`` (the first), if any."""
    found = [mv for mv in c.search_model_versions(f"name='{name}'")
             if dict(mv.tags or {}).get(SHA_TAG) == sha]
    return min(found, key=lambda mv: int(mv.version)) if found else None


def find_or_create(c: Any, name: str, model: Path, sha: str,
                   lineage: Mapping[str, Any] | None = None) -> tuple[Any, bool]:
    """The version holding these bytes (its artifact downloaded and checked: a tag is only a
    claim), or a new one: the file logged as an artifact of a run in the ``evalgate``
    experiment (with ``lineage`` as the run's tags and parameters)."""
    ensure_model(c, name)
    existing = find(c, name, sha)
    if existing is not None:  # its tag says these bytes: its artifact must hold them too
        resolve(Reference("mlflow", name, None, int(existing.version)))
        return existing, False
    experiment = c.get_experiment_by_name(EXPERIMENT)
    experiment_id = (experiment.experiment_id if experiment is not None
                     else c.create_experiment(EXPERIMENT))
    run = c.create_run(experiment_id, tags={SHA_TAG: sha, "evalgate.model": name})
    run_id = run.info.run_id
    c.log_artifact(run_id, str(model), artifact_path="model")
    tags = {SHA_TAG: sha}
    if lineage:
        _log_lineage(c, run_id, lineage)
        text = json.dumps(lineage, separators=(",", ":"), default=str)
        tags[LINEAGE_TAG] = text if len(text) <= MAX_TAG else json.dumps(
            {"see": "the run's evalgate/lineage.json"})
        if lineage.get("author"):
            tags[AUTHOR_TAG] = str(lineage["author"])
    finish(c, run_id)
    mv = c.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id, tags=tags,
                                await_creation_for=0)  # MLflow's own server creates at once
    return mv, True


def finish(c: Any, run_id: str) -> None:
    """End a run evalgate made, without MLflow's "View run" lines on the command's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        c.set_terminated(run_id)


def _log_lineage(c: Any, run_id: str, lineage: Mapping[str, Any]) -> None:
    c.log_dict(run_id, dict(lineage), "evalgate/lineage.json")
    params = (lineage.get("params") or {}).get("values") or {}
    for key, value in list(params.items())[:100]:
        c.log_param(run_id, str(key)[:250], str(value)[:6000])
    data = lineage.get("data") or {}
    if data.get("sha256"):
        c.set_tag(run_id, "evalgate.data_sha256", str(data["sha256"]))
    code = lineage.get("code") or {}
    if code.get("commit"):
        c.set_tag(run_id, "mlflow.source.git.commit", str(code["commit"]))
    if lineage.get("mlflow_run"):
        c.set_tag(run_id, "evalgate.training_run", str(lineage["mlflow_run"]))


def register(name: str, model: Path, lineage: Mapping[str, Any]) -> tuple[int, str, bool]:
    """Store ``model`` as a version of MLflow model ``name`` (the same bytes give back the
    version holding them). Returns (version, sha256, created)."""
    if not model.is_file():
        raise RegistryError(f"{model}: model file not found")
    model_format(model)
    sha = sha256_file(model)
    c = client()
    try:
        mv, created = find_or_create(c, name, model, sha, lineage)
    except mlflow_error() as exc:
        failed(f"mlflow:{name}", exc)
    return int(mv.version), sha, created
