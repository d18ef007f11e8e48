"""Many candidates, many looks: the ledger of tries against each champion, and the level each
try is judged at (evalgate.stats.spending, evalgate.registry.attempts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx
import pandas as pd
import pytest

from conftest import ADULT_TEST, CANDIDATE, CHAMPION, suite_text
from evalgate.cli import main
from evalgate.stats.spending import attempt_alpha, inflation, look_alpha

ALPHA = 0.05
#: a check the shipped candidate cannot pass: it blocks on any rows
STRICT = "  performance:\n    roc_auc: {min_improvement: 0.05}\n"
#: checks whose point estimates sit inside their margins with the shipped models
CHECKS = """\
  performance:
    roc_auc:  {min: 0.85, max_regression: 0.005}
    accuracy: {min: 0.80, max_regression: 0.01}
"""


def test_spending_sums_to_alpha() -> None:
    total = sum(attempt_alpha(ALPHA, k, "spend") for k in range(1, 100_000))
    assert total == pytest.approx(ALPHA, rel=1e-4) and total < ALPHA
    assert attempt_alpha(ALPHA, 7, "warn") == ALPHA
    assert [look_alpha(ALPHA, j) for j in (1, 2, 3)] == [ALPHA, ALPHA / 4, ALPHA / 16]
    assert inflation(ALPHA, 5) == pytest.approx(1 - 0.95**5)


def variant(path: Path, note: str) -> Path:
    """The candidate's graph under other bytes (a new doc string): another candidate."""
    model = onnx.load(str(CANDIDATE))
    model.doc_string = note
    onnx.save(model, str(path))
    return path


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, data: Path = ADULT_TEST,
            policy: str | None = None, checks: str = CHECKS) -> Path:
    (tmp_path / "suites").mkdir(exist_ok=True)
    (tmp_path / "suites" / "adult.yaml").write_text(suite_text(data=data, champion=CHAMPION,
                                                               checks=checks))
    if policy is not None:
        (tmp_path / "pyproject.toml").write_text(f'[tool.evalgate]\nattempts = "{policy}"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def gate(candidate: Path) -> dict[str, Any]:
    main(["run", str(candidate)])
    doc: dict[str, Any] = json.loads(Path("reports/verdict.json").read_text("utf-8"))
    return doc


def test_the_second_candidate_is_the_second_attempt_and_the_verdict_says_how_far_it_grew(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, monkeypatch)
    first = gate(CANDIDATE)
    assert first["attempt"] == 1 and first["suites"][0]["spending"]["note"] == ""
    again = gate(CANDIDATE)  # the same bytes keep their rank
    assert again["attempt"] == 1
    second = gate(variant(tmp_path / "v2.onnx", "v2"))
    spending = second["suites"][0]["spending"]
    assert second["attempt"] == 2 and spending["alpha_used"] == ALPHA  # warn: judged at α
    assert "2nd candidate" in spending["note"] and "up to 10%" in spending["note"]
    assert all(c["confidence"] == 0.95 for c in second["suites"][0]["checks"])
    summary = (tmp_path / "reports" / "summary.md").read_text("utf-8")
    assert "tries: adult-income — the 2nd candidate" in summary
    html = (tmp_path / "reports" / "evalgate-report.html").read_text("utf-8")
    assert "Tries:" in html and "2nd candidate" in html


def test_spend_judges_the_kth_attempt_at_alpha_over_k_k_plus_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, monkeypatch, policy="spend")
    first = gate(CANDIDATE)
    assert first["suites"][0]["spending"]["alpha_used"] == pytest.approx(ALPHA / 2)
    third = None
    for k in (2, 3):
        third = gate(variant(tmp_path / f"v{k}.onnx", f"v{k}"))
    assert third is not None and third["attempt"] == 3
    used = ALPHA / 12
    assert third["suites"][0]["spending"]["alpha_used"] == pytest.approx(used)
    comparing = [c for c in third["suites"][0]["checks"] if c["delta"] is not None]
    assert comparing and all(c["confidence"] == pytest.approx(1 - used) for c in comparing)


def test_a_candidate_evaluated_again_on_more_rows_after_a_block_is_a_second_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    half = tmp_path / "half.csv"
    pd.read_csv(ADULT_TEST).iloc[:300].to_csv(half, index=False)
    project(tmp_path, monkeypatch, data=half, checks=STRICT)
    small = gate(CANDIDATE)
    assert small["decision"] == "block" and small["suites"][0]["spending"]["look"] == 1
    same = gate(CANDIDATE)  # the same rows again: no new evidence, no new look
    assert same["suites"][0]["spending"]["look"] == 1
    project(tmp_path, monkeypatch, checks=STRICT)  # the whole split: a superset of those rows
    more = gate(CANDIDATE)
    spending = more["suites"][0]["spending"]
    assert spending["look"] == 2 and spending["alpha_used"] == pytest.approx(ALPHA / 4)
    assert "2nd look" in spending["note"]
    comparing = [c for c in more["suites"][0]["checks"] if c["delta"] is not None]
    assert all(c["confidence"] == pytest.approx(1 - ALPHA / 4) for c in comparing)


def _second_look(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: pd.DataFrame,
                 then: pd.DataFrame) -> int:
    """The look of the candidate on ``then`` after it blocked on ``first``."""
    for name, rows in (("first", first), ("then", then)):
        rows.to_csv(tmp_path / f"{name}.csv", index=False)
    project(tmp_path, monkeypatch, data=tmp_path / "first.csv", checks=STRICT)
    assert gate(CANDIDATE)["decision"] == "block"
    project(tmp_path, monkeypatch, data=tmp_path / "then.csv", checks=STRICT)
    look: int = gate(CANDIDATE)["suites"][0]["spending"]["look"]
    return look


def test_more_rows_with_a_missing_value_are_still_a_second_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The later data's one missing value makes an integer column read as float64: the rows
    the first look judged must still be known among the later ones (hashed by dtype, every
    earlier row hashed anew, and the second look was judged as a first, at α)."""
    import numpy as np

    frame = pd.read_csv(ADULT_TEST)
    grown = frame.iloc[:600].copy()
    grown.loc[450, "fnlwgt"] = np.nan  # a column neither model reads
    assert _second_look(tmp_path, monkeypatch, frame.iloc[:300], grown) == 2


def test_a_trial_hashed_the_old_way_counts_as_a_look(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger written before rows were hashed as float64 may not know its rows among the
    later data's: such a trial counts as an earlier look (the stricter reading)."""
    from evalgate.registry import attempts

    frame = pd.read_csv(ADULT_TEST)
    recorded = attempts.AttemptLedger.record

    def the_old_way(self: Any, *args: Any) -> None:
        monkeypatch.setattr(attempts, "SKETCH_HASHING", 1)  # the first trial's entry
        recorded(self, *args)
        monkeypatch.setattr(attempts, "SKETCH_HASHING", 2)
        monkeypatch.setattr(attempts.AttemptLedger, "record", recorded)

    monkeypatch.setattr(attempts.AttemptLedger, "record", the_old_way)
    assert _second_look(tmp_path, monkeypatch, frame.iloc[:300], frame.iloc[300:]) == 2


def test_other_rows_that_do_not_contain_the_earlier_ones_are_no_second_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.read_csv(ADULT_TEST)
    assert _second_look(tmp_path, monkeypatch, frame.iloc[:300], frame.iloc[300:]) == 1


def test_a_ledger_edited_by_hand_blocks_the_gate(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, monkeypatch)
    gate(CANDIDATE)
    gate(variant(tmp_path / "v2.onnx", "v2"))
    log = tmp_path / "registry" / ".attempts" / "audit.jsonl"
    lines = log.read_text("utf-8").splitlines()
    log.write_text(lines[0] + "\n", "utf-8")  # forget the second candidate
    doc = gate(variant(tmp_path / "v3.onnx", "v3"))
    assert doc["decision"] == "block"
    assert "attempts ledger" in doc["suites"][0]["error"]

