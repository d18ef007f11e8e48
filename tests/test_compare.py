"""``evalgate compare CHAMPION C1 C2 …``: each challenger judged at α/k on the same rows, one
verdict per challenger, a leaderboard whose numbers are the verdicts', a pick that says when
the data cannot tell the top two apart, and compare.html in a real browser."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import pytest

from conftest import CANDIDATE, CHAMPION
from evalgate.cli import main

QUICK = Path(__file__).parents[1] / "examples" / "suites" / "quick.yaml"


def variant(source: Path, folder: Path, name: str) -> Path:
    """``source`` with a metadata tag: the same predictions, other bytes."""
    model = onnx.load(source)
    onnx.helper.set_model_props(model, {"variant": name})
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str
    report: Path
    doc: dict[str, Any]


def compare(folder: Path, champion: Path, challengers: list[str], *extra: str) -> Run:
    report = folder / "reports"
    stdout, stderr = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(folder)  # the ledger of tries is the folder's registry
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            suites = [] if "--suites" in extra else ["--suites", str(QUICK)]
            code = main(["compare", str(champion), *challengers, *suites,
                         "--report", str(report), *extra])
    finally:
        os.chdir(cwd)
    found = report / "compare.json"
    doc = json.loads(found.read_text()) if found.exists() else {}
    return Run(code, stdout.getvalue(), stderr.getvalue(), report, doc)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three challengers of the linear champion: the trees candidate twice (the same
    predictions) and the champion's own predictions under other bytes."""
    folder = tmp_path_factory.mktemp("models")
    return [variant(CANDIDATE, folder, "trees-a"), variant(CANDIDATE, folder, "trees-b"),
            variant(CHAMPION, folder, "linear")]


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, models: list[Path]) -> Run:
    folder = tmp_path_factory.mktemp("compare")
    return compare(folder, CHAMPION, [str(p) for p in models], "--pick", "best")


def test_each_challenger_is_judged_at_alpha_over_k(board: Run) -> None:
    assert board.code == 0, board.err
    adj = board.doc["adjustment"]
    assert (adj["method"], adj["challengers"], adj["alpha"]) == ("bonferroni", 3, 0.05)
    assert adj["alpha_each"] == pytest.approx(0.05 / 3)
    assert "each of 3 challengers judged at α = 0.01667 (bonferroni)" in board.out
    for name in ("trees-a", "trees-b", "linear"):
        verdict = json.loads((board.report / name / "verdict.json").read_text())
        spending = verdict["suites"][0]["spending"]
        assert spending["alpha_used"] == pytest.approx(0.05 / 3)
        assert "judged as one of 3 challengers" in spending["note"]
        compared = [c for c in verdict["suites"][0]["checks"] if c["delta"] is not None]
        assert compared and all(c["confidence"] == pytest.approx(1 - 0.05 / 3)
                                for c in compared)


def test_the_leaderboard_numbers_are_the_verdicts(board: Run) -> None:
    assert [e["name"] for e in board.doc["challengers"]] == ["trees-a", "trees-b", "linear"]
    for entry in board.doc["challengers"]:
        verdict_path = board.report / entry["verdict"]
        verdict = json.loads(verdict_path.read_text())
        assert entry["decision"] == verdict["decision"] == "promote"
        assert entry["sha256"] == verdict["candidate"]["sha256"]
        checks = {c["id"]: c for s in verdict["suites"] for c in s["checks"]}
        assert [c["id"] for c in entry["checks"]] == list(checks)
        for c in entry["checks"]:
            v = checks[c["id"]]
            assert (c["candidate"], c["champion"], c["delta"], c["status"]) == (
                v["candidate"], v["champion"], v["delta"], v["status"])
            if v["delta"] is not None:
                assert c["bound"] == v["ci"][0]
    # the suite's own level is less strict: its lower bounds are never below the judged ones
    pairs = [(c["bound"], c["unadjusted_bound"]) for e in board.doc["challengers"]
             for c in e["checks"] if c["unadjusted_bound"] is not None]
    assert len(pairs) >= 10 and all(u >= b for b, u in pairs)
    assert any(u > b for b, u in pairs)


def test_pick_best_says_when_the_top_two_cannot_be_told_apart(board: Run) -> None:
    pick = board.doc["pick"]
    assert pick["primary"] == "adult-income::performance::roc_auc"
    assert pick["winner"] in ("trees-a", "trees-b") and pick["ranking"][2] == "linear"
    assert pick["runner_up"]["delta"] == 0.0  # the same predictions
    assert "the data cannot tell trees-" in pick["note"]
    assert board.doc["promotable"] == ["trees-a", "trees-b", "linear"]


def test_no_promotable_challenger_blocks(tmp_path: Path) -> None:
    """Two challengers truly worse than the champion (the linear model against the trees):
    both blocked, exit 1, an empty promotable list."""
    paths = [variant(CHAMPION, tmp_path, "linear-a"), variant(CHAMPION, tmp_path, "linear-b")]
    run = compare(tmp_path, CANDIDATE, [str(p) for p in paths], "--pick", "best")
    assert run.code == 1
    assert run.doc["promotable"] == [] and run.doc["pick"]["winner"] is None
    assert all(e["decision"] == "block" and e["reasons"] for e in run.doc["challengers"])
    assert "evalgate: 0 of 2 challengers may replace the champion — leaderboard" in run.out


def test_challenger_arguments(tmp_path: Path) -> None:
    a = variant(CANDIDATE, tmp_path, "a")
    run = compare(tmp_path, CHAMPION, [str(tmp_path / "nothing-*.onnx")])
    assert run.code == 2 and "nothing-*.onnx: no file matches" in run.err
    run = compare(tmp_path, CHAMPION, [str(a), str(tmp_path / "*.onnx")])
    assert run.code == 2 and "given twice" in run.err
    run = compare(tmp_path, CHAMPION, [str(tmp_path / "missing.onnx")])
    assert run.code == 2 and "missing.onnx: challenger model file not found" in run.err


@pytest.mark.e2e
def test_compare_html_in_a_browser(board: Run) -> None:
    from tests.browser import chromium, launch, open_report, overflow, skip_reason

    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    binary = chromium()
    assert binary is not None
    with sync_playwright() as playwright:
        browser = launch(playwright, binary)
        try:
            visit = open_report(browser, board.report / "compare.html", 1400)
            page = visit.page
            assert not visit.blocked and not visit.errors and not visit.console
            assert page.locator("tbody tr").count() == 3
            assert page.locator("tr.winner").count() == 1
            text = page.inner_text("body")
            assert "Error rate kept across the set (bonferroni)" in text
            assert "unadjusted" in text and "the data cannot tell" in text
            wide = overflow(page)
            assert not wide["wide"] and wide["scrollWidth"] <= wide["innerWidth"], wide
            visit.context.close()
        finally:
            browser.close()



@pytest.mark.slow
def test_bonferroni_keeps_the_set_at_alpha_where_one_by_one_does_not() -> None:
    """bench/sim/challengers.py, reduced: 5 challengers each truly worse by the margin —
    judged one by one at α, any passes far more often than α; each at α/5, about α."""
    import sys

    root = Path(__file__).resolve().parents[1]
    if str(root / "bench") not in sys.path:
        sys.path.insert(0, str(root / "bench"))
    from sim import MAX_FALSE_PASS, run
    from sim.challengers import CELLS

    cells = {(c.regime, c.label): c for c in CELLS}
    label = "5 challengers, each worse by 0.01"
    loose = run(cells[("challengers: one by one at α", label)], 300)
    kept = run(cells[("challengers: bonferroni α/k", label)], 300)
    assert loose.interval()[0] > 0.10  # about 19%: the inflation without an adjustment
    assert kept.interval()[0] <= MAX_FALSE_PASS and kept.false_pass < loose.false_pass


def gated(folder: Path, models: list[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    """``pytest --evalgate FIRST --evalgate-challenger …`` in ``folder`` (a fresh process)."""
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--evalgate", str(models[0]), "--evalgate-champion", str(CHAMPION),
            "--evalgate-suites", str(QUICK), "--evalgate-report", "reports", "-rA"]
    for m in models[1:]:
        args += ["--evalgate-challenger", str(m)]
    return subprocess.run([*args, *extra], cwd=folder, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.e2e
def test_pytest_with_challengers_gives_each_its_items_and_verdict(
        tmp_path: Path, models: list[Path], board: Run) -> None:
    """Node ids gain the challenger; each challenger's verdict is the one `evalgate compare`
    writes, number for number; no single verdict of an earlier run survives."""
    (tmp_path / "reports").mkdir()
    stale = tmp_path / "reports" / "verdict.json"
    stale.write_text('{"decision": "promote"}')
    done = gated(tmp_path, models, "--evalgate-pick", "best")
    assert done.returncode == 0, done.stdout[-3000:]
    for name in ("trees-a", "trees-b", "linear"):
        assert f"quick.yaml::performance::roc_auc[{name}]" in done.stdout
    assert "evalgate: 3 of 3 challengers may replace the champion" in done.stdout
    assert not stale.exists()
    for entry in board.doc["challengers"]:
        mine = json.loads((tmp_path / "reports" / entry["name"] / "verdict.json").read_text())
        cli = json.loads((board.report / entry["verdict"]).read_text())
        assert _numbers(mine) == _numbers(cli)


def _numbers(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(c["id"], c["status"], c["candidate"], c["delta"], c["ci"])
            for suite in doc["suites"] for c in suite["checks"]]


@pytest.mark.e2e
def test_a_deselected_challenger_is_partial_and_blocks(tmp_path: Path,
                                                       models: list[Path]) -> None:
    done = gated(tmp_path, models, "-k", "not linear", "--evalgate-pick", "best")
    verdict = json.loads((tmp_path / "reports" / "linear" / "verdict.json").read_text())
    assert verdict["decision"] == "block" and verdict["summary"]["complete"] is False
    doc = json.loads((tmp_path / "reports" / "compare.json").read_text())
    assert doc["promotable"] == ["trees-a", "trees-b"]
    assert done.returncode == 0  # the pick has a winner among the complete ones
    assert doc["pick"]["winner"] in ("trees-a", "trees-b")


def test_pick_needs_challengers(tmp_path: Path) -> None:
    done = gated(tmp_path, [CANDIDATE], "--evalgate-pick", "best")
    assert done.returncode == 4 and "picks among challengers" in done.stderr


def test_primary_names_the_metric_challengers_are_ranked_on(tmp_path: Path,
                                                            models: list[Path]) -> None:
    from evalgate.errors import SpecError
    from evalgate.families import load_suite

    text = QUICK.read_text().replace("../data/", str(QUICK.parents[1] / "data") + "/")
    text = text.replace("../models/", str(QUICK.parents[1] / "models") + "/")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("checks:\n", "primary: acuracy\nchecks:\n", 1))
    with pytest.raises(SpecError, match=r"primary 'acuracy' names no performance check of this "
                                        r"suite \(did you mean 'accuracy'\?\)"):
        load_suite(bad)
    suite = tmp_path / "suite.yaml"
    suite.write_text(text.replace("checks:\n", "primary: accuracy\nchecks:\n", 1))
    assert load_suite(suite).primary == "accuracy"
    run = compare(tmp_path, CHAMPION, [str(models[0]), str(models[2])], "--pick", "best",
                  "--suites", str(suite))
    assert run.code == 0, run.err
    assert run.doc["pick"]["primary"] == "adult-income::performance::accuracy"
    verdict = json.loads((run.report / "trees-a" / "verdict.json").read_text())
    assert verdict["suites"][0]["resolved"]["primary"] == "accuracy"


@pytest.mark.e2e
def test_a_pick_never_hides_a_failing_test_that_is_no_check(tmp_path: Path,
                                                           models: list[Path]) -> None:
    """With --evalgate-pick the other challengers' failed checks are expected, and the run
    exits 0 on a winner — but a failing unit test collected beside the gate still fails it."""
    (tmp_path / "test_unit.py").write_text("def test_broken():\n    assert False\n")
    done = gated(tmp_path, models[:2], "--evalgate-pick", "best", "test_unit.py")
    assert "1 failed" in done.stdout and done.returncode == 1, done.stdout[-2000:]
    doc = json.loads((tmp_path / "reports" / "compare.json").read_text())
    assert doc["pick"]["winner"] is not None


SESSION_FIXTURE_FAILS_AT_THE_END = """
import pytest

@pytest.fixture(scope="session")
def resource():
    yield 1
    raise RuntimeError("a session fixture's teardown failed")

def test_uses_it(resource):
    assert resource == 1
"""


@pytest.mark.e2e
@pytest.mark.parametrize("failure", ["collection", "teardown", "hooks blocked"])
def test_a_pick_never_hides_an_error_outside_the_checks(tmp_path: Path, models: list[Path],
                                                        failure: str) -> None:
    """A test file that does not import (--continue-on-collection-errors), a session
    fixture's teardown error (filed under the last item: a check), or the counting hooks
    blocked (-p no:evalgate-session): none may leave a pick's exit 0."""
    if failure == "collection":
        (tmp_path / "test_user.py").write_text("import no_such_module_anywhere\n")
        extra: tuple[str, ...] = ("test_user.py", "--continue-on-collection-errors")
    elif failure == "teardown":
        (tmp_path / "test_user.py").write_text(SESSION_FIXTURE_FAILS_AT_THE_END)
        extra = ("test_user.py",)
    else:
        (tmp_path / "test_user.py").write_text("def test_broken():\n    assert False\n")
        extra = ("test_user.py", "-p", "no:evalgate-session")
    done = gated(tmp_path, models[:2], "--evalgate-pick", "best", *extra)
    assert done.returncode in (1, 4), done.stdout[-2000:]
    if failure == "hooks blocked":
        assert "-p no:evalgate-session" in done.stderr


@pytest.mark.e2e
def test_without_a_pick_a_challenger_left_out_blocks_the_run(tmp_path: Path,
                                                             models: list[Path]) -> None:
    """Every item of one challenger deselected: its verdict is partial (block), and a run
    without a pick exits 0 only when every challenger promotes."""
    done = gated(tmp_path, models[:2], "-k", "not trees-b")
    assert done.returncode == 1, done.stdout[-2000:]
    assert json.loads((tmp_path / "reports" / "trees-a" / "verdict.json").read_text()
                      )["decision"] == "promote"


def test_under_spending_each_challenger_is_judged_at_its_own_try_over_k(
        tmp_path: Path, models: list[Path]) -> None:
    """attempts = "spend": each challenger is a try of its own against this champion, judged
    at that try's level over k — never more leniently than `evalgate run` would judge it.
    Judging every challenger at the first one's level let a new model named after one tried
    before borrow its early level (an attack passed a model that `run` blocked)."""
    (tmp_path / "pyproject.toml").write_text('[tool.evalgate]\nattempts = "spend"\n')
    first = compare(tmp_path, CHAMPION, [str(m) for m in reversed(models)])
    # three new challengers: the champion's 1st, 2nd and 3rd tries (α/2, α/6, α/12), over 3
    assert [e["alpha_used"] for e in first.doc["challengers"]] == [
        pytest.approx(0.05 / 2 / 3), pytest.approx(0.05 / 6 / 3), pytest.approx(0.05 / 12 / 3)]
    assert first.doc["adjustment"]["alpha_each"] is None
    assert "α/k or less (see each verdict)" in first.out
    new = variant(CANDIDATE, tmp_path, "trees-new")
    again = compare(tmp_path, CHAMPION, [str(models[0]), str(new)])
    # the old one keeps its 3rd try's level; the new one is the 4th try (α/20), over 2
    assert [e["alpha_used"] for e in again.doc["challengers"]] == [
        pytest.approx(0.05 / 12 / 2), pytest.approx(0.05 / 20 / 2)]


def test_a_shared_level_is_each_trials_own_over_k() -> None:
    """Per trial, not per run: a challenger's second suite (another dataset, a later try
    there) is judged at that suite's own level, not its first suite's."""
    from typing import cast

    from evalgate.engine.challengers import Shared
    from evalgate.engine.trials import Ledger, Spending, Trial

    class Inner:
        levels = iter([0.05 / 2, 0.05 / 42])

        def spend(self, trial: Trial, alpha: float) -> Spending:
            return Spending(attempt=None, look=1, policy="spend", alpha=alpha,
                            alpha_used=next(self.levels), note="")

        def record(self, trial: Trial, spending: Spending, decision: str) -> None:
            pass

    shared = Shared(cast(Ledger, Inner()), 2)
    trial = cast(Trial, None)
    assert [shared.spend(trial, 0.05).alpha_used for _ in range(2)] == [
        pytest.approx(0.05 / 4), pytest.approx(0.05 / 84)]


def test_challenger_names_stay_inside_the_report_folder() -> None:
    """A name is a folder of the report: a file named `..onnx` or `...onnx` (stems `.` and
    `..`) must not write its verdict over the report folder's own or its parent's."""
    from evalgate.engine.challengers import names_of

    names = names_of([Path("a/..onnx"), Path("b/...onnx"), Path("c/.hidden.onnx"),
                      Path("d/x.onnx"), Path("e/x.onnx")])
    assert names == ["challenger", "challenger-2", "hidden", "x", "x-2"]
    report = Path("reports").resolve()
    assert all((report / n).resolve().parent == report for n in names)


def test_a_challenger_named_like_a_url_links_to_its_own_verdict(board: Run) -> None:
    """A file named `javascript:alert(1).onnx` names a folder of the report; its link must
    stay a relative path (no script on a click, no page swapped for a forged PROMOTE)."""
    import re

    from evalgate.report.leaderboard import render

    doc = json.loads(json.dumps(board.doc))
    doc["challengers"][0]["verdict"] = "javascript:alert(1)/verdict.json"
    page = render(doc)
    links = re.findall(r'href="([^"]*)"', page)
    assert "./javascript%3Aalert%281%29/verdict.json" in links
    assert not [h for h in links if ":" in h.split("/")[0] and not h.startswith("#")]


def test_remembered_replicates_change_no_number(tmp_path: Path, models: list[Path], board: Run,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The leaderboard's unadjusted bounds reuse each check's bootstrap replicates
    (evalgate.stats.memo): the same board, number for number, as drawing them again."""
    import evalgate.stats.memo as memo

    monkeypatch.setattr(memo, "remembered", lambda *a: contextlib.nullcontext())
    again = compare(tmp_path, CHAMPION, [str(p) for p in models], "--pick", "best")
    assert again.code == board.code

    def entries(doc: dict[str, Any]) -> list[dict[str, Any]]:  # a verdict's sha256: its time
        return [{k: v for k, v in c.items() if k != "verdict_sha256"}
                for c in doc["challengers"]]

    assert entries(again.doc) == entries(board.doc)
    for entry in board.doc["challengers"]:
        mine = json.loads((again.report / entry["verdict"]).read_text())
        theirs = json.loads((board.report / entry["verdict"]).read_text())
        assert _numbers(mine) == _numbers(theirs)
