"""The model card (issue: lineage and evidence): ``evalgate card NAME`` writes model-card.md
(a Hugging Face front matter with ``model-index``) and an offline model-card.html from the
registry and the verdicts alone; every number in it is the verdict's."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from conftest import CANDIDATE, CHAMPION, QUICK_CHECKS, suite_text
from evalgate.cli import main
from evalgate.report import _num, _signed
from evalgate.verdict.signing import generate
from tests.browser import chromium, launch, open_report, overflow, screenshot_pixels, skip_reason

pytestmark = pytest.mark.e2e  # the gate runs through the CLI

BIAS = ("  bias:\n    groups: [race]\n    min_group_size: 500\n"
        "    metrics: [selection_rate]\n    max_regression: {selection_rate: 0.05}\n")
DESCRIPTION = "Income above 50K, for the loan pre-screen"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("card")
    (root / "suites").mkdir()
    (root / "suites" / "adult.yaml").write_text(suite_text(
        checks=QUICK_CHECKS + BIAS, extra=f"description: {json.dumps(DESCRIPTION)}\n"))
    (root / "pyproject.toml").write_text("[tool.evalgate]\n")
    generate(root / "keys")
    key = next(p for p in (root / "keys").iterdir() if not p.name.endswith(".pub.pem"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for step in (["run", str(CHAMPION), "--no-champion", "--report", "reports/first"],
                     ["promote", str(CHAMPION), "--name", "adult", "--verdict",
                      "reports/first/verdict.json"],
                     ["register", str(CANDIDATE), "--name", "adult", "--author", "Ada",
                      "--data", str(Path(str(CHAMPION)).parents[1] / "data" /
                                    "adult_train.csv.gz")],
                     ["run", str(CANDIDATE), "--champion", "registry:adult@champion"],
                     ["signoff", "reports/verdict.json", "--reviewer", "Bob", "--role", "risk",
                      "--key", str(key)],
                     ["promote", str(CANDIDATE), "--name", "adult"],
                     ["card", "adult", "--out", "card"]):
            assert main(step) == 0, step
    return root


def _verdict(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "reports" / "verdict.json").read_text())
    return doc


def test_the_front_matter_holds_the_verdicts_numbers(built: Path) -> None:
    text = (built / "card" / "model-card.md").read_text()
    assert text.startswith("---\n")
    meta = json.loads(text.split("---\n")[1])
    [result] = meta["model-index"][0]["results"]
    verdict = _verdict(built)
    expected = {c["id"]: c["candidate"] for c in verdict["suites"][0]["checks"]
                if c["family"] == "performance"}
    assert {m["name"]: m["value"] for m in result["metrics"]} == expected  # to the bit
    assert result["dataset"]["revision"] == verdict["suites"][0]["dataset"]["sha256"]
    assert meta["model_name"] == "adult v2"


def test_the_markdown_says_what_the_evidence_does_not_show(built: Path) -> None:
    text = (built / "card" / "model-card.md").read_text()
    assert f"- {DESCRIPTION}" in text                        # intended use, from the suite
    assert "Author: Ada; parent: v1" in text
    assert "32,561 rows × 15 columns" in text                # training data
    assert "race = Amer-Indian-Eskimo: too few rows to judge" in text
    assert "- Bob (risk)" in text and "signature verifies" in text
    assert "v1 " in text and "promote: v1 → v2" in text


def _rows(html: str) -> dict[str, list[str]]:
    table = html[html.index('<table class="checks">'):]
    table = table[:table.index("</table>")]
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
        cells = [unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        rows[cells[0]] = cells
    return rows


def test_every_number_in_the_page_is_the_verdicts(built: Path) -> None:
    rows = _rows((built / "card" / "model-card.html").read_text())
    checks = _verdict(built)["suites"][0]["checks"]
    assert set(rows) == {c["id"] for c in checks}
    for c in checks:
        _, status, value, _, champion, delta, bound = rows[c["id"]]
        assert status == c["status"]
        assert value == _num(c["candidate"]) and champion == _num(c["champion"])
        assert delta == _signed(c["delta"])
        assert bound == (_signed(c["ci"][0]) if c["delta"] is not None and c["ci"] else "—")


def test_a_broken_lineage_is_said_on_the_card(built: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "p"
    shutil.copytree(built, copy)
    monkeypatch.chdir(copy)
    signoff = next((copy / "registry" / "adult" / "verdicts").glob("*.signoff.json"))
    doc = json.loads(signoff.read_text())
    doc["verdict_sha256"] = "0" * 64
    signoff.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["card", "adult", "--out", "card2"]) == 1
    assert "broken link" in capsys.readouterr().out
    assert "Broken lineage" in (copy / "card2" / "model-card.html").read_text()


def test_a_version_never_promoted_says_so(built: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx

    copy = tmp_path / "p"
    shutil.copytree(built, copy)
    monkeypatch.chdir(copy)
    model = onnx.load(str(CANDIDATE))
    model.doc_string = "v3"
    onnx.save(model, str(copy / "v3.onnx"))
    assert main(["register", "v3.onnx", "--name", "adult"]) == 0
    assert main(["card", "adult", "--version", "3", "--out", "v3"]) == 0
    text = (copy / "v3" / "model-card.md").read_text()
    assert "# Model card: adult v3" in text
    assert "never promoted through the gate: no verdict backs it" in text
    assert "## Approvals\n\n- none" in text


SKIP = skip_reason()


@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
@pytest.mark.parametrize("width", [1400, 1920])
def test_the_card_in_a_browser(built: Path, width: int) -> None:
    from playwright.sync_api import sync_playwright

    binary = chromium()
    assert binary is not None
    with sync_playwright() as playwright:
        browser = launch(playwright, binary)
        try:
            visit = open_report(browser, built / "card" / "model-card.html", width)
            visit.page.evaluate("1")
            found = overflow(visit.page)
            png = visit.page.screenshot(full_page=True, type="png")
            pixels = screenshot_pixels(png, browser)
            visit.close()
        finally:
            browser.close()
    assert visit.errors == [] and visit.console == [] and visit.blocked == []
    assert visit.requests == [visit.url]
    assert found["wide"] == [] and found["scrollWidth"] <= found["innerWidth"], found
    assert pixels.inked / (pixels.width * pixels.height) > 0.01 and pixels.colors > 20


@pytest.mark.parametrize("damage", ["edit", "garbage", "remove"])
def test_an_altered_stored_verdict_shows_no_number(built: Path, tmp_path: Path, damage: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The card never shows numbers from a verdict that is not the one its promotion
    recorded, and a stored verdict that is unreadable or gone is one clear line, not a
    traceback."""
    copy = tmp_path / "p"
    shutil.copytree(built, copy)
    monkeypatch.chdir(copy)
    verdict = _verdict(copy)
    stored = next(p for p in (copy / "registry" / "adult" / "verdicts").glob("*.json")
                  if p.name.count(".") == 1 and json.loads(p.read_text())["candidate"]["sha256"]
                  == verdict["candidate"]["sha256"])
    if damage == "edit":
        stored.write_text(stored.read_text().replace('"decision": "promote"',
                                                     '"decision":"promote"'))
    elif damage == "garbage":
        stored.write_bytes(b"\x00not json")
    else:
        stored.unlink()
    capsys.readouterr()
    assert main(["card", "adult", "--out", "damaged"]) == 1
    text = (copy / "damaged" / "model-card.md").read_text()
    assert "is not the one its promotion recorded" in text
    assert "| `adult-income::performance::roc_auc`" not in text
    capsys.readouterr()
    assert main(["lineage", "adult"]) == 1
