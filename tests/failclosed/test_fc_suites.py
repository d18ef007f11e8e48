"""Corpus: suite files that must not crash, hang, eat the machine or pass by saying nothing
(issue 11 §2 "no blocking check decided", the discovery rule, §4 parser and knob limits)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.failclosed.corpus import (
    CANDIDATE,
    CHAMPION,
    PERF,
    assert_blocked,
    assert_invalid,
    check_statuses,
    cli,
    gate,
    suite_yaml,
    write_csv,
    write_suite,
)

NO_DECISION = "no blocking check decided"
#: a suite no model passes (for the discovery cases)
STRICT = "  performance:\n    roc_auc: {min: 0.999}\n"
LATENCY = "  latency:\n    batch_sizes: [1]\n    p99_ms: {1: 1000}\n    budget_s: 1000000000\n"


def _deep(data: Path) -> str:
    depth = 20_000
    return suite_yaml(data=data, checks="") .replace("checks:\n", "checks: " + "[" * depth
                                                      + "]" * depth + "\n")


def _huge(data: Path) -> str:
    filler = "# " + "x" * 1000 + "\n"
    return suite_yaml(data=data) + filler * (12 * 1024)  # 12 MiB of comments


def _python_tag(data: Path) -> str:
    return suite_yaml(data=data).replace(
        "confidence: 0.95", 'description: !!python/object/apply:os.system ["touch pwned"]\n'
                            "confidence: 0.95")


#: suite text builders (from the data path) and the words of the clear message
GATE_CASES: dict[str, tuple[Callable[[Path], str], tuple[str, ...]]] = {
    "nesting_20000_deep": (_deep, ("adult.yaml:",)),
    "document_12_mib": (_huge, ("adult.yaml",)),
    "python_object_tag": (_python_tag, ("adult.yaml:", "python/object")),
    "unknown_top_level_key": (lambda d: suite_yaml(data=d, extra="thresholds: {}"),
                              ("adult.yaml:", "thresholds")),
    "latency_budget_s_huge": (lambda d: suite_yaml(data=d, champion=CHAMPION,
                                                   checks=PERF + LATENCY), ("budget_s",)),
    # refused by the parser at its line: no suite without a check gets as far as a decision
    "zero_checks": (lambda d: suite_yaml(data=d, checks="  {}\n"), ("adult.yaml:", "no checks")),
    "zero_checks_empty_performance": (lambda d: suite_yaml(data=d, checks="  performance: {}\n"),
                                      ("adult.yaml:", "no metrics")),
    "only_non_blocking_checks": (
        lambda d: suite_yaml(data=d, checks="  performance:\n"
                                            "    roc_auc: {min: 0.5, blocking: false}\n"),
        (NO_DECISION,)),
    "every_check_skips_without_champion": (
        lambda d: suite_yaml(data=d, checks="  performance:\n    roc_auc: {max_regression: 0.01}"
                                            "\n    accuracy: {max_regression: 0.01}\n"),
        (NO_DECISION,)),
}


@pytest.mark.parametrize("case", list(GATE_CASES))
def test_hostile_suite_blocks(pt: pytest.Pytester, case: str) -> None:
    build, needles = GATE_CASES[case]
    write_suite(pt.path, build(write_csv(pt.path / "adult.csv")))
    run = gate(pt, f"--evalgate={CANDIDATE}")
    assert_blocked(run, pt.path / "reports", *needles)
    assert not (pt.path / "pwned").exists()


#: where a failing suite hides from pytest's collection (norecursedirs, letter case)
HIDDEN = {
    "dot_folder": ".hidden/strict.yaml",
    "build_folder": "build/strict.yaml",
    "venv_folder": "venv/strict.yaml",
    "uppercase_YML_in_subfolder": "nested/deeper/STRICT.YML",
    "uppercase_YAML": "STRICT.YAML",
}


@pytest.mark.parametrize("case", list(HIDDEN))
def test_hidden_suite_is_part_of_the_gate(pt: pytest.Pytester, case: str) -> None:
    data = write_csv(pt.path / "adult.csv")
    write_suite(pt.path, suite_yaml(data=data, champion=CHAMPION))
    folder, name = HIDDEN[case].rsplit("/", 1) if "/" in HIDDEN[case] else ("", HIDDEN[case])
    write_suite(pt.path, suite_yaml(data=data, name="strict-suite", checks=STRICT), name=name,
                folder=f"suites/{folder}".rstrip("/"))
    run = gate(pt, f"--evalgate={CANDIDATE}")
    doc = assert_blocked(run, pt.path / "reports", f"{name}::performance::roc_auc")
    assert "strict-suite::performance::roc_auc" in check_statuses(doc)


def test_hidden_suite_is_part_of_evalgate_run(project: Path) -> None:
    data = write_csv(project / "adult.csv")
    write_suite(project, suite_yaml(data=data, champion=CHAMPION))
    write_suite(project, suite_yaml(data=data, name="strict-suite", checks=STRICT),
                name="STRICT.YML", folder="suites/sub")
    run = cli("run", CANDIDATE)
    assert_blocked(run, project / "reports", "STRICT.YML::performance::roc_auc")


def test_deep_nesting_under_evalgate_run_replaces_the_old_verdict(project: Path) -> None:
    """`evalgate run` on a suite that crashed the parser printed a traceback and left an
    earlier PROMOTE verdict in place."""
    reports = project / "reports"
    reports.mkdir()
    (reports / "verdict.json").write_text(json.dumps(
        {"schema": "evalgate.verdict/1", "decision": "promote", "suites": []}))
    write_suite(project, _deep(write_csv(project / "adult.csv")))
    run = cli("run", CANDIDATE)
    assert_blocked(run, reports, "adult.yaml:")


#: knobs that cost time or memory: `evalgate validate` must name the key and its maximum
KNOBS = {
    "n_resamples": ("checks:\n", "n_resamples: 1000000000\nchecks:\n" + PERF),
    "latency_budget_s": ("checks:\n", "checks:\n" + LATENCY),
    "load_rate": ("checks:\n", ("checks:\n  stress:\n    load: {rate: 1000000000, duration_s: 1,"
                               " workers: 1, p99_ms: 50}\n")),
    "load_duration_s": ("checks:\n", ("checks:\n  stress:\n    load: {rate: 10, duration_s: "
                                     "1000000000, workers: 1, p99_ms: 50}\n")),
    "load_workers": ("checks:\n", ("checks:\n  stress:\n    load: {rate: 10, duration_s: 1, "
                                  "workers: 1000000, p99_ms: 50}\n")),
    "monotonic_examples": ("checks:\n", ("checks:\n  robustness:\n    monotonic: {age: "
                                        "{direction: increasing, examples: 1000000000}}\n")),
}
KNOB_KEY = {"n_resamples": "n_resamples", "latency_budget_s": "budget_s", "load_rate": "rate",
            "load_duration_s": "duration_s", "load_workers": "workers",
            "monotonic_examples": "examples"}


@pytest.mark.parametrize("case", list(KNOBS))
def test_validate_refuses_a_knob_past_its_maximum(project: Path, case: str) -> None:
    old, new = KNOBS[case]
    text = suite_yaml(data=write_csv(project / "adult.csv", rows=300), checks="")
    text = text.replace("n_resamples: 400\n", "").replace(old, new, 1)
    write_suite(project, text)
    run = cli("validate", "suites/adult.yaml")
    assert_invalid(run, "adult.yaml:", KNOB_KEY[case], "max")


def test_validate_refuses_deep_nesting(project: Path) -> None:
    write_suite(project, _deep(write_csv(project / "adult.csv", rows=300)))
    run = cli("validate", "suites/adult.yaml")
    assert_invalid(run, "adult.yaml:")
