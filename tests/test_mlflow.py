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
from evalgate.errors import ModelLoadError
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
        "adult-income::roc_auc": 0.9, "adult-income::accuracy": pytest.approx(0.85),
        "adult-income::log_loss": 0.3}

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
    with pytest.raises(ModelLoadError, match="has no evalgate.sha256 tag"):
        gate.champion_path(load_suite(suite_path))
    with pytest.raises(RegistryError, match="no model 'nope' with alias 'champion'"):
        resolve(parse_reference("mlflow:nope@champion"))
