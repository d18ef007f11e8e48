"""The report in a real headless Chromium (the system one, driven by Playwright), network off,
at 1400 and 1920 CSS pixels wide, for a promoting and a blocking run: no console errors, no
request leaves the page, no element is wider than the page, user data executes nothing, and
the full-page screenshot is not blank. Skipped where Playwright or Chromium is missing
(`.ci/run` installs Chromium; `EVALGATE_CHROMIUM` names another binary)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

from conftest import ADULT_TEST, CANDIDATE, CHAMPION, QUICK_CHECKS, suite_text
from tests.browser import (
    Visit,
    browser_pixels,
    chromium,
    launch,
    midword_breaks,
    open_report,
    overflow,
    pillow_pixels,
    screenshot_pixels,
    skip_reason,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

SKIP = skip_reason()
pytestmark = [pytest.mark.skipif(SKIP is not None, reason=SKIP or ""), pytest.mark.e2e]

HOSTILE_SUITE = "adult <script>window.__pwned = 1</script>"
HOSTILE_TARGET = "income\"><img src=x onerror=\"window.__pwned = 2\">"
HOSTILE_GROUP = "Black<script>window.__pwned = 3</script>'\""
HOSTILE_BLOCKED = "adult-old <svg onload=\"window.__pwned = 4\">"

BIAS = ("  bias:\n    groups: [race]\n    min_group_size: 500\n"
        "    metrics: [selection_rate]\n    max_difference: {selection_rate: 0.5}\n")
# the old model returns NaN where numbers are missing: an error, on top of its regressions
ROBUSTNESS = ("  robustness:\n    perturbations:\n"
              "      missing_values: {columns: [age, hours-per-week], rate: 0.1}\n"
              "      gaussian_noise: {columns: [age], scale: 0.1}\n"
              "      rounding: {columns: [hours-per-week], decimals: -1}\n"
              "    max_flip_rate: 0.05\n")

WIDTHS = (1400, 1920)
KINDS = ("promote", "block", "crafted")
VIEWS = [(kind, width) for kind in KINDS for width in WIDTHS]
#: the crafted report's monotonic counterexample: a row of many long column names
WIDE_ROW = {f"a_rather_long_feature_name_number_{i:02d}": i * 1.5 for i in range(40)}
VARIED = "a_rather_long_feature_name_number_27"


@dataclass(frozen=True)
class Report:
    kind: str  # promote | block | crafted
    path: Path
    suite: str
    verdict: dict[str, Any]


def _statuses(verdict: dict[str, Any]) -> list[str]:
    return [c["status"] for s in verdict["suites"] for c in s["checks"]]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Two real gate runs through the CLI, whose suite names, target column and a group label
    carry markup: the new model against the old one (promote), and the README's blocking case,
    the old model against the new one (failures and an error)."""
    from evalgate.cli import main

    tmp = tmp_path_factory.mktemp("browser")
    data = tmp / "adult.csv"
    frame = pd.read_csv(ADULT_TEST).rename(columns={"income": HOSTILE_TARGET})
    frame["race"] = frame["race"].replace({"Black": HOSTILE_GROUP})
    frame.to_csv(data, index=False)
    runs = {"promote": (CANDIDATE, CHAMPION, HOSTILE_SUITE, QUICK_CHECKS + BIAS),
            "block": (CHAMPION, CANDIDATE, HOSTILE_BLOCKED, QUICK_CHECKS + BIAS + ROBUSTNESS)}
    found: dict[str, Report] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)  # the gate reads its settings from the folder it runs in
        for kind, (candidate, champion, name, checks) in runs.items():
            suite = tmp / f"{kind}.yaml"
            text = suite_text(data=data, champion=champion, name="x",
                              target=json.dumps(HOSTILE_TARGET), checks=checks)
            suite.write_text(text.replace('suite: "x"', f"suite: {json.dumps(name)}"),
                             encoding="utf-8")
            status = main(["run", str(candidate), "--champion", str(champion),
                           "--suites", str(suite), "--report", str(tmp / kind)])
            verdict = json.loads((tmp / kind / "verdict.json").read_text("utf-8"))
            found[kind] = Report(kind, tmp / kind / "evalgate-report.html", name, verdict)
            assert status == (0 if kind == "promote" else 1), (kind, _statuses(verdict))
    assert set(_statuses(found["promote"].verdict)) == {"pass"}
    assert {"pass", "fail", "error"} <= set(_statuses(found["block"].verdict))
    found["crafted"] = _crafted(found["block"], tmp / "crafted")
    return found


def _crafted(block: Report, directory: Path) -> Report:
    """The blocking run's verdict with what no shipped run shows: a failed monotonic check
    whose counterexample row holds 40 long column names (the varied one far to the right),
    and a champion fed by position from a long list of columns."""
    from evalgate.families.robustness.details import Counterexample, MonotonicDetails
    from evalgate.report import write_report

    verdict = json.loads(json.dumps(block.verdict))
    ce = Counterexample(data_row=7, row=WIDE_ROW, column=VARIED, before=40.5, after=41.5,
                        score_before=0.62, score_after=0.31, wrong_way=0.31)
    details = MonotonicDetails(column=VARIED, direction="increasing", tolerance=0.0,
                               score="P(>50K)", observed_range=(0.0, 60.0), rows_swept=200,
                               grid_size=8, violating_rows=12, violation_rate=0.06,
                               violation_rate_ci=(0.035, 0.1), examples_budget=50,
                               model_calls=400, method="hypothesis", counterexample=ce)
    suite = verdict["suites"][0]
    template = next(c for c in suite["checks"] if c["family"] == "robustness")
    suite["checks"].append({**template, "id": f"{template['id'].rsplit('::', 1)[0]}::monotonic::"
                            f"{VARIED}", "status": "fail", "metric": "monotonic_violation_rate",
                            "candidate": 0.06, "champion": None, "delta": None,
                            "ci": [None, 0.1], "threshold": {"max_violation_rate": 0.0},
                            "message": "a counterexample", "details": details.to_dict()})
    verdict["champion"]["inputs"] = {"mode": "by-position",
                                     "mapping": {"float_input": ",".join(WIDE_ROW)}}
    directory.mkdir()
    path = write_report(verdict, directory)
    return Report("crafted", path, block.suite, verdict)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    binary = chromium()
    assert binary is not None  # else the module is skipped
    with sync_playwright() as playwright:
        chrome = launch(playwright, binary)
        try:
            yield chrome
        finally:
            chrome.close()


@pytest.fixture(scope="module", params=VIEWS, ids=[f"{k}-{w}px" for k, w in VIEWS])
def visit(request: pytest.FixtureRequest, reports: dict[str, Report],
          browser: Browser) -> Iterator[tuple[Report, Visit]]:
    kind, width = request.param
    report = reports[kind]
    loaded = open_report(browser, report.path, width)
    try:
        yield report, loaded
    finally:
        loaded.close()


def test_no_console_errors_and_no_requests(visit: tuple[Report, Visit]) -> None:
    _, loaded = visit
    loaded.page.evaluate("1")  # flush whatever the page reported while loading
    assert loaded.errors == []
    assert loaded.console == []
    assert loaded.blocked == []
    assert loaded.failed == []
    assert loaded.requests == [loaded.url]


def test_no_element_is_wider_than_the_page(visit: tuple[Report, Visit]) -> None:
    _, loaded = visit
    found = overflow(loaded.page)
    wide = "\n  ".join(found["wide"])
    message = (f"at {found['innerWidth']} px the page is {found['scrollWidth']} px wide; "
               f"elements past the right edge:\n  {wide or '(none)'}")
    assert found["scrollWidth"] <= found["innerWidth"], message
    assert found["wide"] == [], message


def test_user_data_executes_nothing(visit: tuple[Report, Visit]) -> None:
    report, loaded = visit
    found = loaded.page.evaluate("""() => ({
        pwned: window.__pwned === undefined ? null : String(window.__pwned),
        scripts: document.scripts.length, images: document.images.length,
        text: document.body.innerText})""")
    assert found["pwned"] is None
    assert found["scripts"] == 0 and found["images"] == 0
    assert report.suite in found["text"]  # shown as text, not run
    assert HOSTILE_GROUP in found["text"]  # a group value from the data, in the bias chart
    assert report.verdict["decision"].upper() in found["text"]


def test_full_page_screenshot_is_not_blank(visit: tuple[Report, Visit], browser: Browser,
                                           tmp_path: Path) -> None:
    _, loaded = visit
    png = loaded.page.screenshot(full_page=True, type="png")
    (tmp_path / "report.png").write_bytes(png)  # kept for a look when this fails
    pixels = screenshot_pixels(png, browser)
    viewport = loaded.page.viewport_size
    assert viewport is not None
    assert pixels.width == viewport["width"], pixels
    assert pixels.height > viewport["height"], pixels  # a long page, not one screen
    # a blank page inks nothing; the report inks 2-5 % (less the wider the window: its column
    # of content keeps its width)
    assert pixels.inked / (pixels.width * pixels.height) > 0.01, pixels
    assert pixels.colors > 20, pixels


def test_both_screenshot_decoders_agree(reports: dict[str, Report], browser: Browser) -> None:
    """Where Pillow is installed, it and the in-browser decoder read the same pixels."""
    pytest.importorskip("PIL", reason="Pillow is not installed: only Chromium decodes")
    loaded = open_report(browser, reports["promote"].path, WIDTHS[0])
    try:
        png = loaded.page.screenshot(full_page=True, type="png")
    finally:
        loaded.close()
    pillow, chrome = pillow_pixels(png), browser_pixels(png, browser)
    assert (pillow.width, pillow.height) == (chrome.width, chrome.height)
    assert (pillow.inked, pillow.colors) == (chrome.inked, chrome.colors)


def test_checks_table_gives_the_explanation_room_and_wraps_ids_between_words(
        visit: tuple[Report, Visit]) -> None:
    """The checks table fills the page's column and no more; its explanation column is the
    widest; a check id wraps after `::` or `_`, never inside a word; numbers align right."""
    _, loaded = visit
    found = loaded.page.evaluate("""() => [...document.querySelectorAll('table.checks')].map(
        (t) => ({table: t.getBoundingClientRect().width, right: t.getBoundingClientRect().right,
                 columns: [...t.rows[0].cells].map((c) => c.getBoundingClientRect().width),
                 aligns: [...t.querySelectorAll('td.num')].map(
                     (c) => getComputedStyle(c).textAlign)}))""")
    assert found, "no checks table"
    for table in found:
        explanation = table["columns"][-1]
        assert explanation >= 0.3 * table["table"], table
        assert explanation == max(table["columns"]), table
        assert table["right"] <= loaded.page.evaluate("window.innerWidth"), table
        assert set(table["aligns"]) == {"right"}, table
    assert midword_breaks(loaded.page, "table.checks td:first-child code") == []
    assert midword_breaks(loaded.page, "table.robustness td:first-child code") == []


def test_counterexample_scrolls_within_the_page_with_the_varied_column_first(
        reports: dict[str, Report], browser: Browser) -> None:
    """A counterexample row wider than the page scrolls in its own box; its first column is
    the one the search varied, highlighted, showing the move."""
    for width in WIDTHS:
        loaded = open_report(browser, reports["crafted"].path, width)
        try:
            found = loaded.page.evaluate("""() => {
                const box = document.querySelector('table.counterexample').parentElement;
                const first = document.querySelector('table.counterexample th');
                const cell = document.querySelector('table.counterexample td');
                return {scrolls: box.scrollWidth > box.clientWidth,
                        boxRight: box.getBoundingClientRect().right,
                        overflowX: getComputedStyle(box).overflowX,
                        first: first.textContent, cell: cell.textContent,
                        firstBg: getComputedStyle(first).backgroundColor,
                        otherBg: getComputedStyle(first.nextElementSibling).backgroundColor};
            }""")
            assert found["scrolls"] and found["overflowX"] == "auto", found
            assert found["boxRight"] <= width, found
            assert found["first"] == VARIED and found["cell"] == "40.5 → 41.5", found
            assert found["firstBg"] != found["otherBg"], found
            assert overflow(loaded.page)["wide"] == []
        finally:
            loaded.close()


def test_inputs_mapping_is_shown_with_each_model(reports: dict[str, Report],
                                                browser: Browser) -> None:
    """Each model's row in "Models and data" says how its inputs were fed (by name, with the
    renamed ones; by position) and opens to the full mapping."""
    loaded = open_report(browser, reports["crafted"].path, WIDTHS[0])
    try:
        summaries = loaded.page.eval_on_selector_all(
            "details.inputs > summary", "(els) => els.map((e) => e.textContent)")
        loaded.page.click("details.inputs >> nth=0")
        rows = loaded.page.eval_on_selector_all(
            "details.inputs >> nth=0 >> tr", "(els) => els.map((e) => e.innerText)")
    finally:
        loaded.close()
    assert summaries[0].startswith("Inputs by name: 13 (6 matched after normalising the names)")
    assert summaries[1].startswith("Inputs by position: one tensor")
    assert any(r.split("\t") == ["hours_per_week", "hours-per-week (renamed)"] for r in rows), rows


def test_robustness_chart_draws_each_ceiling_and_each_error(reports: dict[str, Report],
                                                           browser: Browser) -> None:
    """The flip-rate chart draws max_flip_rate (0.05 in the blocking suite) as a labelled line
    at the x of 0.05 on its axis, and the errored perturbation as an error."""
    loaded = open_report(browser, reports["block"].path, WIDTHS[0])
    try:
        found = loaded.page.evaluate("""() => {
            const svg = [...document.querySelectorAll('svg')].find(
                (s) => s.querySelector('title').textContent === 'Flip rate per perturbation');
            const ticks = [...svg.querySelectorAll('text')].filter(
                (t) => /^[0-9.]+$/.test(t.textContent));
            const at = (v) => ticks.find((t) => Number(t.textContent) === v);
            return {limits: [...svg.querySelectorAll('line[stroke="#cf222e"]')].map(
                        (l) => Number(l.getAttribute('x1'))),
                    zero: Number(at(0).getAttribute('x')),
                    tick: ticks.filter((t) => Number(t.textContent) > 0).map(
                        (t) => [Number(t.textContent), Number(t.getAttribute('x'))])[0],
                    errors: [...svg.querySelectorAll('text[fill="#8250df"]')].map(
                        (t) => t.textContent),
                    labels: [...svg.querySelectorAll('text[fill="#cf222e"]')].map(
                        (t) => t.textContent)};
        }""")
    finally:
        loaded.close()
    suite = reports["block"].verdict["suites"][0]
    with_limit = [c for c in suite["checks"]
                  if c["metric"] == "flip_rate" and "max_flip_rate" in c["threshold"]]
    assert len(with_limit) == 2, with_limit
    # one ceiling shared by every row: one dashed line, labelled (else a tick per row)
    assert found["limits"] and found["labels"] == ["max_flip_rate 0.05"], found
    value, x = found["tick"]
    expected = found["zero"] + (x - found["zero"]) * 0.05 / value
    assert all(abs(limit - expected) < 0.6 for limit in found["limits"]), found
    assert found["errors"] == ["error: could not be judged (see the table)"], found
