"""A family is a folder: adding one is adding a folder and its name (shown with a throwaway
family in a temporary package, run through the plugin), and the engine isolates families from
each other (a family that raises, or answers wrongly, never touches another's results)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

import evalgate.families as families
from conftest import CANDIDATE, CHAMPION, QUICK_CHECKS, read_verdict, suite_text
from evalgate.engine import Gate
from evalgate.engine.isolate import NO_RESULT, TWO_RESULTS

#: a family written as a user would write one: its own folder, spec, check and template
SHARE_FAMILY = {
    "__init__.py": '''
        """A throwaway family: the share of rows the candidate predicts positive."""
        from pathlib import Path

        from evalgate.families.base import Family

        from . import check, spec

        FAMILY = Family(name="positive_share", parse=spec.parse, plan=check.plan,
                        run=check.run, template=Path(__file__).with_name("report.html.j2"))
        ''',
    "spec.py": '''
        def parse(r, section, line, task, data):
            d = r.mapping(section, line, "positive_share")
            r.only_keys(d, ("max",), "positive_share")
            return (r.number(d, "max"), line)
        ''',
    "check.py": '''
        from evalgate.families.base import CheckPlan, CheckResult
        from evalgate.families.judge import Clauses, value_clause

        def plan(suite):
            spec = suite.families.get("positive_share")
            return [] if spec is None else [CheckPlan("positive_share", "rate", spec[1],
                                                      subject=spec)]

        def run(ctx, plans):
            out = []
            for p in plans:
                share = float(ctx.candidate.label.mean())
                clauses = Clauses()
                value_clause(clauses, share, maximum=p.subject[0],
                             text=f"positive share = {share:.4f}")
                out.append(CheckResult(id=ctx.suite.check_id(p.family, p.name),
                                       family=p.family, name=p.name, status=clauses.status(),
                                       blocking=p.blocking, message=clauses.message(),
                                       metric="positive_share", candidate=share,
                                       threshold={"max": p.subject[0]}, line=p.line))
            return out
        ''',
    "report.html.j2": '''
        <section id="positive-share-{{ si }}"><h2>Positive share — {{ s.name }}</h2>
        {% for c in checks %}<p class="share">{{ c.candidate | num }}</p>{% endfor %}</section>
        ''',
}


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_a_family_is_a_folder_and_a_name(pytester: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _package(pytester.path / "extras" / "myfamilies", "share", SHARE_FAMILY)
    (pytester.path / "extras" / "myfamilies" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(pytester.path / "extras"))
    monkeypatch.setattr(families, "FAMILIES", (*families.FAMILIES, "myfamilies.share"))
    pytester.makeini("[pytest]\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "adult.yaml").write_text(suite_text(
        champion=CHAMPION, checks=QUICK_CHECKS + "  positive_share: {max: 0.5}\n"))
    result = pytester.runpytest_inprocess(f"--evalgate={CANDIDATE}", "-v", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*suites/adult.yaml::positive_share::rate PASSED*"])
    assert result.ret == 0, result.outlines[-3:]
    assert result.outlines[-1].startswith("evalgate: PROMOTE"), result.outlines[-3:]
    [check] = [c for c in read_verdict(pytester.path)["suites"][0]["checks"]
               if c["family"] == "positive_share"]
    assert check["status"] == "pass" and 0 < check["candidate"] < 0.5
    html = (pytester.path / "reports" / "evalgate-report.html").read_text("utf-8")
    assert "Positive share — adult-income" in html and 'class="share"' in html


def test_an_unregistered_family_in_a_suite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(suite_text(checks=QUICK_CHECKS + "  positive_share: {max: 0.5}\n"))
    with pytest.raises(Exception, match="positive_share: unknown key in checks"):
        families.load_suite(path)


# --------------------------------------------------------------------------- isolation

#: families that misbehave, each a module with a FAMILY whose run does the thing named
BROKEN = '''
from evalgate.families.base import CheckPlan, CheckResult, Family


def parse(r, section, line, task, data):
    return line


def plan(suite):
    line = suite.families.get("broken")
    return [] if line is None else [CheckPlan("broken", n, line, subject=n)
                                    for n in ("one", "two")]


def run(ctx, plans):
    {body}


def ok(ctx, p, **kw):
    fields = dict(id=ctx.suite.check_id(p.family, p.name), family=p.family, name=p.name,
                  status="pass", blocking=p.blocking, message="fine", line=p.line)
    fields.update(kw)
    return CheckResult(**fields)


FAMILY = Family(name="broken", parse=parse, plan=plan, run=run)
'''


def _run_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> dict[str, Any]:
    package = f"broken_{abs(hash(body)) % 10**8}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "family.py").write_text(BROKEN.replace("{body}", body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(families, "FAMILIES", (*families.FAMILIES, f"{package}.family"))
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text(champion=CHAMPION, checks=QUICK_CHECKS + "  broken: {}\n"))
    gate = Gate(CANDIDATE)
    outcome = gate.run_suite(gate.load(suite))
    assert outcome.error is None, outcome.error
    return {r.name: r for r in outcome.results}


def test_a_family_that_raises_leaves_the_other_families_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alone = {r.name: r for r in Gate(CANDIDATE).run_suite(
        _quick_suite(tmp_path)).results}
    results = _run_with(tmp_path, monkeypatch, "return {}['no such key']")
    for name in ("one", "two"):
        r = results[name]
        assert r.status == "error" and r.blocking
        assert r.message.startswith("internal error in the broken family: KeyError")
        assert "Traceback" in r.details.traceback and "no such key" in r.details.traceback
    for name in ("roc_auc", "accuracy", "log_loss"):  # computed as if the family were absent
        assert results[name].as_dict() == alone[name].as_dict()
    json.dumps(results["one"].as_dict())


def _quick_suite(tmp_path: Path) -> Any:
    path = tmp_path / "quick.yaml"
    path.write_text(suite_text(champion=CHAMPION))
    return Gate(CANDIDATE).load(path)


@pytest.mark.parametrize(("body", "one", "two"), [
    ("return [ok(ctx, plans[0])]", "pass", NO_RESULT.format(family="broken")),
    ("return [ok(ctx, plans[0]), ok(ctx, plans[0]), ok(ctx, plans[1])]",
     TWO_RESULTS.format(family="broken", count=2), "pass"),
    ("return [ok(ctx, p) for p in plans] + [ok(ctx, plans[0], id='s::broken::extra')]",
     "pass", "pass"),
])
def test_each_plan_gets_exactly_one_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           body: str, one: str, two: str) -> None:
    results = _run_with(tmp_path, monkeypatch, body)
    assert set(results) == {"roc_auc", "accuracy", "log_loss", "one", "two"}
    for name, want in (("one", one), ("two", two)):
        if want == "pass":
            assert results[name].status == "pass"
        else:
            assert results[name].status == "error" and results[name].message == want


def test_a_family_cannot_make_a_blocking_check_non_blocking(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = _run_with(tmp_path, monkeypatch,
                        "return [ok(ctx, p, blocking=False, status='fail') for p in plans]")
    assert results["one"].blocking and results["one"].status == "fail"


def test_delta_text_writes_large_numbers_with_significant_digits():
    """A Δ of −7.6e43 was written with 44 digits and four decimals."""
    from evalgate.families.judge import delta_text, number
    from evalgate.stats import Interval

    text = delta_text(Interval(-7.5738292e43, -8.1e43, None, None, "bootstrap", 100), 0.95)
    assert text == "Δ vs champion = -7.574e+43, one-sided 95% lower bound -8.1e+43"
    small = delta_text(Interval(0.01234, -0.5, None, None, "bootstrap", 100), 0.95)
    assert small == "Δ vs champion = +0.0123, one-sided 95% lower bound -0.5000"
    assert number(999_999.0) == "999999.0000" and number(1_234_567.0) == "1.235e+06"
