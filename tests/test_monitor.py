"""The reference profile (written with the verdict, bound to it by sha256, stored at
promotion) and ``evalgate monitor``: the champion against production batches, alerts as exit
status, a hash-chained monitoring log."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ADULT_TEST, CHAMPION, EXAMPLES, QUICK_CHECKS, suite_text
from evalgate.cli import main

pytestmark = pytest.mark.e2e  # each test runs the whole gate through the CLI

#: a drift section over every feature: the profile holds each one's histogram
TRAIN = json.dumps(str(EXAMPLES / "data" / "adult_train.csv.gz"))
CHECKS = QUICK_CHECKS + f"  drift:\n    reference: {TRAIN}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "adult.yaml").write_text(suite_text(checks=CHECKS))
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _released(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The example champion gated as a first release and promoted as model ``adult``."""
    assert main(["run", str(CHAMPION), "--no-champion"]) == 0
    assert main(["promote", str(CHAMPION), "--name", "adult"]) == 0
    capsys.readouterr()


def test_the_profile_holds_the_columns_the_gate_read(project: Path) -> None:
    (project / "suites" / "adult.yaml").write_text(suite_text())  # performance only
    assert main(["run", str(CHAMPION), "--no-champion"]) == 0
    suite = json.loads((project / "reports" / "profile.json").read_text())["suites"][0]
    assert set(suite["columns"]) == {"sex", "race"}  # the sensitive columns, no feature
    assert suite["label"]["categories"] == ["<=50K", ">50K"] and "prediction" in suite


def test_the_profile_is_bound_to_the_verdict(project: Path) -> None:
    assert main(["run", str(CHAMPION), "--no-champion"]) == 0
    verdict = json.loads((project / "reports" / "verdict.json").read_text())
    ref = verdict["profile"]
    raw = (project / "reports" / ref["file"]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == ref["sha256"]
    profile = json.loads(raw)
    suite = profile["suites"][0]
    assert suite["dataset"]["rows"] == 16281 and "income" not in suite["columns"]
    assert set(suite["columns"]) == {c for c in pd.read_csv(ADULT_TEST).columns if c != "income"}
    age = suite["columns"]["age"]
    assert age["kind"] == "numeric" and sum(age["counts"]) == 16281 and len(age["sums"]) == \
        len(age["edges"]) + 1
    # a column the drift family judged: on the drift reference's bins (the training data's)
    train = pd.read_csv(EXAMPLES / "data" / "adult_train.csv.gz")
    assert age["edges"] == sorted(set(np.quantile(train["age"], np.arange(1, 100) / 100,
                                                  method="inverted_cdf").tolist()))
    assert suite["columns"]["sex"]["categories"][:2] == ["Male", "Female"]
    assert suite["prediction"]["kind"] == "numeric"  # the candidate's P(>50K)


def test_a_changed_profile_is_refused_at_promotion(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(CHAMPION), "--no-champion"]) == 0
    path = project / "reports" / "profile.json"
    path.write_text(path.read_text().replace('"rows":16281', '"rows":16280', 1))
    assert main(["promote", str(CHAMPION), "--name", "adult"]) == 1
    err = capsys.readouterr().err
    assert "the reference profile is not the one the verdict names" in err


def test_monitor_is_quiet_on_the_gate_time_data_and_alerts_on_a_drifted_batch(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _released(project, capsys)
    assert main(["monitor", "adult", "--data", str(ADULT_TEST)]) == 0
    out = capsys.readouterr().out
    assert "no alert" in out and "ALERT" not in out
    batch = pd.read_csv(ADULT_TEST).sample(5000, random_state=0)
    batch["hours-per-week"] = batch["hours-per-week"] + 8
    batch["age"] = batch["age"] + 6
    batch.to_parquet(project / "batch.parquet", index=False)
    assert main(["monitor", "adult", "--data", "batch.parquet"]) == 1
    out = capsys.readouterr().out
    assert "ALERT     hours-per-week" in out and "ALERT     age" in out
    assert "OK        sex" in out
    assert "ALERT (" in out.splitlines()[-1]
    log = (project / "registry" / "adult" / "monitor.jsonl").read_bytes().splitlines()
    assert len(log) == 2
    first, second = (json.loads(line) for line in log)
    assert first["prev"] is None and second["prev"] == hashlib.sha256(log[0]).hexdigest()
    assert set(second["alerts"]) >= {"age", "hours-per-week", "prediction"}
    assert second["data"]["rows"] == 5000 and second["version"] == 1


def test_an_edited_monitoring_log_is_not_extended(project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _released(project, capsys)
    assert main(["monitor", "adult", "--data", str(ADULT_TEST)]) == 0
    assert main(["monitor", "adult", "--data", str(ADULT_TEST)]) == 0
    log = project / "registry" / "adult" / "monitor.jsonl"
    lines = log.read_text().splitlines()
    log.write_text(lines[0].replace('"alerts": []', '"alerts": ["x"]') + "\n" + lines[1] + "\n"
                   if '"alerts": []' in lines[0] else
                   lines[0].replace('"alerts":[]', '"alerts":["x"]') + "\n" + lines[1] + "\n")
    capsys.readouterr()
    assert main(["monitor", "adult", "--data", str(ADULT_TEST)]) == 2
    assert "the hash chain is broken" in capsys.readouterr().err


def test_monitor_needs_a_champion_with_a_profile(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", str(CHAMPION), "--name", "adult"]) == 0
    assert main(["monitor", "adult", "--data", str(ADULT_TEST)]) == 2
    assert "has no champion to monitor" in capsys.readouterr().err


def test_the_shipped_batches(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README's walk-through: May's batch is like the gate's data, June's comes from an older
    population working longer hours."""
    _released(project, capsys)
    assert main(["monitor", "adult", "--data",
                 str(EXAMPLES / "data" / "batch_2024_05.csv.gz")]) == 0
    assert "no alert (" in capsys.readouterr().out
    assert main(["monitor", "adult", "--data",
                 str(EXAMPLES / "data" / "batch_2024_06.csv.gz")]) == 1
    out = capsys.readouterr().out
    alerted = {line.split()[1].rstrip(":") for line in out.splitlines()
               if line.startswith("ALERT ")}
    assert {"age", "hours-per-week"} <= alerted
    assert all(a in ("age", "hours-per-week", "prediction") or a.startswith("performance:")
               for a in alerted)


def test_a_batch_whose_labels_moved_alerts_on_performance(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With labels in the batch, each metric the gate judged with a max_regression is
    compared with its gate-time value: a world where 30% of the labels changed alerts."""
    _released(project, capsys)
    batch = pd.read_csv(ADULT_TEST).sample(5000, random_state=1)
    flip = np.random.default_rng(0).random(len(batch)) < 0.3
    batch.loc[flip, "income"] = np.where(batch.loc[flip, "income"] == ">50K", "<=50K", ">50K")
    batch.to_parquet(project / "moved.parquet", index=False)
    assert main(["monitor", "adult", "--data", "moved.parquet"]) == 1
    out = capsys.readouterr().out
    for metric in ("roc_auc", "accuracy", "log_loss"):
        assert f"ALERT     performance:{metric}: {metric} " in out, out
    assert "at the gate: Δ -" in out
    same = pd.read_csv(ADULT_TEST).sample(5000, random_state=2)
    same.to_parquet(project / "same.parquet", index=False)
    assert main(["monitor", "adult", "--data", "same.parquet"]) == 0
    assert "ALERT" not in capsys.readouterr().out


def test_a_champion_gated_against_a_champion_alerts_too(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A release judged against an earlier champion: its verdict's ``ci`` is Δ's bound, not
    the value's. Read as the value's, the gate's half-width was about the AUC itself and a
    batch with its labels shuffled raised no alert."""
    from conftest import CANDIDATE

    _released(project, capsys)
    assert main(["run", str(CANDIDATE), "--champion", str(CHAMPION)]) == 0
    assert main(["promote", str(CANDIDATE), "--name", "adult"]) == 0
    capsys.readouterr()
    batch = pd.read_csv(ADULT_TEST).sample(5000, random_state=1)
    batch["income"] = np.random.default_rng(0).permutation(batch["income"].to_numpy())
    batch.to_parquet(project / "shuffled.parquet", index=False)
    assert main(["monitor", "adult", "--data", "shuffled.parquet"]) == 1
    out = capsys.readouterr().out
    assert "ALERT     performance:roc_auc: roc_auc " in out, out


def test_the_example_manifest_lists_every_shipped_file() -> None:
    """examples/manifest.json: the sha256 and size of every data and model file shipped."""
    manifest = json.loads((EXAMPLES / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    shipped = {str(p.relative_to(EXAMPLES)) for folder in ("data", "models")
               for p in (EXAMPLES / folder).iterdir() if p.is_file()}
    assert set(listed) == shipped
    for path, f in listed.items():
        raw = (EXAMPLES / path).read_bytes()
        assert (hashlib.sha256(raw).hexdigest(), len(raw)) == (f["sha256"], f["size"]), path


def test_the_trend_page(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--report``: every batch judged so far on one offline page, alerts marked, nothing
    loaded from anywhere, the batch names escaped."""
    _released(project, capsys)
    assert main(["monitor", "adult", "--data",
                 str(EXAMPLES / "data" / "batch_2024_05.csv.gz")]) == 0
    odd = project / "<june&>.csv.gz"
    odd.write_bytes((EXAMPLES / "data" / "batch_2024_06.csv.gz").read_bytes())
    assert main(["monitor", "adult", "--data", str(odd), "--report"]) == 1
    page = (project / "reports" / "monitor-adult.html").read_text()
    assert page.count("<svg") >= 16 and "2 batch(es)" in page
    assert "&lt;june&amp;&gt;" in page and "<june&>" not in page
    assert "<h3>age <span class=alert>1 alert(s)</span></h3>" in page
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert main(["monitor", "adult", "--report", "--out", str(project / "elsewhere")]) == 0
    assert (project / "elsewhere" / "monitor-adult.html").read_text() == page
    assert main(["monitor", "adult"]) == 2
    assert "needs --data BATCH, --report, or both" in capsys.readouterr().err


def test_a_batch_without_labels_gets_its_performance_estimated(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No labels yet: CBPE estimates each metric it can (not log loss) from the champion's
    scores and the reliability table the profile holds; a batch of the rows the champion
    finds hardest alerts; a batch outside the gate data's support is not estimated."""
    from evalgate.models import load_model

    _released(project, capsys)
    profile = json.loads((project / "reports" / "profile.json").read_text())["suites"][0]
    assert profile["calibration"]["threshold"] == 0.5
    assert sum(profile["calibration"]["rows"]) == profile["dataset"]["rows"]
    assert profile["columns"]["age"]["min"] == 17 and profile["columns"]["age"]["max"] == 90

    rows = pd.read_csv(ADULT_TEST)
    unlabelled = rows.drop(columns="income")
    unlabelled.sample(5000, random_state=3).to_parquet(project / "like.parquet", index=False)
    assert main(["monitor", "adult", "--data", "like.parquet"]) == 0
    out = capsys.readouterr().out
    assert "OK        performance:accuracy: accuracy estimated (CBPE, no labels) at " in out
    assert "performance:roc_auc: roc_auc estimated (CBPE, no labels) at " in out  # ±0.005:
    assert "ALERT" not in out                                   # too tight to say OK here
    assert "calibration error" in out and "log_loss" not in out

    raw = load_model(CHAMPION).predict(rows, [c for c in rows.columns if c != "income"])
    assert raw.proba is not None and raw.classes is not None
    score = raw.proba[:, list(raw.classes).index(">50K")]
    hard = unlabelled[(score > 0.3) & (score < 0.7)]
    hard.to_parquet(project / "hard.parquet", index=False)
    assert main(["monitor", "adult", "--data", "hard.parquet"]) == 1
    out = capsys.readouterr().out
    assert "ALERT     performance:accuracy: accuracy estimated (CBPE, no labels)" in out, out

    older = unlabelled.sample(5000, random_state=4).assign(age=lambda f: f["age"] + 40)
    older.to_parquet(project / "older.parquet", index=False)
    main(["monitor", "adult", "--data", "older.parquet"])
    out = capsys.readouterr().out
    assert "not estimated: the batch left the gate data's support" in out
    assert "of 'age' outside the range 17 … 90 of the gate's data" in out
    log = [json.loads(line) for line in
           (project / "registry" / "adult" / "monitor.jsonl").read_text().splitlines()]
    methods = {c["method"] for c in log[0]["checks"] if c["name"].startswith("performance:")}
    assert methods == {"cbpe"}


def test_a_multiclass_champion_has_its_predicted_classes_monitored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The profile holds a multiclass candidate's predicted classes (as data labels); monitor
    judges the champion's predicted classes on a batch against them."""
    from tests import modelzoo

    frame = modelzoo.make_frame(4000, seed=1)
    model = modelzoo.save_onnx(modelzoo.fit(modelzoo.classifier(), frame, "grade"), frame,
                               tmp_path / "grades.onnx")
    data = frame[[*modelzoo.FEATURES, "grade"]]
    data.to_csv(tmp_path / "eval.csv", index=False)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "grades.yaml").write_text(
        f"suite: grades\ntask: multiclass\ndata:\n  path: {json.dumps(str(tmp_path / 'eval.csv'))}"
        f"\n  target: grade\nchecks:\n  performance:\n    accuracy: {{min: 0.3}}\n")
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(model), "--no-champion"]) == 0
    assert main(["promote", str(model), "--name", "grades"]) == 0
    profile = json.loads((tmp_path / "reports" / "profile.json").read_text())["suites"][0]
    assert profile["prediction"]["kind"] == "categorical"
    assert set(profile["prediction"]["categories"]) == {"A", "B", "C"}
    capsys.readouterr()

    modelzoo.make_frame(3000, seed=2)[list(modelzoo.FEATURES)].to_csv("like.csv", index=False)
    assert main(["monitor", "grades", "--data", "like.csv"]) == 0
    assert "OK        prediction: js drift" in capsys.readouterr().out
    older = modelzoo.make_frame(3000, seed=3)[list(modelzoo.FEATURES)]
    older["age"] = 79.0  # the oldest the model saw: far more "A"
    older.to_csv("older.csv", index=False)
    assert main(["monitor", "grades", "--data", "older.csv"]) == 1
    assert "ALERT     prediction: js drift" in capsys.readouterr().out


def test_cbpe_needs_every_feature_profiled(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A profile without the features' ranges (no drift section) cannot show that a batch
    stays inside the gate data's support: monitor estimates nothing rather than guess."""
    (project / "suites" / "adult.yaml").write_text(suite_text())  # performance only
    _released(project, capsys)
    older = pd.read_csv(ADULT_TEST).drop(columns="income").sample(3000, random_state=4)
    older["age"] += 40
    older.to_parquet(project / "older.parquet", index=False)
    main(["monitor", "adult", "--data", "older.parquet"])
    out = capsys.readouterr().out
    assert "UNDECIDED performance:accuracy: not estimated: the profile lacks 12 of the " \
           "champion's features (age, workclass, fnlwgt, …)" in out
    assert "estimated (CBPE" not in out


def test_shadow_mode_scores_challengers_on_the_labelled_batch(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--challenger``: the trees candidate (better than the linear champion) and a copy of
    the champion's predictions are compared with the champion on the batch, each at α/2; the
    leaderboard is printed and logged with the run; it raises no alert of its own."""
    import onnx

    from conftest import CANDIDATE

    _released(project, capsys)
    copy = onnx.load(CHAMPION)
    onnx.helper.set_model_props(copy, {"variant": "copy"})
    onnx.save(copy, project / "copy.onnx")
    assert main(["monitor", "adult", "--data", str(EXAMPLES / "data" / "batch_2024_05.csv.gz"),
                 "--challenger", str(CANDIDATE), "--challenger", "copy.onnx"]) == 0
    out = capsys.readouterr().out
    assert "shadow: 2 challenger(s) against the champion on " in out
    assert "each at α = 0.025 (bonferroni)" in out
    log = [json.loads(line) for line in
           (project / "registry" / "adult" / "monitor.jsonl").read_text().splitlines()]
    board = log[-1]["shadow"]
    trees, same = board["challengers"]
    assert (trees["name"], same["name"]) == ("candidate", "copy")
    # the copy scores every batch row as the champion does, which shows no more than that:
    # its bounds are the discordance floor of scores, below a margin on a batch this size
    assert trees["could_replace"] and not same["could_replace"]
    assert trees["metrics"]["adult-income::performance::roc_auc"]["delta"] > 0.01
    assert all(m["delta"] == 0 for m in same["metrics"].values())
    capsys.readouterr()
    assert main(["monitor", "adult", "--data", str(EXAMPLES / "data" / "batch_2024_05.csv.gz"),
                 "--challenger", "missing.onnx"]) == 2
    assert "shadow mode: --challenger missing.onnx: model file not found" in \
        capsys.readouterr().err
    log = (project / "registry" / "adult" / "monitor.jsonl").read_text().splitlines()
    last = json.loads(log[-1])  # the champion's own monitoring of the batch is kept
    assert len(log) == 2 and last["checks"] and "error" in last["shadow"]


def _monitor_log_lines(project: Path) -> int:
    log = project / "registry" / "adult" / "monitor.jsonl"
    return len(log.read_text().splitlines()) if log.is_file() else 0


def test_monitor_refuses_a_champion_file_changed_in_the_registry(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The registry's model file replaced after promotion: monitor scored the new bytes and
    recorded the run as the champion's. Now it refuses, as a gate against @champion does."""
    from conftest import CANDIDATE

    _released(project, capsys)
    (project / "registry" / "adult" / "versions" / "1" / "model.onnx").write_bytes(
        CANDIDATE.read_bytes())
    assert main(["monitor", "adult", "--data", str(ADULT_TEST)]) == 2
    err = capsys.readouterr().err
    assert "adult version 1 does not match its recorded sha256" in err
    assert "modified after registration" in err
    assert _monitor_log_lines(project) == 0


def _stored(project: Path, suffix: str) -> Path:
    found = [p for p in (project / "registry" / "adult" / "verdicts").iterdir()
             if p.name.endswith(suffix) and p.name.count(".") == suffix.count(".")]
    assert len(found) == 1, found
    return found[0]


def test_monitor_refuses_a_stored_profile_edited_after_promotion(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An edited stored profile (the target renamed: the batch's labels no longer read)
    turned an alert into "no alert". Its sha256 is the one the verdict names; now checked."""
    _released(project, capsys)
    path = _stored(project, ".profile.json")
    doc = json.loads(path.read_text())
    doc["suites"][0]["target"] = "no_such_column"
    path.write_text(json.dumps(doc))
    assert main(["monitor", "adult", "--data", str(ADULT_TEST)]) == 2
    err = capsys.readouterr().err
    assert f"{path.name}: the stored reference profile is not the one the promoting " \
           "verdict names (its sha256 differs)" in err, err
    assert _monitor_log_lines(project) == 0
    assert main(["audit", "verify", "adult"]) == 1  # the registry's own check says so too
    assert "the stored reference profile is not the one the verdict names" in \
        capsys.readouterr().out


def test_monitor_refuses_a_stored_verdict_edited_after_promotion(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An edited stored verdict (max_regression 0.99: no degradation matters) turned an
    alert into "no alert". It is stored under its sha256, which the audit log records."""
    _released(project, capsys)
    path = _stored(project, ".json")
    doc = json.loads(path.read_text())
    for s in doc["suites"]:
        for c in s["checks"]:
            if c["family"] == "performance":
                c["threshold"]["max_regression"] = 0.99
    path.write_text(json.dumps(doc))
    assert main(["monitor", "adult", "--data", str(ADULT_TEST)]) == 2
    err = capsys.readouterr().err
    assert f"{path.name}: the stored verdict does not hash to the sha256 its promotion " \
           "recorded" in err, err
    assert _monitor_log_lines(project) == 0


def test_scores_on_checks_the_bytes_it_loads() -> None:
    """The bytes scored are the ones hashed: a registry version's file is compared with its
    recorded sha256 as it is loaded, not only before."""
    import argparse
    from types import SimpleNamespace

    from evalgate.cli.batch import scores_on
    from evalgate.errors import EvalgateError

    args = argparse.Namespace(trust_pickle=False, trust_type=[])
    version = SimpleNamespace(path=CHAMPION, sha256="0" * 64, name="adult", number=1)
    entry = {"features": [], "task": "binary"}
    with pytest.raises(EvalgateError, match="adult version 1 does not match its recorded sha256"):
        scores_on(args, entry, pd.DataFrame(), version)


# ------------------------------------------------------- a binary champion on 0/1 labels

ZOO_FEATURES = "[age, hours-per-week, capital-gain, workclass, sex]"
ZOO_DRIFT = "  drift:\n    reference: ../train.csv\n"


def _zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         suites: dict[str, str]) -> pd.DataFrame:
    """A logistic regression on the model zoo's frame (labels 0/1, a sensitive column
    ``region`` the model does not read), gated with ``suites`` (name → checks) as a first
    release and promoted as ``zoo``; returns the evaluation rows."""
    from tests import modelzoo

    frame = modelzoo.make_frame(3000, seed=1)
    frame["region"] = np.random.default_rng(1).choice(["north", "south"], len(frame))
    model = modelzoo.save_onnx(modelzoo.fit(modelzoo.classifier(), frame, "label"), frame,
                               tmp_path / "zoo.onnx")
    rows = frame[[*modelzoo.FEATURES, "region", "label"]]
    rows.to_csv(tmp_path / "eval.csv", index=False)
    modelzoo.make_frame(3000, seed=5).assign(region="north")[
        [*modelzoo.FEATURES, "region"]].to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "suites").mkdir()
    for name, checks in suites.items():
        (tmp_path / "suites" / f"{name}.yaml").write_text(
            f"suite: {name}\ntask: binary\ndata:\n  path: ../eval.csv\n  target: label\n"
            f"  positive_label: 1\n  features: {ZOO_FEATURES}\n  sensitive: [region]\n"
            f"confidence: 0.95\nseed: 0\nn_resamples: 400\nchecks:\n{checks}")
    (tmp_path / "pyproject.toml").write_text("[tool.evalgate]\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(model), "--no-champion"]) == 0
    assert main(["promote", str(model), "--name", "zoo"]) == 0
    capsys.readouterr()
    return rows


MIN_ONLY = "  performance:\n    roc_auc: {min: 0.7}\n    accuracy: {min: 0.6}\n"


def test_a_profiled_column_missing_from_the_batch_alerts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A profiled column the batch lacks was dropped without a word: its drift alert
    (region all 'south') disappeared with it. Now it is an alert naming the column."""
    rows = _zoo(tmp_path, monkeypatch, capsys, {"zoo": MIN_ONLY + ZOO_DRIFT})
    rows.drop(columns=["region", "label"]).to_csv("batch.csv", index=False)
    assert main(["monitor", "zoo", "--data", "batch.csv"]) == 1
    out = capsys.readouterr().out
    assert "ALERT     region: not in the batch: the gate profiled this column" in out, out
    assert "ALERT (1 of " in out.splitlines()[-1]


def test_a_header_only_batch_is_said_to_have_no_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    rows = _zoo(tmp_path, monkeypatch, capsys, {"zoo": MIN_ONLY})
    rows.head(0).to_csv("empty.csv", index=False)
    assert main(["monitor", "zoo", "--data", "empty.csv"]) == 2
    err = capsys.readouterr().err
    assert "--data empty.csv: the batch has no rows" in err, err
    assert "not numeric" not in err


def test_one_missing_label_is_no_label_drift(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """One missing label made the column float: its values read "1.0"/"0.0", none of the
    reference's "1"/"0" — a label drift alert of about 1. Labels are keyed as the gate keys
    them."""
    rows = _zoo(tmp_path, monkeypatch, capsys, {"zoo": MIN_ONLY})
    batch = rows.assign(label=rows["label"].astype(float))
    batch.loc[batch.index[0], "label"] = np.nan
    batch.to_csv("one_nan.csv", index=False)
    assert main(["monitor", "zoo", "--data", "one_nan.csv"]) == 0
    out = capsys.readouterr().out
    assert "OK        label: js drift 0.0000" in out, out
    assert "ALERT" not in out


def test_category_counts_key_values_as_the_gate_keys_labels() -> None:
    from evalgate.stats.drift import category_counts

    counts, missing = category_counts(pd.Series([1.0, 0.0, np.nan, 1.0]))
    assert dict(counts) == {"1": 2, "0": 1} and missing == 1
    counts, _ = category_counts(pd.Series([1, "1", 2.5, 2.0, b"x"], dtype=object))
    assert dict(counts) == {"1": 2, "2.5": 1, "2": 1, "x": 1}


def test_value_thresholds_are_monitored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Performance checks with only ``min``/``max`` were never monitored: a batch on which
    the champion's AUC fell far below the gate's min raised no alert. Now the batch's value
    is judged against the threshold on its interval: an alert when the whole interval is
    past it."""
    rows = _zoo(tmp_path, monkeypatch, capsys, {"zoo": MIN_ONLY + ZOO_DRIFT})
    rows.sample(1500, random_state=0).to_csv("same.csv", index=False)
    assert main(["monitor", "zoo", "--data", "same.csv"]) == 0
    out = capsys.readouterr().out
    assert "OK        performance:roc_auc:min: roc_auc " in out, out
    assert "OK        performance:accuracy:min: accuracy " in out
    flipped = rows.sample(1500, random_state=0)
    flipped["label"] = 1 - flipped["label"]
    flipped.to_csv("flipped.csv", index=False)
    assert main(["monitor", "zoo", "--data", "flipped.csv"]) == 1
    out = capsys.readouterr().out
    assert "ALERT     performance:roc_auc:min: roc_auc " in out, out
    assert "below min 0.7" in out
    assert "ALERT     performance:accuracy:min: accuracy " in out


def test_every_suite_of_the_profile_is_monitored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A gate split into two suite files: only the first suite of the profile was read, so
    the second's performance checks were never monitored."""
    perf = "  performance:\n    roc_auc: {min: 0.6, max_regression: 0.02}\n"
    rows = _zoo(tmp_path, monkeypatch, capsys, {"a_drift": ZOO_DRIFT, "b_perf": perf})
    flipped = rows.sample(1500, random_state=0)
    flipped["label"] = 1 - flipped["label"]
    flipped.to_csv("flipped.csv", index=False)
    assert main(["monitor", "zoo", "--data", "flipped.csv"]) == 1
    out = capsys.readouterr().out
    assert "ALERT     b_perf::performance:roc_auc: roc_auc " in out, out
    assert "ALERT     b_perf::performance:roc_auc:min: roc_auc " in out
    assert "OK        a_drift::age: wasserstein drift" in out


def test_missing_values_in_the_batch_alert(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Half of a feature missing (and the champion's scores missing with it) was "OK": the
    drift was judged on the values present only. Now each column's missing share is compared
    with the reference's (an alert when it grew by more than --max-missing-increase)."""
    rows = _zoo(tmp_path, monkeypatch, capsys, {"zoo": MIN_ONLY + ZOO_DRIFT})
    batch = rows.drop(columns="label").sample(1500, random_state=0)
    batch.loc[batch.index[:750], "hours-per-week"] = np.nan
    batch.to_csv("half.csv", index=False)
    assert main(["monitor", "zoo", "--data", "half.csv"]) == 1
    out = capsys.readouterr().out
    assert "ALERT     hours-per-week:missing: 750 of 1,500 values missing (50.00%) vs the " \
           "reference's 0.00%" in out, out
    assert "max_missing_increase 0.02" in out
    batch.loc[batch.index[:750], "hours-per-week"] = rows["hours-per-week"].iloc[:750].to_numpy()
    batch.loc[batch.index[0], "hours-per-week"] = np.nan
    batch.to_csv("one.csv", index=False)
    main(["monitor", "zoo", "--data", "one.csv"])
    out = capsys.readouterr().out
    assert "OK        hours-per-week:missing: 1 of 1,500 values missing" in out, out
