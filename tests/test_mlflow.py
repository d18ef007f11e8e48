"""``mlflow:NAME@champion`` and ``evalgate promote --to mlflow:NAME`` against a local MLflow
store (sqlite in tmp_path, no server). Skipped where the ``evalgate[mlflow]`` extra is not
installed; the message without it is tested everywhere."""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from conftest import ADULT_TEST
from evalgate.cli import main
from evalgate.engine import Gate
from evalgate.errors import IntegrityError, ModelLoadError
from evalgate.registry import TAMPERED, RegistryError, parse_reference, resolver, sha256_file
from tests.test_registry import make_verdict, variant

pytestmark = [
    # sqlalchemy and mlflow warn about their own internals on current versions
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


def test_without_mlflow_the_message_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from evalgate.registry import mlflow as mlflow_registry

    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # import fails
    with pytest.raises(RegistryError, match=r"pip install 'evalgate\[mlflow\]'"):
        mlflow_registry._client()


@pytest.fixture(scope="session")
def empty_store(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty MLflow sqlite database, kept in pytest's cache when there is one:
    MLflow runs its alembic migrations when it creates a store, which takes seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow = pytest.importorskip("mlflow")
        from mlflow.tracking import MlflowClient
    cache = getattr(pytestconfig, "cache", None)  # None under -p no:cacheprovider
    key = f"evalgate-mlflow-{mlflow.__version__}"
    folder = cache.mkdir(key) if cache is not None else tmp_path_factory.mktemp(key)
    template = folder / "empty.db"
    if not template.exists():
        tmp = folder / f".empty-{os.getpid()}.db"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments()
        os.replace(tmp, template)
    return template


@pytest.fixture
def store(empty_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A local MLflow store (sqlite) in tmp_path; artifacts under tmp_path/mlruns."""
    import mlflow
    from mlflow.tracking import MlflowClient

    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert mlflow.get_tracking_uri() == uri
    return MlflowClient()


def test_promote_and_resolve_through_mlflow(store: Any, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.registry.mlflow import SHA_TAG, VERDICT_SHA_TAG, VERDICT_TAG, resolve

    m = [variant(tmp_path / "models", i) for i in range(3)]
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", m[0], roc_auc=0.9)
    assert main(["promote", str(m[0]), "--to", "mlflow:churn"]) == 0
    assert "promoted mlflow:churn version 1 to champion (was no champion)" in \
        capsys.readouterr().out
    mv = store.get_model_version_by_alias("churn", "champion")
    assert int(mv.version) == 1 and mv.tags[SHA_TAG] == sha256_file(m[0])
    assert mv.tags[VERDICT_SHA_TAG] == sha256_file(verdict)
    assert json.loads(mv.tags[VERDICT_TAG])["metrics"] == {
        "adult-income::performance::roc_auc": 0.9,
        "adult-income::performance::accuracy": pytest.approx(0.85),
        "adult-income::performance::log_loss": 0.3}

    found = resolve(parse_reference("mlflow:churn@champion"))
    assert found.version == 1 and sha256_file(found.path) == found.sha256 == sha256_file(m[0])
    assert (tmp_path / "cache" / "evalgate" / "mlflow" / "churn") in found.path.parents
    assert resolve(parse_reference("mlflow:churn@1")).path == found.path  # cached

    gate = Gate(m[1], champion="mlflow:churn@champion", resolve=resolver())
    suite_path = tmp_path / "s.yaml"
    from conftest import suite_text
    from evalgate.families import load_suite

    suite_path.write_text(suite_text(data=ADULT_TEST, champion=None))
    path = gate.champion_path(load_suite(suite_path))
    assert gate.model(path).info.sha256 == sha256_file(m[0])

    # a verdict judged against version 1 promotes; a second one judged against 1 is stale
    make_verdict(tmp_path / "reports" / "verdict.json", m[1], m[0], roc_auc=0.92)
    assert main(["promote", str(m[1]), "--to", "mlflow:churn"]) == 0
    assert "version 2 to champion (was version 1)" in capsys.readouterr().out
    assert main(["promote", str(m[1]), "--to", "mlflow:churn"]) == 0  # a retry
    assert "mlflow:churn version 2 is already the champion" in capsys.readouterr().out
    make_verdict(tmp_path / "reports" / "verdict.json", m[2], m[0])
    assert main(["promote", str(m[2]), "--to", "mlflow:churn"]) == 1
    err = capsys.readouterr().err
    assert "champion changed" in err and "version 2" in err
    assert int(store.get_model_version_by_alias("churn", "champion").version) == 2

    # a version whose recorded sha256 does not match its bytes is refused as champion
    store.set_model_version_tag("churn", "2", SHA_TAG, "ab" * 32)
    with pytest.raises(RegistryError, match=TAMPERED):
        resolve(parse_reference("mlflow:churn@champion"))
    store.delete_model_version_tag("churn", "2", SHA_TAG)
    gate = Gate(m[2], champion="mlflow:churn@champion", resolve=resolver())
    with pytest.raises(ModelLoadError, match=r"has no evalgate\.sha256 tag"):
        gate.champion_path(load_suite(suite_path))
    with pytest.raises(RegistryError, match="no model 'nope' with alias 'champion'"):
        resolve(parse_reference("mlflow:nope@champion"))


# --------------------------------------------------------------------------- rollback, history


def _promote(tmp_path: Path, candidate: Path, champion: Path | None, roc_auc: float) -> None:
    make_verdict(tmp_path / "reports" / "verdict.json", candidate, champion, roc_auc=roc_auc)
    assert main(["promote", str(candidate), "--to", "mlflow:churn"]) == 0


def _version_outside_evalgate(store: Any, model: Path) -> int:
    """A version created in MLflow directly (with its sha256 tag), never made champion."""
    from evalgate.registry.mlflow import SHA_TAG

    run = store.create_run(store.create_experiment("elsewhere")).info.run_id
    store.log_artifact(run, str(model), artifact_path="model")
    mv = store.create_model_version("churn", source=f"runs:/{run}/model", run_id=run,
                                    tags={SHA_TAG: sha256_file(model)})
    return int(mv.version)


def test_history_and_rollback_through_mlflow(store: Any, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.registry.mlflow import history, resolve

    m = [variant(tmp_path / "models", i) for i in range(2)]
    _promote(tmp_path, m[0], None, 0.9)
    _promote(tmp_path, m[1], m[0], 0.92)
    h = history("churn")
    assert [(v.number, v.sha256) for v in h.versions] == [(1, sha256_file(m[0])),
                                                          (2, sha256_file(m[1]))]
    assert h.aliases == {"champion": 2}
    assert [(e["action"], e["from"], e["version"]) for e in h.events] == [
        ("promote", None, 1), ("promote", 1, 2)]
    assert h.events[1]["verdict"]["sha256"] == sha256_file(tmp_path / "reports" / "verdict.json")
    assert h.metrics[1]["adult-income::performance::roc_auc"] == 0.9
    assert h.metrics[2]["adult-income::performance::roc_auc"] == 0.92
    capsys.readouterr()
    assert main(["history", "mlflow:churn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mlflow:churn (sqlite:///")
    assert "promote  champion: - → v1" in out and "promote  champion: v1 → v2" in out
    assert "[champion]" in out and "0.9200" in out
    assert main(["history", "mlflow:churn", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["versions"][0]["tags"]["evalgate.sha256"] == sha256_file(m[0])
    assert doc["metrics"]["2"]["adult-income::performance::roc_auc"] == 0.92

    assert main(["rollback", "mlflow:churn", "--reason", "latency regression"]) == 0
    assert "rolled back mlflow:churn: champion is version 1 (was version 2)" in \
        capsys.readouterr().out
    assert int(store.get_model_version_by_alias("churn", "champion").version) == 1
    last = history("churn").events[-1]
    assert (last["action"], last["from"], last["version"], last["reason"]) == (
        "rollback", 2, 1, "latency regression")
    assert main(["rollback", "mlflow:churn"]) == 2  # version 1 is the first champion
    assert "mlflow:churn has no previous champion to roll back to" in capsys.readouterr().err
    assert main(["rollback", "mlflow:churn", "--to", "2"]) == 0  # 2 was champion before
    assert resolve(parse_reference("mlflow:churn@champion")).version == 2


def test_mlflow_rollback_refusals(store: Any, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.registry.mlflow import rollback

    m = [variant(tmp_path / "models", i) for i in range(3)]
    with pytest.raises(RegistryError, match="mlflow:churn has no champion to roll back"):
        rollback("churn")
    _promote(tmp_path, m[0], None, 0.9)
    with pytest.raises(RegistryError, match=r"no previous champion to roll back to \(version 1 "
                                            r"is the first"):
        rollback("churn")
    _promote(tmp_path, m[1], m[0], 0.92)
    assert _version_outside_evalgate(store, m[2]) == 3
    with pytest.raises(RegistryError, match="mlflow:churn version 3 has never been champion"):
        rollback("churn", to=3)
    capsys.readouterr()
    assert main(["rollback", "mlflow:churn", "--to", "3"]) == 2
    assert "only a passing verdict can make it one" in capsys.readouterr().err
    with pytest.raises(RegistryError, match=r"mlflow:churn has no version 9 \(versions: 1, 2, 3\)"):
        rollback("churn", to=9)
    with pytest.raises(RegistryError, match="version 2 is already the champion of mlflow:churn"):
        rollback("churn", to=2)
    assert main(["rollback", "mlflow:churn@3"]) == 2  # a version is not a model
    assert "name the MLflow model (mlflow:churn)" in capsys.readouterr().err
    assert int(store.get_model_version_by_alias("churn", "champion").version) == 2


def test_mlflow_champion_moves_outside_evalgate(store: Any, tmp_path: Path) -> None:
    """A champion set by hand in MLflow counts as one; a move recorded by a command killed
    before it set the alias is ignored, and replaced by the next move; an edited move is
    refused."""
    from evalgate.registry.mlflow import MOVE_TAG, history, rollback

    m = [variant(tmp_path / "models", i) for i in range(2)]
    _promote(tmp_path, m[0], None, 0.9)
    assert _version_outside_evalgate(store, m[1]) == 2
    store.set_registered_model_alias("churn", "champion", "2")  # by hand
    interrupted = {"seq": 2, "action": "promote", "alias": "champion", "version": 3, "from": 2}
    store.set_registered_model_tag("churn", f"{MOVE_TAG}000002", json.dumps(interrupted))
    assert [e["seq"] for e in history("churn").events] == [1]
    assert rollback("churn") == (2, 1)
    tags = store.get_registered_model("churn").tags
    assert sorted(k for k in tags if k.startswith(MOVE_TAG)) == [
        f"{MOVE_TAG}000001", f"{MOVE_TAG}000002"]
    assert json.loads(tags[f"{MOVE_TAG}000002"])["action"] == "rollback"
    store.set_registered_model_tag("churn", f"{MOVE_TAG}000003", "{not json")
    with pytest.raises(IntegrityError, match=r"tag evalgate\.move\.000003 is not a champion move"):
        history("churn")
