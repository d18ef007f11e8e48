"""A version's lineage (issue: lineage and evidence): ``register`` records how the model was
made (training data with rows and columns, hyperparameters, code commit, author, parent,
MLflow run); ``evalgate lineage NAME[@N]`` prints training data → model → verdicts → sign-offs
→ promotions → monitoring, and finds a tampered link — a monitoring log's last line included,
which its own hash chain cannot cover."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import ADULT_TEST, CANDIDATE, CHAMPION, QUICK_CHECKS, suite_text
from evalgate.cli import main

pytestmark = pytest.mark.e2e  # the gate runs through the CLI

TRAIN = ADULT_TEST.with_name("adult_train.csv.gz")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 (the example champion, author Bob) released first; v2 (the candidate, author Ada,
    its commit given) gated against it, signed off by Carol, promoted; one monitoring run."""
    root = tmp_path_factory.mktemp("lineage")
    (root / "suites").mkdir()
    (root / "suites" / "adult.yaml").write_text(suite_text(checks=QUICK_CHECKS))
    (root / "pyproject.toml").write_text("[tool.evalgate]\n")
    (root / "params.json").write_text('{"max_depth": 6, "learning_rate": 0.1}')
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        steps = [
            ["register", str(CHAMPION), "--name", "adult", "--data", str(TRAIN), "--params",
             "params.json", "--author", "Bob"],
            ["run", str(CHAMPION), "--no-champion", "--report", "reports/first"],
            ["promote", str(CHAMPION), "--name", "adult", "--verdict",
             "reports/first/verdict.json"],
            ["register", str(CANDIDATE), "--name", "adult", "--data", str(TRAIN), "--params",
             "params.json", "--author", "Ada", "--code-commit", "ABCDEF1", "--mlflow-run",
             "run-42"],
            ["run", str(CANDIDATE), "--champion", "registry:adult@champion"],
            ["signoff", "reports/verdict.json", "--reviewer", "Carol"],
            ["promote", str(CANDIDATE), "--name", "adult"],
            ["monitor", "adult", "--data", str(ADULT_TEST)],
        ]
        for step in steps:
            assert main(step) == 0, step
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the built project, to tamper with."""
    copy = tmp_path / "p"
    shutil.copytree(built, copy)
    monkeypatch.chdir(copy)
    return copy


def _lineage(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    status = main(["lineage", *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_the_chain_prints_end_to_end(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _lineage("adult", capsys=capsys)
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0] == "adult v2"
    assert "training data" in lines[1] and "32,561 rows × 15 columns" in lines[1]
    assert "max_depth=6, learning_rate=0.1" in out
    assert "commit abcdef1  author Ada  parent v1  mlflow run run-42" in out
    assert "  verdict " in out and "promote" in out
    assert "adult-income" in out and "16,281 rows" in out
    assert "signed off   by Carol" in out
    assert "champion: v1 → v2" in out
    assert "monitored" in out and "no alert" in out
    assert lines[-1].startswith("lineage of adult v2: OK (")


def test_the_chain_as_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _lineage("adult@2", "--json", capsys=capsys)
    assert status == 0
    found: dict[str, Any] = json.loads(out)
    training = found["training"]
    assert training["data"]["rows"] == 32561 and "income" in training["data"]["columns"]
    assert training["params"]["values"] == {"max_depth": 6, "learning_rate": 0.1}
    assert training["code"] == {"commit": "abcdef1", "source": "given"}
    assert (training["author"], training["parent"], training["mlflow_run"]) == \
        ("Ada", 1, "run-42")
    verdict = json.loads((project / "reports" / "verdict.json").read_text())
    assert found["model"]["sha256"] == verdict["candidate"]["sha256"]
    [promoted] = found["verdicts"]
    assert promoted["decision"] == "promote" and promoted["signoff"]["reviewer"] == "Carol"
    assert promoted["suites"][0]["data"]["rows"] == 16281
    assert [e["action"] for e in found["events"]] == ["register", "promote"]
    assert len(found["monitoring"]) == 1 and found["ok"] is True


def test_an_earlier_version_has_its_own_chain(project: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _lineage("adult@1", capsys=capsys)
    assert status == 0
    assert "author Bob" in out and "parent -" in out
    assert "champion: - → v1" in out and "champion: v1 → v2" in out
    assert "monitored" not in out  # monitoring ran while v2 was champion


def _stored_verdict(project: Path) -> Path:
    folder = project / "registry" / "adult" / "verdicts"
    verdict = json.loads((project / "reports" / "verdict.json").read_text())
    return next(p for p in folder.glob("*.json")
                if p.name.count(".") == 1 and json.loads(p.read_text())["candidate"]["sha256"]
                == verdict["candidate"]["sha256"])


def test_an_edited_stored_verdict_breaks_its_link(project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = _stored_verdict(project)
    path.write_text(path.read_text().replace('"decision": "promote"', '"decision":"promote"'))
    status, out = _lineage("adult", capsys=capsys)
    assert status == 1
    assert "BROKEN: verdict" in out and "does not hold the verdict the promotion recorded" in out


def test_a_signoff_bound_elsewhere_breaks_its_link(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = _stored_verdict(project).with_suffix(".signoff.json")
    doc = json.loads(path.read_text())
    doc["verdict_sha256"] = "0" * 64
    path.write_text(json.dumps(doc))
    status, out = _lineage("adult", capsys=capsys)
    assert status == 1 and "the sign-off is bound to another verdict" in out


def test_the_last_monitoring_line_edited_is_found(project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """No later line's ``prev`` covers the last line; the audit log's anchor does."""
    log = project / "registry" / "adult" / "monitor.jsonl"
    lines = log.read_text().splitlines()
    entry = json.loads(lines[-1])
    entry["alerts"] = ["age"]
    log.write_text("\n".join([*lines[:-1], json.dumps(entry, sort_keys=True)]) + "\n")
    status, out = _lineage("adult", capsys=capsys)
    assert status == 1
    assert "are not the ones the audit log anchored" in out


def test_a_line_past_the_anchor_is_a_note(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A monitor run killed between its two writes leaves an unanchored line: said, not
    vouched for, not a broken link; a cut log is."""
    import hashlib

    log = project / "registry" / "adult" / "monitor.jsonl"
    raw = log.read_bytes()
    last = raw.splitlines()[-1]
    extra = json.loads(last)
    extra["prev"] = hashlib.sha256(last).hexdigest()
    log.write_bytes(raw + json.dumps(extra, sort_keys=True).encode() + b"\n")
    status, out = _lineage("adult", capsys=capsys)
    assert status == 0 and "1 line(s) after the last anchored one" in out
    log.write_bytes(b"")
    status, out = _lineage("adult", capsys=capsys)
    assert status == 1 and "the log was cut" in out


def test_a_tampered_audit_log_breaks_the_chain(project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    audit = project / "registry" / "adult" / "audit.jsonl"
    audit.write_text(audit.read_text().replace('"user":', '"user": ', 1))
    status, out = _lineage("adult", capsys=capsys)
    assert status == 1, out


def test_lineage_refuses_what_it_cannot_read(project: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _lineage("adult@9", capsys=capsys)[0] == 2
    status, out = _lineage("adult@x", capsys=capsys)
    assert status == 2 and "is not a version number" in out
    status, out = _lineage("nobody", capsys=capsys)
    assert status == 2 and "no model named 'nobody'" in out


def test_register_refuses_bad_lineage(project: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (project / "list.json").write_text("[1, 2]")
    capsys.readouterr()
    assert main(["register", str(CANDIDATE), "--name", "other", "--params", "list.json"]) == 2
    assert "must be a JSON object" in capsys.readouterr().err
    assert main(["register", str(CANDIDATE), "--name", "other", "--code-commit", "main"]) == 2
    assert "not a git commit" in capsys.readouterr().err
    assert not (project / "registry" / "other").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_register_records_the_git_commit_by_default(project: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("add", "params.json")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "x")
    assert main(["register", str(CANDIDATE), "--name", "other"]) == 0
    version = json.loads((project / "registry" / "other" / "versions" / "1" /
                          "version.json").read_text())
    assert version["lineage"]["code"] == {"commit": git("rev-parse", "HEAD"), "dirty": False,
                                          "source": "git"}


#: the README walk-through's lines that exit 1, as their comments say: the worse model's gate
#: and promotion, and June's monitoring alert
README_EXIT_1 = ("pytest --evalgate examples/models/champion.onnx",
                 "evalgate promote examples/models/champion.onnx",
                 "evalgate monitor adult --data examples/data/batch_2024_06")


def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """README's "Around the gate" block, line by line, in a copy of the shipped example:
    each line exits as its comment says, and the lineage of the promoted v2 prints end to end
    — training data, its verdict, two sign-offs, the promotion, both monitoring runs."""
    import os
    import re
    import sys

    repo = Path(__file__).parents[1]
    readme = (repo / "README.md").read_text("utf-8")
    section = readme.split("## Around the gate", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    for name in ("examples", "suites"):
        shutil.copytree(repo / name, tmp_path / name)
    shutil.copy(repo / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "tests").mkdir()  # the clone's testpaths; the gate collects only its suites
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs = {}
    for line in block.group(1).splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        expected = 1 if line.startswith(README_EXIT_1) else 0
        assert done.returncode == expected, (line, done.stdout[-2000:], done.stderr[-2000:])
        outputs[line.split("#")[0].strip()] = done.stdout
    lineage = outputs["evalgate lineage adult"]
    assert lineage.splitlines()[0] == "adult v2"
    assert "32,561 rows × 15 columns" in lineage and "author Ada" in lineage
    assert "signed off   by Bob (risk)" in lineage and "signed off   by Carol" in lineage
    assert "champion: v1 → v2" in lineage
    assert lineage.count("  monitored  ") == 2 and "ALERT" in lineage
    assert lineage.splitlines()[-1].startswith("lineage of adult v2: OK")
    assert (tmp_path / "reports" / "model-card.html").is_file()


def test_a_registry_champion_carries_its_lineage_into_the_verdict(project: Path) -> None:
    """The verdict that judged v2 names its champion, v1, with v1's registered lineage."""
    doc = json.loads((project / "reports" / "verdict.json").read_text())
    registry = doc["champion"]["registry"]
    assert (registry["name"], registry["version"]) == ("adult", 1)
    lineage = registry["lineage"]
    assert lineage["author"] == "Bob" and lineage["params"]["values"]["max_depth"] == 6
    assert lineage["data"]["rows"] == 32561
