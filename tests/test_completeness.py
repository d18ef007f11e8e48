"""A verdict covers the whole gate, or it blocks (DESIGN.md §1, §3).

The set of checks is decided by evalgate — every suite file ``evalgate run`` would find — not
by what pytest happened to collect; a run in which a planned check did not run is partial and
blocks, and a run in which no blocking check decided blocks too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CANDIDATE, read_verdict, suite_text
from evalgate.verdict import NO_DECISION, decide_statuses

FAILING = """\
  performance:
    roc_auc:  {min: 0.85, max_regression: 0.005}
    accuracy: {min: 0.99}
    log_loss: {max: 0.45, max_regression: 0.01}
"""


# --------------------------------------------------------------------------- the rule


def test_rule_promotes_only_a_complete_run_with_a_blocking_pass() -> None:
    ok = [("s::performance::roc_auc", "pass", True)]
    assert decide_statuses(ok).decision == "promote"
    partial = decide_statuses(ok, not_run=["s::performance::accuracy"])
    assert partial.decision == "block"
    assert partial.reasons[0] == "partial run: 1 of 2 checks did not run"
    assert partial.line == "evalgate: BLOCK (partial run: 1 of 2 checks did not run)"


@pytest.mark.parametrize("checks", [
    [],
    [("s::performance::roc_auc", "skip", True)],
    [("s::performance::roc_auc", "pass", False)],
    [("s::performance::roc_auc", "skip", True), ("s::latency::batch_1", "pass", False)],
], ids=["zero checks", "all skip", "only non-blocking", "skip and non-blocking"])
def test_rule_blocks_when_no_blocking_check_decided(checks: list) -> None:
    summary = decide_statuses(checks)
    assert summary.decision == "block"
    assert summary.failed == 0
    assert any(r.startswith((NO_DECISION, "no checks ran")) for r in summary.reasons)
    assert summary.line.startswith("evalgate: BLOCK (no ")


@pytest.mark.parametrize("status", ["fail", "error", "passed", "", "PASS"])
def test_rule_counts_any_status_but_pass_and_skip_as_blocking(status: str) -> None:
    summary = decide_statuses([("a", "pass", True), ("b", status, True)])
    assert summary.decision == "block" and summary.failed == 1


def test_rule_treats_a_malformed_blocking_flag_as_blocking() -> None:
    assert decide_statuses([("a", "fail", "no")]).decision == "block"  # type: ignore[list-item]


# --------------------------------------------------------------------------- pytest usages


def _partial(result: pytest.RunResult, pytester: pytest.Pytester, not_run: int,
             total: int) -> dict:
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "Traceback" not in out
    reason = f"partial run: {not_run} of {total} checks did not run"
    assert reason in result.outlines[-1], result.outlines[-1]
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block"
    assert verdict["summary"]["complete"] is False
    assert len(verdict["summary"]["not_run"]) == not_run
    assert reason in verdict["summary"]["reasons"]
    summary_md = (pytester.path / "reports" / "summary.md").read_text("utf-8")
    assert reason in summary_md
    assert reason in (pytester.path / "reports" / "evalgate-report.html").read_text("utf-8")
    return verdict


@pytest.mark.parametrize("args", [
    ["-k", "not log_loss"],
    ["--deselect", "suites/adult.yaml::performance::log_loss"],
    ["suites/adult.yaml::performance::roc_auc", "suites/adult.yaml::performance::accuracy"],
], ids=["-k", "--deselect", "node ids"])
def test_a_check_left_out_makes_the_run_partial(pytester: pytest.Pytester, gate_project,
                                                args: list[str]) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", *args)
    verdict = _partial(result, pytester, 1, 3)
    assert verdict["summary"]["not_run"] == ["adult-income::performance::log_loss"]


def test_printed_node_ids_select_their_checks(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-v",
                                "suites/adult.yaml::performance::roc_auc")
    result.stdout.fnmatch_lines(["*suites/adult.yaml::performance::roc_auc PASSED*"])
    verdict = _partial(result, pytester, 2, 3)
    ran = [c["id"] for s in verdict["suites"] for c in s["checks"]]
    assert ran == ["adult-income::performance::roc_auc"]


def test_a_marker_selecting_nothing_blocks(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-m", "robustness")
    assert result.ret == 1
    _partial(result, pytester, 3, 3)


def test_a_conftest_hook_dropping_items_makes_the_run_partial(pytester: pytest.Pytester,
                                                              gate_project) -> None:
    gate_project()
    pytester.makeconftest("""
        def pytest_collection_modifyitems(items):
            items[:] = [i for i in items if "accuracy" not in i.nodeid]
    """)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    _partial(result, pytester, 1, 3)


def test_a_conftest_hook_skipping_items_makes_the_run_partial(pytester: pytest.Pytester,
                                                              gate_project) -> None:
    gate_project(checks=FAILING)
    pytester.makeconftest("""
        import pytest
        def pytest_collection_modifyitems(items):
            for i in items:
                if "accuracy" in i.nodeid:
                    i.add_marker(pytest.mark.skip(reason="flaky"))
    """)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    _partial(result, pytester, 1, 3)


def test_exitfirst_cuts_the_run_short_and_it_blocks(pytester: pytest.Pytester,
                                                    gate_project) -> None:
    gate_project(checks=FAILING)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-x")
    verdict = _partial(result, pytester, 1, 3)
    assert verdict["summary"]["failed"] == 1


@pytest.mark.parametrize("flag, not_run", [("--lf", 2), ("--sw", 1)])
def test_stepwise_and_last_failed_cannot_promote(pytester: pytest.Pytester, gate_project,
                                                 flag: str, not_run: int) -> None:
    """A rerun of what failed last time, once fixed, is not the whole gate."""
    path = gate_project(checks=FAILING)
    assert pytester.runpytest(f"--evalgate={CANDIDATE}", "-p", "cacheprovider", flag).ret != 0
    path.write_text(suite_text(checks=FAILING.replace("0.99", "0.80")), encoding="utf-8")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "-p", "cacheprovider", flag)
    _partial(result, pytester, not_run, 3)


def test_every_suite_file_is_part_of_the_gate(pytester: pytest.Pytester, gate_project) -> None:
    """Folders pytest does not recurse into and upper-case suffixes are still the gate's."""
    gate_project()
    for folder in ("build", ".hidden", "venv"):
        (pytester.path / "suites" / folder).mkdir()
        name = folder.strip(".")
        (pytester.path / "suites" / folder / f"{name}.YML").write_text(
            suite_text(name=name, checks=FAILING), encoding="utf-8")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["FAILED suites/build/build.YML::performance::accuracy*"])
    verdict = read_verdict(pytester.path)
    assert {s["name"] for s in verdict["suites"]} == {"adult-income", "build", "hidden", "venv"}
    assert verdict["summary"]["complete"] is True
    assert result.outlines[-1].startswith("evalgate: BLOCK (3 of 12 checks failed)")


def test_a_positional_path_adds_to_the_suites(pytester: pytest.Pytester, gate_project) -> None:
    gate_project()
    (pytester.path / "suites" / "second.yaml").write_text(
        suite_text(name="second", checks=FAILING), encoding="utf-8")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "suites/adult.yaml")
    assert result.ret == 1
    assert result.outlines[-1].startswith("evalgate: BLOCK (1 of 6 checks failed)")
    assert read_verdict(pytester.path)["summary"]["complete"] is True


def test_only_skipped_comparisons_block(pytester: pytest.Pytester, gate_project) -> None:
    gate_project(champion=None, checks="  performance:\n    roc_auc: {max_regression: 0.005}\n")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert result.ret == 1
    assert result.outlines[-1].startswith(f"evalgate: BLOCK ({NO_DECISION})")
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block"
    assert any(r.startswith(NO_DECISION) for r in verdict["summary"]["reasons"])


# --------------------------------------------------------------------------- outputs


def _old_promote(directory: Path) -> None:
    reports = directory / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "verdict.json").write_text(json.dumps({"decision": "promote"}), "utf-8")
    (reports / "summary.md").write_text("## evalgate: PROMOTE\n", "utf-8")


def test_an_earlier_promote_is_replaced_before_the_run(pytester: pytest.Pytester,
                                                       gate_project) -> None:
    gate_project()
    _old_promote(pytester.path)
    pytester.makeconftest("""
        import json, pathlib
        def pytest_runtest_setup(item):
            seen = pathlib.Path("seen.json")
            if not seen.exists():
                doc = json.loads(pathlib.Path("reports/verdict.json").read_text())
                md = pathlib.Path("reports/summary.md").read_text()
                seen.write_text(json.dumps({"verdict": doc, "md": md}))
    """)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert result.ret == 0, result.stdout.str()
    seen = json.loads((pytester.path / "seen.json").read_text("utf-8"))
    assert seen["verdict"]["decision"] == "block"
    assert seen["verdict"]["summary"]["in_progress"] is True
    assert "run in progress" in seen["verdict"]["summary"]["reasons"][0]
    assert "BLOCK" in seen["md"]
    assert read_verdict(pytester.path)["decision"] == "promote"


def test_an_interrupted_cli_run_leaves_no_promote(tmp_path: Path, monkeypatch) -> None:
    from evalgate import cli, engine

    _old_promote(tmp_path)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "adult.yaml").write_text(suite_text(), "utf-8")
    monkeypatch.chdir(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "evaluate_paths", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["run", str(CANDIDATE)])
    doc = json.loads((tmp_path / "reports" / "verdict.json").read_text("utf-8"))
    assert doc["decision"] == "block" and doc["summary"]["complete"] is False


def test_collect_only_lists_checks_and_leaves_no_promote(pytester: pytest.Pytester,
                                                         gate_project) -> None:
    """--collect-only judges nothing: an earlier promote is replaced, and the exit is 1."""
    gate_project()
    _old_promote(pytester.path)
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "--co", "-q")
    result.stdout.fnmatch_lines(["suites/adult.yaml::performance::roc_auc"])
    assert result.ret == 1
    assert result.outlines[-1].startswith("evalgate: BLOCK (collect only: no check ran)")
    verdict = read_verdict(pytester.path)
    assert verdict["decision"] == "block" and verdict["summary"]["in_progress"] is True


@pytest.mark.parametrize("flag", ["--fixtures", "--fixtures-per-test", "--markers"])
def test_listing_modes_are_refused(pytester: pytest.Pytester, gate_project, flag: str) -> None:
    gate_project()
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{flag} lists and judges nothing" in result.stderr.str()


def test_an_unwritable_report_folder_gives_one_message(pytester: pytest.Pytester,
                                                       gate_project) -> None:
    gate_project()
    (pytester.path / "blocked").write_text("a file, not a folder", "utf-8")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}", "--evalgate-report=blocked/out")
    assert result.ret != 0
    err = result.stderr.str()
    assert "cannot write the gate's outputs" in err and "Traceback" not in err


def test_an_unwritable_step_summary_gives_one_warning(pytester: pytest.Pytester, gate_project,
                                                      monkeypatch) -> None:
    """The step summary is a copy for CI's page: the verdict, the report and summary.md are
    written, the decision stands, and one line says what could not be done."""
    gate_project()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "missing" / "summary.md"))
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert result.ret == 0
    out = result.stdout.str()
    assert result.outlines[-2].startswith("evalgate: warning: GITHUB_STEP_SUMMARY=")
    assert result.outlines[-1].startswith("evalgate: PROMOTE")
    assert read_verdict(pytester.path)["decision"] == "promote"
    assert (pytester.path / "reports" / "summary.md").is_file()
    assert "Traceback" not in out


def test_xdist_is_refused_once_in_the_controller(pytester: pytest.Pytester,
                                                 gate_project) -> None:
    pytest.importorskip("xdist")
    gate_project()
    result = pytester.runpytest_subprocess(f"--evalgate={CANDIDATE}", "-p", "xdist", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert err.count("evalgate does not run under pytest-xdist") == 1, err
    assert "Traceback" not in err + result.stdout.str()


def test_only_informational_outputs_block(pytester: pytest.Pytester, gate_project) -> None:
    """A bias metric with no threshold is reported, never judged: it cannot promote."""
    gate_project(checks="  bias:\n    groups: [sex]\n    metrics: [selection_rate]\n")
    result = pytester.runpytest(f"--evalgate={CANDIDATE}")
    assert result.ret == 1, result.stdout.str()
    assert result.outlines[-1].startswith(f"evalgate: BLOCK ({NO_DECISION})")
    [check] = read_verdict(pytester.path)["suites"][0]["checks"]
    assert check["status"] == "pass" and check["blocking"] is False


# --------------------------------------------------------------------------- the project


def test_the_gate_is_the_projects_wherever_the_model_lies(pytester: pytest.Pytester,
                                                          gate_project) -> None:
    """pytest's rootdir follows its path arguments, the candidate's among them; the gate's
    suites and settings follow the folder pytest was run in, as `evalgate run` does."""
    gate_project(checks=FAILING)
    elsewhere = pytester.path.parent / f"{pytester.path.name}-models"
    (elsewhere / "suites").mkdir(parents=True)
    (elsewhere / "pytest.ini").write_text("[pytest]\n", "utf-8")
    (elsewhere / "suites" / "lax.yaml").write_text(
        suite_text(name="lax", checks="  performance:\n    accuracy: {min: 0.1}\n"), "utf-8")
    model = elsewhere / "candidate.onnx"
    model.write_bytes(CANDIDATE.read_bytes())
    result = pytester.runpytest("--evalgate", str(model))  # the space form moves the rootdir
    assert result.ret == 1, result.stdout.str()
    verdict = read_verdict(pytester.path)
    assert [s["name"] for s in verdict["suites"]] == ["adult-income"]
    assert not (elsewhere / "reports").exists()


def test_promote_refuses_a_verdict_missing_a_suite_added_since(tmp_path: Path,
                                                               monkeypatch) -> None:
    from evalgate import cli

    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "easy.yaml").write_text(suite_text(), "utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(CANDIDATE), "--no-champion"]) == 0
    (tmp_path / "suites" / "hard.yaml").write_text(suite_text(name="hard", checks=FAILING),
                                                   "utf-8")
    assert cli.main(["promote", str(CANDIDATE), "--name", "m"]) == 1
    (tmp_path / "suites" / "hard.yaml").unlink()
    assert cli.main(["promote", str(CANDIDATE), "--name", "m"]) == 0


def test_promote_names_the_suite_added_since(tmp_path: Path, monkeypatch, capsys) -> None:
    from evalgate import cli

    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "easy.yaml").write_text(suite_text(), "utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(CANDIDATE), "--no-champion"]) == 0
    (tmp_path / "suites" / "sub").mkdir()
    (tmp_path / "suites" / "sub" / "HARD.YML").write_text(suite_text(name="hard"), "utf-8")
    capsys.readouterr()
    assert cli.main(["promote", str(CANDIDATE), "--name", "m"]) == 1
    err = capsys.readouterr().err
    assert "suites/sub/HARD.YML, which the verdict did not judge" in err
