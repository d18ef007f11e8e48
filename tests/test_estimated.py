"""Rows without labels (``data.target: null``): the performance checks are estimated by CBPE,
calibrated on labelled hold-out rows (``data.estimate_from``), refused outside their support,
marked as estimated in verdict.json; everything that needs labels is a suite error."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import ADULT_TEST, CANDIDATE, suite_text
from evalgate.cli import main
from evalgate.errors import SpecError
from evalgate.families import load_suite

pytestmark = pytest.mark.e2e

ESTIMATED = """\
  performance:
    accuracy: {min: 0.80}
    roc_auc:  {min: 0.85}
"""


def _suite(tmp_path: Path, unlabelled: Path, checks: str = ESTIMATED,
           estimate_from: str | None = None, champion: bool = False) -> Path:
    holdout = json.dumps(str(tmp_path / "holdout.parquet"))
    ef = estimate_from if estimate_from is not None else \
        f"  estimate_from: {{path: {holdout}, target: income}}\n"
    text = suite_text(data=unlabelled, target="null", checks=checks,
                      **({} if champion else {"champion": None}))
    text = text.replace("  sensitive: [sex, race]\n", ef)
    path = tmp_path / "suites" / "adult.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def rows(tmp_path: Path) -> pd.DataFrame:
    """Half of the Adult test split as labelled hold-out rows; the other half is returned."""
    frame = pd.read_csv(ADULT_TEST).sample(frac=1.0, random_state=0).reset_index(drop=True)
    half = len(frame) // 2
    frame.iloc[:half].to_parquet(tmp_path / "holdout.parquet", index=False)
    return frame.iloc[half:].reset_index(drop=True)


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\n")
    code = main(["run", str(CANDIDATE), "--no-champion"])
    return code, json.loads((tmp_path / "reports" / "verdict.json").read_text())


def test_rows_without_labels_get_estimated_checks(tmp_path: Path, rows: pd.DataFrame,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rows.drop(columns="income").to_parquet(tmp_path / "prod.parquet", index=False)
    _suite(tmp_path, tmp_path / "prod.parquet")
    code, verdict = _run(tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert code == 0, out
    suite = verdict["suites"][0]
    checks = {c["metric"]: c for c in suite["checks"]}
    for name in ("accuracy", "roc_auc"):
        c = checks[name]
        assert c["status"] == "pass" and c["method"] == "cbpe"
        lower, upper = c["ci"]
        assert lower < c["candidate"] < upper
        est = c["details"]["estimated"]
        assert est["reference_rows"] == len(pd.read_parquet(tmp_path / "holdout.parquet"))
        assert est["support_auc"] < 0.6 and est["calibration_error"] < 0.05
        assert "estimated without labels (CBPE)" in c["message"]
    # the realised values, which the gate never saw, lie inside the bounds
    from sklearn.metrics import accuracy_score

    from evalgate.models import load_model

    raw = load_model(CANDIDATE).predict(rows, [c for c in rows.columns if c != "income"])
    assert raw.labels is not None
    truth = accuracy_score(rows["income"], raw.labels)
    assert checks["accuracy"]["ci"][0] <= truth <= checks["accuracy"]["ci"][1]
    labelled = suite["dataset"]["labelled"]
    assert labelled["rows"] == est["reference_rows"] and len(labelled["sha256"]) == 64
    assert "plots" not in suite  # no labels: no ROC or confusion matrix to draw


def test_rows_outside_the_labelled_support_are_not_estimated(
        tmp_path: Path, rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    older = rows.drop(columns="income")
    older["age"] += 40
    older["hours-per-week"] += 30
    older.to_parquet(tmp_path / "prod.parquet", index=False)
    _suite(tmp_path, tmp_path / "prod.parquet")
    code, verdict = _run(tmp_path, monkeypatch)
    assert code == 1
    for c in verdict["suites"][0]["checks"]:
        assert c["status"] == "fail" and c["candidate"] is None
        assert "not estimated: the rows left the labelled rows' support" in c["message"]
        assert c["details"]["estimated"]["support_upper"] > 0.9


def test_an_estimate_below_the_bound_blocks(tmp_path: Path, rows: pd.DataFrame,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rows.drop(columns="income").to_parquet(tmp_path / "prod.parquet", index=False)
    _suite(tmp_path, tmp_path / "prod.parquet",
           checks="  performance:\n    accuracy: {min: 0.95}\n")
    code, verdict = _run(tmp_path, monkeypatch)
    assert code == 1
    assert verdict["suites"][0]["checks"][0]["status"] == "fail"


@pytest.mark.parametrize(("checks", "estimate_from", "message"), [
    ("  bias:\n    groups: [sex]\n    metrics: [selection_rate]\n"
     "    max_difference: {selection_rate: 0.3}\n", None,
     "the bias checks need labels, and data.target is null"),
    ("  performance:\n    accuracy: {max_regression: 0.01}\n", None,
     "a comparison with the champion needs labels"),
    ("  performance:\n    log_loss: {max: 0.5}\n", None,
     "log_loss cannot be estimated without labels"),
    (ESTIMATED, "", "need labelled rows to calibrate on: add estimate_from"),
    ("  drift:\n    reference: REF\n    label: {max_drift: 0.1}\n", None,
     "the label's drift needs labels"),
])
def test_what_needs_labels_is_a_suite_error(tmp_path: Path, rows: pd.DataFrame, checks: str,
                                            estimate_from: str | None, message: str) -> None:
    rows.drop(columns="income").to_parquet(tmp_path / "prod.parquet", index=False)
    checks = checks.replace("REF", json.dumps(str(tmp_path / "holdout.parquet")))
    path = _suite(tmp_path, tmp_path / "prod.parquet", checks=checks,
                  estimate_from=estimate_from)
    with pytest.raises(SpecError, match=message):
        load_suite(path)


def test_estimate_from_with_labels_and_null_targets_elsewhere_are_errors(
        tmp_path: Path, rows: pd.DataFrame) -> None:
    rows.to_parquet(tmp_path / "prod.parquet", index=False)
    path = _suite(tmp_path, tmp_path / "prod.parquet")
    path.write_text(path.read_text().replace("target: null", "target: income"))
    with pytest.raises(SpecError, match="estimate_from applies when the rows have no labels"):
        load_suite(path)
    path.write_text(path.read_text().replace("target: income", "target: null")
                    .replace("task: binary", "task: multiclass")
                    .replace('  positive_label: ">50K"\n', ""))
    with pytest.raises(SpecError, match="applies to task binary only"):
        load_suite(path)


def test_promotion_rechecks_the_labelled_rows(tmp_path: Path, rows: pd.DataFrame,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The estimates rest on the labelled rows as much as on the evaluation rows: promote
    refuses a verdict whose labelled rows changed since the run."""
    rows.drop(columns="income").to_parquet(tmp_path / "prod.parquet", index=False)
    _suite(tmp_path, tmp_path / "prod.parquet")
    code, _ = _run(tmp_path, monkeypatch)
    assert code == 0
    holdout = pd.read_parquet(tmp_path / "holdout.parquet")
    holdout.iloc[:10].to_parquet(tmp_path / "holdout.parquet", index=False)
    capsys.readouterr()
    assert main(["promote", str(CANDIDATE), "--name", "adult"]) != 0
    assert "the labelled rows of 'adult-income'" in capsys.readouterr().err
    holdout.to_parquet(tmp_path / "holdout.parquet", index=False)  # the bytes judged
    assert main(["promote", str(CANDIDATE), "--name", "adult"]) == 0


def test_the_dask_engine_estimates_the_same(tmp_path: Path, rows: pd.DataFrame) -> None:
    """No feature column reaches the driver: the support check's rows come as a sample the
    workers send (the same for any partitioning), and every number is the local engine's."""
    pytest.importorskip("distributed")
    from evalgate.config import EngineChoice
    from evalgate.engine import Gate, evaluate_paths
    from evalgate.engine.dask import DaskEngine

    (tmp_path / "prod").mkdir()
    unlabelled = rows.drop(columns="income")
    for i, part in enumerate((unlabelled.iloc[:3000], unlabelled.iloc[3000:])):
        part.to_parquet(tmp_path / "prod" / f"p{i}.parquet", index=False)
    path = _suite(tmp_path, tmp_path / "prod")
    engine = DaskEngine(EngineChoice("dask", None, 2))
    try:
        [far] = evaluate_paths(Gate(CANDIDATE, engine=engine), [path])
    finally:
        engine.close()
    [near] = evaluate_paths(Gate(CANDIDATE), [path])
    assert far.dataset is not None and list(far.dataset.frame.columns) == []
    assert [r.as_dict() for r in far.results] == [r.as_dict() for r in near.results]
    assert {r.status for r in near.results} == {"pass"}


def test_rows_that_still_carry_the_label_column_are_refused(
        tmp_path: Path, rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """target: null on rows that have the labelled rows' target column: either they have
    labels (measure, do not estimate) or the column is fed to the model as a feature."""
    rows.to_parquet(tmp_path / "prod.parquet", index=False)
    _suite(tmp_path, tmp_path / "prod.parquet")
    code, verdict = _run(tmp_path, monkeypatch)
    assert code == 1
    assert "the rows have a column 'income', the labelled rows' target" in \
        verdict["suites"][0]["checks"][0]["message"]


def test_a_verdict_that_drops_its_labelled_rows_is_not_promoted(
        tmp_path: Path, rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    rows.drop(columns="income").to_parquet(tmp_path / "prod.parquet", index=False)
    _suite(tmp_path, tmp_path / "prod.parquet")
    code, verdict = _run(tmp_path, monkeypatch)
    assert code == 0
    del verdict["suites"][0]["dataset"]["labelled"]
    (tmp_path / "reports" / "verdict.json").write_text(json.dumps(verdict))
    capsys.readouterr()
    assert main(["promote", str(CANDIDATE), "--name", "adult"]) != 0
    assert "the verdict names no labelled rows" in capsys.readouterr().err


def test_too_few_labelled_rows_block_with_a_clear_message(
        tmp_path: Path, rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """50 labelled rows cannot calibrate anything: every estimated check is an error saying
    so, and the gate blocks."""
    rows.drop(columns="income").to_parquet(tmp_path / "prod.parquet", index=False)
    _suite(tmp_path, tmp_path / "prod.parquet")
    pd.read_parquet(tmp_path / "holdout.parquet").head(50).to_parquet(
        tmp_path / "holdout.parquet", index=False)
    code, verdict = _run(tmp_path, monkeypatch)
    assert code == 1
    for c in verdict["suites"][0]["checks"]:
        assert c["status"] == "error"
        assert "a calibration needs both classes and at least 200 labelled rows, got 50" \
            in c["message"]


def test_labelled_rows_written_twice_are_refused(tmp_path: Path, rows: pd.DataFrame,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The hold-out rows CBPE is calibrated on, copied, narrow every estimated bound: refused
    as evaluation rows are."""
    holdout = pd.read_parquet(tmp_path / "holdout.parquet")
    pd.concat([holdout, holdout]).to_parquet(tmp_path / "holdout.parquet", index=False)
    rows.drop(columns="income").to_parquet(tmp_path / "prod.parquet", index=False)
    _suite(tmp_path, tmp_path / "prod.parquet")
    code, verdict = _run(tmp_path, monkeypatch)
    assert code == 1
    messages = [c["message"] for c in verdict["suites"][0]["checks"]]
    assert all("the labelled rows (data.estimate_from)" in m and "repeat an earlier row" in m
               for m in messages), messages
