"""The ``evalgate`` console script: the same gate without pytest flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ADULT_TEST, CANDIDATE, CHAMPION, suite_text
from evalgate.cli import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "adult.yaml").write_text(suite_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_promotes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(CANDIDATE)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "evalgate: PROMOTE — report: reports/evalgate-report.html"
    verdict = json.loads((project / "reports" / "verdict.json").read_text())
    assert verdict["decision"] == "promote"
    auc = next(c for c in verdict["suites"][0]["checks"] if c["metric"] == "roc_auc")
    # a passing check shows its numbers: value, champion, Δ with its bound, the thresholds
    assert out[0] == (f"PASS  suites/adult.yaml::performance::roc_auc  roc_auc "
                      f"{auc['candidate']:.4g}, champion {auc['champion']:.4g}, "
                      f"Δ {auc['delta']:+.4g} (bound {auc['ci'][0]:+.4g}); "
                      f"min 0.85, max_regression 0.005")


def test_run_blocks(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(CHAMPION), "--champion", str(CANDIDATE), "--report", "out"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  suites/adult.yaml::performance::roc_auc  roc_auc 0.9" in out
    assert "Δ vs champion = -0.02" in out
    assert out.rstrip().endswith("evalgate: BLOCK (3 of 3 checks failed) — report: "
                                 "out/evalgate-report.html")
    assert (project / "out" / "verdict.json").is_file()


@pytest.mark.parametrize("option", ["--suites", "--champion"])
def test_run_refuses_a_repeated_option(project: Path, capsys: pytest.CaptureFixture[str],
                                       option: str) -> None:
    """A second --suites would replace the first (the strict suites dropped, a worse model
    promoted): it is a usage error naming the option."""
    values = ("suites", "other") if option == "--suites" else (str(CHAMPION), str(CANDIDATE))
    with pytest.raises(SystemExit) as info:
        main(["run", str(CHAMPION), option, values[0], option, values[1]])
    assert info.value.code == 2
    assert f"{option} given twice" in capsys.readouterr().err
    assert not (project / "reports" / "verdict.json").exists()


def test_run_marks_a_non_blocking_failure(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A FAIL beside PROMOTE says why it did not block; verdict.json is unchanged."""
    (project / "suites" / "adult.yaml").write_text(suite_text(
        champion=None, checks="  performance:\n    accuracy: {min: 0.5}\n"
                              "    roc_auc: {min: 0.99, blocking: false}\n"))
    assert main(["run", str(CANDIDATE)]) == 0
    out = capsys.readouterr().out
    assert "FAIL (non-blocking) suites/adult.yaml::performance::roc_auc  roc_auc 0.9" in out
    assert "PASS  suites/adult.yaml::performance::accuracy" in out
    summary = (project / "reports" / "summary.md").read_text()
    assert "1 failed (non-blocking)" in summary
    assert "| `adult-income::performance::roc_auc` | fail (non-blocking) |" in summary
    verdict = json.loads((project / "reports" / "verdict.json").read_text())
    roc = next(c for c in verdict["suites"][0]["checks"] if c["metric"] == "roc_auc")
    assert (roc["status"], roc["blocking"], verdict["decision"]) == ("fail", False, "promote")


def test_run_same_numbers_as_pytest_plugin(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "adult.yaml").write_text(suite_text())
    main(["run", str(CANDIDATE), "--seed", "3", "--report", "cli"])
    cli = json.loads((pytester.path / "cli" / "verdict.json").read_text())
    pytester.runpytest(f"--evalgate={CANDIDATE}", "--evalgate-seed=3")
    plug = json.loads((pytester.path / "reports" / "verdict.json").read_text())
    strip = ("message",)
    a = [{k: v for k, v in c.items() if k not in strip} for c in cli["suites"][0]["checks"]]
    b = [{k: v for k, v in c.items() if k not in strip} for c in plug["suites"][0]["checks"]]
    assert a == b


def test_run_missing_candidate_blocks(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "missing.onnx"]) == 1
    out = capsys.readouterr().out
    assert "ERROR suites/adult.yaml::performance::roc_auc" in out
    assert "missing.onnx: model file not found" in out


def test_run_without_suites_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(CANDIDATE)]) == 1
    captured = capsys.readouterr()
    assert "no suite files" in captured.err
    assert "evalgate: BLOCK (no checks ran)" in captured.out


def test_validate(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert "OK      suites/adult.yaml (adult-income: 3 checks)" in capsys.readouterr().out
    bad = project / "suites" / "bad.yaml"
    bad.write_text("task: binry\n")
    assert main(["validate"]) == 1
    out = capsys.readouterr().out
    assert "INVALID suites/bad.yaml:1: task: unknown task 'binry' (did you mean 'binary'?)" in out


def test_console_script_is_installed() -> None:
    result = subprocess.run([sys.executable, "-m", "evalgate.cli", "--version"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("evalgate ")


_RUN_WITH_A_HANDLER = (
    "import atexit, sys\n"
    "import evalgate.cli as c\n"
    "def verb(args):\n"
    "    atexit.register(print, 'a handler registered during the run ran')\n"
    "    if {status} is None: raise RuntimeError('an unexpected error')\n"
    "    return {status}\n"
    "c.lifecycle.COMMANDS['history'] = verb\n"
    "sys.argv = ['evalgate', 'history', 'x']\n"
    "c.entry()\n")


@pytest.mark.parametrize("status", [0, 1, 2, None])
def test_the_process_ends_with_the_commands_status(status: int | None) -> None:
    """The console script skips the interpreter's teardown, but not what an exit must do:
    the status is the command's, a handler registered during the run still runs and what
    it printed is flushed; an unexpected error still ends with a traceback and status 1."""
    result = subprocess.run([sys.executable, "-c", _RUN_WITH_A_HANDLER.format(status=status)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == (1 if status is None else status), result.stderr
    assert result.stdout.endswith("a handler registered during the run ran\n")
    assert ("RuntimeError: an unexpected error" in result.stderr) == (status is None)


def test_usage_errors_and_help_end_as_argparse_says() -> None:
    for args, code in ((["--help"], 0), (["run"], 2), (["no-such-verb"], 2)):
        result = subprocess.run([sys.executable, "-m", "evalgate", *args],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == code, (args, result.stderr)


def test_a_failed_last_flush_is_never_a_success(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import evalgate.cli as cli

    class Gone(io.StringIO):
        def flush(self) -> None:
            raise BrokenPipeError

    ended: list[int] = []
    monkeypatch.setattr(sys, "stdout", Gone())
    monkeypatch.setattr(cli.os, "_exit", ended.append)
    cli._end([0])
    cli._end([1])
    cli._end([])  # main raised: the usual exit, nothing cut short
    assert ended == [cli.BROKEN_PIPE, 1]


def test_run_without_champion(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(CANDIDATE), "--no-champion"]) == 0
    verdict = json.loads((project / "reports" / "verdict.json").read_text())
    assert verdict["champion"] is None
    assert all(c["delta"] is None for c in verdict["suites"][0]["checks"])
    assert main(["run", str(CANDIDATE), "--no-champion", "--champion", str(CHAMPION)]) == 2


def test_thresholds_read_as_written() -> None:
    """A boolean threshold reads `false` in the terminal, pytest and the report, not `0`."""
    from evalgate.verdict.lines import thresholds_text, value_text

    assert thresholds_text({"allow_nan_output": False, "max_flip_rate": 0.05,
                            "invariant": None}) == \
        "allow_nan_output false, max_flip_rate 0.05, invariant ~"
    assert value_text(True) == "true" and value_text([1, 256]) == "[1, 256]"
    assert [value_text(x) for x in (0.12345678, 1e-06, 5.0)] == ["0.12345678", "1e-06", "5"]


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``args`` with stderr on a pseudo-terminal; (status, stdout, what the terminal
    got)."""
    import os
    import pty
    import subprocess

    main_fd, term_fd = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=term_fd,
                            env={**os.environ, "COLUMNS": "200"})
    os.close(term_fd)
    seen = b""
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()
    status = proc.wait(timeout=120)
    os.close(main_fd)
    return status, out.decode(), seen.decode(errors="replace")


def test_a_terminal_sees_what_the_gate_works_on(project: Path) -> None:
    """On a terminal, stderr carries one line rewritten in place (the family, the model) and
    erased before the results; piped, stderr carries none of it."""
    import subprocess
    import sys

    status, out, term = _on_a_terminal([sys.executable, "-m", "evalgate", "run",
                                        str(CANDIDATE)], project)
    assert status == 0 and out.splitlines()[-1].startswith("evalgate: PROMOTE")
    assert "\r\x1b[Kevalgate: adult-income: predicting" in term
    assert "with the champion" in term and "adult-income: performance: 3 checks" in term
    assert term.endswith("\r\x1b[K")  # erased: the results stand alone
    piped = subprocess.run([sys.executable, "-m", "evalgate", "run", str(CANDIDATE)],
                           cwd=project, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "\x1b[K" not in piped.stderr + piped.stdout


def test_pytest_on_a_terminal_shows_the_progress_line(project: Path) -> None:
    import sys

    status, out, term = _on_a_terminal([sys.executable, "-m", "pytest", "-p",
                                        "no:cacheprovider", f"--evalgate={CANDIDATE}"], project)
    assert status == 0, out
    assert "\r\x1b[Kevalgate: adult-income: performance: 3 checks" in term
    assert "\x1b[K" not in out
    _, _, quiet = _on_a_terminal([sys.executable, "-m", "pytest", "-q", "-p",
                                  "no:cacheprovider", f"--evalgate={CANDIDATE}"], project)
    assert "\x1b[K" not in quiet


# --------------------------------------------------------------------------- evalgate init


def test_init_writes_a_suite_that_validates_and_gates(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """From a model, its champion and the data: the task, the rarer label as positive, the
    column the model does not read excluded, thresholds from the champion's values and the
    margins these rows resolve — and the suite promotes the better model, blocks the worse."""
    import yaml

    monkeypatch.chdir(tmp_path)
    args = ["init", "--model", str(CANDIDATE), "--champion", str(CHAMPION),
            "--data", str(ADULT_TEST), "--target", "income", "--out", "suites/adult.yaml"]
    assert main(args) == 0
    assert "validate: OK" in capsys.readouterr().out
    text = (tmp_path / "suites" / "adult.yaml").read_text()
    doc = yaml.safe_load(text)
    assert doc["task"] == "binary" and doc["data"]["positive_label"] == ">50K"
    assert doc["data"]["exclude"] == ["fnlwgt"] and "the rarer label" in text
    assert (tmp_path / "suites" / doc["champion"]).resolve() == CHAMPION.resolve()
    checks = doc["checks"]["performance"]
    assert list(checks) == ["roc_auc", "average_precision", "accuracy", "log_loss",
                            "brier_score"]
    assert 0.85 < checks["roc_auc"]["min"] < 0.906 and checks["log_loss"]["max"] > 0.318
    assert all(0 < c["max_regression"] < 0.02 for c in checks.values())
    assert "# bias: these columns look sensitive" in text and "race, sex" in text
    assert main(["run", str(CANDIDATE)]) == 0
    assert main(["run", str(CHAMPION), "--champion", str(CANDIDATE)]) == 1

    capsys.readouterr()
    assert main(args) == 2  # an existing file is kept
    assert "exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "suites" / "adult.yaml").read_text() == text


def test_init_proposes_a_label_map_for_a_model_trained_on_codes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from tests import modelzoo

    (tmp_path / "zoo").mkdir()
    zoo = modelzoo.Zoo(tmp_path / "zoo")
    model = zoo.onnx("logreg", "label")  # classes 0 and 1; the data says <=50K and >50K
    rows = modelzoo.make_frame(500, seed=3).drop(columns=["label", "grade", "price"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--model", str(model), "--data", "rows.csv", "--target", "income",
                 "--positive-label", ">50K"]) == 0
    doc = yaml.safe_load((tmp_path / "suites" / "rows.yaml").read_text())
    assert doc["data"]["label_map"] == {"<=50K": 0, ">50K": 1}
    assert "champion" not in doc
    assert main(["run", str(model)]) == 0


def test_init_reads_a_regressor_and_names_a_missing_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from tests import modelzoo

    (tmp_path / "zoo").mkdir()
    zoo = modelzoo.Zoo(tmp_path / "zoo")
    model = zoo.onnx("gbr", "price")
    rows = modelzoo.make_frame(500, seed=4)[[*modelzoo.FEATURES, "price"]]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--model", str(model), "--data", "rows.csv", "--target", "prices"]) == 1
    assert "no column 'prices' (did you mean 'price'?)" in capsys.readouterr().err
    assert main(["init", "--model", str(model), "--data", "rows.csv", "--target", "price"]) == 0
    doc = yaml.safe_load((tmp_path / "suites" / "rows.yaml").read_text())
    assert doc["task"] == "regression" and list(doc["checks"]["performance"]) == [
        "mae", "rmse", "r2"]
    assert "max" in doc["checks"]["performance"]["mae"]
    assert main(["run", str(model)]) == 0


def test_readme_bring_your_own_model_runs_as_written(tmp_path: Path) -> None:
    """README's "Bring your own model" block, run as written in an empty folder."""
    import os
    import re
    import subprocess
    import sys

    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    section = readme.split("## Bring your own model", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-e", "-c", block.group(1)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.rstrip().splitlines()[-1].startswith("evalgate: PROMOTE")
    suite = (tmp_path / "suites" / "eval.yaml").read_text()
    assert 'label_map: {"benign": 1, "malignant": 0}' in suite


def test_validate_reads_the_data_and_the_models_inputs_on_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A positive label the data lacks passes a plain validate (the file is well formed) and
    is named with --data; a model whose inputs the data lacks is named with --model — and no
    model predicts."""
    import pandas as pd

    from evalgate.models import onnx as onnx_model

    monkeypatch.chdir(tmp_path)
    pd.read_csv(ADULT_TEST).head(300).to_csv(tmp_path / "rows.csv", index=False)
    pd.read_csv(ADULT_TEST).head(300).drop(columns=["age"]).to_csv(tmp_path / "no-age.csv",
                                                                     index=False)
    (tmp_path / "suites").mkdir()
    for name, data, positive in (("typo", "rows.csv", ">50k"), ("ok", "rows.csv", ">50K"),
                                 ("short", "no-age.csv", ">50K")):
        (tmp_path / "suites" / f"{name}.yaml").write_text(
            f"task: binary\ndata:\n  path: ../{data}\n  target: income\n"
            f"  positive_label: '{positive}'\nchecks:\n  performance:\n"
            f"    accuracy: {{min: 0.5}}\n")
    assert main(["validate"]) == 0
    capsys.readouterr()
    assert main(["validate", "--data"]) == 1
    out = capsys.readouterr().out
    assert "INVALID suites/typo.yaml: data: " in out and "'>50k' does not occur" in out
    assert "OK      suites/ok.yaml (ok: 1 check, data: 300 rows)" in out
    monkeypatch.setattr(onnx_model.OnnxModel, "predict", lambda *a, **k: pytest.fail(
        "validate must not predict"))
    assert main(["validate", "suites/ok.yaml", "suites/short.yaml", "--model",
                 str(CANDIDATE)]) == 1
    out = capsys.readouterr().out
    assert "OK      suites/ok.yaml" in out
    assert "INVALID suites/short.yaml: model: " in out and "no column for 'age'" in out
