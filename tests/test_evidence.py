"""The verdict as evidence (issue: lineage and evidence): the resolved configuration, every
file a suite read with its sha256, the git commit and dirty state, the environment, each
model's signature — and ``evalgate rerun``, which re-runs the recorded gate and refuses when
a recorded file's bytes changed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from conftest import ADULT_TEST, CANDIDATE, CHAMPION, QUICK_CHECKS, suite_text
from evalgate.cli import main
from evalgate.cli.rerun import compare
from evalgate.verdict.evidence import environment, git_state

GIT = shutil.which("git")
ADULT_TRAIN = ADULT_TEST.with_name("adult_train.csv.gz")
DRIFT = ("  drift:\n    reference: REFERENCE\n    columns: [age, sex]\n"
         "    max_drift: {numeric: 0.1, categorical: 0.1}\n")


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project in a git repository: its suite reads a copy of the data and a drift
    reference of its own; a gate run through the CLI with a tracked file changed and one
    file untracked."""
    if GIT is None:
        pytest.skip("needs git")
    root = tmp_path_factory.mktemp("evidence")
    (root / "data").mkdir()
    shutil.copy(ADULT_TEST, root / "data" / "eval.csv.gz")
    shutil.copy(ADULT_TRAIN, root / "data" / "train.csv.gz")
    (root / "suites").mkdir()
    checks = QUICK_CHECKS + DRIFT.replace("REFERENCE", "../data/train.csv.gz")
    (root / "suites" / "adult.yaml").write_text(
        suite_text(data="../data/eval.csv.gz", checks=checks), encoding="utf-8")
    (root / "pyproject.toml").write_text("[tool.evalgate]\n", encoding="utf-8")
    (root / "notes.txt").write_text("one\n", encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "first")
    (root / "notes.txt").write_text("two\n", encoding="utf-8")   # tracked, changed: dirty
    (root / "scratch.txt").write_text("x\n", encoding="utf-8")   # untracked
    return root


@pytest.fixture(scope="module")
def verdict(project: Path) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        status = main(["run", str(CANDIDATE), "--champion", str(CHAMPION),
                       "--report", "reports"])
    doc: dict[str, Any] = json.loads((project / "reports" / "verdict.json").read_text("utf-8"))
    assert status == 0, doc["summary"]
    return doc


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_verdict_records_the_git_commit_and_the_work_tree(project: Path,
                                                         verdict: dict[str, Any]) -> None:
    git = verdict["provenance"]["git"]
    assert git["commit"] == _git(project, "rev-parse", "HEAD")
    assert git["dirty"] is True                 # notes.txt changed since the commit
    # scratch.txt, and reports/ written by the run itself
    assert git["untracked"] >= 1
    assert git["branch"] == _git(project, "rev-parse", "--abbrev-ref", "HEAD")


def test_git_state_outside_a_repository_or_without_git(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert git_state(tmp_path) is None
    monkeypatch.setenv("PATH", str(tmp_path))   # no git on PATH
    assert git_state(Path.cwd()) is None


def test_verdict_records_the_environment(verdict: dict[str, Any]) -> None:
    env = verdict["provenance"]["environment"]
    dists = env["distributions"]
    assert env["lock_sha256"] == hashlib.sha256("\n".join(dists).encode()).hexdigest()
    assert f"onnxruntime=={metadata.version('onnxruntime')}" in dists
    assert f"numpy=={metadata.version('numpy')}" in dists
    assert dists == sorted(dists, key=str.lower)
    assert env["onnxruntime"]["version"] == metadata.version("onnxruntime")
    assert "CPUExecutionProvider" in env["onnxruntime"]["available_providers"]
    assert env["cpu_count"] >= 1 and env["python"].count(".") == 2
    assert environment() == env   # the same process, the same record


def test_verdict_records_each_models_signature(verdict: dict[str, Any]) -> None:
    for role in ("candidate", "champion"):
        sig = verdict[role]["signature"]
        names = [i["name"] for i in sig["inputs"]]
        assert "hours_per_week" in names and "age" in names
        age = next(i for i in sig["inputs"] if i["name"] == "age")
        assert age["type"] == "tensor(float)" and age["shape"] == [None, 1]
        assert sig["reads"] == {"label": "output_label", "scores": "probabilities"}
        assert sig["producer"].startswith("skl2onnx")
        assert sig["opsets"]["ai.onnx"] >= 1


def test_verdict_records_the_resolved_suite_and_every_file_it_read(
        project: Path, verdict: dict[str, Any]) -> None:
    suite = verdict["suites"][0]
    resolved = suite["resolved"]
    # every default explicit: the file set none of these
    assert resolved["n_resamples"] == 400 and resolved["value_thresholds"] == "estimate"
    assert resolved["data"]["path"] == "../data/eval.csv.gz"
    perf = {c["metric"]: c["threshold"] for c in resolved["checks"]["performance"]}
    assert perf["roc_auc"] == {"min": 0.85, "max": None, "max_regression": 0.005,
                               "min_improvement": None}
    drift = resolved["checks"]["drift"]
    assert drift["reference"]["path"] == "../data/train.csv.gz"
    assert drift["columns"] == ["age", "sex"] and drift["blocking"] is True  # a default
    assert "line" not in json.dumps(resolved).replace("pipeline", "")
    files = {f["role"]: f for f in suite["files"]}
    assert set(files) == {"suite", "data", "drift.reference"}
    for f in files.values():
        assert f["sha256"] == _sha(project / f["path"]), f


def _rerun(project: Path, verdict: Path, *extra: str) -> int:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        return main(["rerun", str(verdict), *extra])


def test_rerun_reproduces_every_number(project: Path, verdict: dict[str, Any],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert _rerun(project, project / "reports" / "verdict.json", "--report", "again") == 0
    out = capsys.readouterr().out
    n = len(verdict["suites"][0]["checks"])
    assert "every number of" in out and f"reproduced ({n} checks;" in out, out
    again = json.loads((project / "again" / "verdict.json").read_text("utf-8"))
    assert [c["ci"] for c in again["suites"][0]["checks"]] == \
        [c["ci"] for c in verdict["suites"][0]["checks"]]


def test_rerun_finds_a_number_edited_in_the_verdict(project: Path, verdict: dict[str, Any],
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    edited = json.loads(json.dumps(verdict))
    check = edited["suites"][0]["checks"][0]
    check["ci"][0] += 0.01   # a bound nudged up, by hand
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(edited), encoding="utf-8")
    capsys.readouterr()
    assert _rerun(project, path) == 1
    out = capsys.readouterr().out
    assert f"DIFFERS  {check['id']}.ci[0]: recorded" in out, out


@pytest.mark.parametrize("victim", ["data/eval.csv.gz", "data/train.csv.gz",
                                    "suites/adult.yaml"])
def test_rerun_refuses_a_changed_file_and_names_it(project: Path, verdict: dict[str, Any],
                                                   victim: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = project / victim
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\n")
        capsys.readouterr()
        assert _rerun(project, project / "reports" / "verdict.json") == 2
        err = capsys.readouterr().err
        assert f"{victim}: its bytes changed since the verdict" in err, err
    finally:
        path.write_bytes(original)


def test_rerun_refuses_a_missing_model(project: Path, verdict: dict[str, Any], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    moved = json.loads(json.dumps(verdict))
    moved["candidate"]["path"] = str(tmp_path / "gone.onnx")
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(moved), encoding="utf-8")
    capsys.readouterr()
    assert _rerun(project, path) == 2
    assert "gone.onnx: cannot read it" in capsys.readouterr().err


def test_rerun_refuses_a_run_that_never_finished(project: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.verdict import now
    from evalgate.verdict.build import in_progress

    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(in_progress(CANDIDATE, now())), encoding="utf-8")
    capsys.readouterr()
    assert _rerun(project, path) == 2
    assert "never finished" in capsys.readouterr().err


def _doc(decision: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"decision": decision, "suites": [{"name": "s", "checks": checks}]}


def test_compare_counts_timed_checks_as_remeasured_not_as_differences() -> None:
    """A latency time, a load rate, a memory peak are measured again, not reproduced; a
    decision that changed with them alone is reported with them. Anything else differs."""
    def check(cid: str, family: str, value: float, status: str = "pass") -> dict[str, Any]:
        return {"id": cid, "family": family, "status": status, "candidate": value}

    old = _doc("promote", [check("s::latency::batch_1", "latency", 1.0),
                           check("s::stress::memory", "stress", 30.0),
                           check("s::stress::malformed", "stress", 0.0),
                           check("s::performance::roc_auc", "performance", 0.9)])
    new = _doc("block", [check("s::latency::batch_1", "latency", 9.0, "fail"),
                         check("s::stress::memory", "stress", 31.0),
                         check("s::stress::malformed", "stress", 0.0),
                         check("s::performance::roc_auc", "performance", 0.9)])
    # a path pytest wrote absolute names the file evalgate run names relative to the folder
    old["suites"][0]["checks"][3]["message"] = f"{Path.cwd()}/model.onnx: fine"
    new["suites"][0]["checks"][3]["message"] = "model.onnx: fine"
    diffs, measured, same = compare(old, new)
    assert diffs == [] and same == 2
    assert measured[-1] == "decision: recorded promote, now block"
    assert measured[0] == ("s::latency::batch_1: recorded pass 1, now fail 9 (STATUS CHANGED)")
    new["suites"][0]["checks"][2]["candidate"] = 1.0   # malformed inputs are not timed
    diffs, _, same = compare(old, new)
    assert diffs == ["s::stress::malformed.candidate: recorded 0.0, now 1.0",
                     "decision: recorded promote, now block"]
    assert same == 1


def test_promote_refuses_when_a_file_a_family_read_changed(
        project: Path, verdict: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The drift reference is evidence like the data: changed since the run, promote
    refuses, naming it (before, only the suite files and datasets were checked)."""
    path = project / "data" / "train.csv.gz"
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\n")
        capsys.readouterr()
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(project)
            status = main(["promote", str(CANDIDATE), "--name", "adult", "--registry",
                           str(tmp_path / "registry"), "--verdict", "reports/verdict.json"])
        err = capsys.readouterr().err
    finally:
        path.write_bytes(original)
    assert status == 1
    assert ("the drift.reference of 'adult-income' (data/train.csv.gz) changed since the gate "
            "ran") in err, err


def test_rerun_finds_a_file_cut_from_the_record(project: Path, verdict: dict[str, Any],
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A drift reference cut from `files` (so that nothing would check it) is a difference."""
    edited = json.loads(json.dumps(verdict))
    edited["suites"][0]["files"] = [f for f in edited["suites"][0]["files"]
                                    if f["role"] != "drift.reference"]
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(edited), encoding="utf-8")
    capsys.readouterr()
    assert _rerun(project, path) == 1
    assert "DIFFERS  adult-income.files: recorded" in capsys.readouterr().out
