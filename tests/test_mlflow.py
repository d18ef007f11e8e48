"""MLflow as the champion's home, against a real ``mlflow server`` (tests/mlflow_server.py: a
sqlite store and served artifacts under pytest's tmp folder) — no mock. Skipped where the
server's packages are missing, except in CI (EVALGATE_REQUIRE_MLFLOW=1), where they must be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ADULT_TEST
from evalgate.cli import main
from evalgate.engine import Gate
from evalgate.errors import ChampionChanged, IntegrityError, ModelLoadError
from evalgate.registry import TAMPERED, RegistryError, parse_reference, resolver, sha256_file
from tests.mlflow_server import free_port, mlflow_server
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
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture
def store(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The client of the test server, set as MLflow's tracking URI for evalgate."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return MlflowClient()


@pytest.fixture
def name() -> str:
    """A model name of this test's own on the shared server."""
    return f"churn-{uuid.uuid4().hex[:8]}"


def _promote(tmp_path: Path, name: str, candidate: Path, champion: Path | None,
             roc_auc: float, code: int = 0) -> Path:
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", candidate, champion,
                           roc_auc=roc_auc)
    assert main(["promote", str(candidate), "--to", f"mlflow:{name}"]) == code
    return verdict


def _champion(store: Any, name: str) -> int:
    return int(store.get_model_version_by_alias(name, "champion").version)


# --------------------------------------------------------------------------- refusals first


def test_an_unset_tracking_uri_is_refused_not_a_local_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    m = variant(tmp_path / "models", 0)
    make_verdict(tmp_path / "reports" / "verdict.json", m)
    assert main(["promote", str(m), "--to", "mlflow:churn"]) == 2
    err = capsys.readouterr().err
    assert "MLFLOW_TRACKING_URI is not set" in err and "does not fall back" in err
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()


def test_a_server_that_does_not_answer_is_named_and_blocks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mlflow")
    from conftest import suite_text
    from evalgate.families import load_suite

    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", down)
    monkeypatch.chdir(tmp_path)
    m = variant(tmp_path / "models", 0)
    make_verdict(tmp_path / "reports" / "verdict.json", m)
    started = time.monotonic()
    assert main(["promote", str(m), "--to", "mlflow:churn"]) == 2
    assert main(["history", "mlflow:churn"]) == 2
    assert time.monotonic() - started < 30  # no minutes of retries
    err = capsys.readouterr().err
    assert err.count(f"the MLflow server at {down} does not answer") == 2
    # the gate against mlflow:…@champion: the champion cannot load, so the gate errors
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(data=ADULT_TEST, champion=None))
    gate = Gate(m, champion="mlflow:churn@champion", resolve=resolver())
    with pytest.raises(ModelLoadError, match=f"the MLflow server at {down} does not answer"):
        gate.champion_path(load_suite(suite))


def test_a_server_that_refuses_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A server that answers every request with 403 (a proxy without credentials): one line
    naming the server, exit 2."""
    pytest.importorskip("mlflow")
    import http.server

    class Refuse(http.server.BaseHTTPRequestHandler):
        def refuse(self) -> None:
            body = b'{"error_code": "PERMISSION_DENIED", "message": "no token"}'
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = refuse

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.chdir(tmp_path)
        assert main(["history", "mlflow:churn"]) == 2
    finally:
        httpd.shutdown()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"(MLflow at {url})" in err[0] and "no token" in err[0], err


@pytest.mark.parametrize("verb", [["monitor", "mlflow:churn", "--data", "batch.csv"],
                                  ["lineage", "mlflow:churn"], ["card", "mlflow:churn"]])
def test_verbs_of_the_local_registry_name_what_mlflow_offers(
        verb: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(verb) == 2
    err = capsys.readouterr().err
    assert f"mlflow:churn: {verb[0]} reads the local registry" in err
    assert "`evalgate history mlflow:churn`" in err


# --------------------------------------------------------------------------- promote, resolve


def test_promote_and_resolve_through_mlflow(store: Any, name: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.registry.mlflow import SHA_TAG, VERDICT_SHA_TAG, VERDICT_TAG, resolve

    m = [variant(tmp_path / "models", i) for i in range(3)]
    verdict = _promote(tmp_path, name, m[0], None, 0.9)
    assert f"promoted mlflow:{name} version 1 to champion (was no champion)" in \
        capsys.readouterr().out
    mv = store.get_model_version_by_alias(name, "champion")
    assert int(mv.version) == 1 and mv.tags[SHA_TAG] == sha256_file(m[0])
    assert mv.tags[VERDICT_SHA_TAG] == sha256_file(verdict)
    assert json.loads(mv.tags[VERDICT_TAG])["metrics"] == {
        "adult-income::performance::roc_auc": 0.9,
        "adult-income::performance::accuracy": pytest.approx(0.85),
        "adult-income::performance::log_loss": 0.3}

    found = resolve(parse_reference(f"mlflow:{name}@champion"))
    assert found.version == 1 and sha256_file(found.path) == found.sha256 == sha256_file(m[0])
    assert (tmp_path / "cache" / "evalgate" / "mlflow" / name) in found.path.parents
    assert resolve(parse_reference(f"mlflow:{name}@1")).path == found.path  # cached

    gate = Gate(m[1], champion=f"mlflow:{name}@champion", resolve=resolver())
    suite_path = tmp_path / "s.yaml"
    from conftest import suite_text
    from evalgate.families import load_suite

    suite_path.write_text(suite_text(data=ADULT_TEST, champion=None))
    path = gate.champion_path(load_suite(suite_path))
    assert gate.model(path).info.sha256 == sha256_file(m[0])

    # a verdict judged against version 1 promotes; a second one judged against 1 is stale
    _promote(tmp_path, name, m[1], m[0], 0.92)
    assert "version 2 to champion (was version 1)" in capsys.readouterr().out
    assert main(["promote", str(m[1]), "--to", f"mlflow:{name}"]) == 0  # a retry
    assert f"mlflow:{name} version 2 is already the champion" in capsys.readouterr().out
    _promote(tmp_path, name, m[2], m[0], 0.9, code=1)
    err = capsys.readouterr().err
    assert "champion changed" in err and "version 2" in err
    assert _champion(store, name) == 2

    # a version whose recorded sha256 does not match its bytes is refused as champion
    store.set_model_version_tag(name, "2", SHA_TAG, "ab" * 32)
    with pytest.raises(RegistryError, match=TAMPERED):
        resolve(parse_reference(f"mlflow:{name}@champion"))
    store.delete_model_version_tag(name, "2", SHA_TAG)
    gate = Gate(m[2], champion=f"mlflow:{name}@champion", resolve=resolver())
    with pytest.raises(ModelLoadError, match=r"has no evalgate\.sha256 tag"):
        gate.champion_path(load_suite(suite_path))
    with pytest.raises(RegistryError, match="no model 'nope' with alias 'champion'"):
        resolve(parse_reference("mlflow:nope@champion"))


def test_the_verdict_travels_with_the_promotion(store: Any, name: str, tmp_path: Path) -> None:
    """Artifacts of the version's run (verdict, summary, sign-off), the gate's numbers as run
    metrics, and the evalgate.* version tags; `history` reads them back."""
    from evalgate.registry.mlflow import (
        DATASET_SHA_TAG,
        DECISION_TAG,
        SIGNED_OFF_TAG,
        SUITE_SHA_TAG,
        history,
    )

    m = variant(tmp_path / "models", 0)
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", m, roc_auc=0.91)
    (verdict.parent / "summary.md").write_text("# evalgate: PROMOTE\n")
    assert main(["signoff", str(verdict), "--reviewer", "Bob", "--role", "risk"]) == 0
    assert main(["promote", str(m), "--to", f"mlflow:{name}"]) == 0
    mv = store.get_model_version(name, "1")
    doc = json.loads(verdict.read_text())
    assert mv.tags[DECISION_TAG] == "promote"
    assert mv.tags[SUITE_SHA_TAG] == doc["suites"][0]["sha256"]
    assert mv.tags[DATASET_SHA_TAG] == doc["suites"][0]["dataset"]["sha256"]
    assert mv.tags[SIGNED_OFF_TAG] == "Bob"
    folder = f"evalgate/{sha256_file(verdict)[:12]}"
    listed = {a.path for a in store.list_artifacts(mv.run_id, folder)}
    assert listed == {f"{folder}/{f}" for f in ("verdict.json", "summary.md", "signoff.json",
                                                "evalgate-report.html")}
    local = store.download_artifacts(mv.run_id, f"{folder}/verdict.json", str(tmp_path / "dl"))
    assert sha256_file(Path(local)) == sha256_file(verdict)  # the very bytes
    metrics = store.get_run(mv.run_id).data.metrics
    assert metrics["adult-income::performance::roc_auc"] == 0.91
    assert metrics["adult-income::performance::log_loss"] == 0.3
    h = history(name)
    assert h.versions[0].tags[DECISION_TAG] == "promote"
    assert h.events[0]["signoff"] == {"reviewer": "Bob"}


def _version_outside_evalgate(store: Any, name: str, model: Path) -> int:
    """A version created in MLflow directly (with its sha256 tag), never made champion."""
    from evalgate.registry.mlflow import SHA_TAG

    experiment = store.get_experiment_by_name("elsewhere")
    run = store.create_run(experiment.experiment_id if experiment is not None
                           else store.create_experiment("elsewhere")).info.run_id
    store.log_artifact(run, str(model), artifact_path="model")
    mv = store.create_model_version(name, source=f"runs:/{run}/model", run_id=run,
                                    tags={SHA_TAG: sha256_file(model)})
    return int(mv.version)


# --------------------------------------------------------------------------- rollback, history


def test_history_and_rollback_through_mlflow(store: Any, name: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.registry.mlflow import history, resolve

    m = [variant(tmp_path / "models", i) for i in range(2)]
    _promote(tmp_path, name, m[0], None, 0.9)
    verdict = _promote(tmp_path, name, m[1], m[0], 0.92)
    h = history(name)
    assert [(v.number, v.sha256) for v in h.versions] == [(1, sha256_file(m[0])),
                                                          (2, sha256_file(m[1]))]
    assert h.aliases == {"champion": 2}
    assert [(e["action"], e["from"], e["version"]) for e in h.events] == [
        ("promote", None, 1), ("promote", 1, 2)]
    assert h.events[1]["verdict"]["sha256"] == sha256_file(verdict)
    assert h.metrics[1]["adult-income::performance::roc_auc"] == 0.9
    assert h.metrics[2]["adult-income::performance::roc_auc"] == 0.92
    capsys.readouterr()
    assert main(["history", f"mlflow:{name}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"mlflow:{name} (http://127.0.0.1:")
    assert "promote  champion: - → v1" in out and "promote  champion: v1 → v2" in out
    assert "[champion]" in out and "0.9200" in out and "promote (verdict " in out
    assert main(["history", f"mlflow:{name}", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["versions"][0]["tags"]["evalgate.sha256"] == sha256_file(m[0])
    assert doc["metrics"]["2"]["adult-income::performance::roc_auc"] == 0.92

    assert main(["rollback", f"mlflow:{name}", "--reason", "latency regression"]) == 0
    assert f"rolled back mlflow:{name}: champion is version 1 (was version 2)" in \
        capsys.readouterr().out
    assert _champion(store, name) == 1
    last = history(name).events[-1]
    assert (last["action"], last["from"], last["version"], last["reason"]) == (
        "rollback", 2, 1, "latency regression")
    assert main(["rollback", f"mlflow:{name}"]) == 2  # version 1 is the first champion
    assert f"mlflow:{name} has no previous champion to roll back to" in capsys.readouterr().err
    assert main(["rollback", f"mlflow:{name}", "--to", "2"]) == 0  # 2 was champion before
    assert resolve(parse_reference(f"mlflow:{name}@champion")).version == 2
    assert main(["audit", "verify", f"mlflow:{name}"]) == 0
    assert "OK (4 changes, chain intact, head " in capsys.readouterr().out


def test_mlflow_rollback_refusals(store: Any, name: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.registry.mlflow import rollback

    m = [variant(tmp_path / "models", i) for i in range(3)]
    with pytest.raises(RegistryError, match=f"mlflow:{name} has no champion to roll back"):
        rollback(name)
    _promote(tmp_path, name, m[0], None, 0.9)
    with pytest.raises(RegistryError, match=r"no previous champion to roll back to \(version 1 "
                                            r"is the first"):
        rollback(name)
    _promote(tmp_path, name, m[1], m[0], 0.92)
    assert _version_outside_evalgate(store, name, m[2]) == 3
    with pytest.raises(RegistryError, match=f"mlflow:{name} version 3 has never been champion"):
        rollback(name, to=3)
    capsys.readouterr()
    assert main(["rollback", f"mlflow:{name}", "--to", "3"]) == 2
    assert "only a passing verdict can make it one" in capsys.readouterr().err
    with pytest.raises(RegistryError, match=rf"mlflow:{name} has no version 9 \(versions: 1, 2, "
                                            r"3\)"):
        rollback(name, to=9)
    with pytest.raises(RegistryError, match=f"version 2 is already the champion of mlflow:{name}"):
        rollback(name, to=2)
    assert main(["rollback", f"mlflow:{name}@3"]) == 2  # a version is not a model
    assert f"name the MLflow model (mlflow:{name})" in capsys.readouterr().err
    assert _champion(store, name) == 2


# --------------------------------------------------------------------------- the audit chain


def test_audit_finds_an_alias_moved_outside_evalgate(store: Any, name: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A champion set by hand in MLflow is reported by `audit verify` (and still counts as a
    champion a rollback returns to); an edited change breaks the chain; a change whose alias
    never moved is ignored, then discarded by the next change."""
    from evalgate.registry.mlflow import MOVE_TAG, history, resolve, rollback, verify

    m = [variant(tmp_path / "models", i) for i in range(2)]
    _promote(tmp_path, name, m[0], None, 0.9)
    assert verify(name).ok
    assert _version_outside_evalgate(store, name, m[1]) == 2
    store.set_registered_model_alias(name, "champion", "2")  # by hand, in MLflow
    capsys.readouterr()
    assert main(["audit", "verify", f"mlflow:{name}"]) == 1
    out = capsys.readouterr().out
    assert (f"BROKEN: mlflow:{name}@champion names version 2, but the last change evalgate "
            "recorded (#1") in out and "the alias was moved outside evalgate" in out
    # nothing trusts it: a gate against it, and a promotion judged against it, are refused
    with pytest.raises(IntegrityError, match="moved outside evalgate; move it back in MLflow"):
        resolve(parse_reference(f"mlflow:{name}@champion"))
    verdict = make_verdict(tmp_path / "r" / "verdict.json", m[0], m[1])
    assert main(["promote", str(m[0]), "--verdict", str(verdict), "--to", f"mlflow:{name}"]) == 1
    assert "integrity check failed" in capsys.readouterr().err

    interrupted = {"seq": 2, "action": "promote", "alias": "champion", "version": 3, "from": 2}
    store.set_registered_model_tag(name, f"{MOVE_TAG}000002", json.dumps(interrupted))
    assert [e["seq"] for e in history(name).events] == [1]
    assert any("its alias never moved" in n for n in verify(name).notes)
    assert rollback(name) == (2, 1)  # the hand-set champion counts; the interrupted is dropped
    tags = store.get_registered_model(name).tags
    assert sorted(k for k in tags if k.startswith(MOVE_TAG)) == [
        f"{MOVE_TAG}000001", f"{MOVE_TAG}000003"]
    assert json.loads(tags[f"{MOVE_TAG}000003"])["action"] == "rollback"
    assert verify(name).ok  # champion back where evalgate's record says

    first = json.loads(tags[f"{MOVE_TAG}000001"])
    store.set_registered_model_tag(name, f"{MOVE_TAG}000001",
                                   json.dumps({**first, "user": "someone-else"}))
    found = verify(name)
    assert not found.ok and any("change 3's link does not match" in p for p in found.problems)
    store.set_registered_model_tag(name, f"{MOVE_TAG}000004", "{not json")
    with pytest.raises(IntegrityError, match=r"tag evalgate\.move\.000004 is not a change"):
        history(name)


def test_aliases_through_mlflow_are_recorded(store: Any, name: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.registry.mlflow import history, verify

    m = [variant(tmp_path / "models", i) for i in range(2)]
    _promote(tmp_path, name, m[0], None, 0.9)
    assert main(["alias", f"mlflow:{name}", "staging", "1"]) == 0
    assert f"mlflow:{name}@staging: version 1" in capsys.readouterr().out
    assert main(["alias", f"mlflow:{name}", "champion", "1"]) == 2
    assert "moves only with `evalgate promote`" in capsys.readouterr().err
    assert main(["alias", f"mlflow:{name}", "staging", "7"]) == 2
    assert f"mlflow:{name} has no version 7" in capsys.readouterr().err
    assert main(["alias", f"mlflow:{name}", "staging", "--delete"]) == 0
    assert "staging" not in store.get_registered_model(name).aliases
    assert [(e["action"], e.get("alias"), e["version"]) for e in history(name).events] == [
        ("promote", "champion", 1), ("alias", "staging", 1), ("alias", "staging", None)]
    assert verify(name).ok
    assert _version_outside_evalgate(store, name, m[1]) == 2
    store.set_registered_model_alias(name, "staging", "2")  # by hand
    assert any("@staging names version 2, but the last change evalgate recorded" in p
               for p in verify(name).problems)


# --------------------------------------------------------------------------- register, policy


def test_register_and_the_approval_policy_on_mlflow(store: Any, name: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`register` logs the file with its lineage; an approval policy recorded on the MLflow
    model is enforced by promote as on the local registry: the author never counts."""
    from evalgate.registry.mlflow import AUTHOR_TAG, SHA_TAG

    m = variant(tmp_path / "models", 0)
    assert main(["register", str(m), "--name", f"mlflow:{name}", "--author", "Ada",
                 "--data", str(ADULT_TEST)]) == 0
    assert f"registered mlflow:{name} version 1" in capsys.readouterr().out
    mv = store.get_model_version(name, "1")
    assert mv.tags[SHA_TAG] == sha256_file(m) and mv.tags[AUTHOR_TAG] == "Ada"
    run = store.get_run(mv.run_id)
    assert run.data.tags["evalgate.data_sha256"] == sha256_file(ADULT_TEST)
    assert main(["register", str(m), "--name", f"mlflow:{name}"]) == 0
    assert "already holds these bytes" in capsys.readouterr().out

    assert main(["registry", "policy", f"mlflow:{name}", "--require-approvals", "1"]) == 0
    assert "promote requires 1 approval(s)" in capsys.readouterr().out
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", m)
    assert main(["promote", str(m), "--to", f"mlflow:{name}"]) == 1
    assert "requires 1 approval by reviewers other than the author, 0 counted" in \
        capsys.readouterr().err
    assert main(["signoff", str(verdict), "--reviewer", "Ada"]) == 0
    assert main(["promote", str(m), "--to", f"mlflow:{name}"]) == 1
    assert "Ada is the candidate's author: not counted" in capsys.readouterr().err
    assert main(["signoff", str(verdict), "--reviewer", "Bob"]) == 0
    assert main(["promote", str(m), "--to", f"mlflow:{name}"]) == 0
    assert _champion(store, name) == 1


def test_a_signature_requirement_on_an_mlflow_model(store: Any, name: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`registry policy mlflow:NAME --require-signed PUB`: an unsigned verdict is refused, a
    signed one promotes (its key id on the version); dropping the key needs --force."""
    from evalgate.registry.mlflow import history
    from evalgate.verdict.signing import generate, sign

    private, public = generate(tmp_path / "keys")
    assert main(["registry", "policy", f"mlflow:{name}", "--require-signed", str(public)]) == 0
    assert "promote requires a verdict signed by ed25519:" in capsys.readouterr().out
    m = variant(tmp_path / "models", 0)
    verdict = make_verdict(tmp_path / "reports" / "verdict.json", m)
    assert main(["promote", str(m), "--to", f"mlflow:{name}"]) == 1
    assert "not signed" in capsys.readouterr().err
    verdict.write_text(json.dumps(sign(json.loads(verdict.read_text()), private)))
    _, other = generate(tmp_path / "other-keys")  # the command's key must hold as well
    assert main(["promote", str(m), "--to", f"mlflow:{name}", "--require-signed",
                 str(other)]) == 1
    capsys.readouterr()
    assert main(["promote", str(m), "--to", f"mlflow:{name}"]) == 0
    assert "signed by ed25519:" in capsys.readouterr().out
    assert store.get_model_version(name, "1").tags["evalgate.signature_key_id"].startswith(
        "ed25519:")
    assert main(["registry", "policy", f"mlflow:{name}", "--force"]) == 0  # recorded
    assert "promote requires no signature (was: ed25519:" in capsys.readouterr().out
    assert [e["action"] for e in history(name).events] == ["policy", "promote", "policy"]
    assert main(["registry", "policy", "local-model", "--require-signed", str(public)]) == 2
    assert "evalgate registry init --require-signed" in capsys.readouterr().err


# --------------------------------------------------------------------------- races, kills


def _two_verdicts(tmp_path: Path, name: str) -> list[tuple[Path, Path]]:
    m = [variant(tmp_path / "models", i) for i in range(3)]
    _promote(tmp_path, name, m[0], None, 0.9)
    return [(m[i], make_verdict(tmp_path / f"r{i}" / "verdict.json", m[i], m[0]))
            for i in (1, 2)]


def _racer(name: str, pairs: list[tuple[Path, Path]],
           results: dict[int, Any]) -> Callable[[int], None]:
    """A thread's body: promote pair ``i`` in-process, its version or ChampionChanged into
    ``results``."""
    from evalgate.registry.mlflow.release import promote
    from evalgate.registry.policy import VerdictFile

    def run(i: int) -> None:
        model, verdict = pairs[i]
        try:
            results[i] = promote(name, model, VerdictFile.load(verdict))["version"]
        except ChampionChanged as exc:
            results[i] = exc
    return run


@pytest.mark.parametrize("first", [False, True], ids=["against-v1", "first-release"])
def test_two_racing_promotes_one_wins(store: Any, name: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, first: bool) -> None:
    """Both commands read the same champion (or none: two first releases) and reach the
    commit together (a barrier before the claim): exactly one moves the alias, the other is
    told the champion changed."""
    from evalgate.registry.mlflow import moves, verify

    if first:
        m = [variant(tmp_path / "models", i) for i in (1, 2)]
        pairs = [(m[i], make_verdict(tmp_path / f"r{i}" / "verdict.json", m[i]))
                 for i in (0, 1)]
    else:
        pairs = _two_verdicts(tmp_path, name)
    barrier = threading.Barrier(2, timeout=30)
    claim = moves._claim

    def together(*args: Any) -> int:
        barrier.wait()
        return claim(*args)

    monkeypatch.setattr(moves, "_claim", together)
    results: dict[int, Any] = {}
    run = _racer(name, pairs, results)
    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    won = [r for r in results.values() if isinstance(r, int)]
    lost = [r for r in results.values() if isinstance(r, ChampionChanged)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "champion changed" in str(lost[0])
    assert _champion(store, name) == won[0]
    assert verify(name).ok


def test_two_promote_processes_one_wins(store: Any, name: str, tmp_path: Path,
                                        server: str) -> None:
    pairs = _two_verdicts(tmp_path, name)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server}
    procs = [subprocess.Popen([sys.executable, "-m", "evalgate", "promote", str(model),
                               "--verdict", str(verdict), "--to", f"mlflow:{name}"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for model, verdict in pairs]
    done = [(p.wait(120), *p.communicate()) for p in procs]
    assert sorted(code for code, _, _ in done) == [0, 1], done
    assert all("champion changed" in err for code, _, err in done if code == 1)
    winner = next(i for i, (code, _, _) in enumerate(done) if code == 0)
    assert store.get_model_version_by_alias(name, "champion").tags["evalgate.sha256"] == \
        sha256_file(pairs[winner][0])


KILL = """
import os, sys
from mlflow.tracking import MlflowClient
def die(*args, **kwargs):
    os._exit(9)
setattr(MlflowClient, sys.argv[1], die)
from evalgate.cli import main
sys.exit(main(["promote", sys.argv[2], "--verdict", sys.argv[3], "--to", sys.argv[4]]))
"""


@pytest.mark.parametrize("step", ["set_registered_model_tag", "set_registered_model_alias"])
def test_a_promote_killed_between_steps(store: Any, name: str, tmp_path: Path, server: str,
                                        step: str) -> None:
    """Killed after claiming its change or after recording it, before the alias moved: the
    champion stays the old version, and the same promote re-run finishes."""
    from evalgate.registry.mlflow import history, verify

    (model, verdict), _ = _two_verdicts(tmp_path, name)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server}
    killed = subprocess.run([sys.executable, "-c", KILL, step, str(model), str(verdict),
                             f"mlflow:{name}"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == 9, killed.stderr[-2000:]
    assert _champion(store, name) == 1
    assert [e["version"] for e in history(name).events] == [1]
    assert main(["promote", str(model), "--verdict", str(verdict),
                 "--to", f"mlflow:{name}"]) == 0
    assert _champion(store, name) == 2
    assert verify(name).ok


# --------------------------------------------------------------------------- README


@pytest.mark.e2e
def test_readme_mlflow_walkthrough_runs_as_written(server: str, tmp_path: Path) -> None:
    """README's "With an MLflow registry" block, line by line, in a copy of the shipped
    example, against the test server (started by the fixture with the block's own `mlflow
    server` arguments; the `export` names it): each line exits 0."""
    import re
    import shutil

    repo = Path(__file__).parents[1]
    section = (repo / "README.md").read_text("utf-8").split("## With an MLflow registry", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    shutil.copytree(repo / "examples", tmp_path / "examples")
    shutil.copy(repo / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "tests").mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": server, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs = {}
    for line in block.group(1).splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("mlflow server "):  # the fixture's server, started the same way
            assert "--backend-store-uri sqlite:///" in line and "--artifacts-destination" in line
            continue
        if line.startswith("export MLFLOW_TRACKING_URI="):
            continue
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
        outputs[line.split("#")[0].strip()] = done.stdout
    history = outputs["evalgate history mlflow:adult"]
    assert "promote (verdict" in history and "signed off by Carol" in history
    assert "promote  champion: v1 → v2" in history
    rollback = outputs['evalgate rollback mlflow:adult --reason "p99 latency in production"']
    assert "champion is version 1 (was version 2)" in rollback
    audit = outputs["evalgate audit verify mlflow:adult"]
    assert "OK (3 changes, chain intact, head " in audit and "aliases match)" in audit
    from mlflow.tracking import MlflowClient

    client = MlflowClient(server)
    v2 = client.get_model_version("adult", "2")
    folder = f"evalgate/{v2.tags['evalgate.verdict_sha256'][:12]}"
    assert {a.path.rsplit("/", 1)[1] for a in client.list_artifacts(v2.run_id, folder)} == {
        "verdict.json", "summary.md", "evalgate-report.html", "signoff.json", "profile.json"}
    assert client.get_run(v2.run_id).data.metrics[
        "adult-income::performance::roc_auc.delta_bound"] > -0.005  # it passed max_regression


# --------------------------------------------------------------------------- attacks (review)


def test_a_removed_champion_alias_is_no_first_release(store: Any, name: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The alias deleted by hand: a verdict judged without any champion must not promote over
    the champion evalgate recorded."""
    m = [variant(tmp_path / "models", i) for i in range(3)]
    _promote(tmp_path, name, m[0], None, 0.9)
    _promote(tmp_path, name, m[1], m[0], 0.92)
    store.delete_registered_model_alias(name, "champion")
    capsys.readouterr()
    _promote(tmp_path, name, m[2], None, 0.5, code=1)
    err = capsys.readouterr().err
    assert f"mlflow:{name}@champion names no version, but the last change evalgate recorded" \
        in err and "moved outside evalgate" in err
    assert "champion" not in store.get_registered_model(name).aliases


def test_a_hand_set_alias_on_the_candidates_bytes_is_no_retry(
        store: Any, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = [variant(tmp_path / "models", i) for i in range(3)]
    _promote(tmp_path, name, m[0], None, 0.9)
    number = _version_outside_evalgate(store, name, m[2])
    store.set_registered_model_alias(name, "champion", str(number))
    capsys.readouterr()
    _promote(tmp_path, name, m[2], m[1], 0.9, code=1)
    assert "moved outside evalgate" in capsys.readouterr().err


def test_a_version_whose_tag_lies_about_its_bytes_is_not_promoted(
        store: Any, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A version pre-staged with the candidate's sha256 tag but other bytes: promote checks
    the artifact, not the tag."""
    from evalgate.registry.mlflow import SHA_TAG

    m = [variant(tmp_path / "models", i) for i in range(4)]
    _promote(tmp_path, name, m[0], None, 0.9)
    run = store.create_run(store.create_experiment(f"staged-{name}")).info.run_id
    store.log_artifact(run, str(m[3]), artifact_path="model")
    staged = store.create_model_version(name, source=f"runs:/{run}/model", run_id=run,
                                        tags={SHA_TAG: sha256_file(m[1])})
    capsys.readouterr()
    _promote(tmp_path, name, m[1], m[0], 0.92, code=2)
    assert TAMPERED in capsys.readouterr().err
    assert _champion(store, name) == 1 != int(staged.version)


def test_a_hand_revert_is_not_an_interrupted_change(store: Any, name: str,
                                                    tmp_path: Path) -> None:
    """The champion moved back by hand to the last change's ``from``: the completion mark
    says that change took effect, so it is an alias moved outside evalgate — reported, and
    the next promotion refused — not an interrupted change to discard."""
    from evalgate.registry.mlflow import verify

    m = [variant(tmp_path / "models", i) for i in range(3)]
    _promote(tmp_path, name, m[0], None, 0.9)
    _promote(tmp_path, name, m[1], m[0], 0.92)
    store.set_registered_model_alias(name, "champion", "1")
    found = verify(name)
    assert not found.ok and any("names version 1, but the last change" in p
                                for p in found.problems)
    _promote(tmp_path, name, m[2], m[0], 0.93, code=1)
    assert "evalgate.move.000002" in store.get_registered_model(name).tags


def test_a_policy_recorded_during_a_promotion_stops_it(
        store: Any, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.registry.mlflow import release, require_signed
    from evalgate.verdict.signing import generate

    _, public = generate(tmp_path / "keys")
    m = variant(tmp_path / "models", 0)
    make_verdict(tmp_path / "reports" / "verdict.json", m)  # unsigned
    upload = release.find_or_create

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        found = upload(*args, **kwargs)
        require_signed(name, [public])  # an administrator, during the upload
        return found

    monkeypatch.setattr(release, "find_or_create", meanwhile)
    assert main(["promote", str(m), "--to", f"mlflow:{name}"]) == 1
    assert "changed during this promotion" in capsys.readouterr().err
    assert "champion" not in store.get_registered_model(name).aliases


def test_a_model_made_again_under_a_used_name(store: Any, name: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The claims of a deleted model's 70 changes stay (deleted experiments keep their names):
    a new model of that name claims past them."""
    from evalgate.registry.mlflow import moves

    for n in range(1, 71):
        store.delete_experiment(store.create_experiment(f"evalgate-claims/{name}/{n:06d}"))
    monkeypatch.setattr(moves, "STALE_S", 0.0)  # long ago
    m = variant(tmp_path / "models", 0)
    _promote(tmp_path, name, m, None, 0.9)
    assert any(k == "evalgate.move.000071" for k in store.get_registered_model(name).tags)


def test_a_slow_holder_taken_for_abandoned_does_not_also_win(
        store: Any, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim held past STALE_S (a slow server) is taken by another promote: the slow one
    sees it was overtaken before it moves the alias, and stops — exactly one wins."""
    from mlflow.tracking import MlflowClient

    from evalgate.registry.mlflow import moves

    pairs = _two_verdicts(tmp_path, name)
    monkeypatch.setattr(moves, "STALE_S", 1.0)
    claimed = threading.Event()
    tag = MlflowClient.set_registered_model_tag

    def slow(self: Any, model: str, key: str, value: str) -> Any:
        if threading.current_thread().name == "slow" and key.startswith(moves.MOVE_TAG):
            claimed.set()
            time.sleep(3)
        return tag(self, model, key, value)

    monkeypatch.setattr(MlflowClient, "set_registered_model_tag", slow)
    results: dict[int, Any] = {}
    run = _racer(name, pairs, results)
    first = threading.Thread(target=run, args=(0,), name="slow")
    first.start()
    assert claimed.wait(30)
    time.sleep(1.2)
    second = threading.Thread(target=run, args=(1,))
    second.start()
    first.join(60)
    second.join(60)
    assert sum(isinstance(r, int) for r in results.values()) == 1, results
    from evalgate.registry.mlflow import verify

    assert verify(name).ok  # the overtaken change withdrew its tag: the chain holds
