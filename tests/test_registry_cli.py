"""The registry verbs of the ``evalgate`` command, the gate against ``registry:NAME@champion``,
and the reliability promises with real processes: racing promotions, and crashes at every step
of a promotion."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CANDIDATE, CHAMPION, read_verdict, suite_text
from evalgate.cli import main
from evalgate.registry import (
    CRASH_ENV,
    CRASH_STEPS,
    TAMPERED,
    ModelRegistry,
    VerdictFile,
    sha256_file,
)
from tests.test_registry import make_verdict, variant

#: the lifecycle through the CLI, in subprocesses for crashes and races
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def first_release(root: Path, name: str, model: Path, folder: Path) -> None:
    verdict = make_verdict(folder / f"first-{name}.json", model)
    ModelRegistry(root, name).promote(model, VerdictFile.load(verdict))


def test_a_verdict_on_suites_other_than_the_projects_does_not_promote(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The worse model blocks on the project's suites; gated with --suites on a lenient file
    of the user's choosing it says promote — a verdict the project's gate never gave."""
    first_release(project / "registry", "adult", CANDIDATE, project)  # before it had suites/
    (project / "suites").mkdir()
    (project / "suites" / "adult.yaml").write_text(suite_text(champion="registry:adult@champion"))
    (project / "lenient").mkdir()
    (project / "lenient" / "easy.yaml").write_text(suite_text(
        champion="registry:adult@champion", checks="  performance:\n    accuracy: {min: 0.5}\n"))
    assert main(["run", str(CHAMPION), "--report", "reports/real"]) == 1
    assert main(["run", str(CHAMPION), "--suites", "lenient/easy.yaml",
                 "--report", "reports/easy"]) == 0
    capsys.readouterr()
    assert main(["promote", str(CHAMPION), "--name", "adult",
                 "--verdict", "reports/easy/verdict.json"]) == 1
    assert "but this project's gate is suites" in capsys.readouterr().err
    assert ModelRegistry(project / "registry", "adult").champion() is not None
    assert main(["history", "adult"]) == 0
    assert "version 2" not in capsys.readouterr().out


def test_register_promote_rollback_history(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    m = [variant(project / "models", i) for i in range(3)]
    data = project / "train.csv"
    data.write_text("x\n1\n")
    assert main(["register", str(m[0]), "--name", "churn", "--data", str(data),
                 "--notes", "first"]) == 0
    assert capsys.readouterr().out.startswith("registered churn version 1 (sha256 ")
    assert main(["register", str(m[0]), "--name", "churn"]) == 0
    assert "churn version 1 already holds these bytes" in capsys.readouterr().out

    make_verdict(project / "reports" / "verdict.json", m[0], roc_auc=0.90)
    assert main(["promote", str(m[0])]) == 2  # a first release: the name cannot be inferred
    assert "needs --name NAME" in capsys.readouterr().err
    assert main(["promote", str(m[0]), "--name", "churn"]) == 0
    out = capsys.readouterr().out
    assert "promoted churn version 1 to champion (was none: a first release)" in out
    assert "no reviewer recorded" in out

    make_verdict(project / "reports" / "verdict.json", m[1], m[0], roc_auc=0.92)
    assert main(["promote", str(m[1])]) == 0  # name inferred from the verdict's champion
    assert "promoted churn version 2 to champion (was version 1, newly registered)" in \
        capsys.readouterr().out
    assert main(["promote", str(m[2]), "--verdict", "reports/verdict.json"]) == 1
    assert "the verdict is for another model" in capsys.readouterr().err

    assert main(["register", str(m[2]), "--name", "churn", "--alias", "staging"]) == 0
    assert "staging → version 3" in capsys.readouterr().out
    assert main(["alias", "churn", "champion", "3"]) == 2
    assert "moves only with `evalgate promote`" in capsys.readouterr().err

    assert main(["rollback", "churn", "--reason", "latency regression"]) == 0
    assert "champion is version 1 (was version 2)" in capsys.readouterr().out

    assert main(["history", "churn"]) == 0
    out = capsys.readouterr().out
    assert "  v1 " in out and "[champion]" in out and "[staging]" in out
    assert "promote  champion: - → v1" in out and "promote  champion: v1 → v2" in out
    assert "rollback champion: v2 → v1" in out and "reason: latency regression" in out
    row = next(line for line in out.splitlines() if "adult-income::performance::roc_auc" in line)
    assert row.split()[1:] == ["0.9000", "0.9200"]  # the trend across promoted versions
    assert main(["history", "churn", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["aliases"] == {"champion": 1, "staging": 3}
    assert doc["versions"][0]["lineage"]["data"]["sha256"]

    assert main(["audit", "verify", "churn"]) == 0
    assert "audit log of churn: OK (7 entries" in capsys.readouterr().out
    lines = (project / "registry" / "churn" / "audit.jsonl").read_text().splitlines()
    (project / "registry" / "churn" / "audit.jsonl").write_text(
        "\n".join(lines[:3] + lines[4:]) + "\n")
    assert main(["audit", "verify", "churn"]) == 1
    assert "BROKEN: entry 4: its seq is 5" in capsys.readouterr().out
    assert main(["rollback", "churn"]) == 1
    assert "integrity check failed" in capsys.readouterr().err


def test_registry_location_from_pyproject(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text('[tool.evalgate]\nregistry = "store"\n')
    m = variant(project / "models", 0)
    assert main(["register", str(m), "--name", "churn"]) == 0
    assert (project / "store" / "churn" / "versions" / "1").is_dir()
    assert main(["history", "nope"]) == 2
    assert "models: churn" in capsys.readouterr().err


def test_promote_refuses_subset_verdicts(project: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    m = variant(project / "models", 0)
    make_verdict(project / "reports" / "verdict.json", m, complete=False)
    assert main(["promote", str(m), "--name", "churn"]) == 1
    err = capsys.readouterr().err
    assert "summary.complete is false" in err and "-k/-m" in err
    assert not (project / "registry" / "churn" / "versions").exists()


def test_run_gates_against_the_registry_champion(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    first_release(project / "registry", "adult", CHAMPION, project)  # before it had suites/
    (project / "suites").mkdir()
    (project / "suites" / "adult.yaml").write_text(suite_text(champion="registry:adult@champion"))
    assert main(["run", str(CANDIDATE)]) == 0  # the suite's champion: key names the registry
    verdict = read_verdict(project)
    champion = ModelRegistry(project / "registry", "adult").version(1)
    assert verdict["champion"]["sha256"] == champion.sha256
    assert verdict["champion"]["path"] == "registry/adult/versions/1/model.onnx"
    capsys.readouterr()
    assert main(["promote", str(CANDIDATE)]) == 0  # the name comes from the verdict
    assert "promoted adult version 2 to champion (was version 1" in capsys.readouterr().out
    assert main(["promote", str(CANDIDATE)]) == 0  # a retry
    assert "adult version 2 is already the champion" in capsys.readouterr().out
    other = variant(project / "models", 0)
    make_verdict(project / "reports" / "verdict.json", other, CHAMPION)  # judged against v1
    assert main(["promote", str(other)]) == 1  # a hand-made suite: not the project's gate
    assert "but this project's gate is suites" in capsys.readouterr().err
    (project / "suites").rename(project / "suites.off")  # no gate declared: staleness decides
    assert main(["promote", str(other)]) == 1
    err = capsys.readouterr().err
    assert "champion changed: the verdict was judged against adult version 1, but the " \
        "champion of adult is now version 2" in err
    (project / "suites.off").rename(project / "suites")

    champion.path.write_bytes(CANDIDATE.read_bytes())  # the registered file is replaced
    assert main(["run", str(other), "--champion", "registry:adult@1"]) == 1
    out = capsys.readouterr().out
    assert f"registry:adult@1 (version 1) {TAMPERED}" in out
    assert "evalgate: BLOCK" in out


def test_pytest_gates_against_the_registry_champion(pytester: pytest.Pytester,
                                                    gate_project) -> None:
    root = pytester.path / "registry"
    first_release(root, "adult", CHAMPION, pytester.path)
    gate_project(champion="registry:adult@nope")  # the command line overrides it
    candidate = variant(pytester.path / "models", 1)  # the champion's predictions: quick
    result = pytester.runpytest(f"--evalgate={candidate}",
                                "--evalgate-champion=registry:adult@champion")
    result.stdout.fnmatch_lines(["evalgate: PROMOTE*"])
    assert result.ret == 0
    champion = ModelRegistry(root, "adult").version(1)
    verdict = read_verdict(pytester.path)
    assert verdict["champion"]["sha256"] == champion.sha256
    assert verdict["champion"]["path"] == "registry/adult/versions/1/model.onnx"


# --------------------------------------------------------------------------- real processes


def _evalgate(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "evalgate.cli", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def _holds_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path)
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_racing_promotions_one_wins(project: Path) -> None:
    root = project / "registry"
    m = [variant(project / "models", i) for i in range(3)]
    first_release(root, "churn", m[0], project)
    for i in (1, 2):
        make_verdict(project / f"r{i}" / "verdict.json", m[i], m[0])
    lock = root / "churn" / ".lock"
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # hold the lock until both processes wait on it
    try:
        procs = [_evalgate("promote", str(m[i]), "--verdict", str(project / f"r{i}" /
                           "verdict.json"), "--registry", str(root)) for i in (1, 2)]
        deadline = time.monotonic() + 60
        while not all(_holds_open(p.pid, lock) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.close(fd)
    results = [(p.wait(60), *p.communicate()) for p in procs]
    assert sorted(rc for rc, _, _ in results) == [0, 1], results
    winner = next(i for (rc, _, _), i in zip(results, (1, 2), strict=True) if rc == 0)
    loser_err = next(err for rc, _, err in results if rc == 1)
    assert "champion changed" in loser_err
    assert "judged against churn version 1" in loser_err and "now version 2" in loser_err
    reg = ModelRegistry(root, "churn")
    assert reg.champion().sha256 == sha256_file(m[winner])  # type: ignore[union-attr]
    assert len(reg.versions()) == 2  # the loser registered nothing
    assert reg.verify().ok


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_a_crash_anywhere_leaves_the_registry_consistent(project: Path, step: str) -> None:
    root = project / "registry"
    m = [variant(project / "models", i) for i in range(2)]
    first_release(root, "churn", m[0], project)
    verdict = make_verdict(project / "reports" / "verdict.json", m[1], m[0])
    proc = _evalgate("promote", str(m[1]), "--verdict", str(verdict), "--registry", str(root),
                     env={CRASH_ENV: step})
    rc = proc.wait(60)
    out, err = proc.communicate()
    assert rc == 137, (out, err)

    reg = ModelRegistry(root, "churn")
    champion = reg.champion()  # readable, and names a complete version with its bytes
    assert champion is not None and champion.number in (1, 2)
    champion.verify()
    assert champion.inputs and (champion.dir / "version.json").is_file()
    assert reg.verify().ok, reg.verify().problems
    if step != "promote-committed":
        assert champion.number == 1  # the alias moves at the commit, not before

    # the next command recovers and the promotion goes through
    rerun = reg.promote(m[1], VerdictFile.load(verdict))
    assert reg.champion().number == 2 and rerun.version.number == 2  # type: ignore[union-attr]
    result = reg.verify()
    assert result.ok and not result.notes, result
    assert not [d for d in reg.versions_dir.iterdir() if d.name.startswith(".tmp-")]
    assert [v.number for v in reg.versions()] == [1, 2]


def test_history_keeps_one_row_per_check_id() -> None:
    """Every perturbation, group and batch size is its own row: none collapses into
    ``family::metric`` and hides the others."""
    from evalgate.registry.policy import key_metrics

    ids = ["s::bias::true_positive_rate[sex]", "s::bias::true_positive_rate[race]",
           "s::robustness::flip_rate[gaussian_noise]", "s::robustness::flip_rate[rounding]",
           "s::latency::batch_1", "s::latency::batch_256", "s::performance::roc_auc"]
    doc = {"suites": [{"name": "s", "checks": [
        {"id": cid, "family": cid.split("::")[1], "metric": cid.split("::")[2].split("[")[0],
         "candidate": float(i)} for i, cid in enumerate(ids)] + [
        {"id": "s::stress::malformed", "family": "stress", "candidate": None}]}]}
    assert key_metrics(doc) == {cid: float(i) for i, cid in enumerate(ids)}


def test_a_closed_pipe_ends_quietly_and_not_with_success() -> None:
    """`evalgate history NAME | head` stops without a traceback; the status is SIGPIPE's,
    never 0."""
    import os
    import subprocess
    import sys

    code = ("import sys, evalgate.cli as c\n"
            "c.lifecycle.COMMANDS['history'] = "
            "lambda a: [print('row ' * 20) for _ in range(200000)] and 0\n"
            "sys.exit(c.main(['history', 'x']))\n")
    out = subprocess.run(["bash", "-c", f"{sys.executable} -c \"$CODE\" | head -n 1; "
                          "echo \"status=${PIPESTATUS[0]}\" >&2"],
                         env={**os.environ, "CODE": code},
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("row row")
    assert out.stderr.strip() == "status=141", out.stderr
