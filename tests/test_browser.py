"""The report in a real headless Chromium, network off: no console errors, no request leaves
the page, user data executes nothing, and the full-page screenshot is not blank.
Skipped where Chromium is not installed (`.ci/run` installs it)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import ADULT_TEST, CANDIDATE, CHAMPION, QUICK_CHECKS, suite_text
from tests.browser import Browser, chromium, open_page, png_pixels

BINARY = chromium()
pytestmark = pytest.mark.skipif(BINARY is None, reason="needs chromium (apt-get install chromium)")

HOSTILE_SUITE = "adult <script>window.__pwned = 1</script>"
HOSTILE_TARGET = "income\"><img src=x onerror=\"window.__pwned = 2\">"
HOSTILE_GROUP = "Black<script>window.__pwned = 3</script>'\""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real gate run whose suite name and target column carry markup."""
    from evalgate.output import finish
    from evalgate.runner import Gate, evaluate_paths
    from evalgate.verdict import now

    tmp = tmp_path_factory.mktemp("browser")
    data = tmp / "adult.csv"
    frame = pd.read_csv(ADULT_TEST).rename(columns={"income": HOSTILE_TARGET})
    frame["race"] = frame["race"].replace({"Black": HOSTILE_GROUP})
    frame.to_csv(data, index=False)
    suite = tmp / "suite.yaml"
    checks = QUICK_CHECKS + ("  bias:\n    groups: [race]\n    min_group_size: 500\n"
                             "    metrics: [selection_rate]\n"
                             "    max_difference: {selection_rate: 0.5}\n")
    text = suite_text(data=data, champion=CHAMPION, name="x", target=json.dumps(HOSTILE_TARGET),
                      checks=checks)
    suite.write_text(text.replace('suite: "x"', f"suite: {json.dumps(HOSTILE_SUITE)}"))
    outcomes = evaluate_paths(Gate(CANDIDATE), [suite])
    assert outcomes[0].error is None, outcomes[0].error
    written = finish(outcomes, candidate=CANDIDATE, report_dir=tmp, seed=None,
                     started_at=now(), duration_s=1.0)
    return written.report_path


@pytest.fixture(scope="module")
def page(report: Path):
    browser = Browser(BINARY)  # type: ignore[arg-type]
    try:
        session = open_page(browser, report.as_uri())
        yield browser, session
    finally:
        browser.close()


def test_no_console_errors_and_no_requests(page) -> None:
    browser, session = page
    browser.send("Runtime.evaluate", {"expression": "1"}, session=session)  # flush events
    methods = [e.get("method") for e in browser.events]
    assert "Runtime.exceptionThrown" not in methods
    errors = [e for e in browser.events if e.get("method") == "Log.entryAdded"
              and e["params"]["entry"]["level"] == "error"]
    assert errors == []
    console = [e for e in browser.events if e.get("method") == "Runtime.consoleAPICalled"]
    assert console == []
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests
    assert not [e for e in browser.events if e.get("method") == "Network.loadingFailed"]


def test_user_data_executes_nothing(page) -> None:
    browser, session = page
    probe = browser.send("Runtime.evaluate", {
        "expression": "JSON.stringify({pwned: window.__pwned === undefined ? null : "
                      "window.__pwned, scripts: document.scripts.length, "
                      "imgs: document.images.length, text: document.body.innerText})",
        "returnByValue": True}, session=session)
    found = json.loads(probe["result"]["value"])
    assert found["pwned"] is None
    assert found["scripts"] == 0 and found["imgs"] == 0
    assert HOSTILE_SUITE in found["text"]  # shown as text, not run
    assert HOSTILE_GROUP in found["text"]  # a group value from the data, in the bias chart
    assert "PROMOTE" in found["text"]


def test_full_page_screenshot_is_not_blank(page, tmp_path: Path) -> None:
    browser, session = page
    metrics = browser.send("Page.getLayoutMetrics", session=session)
    size = metrics["cssContentSize"]
    shot = browser.send("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                 "scale": 0.1}}, session=session)
    png = base64.b64decode(shot["data"])
    (tmp_path / "report.png").write_bytes(png)
    width, height, pixels = png_pixels(png)
    assert height > 2 * width  # a long page, not one screen
    channels = len(pixels) // (width * height)
    inked = sum(1 for i in range(0, len(pixels), channels) if min(pixels[i:i + 3]) < 200)
    assert inked / (width * height) > 0.02
    colors = {pixels[i:i + 3] for i in range(0, len(pixels), channels)}
    assert len(colors) > 20
