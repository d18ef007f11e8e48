"""Corpus: outputs that must not crash (issue 11 §4): huge finite predictions, a report folder
that cannot be made, an unwritable $GITHUB_STEP_SUMMARY, malformed verdicts given to
`evalgate report` and `evalgate signoff`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.failclosed.corpus import (
    CANDIDATE,
    age_regressor,
    assert_blocked,
    assert_case,
    assert_cli_error,
    cli,
    gate,
    suite_yaml,
    write_csv,
    write_suite,
)

REGRESSION = """\
  performance:
    mae: {max: 1.0e300}
    rmse: {max: 1.0e300}
    r2: {max: 1.0}
"""


def test_huge_finite_outputs_do_not_promote_or_crash(pt: pytest.Pytester) -> None:
    """±1e308 predictions: every metric overflows; the gate must not PROMOTE on them, and the
    report must be written without an OverflowError."""
    model = age_regressor(pt.path / "huge.onnx", huge=True)
    write_suite(pt.path, suite_yaml(data=write_csv(pt.path / "adult.csv"), task="regression",
                                    target="fnlwgt", checks=REGRESSION, sensitive=""))
    run = gate(pt, f"--evalgate={model}")
    assert_blocked(run, pt.path / "reports", "huge.onnx")
    assert (pt.path / "reports" / "evalgate-report.html").is_file()


def test_report_folder_is_a_file_pytest(pt: pytest.Pytester) -> None:
    write_suite(pt.path, suite_yaml(data=write_csv(pt.path / "adult.csv")))
    (pt.path / "out").write_text("a file where the report folder should be\n")
    run = gate(pt, f"--evalgate={CANDIDATE}", "--evalgate-report=out")
    said = any(line.startswith("evalgate: PROMOTE") for line in run.lines)
    problems = [f"exit status {run.ret}"] if run.ret in (0, None) else []
    problems += ["'out' is not named"] if "out" not in run.out.replace("output", "") else []
    assert_case(run, problems, failed_open=run.ret == 0 or said)


def test_report_folder_is_a_file_cli(project: Path) -> None:
    write_suite(project, suite_yaml(data=write_csv(project / "adult.csv")))
    (project / "out").write_text("a file where the report folder should be\n")
    run = cli("run", CANDIDATE, "--report", "out")
    assert_cli_error(run, "out", statuses=(1, 2))


@pytest.mark.parametrize("where", ["missing-folder", "is-a-folder"])
def test_github_step_summary_unwritable(pt: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                        where: str) -> None:
    """$GITHUB_STEP_SUMMARY in a folder that does not exist, or naming a folder: one clear
    message naming the variable, and the exit status still agrees with the verdict."""
    write_suite(pt.path, suite_yaml(data=write_csv(pt.path / "adult.csv")))
    target = pt.path / "nowhere" / "summary.md"
    if where == "is-a-folder":
        target = pt.path / "a-folder"
        target.mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    run = gate(pt, f"--evalgate={CANDIDATE}")
    doc = json.loads((pt.path / "reports" / "verdict.json").read_text())
    problems = [] if "GITHUB_STEP_SUMMARY" in run.out else ["GITHUB_STEP_SUMMARY not named"]
    if (run.ret == 0) != (doc.get("decision") == "promote"):
        problems.append(f"exit status {run.ret} disagrees with the verdict {doc.get('decision')}")
    assert_case(run, problems, failed_open=False)


MALFORMED = {
    "not_json": "{ this is not json",
    "a_list": "[1, 2, 3]",
    "missing_keys": json.dumps({"schema": "evalgate.verdict/1"}),
    "checks_not_a_list": json.dumps({"schema": "evalgate.verdict/1", "decision": "promote",
                                     "candidate": {"path": "m.onnx", "sha256": "0" * 64},
                                     "suites": [{"name": "s", "checks": 7}]}),
}


@pytest.mark.parametrize("verb", ["report", "signoff"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_verdict(project: Path, verb: str, case: str) -> None:
    path = project / "verdict.json"
    path.write_text(MALFORMED[case])
    extra = ["--reviewer", "ada"] if verb == "signoff" else []
    run = cli(verb, path, *extra)
    assert_cli_error(run, "verdict.json")
