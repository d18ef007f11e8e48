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
              "    max_flip_rate: 0.05\n")

WIDTHS = (1400, 1920)
VIEWS = [(kind, width) for kind in ("promote", "block") for width in WIDTHS]


@dataclass(frozen=True)
class Report:
    kind: str  # promote | block
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
    return found


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
    assert report.kind.upper() in found["text"]


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
