"""verdict.json and the first HTML report: schema, escaping, atomic writes."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import CANDIDATE, suite_text
from evalgate.engine import Gate, evaluate_paths
from evalgate.output import finish
from evalgate.report import render
from evalgate.verdict import SCHEMA, now, write_atomic


@pytest.fixture(scope="module")
def verdict(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("v")
    suite = tmp / "adult.yaml"
    suite.write_text(suite_text(name='evil <script>alert("x")</script>'))
    gate = Gate(CANDIDATE)
    outcomes = evaluate_paths(gate, [suite])
    finish(outcomes, candidate=CANDIDATE, report_dir=tmp, seed=None, started_at=now(),
           duration_s=1.0)
    return json.loads((tmp / "verdict.json").read_text())


def test_verdict_has_the_normative_schema(verdict: dict) -> None:
    assert verdict["schema"] == SCHEMA
    assert list(verdict)[:6] == ["schema", "decision", "candidate", "champion", "suites",
                                 "provenance"]
    assert set(verdict["candidate"]) >= {"path", "sha256", "format"}
    suite = verdict["suites"][0]
    assert set(suite) >= {"name", "file", "sha256", "dataset", "checks"}
    assert suite["dataset"]["rows"] == 16281
    check = suite["checks"][0]
    for key in ("id", "family", "status", "blocking", "metric", "candidate", "champion",
                "delta", "ci", "confidence", "threshold", "message"):
        assert key in check
    assert check["id"].endswith("::performance::roc_auc")
    assert check["ci"][1] is None and check["ci"][0] < check["delta"]
    prov = verdict["provenance"]
    assert {"evalgate", "python", "packages", "seed", "started_at", "duration_s"} <= set(prov)
    assert "onnxruntime" in prov["packages"]


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


def test_report_escapes_user_data(verdict: dict) -> None:
    html = render(verdict)
    parser = _Scripts()
    parser.feed(html)
    assert "script" not in parser.tags
    assert not parser.handlers
    assert "evil &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_report_is_self_contained(verdict: dict) -> None:
    html = render(verdict)
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<img" not in html
    assert "PROMOTE" in html
    assert verdict["candidate"]["sha256"] in html


def test_report_is_deterministic(verdict: dict) -> None:
    assert render(verdict) == render(json.loads(json.dumps(verdict)))


def test_blocked_report_links_the_deciding_checks(verdict: dict) -> None:
    blocked = json.loads(json.dumps(verdict))
    blocked["decision"] = "block"
    check = blocked["suites"][0]["checks"][1]
    check["status"] = "fail"
    check["message"] = "accuracy regressed"
    html = render(blocked)
    assert '<a href="#check-1-2"><code>evil &lt;script&gt;' in html
    assert '<tr id="check-1-2">' in html
    assert "accuracy regressed" in html


def test_write_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "verdict.json"
    write_atomic(target, "{}")
    write_atomic(target, '{"a": 1}')
    assert target.read_text() == '{"a": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["verdict.json"]


def test_regression_suites_draw_residuals(verdict: dict) -> None:
    import numpy as np

    from evalgate.data import Target
    from evalgate.models.predictions import Predictions
    from evalgate.report.plots import suite_plots

    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    preds = {"candidate": Predictions(label=y + rng.normal(0, 0.1, 500), score=None),
             "champion": Predictions(label=y + rng.normal(0, 0.3, 500), score=None)}
    plots = suite_plots("regression", Target(y=y, classes=None), preds, rng)
    assert len(plots.residuals["candidate"].points) == 300
    regression = json.loads(json.dumps(verdict))
    regression["suites"][0]["plots"] = json.loads(json.dumps(plots.to_dict()))
    html = render(regression)
    assert "<title>Residuals</title>" in html
    assert "Residuals of a sample of 300 of 500 rows" in html
    assert "<title>ROC</title>" not in html


def test_binary_suites_draw_curves(verdict: dict) -> None:
    html = render(verdict)
    for title in ("Δ vs champion with one-sided lower bounds", "ROC", "Precision-recall",
                  "Calibration"):
        assert f"<title>{title}</title>" in html
    assert "Confusion — candidate" in html


@pytest.mark.parametrize("allow_nan", [False, True])
def test_malformed_outcomes_read_in_their_colours(allow_nan: bool) -> None:
    """A clear refusal is the right answer to malformed input and reads so ("refused", in
    the passing colour), never the word ERROR in green; a crash and a forbidden NaN output
    are failures; an allowed NaN output is a warning."""
    from types import SimpleNamespace as NS

    from evalgate.report import _environment

    outcome = {"empty": NS(outcome="error", message="no rows"),
               "nan": NS(outcome="nan_output", message=""),
               "huge": NS(outcome="crash", message="killed"),
               "one_row": NS(outcome="ok", message="")}
    check = NS(id="s::stress::malformed", status="pass", message="", family="stress",
               threshold={"allow_nan_output": allow_nan})
    page = _environment().get_template("stress/report.html.j2").render(
        s=NS(name="s"), si=1, checks=[check],
        details=lambda c: NS(cases=list(outcome), outcomes={"candidate": outcome}))
    cells = dict(re.findall(r'<tr><td>(\w+)</td><td><span class="status (\w+)">', page))
    labels = dict(re.findall(r'<tr><td>(\w+)</td><td><span class="status \w+">([^<]+)<', page))
    assert labels == {"empty": "refused", "nan": "NaN output", "huge": "crashed",
                      "one_row": "answered"}
    assert cells == {"empty": "pass", "nan": "skip" if allow_nan else "fail", "huge": "fail",
                     "one_row": "pass"}
    assert ">error<" not in page
