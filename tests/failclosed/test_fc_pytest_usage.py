"""Corpus: pytest usages that run part of the gate (issue 11 §2). The gate's checks are those
of every suite evalgate finds; a run in which any did not run is partial and blocks with
"partial run: N of M checks did not run". Also xdist, ``--co`` and the in-progress verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.failclosed.corpus import (
    CANDIDATE,
    CHAMPION,
    PERF,
    PERF_LOGLOSS_FAILS,
    assert_blocked,
    assert_case,
    check_statuses,
    gate,
    suite_yaml,
    write_csv,
    write_suite,
)

STRICT = "  performance:\n    roc_auc: {min: 0.999}\n"
BIAS_FAILS = """\
  bias:
    groups: [sex]
    min_group_size: 30
    metrics: [selection_rate]
    max_difference: {selection_rate: 0.0001}
"""
LOGLOSS_FIRST = """\
  performance:
    log_loss: {max: 0.01, max_regression: 0.03}
    roc_auc:  {min: 0.85, max_regression: 0.02}
    accuracy: {min: 0.80, max_regression: 0.03}
"""
ADULT = "suites/adult.yaml"


def _suite(pt: pytest.Pytester, checks: str = PERF_LOGLOSS_FAILS, name: str = "adult.yaml",
           suite: str = "adult-income") -> Path:
    data = pt.path / "adult.csv"
    if not data.exists():
        write_csv(data)
    return write_suite(pt.path, suite_yaml(data=data, champion=CHAMPION, checks=checks,
                                           name=suite), name=name)


def _partial(pt: pytest.Pytester, *args: str, checks: str = PERF_LOGLOSS_FAILS,
             needle: str = "partial run: 1 of 3 checks did not run") -> None:
    _suite(pt, checks)
    run = gate(pt, f"--evalgate={CANDIDATE}", *args)
    assert_blocked(run, pt.path / "reports", needle)


def test_k_deselects_the_failing_check(pt: pytest.Pytester) -> None:
    _partial(pt, "-k", "not log_loss")


def test_m_deselects_a_failing_family(pt: pytest.Pytester) -> None:
    _partial(pt, "-m", "performance", checks=PERF + BIAS_FAILS, needle="partial run: 1 of 4")


def test_deselect_drops_the_failing_check(pt: pytest.Pytester) -> None:
    _partial(pt, "--deselect", f"{ADULT}::performance::log_loss")


def test_ignore_drops_a_failing_suite(pt: pytest.Pytester) -> None:
    """The gate gives pytest each suite file by name, so ``--ignore`` cannot drop one: the
    failing suite still runs, and blocks."""
    _suite(pt, PERF)
    _suite(pt, STRICT, name="x.yaml", suite="x-suite")
    run = gate(pt, f"--evalgate={CANDIDATE}", "--ignore=suites/x.yaml")
    doc = assert_blocked(run, pt.path / "reports", "x.yaml::performance::roc_auc")
    assert check_statuses(doc)["x-suite::performance::roc_auc"] == "fail"


def test_conftest_hook_drops_the_failing_check(pt: pytest.Pytester) -> None:
    pt.makeconftest("""
def pytest_collection_modifyitems(config, items):
    items[:] = [i for i in items if "log_loss" not in i.nodeid]
""")
    _partial(pt)


def test_x_stops_after_the_first_failure(pt: pytest.Pytester) -> None:
    _partial(pt, "-x", checks=LOGLOSS_FIRST, needle="partial run: 2 of 3 checks did not run")


@pytest.mark.parametrize("flag", ["--sw", "--lf"])
def test_rerun_of_the_failures_only(pt: pytest.Pytester, flag: str) -> None:
    """Run once (log_loss fails), relax the suite, re-run only what failed: 2 of 3 not run."""
    _suite(pt)
    gate(pt, f"--evalgate={CANDIDATE}", "-p", "cacheprovider", flag)
    _suite(pt, PERF)
    run = gate(pt, f"--evalgate={CANDIDATE}", "-p", "cacheprovider", flag)
    assert_blocked(run, pt.path / "reports", "partial run: 2 of 3 checks did not run")


def test_positional_path_naming_one_of_two_suites(pt: pytest.Pytester) -> None:
    _suite(pt, PERF)
    _suite(pt, STRICT, name="other.yaml", suite="other-suite")
    run = gate(pt, f"--evalgate={CANDIDATE}", ADULT)
    doc = assert_blocked(run, pt.path / "reports", "other.yaml::performance::roc_auc")
    assert "other-suite::performance::roc_auc" in check_statuses(doc)


def test_node_id_as_printed_runs_that_check_and_is_partial(pt: pytest.Pytester) -> None:
    _suite(pt, PERF)
    run = gate(pt, f"--evalgate={CANDIDATE}", f"{ADULT}::performance::roc_auc")
    doc = assert_blocked(run, pt.path / "reports", "partial run: 2 of 3 checks did not run")
    assert check_statuses(doc).get("adult-income::performance::roc_auc") == "pass"


def test_xdist_is_refused_once_in_the_controller(pt: pytest.Pytester) -> None:
    _suite(pt, PERF)
    run = gate(pt, f"--evalgate={CANDIDATE}", "-p", "xdist", "-n", "2")
    doc_path = pt.path / "reports" / "verdict.json"
    promoted = doc_path.is_file() and json.loads(doc_path.read_text())["decision"] == "promote"
    problems = []
    if run.ret == 0 or promoted:
        problems.append(f"exit status {run.ret}, verdict promote: {promoted}")
    mentions = [line for line in run.lines if "xdist" in line and "evalgate" in line]
    if len(mentions) != 1:
        problems.append(f"{len(mentions)} lines name evalgate and xdist, not one")
    assert_case(run, problems, failed_open=run.ret == 0 or promoted)


def test_collect_only_writes_no_promote_verdict(pt: pytest.Pytester) -> None:
    _suite(pt, PERF)
    run = gate(pt, f"--evalgate={CANDIDATE}", "--co")
    doc_path = pt.path / "reports" / "verdict.json"
    promoted = doc_path.is_file() and json.loads(doc_path.read_text())["decision"] == "promote"
    said = any(line.startswith("evalgate: PROMOTE") for line in run.lines)
    problems = ["a promote verdict after --co"] if promoted else []
    problems += ["'evalgate: PROMOTE' after --co"] if said else []
    assert_case(run, problems, failed_open=promoted or said)


IN_PROGRESS_HOOK = """
import json, pathlib
def pytest_runtest_setup(item):
    seen = pathlib.Path("seen.jsonl")
    path = pathlib.Path("reports/verdict.json")
    text = path.read_text() if path.exists() else "{}"
    with seen.open("a") as f:
        f.write(json.dumps({"id": item.nodeid, "verdict": json.loads(text)}) + "\\n")
"""


def test_verdict_says_block_in_progress_while_the_gate_runs(pt: pytest.Pytester) -> None:
    """A kill mid-run must not leave the earlier PROMOTE in place: while the gate runs,
    verdict.json already says block, "in progress"."""
    _suite(pt, PERF)
    first = gate(pt, f"--evalgate={CANDIDATE}")
    assert first.ret == 0, first.out  # an earlier promote verdict is in place
    pt.makeconftest(IN_PROGRESS_HOOK)
    run = gate(pt, f"--evalgate={CANDIDATE}")
    seen = [json.loads(line) for line in (pt.path / "seen.jsonl").read_text().splitlines()]
    stale = [s["id"] for s in seen if s["verdict"].get("decision") != "block"
             or "in progress" not in json.dumps(s["verdict"])]
    problems = [(f"verdict.json was not 'block … in progress' during {len(stale)} of "
                f"{len(seen)} checks")] if stale else []
    assert_case(run, problems, failed_open=bool(stale))


RESET_TO_ZERO = """
import pytest

@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    session.exitstatus = 0
"""
EXIT_ZERO = """
import pytest

def pytest_sessionfinish(session):
    pytest.exit("done", returncode=0)
"""


UNCONFIGURE_LAST = """
import pytest

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    session = config.pluginmanager.get_plugin("session")
    if session is not None:
        session.exitstatus = 0
"""
CLEANUP = """
def pytest_sessionfinish(session):
    session.config.add_cleanup(lambda: setattr(session, "exitstatus", 0))
"""
SYS_EXIT = """
import sys

def pytest_sessionfinish(session):
    sys.exit(0)
"""
SYS_EXIT_IN_CLEANUP = """
import sys

def pytest_sessionfinish(session):
    session.config.add_cleanup(lambda: sys.exit(0))
"""
EXIT_AT_START = """
import pytest

def pytest_sessionstart(session):
    pytest.exit("no GPU here: nothing to test", returncode=0)
"""


@pytest.mark.parametrize("hook", [RESET_TO_ZERO, EXIT_ZERO, UNCONFIGURE_LAST, CLEANUP,
                                  EXIT_AT_START, SYS_EXIT, SYS_EXIT_IN_CLEANUP],
                         ids=["reset-to-0", "pytest-exit-0", "trylast-unconfigure",
                              "config-cleanup", "exit-at-sessionstart", "sys-exit-0",
                              "sys-exit-0-in-cleanup"])
def test_another_hook_cannot_turn_a_block_into_exit_0(pt: pytest.Pytester, hook: str) -> None:
    """A plugin that "suppresses" exit codes (pytest-custom-exit-code), or a conftest's own
    sessionfinish, ran after the gate's and set 0: the status is held last, in unconfigure."""
    _suite(pt)
    pt.makeconftest(hook)
    run = gate(pt, f"--evalgate={CANDIDATE}")
    doc_path = pt.path / "reports" / "verdict.json"
    promoted = doc_path.is_file() and json.loads(doc_path.read_text())["decision"] == "promote"
    problems = [f"exit status {run.ret}"] if run.ret == 0 else []
    problems += ["a promote verdict"] if promoted else []
    assert_case(run, problems, failed_open=run.ret == 0 or promoted)


@pytest.mark.parametrize("flags", [("--help",), ("--version", "--version")],
                         ids=["help", "version-verbose"])
def test_help_and_version_with_the_gate_are_usage_errors(pt: pytest.Pytester,
                                                         flags: tuple[str, ...]) -> None:
    """They exit 0 judging nothing, with the previous run's promote still on disk. (A single
    --version is answered by pytest.main before any plugin loads: out of a plugin's reach.)"""
    _suite(pt, PERF)
    assert gate(pt, f"--evalgate={CANDIDATE}").ret == 0  # a promote in place
    run = gate(pt, f"--evalgate={CHAMPION}", *flags)
    problems = [f"exit status {run.ret}, not 4"] if run.ret != 4 else []
    assert_case(run, problems, failed_open=run.ret == 0)



@pytest.mark.parametrize("flags", [("--co", "-k", "nothing_matches"),
                                   ("--evalgate-challenger", str(CHAMPION), "--evalgate-pick",
                                    "best", "-k", "nothing_matches")],
                         ids=["collect-only", "pick"])
def test_nothing_selected_exits_1_not_5(pt: pytest.Pytester, flags: tuple[str, ...]) -> None:
    """Exit 5 (no tests collected) is success to many CI scripts: a gate that judged
    nothing must exit 1."""
    _suite(pt, PERF)
    run = gate(pt, f"--evalgate={CANDIDATE}", *flags)
    problems = [f"exit status {run.ret}, not 1"] if run.ret != 1 else []
    assert_case(run, problems, failed_open=run.ret in (0, 5))


def test_looponfail_is_refused(pt: pytest.Pytester) -> None:
    """pytest-xdist's -f reruns the session forever, retriggered by the gate's own report."""
    if not any(d.metadata["Name"] == "pytest-xdist" for d in __import__(
            "importlib.metadata").metadata.distributions()):
        pytest.skip("pytest-xdist is not installed")
    _suite(pt, PERF)
    run = gate(pt, f"--evalgate={CANDIDATE}", "-f")
    assert run.ret == 4 and "looponfail" in run.out, run.out[-2000:]


def test_a_session_ended_before_the_gate_judged_says_so(pt: pytest.Pytester) -> None:
    _suite(pt, PERF)
    pt.makeconftest(EXIT_AT_START)
    run = gate(pt, f"--evalgate={CANDIDATE}")
    assert run.ret != 0
    assert "evalgate: BLOCK" in run.out and "before the gate judged" in run.out, run.out[-2000:]
