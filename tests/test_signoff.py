"""Sign-off bound to the verdict's bytes, and the Markdown summary for CI pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import CANDIDATE, CHAMPION, suite_text
from evalgate.engine import Gate, evaluate_paths
from evalgate.errors import EvalgateError
from evalgate.output import finish
from evalgate.report import render, summary_markdown
from evalgate.verdict import now
from evalgate.verdict.signoff import sign, status


def _gate(tmp: Path, candidate: Path, champion: Path) -> Path:
    suite = tmp / "s.yaml"
    suite.write_text(suite_text(champion=champion))
    outcomes = evaluate_paths(Gate(candidate), [suite])
    finish(outcomes, candidate=candidate, report_dir=tmp, seed=None, started_at=now(),
           duration_s=1.0)
    return tmp / "verdict.json"


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _gate(tmp_path_factory.mktemp("ok"), CANDIDATE, CHAMPION)


@pytest.fixture(scope="module")
def blocked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _gate(tmp_path_factory.mktemp("block"), CHAMPION, CANDIDATE)


def test_sign_binds_the_verdict_bytes(promoted: Path) -> None:
    entry = sign(promoted, "Ada Lovelace", "looks right")
    assert entry["reviewer"] == "Ada Lovelace"
    st = status(promoted)
    assert st is not None and st["valid"] is True
    verdict = json.loads(promoted.read_text())
    html = render(verdict, st)
    assert "<li><strong>Ada Lovelace</strong>" in html


def test_changed_verdict_invalidates_the_signoff(promoted: Path, tmp_path: Path) -> None:
    copy = tmp_path / "verdict.json"
    copy.write_bytes(promoted.read_bytes())
    sign(copy, "Ada")
    copy.write_text(copy.read_text().replace('"promote"', '"promote" ', 1))
    st = status(copy)
    assert st is not None and st["valid"] is False
    assert "changed after it was signed off" in st["problem"]
    assert "Sign-off <strong>not valid</strong>" in render(json.loads(copy.read_text()), st)


def test_a_block_verdict_cannot_be_signed(blocked: Path) -> None:
    with pytest.raises(EvalgateError, match="only a promote verdict can be signed off"):
        sign(blocked, "Ada")


def test_an_edited_verdict_cannot_be_signed(blocked: Path, tmp_path: Path) -> None:
    """A block verdict whose decision was set to promote by hand: its checks still give
    block, and a reviewer's approval of it is refused."""
    doc = json.loads(blocked.read_text())
    doc["decision"] = "promote"
    edited = tmp_path / "verdict.json"
    edited.write_text(json.dumps(doc))
    with pytest.raises(EvalgateError, match=r"its own checks give 'block'.*it was edited"):
        sign(edited, "Ada")


def test_not_a_verdict(tmp_path: Path) -> None:
    bogus = tmp_path / "verdict.json"
    bogus.write_text('{"hello": 1}')
    with pytest.raises(EvalgateError, match="not an evalgate verdict"):
        sign(bogus, "Ada")
    assert status(bogus) is None


def test_summary_markdown_lists_failures(blocked: Path) -> None:
    text = summary_markdown(json.loads(blocked.read_text()), "reports/evalgate-report.html")
    assert text.startswith("## ⛔ evalgate: BLOCK")
    assert "| `adult-income::performance::roc_auc` | fail |" in text
    assert (blocked.parent / "summary.md").read_text().startswith("## ⛔ evalgate: BLOCK")


def test_summary_says_which_failures_do_not_block() -> None:
    """PROMOTE beside "1 failed" needs its reason: the failed check is non-blocking."""
    verdict = {"decision": "promote", "candidate": {"path": "m.onnx", "sha256": "ab"},
               "champion": None, "summary": {"reasons": [], "complete": True, "not_run": []},
               "suites": [{"checks": [
                   {"id": "s::performance::accuracy", "status": "pass", "blocking": True,
                    "message": "ok"},
                   {"id": "s::performance::roc_auc", "status": "fail", "blocking": False,
                    "message": "below min"},
                   {"id": "s::latency::p95", "status": "fail", "blocking": True,
                    "message": "slow"},
                   {"id": "s::drift::age", "status": "error", "blocking": False,
                    "message": "no column"}]}]}
    text = summary_markdown(verdict)
    assert "1 passed · 2 failed (1 non-blocking) · 1 error (non-blocking) · 0 skipped" in text
    assert "| `s::performance::roc_auc` | fail (non-blocking) | below min |" in text
    assert "| `s::latency::p95` | fail | slow |" in text
    assert "| `s::drift::age` | error (non-blocking) | no column |" in text
    assert "| `s::performance::accuracy` | pass |" in text


def test_summary_is_plain_text_that_renders_as_written() -> None:
    """Markdown's and HTML's characters are backslash-escaped, never turned into entities: the
    raw file reads as the message does, and nothing in it becomes a tag or a cell edge."""
    verdict = {"decision": "block", "candidate": {"path": "m|<b>.onnx", "sha256": "ab"},
               "champion": None, "summary": {"reasons": [], "complete": True, "not_run": []},
               "suites": [{"checks": [{"id": "s::bias::tpr[sex=F|M]", "status": "fail",
                                       "message": "a | b <script> isn't *bold* & x_y"}]}]}
    text = summary_markdown(verdict)
    assert "&lt;" not in text and "&#x27;" not in text and "&amp;" not in text
    assert "a \\| b \\<script\\> isn't \\*bold\\* \\& x\\_y" in text
    assert "`m|<b>.onnx`" in text  # a code span shows its characters, HTML included
    assert "| `s::bias::tpr[sex=F\\|M]` | fail |" in text  # a pipe in a table cell
    for line in text.splitlines():  # no raw tag outside a code span or the details block
        bare = re.sub(r"`[^`]*`", "", line)
        assert not re.search(r"(?<!\\)<(?!/?(details|summary)>)", bare), line


def test_summary_cuts_long_messages_at_a_word() -> None:
    from evalgate.verdict.summary import CELL_CHARS, clip

    long = "the candidate's lower bound " + "regressed " * 60
    cut = clip(long)
    assert len(cut) <= CELL_CHARS + 2 and cut.endswith(" …")
    assert long.startswith(cut[:-2]) and long[len(cut) - 2] == " "  # ends before a space
    assert clip("short message") == "short message"
    assert clip("x" * 400).endswith("…")  # one long word: cut, still marked


def test_summary_flags_and_the_table_of_every_check(blocked: Path) -> None:
    verdict = json.loads(blocked.read_text())
    text = summary_markdown(verdict)
    checks = [c for s in verdict["suites"] for c in s["checks"]]
    assert f"<summary>All {len(checks)} checks</summary>" in text
    table = text.split("<details>")[1]
    assert table.count("\n| `") == len(checks)
    auc = next(c for c in checks if c["id"].endswith("performance::roc_auc"))
    row = next(r for r in table.splitlines() if "performance::roc_auc`" in r)
    assert f"{auc['delta']:+.4g}" in row and f"{auc['ci'][0]:.4g}" in row
    assert "Partial run" not in text and "First release" not in text
    first = dict(verdict, champion=None)
    assert "> **First release: no champion" in summary_markdown(first)
    partial = dict(verdict, summary={**verdict["summary"], "complete": False,
                                     "not_run": ["s::performance::f1"]})
    shown = summary_markdown(partial)
    assert "> **Partial run: 1 check did not run" in shown
    assert "1 errors" not in shown


@pytest.mark.parametrize(("count", "want"), [(0, "0 errors"), (1, "1 error"), (2, "2 errors")])
def test_counts_agree_in_number(count: int, want: str) -> None:
    from evalgate.verdict.summary import plural

    assert plural(count, "error") == want
    verdict = {"decision": "block", "candidate": {"path": "m.onnx", "sha256": "ab"},
               "champion": {"path": "c.onnx"},
               "summary": {"reasons": [], "complete": True, "not_run": []},
               "suites": [{"checks": [{"id": f"s::performance::m{i}", "status": "error",
                                       "message": "x"} for i in range(count)]}]}
    assert f"· {want} ·" in summary_markdown(verdict)


def test_github_step_summary_is_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step = tmp_path / "step.md"
    step.write_text("earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    _gate(tmp_path, CANDIDATE, CHAMPION)
    text = step.read_text()
    assert text.startswith("earlier\n") and "## ✅ evalgate: PROMOTE" in text


def test_signoff_and_report_commands(promoted: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from evalgate.cli import main

    verdict = tmp_path / "verdict.json"
    verdict.write_bytes(promoted.read_bytes())
    assert main(["signoff", str(verdict), "--reviewer", "Grace", "--note", "ok"]) == 0
    assert "signed off by Grace" in capsys.readouterr().out
    html = (tmp_path / "evalgate-report.html").read_text()
    assert "<li><strong>Grace</strong>" in html
    (tmp_path / "evalgate-report.html").unlink()
    assert main(["report", str(verdict)]) == 0  # re-rendered from the verdict alone
    assert "<li><strong>Grace</strong>" in (tmp_path / "evalgate-report.html").read_text()
    assert main(["report", str(tmp_path / "missing.json")]) == 1
    assert "cannot read the verdict" in capsys.readouterr().err


def test_the_first_screen_says_what_changed_vs_the_champion(promoted: Path,
                                                             blocked: Path) -> None:
    """Proven improvements and drops below the champion, each with Δ's bound, before the
    models and the checks; the sign-off hint names the real verdict and only on a promote."""
    better = render(json.loads(promoted.read_text()), verdict_path="out/v/verdict.json")
    head = better.split('<section id="models">')[0]
    assert "What changed vs the champion" in head
    assert re.search(r'<tr class="better">.*performance::roc_auc', head)
    assert 'class="worse"' not in head
    assert "evalgate signoff out/v/verdict.json --reviewer NAME" in better
    worse = render(json.loads(blocked.read_text()))
    head = worse.split('<section id="models">')[0]
    assert re.search(r'<tr class="worse">.*performance::roc_auc', head)
    assert "evalgate signoff" not in worse  # a block verdict cannot be signed off


def test_the_report_names_the_verdict_it_was_written_beside(tmp_path: Path) -> None:
    from evalgate.report import write_report

    (tmp_path / "run").mkdir()
    doc = json.loads(_gate(tmp_path / "run", CANDIDATE, CHAMPION).read_text())
    page = write_report(doc, tmp_path / "run").read_text()
    assert f"evalgate signoff {tmp_path / 'run' / 'verdict.json'} --reviewer NAME" in page or \
        "evalgate signoff run/verdict.json" in page
