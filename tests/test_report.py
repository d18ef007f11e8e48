"""verdict.json and the first HTML report: schema, escaping, atomic writes."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
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
    assert "Residuals on the same 300 of 500 rows, drawn at random" in html
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


def _svg_texts(svg: str) -> list[tuple[float, str]]:
    return [(float(x), text) for x, text in re.findall(r'<text x="([-\d.]+)"[^>]*>([^<]*)</text>',
                                                       svg)]


@pytest.mark.parametrize("values", [(-0.02, -0.03, -0.01), (0.5, 0.4, -0.01),
                                    (-40.0, -60.0, -50.0)])
def test_forest_orientation_label_sits_on_zero(values: tuple[float, float, float]) -> None:
    """"← worse | better →": the bar is on Δ = 0 (the dashed line), the words either side of
    it, wherever 0 falls on the axis (kept inside the plot near an edge)."""
    from evalgate.report import svg

    estimate, lower, margin = values
    chart = str(svg.forest([{"label": "m", "estimate": estimate, "lower": lower,
                             "margin": margin, "status": "pass"}]))
    zero = float(re.search(r'<line x1="([-\d.]+)"[^>]*stroke-dasharray="3 3"', chart)[1])
    texts = dict((t, x) for x, t in _svg_texts(chart))
    left, right = 190 + svg.ORIENTATION_HALF, 190 + 430 - svg.ORIENTATION_HALF
    assert texts["|"] == pytest.approx(min(max(zero, left), right), abs=0.01)
    assert texts["← worse"] < texts["|"] < texts["better →"]


def test_forest_has_one_panel_per_unit(verdict: dict) -> None:
    """A regression suite's mae and rmse (target units) and mse (squared) never share an axis
    with r2 and mape (unitless): one forest per unit, each headed."""
    from evalgate.report import forest_panels
    from evalgate.verdict.model import Verdict

    regression = json.loads(json.dumps(verdict))
    suite = regression["suites"][0]
    template = suite["checks"][0]
    suite["task"], suite["plots"] = "regression", None
    suite["checks"] = [{**template, "id": f"s::performance::{m}", "metric": m, "delta": d,
                        "ci": [d - 1, None], "threshold": {"max_regression": 0.5}}
                       for m, d in (("mae", -3.0), ("r2", 0.01), ("rmse", -40.0),
                                    ("mse", -900.0), ("mape", 0.02))]
    typed = Verdict.from_dict(regression, "verdict")
    panels = dict(forest_panels("regression", typed.suites[0].checks))
    assert {h: [r["label"] for r in rows] for h, rows in panels.items()} == {
        "In the target's units": ["mae", "rmse"], "Scores (unitless)": ["r2", "mape"],
        "In the target's units, squared": ["mse"]}
    html = render(regression)
    assert html.count("<title>Δ vs champion with one-sided lower bounds — ") == 3
    assert "<h3>In the target&#39;s units</h3>" in html
    # a binary suite's scores share one panel, unheaded
    assert render(verdict).count("<title>Δ vs champion with one-sided lower bounds</title>") == 1


def test_residuals_keep_to_the_axes_and_the_caption_counts_true() -> None:
    """One wild residual no longer flattens the rest: the axes hold the central 98%, the
    points beyond sit on the axes and are counted; a point that is not finite is not drawn
    and the caption says so, for the model it belongs to."""
    from evalgate.report import svg

    rng = np.random.default_rng(1)
    pred = rng.normal(size=300)
    candidate = [[float(p), float(r)] for p, r in zip(pred, rng.normal(0, 1, 300))]
    candidate[5][1] = 1e6
    champion = [[float(p), float(r)] for p, r in zip(pred, rng.normal(0, 1, 300))]
    champion[9][1] = float("nan")
    chart = svg.residual_chart({"candidate": candidate, "champion": champion})
    assert chart.drawn == {"candidate": 300, "champion": 299}
    assert chart.beyond["candidate"] >= 1 and chart.beyond["candidate"] <= 0.02 * 600
    frame = re.search(r'<rect x="(\d+)" y="10" width="(\d+)" height="(\d+)"', str(chart.svg))
    x0, y0 = float(frame[1]), 10.0
    x1, y1 = x0 + float(frame[2]), y0 + float(frame[3])
    dots = re.findall(r'<circle cx="([-\d.]+)" cy="([-\d.]+)"', str(chart.svg))
    assert len(dots) == 599
    assert all(x0 <= float(x) <= x1 and y0 <= float(y) <= y1 for x, y in dots)
    # the central points spread over the height, not squeezed into one line by the 1e6
    ys = sorted(float(y) for _, y in dots)
    assert ys[len(ys) * 3 // 4] - ys[len(ys) // 4] > 0.2 * (y1 - y0)


def test_residual_caption_in_the_report(verdict: dict) -> None:
    from evalgate.data import Target
    from evalgate.models.predictions import Predictions
    from evalgate.report.plots import suite_plots

    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    label = y + rng.normal(0, 0.1, 500)
    label[np.argsort(y)[:400]] += 0  # same rows for both
    wild = label.copy()
    wild[:] = y + rng.normal(0, 0.3, 500)
    preds = {"candidate": Predictions(label=label, score=None),
             "champion": Predictions(label=wild, score=None)}
    plots = suite_plots("regression", Target(y=y, classes=None), preds, rng)
    points = [list(p) for p in plots.residuals["champion"].points]
    points[0][1] = float("nan")
    points[1][1] = 1e9
    doc = json.loads(json.dumps(plots.to_dict()))
    doc["residuals"]["champion"]["points"] = points
    regression = json.loads(json.dumps(verdict))
    regression["suites"][0]["plots"] = doc
    html = render(regression)
    caption = re.search(r"<figcaption>Residuals on the same[^<]*", html)[0]
    assert "300 of 500 rows, drawn at random" in caption
    assert "champion: 1 not finite, not drawn" in caption
    assert re.search(r"champion: \d+ beyond the axes, drawn on them", caption)


def test_roc_legend_names_each_model_with_its_auc(verdict: dict) -> None:
    html = render(verdict)
    auc = next(c for c in verdict["suites"][0]["checks"] if c["metric"] == "roc_auc")
    assert f"candidate · AUC {auc['candidate']:.4f}" in html
    assert f"champion · AUC {auc['champion']:.4f}" in html
    assert f"(<code>{verdict['candidate']['path']}</code>)" in html
    assert f"(<code>{verdict['champion']['path']}</code>)" in html


def test_breakable_marks_the_places_to_wrap_and_escapes() -> None:
    from evalgate.report import breakable

    assert str(breakable("performance::balanced_accuracy")) == \
        "performance::<wbr>balanced_<wbr>accuracy"
    assert str(breakable("0.9052 in <b>/x.onnx")) == "0.9052 in &lt;b&gt;/<wbr>x.<wbr>onnx"


def test_the_in_progress_page_blocks_and_escapes_without_the_templates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a run writes before it starts replaces an earlier report: a fixed BLOCK page with
    the reason, every text escaped, drawn without compiling the templates (the run compiles
    them once, for its real report)."""
    import evalgate.report as report
    from evalgate.verdict import in_progress
    from evalgate.verdict.decide import IN_PROGRESS

    def no_templates() -> None:
        raise AssertionError("the in-progress page compiled the templates")

    monkeypatch.setattr(report, "_environment", no_templates)
    hostile = tmp_path / "<script>alert(1)</script>&.onnx"
    page = render(in_progress(hostile, now()))
    assert '<span class="decision">BLOCK</span>' in page
    assert IN_PROGRESS in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;.onnx" in page
    assert "promote" not in page.lower()


def test_an_edited_verdict_never_reads_as_promote(verdict: dict) -> None:
    """A verdict whose decision was set to promote by hand, its checks failing: the page is
    the fixed BLOCK page saying it was edited, not a PROMOTE heading over failed checks."""
    import copy

    doc = copy.deepcopy(verdict)
    doc["suites"][0]["checks"][0]["status"] = "fail"  # the checks now give block
    doc["decision"] = "promote"
    page = render(doc)
    assert '<span class="decision">BLOCK</span>' in page and "PROMOTE" not in page
    assert "This verdict was edited: it records the decision &#x27;promote&#x27;" in page
    assert f'<span class="decision {verdict["decision"]}">' in render(verdict)  # unedited
