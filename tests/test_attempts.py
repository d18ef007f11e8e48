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
    current = attempts.SKETCH_HASHING

    def the_old_way(self: Any, *args: Any) -> None:
        monkeypatch.setattr(attempts, "SKETCH_HASHING", 1)  # the first trial's entry
        recorded(self, *args)
        monkeypatch.setattr(attempts, "SKETCH_HASHING", current)
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



def _sample(rows: int = 1500) -> pd.DataFrame:
    return pd.read_csv(ADULT_TEST).iloc[:rows]


def test_the_same_rows_rewritten_continue_the_attempt_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``spend``, the same rows shuffled, saved as parquet or given a column no model
    reads are the same rows: the third candidate is the third attempt (α/12). The count was
    keyed on the file's sha256, so each rewrite made the next candidate a first attempt (α/2)
    and a truly worse one got through 10.7% of the time over 5 tries, 32% over 20."""
    frame = _sample()
    frame.to_csv(tmp_path / "rows.csv", index=False)
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    shuffled.to_parquet(tmp_path / "rows.parquet", index=False)
    extra = shuffled[list(reversed(shuffled.columns))].assign(batch="2024-06")
    extra.to_csv(tmp_path / "rows_extra.csv", index=False)
    project(tmp_path, monkeypatch, data=tmp_path / "rows.csv", policy="spend")
    assert gate(variant(tmp_path / "v1.onnx", "v1"))["attempt"] == 1
    project(tmp_path, monkeypatch, data=tmp_path / "rows.parquet", policy="spend")
    second = gate(variant(tmp_path / "v2.onnx", "v2"))
    assert second["attempt"] == 2
    project(tmp_path, monkeypatch, data=tmp_path / "rows_extra.csv", policy="spend")
    third = gate(variant(tmp_path / "v3.onnx", "v3"))
    assert third["attempt"] == 3
    assert third["suites"][0]["spending"]["alpha_used"] == pytest.approx(ALPHA / 12)
    project(tmp_path, monkeypatch, data=tmp_path / "rows.csv", policy="spend")
    assert gate(variant(tmp_path / "v2.onnx", "v2"))["attempt"] == 2  # keeps its rank


def test_an_unused_column_and_a_renamed_suite_do_not_restart_the_looks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a block on 300 rows, the same checks on 600 rows that hold those 300 — with a
    column neither model reads, under another ``suite:`` name — are the second look (α/4).
    The rows were hashed over every column and the looks matched on the suite's name, so
    either change gave a first look at the full α again."""
    frame = pd.read_csv(ADULT_TEST)
    frame.iloc[:300].to_csv(tmp_path / "first.csv", index=False)
    frame.iloc[:600].assign(batch="2024-06").to_csv(tmp_path / "then.csv", index=False)
    project(tmp_path, monkeypatch, data=tmp_path / "first.csv", checks=STRICT)
    assert gate(CANDIDATE)["decision"] == "block"
    (tmp_path / "suites" / "adult.yaml").write_text(suite_text(
        data=tmp_path / "then.csv", champion=CHAMPION, checks=STRICT, name="adult-renamed"))
    spending = gate(CANDIDATE)["suites"][0]["spending"]
    assert spending["look"] == 2 and spending["alpha_used"] == pytest.approx(ALPHA / 4)


def test_a_re_run_with_other_statistical_settings_is_another_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same candidate on the same bytes again with another ``--seed``, ``n_resamples`` or
    ``confidence`` draws the decision again: each is another look (α/4, α/16, …); the same
    settings again are the same run, free. Each was recorded as attempt 1, look 1 at α."""
    project(tmp_path, monkeypatch, data=_write(tmp_path, _sample(300)), checks=STRICT)

    def look(*args: str) -> int:
        main(["run", str(CANDIDATE), *args])
        doc = json.loads(Path("reports/verdict.json").read_text("utf-8"))
        assert doc["attempt"] == 1 and doc["decision"] == "block"
        spending = doc["suites"][0]["spending"]
        level = spending["alpha"] / 4 ** (spending["look"] - 1)
        assert spending["alpha_used"] == pytest.approx(level)
        return int(spending["look"])

    assert look() == 1
    assert look() == 1  # the identical re-run: free
    assert look("--seed", "1") == 2
    assert look("--seed", "1") == 2
    assert look("--seed", "2") == 3
    suite = tmp_path / "suites" / "adult.yaml"
    suite.write_text(suite.read_text("utf-8").replace("n_resamples: 400", "n_resamples: 500"))
    assert look() == 4
    suite.write_text(suite.read_text("utf-8").replace("confidence: 0.95", "confidence: 0.9"))
    assert look() == 5


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "rows.csv") -> Path:
    frame.to_csv(tmp_path / name, index=False)
    return tmp_path / name


def test_trials_recorded_before_rows_were_identified_by_content_count_conservatively(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry without ``rows_sha256`` (written by an earlier evalgate) cannot be compared by
    its rows: it counts as an attempt on these rows when it has as many rows (or the same
    bytes), and as an earlier look when it has not the same statistical settings recorded."""
    from evalgate.registry import attempts

    frame = _sample()
    recorded = attempts.AttemptLedger._change

    def the_old_way(self: Any, state: Any, data: dict[str, Any]) -> Any:
        for key in ("rows_sha256", "checks", "seed", "n_resamples", "confidence"):
            data.pop(key, None)
        data["sketch_hashing"] = 2
        return recorded(self, state, data)

    project(tmp_path, monkeypatch, data=_write(tmp_path, frame), policy="spend")
    with monkeypatch.context() as m:
        m.setattr(attempts.AttemptLedger, "_change", the_old_way)
        gate(variant(tmp_path / "v1.onnx", "v1"))
    shuffled = frame.sample(frac=1.0, random_state=2)
    project(tmp_path, monkeypatch, data=_write(tmp_path, shuffled, "shuffled.csv"),
            policy="spend")
    assert gate(variant(tmp_path / "v2.onnx", "v2"))["attempt"] == 2
    project(tmp_path, monkeypatch, data=_write(tmp_path, frame.iloc[:700], "fewer.csv"),
            policy="spend")
    assert gate(variant(tmp_path / "v3.onnx", "v3"))["attempt"] == 1  # other rows


def test_promote_under_spend_needs_the_try_this_ledger_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Under attempts = "spend", a verdict gated once under "warn", or against another
    registry's (empty) ledger, judged a later try at a first try's level: promote refuses it;
    the try this registry's ledger counted promotes."""
    root = project(tmp_path, monkeypatch, policy="spend")
    assert main(["run", str(CHAMPION), "--no-champion", "--report", "reports/first"]) == 0
    assert main(["promote", str(CHAMPION), "--name", "adult", "--verdict",
                 "reports/first/verdict.json"]) == 0
    promote = ["promote", str(CANDIDATE), "--name", "adult"]
    for setting, needle in (('attempts = "warn"', "judged with attempts = 'warn'"),
                            ('attempts = "spend"\nregistry = "scratch"', "no such try")):
        (root / "pyproject.toml").write_text(f"[tool.evalgate]\n{setting}\n")
        assert gate(CANDIDATE)["decision"] == "promote"
        (root / "pyproject.toml").write_text('[tool.evalgate]\nattempts = "spend"\n')
        capsys.readouterr()
        assert main(promote) == 1
        assert needle in capsys.readouterr().err
    assert gate(CANDIDATE)["decision"] == "promote"
    assert main(promote) == 0, capsys.readouterr().err
